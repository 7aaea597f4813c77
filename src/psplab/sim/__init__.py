"""psplab.sim: phase-field simulation of processing recipes in physical time (JAX).

Public API::

    from psplab.sim import FAMILIES, get_family, Recipe, simulate_recipe, simulate_batch

    fam = get_family("al_mg")
    res = simulate_recipe(fam.baseline_recipe(), grid=128)
    res.grain_labels, res.pixel_um                    # grain image and its pixel (µm)
    res.precipitate_labels, res.precipitate_pixel_um  # precipitate image and its pixel
    plan_recipe(fam.baseline_recipe(), grid=128)      # pixel sizes and growth window, no run

See :mod:`psplab.sim.core` for which recipe parameter drives which output,
:mod:`psplab.sim.resolution` for the pixel-size rule, :mod:`psplab.sim.grain_growth`
(Fan-Chen Allen-Cahn), :mod:`psplab.sim.precipitates` and :mod:`psplab.sim.cahn_hilliard`
(Cahn-Hilliard, PFHub benchmark 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
    from psplab.sim.core import SimResult, estimate_memory_bytes, simulate_batch, simulate_recipe
    from psplab.sim.design import sample_recipes
    from psplab.sim.families import (
        FAMILIES,
        RECIPE_PARAMS,
        RECIPE_UNITS,
        AlloyFamily,
        Recipe,
        final_grain_size_um,
        get_family,
        precipitate_radius_um,
    )
    from psplab.sim.resolution import ResolutionPlan, plan_recipe

# Lazy attributes (PEP 562): `import psplab.sim.commands` (every CLI start) and
# `import psplab.sim.families` must not pay for JAX; the simulator loads on first use.
_EXPORTS = {
    "SimResult": "core",
    "estimate_memory_bytes": "core",
    "simulate_batch": "core",
    "simulate_recipe": "core",
    "sample_recipes": "design",
    "FAMILIES": "families",
    "RECIPE_PARAMS": "families",
    "RECIPE_UNITS": "families",
    "AlloyFamily": "families",
    "Recipe": "families",
    "final_grain_size_um": "families",
    "get_family": "families",
    "precipitate_radius_um": "families",
    "ResolutionPlan": "resolution",
    "plan_recipe": "resolution",
}
# Sub-modules the package used to import eagerly; still reachable as attributes.
_SUBMODULES = ("cahn_hilliard", "core", "families", "grain_growth")


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, _SUBMODULES)


__all__ = [
    "FAMILIES",
    "RECIPE_PARAMS",
    "RECIPE_UNITS",
    "AlloyFamily",
    "Recipe",
    "ResolutionPlan",
    "SimResult",
    "estimate_memory_bytes",
    "final_grain_size_um",
    "get_family",
    "plan_recipe",
    "precipitate_radius_um",
    "sample_recipes",
    "simulate_batch",
    "simulate_recipe",
]
