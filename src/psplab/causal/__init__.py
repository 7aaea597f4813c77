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

from psplab._lazy import lazy_package

# Names load on first use: `import psplab.causal.commands` (every CLI start) must not pay for
# SciPy and pandas.
__getattr__, __dir__, __all__ = lazy_package(
    __name__,
    {
        "effects": (
            "AdjustmentResult",
            "DoseResponse",
            "IDAResult",
            "LinearStats",
            "StructuralCausalModel",
            "TotalEffect",
            "ida",
            "optimal_adjustment_set",
            "total_effect",
            "valid_parent_sets",
        ),
        "graph": ("CausalGraph", "compare_graphs", "dag_to_cpdag", "true_mpdag"),
        "influence": ("flag_effects", "influence_table", "top_drivers"),
        "pc": ("discover",),
        "pipeline": ("CausalOptions", "CausalResult", "run_causal", "write_causal_run"),
        "prepare": ("CausalData", "prepare_causal_data"),
        "stability": ("EdgeStability", "bootstrap_edges"),
    },
    submodules=(
        "citests",
        "effects",
        "graph",
        "influence",
        "pc",
        "pipeline",
        "plots",
        "prepare",
        "stability",
        "synthetic",
    ),
)
