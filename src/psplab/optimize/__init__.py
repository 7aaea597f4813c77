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

from psplab.optimize.acquisition import (
    expected_improvement,
    hypervolume_2d,
    parego_scalarize,
    pareto_mask,
    upper_confidence_bound,
)
from psplab.optimize.bo import BayesianOptimizer, Suggestion, build_model, run_optimization
from psplab.optimize.space import LinearConstraint, Parameter, SearchSpace
from psplab.optimize.store import (
    CampaignError,
    CampaignStore,
    ObserveResult,
    read_export,
    suggest_and_store,
)


def run_simulated(*args, **kwargs):
    """Simulator-in-the-loop optimization; see :func:`psplab.optimize.simloop.run_simulated`."""
    from psplab.optimize.simloop import run_simulated as _run

    return _run(*args, **kwargs)


__all__ = [
    "BayesianOptimizer",
    "CampaignError",
    "CampaignStore",
    "LinearConstraint",
    "ObserveResult",
    "Parameter",
    "SearchSpace",
    "Suggestion",
    "build_model",
    "expected_improvement",
    "hypervolume_2d",
    "parego_scalarize",
    "pareto_mask",
    "read_export",
    "run_optimization",
    "run_simulated",
    "suggest_and_store",
    "upper_confidence_bound",
]
