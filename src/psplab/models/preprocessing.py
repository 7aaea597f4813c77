"""Unit-free, robust preprocessing shared by every psplab regressor, in one place.

:class:`Preprocessor` turns a user's raw input matrix and targets into what the models see, and
the models' outputs back into the targets' units. Every step depends on ratios of the data's
own values only, so multiplying an input or a target column by any positive factor (a change
of unit: 1e-15, 1e6) changes nothing but the units of the outputs.

Inputs
    1. *Constant* columns (all values equal to 1e-12 of their magnitude) carry no information
       and are left out of the model's inputs.
    2. Optional ``log``: a non-negative, heavily right-skewed column (sample skewness > 2: times,
       cooling rates, minor additions) becomes ``log1p(x / s)``, ``s`` the median of its positive
       training values.
    3. Centre on the training mean and divide by a *floored* scale: the standard deviation,
       raised where needed so that no training value lies more than :data:`MAX_TRAIN_Z` scaled
       units from the mean. For an ordinary column this is the standard deviation; for a sparse
       one (a trace element non-zero in three rows, a one-hot column of a rare categorical
       level) it is a quarter of its largest deviation, where the plain standard deviation
       would put those rows 10-30 units out and a network would extrapolate from them.
    4. *Exactly redundant* columns (a balance element of a closed composition whose fractions
       sum to a constant, the last level of a one-hot block) are left out: the remaining
       columns hold the same information without the collinearity.
    5. For the model, each scaled input is clipped to its training range widened by
       :data:`INPUT_MARGIN` scaled units on each side, so that no model extrapolates without
       bound; the applicability domain (:mod:`psplab.models.domain`) sees the unclipped values,
       so such rows are flagged and their intervals widened. The model's inputs and targets are
       rounded to float32 precision: a change of unit then gives bit-identical fits.

Targets
    ``target_transform="auto"`` models ``log y`` for a target whose training values are all
    positive and span at least a factor 2 (strengths, hardness, grain sizes, diffusivities:
    errors grow with the value, and predictions stay positive); otherwise ``y``. The modelled
    value ``g`` is centred and scaled by its standard deviation (relative tolerance, so a
    diffusivity of 1e-18 m^2/s is not a constant). The *envelope* of a target is its training
    range of ``g`` widened by :data:`ENVELOPE_WIDENING` of that range on each side (for a log
    target by at most :data:`MAX_LOG_WIDENING`, half a decade), intersected with the spec's
    ``min``/``max``: predictive means, quantiles and draws never leave it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from psplab.errors import InputError

__all__ = [
    "ENVELOPE_WIDENING",
    "INPUT_MARGIN",
    "MAX_LOG_WIDENING",
    "MAX_TRAIN_Z",
    "Preprocessor",
    "resolve_target_transform",
]

#: Largest distance of a training value from its column's mean, in scaled units.
MAX_TRAIN_Z = 4.0
#: Scaled units by which a model input may leave the training range before it is clipped.
INPUT_MARGIN = 1.0
#: Share of a target's training range (of ``g``) by which the envelope extends on each side.
ENVELOPE_WIDENING = 0.5
#: Largest extension of a log-modelled target's envelope, in natural-log units: half a decade
#: (a factor sqrt(10) beyond the extreme training values) however many decades the data span.
MAX_LOG_WIDENING = 0.5 * float(np.log(10.0))
#: Singular values below this share of the largest mark an exact linear dependence.
_COLLINEAR_TOL = 1e-7
#: Relative spread below which a column counts as constant.
_CONSTANT_TOL = 1e-12
#: Step, in scaled units, that a value different from a training-constant column's value counts
#: as in the domain space (a new value where training had none is far outside).
_CONSTANT_STEP = 10.0


def resolve_target_transform(mode: str | Sequence[str], Y: np.ndarray) -> np.ndarray:
    """Which targets to model on a log scale.

    Parameters
    ----------
    mode : str or sequence of str
        ``"auto"``, ``"log"``, ``"none"``, or one of ``"log"``/``"none"`` per target.
    Y : numpy.ndarray
        Training targets ``(n, t)``.

    Returns
    -------
    logs : numpy.ndarray of bool
        ``(t,)``: True where ``log y`` is modelled.
    """
    t = Y.shape[1]
    modes = [mode] * t if isinstance(mode, str) else list(mode)
    if len(modes) != t:
        raise InputError(f"target_transform lists {len(modes)} entries for {t} targets")
    positive = np.all(Y > 0, axis=0)
    logs = np.zeros(t, dtype=bool)
    for j, m in enumerate(modes):
        if m not in ("auto", "log", "none"):
            raise InputError(f"target_transform must be 'auto', 'log' or 'none', got {m!r}")
        if m == "log" and not positive[j]:
            raise InputError("target_transform='log' needs positive target values")
        ratio = Y[:, j].max() / Y[:, j].min() if positive[j] else 0.0
        logs[j] = m == "log" or (m == "auto" and positive[j] and ratio >= 2.0)
    return logs


def _relative_constant(A: np.ndarray) -> np.ndarray:
    spread = A.max(axis=0) - A.min(axis=0)
    magnitude = np.abs(A).max(axis=0)
    return spread <= _CONSTANT_TOL * np.where(magnitude > 0, magnitude, 1.0)


def _skewed_log_columns(X: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    if mode not in ("none", "log"):
        raise InputError(f"input_transform must be 'none' or 'log', got {mode!r}")
    d = X.shape[1]
    scale = np.ones(d)
    if mode == "none" or X.shape[0] < 3:
        return np.zeros(d, dtype=bool), scale
    from scipy import stats

    nonneg = np.all(X >= 0, axis=0) & np.any(X > 0, axis=0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # near-constant columns: skew is 0 here
        skew = np.nan_to_num(stats.skew(X, axis=0), nan=0.0)
    logs = nonneg & (skew > 2.0)
    for j in np.flatnonzero(logs):
        scale[j] = float(np.median(X[X[:, j] > 0, j]))
    return logs, scale


def _redundant_columns(Z: np.ndarray) -> np.ndarray:
    """Columns of the centred, scaled ``Z`` that are exact linear combinations of the others."""
    keep = np.ones(Z.shape[1], dtype=bool)
    while keep.sum() > 1:
        idx = np.flatnonzero(keep)
        _, s, vt = np.linalg.svd(Z[:, idx], full_matrices=False)
        if s.size == 0 or s[-1] > _COLLINEAR_TOL * s[0]:
            break
        # The dependent set's column with the largest weight (the balance element of a
        # composition, the commonest level of a one-hot block) goes.
        keep[idx[int(np.argmax(np.abs(vt[-1])))]] = False
    return ~keep


@dataclass
class Preprocessor:
    """Fitted input and target transforms (see the module notes); build with :meth:`fit`.

    Attributes are ``(d,)`` arrays over the raw input columns and ``(t,)`` arrays over the
    targets; ``env_lo``/``env_hi`` are the envelope in the modelled units ``g``.
    """

    constant: np.ndarray
    redundant: np.ndarray
    log_inputs: np.ndarray
    log_scale: np.ndarray
    x_center: np.ndarray
    x_scale: np.ndarray
    z_min: np.ndarray
    z_max: np.ndarray
    log_targets: np.ndarray
    y_center: np.ndarray
    y_scale: np.ndarray
    env_lo: np.ndarray
    env_hi: np.ndarray
    bound_lo: np.ndarray
    bound_hi: np.ndarray

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        Y: np.ndarray,
        input_transform: str = "log",
        target_transform: str | Sequence[str] = "auto",
        target_bounds: Sequence[Sequence[float | None]] | None = None,
    ) -> Preprocessor:
        """Learn every transform from training inputs ``X (n, d)`` and targets ``Y (n, t)``.

        Parameters
        ----------
        X : numpy.ndarray
            Finite training inputs.
        Y : numpy.ndarray
            Finite training targets.
        input_transform : str
            ``"none"`` or ``"log"`` (log of heavily right-skewed non-negative columns).
        target_transform : str or sequence of str
            See :func:`resolve_target_transform`.
        target_bounds : sequence of (min, max), optional
            Physical bounds of each target (``None`` for an open side), e.g. the spec's.

        Returns
        -------
        prep : Preprocessor
            The fitted transforms.
        """
        log_inputs, log_scale = _skewed_log_columns(X, input_transform)
        L = _log_inputs(X, log_inputs, log_scale)
        constant = _relative_constant(L)
        center = L.mean(axis=0)
        dev = np.abs(L - center).max(axis=0)
        scale = np.maximum(L.std(axis=0), dev / MAX_TRAIN_Z)
        scale = np.where(constant | (scale <= 0), np.where(center != 0, np.abs(center), 1.0), scale)
        Z = (L - center) / scale
        redundant = np.zeros(X.shape[1], dtype=bool)
        redundant[~constant] = _redundant_columns(Z[:, ~constant])
        logs = resolve_target_transform(target_transform, Y)
        G = np.where(logs, np.log(np.where(logs, Y, 1.0)), Y)
        y_center = G.mean(axis=0)
        y_scale = G.std(axis=0)
        tiny = _relative_constant(G) | (y_scale <= 0)
        y_scale = np.where(tiny, np.where(y_center != 0, np.abs(y_center), 1.0), y_scale)
        env_lo, env_hi = _envelope(G, y_scale, logs, target_bounds)
        bound_lo, bound_hi = _bounds_array(target_bounds, Y.shape[1])
        return cls(
            constant=constant,
            redundant=redundant,
            log_inputs=log_inputs,
            log_scale=log_scale,
            x_center=center,
            x_scale=scale,
            z_min=Z.min(axis=0),
            z_max=Z.max(axis=0),
            log_targets=logs,
            y_center=y_center,
            y_scale=y_scale,
            env_lo=env_lo,
            env_hi=env_hi,
            bound_lo=bound_lo,
            bound_hi=bound_hi,
        )

    # ------------------------------------------------------------------ inputs
    @property
    def model_columns(self) -> np.ndarray:
        """Boolean mask of the raw input columns the model sees."""
        return ~(self.constant | self.redundant)

    def model_inputs(self, X: np.ndarray) -> np.ndarray:
        """Scaled inputs for the model ``(n, d')``, clipped to the widened training range.

        Parameters
        ----------
        X : numpy.ndarray
            Raw inputs ``(n, d)``.

        Returns
        -------
        Z : numpy.ndarray
            Only the informative columns (:attr:`model_columns`).
        """
        Z = (_log_inputs(X, self.log_inputs, self.log_scale) - self.x_center) / self.x_scale
        Z = np.clip(Z, self.z_min - INPUT_MARGIN, self.z_max + INPUT_MARGIN)
        return _float32_grid(Z[:, self.model_columns])

    def domain_inputs(self, X: np.ndarray) -> np.ndarray:
        """Like :meth:`model_inputs` for raw inputs ``X (n, d)``, unclipped and with every column.

        The applicability domain uses them: a row off a closed composition, or with a value where
        training had a constant, is then seen as far away.
        """
        L = _log_inputs(X, self.log_inputs, self.log_scale)
        Z = (L - self.x_center) / self.x_scale
        if self.constant.any():
            c = self.constant
            # Relative to the constant's magnitude (any non-zero value when it was 0): unit-free.
            moved = np.abs(L[:, c] - self.x_center[c]) > 1e-9 * np.abs(self.x_center[c])
            Z[:, c] = np.where(moved, _CONSTANT_STEP * np.sign(L[:, c] - self.x_center[c]), 0.0)
        return Z

    # ------------------------------------------------------------------ targets
    def targets_to_model(self, Y: np.ndarray) -> np.ndarray:
        """Targets in standardized modelled units ``(g - centre) / scale``.

        Parameters
        ----------
        Y : numpy.ndarray
            Targets ``(n, t)`` in their own units.

        Returns
        -------
        T : numpy.ndarray
            ``(n, t)``, on the float32 grid.
        """
        logs = self.log_targets
        G = np.where(logs, np.log(np.where(logs & (Y > 0), Y, 1.0)), Y)
        return _float32_grid((G - self.y_center) / self.y_scale)

    def standardized_envelope(self) -> tuple[np.ndarray, np.ndarray]:
        """The envelope ``(lo, hi)`` of each target in standardized modelled units."""
        return (self.env_lo - self.y_center) / self.y_scale, (
            self.env_hi - self.y_center
        ) / self.y_scale

    def targets_from_model(self, T: np.ndarray) -> np.ndarray:
        """Standardized modelled values back in the targets' units.

        Parameters
        ----------
        T : numpy.ndarray
            ``(..., t)`` values in standardized modelled units.

        Returns
        -------
        Y : numpy.ndarray
            ``(..., t)``, clipped into the envelope.
        """
        G = np.clip(T * self.y_scale + self.y_center, self.env_lo, self.env_hi)
        logs = self.log_targets
        with np.errstate(over="ignore"):
            Y = np.where(logs, np.exp(np.where(logs, G, 0.0)), G)
        lo, hi = self.envelope()
        return np.clip(Y, lo, hi)

    def envelope(self) -> tuple[np.ndarray, np.ndarray]:
        """The envelope ``(lo, hi)`` of each target in the targets' own units.

        Returns
        -------
        lo, hi : numpy.ndarray
            ``(t,)``; a spec bound that cuts the envelope is returned exactly.
        """
        logs = self.log_targets
        with np.errstate(over="ignore"):
            lo = np.where(logs, np.exp(np.where(logs, self.env_lo, 0.0)), self.env_lo)
            hi = np.where(logs, np.exp(np.where(logs, self.env_hi, 0.0)), self.env_hi)
        return np.maximum(lo, self.bound_lo), np.minimum(hi, self.bound_hi)

    # ------------------------------------------------------------------ persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every attribute as a NumPy array (for ``.npz``)."""
        return {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> Preprocessor:
        """Rebuild from :meth:`to_arrays`.

        Parameters
        ----------
        arrays : dict
            Name -> array, as written by :meth:`to_arrays`.

        Returns
        -------
        prep : Preprocessor
            The same transforms.
        """
        return cls(**{f.name: np.asarray(arrays[f.name]) for f in fields(cls)})


def _float32_grid(A: np.ndarray) -> np.ndarray:
    """``A`` rounded to float32 precision (kept as float64).

    A change of unit perturbs the standardized values by ~1e-16; rounded to 7 digits they are
    the same numbers, so every model (trees breaking ties, float64 GPs) fits exactly the same.
    """
    return np.asarray(A, dtype=np.float32).astype(np.float64)


def _log_inputs(X: np.ndarray, logs: np.ndarray, scale: np.ndarray) -> np.ndarray:
    if not logs.any():
        return np.array(X, dtype=float)
    return np.where(logs, np.log1p(np.maximum(X, 0.0) / scale), X)


def _bounds_array(
    bounds: Sequence[Sequence[float | None]] | None, t: int
) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.full(t, -np.inf), np.full(t, np.inf)
    for j, pair in enumerate(bounds or []):
        if pair is not None:
            lo[j] = -np.inf if pair[0] is None else float(pair[0])
            hi[j] = np.inf if pair[1] is None else float(pair[1])
    return lo, hi


def _envelope(
    G: np.ndarray,
    scale: np.ndarray,
    logs: np.ndarray,
    bounds: Sequence[Sequence[float | None]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Training range of ``g`` widened by :data:`ENVELOPE_WIDENING`, cut to the bounds.

    For a log-modelled target the widening is at most :data:`MAX_LOG_WIDENING`: a column that
    spans five decades would otherwise allow predictions 2.5 decades beyond its largest value.
    """
    g_min, g_max = G.min(axis=0), G.max(axis=0)
    width = np.where(g_max > g_min, g_max - g_min, scale)
    widening = ENVELOPE_WIDENING * width
    widening = np.where(logs, np.minimum(widening, MAX_LOG_WIDENING), widening)
    lo = g_min - widening
    hi = g_max + widening
    if bounds is None:
        return lo, hi
    if len(bounds) != G.shape[1]:
        raise InputError(f"target_bounds lists {len(bounds)} pairs for {G.shape[1]} targets")
    for j, pair in enumerate(bounds):
        b_lo, b_hi = (None, None) if pair is None else pair
        if b_lo is not None and (not logs[j] or b_lo > 0):
            lo[j] = max(lo[j], float(np.log(b_lo)) if logs[j] else float(b_lo))
        if b_hi is not None and (not logs[j] or b_hi > 0):
            hi[j] = min(hi[j], float(np.log(b_hi)) if logs[j] else float(b_hi))
        if lo[j] > hi[j]:
            raise InputError(f"target {j}: the bounds {pair} exclude every training value")
    return lo, hi
