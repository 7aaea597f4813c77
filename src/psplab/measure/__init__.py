"""Microstructure measurement: grains, phases, particles and 2-point statistics.

The same functions measure simulated label images (``periodic=True``) and segmented
micrographs (``periodic=False``); see ``docs/measurement.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
    from psplab.measure._components import label_components
    from psplab.measure.grains import (
        astm_g_from_intercept,
        astm_g_from_na,
        lognormal_fit,
        measure_grains,
    )
    from psplab.measure.image import (
        KINDS,
        guess_kind,
        measure_image,
        read_image,
        read_image_with_pixel,
    )
    from psplab.measure.particles import measure_particles
    from psplab.measure.phases import measure_phases
    from psplab.measure.twopoint import radial_profile, two_point_statistics

# Lazy attributes (PEP 562): `import psplab.measure.commands` (every CLI start) must not
# pay for SciPy and scikit-image; they load on first use of a measurement.
_EXPORTS = {
    "label_components": "_components",
    "astm_g_from_intercept": "grains",
    "astm_g_from_na": "grains",
    "lognormal_fit": "grains",
    "measure_grains": "grains",
    "KINDS": "image",
    "guess_kind": "image",
    "measure_image": "image",
    "read_image": "image",
    "read_image_with_pixel": "image",
    "measure_particles": "particles",
    "measure_phases": "phases",
    "radial_profile": "twopoint",
    "two_point_statistics": "twopoint",
}
# Sub-modules the package used to import eagerly; still reachable as attributes.
_SUBMODULES = ("_components", "grains", "image", "particles", "phases", "twopoint")


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, _SUBMODULES)


__all__ = [
    "KINDS",
    "astm_g_from_intercept",
    "astm_g_from_na",
    "guess_kind",
    "label_components",
    "lognormal_fit",
    "measure_grains",
    "measure_image",
    "measure_particles",
    "measure_phases",
    "radial_profile",
    "read_image",
    "read_image_with_pixel",
    "two_point_statistics",
]
