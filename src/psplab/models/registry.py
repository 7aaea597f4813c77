"""The registry of psplab regressors: one explicit table, no import side effects.

:data:`MODELS` maps each CLI name to the class that implements it (imported on first use, so
``import psplab.models`` stays cheap); :data:`META_ESTIMATORS` the wrappers that take another
estimator (tuning, conformal calibration). :func:`make_model` builds an estimator by name,
:func:`load_estimator` reads one written by ``save``.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from psplab.errors import InputError, ModelFileError

__all__ = [
    "META_ESTIMATORS",
    "MODELS",
    "MODEL_NAMES",
    "estimator_from_dict",
    "estimator_to_dict",
    "load_estimator",
    "make_model",
    "model_class",
]

#: CLI name -> ``module:Class`` of every regressor a user can ask for by name.
MODELS: dict[str, str] = {
    "bhn": "psplab.models.bhn:BayesianHypernetwork",
    "gp": "psplab.models.gp:GaussianProcess",
    "ensemble": "psplab.models.baselines:DeepEnsemble",
    "dropout": "psplab.models.baselines:MCDropout",
    "rf": "psplab.models.baselines:RandomForest",
}
#: Wrappers around another estimator (saved and loaded like the models).
META_ESTIMATORS: dict[str, str] = {
    "tuned": "psplab.models.selection:TunedRegressor",
    "conformal": "psplab.models.conformal:ConformalRegressor",
}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def model_class(name: str) -> type:
    """The class registered under ``name`` (a model or a meta-estimator).

    Parameters
    ----------
    name : str
        E.g. ``"bhn"``, ``"gp"``, ``"conformal"``.

    Returns
    -------
    cls : type
        The estimator class.
    """
    target = MODELS.get(name) or META_ESTIMATORS.get(name)
    if target is None:
        raise InputError(f"unknown model {name!r} (expected one of {', '.join(MODEL_NAMES)})")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def make_model(name: str, **params: Any):
    """A new, unfitted regressor by name, e.g. ``make_model("gp")`` or ``make_model("bhn", seed=1)``.

    Parameters
    ----------
    name : str
        A name of :data:`MODELS`.
    **params
        Constructor parameters.

    Returns
    -------
    estimator : psplab.models.base.ProbabilisticRegressor
        The unfitted estimator.
    """
    cls = model_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise InputError(f"model {name!r}: {exc}") from None


def estimator_to_dict(estimator) -> dict[str, Any]:
    """``{"model": name, "params": {...}}`` with nested estimators written the same way.

    Parameters
    ----------
    estimator : psplab.models.base.ProbabilisticRegressor
        Any registered estimator.

    Returns
    -------
    spec : dict
        JSON-ready description of the unfitted configuration.
    """
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if hasattr(value, "get_params") and hasattr(value, "model_name"):
            value = {"__estimator__": estimator_to_dict(value)}
        elif isinstance(value, tuple):
            value = list(value)
        params[key] = value
    return {"model": estimator.model_name, "params": params}


def estimator_from_dict(spec: dict[str, Any]):
    """Rebuild the unfitted estimator that :func:`estimator_to_dict` described.

    Parameters
    ----------
    spec : dict
        ``{"model": name, "params": {...}}``.

    Returns
    -------
    estimator : psplab.models.base.ProbabilisticRegressor
        The unfitted estimator.
    """
    params = {}
    for key, value in spec.get("params", {}).items():
        if isinstance(value, dict) and "__estimator__" in value:
            value = estimator_from_dict(value["__estimator__"])
        params[key] = value
    return model_class(spec["model"])(**params)


def load_estimator(path: str | Path):
    """Read an estimator written by :meth:`~psplab.models.base.ProbabilisticRegressor.save`.

    Parameters
    ----------
    path : str or pathlib.Path
        The base path given to ``save`` (``.json``/``.npz`` suffixes optional).

    Returns
    -------
    estimator : psplab.models.base.ProbabilisticRegressor
        The fitted estimator.
    """
    base = Path(path)
    meta_path, npz_path = base.with_suffix(".json"), base.with_suffix(".npz")
    try:
        payload = json.loads(meta_path.read_text())
        model = estimator_from_dict(payload)
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        model._set_state(arrays, payload["state"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        # EOFError: an empty .npz (click would print only "Aborted."); BadZipFile: a truncated one
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{meta_path}: cannot load the saved model ({reason})") from None
    return model
