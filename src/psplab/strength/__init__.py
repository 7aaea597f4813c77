"""psplab.strength: property models from microstructure.

- :mod:`psplab.strength.model` — the superposition yield-strength model (friction + solid
  solution + Hall–Petch + Orowan) with per-family constants, re-exported here.
- :mod:`psplab.strength.fft` — FFT (Moulinec–Suquet / conjugate-gradient) homogenization of
  label images: effective stiffness and a J2 elasto-plastic stress–strain curve. Imported on
  demand (it pulls in JAX).
"""

from psplab.strength.model import (
    FAMILY_CONSTANTS,
    StrengthConstants,
    get_constants,
    grain_yield_stress_mpa,
    orowan_mpa,
    strength_contributions,
    yield_strength_mpa,
)

__all__ = [
    "FAMILY_CONSTANTS",
    "StrengthConstants",
    "get_constants",
    "grain_yield_stress_mpa",
    "orowan_mpa",
    "strength_contributions",
    "yield_strength_mpa",
]
