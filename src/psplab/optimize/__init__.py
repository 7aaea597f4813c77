"""Processing optimization: Bayesian optimization over recipes and crash-safe campaigns.

* :class:`SearchSpace` — bounds, fixed values, linear constraints, integer and categorical choices.
* :class:`BayesianOptimizer` — EI / UCB (from ``predict_dist``) and Thompson sampling (from
  ``sample``) with any psplab :class:`~psplab.models.base.ProbabilisticRegressor`; diverse
  batches (local penalization or Kriging believer); two objectives by ParEGO.
* :class:`CampaignStore` — suggestions and observations in SQLite (WAL, ``synchronous=FULL``,
  ``BEGIN IMMEDIATE``), validated against the dataset spec; exports round-trip exactly.
* :func:`run_simulated` — the simulator in the loop (``psplab optimize --simulate``).
"""

from __future__ import annotations

from psplab._lazy import lazy_attributes

# Lazy attributes: ``import psplab.optimize.store`` (e.g. in a small observer process) should not
# pay for SciPy's statistics or the optimizer.
_EXPORTS = {
    "expected_improvement": "acquisition",
    "hypervolume_2d": "acquisition",
    "pareto_mask": "acquisition",
    "parego_scalarize": "acquisition",
    "upper_confidence_bound": "acquisition",
    "BayesianOptimizer": "bo",
    "Suggestion": "bo",
    "build_model": "bo",
    "run_optimization": "bo",
    "LinearConstraint": "space",
    "Parameter": "space",
    "SearchSpace": "space",
    "CampaignError": "store",
    "CampaignStore": "store",
    "ObserveResult": "store",
    "read_export": "store",
    "suggest_and_store": "store",
    "run_simulated": "simloop",
}


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, ())


__all__ = sorted(_EXPORTS)
