"""Cross-validation of several probabilistic regressors on the same folds.

Every model sees exactly the same train/test split of every fold; everything a model learns
(hyperparameters, scalings, calibration residuals, the applicability domain) comes from the
training rows of a fold only. A row whose value of one target is missing is dropped for that
target alone. :func:`evaluate_dataset` is what ``psplab evaluate`` and the demo run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psplab.errors import InputError
from psplab.models.metrics import domain_scores, score

__all__ = [
    "EvaluationResult",
    "OOF_COLUMNS",
    "evaluate_dataset",
    "make_folds",
    "target_groups",
]

#: Columns of the out-of-fold table (``oof_predictions.csv``).
OOF_COLUMNS = (
    "model", "target", "row", "fold", "y_true", "mean", "std", "q05", "q95",
    "std_raw", "q05_raw", "q95_raw", "domain", "in_domain", "env_lo", "env_hi",
)  # fmt: skip


def make_folds(
    n_rows: int, cv: int = 10, seed: int = 0, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``cv`` shuffled folds of the outer cross-validation (scikit-learn's ``KFold``/``GroupKFold``).

    Parameters
    ----------
    n_rows : int
        Rows to split.
    cv : int
        Number of folds.
    seed : int
        Seeds the shuffling.
    groups : numpy.ndarray, optional
        Group label per row; a group never spans two folds.

    Returns
    -------
    folds : list of (train_idx, test_idx)
        Index arrays.
    """
    from sklearn.model_selection import GroupKFold, KFold

    if cv < 2:
        raise InputError(f"--cv must be at least 2, got {cv}")
    idx = np.arange(n_rows)
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < cv:
            raise InputError(f"only {n_groups} groups for {cv}-fold grouped cross-validation")
        splitter = GroupKFold(n_splits=cv, shuffle=True, random_state=seed)
        return [(tr, te) for tr, te in splitter.split(idx, groups=groups)]
    if n_rows < cv:
        raise InputError(f"{n_rows} rows are too few for {cv}-fold cross-validation")
    splitter = KFold(n_splits=cv, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(idx)]


def target_groups(Y: np.ndarray) -> list[list[int]]:
    """Targets with the same missing-value pattern, which share one multi-target fit.

    Parameters
    ----------
    Y : numpy.ndarray
        Targets ``(n, t)``; NaN marks a missing value.

    Returns
    -------
    groups : list of list of int
        Target indices per shared fit.
    """
    patterns: dict[bytes, list[int]] = {}
    for j in range(Y.shape[1]):
        patterns.setdefault(np.isnan(Y[:, j]).tobytes(), []).append(j)
    return list(patterns.values())


@dataclass
class EvaluationResult:
    """What :func:`evaluate_dataset` measured.

    Attributes
    ----------
    metrics : dict
        ``{model: {target: {mae, rmse, r2, nll, crps, coverage90, width90, fit_seconds,
        coverage90_raw, n_out_of_domain, coverage90_in_domain, ...}}}``.
    oof : pandas.DataFrame
        Out-of-fold predictions, columns :data:`OOF_COLUMNS`.
    settings : dict
        Models, folds, seed, group, parameters and calibration used.
    fitted : list of dict
        Per fold and model: what a tuned model chose (``best_params``).
    """

    metrics: dict[str, dict[str, dict[str, float]]]
    oof: pd.DataFrame
    settings: dict[str, Any]
    fitted: list[dict[str, Any]] = field(default_factory=list)


def _fold_records(name, target_names, cols, te, k, Y, pred) -> list[pd.DataFrame]:
    env_lo, env_hi = pred.envelope
    records = []
    for c, j in enumerate(cols):
        records.append(
            pd.DataFrame(
                {
                    "model": name, "target": target_names[j], "row": te, "fold": k,
                    "y_true": Y[te, j], "mean": pred.mean[:, c], "std": pred.std[:, c],
                    "q05": pred.lo[:, c], "q95": pred.hi[:, c], "std_raw": pred.std_raw[:, c],
                    "q05_raw": pred.lo_raw[:, c], "q95_raw": pred.hi_raw[:, c],
                    "domain": pred.domain, "in_domain": pred.in_domain,
                    "env_lo": env_lo[c], "env_hi": env_hi[c],
                }
            )
        )  # fmt: skip
    return records


def _summarize(oof: pd.DataFrame, names, target_names, fit_time, n_folds) -> dict:
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        metrics[name] = {}
        for j, target in enumerate(target_names):
            part = oof[(oof["model"] == name) & (oof["target"] == target)]
            if part.empty:
                continue
            cols = {c: part[c].to_numpy() for c in OOF_COLUMNS[4:]}
            scores = score(cols["y_true"], cols["mean"], cols["std"], cols["q05"], cols["q95"])
            scores.update(domain_scores(cols))
            scores["fit_seconds"] = float(fit_time[name][j] / n_folds)
            metrics[name][target] = scores
    return metrics


def evaluate_dataset(
    dataset,
    models: Sequence[str],
    cv: int = 10,
    seed: int = 0,
    group: str | None = None,
    *,
    targets: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    folds: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    fast: bool = False,
    calibrate: bool = True,
    progress: bool = True,
    on_fit: Callable[[str, int, list[str], Any], None] | None = None,
) -> EvaluationResult:
    """Cross-validate ``models`` on a :class:`psplab.data.Dataset` with shared folds.

    Parameters
    ----------
    dataset : psplab.data.Dataset
        A validated dataset; its processing columns are the inputs.
    models : sequence of str
        Registered model names, e.g. ``["bhn", "gp", "rf"]``.
    cv : int
        Number of folds (ignored when ``folds`` is given).
    seed : int
        Seeds the fold shuffling and every model.
    group : str, optional
        Column whose values must not be split across folds (GroupKFold); the calibration
        residuals then also come from folds that hold out whole groups.
    targets : sequence of str, optional
        Subset of the dataset's targets (default: all numeric structure/property columns).
    params : mapping, optional
        Extra constructor parameters per model name (and ``tune``, see
        :func:`psplab.models.pipeline.build_estimator`).
    folds : sequence of (train_idx, test_idx), optional
        Explicit folds (e.g. matbench's official ones).
    fast : bool
        Use every model's cheap configuration (:data:`psplab.models.defaults.FAST_PARAMS`).
    calibrate : bool
        Conformal (CV+) calibration of every model inside each training fold.
    progress : bool
        Show progress over folds x models.
    on_fit : callable, optional
        ``on_fit(model_name, fold, target_names, estimator)`` after each fit.

    Returns
    -------
    result : EvaluationResult
        Metrics per model and target, the out-of-fold table and the settings.
    """
    from psplab.models.pipeline import build_estimator, check_models, dataset_arrays
    from psplab.progress import track

    X, Y, target_names, bounds, groups = dataset_arrays(dataset, targets, group)
    split = list(folds) if folds is not None else make_folds(len(X), cv, seed, groups)
    params = {name: dict(p) for name, p in (params or {}).items()}
    check_models(
        models, params, X, Y, fast=fast, calibrate=calibrate, seed=seed, target_names=target_names
    )
    records: list[pd.DataFrame] = []
    fitted: list[dict[str, Any]] = []
    fit_time = {m: np.zeros(len(target_names)) for m in models}
    jobs = [(m, k) for k in range(len(split)) for m in models]
    for name, k in track(jobs, "cross-validating") if progress else jobs:
        train, test = split[k]
        for cols in target_groups(Y):
            present = ~np.isnan(Y[:, cols[0]])
            tr, te = train[present[train]], test[present[test]]
            if len(tr) < 2 or len(te) == 0:
                continue
            est = build_estimator(
                name, params.get(name), seed=seed, fast=fast, calibrate=calibrate,
                target_bounds=[bounds[j] for j in cols], n_rows=len(tr),
            )  # fmt: skip
            t0 = time.perf_counter()
            est.fit(X[tr], Y[np.ix_(tr, cols)], groups=None if groups is None else groups[tr])
            fit_time[name][cols] += time.perf_counter() - t0
            names = [target_names[j] for j in cols]
            fitted.append({"model": name, "fold": k, "targets": names, **_choices(est)})
            if on_fit is not None:
                on_fit(name, k, names, est)
            records += _fold_records(name, target_names, cols, te, k, Y, est.predict_summary(X[te]))
    oof = pd.DataFrame(columns=list(OOF_COLUMNS))
    if records:
        oof = pd.concat(records, ignore_index=True)
    settings = {
        "models": list(models), "cv": len(split), "seed": seed, "group": group,
        "model_params": params, "fast": fast, "calibrate": calibrate, "targets": target_names,
    }  # fmt: skip
    return EvaluationResult(
        _summarize(oof, models, target_names, fit_time, len(split)), oof, settings, fitted
    )


def _choices(estimator) -> dict[str, Any]:
    """What a tuned estimator chose (found inside a calibration wrapper too)."""
    inner = getattr(estimator, "full_", estimator)
    best = getattr(inner, "best_params_", None)
    return {"best_params": best} if best else {}
