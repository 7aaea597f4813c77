"""Generating microstructures from processing: the image-level Bayesian hypernetwork.

Python::

    from psplab.models.generator import MicrostructureGenerator, load_generator

    gen = MicrostructureGenerator(steps=800, seed=0).fit("images.toml")
    out = gen.sample({"hold_temperature_C": 800, ...}, n=16, seed=0)
    out.grains, out.particles, out.pixel_um
    gen.save("run/generator")          # run/generator.npz + run/generator.json

Command line: ``psplab generator fit IMAGE_SPEC --out DIR`` and ``psplab generator sample DIR
RECIPES.csv --out DIR2``; see ``docs/generator.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
    from psplab.models.generator.descriptors import boundary_mask
    from psplab.models.generator.evaluation import measure_generated, measure_labels
    from psplab.models.generator.model import (
        GeneratedImages,
        MicrostructureGenerator,
        load_generator,
    )

# Lazy attributes (PEP 562): `psplab --help` imports the commands module, which must not load JAX.
_EXPORTS = {
    "GeneratedImages": "model",
    "MicrostructureGenerator": "model",
    "load_generator": "model",
    "boundary_mask": "descriptors",
    "measure_generated": "evaluation",
    "measure_labels": "evaluation",
}

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = [
    "GeneratedImages",
    "MicrostructureGenerator",
    "boundary_mask",
    "load_generator",
    "measure_generated",
    "measure_labels",
]
