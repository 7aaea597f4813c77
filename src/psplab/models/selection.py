"""Hyperparameter selection inside the training data (inner cross-validation).

:func:`select_params` scores a small grid of parameter overrides by K-fold cross-validation on
the rows it is given and returns the best. Called on the training rows of an outer fold (as
``BayesianHypernetwork(tune=...)`` does inside :func:`psplab.models.evaluation.cross_validate`),
this is nested cross-validation: the outer test rows never influence the choice.

Example::

    from psplab.models.bhn import BayesianHypernetwork
    from psplab.models.selection import select_params

    best, table = select_params(
        lambda p: BayesianHypernetwork(**p), X_train, y_train,
        grid=[{"input_transform": "none"}, {"input_transform": "log"}], cv=3, seed=0,
    )
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from psplab.models.metrics import gaussian_nll

#: The BHN's default tuning grid (``tune="auto"``): how inputs and targets enter the network
#: (heavy-tailed times and minor additions; multiplicative or additive noise), and how long it
#: trains (early stopping on a coarse grid: the directions ``v`` are point estimates, and with
#: 150-400 rows they overfit long before 2000 full-batch Adam steps). Untuned, one seed, outer
#: folds: NIMS fatigue MAE 17.9 (defaults) / 17.0 (log inputs) / 16.0 (log inputs, 800
#: epochs); matbench_steels 112 / 101 / 87.5 (log inputs, 300 epochs, no log target). Which
#: combination a data set needs is what the inner folds decide. Each epoch count is one
#: compiled training program, shared by every fold and every inner fit. (Widths 100-100
#: lowered the NIMS MAE by ~0.3-1 MPa at 2.5x the fit time; not in the grid.)
BHN_GRID: list[dict[str, Any]] = [
    {"input_transform": it, "target_transform": tt, "epochs": ep}
    for it in ("none", "log")
    for tt in ("auto", "none")
    for ep in (300, 800, 2000)
]

METRICS = ("nll", "mae", "rmse")


def inner_folds(n_rows: int, cv: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``cv`` shuffled K-fold splits of ``n_rows`` rows (``(train_idx, val_idx)`` pairs)."""
    if cv < 2:
        raise ValueError(f"inner cross-validation needs cv >= 2, got {cv}")
    if n_rows < 2 * cv:
        raise ValueError(f"{n_rows} rows are too few for {cv}-fold inner cross-validation")
    # Its own stream: the inner split must not repeat the outer shuffling of the same seed.
    perm = np.random.default_rng([int(seed), 7]).permutation(n_rows)
    parts = np.array_split(perm, cv)
    return [
        (np.sort(np.concatenate(parts[:k] + parts[k + 1 :])), np.sort(parts[k])) for k in range(cv)
    ]


def _score(y: np.ndarray, mean: np.ndarray, std: np.ndarray, metric: str) -> float:
    """Validation loss over all targets, lower is better; ``y, mean, std`` are ``(n, t)``."""
    if metric == "nll":
        # Summed over targets: each target's unit adds the same constant to every candidate.
        return float(gaussian_nll(y, mean, std).mean(axis=0).sum())
    spread = y.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    if metric == "rmse":
        # Squared error is what R^2 scores: large misses weigh more than under MAE.
        return float((np.sqrt(((y - mean) ** 2).mean(axis=0)) / spread).mean())
    return float((np.abs(y - mean).mean(axis=0) / spread).mean())


def select_params(
    build: Callable[[dict[str, Any]], Any],
    X: np.ndarray,
    y: np.ndarray,
    grid: Sequence[dict[str, Any]],
    cv: int = 3,
    seed: int = 0,
    metric: str = "nll",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Choose the grid entry with the best ``cv``-fold validation score on ``(X, y)``.

    Parameters
    ----------
    build
        ``build(overrides)`` returns a new unfitted :class:`ProbabilisticRegressor`.
    X, y
        Training rows only, ``(n, d)`` and ``(n,)`` or ``(n, t)``, finite.
    grid
        Parameter overrides to try (dicts; ``{}`` is the model as built).
    cv
        Inner folds; every candidate sees the same splits.
    seed
        Seeds the inner splits.
    metric
        ``"nll"``: Gaussian predictive NLL in the targets' units, summed over targets;
        ``"mae"``: MAE over each target's standard deviation, averaged over targets;
        ``"rmse"``: the same with the root-mean-square error.

    Returns
    -------
    best
        The winning overrides (ties: the earlier entry).
    table
        One dict per candidate: ``params``, ``score`` (mean over inner folds), ``fold_scores``.
    """
    from psplab.models.base import as_2d_targets

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    grid = list(grid)
    if not grid:
        raise ValueError("the tuning grid is empty")
    X = np.asarray(X, dtype=float)
    Y, _ = as_2d_targets(y)
    folds = inner_folds(X.shape[0], int(cv), seed)
    table = []
    for overrides in grid:
        fold_scores = []
        for tr, va in folds:
            model = build(dict(overrides)).fit(X[tr], Y[tr])
            mean, std = model.predict_dist(X[va])
            mean = np.asarray(mean).reshape(len(va), -1)
            std = np.asarray(std).reshape(len(va), -1)
            fold_scores.append(_score(Y[va], mean, std, metric))
        # A candidate that blows up on one inner fold (non-finite score) must not win.
        score = float(np.mean(fold_scores)) if np.all(np.isfinite(fold_scores)) else np.inf
        table.append({"params": dict(overrides), "score": score, "fold_scores": fold_scores})
    best = min(range(len(table)), key=lambda i: table[i]["score"])
    return dict(grid[best]), table
