"""Cross-validation of several probabilistic regressors on the same folds.

Every model sees exactly the same train/test split of every fold; each model's hyperparameters
(GP marginal likelihood, network training, forest noise term) are fitted on the training rows of
a fold only. A row whose value of one target is missing is dropped for that target alone.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from psplab.models.metrics import score

QUANTILES = (0.05, 0.95)


def make_folds(
    n_rows: int, cv: int = 10, seed: int = 0, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``cv`` shuffled (Group)KFold splits as ``(train_idx, test_idx)`` pairs."""
    from sklearn.model_selection import GroupKFold, KFold

    idx = np.arange(n_rows)
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < cv:
            raise ValueError(f"only {n_groups} groups for {cv}-fold grouped cross-validation")
        try:
            splitter = GroupKFold(n_splits=cv, shuffle=True, random_state=seed)
        except TypeError:  # scikit-learn < 1.6 has no shuffling GroupKFold
            splitter = GroupKFold(n_splits=cv)
        return [(tr, te) for tr, te in splitter.split(idx, groups=groups)]
    if n_rows < cv:
        raise ValueError(f"{n_rows} rows are too few for {cv}-fold cross-validation")
    splitter = KFold(n_splits=cv, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(idx)]


def _build(name: str, seed: int, params: Mapping[str, Any] | None):
    from psplab.models import make_model
    from psplab.models.base import MODEL_REGISTRY

    kwargs = dict(params or {})
    make_model(name)  # registers the class (raises for an unknown name)
    if "seed" in inspect.signature(MODEL_REGISTRY[name].__init__).parameters:
        kwargs.setdefault("seed", seed)
    return make_model(name, **kwargs)


def _target_groups(Y: np.ndarray) -> list[list[int]]:
    """Targets with the same missing-value pattern share one multi-target fit."""
    patterns: dict[bytes, list[int]] = {}
    for j in range(Y.shape[1]):
        patterns.setdefault(np.isnan(Y[:, j]).tobytes(), []).append(j)
    return list(patterns.values())


def cross_validate(
    dataset,
    model_names: Sequence[str],
    cv: int = 10,
    seed: int = 0,
    group: str | None = None,
    *,
    targets: Sequence[str] | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    folds: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    progress: bool = True,
    on_fit: Callable[[str, int, list[str], Any], None] | None = None,
) -> tuple[dict[str, dict[str, dict[str, float]]], pd.DataFrame]:
    """Cross-validate ``model_names`` on a :class:`psplab.data.Dataset` with shared folds.

    Parameters
    ----------
    dataset
        A validated dataset (``psplab.data.load_dataset``); its processing columns are the inputs.
    model_names
        Registered model names, e.g. ``["bhn", "gp", "rf"]``.
    cv
        Number of folds (ignored when ``folds`` is given).
    seed
        Seeds the fold shuffling and every model.
    group
        Column whose values must not be split across folds (GroupKFold).
    targets
        Subset of the dataset's targets (default: all numeric structure/property columns).
    model_params
        Extra constructor parameters per model name.
    folds
        Explicit ``(train_idx, test_idx)`` pairs (e.g. matbench's official folds).
    progress
        Show a progress bar over folds x models.
    on_fit
        Called as ``on_fit(model_name, fold, target_names, model)`` after each fit, e.g. to
        record what a tuned model chose on that fold (``model.best_params_``).

    Returns
    -------
    metrics
        ``{model: {target: {mae, rmse, r2, nll, crps, coverage90, width90, fit_seconds}}}``;
        ``fit_seconds`` is the mean wall time of one fold's fit (a multi-target fit counts for
        each of its targets).
    oof
        Long table of out-of-fold predictions: ``model, target, row, fold, y_true, mean, std,
        q05, q95``.
    """
    from psplab.progress import track

    X, _ = dataset.input_matrix()
    target_names = list(targets) if targets is not None else list(dataset.target_names)
    if not target_names:
        raise ValueError("the dataset has no numeric structure or property column to predict")
    Y = dataset.target_matrix(target_names)
    groups = dataset.groups(group) if group is not None else None
    split = list(folds) if folds is not None else make_folds(len(X), cv, seed, groups)
    model_params = model_params or {}

    records: list[pd.DataFrame] = []
    fit_time = {m: np.zeros(len(target_names)) for m in model_names}
    jobs = [(m, k) for k in range(len(split)) for m in model_names]
    iterator = track(jobs, "cross-validating") if progress else jobs
    for name, k in iterator:
        train, test = split[k]
        for cols in _target_groups(Y):
            present = ~np.isnan(Y[:, cols[0]])
            tr, te = train[present[train]], test[present[test]]
            if len(tr) < 2 or len(te) == 0:
                continue
            model = _build(name, seed, model_params.get(name))
            t0 = time.perf_counter()
            model.fit(X[tr], Y[np.ix_(tr, cols)])
            fit_time[name][cols] += time.perf_counter() - t0
            if on_fit is not None:
                on_fit(name, k, [target_names[j] for j in cols], model)
            mean, std = model.predict_dist(X[te])
            q = model.predict_quantiles(X[te], QUANTILES)
            for c, j in enumerate(cols):
                records.append(
                    pd.DataFrame(
                        {
                            "model": name,
                            "target": target_names[j],
                            "row": te,
                            "fold": k,
                            "y_true": Y[te, j],
                            "mean": mean[:, c],
                            "std": std[:, c],
                            "q05": q[0][:, c],
                            "q95": q[1][:, c],
                        }
                    )
                )
    oof = pd.concat(records, ignore_index=True) if records else pd.DataFrame()
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    for name in model_names:
        metrics[name] = {}
        for j, target in enumerate(target_names):
            part = oof[(oof["model"] == name) & (oof["target"] == target)]
            if part.empty:
                continue
            scores = score(
                part["y_true"].to_numpy(),
                part["mean"].to_numpy(),
                part["std"].to_numpy(),
                part["q05"].to_numpy(),
                part["q95"].to_numpy(),
            )
            scores["fit_seconds"] = float(fit_time[name][j] / len(split))
            metrics[name][target] = scores
    return metrics, oof
