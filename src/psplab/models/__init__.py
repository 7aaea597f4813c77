"""Predictors with uncertainty: the Bayesian hypernetwork, baselines, calibration, pipelines
and the phase-map models (:mod:`psplab.models.phasemap`).

Build a regressor by its CLI name with :func:`make_model` (``bhn``, ``gp``, ``ensemble``,
``dropout``, ``rf``) or by its class; every one follows
:class:`~psplab.models.base.ProbabilisticRegressor` (a scikit-learn estimator with predictive
distributions, an applicability domain and bounded outputs). :class:`ConformalRegressor`
calibrates any of them, :class:`TunedRegressor` tunes any of them. :func:`fit_dataset`,
:func:`evaluate_dataset` and :func:`load_model` are what ``psplab fit/evaluate/predict`` run.
Names resolve on first use (PEP 562), so ``import psplab.models`` stays cheap.
"""

from __future__ import annotations

from psplab._lazy import lazy_attributes

_EXPORTS = {
    "MODEL_NAMES": "registry",
    "make_model": "registry",
    "model_class": "registry",
    "load_estimator": "registry",
    "ProbabilisticRegressor": "base",
    "PreprocessedRegressor": "base",
    "Prediction": "base",
    "BayesianHypernetwork": "bhn",
    "GaussianProcess": "gp",
    "DeepEnsemble": "baselines",
    "MCDropout": "baselines",
    "RandomForest": "baselines",
    "TunedRegressor": "selection",
    "ConformalRegressor": "conformal",
    "FittedModel": "pipeline",
    "fit_dataset": "pipeline",
    "load_model": "pipeline",
    "EvaluationResult": "evaluation",
    "evaluate_dataset": "evaluation",
    "make_folds": "evaluation",
    "PhaseMapModel": "phasemap",
    "ChangePointModel": "phasemap",
}

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
