"""Processing optimization: Bayesian optimization over recipes and crash-safe campaigns.

* :class:`SearchSpace` — bounds, fixed values, linear constraints, integer and categorical choices.
* :class:`BayesianOptimizer` — EI / UCB (from ``predict_dist``) and Thompson sampling (from
  ``sample``) with any psplab :class:`~psplab.models.base.ProbabilisticRegressor`; diverse
  batches (local penalization or Kriging believer); two objectives by ParEGO.
* :class:`CampaignStore` — suggestions and observations in SQLite (WAL, ``synchronous=FULL``,
  ``BEGIN IMMEDIATE``), validated against the dataset spec; exports round-trip exactly.
* :func:`optimize_simulated` / :func:`run_simulated` — the simulator in the loop
  (``psplab optimize --simulate``); :mod:`psplab.optimize.plots` draws its figures.
"""

from __future__ import annotations

from psplab._lazy import lazy_package

# Names load on first use: ``import psplab.optimize.store`` (e.g. in a small observer process)
# should not pay for SciPy's statistics or the optimizer.
__getattr__, __dir__, __all__ = lazy_package(
    __name__,
    {
        "acquisition": (
            "expected_improvement hypervolume_2d pareto_mask parego_scalarize "
            "upper_confidence_bound"
        ).split(),
        "bo": ("BayesianOptimizer", "Suggestion", "build_model", "run_optimization"),
        "constraints": ("LinearConstraint",),
        "space": ("Parameter", "SearchSpace"),
        "store": "CampaignError CampaignStore ObserveResult read_export suggest_and_store".split(),
        "simloop": ("SimulatedRun", "optimize_simulated", "run_simulated"),
        "plots": ("best_so_far_plot", "pareto_plot", "recipes_plot"),
    },
    submodules=("acquisition", "bo", "constraints", "plots", "simloop", "space", "store"),
)
