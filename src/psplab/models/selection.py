"""Hyperparameter selection inside the training data: :class:`TunedRegressor` and its helpers.

:func:`select_params` scores a small grid of parameter overrides by K-fold cross-validation on
the rows it is given and returns the best. :class:`TunedRegressor` wraps any regressor with
it: fitted on the training rows of an outer fold, this is nested cross-validation, and the
outer test rows never influence the choice.

Example::

    from psplab.models import BayesianHypernetwork, TunedRegressor

    model = TunedRegressor(
        BayesianHypernetwork(), grid=[{"input_transform": "none"}, {"input_transform": "log"}]
    ).fit(X_train, y_train)
    model.best_params_
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from psplab.errors import InputError
from psplab.models.base import Predictive, ProbabilisticRegressor, as_2d_targets
from psplab.models.metrics import gaussian_nll

__all__ = ["BHN_GRID", "METRICS", "TunedRegressor", "inner_folds", "select_params"]

#: A tuning grid for the BHN: how inputs enter the network (heavy-tailed times and minor
#: additions), whether the target is modelled on a log scale, and how long the network trains
#: (early stopping on a coarse grid: the directions ``v`` are point estimates and overfit small
#: tables long before 2000 full-batch steps). Which combination a table needs is what the inner
#: folds decide. Each epoch count is one compiled training program, shared by the inner fits.
BHN_GRID: list[dict[str, Any]] = [
    {"input_transform": it, "target_transform": tt, "epochs": ep}
    for it in ("none", "log")
    for tt in ("auto", "none")
    for ep in (300, 800, 2000)
]

METRICS = ("nll", "mae", "rmse")


def inner_folds(
    n_rows: int, cv: int, seed: int, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner K-fold splits (tuning, calibration) of the rows an estimator is fitted on.

    Parameters
    ----------
    n_rows, cv : int
        Rows to split and number of folds (at least 2).
    seed : int
        Seeds the shuffling (its own stream: the inner split must not repeat an outer one).
    groups : numpy.ndarray, optional
        Group label per row, to keep whole groups in one fold.

    Returns
    -------
    folds : list of (train_idx, val_idx)
        Sorted index arrays.
    """
    if cv < 2:
        raise InputError(f"inner cross-validation needs cv >= 2, got {cv}")
    rng = np.random.default_rng([int(seed), 7])
    if groups is not None:
        labels, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
        if len(labels) < cv:
            raise InputError(f"{len(labels)} groups are too few for {cv}-fold grouped splits")
        part_of_group = np.array_split(rng.permutation(len(labels)), cv)
        fold = np.empty(len(labels), dtype=int)
        for k, members in enumerate(part_of_group):
            fold[members] = k
        parts = [np.flatnonzero(fold[codes] == k) for k in range(cv)]
    else:
        if n_rows < 2 * cv:
            raise InputError(f"{n_rows} rows are too few for {cv}-fold inner cross-validation")
        parts = np.array_split(rng.permutation(n_rows), cv)
    return [
        (np.sort(np.concatenate(parts[:k] + parts[k + 1 :])), np.sort(parts[k])) for k in range(cv)
    ]


def _score(y: np.ndarray, mean: np.ndarray, std: np.ndarray, metric: str) -> float:
    """Validation loss over all targets, lower is better; ``y, mean, std`` are ``(n, t)``."""
    if metric == "nll":
        # Standardized by each target's spread, so that the unit does not weigh in.
        spread = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)
        return float(gaussian_nll(y / spread, mean / spread, std / spread).mean(axis=0).sum())
    spread = y.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    if metric == "rmse":
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
    groups: np.ndarray | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Choose the grid entry with the best ``cv``-fold validation score on ``(X, y)``.

    Parameters
    ----------
    build : callable
        ``build(overrides)`` returns a new unfitted regressor.
    X, y : numpy.ndarray
        Training rows only, ``(n, d)`` and ``(n,)`` or ``(n, t)``, finite.
    grid : sequence of dict
        Parameter overrides to try (``{}`` is the model as built).
    cv : int
        Inner folds; every candidate sees the same splits.
    seed : int
        Seeds the inner splits.
    metric : str
        ``"nll"``: Gaussian predictive NLL of the standardized targets, summed over targets;
        ``"mae"``: MAE over each target's standard deviation, averaged over targets;
        ``"rmse"``: the same with the root-mean-square error.
    groups : numpy.ndarray, optional
        Group label per row: the inner folds keep groups whole.

    Returns
    -------
    best : dict
        The winning overrides (ties: the earlier entry).
    table : list of dict
        One dict per candidate: ``params``, ``score`` (mean over inner folds), ``fold_scores``.
    """
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    grid = list(grid)
    if not grid or not all(isinstance(g, dict) for g in grid):
        raise InputError(f"the tuning grid must be a non-empty list of dicts, got {grid!r}")
    X = np.asarray(X, dtype=float)
    Y, _ = as_2d_targets(y)
    folds = inner_folds(X.shape[0], int(cv), seed, groups)
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


class TunedRegressor(ProbabilisticRegressor):
    """A regressor whose hyperparameters are chosen by inner cross-validation at every fit.

    Parameters
    ----------
    estimator : ProbabilisticRegressor
        The unfitted regressor to tune (cloned, never modified).
    grid : list of dict or "bhn"
        Parameter overrides to try; ``"bhn"`` is :data:`BHN_GRID`.
    cv : int
        Inner folds.
    metric : str
        ``"nll"``, ``"mae"`` or ``"rmse"`` (see :func:`select_params`).
    seed : int
        Seeds the inner splits.
    search_params : dict, optional
        Overrides used by the candidate fits of the search only (e.g. ``{"n_members": 1}``:
        rank candidates with one network, refit the winner with all of them).

    Attributes
    ----------
    best_params_ : dict
        The chosen overrides.
    tuning_ : list of dict
        Every candidate's inner score.
    best_estimator_ : ProbabilisticRegressor
        The estimator refitted on all rows with ``best_params_``; predictions come from it.
    """

    model_name = "tuned"

    def __init__(
        self,
        estimator: ProbabilisticRegressor,
        grid: list[dict[str, Any]] | str = "bhn",
        cv: int = 3,
        metric: str = "nll",
        seed: int = 0,
        search_params: dict[str, Any] | None = None,
    ):
        self.estimator = estimator
        self.grid = grid
        self.cv = cv
        self.metric = metric
        self.seed = seed
        self.search_params = search_params

    def _grid(self) -> list[dict[str, Any]]:
        if isinstance(self.grid, str):
            if self.grid != "bhn":
                raise InputError(f"grid must be a list of dicts or 'bhn', got {self.grid!r}")
            return BHN_GRID
        return list(self.grid)

    def fit(self, X: Any, y: Any, groups: Any = None) -> TunedRegressor:
        """Choose the parameters by inner cross-validation, then refit on all rows.

        Parameters
        ----------
        X, y : array-like
            Training rows, split into the inner folds.
        groups : array-like, optional
            Group label per row: the inner folds keep groups whole.

        Returns
        -------
        self : TunedRegressor
            The fitted meta-estimator.
        """
        base = self.estimator
        best, table = select_params(
            lambda overrides: clone(base).set_params(**{**(self.search_params or {}), **overrides}),
            X,
            y,
            self._grid(),
            cv=int(self.cv),
            seed=int(self.seed),
            metric=self.metric,
            groups=None if groups is None else np.asarray(groups),
        )
        self.best_params_, self.tuning_ = best, table
        self.best_estimator_ = clone(base).set_params(**best).fit(X, y)
        self.y_1d_ = self.best_estimator_.y_1d_
        return self

    def _inner_estimators(self) -> list[ProbabilisticRegressor]:
        return [clone(self.estimator).set_params(**g) for g in self._grid()]

    def refit_template(self) -> ProbabilisticRegressor:
        """The chosen configuration, unfitted: refits on other rows skip the search."""
        self._check_fitted()
        return self.best_estimator_.refit_template()

    def predictive(self, X: Any) -> Predictive:
        """The predictive of :attr:`best_estimator_` at the rows ``X : array-like``."""
        self._check_fitted()
        return self.best_estimator_.predictive(X)

    def sample(
        self, X: Any, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        """Draws of :attr:`best_estimator_` at the rows ``X : array-like`` (see the contract)."""
        self._check_fitted()
        return self.best_estimator_.sample(X, n_samples, seed, include_noise)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from psplab.models.registry import estimator_to_dict

        arrays, meta = self.best_estimator_._get_state()
        return arrays, {
            "best_params": self.best_params_,
            "tuning": self.tuning_,
            "best_estimator": {**estimator_to_dict(self.best_estimator_), "state": meta},
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        from psplab.models.registry import estimator_from_dict

        self.best_params_ = dict(meta["best_params"])
        self.tuning_ = list(meta["tuning"])
        self.best_estimator_ = estimator_from_dict(meta["best_estimator"])
        self.best_estimator_._set_state(arrays, meta["best_estimator"]["state"])
        self.y_1d_ = self.best_estimator_.y_1d_
