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

from __future__ import annotations

from typing import TYPE_CHECKING

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
    from psplab.sim.core import SimResult, simulate_batch, simulate_recipe
    from psplab.sim.families import (
        FAMILIES,
        RECIPE_PARAMS,
        RECIPE_UNITS,
        AlloyFamily,
        Recipe,
        get_family,
    )

# Lazy attributes (PEP 562): `import psplab.sim.commands` (every CLI start) and
# `import psplab.sim.families` must not pay for JAX; the simulator loads on first use.
_EXPORTS = {
    "SimResult": "core",
    "simulate_batch": "core",
    "simulate_recipe": "core",
    "FAMILIES": "families",
    "RECIPE_PARAMS": "families",
    "RECIPE_UNITS": "families",
    "AlloyFamily": "families",
    "Recipe": "families",
    "get_family": "families",
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
    "SimResult",
    "get_family",
    "simulate_batch",
    "simulate_recipe",
]
