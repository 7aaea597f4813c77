"""Microstructure measurement: grains, phases, particles and 2-point statistics.

The same functions measure simulated label images (``periodic=True``) and segmented
micrographs (``periodic=False``); see ``docs/measurement.md``.
"""

from psplab.measure.grains import (
    astm_g_from_intercept,
    astm_g_from_na,
    lognormal_fit,
    measure_grains,
)
from psplab.measure.image import KINDS, guess_kind, measure_image, read_image
from psplab.measure.particles import measure_particles
from psplab.measure.phases import measure_phases
from psplab.measure.twopoint import radial_profile, two_point_statistics

__all__ = [
    "KINDS",
    "astm_g_from_intercept",
    "astm_g_from_na",
    "guess_kind",
    "lognormal_fit",
    "measure_grains",
    "measure_image",
    "measure_particles",
    "measure_phases",
    "radial_profile",
    "read_image",
    "two_point_statistics",
]
