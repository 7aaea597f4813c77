"""Causal influence mapping: which processing knobs drive structure and properties.

* :func:`discover` — PC-stable with tier knowledge (processing -> structure -> property), Fisher-z
  (vectorized) or a nonlinear CI test (RCoT), returning a tier-consistent MPDAG
  (:class:`CausalGraph`, with ``to_networkx()``).
* :func:`bootstrap_edges` — adjacency and orientation frequencies over bootstrap resamples.
* :func:`total_effect` / :func:`optimal_adjustment_set` — the linear total effect with the optimal
  adjustment set (O-set) when the MPDAG identifies it (amenable pair).
* :func:`ida` — IDA linear total effects over the valid parent sets of the MPDAG.
* :class:`StructuralCausalModel` — psplab regressors as node equations; ``dose_response`` gives
  ``E[Y | do(X = x)]`` on a grid with uncertainty bands.
* :func:`influence_table` / :func:`top_drivers` — ranked influence of each parameter per outcome.
* :func:`run_causal` / :func:`write_causal_run` — the whole ``psplab causal`` pipeline on a
  dataset (:func:`prepare_causal_data` states every change made to the table), returning a
  :class:`CausalResult`, and the run directory it writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
    from psplab.causal.effects import (
        AdjustmentResult,
        DoseResponse,
        IDAResult,
        LinearStats,
        StructuralCausalModel,
        TotalEffect,
        ida,
        optimal_adjustment_set,
        total_effect,
        valid_parent_sets,
    )
    from psplab.causal.graph import CausalGraph, compare_graphs, dag_to_cpdag, true_mpdag
    from psplab.causal.influence import influence_table, top_drivers
    from psplab.causal.pc import discover
    from psplab.causal.pipeline import CausalOptions, CausalResult, run_causal, write_causal_run
    from psplab.causal.prepare import CausalData, prepare_causal_data
    from psplab.causal.stability import EdgeStability, bootstrap_edges

# Lazy attributes (PEP 562): `import psplab.causal.commands` (every CLI start) must not
# pay for SciPy and pandas; they load on first use.
_EXPORTS = {
    "AdjustmentResult": "effects",
    "DoseResponse": "effects",
    "IDAResult": "effects",
    "LinearStats": "effects",
    "StructuralCausalModel": "effects",
    "TotalEffect": "effects",
    "ida": "effects",
    "optimal_adjustment_set": "effects",
    "total_effect": "effects",
    "valid_parent_sets": "effects",
    "CausalGraph": "graph",
    "compare_graphs": "graph",
    "dag_to_cpdag": "graph",
    "true_mpdag": "graph",
    "influence_table": "influence",
    "top_drivers": "influence",
    "discover": "pc",
    "CausalOptions": "pipeline",
    "CausalResult": "pipeline",
    "run_causal": "pipeline",
    "write_causal_run": "pipeline",
    "CausalData": "prepare",
    "prepare_causal_data": "prepare",
    "EdgeStability": "stability",
    "bootstrap_edges": "stability",
}
# Sub-modules the package used to import eagerly; still reachable as attributes.
_SUBMODULES = (
    "citests",
    "effects",
    "graph",
    "influence",
    "pc",
    "pipeline",
    "plots",
    "prepare",
    "stability",
)


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, _SUBMODULES)


__all__ = [
    "AdjustmentResult",
    "CausalData",
    "CausalGraph",
    "CausalOptions",
    "CausalResult",
    "DoseResponse",
    "EdgeStability",
    "IDAResult",
    "LinearStats",
    "StructuralCausalModel",
    "TotalEffect",
    "bootstrap_edges",
    "compare_graphs",
    "dag_to_cpdag",
    "discover",
    "ida",
    "optimal_adjustment_set",
    "influence_table",
    "prepare_causal_data",
    "run_causal",
    "top_drivers",
    "total_effect",
    "true_mpdag",
    "valid_parent_sets",
    "write_causal_run",
]
