"""Conformal calibration of any psplab regressor: CV+ (Barber, Candès, Ramdas & Tibshirani 2021).

:class:`ConformalRegressor` fits the wrapped estimator on all rows (the *full* model: its mean
and its own, raw intervals) and on ``cv`` folds of them. Each training row ``i`` gets a
normalized out-of-fold residual ``R_i = |g(y_i) - mu_{-k(i)}(x_i)| / s_{-k(i)}(x_i)``, where
``mu``/``s`` are the predictive mean and std of the model that did not see row ``i``'s fold,
in the modelled units ``g`` (``log y`` for log-modelled targets, else ``y``). For a new row the
CV+ interval of level ``1 - alpha`` is::

    [ floor(alpha (n+1))-th smallest of  mu_{-k(i)}(x) - R_i s_{-k(i)}(x),
      ceil((1-alpha)(n+1))-th smallest of mu_{-k(i)}(x) + R_i s_{-k(i)}(x) ]

(the studentized form of Barber et al.'s CV+, as MAPIE's ``method="plus"`` with a normalized
score). When the rows are exchangeable with the new row it covers at least ``1 - 2 alpha``
(in practice close to ``1 - alpha``) whatever the model. With ``groups`` the folds hold out whole
groups (alloys, heats, labs), so the residuals are those of *new groups* and the interval is
calibrated for rows of a group the model has never seen. ``method="base"`` instead uses the full
model with the ``ceil((1-alpha)(n+1))``-th smallest ``R_i`` (no fold models kept at prediction).

What is not guaranteed: coverage of a row unlike all calibration rows (outside the domain the
intervals widen, see :mod:`psplab.models.domain`, but no finite sample can certify them), nor
coverage of every row individually (the guarantee is on average over new rows). When the
wrapped estimator is tuned, the fold refits reuse the parameters chosen on all rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import ndtri
from sklearn.base import clone

from psplab.errors import InputError
from psplab.models.base import (
    LEVEL,
    Prediction,
    Predictive,
    ProbabilisticRegressor,
    check_X,
    check_Xy,
    shape_out,
)
from psplab.models.selection import inner_folds

__all__ = ["ConformalRegressor", "METHODS"]

METHODS = ("plus", "base")
_CHUNK = 4_000_000  # candidate bounds held at once (rows x calibration residuals)


class ConformalRegressor(ProbabilisticRegressor):
    """Calibrated intervals for any regressor by CV+ (see the module notes).

    Parameters
    ----------
    estimator : ProbabilisticRegressor
        The unfitted regressor to calibrate (cloned, never modified).
    cv : int
        Folds for the out-of-fold residuals (fewer when there are fewer groups).
    method : str
        ``"plus"`` (CV+, the fold models predict every new row) or ``"base"``.
    seed : int
        Seeds the fold split.

    Attributes
    ----------
    full_ : ProbabilisticRegressor
        The estimator fitted on all rows.
    folds_ : list of ProbabilisticRegressor
        The fold models (``method="plus"``).
    scores_ : numpy.ndarray
        ``(n, t)`` normalized out-of-fold residuals.
    fold_of_ : numpy.ndarray
        ``(n,)`` fold of each training row.
    """

    model_name = "conformal"

    def __init__(
        self, estimator: ProbabilisticRegressor, cv: int = 5, method: str = "plus", seed: int = 0
    ):
        self.estimator = estimator
        self.cv = cv
        self.method = method
        self.seed = seed

    def fit(
        self, X: Any, y: Any, groups: Any = None, on_fit: Callable[[int, int], None] | None = None
    ) -> ConformalRegressor:
        """Fit the full model and the fold models; record the normalized residuals.

        Parameters
        ----------
        X, y : array-like
            Training rows.
        groups : array-like, optional
            Group label per row: each fold holds out whole groups.
        on_fit : callable, optional
            ``on_fit(done, total)`` after each of the ``cv + 1`` fits (progress display).

        Returns
        -------
        self : ConformalRegressor
            The fitted meta-estimator.
        """
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        X, Y, is_1d = check_Xy(X, y)
        folds = self._folds(X.shape[0], groups)
        self.full_ = clone(self.estimator).fit(X, Y, groups=groups)
        if on_fit is not None:
            on_fit(1, len(folds) + 1)
        template = self.full_.refit_template()
        scores = np.empty(Y.shape)
        fold_of = np.empty(X.shape[0], dtype=int)
        models = []
        for k, (tr, va) in enumerate(folds):
            model = clone(template).fit(X[tr], Y[tr])
            loc, spread = _g_moments(model.predictive(X[va]))
            scores[va] = np.abs(_g(self.full_, Y[va]) - loc) / spread
            fold_of[va] = k
            models.append(model)
            if on_fit is not None:
                on_fit(k + 2, len(folds) + 1)
        self.folds_ = models if self.method == "plus" else []
        self.scores_, self.fold_of_ = scores, fold_of
        self.n_features_in_ = X.shape[1]
        self.y_1d_ = is_1d
        return self

    def _inner_estimators(self) -> list[ProbabilisticRegressor]:
        return [self.estimator]

    def _folds(self, n: int, groups: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        cv = int(self.cv)
        if groups is not None:
            groups = np.asarray(groups).astype(str)
            if len(groups) != n:
                raise InputError(f"groups has {len(groups)} entries for {n} rows")
            n_groups = len(np.unique(groups))
            if n_groups < 2:
                raise InputError("calibration by groups needs at least 2 groups")
            return inner_folds(n, min(cv, n_groups), int(self.seed), groups)
        cv = min(cv, n // 2)
        if cv < 2:
            raise InputError(
                f"{n} rows are too few for a calibrated fit (need at least 4; "
                "fit without calibration, --no-calibrate, to use them all)"
            )
        return inner_folds(n, cv, int(self.seed))

    # ------------------------------------------------------------------ prediction
    def predictive(self, X: Any) -> Predictive:
        """The full model's own, uncalibrated predictive at the rows ``X : array-like``."""
        self._check_fitted()
        return self.full_.predictive(X)

    def _bounds(self, X: np.ndarray, alphas: list[float], full: Predictive) -> list[np.ndarray]:
        """Calibrated ``(lower, upper)`` in standardized modelled units of the full model."""
        prep = full.prep
        if self.method == "base":
            loc, spread = _g_moments(full)
            out = []
            for alpha in alphas:
                q = _order_stat(
                    np.sort(self.scores_, axis=0), _upper_rank(alpha, len(self.scores_))
                )
                out.append(((loc - q * spread - prep.y_center) / prep.y_scale,
                            (loc + q * spread - prep.y_center) / prep.y_scale))  # fmt: skip
            return out
        per_fold = [_g_moments(m.predictive(X)) for m in self.folds_]
        fold_scores = [self.scores_[self.fold_of_ == k] for k in range(len(self.folds_))]
        n_cal, t = self.scores_.shape
        lows = [np.empty((len(X), t)) for _ in alphas]
        highs = [np.empty((len(X), t)) for _ in alphas]
        rows = max(1, _CHUNK // max(n_cal, 1))
        for j in range(t):
            for r in range(0, len(X), rows):
                sl = slice(r, r + rows)
                centre = np.concatenate(
                    [np.repeat(loc[sl, j, None], len(sc), axis=1) for (loc, _), sc in zip(per_fold, fold_scores, strict=True)],
                    axis=1,
                )  # fmt: skip
                half = np.concatenate(
                    [spread[sl, j, None] * sc[None, :, j] for (_, spread), sc in zip(per_fold, fold_scores, strict=True)],
                    axis=1,
                )  # fmt: skip
                for a, alpha in enumerate(alphas):
                    lows[a][sl, j] = _order_stat_rows(
                        centre - half, math.floor(alpha * (n_cal + 1))
                    )
                    highs[a][sl, j] = _order_stat_rows(centre + half, _upper_rank(alpha, n_cal))
        return [
            ((lo - prep.y_center) / prep.y_scale, (hi - prep.y_center) / prep.y_scale)
            for lo, hi in zip(lows, highs, strict=True)
        ]

    def _calibrated(self, X: Any, q: list[float]) -> tuple[Predictive, np.ndarray]:
        """Raw predictive and calibrated quantiles ``(len(q), n, t)`` in the targets' units."""
        self._check_fitted()
        X = check_X(X, self.n_features_in_)
        full = self.full_.predictive(X)
        alphas = [2.0 * min(p, 1.0 - p) for p in q]
        bounds = self._bounds(X, alphas, full)
        z = []
        for p, (lo, hi) in zip(q, bounds, strict=True):
            z.append(lo if p < 0.5 else hi if p > 0.5 else 0.5 * (lo + hi))
        env_lo, env_hi = full.prep.standardized_envelope()
        return full, full.prep.targets_from_model(np.clip(np.stack(z), env_lo, env_hi))

    def predict_quantiles(self, X: Any, q: Any) -> np.ndarray:
        """Calibrated quantiles: the CV+ bound of level ``|1 - 2q|`` for each ``q``.

        Parameters
        ----------
        X, q : array-like
            Inputs ``(n, d)`` and probabilities in (0, 1) (below 0.5 a lower, above an upper
            bound).

        Returns
        -------
        quantiles : numpy.ndarray
            ``(len(q), n[, t])``, inside the envelope.
        """
        _, quantiles = self._calibrated(X, [float(p) for p in np.atleast_1d(q)])
        return shape_out(quantiles, self.y_1d_)

    def predict_summary(self, X: Any, level: float = LEVEL) -> Prediction:
        """Raw and calibrated intervals of every row.

        Parameters
        ----------
        X : array-like
            Inputs ``(n, d)``; ``level : float`` is the nominal coverage.

        Returns
        -------
        prediction : Prediction
            ``lo``/``hi`` from CV+, ``*_raw`` from the full model; the calibrated std is that of
            the Gaussian whose central interval of this level is as wide as the calibrated one.
        """
        tails = [(1 - level) / 2, (1 + level) / 2]
        full, (lo, hi) = self._calibrated(X, tails)
        mean, std_raw = full.moments()
        lo_raw, hi_raw = full.quantiles(tails)
        std = (hi - lo) / (2.0 * ndtri(0.5 + level / 2.0))
        return Prediction(
            mean, std, lo, hi, std_raw, lo_raw, hi_raw, full.domain,
            full.prep.envelope(), level,
        )  # fmt: skip

    def predict_dist(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Mean and calibrated std at the rows ``X : array-like``.

        Returns
        -------
        mean, std : numpy.ndarray
            The full model's mean; the std of the Gaussian as wide as the calibrated interval.
        """
        p = self.predict_summary(X)
        return shape_out(p.mean, self.y_1d_), shape_out(p.std, self.y_1d_)

    def sample(
        self, X: Any, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        """The full model's draws at the rows ``X : array-like``, spread by the calibration ratio."""
        p = self.predict_summary(X)
        raw_width = p.hi_raw - p.lo_raw
        ratio = np.where(
            raw_width > 0, (p.hi - p.lo) / np.where(raw_width > 0, raw_width, 1.0), 1.0
        )
        ratio = shape_out(ratio, self.y_1d_)
        draws = self.full_.sample(X, n_samples, seed, include_noise)
        mean = shape_out(p.mean, self.y_1d_)
        lo, hi = self.full_.predictive(X).prep.envelope()
        return np.clip(
            mean + (draws - mean) * ratio, shape_out(lo, self.y_1d_), shape_out(hi, self.y_1d_)
        )

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from psplab.models.registry import estimator_to_dict

        arrays = {"scores": self.scores_, "fold_of": self.fold_of_}
        parts = []
        for name, model in [("full", self.full_)] + [
            (f"fold{k}", m) for k, m in enumerate(self.folds_)
        ]:
            a, meta = model._get_state()
            arrays.update({f"{name}__{key}": value for key, value in a.items()})
            parts.append({"name": name, **estimator_to_dict(model), "state": meta})
        meta = {"parts": parts, "n_features_in": int(self.n_features_in_), "y_1d": bool(self.y_1d_)}
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        from psplab.models.registry import estimator_from_dict

        models = []
        for part in meta["parts"]:
            model = estimator_from_dict(part)
            prefix = f"{part['name']}__"
            model._set_state(
                {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)},
                part["state"],
            )
            models.append(model)
        self.full_, self.folds_ = models[0], models[1:]
        self.scores_, self.fold_of_ = arrays["scores"], arrays["fold_of"].astype(int)
        self.n_features_in_, self.y_1d_ = int(meta["n_features_in"]), bool(meta["y_1d"])


def _g(model: ProbabilisticRegressor, Y: np.ndarray) -> np.ndarray:
    """Targets in the modelled units ``g`` of ``model`` (``log y`` for log-modelled targets)."""
    logs = _prep_of(model).log_targets
    return np.where(logs, np.log(np.where(logs & (Y > 0), Y, 1.0)), Y)


def _prep_of(model: ProbabilisticRegressor):
    while not hasattr(model, "prep_"):
        model = model.best_estimator_ if hasattr(model, "best_estimator_") else model.full_
    return model.prep_


def _g_moments(p: Predictive) -> tuple[np.ndarray, np.ndarray]:
    """Mixture mean and std ``(n, t)`` in the modelled units ``g``."""
    return p.prep.y_center + p.prep.y_scale * p.loc(), p.prep.y_scale * p.spread()


def _upper_rank(alpha: float, n: int) -> int:
    return math.ceil((1.0 - alpha) * (n + 1))


def _order_stat(sorted_values: np.ndarray, rank: int) -> np.ndarray:
    """The ``rank``-th smallest (1-based) along axis 0; infinite beyond the sample."""
    if rank > sorted_values.shape[0]:
        return np.full(sorted_values.shape[1:], np.inf)
    return sorted_values[max(rank, 1) - 1]


def _order_stat_rows(values: np.ndarray, rank: int) -> np.ndarray:
    """Per row of ``values (r, n)``: the ``rank``-th smallest, or -inf/inf outside ``1..n``."""
    n = values.shape[1]
    if rank < 1:
        return np.full(values.shape[0], -np.inf)
    if rank > n:
        return np.full(values.shape[0], np.inf)
    return np.partition(values, rank - 1, axis=1)[:, rank - 1]
