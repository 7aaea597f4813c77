"""psplab.sim: phase-field simulation of processing recipes (JAX).

Public API::

    from psplab.sim import FAMILIES, get_family, Recipe, simulate_recipe, simulate_batch

    fam = get_family("al_mg")
    res = simulate_recipe(fam.baseline_recipe(), grid=64)
    res.grain_labels, res.phase_labels, res.pixel_um

See :mod:`psplab.sim.core` for which recipe parameter drives which output,
:mod:`psplab.sim.grain_growth` (Fan-Chen Allen-Cahn) and :mod:`psplab.sim.cahn_hilliard`
(Cahn-Hilliard, PFHub benchmark 1).
"""

from psplab.sim.core import SimResult, simulate_batch, simulate_recipe
from psplab.sim.families import (
    FAMILIES,
    RECIPE_PARAMS,
    RECIPE_UNITS,
    AlloyFamily,
    Recipe,
    get_family,
)

__all__ = [
    "FAMILIES",
    "RECIPE_PARAMS",
    "RECIPE_UNITS",
    "AlloyFamily",
    "Recipe",
    "SimResult",
    "get_family",
    "simulate_batch",
    "simulate_recipe",
]
