"""The estimator contract every psplab regressor follows, written as code.

:class:`ProbabilisticRegressor` is a scikit-learn estimator (``get_params``/``set_params``,
``sklearn.base.clone``, ``NotFittedError`` before ``fit``) that says how sure it is:

* ``__init__`` only stores parameters; learned attributes end in ``_``; ``fit`` returns ``self``.
* ``fit(X, y, groups=None)``: ``X (n, d)``, ``y (n,)`` or ``(n, t)``; ``groups`` is used by the
  estimators that split their training rows (tuning, conformal calibration).
* ``predict(X)`` -> mean; ``predict_dist(X)`` -> ``(mean, std)``; ``predict_quantiles(X, q)``
  -> ``(len(q), n[, t])``; ``predict_domain(X)`` -> the applicability-domain score ``(n,)``
  (``> 1``: outside); ``predict_summary(X)`` -> everything at once (:class:`Prediction`);
  ``sample(X, n_samples, seed, include_noise)`` -> joint draws ``(n_samples, n[, t])``.
* ``save(path)`` writes ``path.npz`` + ``path.json`` (never pickle);
  :func:`psplab.models.registry.load_estimator` reads them back.

:class:`PreprocessedRegressor` implements all of it for the concrete models once: the shared
preprocessing (:mod:`psplab.models.preprocessing`), the applicability domain
(:mod:`psplab.models.domain`), intervals that widen outside the domain and the envelope that
bounds every output. A model only supplies ``_fit_standardized`` and ``_mixture`` (and may
override ``_sample_standardized``).
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import NotFittedError

from psplab.errors import InputError
from psplab.models.domain import KNNDomain
from psplab.models.preprocessing import Preprocessor

__all__ = [
    "FunctionDrawsMixin",
    "Prediction",
    "Predictive",
    "PreprocessedRegressor",
    "ProbabilisticRegressor",
    "as_2d_targets",
    "check_X",
    "check_Xy",
    "mixture_quantiles",
    "shape_out",
    "store_params",
]

#: Nominal coverage of the intervals reported by :meth:`ProbabilisticRegressor.predict_summary`.
LEVEL = 0.9
#: Percentile of the training rows' predictive std that floors the std outside the domain.
WIDENING_PERCENTILE = 90.0
_MIN_STD_Z = 1e-6  # standardized units: a predictive std is never exactly zero


# ============================================================================ construction
def store_params(obj: object, values: Mapping[str, Any]) -> None:
    """Store every argument of ``type(obj).__init__`` unchanged, as the attribute of its name.

    The scikit-learn contract: ``__init__`` only stores its parameters, so that ``get_params``,
    ``set_params`` and ``clone`` see exactly what the caller passed. Called first thing as
    ``store_params(self, locals())``, it stores each parameter of the signature (none can be
    forgotten) and nothing else; checks belong in ``fit``.

    Parameters
    ----------
    obj : object
        The instance being constructed.
    values : mapping
        The constructor's ``locals()``: one value per parameter name.
    """
    for name, param in inspect.signature(type(obj).__init__).parameters.items():
        if name != "self" and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            setattr(obj, name, values[name])


# ============================================================================ array checks
def check_X(X: Any, n_features: int | None = None) -> np.ndarray:
    """``X`` as a finite float64 ``(n, d)`` array.

    Parameters
    ----------
    X : array-like
        Inputs, ``(n, d)`` or ``(n,)`` for one feature.
    n_features : int, optional
        The number of features the model was fitted on.

    Returns
    -------
    X : numpy.ndarray
        The validated array; :class:`psplab.errors.InputError` says what is wrong otherwise.
    """
    arr = np.asarray(X, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(f"X must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError("X has no rows")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(arr), axis=1))[0])
        raise InputError(f"X has a missing or non-finite value (row {bad + 1})")
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(f"X has {arr.shape[1]} features but the model was fitted on {n_features}")
    return arr


def as_2d_targets(y: Any) -> tuple[np.ndarray, bool]:
    """``y`` as ``(n, t)`` and whether the caller gave a 1-D vector.

    Parameters
    ----------
    y : array-like
        Targets ``(n,)`` or ``(n, t)``.

    Returns
    -------
    Y : numpy.ndarray
        ``(n, t)`` float array.
    is_1d : bool
        True when ``y`` was 1-D.
    """
    arr = np.asarray(y, dtype=float)
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim == 2:
        return arr, False
    raise InputError(f"y must be 1-D or 2-D, got shape {arr.shape}")


def check_Xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validated ``(X (n, d), Y (n, t), y_was_1d)``; every target value must be finite.

    Parameters
    ----------
    X, y : array-like
        Training inputs and targets (drop rows with a missing target first).

    Returns
    -------
    X : numpy.ndarray
        ``(n, d)``.
    Y : numpy.ndarray
        ``(n, t)``.
    is_1d : bool
        True when ``y`` was 1-D.
    """
    Xa = check_X(X)
    Ya, is_1d = as_2d_targets(y)
    if Ya.shape[0] != Xa.shape[0]:
        raise InputError(f"X has {Xa.shape[0]} rows but y has {Ya.shape[0]}")
    if not np.all(np.isfinite(Ya)):
        raise InputError("y has missing or non-finite values; drop those rows before fitting")
    if Xa.shape[0] < 2:
        raise InputError(f"need at least 2 rows to fit, got {Xa.shape[0]}")
    return Xa, Ya, is_1d


def shape_out(a: np.ndarray, is_1d: bool) -> np.ndarray:
    """Drop the target axis (last) when the model was fitted on a 1-D ``y``.

    Parameters
    ----------
    a : numpy.ndarray
        ``(..., t)`` array.
    is_1d : bool
        Whether the model was fitted on a 1-D ``y``.

    Returns
    -------
    a : numpy.ndarray
        ``(...)`` when ``is_1d``, else unchanged.
    """
    return a[..., 0] if is_1d else a


def mixture_quantiles(means: np.ndarray, stds: np.ndarray, q: Any, n_iter: int = 60) -> np.ndarray:
    """Quantiles of an equal-weight Gaussian mixture along axis 0, by bisection on its CDF.

    Parameters
    ----------
    means, stds : numpy.ndarray
        ``(m, ...)`` component means and standard deviations (``stds`` broadcastable).
    q : array-like
        Probabilities in (0, 1).
    n_iter : int
        Bisection steps (60 halve the bracket to 1e-18 of its width).

    Returns
    -------
    quantiles : numpy.ndarray
        ``(len(q), ...)``. A mixture rather than one Gaussian keeps skewed or bimodal
        predictives (ensembles, trees, hypernetwork draws) honest.
    """
    from scipy import special

    means = np.asarray(means, dtype=float)
    stds = np.broadcast_to(np.maximum(np.asarray(stds, dtype=float), 1e-300), means.shape)
    qs = np.atleast_1d(np.asarray(q, dtype=float))
    lo = (means - 8.0 * stds).min(axis=0)
    hi = (means + 8.0 * stds).max(axis=0)
    out = np.empty((qs.size,) + means.shape[1:])
    for k, p in enumerate(qs):
        a, b = lo.copy(), hi.copy()
        for _ in range(n_iter):
            mid = 0.5 * (a + b)
            cdf = special.ndtr((mid[None] - means) / stds).mean(axis=0)
            below = cdf < p
            a = np.where(below, mid, a)
            b = np.where(below, b, mid)
        out[k] = 0.5 * (a + b)
    return out


# ============================================================================ predictions
@dataclass
class Prediction:
    """Everything a prediction reports, in the targets' units; arrays ``(n, t)`` unless noted.

    ``lo``/``hi`` are the central interval of nominal coverage ``level`` (calibrated when the
    model is), ``*_raw`` the model's own uncalibrated ones; ``domain (n,)`` is the
    applicability-domain score (``> 1``: outside the domain); ``envelope`` the ``(lo, hi)``
    bounds ``(t,)`` that no mean, quantile or draw leaves.
    """

    mean: np.ndarray
    std: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    std_raw: np.ndarray
    lo_raw: np.ndarray
    hi_raw: np.ndarray
    domain: np.ndarray
    envelope: tuple[np.ndarray, np.ndarray]
    level: float = LEVEL

    @property
    def in_domain(self) -> np.ndarray:
        """``(n,)`` True for rows inside the applicability domain."""
        return self.domain <= 1.0


@dataclass
class Predictive:
    """A predictive distribution: an equal-weight Gaussian mixture in standardized modelled units.

    ``means``/``stds`` are ``(m, n, t)``: ``m`` components (network draws, trees, members; 1 for
    a GP) over ``n`` rows and ``t`` targets, in the units ``(g - centre) / scale`` of
    :class:`~psplab.models.preprocessing.Preprocessor`; ``domain (n,)`` the domain score.
    """

    means: np.ndarray
    stds: np.ndarray
    domain: np.ndarray
    prep: Preprocessor

    def loc(self) -> np.ndarray:
        """Mixture mean ``(n, t)`` in standardized modelled units."""
        return self.means.mean(axis=0)

    def spread(self) -> np.ndarray:
        """Mixture standard deviation ``(n, t)`` in standardized modelled units."""
        return np.sqrt(self.means.var(axis=0) + (self.stds**2).mean(axis=0))

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std ``(n, t)`` in the targets' units, inside the envelope.

        Returns
        -------
        mean, std : numpy.ndarray
            Exact mixture moments (for log-modelled targets, of the log-normal mixture clipped
            to the envelope, as its draws are), the mean clipped into the envelope and the std
            capped at half its width.
        """
        prep = self.prep
        c, s = prep.y_center, prep.y_scale
        env_lo, env_hi = prep.envelope()
        half = 0.5 * (env_hi - env_lo)
        mean = c + s * self.loc()
        std = s * self.spread()
        logs = prep.log_targets
        if logs.any():
            from psplab.models.lognormal import clipped_lognormal_moments

            # The moments of the distribution the draws and quantiles come from: the mixture
            # clipped to the envelope (its unclipped mean can sit far above every draw).
            j = np.flatnonzero(logs)
            with np.errstate(divide="ignore"):
                log_lo = np.log(np.maximum(env_lo[j], 0.0))
            mean[..., j], std[..., j] = clipped_lognormal_moments(
                c[j] + s[j] * self.means[..., j], s[j] * self.stds[..., j], log_lo, np.log(env_hi[j])
            )
        return np.clip(mean, env_lo, env_hi), np.minimum(std, half)

    def quantiles(self, q: Any) -> np.ndarray:
        """Mixture quantiles ``(len(q), n, t)`` in the targets' units, inside the envelope.

        Parameters
        ----------
        q : array-like
            Probabilities in (0, 1).

        Returns
        -------
        quantiles : numpy.ndarray
            Quantiles of the mixture (monotone transforms commute with quantiles).
        """
        return self.prep.targets_from_model(mixture_quantiles(self.means, self.stds, q))


# ============================================================================ the contract
class ProbabilisticRegressor(RegressorMixin, BaseEstimator, ABC):
    """Base class of regressors that say how sure they are (see the module notes)."""

    model_name: ClassVar[str] = "base"

    @abstractmethod
    def fit(self, X: Any, y: Any, groups: Any = None) -> ProbabilisticRegressor:
        """Fit on ``X (n, d)`` and ``y (n,)`` or ``(n, t)``.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Finite inputs.
        y : array-like of shape (n,) or (n, t)
            Finite targets.
        groups : array-like of shape (n,), optional
            Group label per row, for estimators that split their rows (tuning, calibration).

        Returns
        -------
        self : ProbabilisticRegressor
            The fitted estimator.
        """

    @abstractmethod
    def predictive(self, X: Any) -> Predictive:
        """The model's own (uncalibrated) predictive distribution at the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Inputs.

        Returns
        -------
        predictive : Predictive
            Mixture in standardized modelled units, with the domain score of each row.
        """

    @abstractmethod
    def sample(
        self, X: Any, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        """Joint posterior-predictive draws.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Inputs.
        n_samples : int
            Number of draws.
        seed : int
            Seed of the draws.
        include_noise : bool
            Draw observations (True) or the noise-free function.

        Returns
        -------
        draws : numpy.ndarray
            ``(n_samples, n[, t])``; each draw is one plausible function over all rows.
        """

    @abstractmethod
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays (for ``.npz``) and JSON metadata that rebuild the fitted model."""

    @abstractmethod
    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Restore what :meth:`_get_state` returned."""

    # ------------------------------------------------------------------ shared behaviour
    @property
    def target_is_1d_(self) -> bool:
        """Whether the model was fitted on a 1-D ``y`` (outputs then drop the target axis)."""
        self._check_fitted()
        return bool(self.y_1d_)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "y_1d_")

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit(X, y) first."
            )

    def predict(self, X: Any) -> np.ndarray:
        """Predictive mean in the targets' units.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Finite inputs with the training columns in the same order.

        Returns
        -------
        mean : numpy.ndarray
            ``(n,)`` or ``(n, t)`` as ``y`` was given to ``fit``.
        """
        return self.predict_dist(X)[0]

    def predict_dist(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Rows to predict at.

        Returns
        -------
        mean, std : numpy.ndarray
            Each ``(n,)`` or ``(n, t)``, inside the envelope.
        """
        mean, std = self.predictive(X).moments()
        return shape_out(mean, self.target_is_1d_), shape_out(std, self.target_is_1d_)

    def predict_quantiles(self, X: Any, q: Any) -> np.ndarray:
        """Predictive quantiles for probabilities ``q``.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Inputs.
        q : array-like of shape (k,)
            Probabilities in (0, 1).

        Returns
        -------
        quantiles : numpy.ndarray
            ``(len(q), n[, t])``, inside the envelope.
        """
        return shape_out(self.predictive(X).quantiles(q), self.target_is_1d_)

    def predict_domain(self, X: Any) -> np.ndarray:
        """Applicability-domain score of each row (:mod:`psplab.models.domain`).

        Parameters
        ----------
        X : array-like of shape (n, d)
            Rows to score, in the training inputs' units.

        Returns
        -------
        score : numpy.ndarray
            ``(n,)``; above 1 the row is outside the domain.
        """
        return self.predictive(X).domain

    def predict_summary(self, X: Any, level: float = LEVEL) -> Prediction:
        """Mean, std, central ``level`` interval and domain score of every row at once.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Inputs.
        level : float
            Nominal coverage of the central interval.

        Returns
        -------
        prediction : Prediction
            Arrays ``(n, t)`` (also for a model fitted on 1-D ``y``); raw = calibrated here.
        """
        p = self.predictive(X)
        mean, std = p.moments()
        lo, hi = p.quantiles([(1 - level) / 2, (1 + level) / 2])
        return Prediction(mean, std, lo, hi, std, lo, hi, p.domain, p.prep.envelope(), level)

    def check_params(self, X: Any, y: Any) -> None:
        """Check every parameter against the data's size before any work starts.

        Parameters
        ----------
        X, y : array-like
            The training rows the estimator is about to be fitted on.

        Raises
        ------
        psplab.errors.InputError
            A parameter value is invalid (:class:`~psplab.errors.ResourceError` if too large).
        """
        X, Y, _ = check_Xy(X, y)
        self._validate_params_before_fit(X, Y)
        for inner in self._inner_estimators():
            inner.check_params(X, Y)

    def _validate_params_before_fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        """Check this estimator's own parameters before any work (subclasses extend)."""

    def _inner_estimators(self) -> list[ProbabilisticRegressor]:
        """The wrapped estimators (meta-estimators override)."""
        return []

    def refit_template(self) -> ProbabilisticRegressor:
        """An unfitted estimator that refits this one's configuration on other rows.

        Returns
        -------
        estimator : ProbabilisticRegressor
            ``sklearn.base.clone(self)``; meta-estimators return their chosen configuration.
        """
        return clone(self)

    def save(self, path: str | Path) -> Path:
        """Write ``path.npz`` (arrays) and ``path.json`` (parameters, metadata).

        Parameters
        ----------
        path : str or pathlib.Path
            Base path; the suffixes are added.

        Returns
        -------
        path : pathlib.Path
            The JSON file written.
        """
        from psplab.models.registry import estimator_to_dict

        self._check_fitted()
        base = Path(path)
        base.parent.mkdir(parents=True, exist_ok=True)
        arrays, meta = self._get_state()
        np.savez(base.with_suffix(".npz"), **arrays)
        payload = {**estimator_to_dict(self), "state": meta}
        base.with_suffix(".json").write_text(json.dumps(payload, indent=2, default=_json_default))
        return base.with_suffix(".json")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialize {type(obj).__name__}")


# ============================================================================ the template
class PreprocessedRegressor(ProbabilisticRegressor):
    """Shared implementation of the contract for models fitted on standardized data.

    Subclasses implement ``_fit_standardized(Z, T)`` (``Z (n, d')`` scaled, clipped inputs;
    ``T (n, t)`` standardized modelled targets), ``_mixture(Z) -> (means, stds)`` each
    ``(m, n, t)`` in the same units, ``_model_state()`` and ``_load_model_state(arrays, meta)``.
    They take the constructor parameters ``input_transform``, ``target_transform`` and
    ``target_bounds`` (see :class:`~psplab.models.preprocessing.Preprocessor`).
    """

    def fit(self, X: Any, y: Any, groups: Any = None) -> PreprocessedRegressor:
        """Fit on ``X (n, d)`` and ``y (n,)`` or ``(n, t)``; ``groups`` is not used.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Finite inputs, transformed as ``input_transform`` says.
        y : array-like of shape (n,) or (n, t)
            Finite targets, inside ``target_bounds`` where given.
        groups : array-like, optional
            Ignored (accepted so that every estimator takes the same arguments).

        Returns
        -------
        self : PreprocessedRegressor
            The fitted model.
        """
        X, Y, is_1d = check_Xy(X, y)
        self._validate_params_before_fit(X, Y)
        prep = Preprocessor.fit(
            X,
            Y,
            input_transform=self.input_transform,
            target_transform=self.target_transform,
            target_bounds=self.target_bounds,
        )
        Z = prep.model_inputs(X)
        self._fit_standardized(Z, prep.targets_to_model(Y))
        self.prep_ = prep
        self.n_features_in_ = X.shape[1]
        self.n_targets_ = Y.shape[1]
        self.domain_ = KNNDomain.fit(prep.domain_inputs(X))
        means, stds = self._safe_mixture(Z)
        total = np.sqrt(means.var(axis=0) + (stds**2).mean(axis=0))
        self.std_reference_ = np.percentile(total, WIDENING_PERCENTILE, axis=0)
        self.y_1d_ = is_1d
        return self

    def refit_template(self) -> PreprocessedRegressor:
        """An unfitted clone that models each target on the scale this fit chose (log or not).

        Returns
        -------
        estimator : PreprocessedRegressor
            Refits on other rows (calibration folds) then share the modelled units ``g``.
        """
        est = clone(self)
        if hasattr(self, "prep_"):
            est.set_params(
                target_transform=["log" if log else "none" for log in self.prep_.log_targets]
            )
        return est

    def _safe_mixture(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's mixture with non-finite values replaced and stds bounded."""
        lo, hi = self.prep_.standardized_envelope() if hasattr(self, "prep_") else (-1e6, 1e6)
        means, stds = self._mixture(Z)
        width = np.asarray(hi) - np.asarray(lo)
        means = np.clip(np.nan_to_num(means, nan=0.0, posinf=hi, neginf=lo), lo, hi)
        stds = np.clip(np.nan_to_num(stds, nan=width, posinf=width), _MIN_STD_Z, width)
        return means, stds

    def widening(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Model inputs, domain scores and the std floor of every row.

        Parameters
        ----------
        X : numpy.ndarray
            Validated raw inputs ``(n, d)``.

        Returns
        -------
        Z : numpy.ndarray
            Model inputs ``(n, d')``.
        domain : numpy.ndarray
            Domain scores ``(n,)``.
        floor : numpy.ndarray
            ``(n, t)`` lower bound of the predictive std (standardized units): 0 inside the
            domain; outside, the training rows' 90th-percentile std times the score, up to the
            training targets' own spread, so that being far from the data never makes a model
            more confident than it is among the data.
        """
        Z = self.prep_.model_inputs(X)
        domain = self.domain_.score(self.prep_.domain_inputs(X))
        outside = np.where(domain > 1.0, domain, 0.0)[:, None]
        ref = self.std_reference_[None, :]
        # Far from the data a model knows no more than the spread of the training targets
        # (1 in standardized units): the floor grows with the distance up to that spread.
        return Z, domain, np.minimum(outside * ref, np.maximum(ref, 1.0))

    def predictive(self, X: Any) -> Predictive:
        """The predictive mixture at ``X``, widened outside the domain (see :meth:`widening`).

        Parameters
        ----------
        X : array-like of shape (n, d)
            Inputs; rows outside the training domain get the wider floor.

        Returns
        -------
        predictive : Predictive
            The model's mixture with the domain scores of the rows.
        """
        self._check_fitted()
        X = check_X(X, self.n_features_in_)
        Z, domain, floor = self.widening(X)
        means, stds = self._safe_mixture(Z)
        total_var = means.var(axis=0) + (stds**2).mean(axis=0)
        extra = np.maximum(floor**2 - total_var, 0.0)
        return Predictive(means, np.sqrt(stds**2 + extra[None]), domain, self.prep_)

    def _sample_standardized(
        self, Z: np.ndarray, n_samples: int, rng: np.random.Generator, include_noise: bool
    ) -> np.ndarray:
        """Joint draws ``(n_samples, n, t)``: each draw is one mixture component (a function)."""
        means, stds = self._safe_mixture(Z)
        pick = rng.integers(0, means.shape[0], n_samples)
        out = means[pick]
        if include_noise:
            out = out + stds[pick] * rng.standard_normal(out.shape)
        return out

    def sample(
        self, X: Any, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        """Joint draws in the targets' units, inside the envelope.

        Each draw is one mixture component (a function) over all rows; outside the domain the
        extra width is added as independent per-row spread.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Rows to draw at.
        n_samples : int
            Functions to draw.
        seed : int
            Seeds the choice of component and all the noise.
        include_noise : bool
            Add the observation noise (True) or return the drawn functions.

        Returns
        -------
        draws : numpy.ndarray
            ``(n_samples, n[, t])``, shaped like ``y`` was given to ``fit``.
        """
        self._check_fitted()
        X = check_X(X, self.n_features_in_)
        Z, _, floor = self.widening(X)
        rng = np.random.default_rng(seed)
        draws = self._sample_standardized(Z, int(n_samples), rng, include_noise)
        means, stds = self._safe_mixture(Z)
        extra = np.sqrt(np.maximum(floor**2 - means.var(axis=0) - (stds**2).mean(axis=0), 0.0))
        draws = draws + extra[None] * rng.standard_normal(draws.shape)
        lo, hi = self.prep_.standardized_envelope()
        out = self.prep_.targets_from_model(np.clip(draws, lo, hi))
        return shape_out(out, self.y_1d_)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = self._model_state()
        arrays = {f"m__{k}": v for k, v in arrays.items()}
        arrays.update({f"prep__{k}": v for k, v in self.prep_.to_arrays().items()})
        arrays.update({f"domain__{k}": v for k, v in self.domain_.to_arrays().items()})
        arrays["std_reference"] = np.asarray(self.std_reference_)
        meta = {
            "model": meta,
            "n_features_in": int(self.n_features_in_),
            "n_targets": int(self.n_targets_),
            "y_1d": bool(self.y_1d_),
        }
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}

        self.prep_ = Preprocessor.from_arrays(part("prep__"))
        self.domain_ = KNNDomain.from_arrays(part("domain__"))
        self.std_reference_ = np.asarray(arrays["std_reference"])
        self.n_features_in_ = int(meta["n_features_in"])
        self.n_targets_ = int(meta["n_targets"])
        self._load_model_state(part("m__"), meta["model"])
        self.y_1d_ = bool(meta["y_1d"])

    @abstractmethod
    def _fit_standardized(self, Z: np.ndarray, T: np.ndarray) -> None:
        """Fit on scaled inputs ``Z (n, d')`` and standardized targets ``T (n, t)``."""

    @abstractmethod
    def _mixture(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Component means and stds ``(m, n, t)`` at scaled inputs ``Z``."""

    @abstractmethod
    def _model_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The model's own arrays and metadata."""

    @abstractmethod
    def _load_model_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Restore :meth:`_model_state`."""


class FunctionDrawsMixin(ABC):
    """Joint draws for models that sample whole functions: ``_draws(Z, n_draws, seed)``.

    Put before the :class:`PreprocessedRegressor` base. ``_draws`` returns per-draw Gaussian
    means and stds ``(n_draws, n, t)`` in standardized units, each draw one function over all
    rows (one dropout mask, one hypernetwork sample), so that sampling keeps the correlation
    between rows that the mixture components alone would lose.
    """

    @abstractmethod
    def _draws(self, Z: np.ndarray, n_draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-draw means and stds ``(n_draws, n, t)`` of ``n_draws`` functions at ``Z``."""

    def _sample_standardized(
        self, Z: np.ndarray, n_samples: int, rng: np.random.Generator, include_noise: bool
    ) -> np.ndarray:
        """Joint draws ``(n_samples, n, t)``: one function per draw, shared by all rows."""
        means, stds = self._draws(Z, n_samples, int(rng.integers(2**31 - 1)))
        if include_noise:
            means = means + stds * rng.standard_normal(means.shape)
        return means
