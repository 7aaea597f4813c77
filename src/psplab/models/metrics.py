"""Point and probabilistic scores for regressors with uncertainty (targets' own units).

* ``nll`` — mean negative log density of ``N(mean, std^2)`` at the truth (lower is better).
* ``crps`` — continuous ranked probability score of that Gaussian, closed form (Gneiting &
  Raftery 2007, eq. 21); same units as the target, reduces to MAE for ``std -> 0``.
* ``coverage90`` / ``width90`` — share of truths inside the model's central 90% interval
  ``[q05, q95]`` and its mean width.
* ``r2`` — pooled over all out-of-fold predictions: ``1 - SSE / sum((y - mean(y))^2)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

METRIC_NAMES = ("mae", "rmse", "r2", "nll", "crps", "coverage90", "width90", "fit_seconds")


def gaussian_nll(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Elementwise ``-log N(y; mean, std^2)``."""
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    z = (np.asarray(y, dtype=float) - mean) / std
    return 0.5 * math.log(2 * math.pi) + np.log(std) + 0.5 * z**2


def gaussian_crps(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Elementwise CRPS of ``N(mean, std^2)`` at ``y``."""
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    z = (np.asarray(y, dtype=float) - mean) / std
    return std * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    y = np.asarray(y, dtype=float)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot


def central_coverage(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray, levels: np.ndarray
) -> np.ndarray:
    """Observed share of ``y`` inside the Gaussian central interval of each nominal level."""
    z = np.abs((np.asarray(y) - mean) / np.maximum(std, 1e-12))
    half = stats.norm.ppf(0.5 + np.asarray(levels) / 2.0)
    return (z[None, :] <= half[:, None]).mean(axis=1)


def score(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray, q05: np.ndarray, q95: np.ndarray
) -> dict[str, float]:
    """All metrics (except ``fit_seconds``) for one target's pooled out-of-fold predictions."""
    y = np.asarray(y, dtype=float)
    err = y - mean
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "r2": r2_score(y, mean),
        "nll": float(np.mean(gaussian_nll(y, mean, std))),
        "crps": float(np.mean(gaussian_crps(y, mean, std))),
        "coverage90": float(np.mean((y >= q05) & (y <= q95))),
        "width90": float(np.mean(q95 - q05)),
    }
