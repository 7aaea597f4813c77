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
"""

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
from psplab.causal.stability import EdgeStability, bootstrap_edges

__all__ = [
    "AdjustmentResult",
    "CausalGraph",
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
    "top_drivers",
    "total_effect",
    "true_mpdag",
    "valid_parent_sets",
]
