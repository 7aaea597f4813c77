"""Default configurations: the best measured one, and a cheap one (``--fast``).

A model's constructor defaults are its *best* configuration within the time budget below; a
calibrated fit (the default of ``psplab fit``/``evaluate``) adds ``CALIBRATION_FOLDS`` refits.
:data:`FAST_PARAMS` trades accuracy for time (``psplab fit/evaluate --fast``).

Time budget of the defaults, on 2 CPU cores, for one calibrated fit: about a minute for a few
hundred rows, a few minutes for 5 000 rows x 30 inputs (the GP turns sparse beyond
``max_exact_rows``; the networks train full-batch). ``--fast`` is about ten times cheaper.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BEST_PARAMS",
    "CALIBRATION_FOLDS",
    "FAST_CALIBRATION_FOLDS",
    "FAST_PARAMS",
    "calibration_folds",
    "model_params",
]

#: Folds of the CV+ calibration: 10 up to :data:`MANY_FOLDS_MAX_ROWS` rows (fold models close
#: to the full one, so intervals close to nominal; cheap at that size), 5 beyond; 3 with --fast.
CALIBRATION_FOLDS = 10
LARGE_TABLE_CALIBRATION_FOLDS = 5
MANY_FOLDS_MAX_ROWS = 2000
FAST_CALIBRATION_FOLDS = 3

#: Overrides of the constructor defaults that make up the default configuration.
BEST_PARAMS: dict[str, dict[str, Any]] = {
    "bhn": {},
    "gp": {},
    "ensemble": {},
    "dropout": {},
    "rf": {},
}

#: The cheap configuration of every model.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "bhn": {"n_members": 1, "n_predict_samples": 100},
    "gp": {"n_restarts": 0, "max_iter": 100, "max_exact_rows": 800, "n_inducing": 128},
    "ensemble": {"epochs": 300, "n_members": 3},
    "dropout": {"epochs": 300, "n_predict_samples": 100},
    "rf": {"n_estimators": 100},
}


def calibration_folds(n_rows: int, fast: bool = False) -> int:
    """Folds of the CV+ calibration for a training set of ``n_rows`` rows.

    Parameters
    ----------
    n_rows : int
        Training rows.
    fast : bool
        The cheap configuration.

    Returns
    -------
    folds : int
        See :data:`CALIBRATION_FOLDS`.
    """
    if fast:
        return FAST_CALIBRATION_FOLDS
    return CALIBRATION_FOLDS if n_rows <= MANY_FOLDS_MAX_ROWS else LARGE_TABLE_CALIBRATION_FOLDS


def model_params(name: str, fast: bool = False) -> dict[str, Any]:
    """The default (or ``fast``) constructor overrides of model ``name``.

    Parameters
    ----------
    name : str
        A registered model name.
    fast : bool
        The cheap configuration.

    Returns
    -------
    params : dict
        Constructor parameters (a copy).
    """
    table = FAST_PARAMS if fast else BEST_PARAMS
    return dict(table.get(name, {}))
