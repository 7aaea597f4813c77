"""psplab.strength: property models from microstructure.

- :mod:`psplab.strength.model` — the superposition yield-strength model (friction + solid
  solution + Hall–Petch + Orowan) with per-family constants.
- :mod:`psplab.strength.fft` — FFT (Moulinec–Suquet / conjugate-gradient) homogenization of
  label images: effective stiffness and a J2 elasto-plastic stress–strain curve
  (kernels in :mod:`~psplab.strength.spectral` and :mod:`~psplab.strength.plasticity`).
- :mod:`psplab.strength.pipeline` — ``psplab mechanics`` as Python: read label images, run,
  write a run directory; :mod:`psplab.strength.plots` draws its figures.

Names resolve on first use: ``import psplab.strength`` loads neither NumPy nor JAX.
"""

from __future__ import annotations

from psplab._lazy import lazy_package

__getattr__, __dir__, __all__ = lazy_package(
    __name__,
    {
        "model": (
            "FAMILY_CONSTANTS StrengthConstants get_constants grain_yield_stress_mpa orowan_mpa "
            "strength_contributions yield_strength_mpa"
        ).split(),
        "fft": (
            "effective_stiffness hashin_shtrikman_bounds mechanics_for_sim "
            "mechanics_yield_strength offset_yield"
        ).split(),
        "pipeline": "MechanicsRun read_label_images read_mechanics_images run_mechanics".split(),
    },
    submodules=("fft", "model", "pipeline", "plasticity", "plots", "spectral"),
)
