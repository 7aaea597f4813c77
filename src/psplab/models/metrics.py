"""Point and probabilistic scores for regressors with uncertainty (targets' own units).

* ``nll`` — mean negative log density of ``N(mean, std^2)`` at the truth (lower is better).
* ``crps`` — continuous ranked probability score of that Gaussian, closed form (Gneiting &
  Raftery 2007, eq. 21); same units as the target, reduces to MAE for ``std -> 0``.
* ``coverage90`` / ``width90`` — share of truths inside the model's central 90% interval
  ``[q05, q95]`` and its mean width.
* ``r2`` — pooled over all out-of-fold predictions: ``1 - SSE / sum((y - mean(y))^2)``.
* ``nll_standardized`` — the NLL of the targets divided by their standard deviation: free of
  the unit (a change of unit shifts ``nll`` by the log of the factor).

:func:`domain_scores` adds the uncalibrated coverage ``coverage90_raw``, the count of rows
outside the applicability domain ``n_out_of_domain``, coverage and MAE inside and outside it,
``max_abs_prediction`` and ``n_outside_envelope`` (predictions beyond the envelope: always 0).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

METRIC_NAMES = (
    "mae", "rmse", "r2", "nll", "nll_standardized", "crps", "coverage90", "width90",
    "fit_seconds", "coverage90_raw", "width90_raw", "n_out_of_domain", "coverage90_in_domain",
    "coverage90_out_of_domain", "mae_in_domain", "mae_out_of_domain", "max_abs_prediction",
    "n_outside_envelope",
)  # fmt: skip


def gaussian_nll(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Elementwise ``-log N(y; mean, std^2)``.

    Parameters
    ----------
    y, mean, std : numpy.ndarray
        Truths, predictive means and standard deviations (broadcastable).

    Returns
    -------
    nll : numpy.ndarray
        Negative log densities.
    """
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    z = (np.asarray(y, dtype=float) - mean) / std
    return 0.5 * math.log(2 * math.pi) + np.log(std) + 0.5 * z**2


def gaussian_crps(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Elementwise CRPS of ``N(mean, std^2)`` at ``y`` (Gneiting & Raftery 2007, eq. 21).

    Parameters
    ----------
    y, mean, std : numpy.ndarray
        As for :func:`gaussian_nll`.

    Returns
    -------
    crps : numpy.ndarray
        In the units of ``y``; ``|y - mean|`` when ``std -> 0``.
    """
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    z = (np.asarray(y, dtype=float) - mean) / std
    return std * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SSE / SST`` (NaN for a constant ``y``).

    Parameters
    ----------
    y, pred : numpy.ndarray
        Truths and predictions.

    Returns
    -------
    r2 : float
        The score.
    """
    y = np.asarray(y, dtype=float)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot


def central_coverage(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray, levels: np.ndarray
) -> np.ndarray:
    """Observed share of ``y`` inside the Gaussian central interval of each nominal level.

    Parameters
    ----------
    y, mean, std : numpy.ndarray
        Truths, predictive means and standard deviations ``(n,)``.
    levels : numpy.ndarray
        Nominal central-interval probabilities.

    Returns
    -------
    coverage : numpy.ndarray
        ``(len(levels),)`` observed shares.
    """
    z = np.abs((np.asarray(y) - mean) / np.maximum(std, 1e-12))
    half = stats.norm.ppf(0.5 + np.asarray(levels) / 2.0)
    return (z[None, :] <= half[:, None]).mean(axis=1)


def score(
    y: np.ndarray, mean: np.ndarray, std: np.ndarray, q05: np.ndarray, q95: np.ndarray
) -> dict[str, float]:
    """The point and probabilistic scores of one target's pooled out-of-fold predictions.

    Parameters
    ----------
    y, mean, std : numpy.ndarray
        Truths, predictive means and standard deviations ``(n,)``.
    q05, q95 : numpy.ndarray
        The central 90 % interval.

    Returns
    -------
    scores : dict
        ``mae, rmse, r2, nll, nll_standardized, crps, coverage90, width90``.
    """
    y = np.asarray(y, dtype=float)
    err = y - mean
    spread = float(np.std(y)) or 1.0
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "r2": r2_score(y, mean),
        "nll": float(np.mean(gaussian_nll(y, mean, std))),
        "nll_standardized": float(np.mean(gaussian_nll(y / spread, mean / spread, std / spread))),
        "crps": float(np.mean(gaussian_crps(y, mean, std))),
        "coverage90": float(np.mean((y >= q05) & (y <= q95))),
        "width90": float(np.mean(q95 - q05)),
    }


def domain_scores(cols: dict[str, np.ndarray]) -> dict[str, float]:
    """Raw coverage and the in/out-of-domain split of one target's out-of-fold predictions.

    Parameters
    ----------
    cols : dict
        Arrays ``y_true, mean, q05, q95, q05_raw, q95_raw, in_domain, env_lo, env_hi``.

    Returns
    -------
    scores : dict
        ``coverage90_raw``, ``width90_raw``, ``n_out_of_domain``, ``coverage90_in_domain``,
        ``coverage90_out_of_domain``, ``mae_in_domain``, ``mae_out_of_domain`` (NaN where no
        row falls in the part), ``max_abs_prediction`` and ``n_outside_envelope``.
    """
    y, mean = cols["y_true"], cols["mean"]
    inside = (y >= cols["q05"]) & (y <= cols["q95"])
    ind = np.asarray(cols["in_domain"], dtype=bool)
    preds = np.stack([mean, cols["q05"], cols["q95"], cols["q05_raw"], cols["q95_raw"]])
    # A relative tolerance: the clipped value may differ from the bound in the last bit.
    tol = 1e-9 * np.maximum(np.abs(cols["env_lo"]), np.abs(cols["env_hi"]))
    outside_env = np.any((preds < cols["env_lo"] - tol) | (preds > cols["env_hi"] + tol), axis=0)

    def part_mean(values: np.ndarray, mask: np.ndarray) -> float:
        return float(np.mean(values[mask])) if mask.any() else float("nan")

    return {
        "coverage90_raw": float(np.mean((y >= cols["q05_raw"]) & (y <= cols["q95_raw"]))),
        "width90_raw": float(np.mean(cols["q95_raw"] - cols["q05_raw"])),
        "n_out_of_domain": int(np.sum(~ind)),
        "coverage90_in_domain": part_mean(inside, ind),
        "coverage90_out_of_domain": part_mean(inside, ~ind),
        "mae_in_domain": part_mean(np.abs(y - mean), ind),
        "mae_out_of_domain": part_mean(np.abs(y - mean), ~ind),
        "max_abs_prediction": float(np.max(np.abs(preds))),
        "n_outside_envelope": int(np.sum(outside_env)),
    }
