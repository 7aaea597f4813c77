"""psplab.strength: property models from microstructure.

- :mod:`psplab.strength.model` — the superposition yield-strength model (friction + solid
  solution + Hall–Petch + Orowan) with per-family constants, re-exported here.
- :mod:`psplab.strength.fft` — FFT (Moulinec–Suquet / conjugate-gradient) homogenization of
  label images: effective stiffness and a J2 elasto-plastic stress–strain curve. Imported on
  demand (it pulls in JAX).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
    from psplab.strength.model import (
        FAMILY_CONSTANTS,
        StrengthConstants,
        get_constants,
        grain_yield_stress_mpa,
        orowan_mpa,
        strength_contributions,
        yield_strength_mpa,
    )

# Lazy attributes (PEP 562): `import psplab.strength.commands` (every CLI start) must not
# pay for NumPy; the model loads on first use.
_EXPORTS = {
    "FAMILY_CONSTANTS": "model",
    "StrengthConstants": "model",
    "get_constants": "model",
    "grain_yield_stress_mpa": "model",
    "orowan_mpa": "model",
    "strength_contributions": "model",
    "yield_strength_mpa": "model",
}
# Sub-modules the package used to import eagerly; still reachable as attributes.
_SUBMODULES = ("model",)


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, _SUBMODULES)


__all__ = [
    "FAMILY_CONSTANTS",
    "StrengthConstants",
    "get_constants",
    "grain_yield_stress_mpa",
    "orowan_mpa",
    "strength_contributions",
    "yield_strength_mpa",
]
