"""psplab: process -> structure -> property learning for alloys.

Data flows one way: recipe -> sim -> measure -> strength -> generate -> models -> causal ->
optimize -> next recipe. ``psplab.data`` is the base layer that every module may use.

The main classes and pipeline functions of every sub-package are available from here
(``from psplab import load_dataset, make_model``); they load on first use, so ``import psplab``
stays cheap. ``docs/api.md`` lists every public name by sub-package.
"""

from __future__ import annotations

from psplab._lazy import lazy_package

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = lazy_package(
    __name__,
    {
        "data": ("ColumnSpec", "Dataset", "DatasetSpec", "load_dataset", "read_table", "validate"),
        "sim": (
            "FAMILIES",
            "Recipe",
            "SimResult",
            "get_family",
            "simulate_batch",
            "simulate_recipe",
        ),
        "measure": (
            "measure_grains",
            "measure_image",
            "measure_particles",
            "measure_phases",
            "read_image",
            "two_point_statistics",
        ),
        "strength": (
            "effective_stiffness",
            "mechanics_yield_strength",
            "run_mechanics",
            "strength_contributions",
            "yield_strength_mpa",
        ),
        "generate": ("evaluate_recipes", "generate_dataset", "sample_recipes"),
        "models": ("PhaseMapModel", "ProbabilisticRegressor", "load_model", "make_model"),
        "causal": (
            "StructuralCausalModel",
            "bootstrap_edges",
            "discover",
            "influence_table",
            "run_causal",
        ),
        "optimize": (
            "BayesianOptimizer",
            "CampaignStore",
            "SearchSpace",
            "optimize_simulated",
            "run_optimization",
            "run_simulated",
        ),
        "report": ("build_report", "run_demo"),
    },
    submodules=(
        "causal",
        "data",
        "errors",
        "generate",
        "measure",
        "models",
        "optimize",
        "report",
        "sim",
        "strength",
    ),
    eager=("__version__",),
)
