"""Acquisition functions, batch penalties and Pareto utilities (all for *maximization*).

Callers that minimize flip the sign of the objective before using these functions.

References
----------
* Jones, Schonlau & Welch (1998), *Efficient global optimization of expensive black-box functions*
  (expected improvement).
* Srinivas et al. (2010), *Gaussian process optimization in the bandit setting* (UCB).
* Thompson (1933); Kandasamy et al. (2018), *Parallelised Bayesian optimisation via Thompson
  sampling* (batch Thompson sampling).
* González, Dai, Hennig & Lawrence (2016), *Batch Bayesian optimization via local penalization*.
* Knowles (2006), *ParEGO: a hybrid algorithm with on-line landscape approximation for expensive
  multiobjective optimization problems*.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = [
    "ACQUISITIONS",
    "estimate_lipschitz",
    "expected_improvement",
    "hypervolume_2d",
    "local_penalty",
    "parego_scalarize",
    "pareto_mask",
    "upper_confidence_bound",
]

ACQUISITIONS = ("ei", "ucb", "ts")


def expected_improvement(
    mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.0
) -> np.ndarray:
    """Expected improvement ``E[max(f - best - xi, 0)]`` under ``f ~ N(mean, std^2)``.

    Parameters
    ----------
    mean, std : numpy.ndarray
        Predictive mean and standard deviation at the candidates.
    best : float
        Best value observed so far.
    xi : float
        Improvement margin required.

    Returns
    -------
    numpy.ndarray
        Non-negative; exactly 0 where ``std = 0`` and ``mean <= best``.
    """
    mean = np.asarray(mean, dtype=float)
    std = np.asarray(std, dtype=float)
    gap = mean - best - xi
    pos = std > 0
    z = np.where(pos, gap / np.where(pos, std, 1.0), 0.0)
    ei = gap * stats.norm.cdf(z) + std * stats.norm.pdf(z)
    return np.where(pos, np.maximum(ei, 0.0), np.maximum(gap, 0.0))


def upper_confidence_bound(mean: np.ndarray, std: np.ndarray, beta: float = 2.0) -> np.ndarray:
    """Upper confidence bound ``mean + beta * std``.

    Parameters
    ----------
    mean, std : numpy.ndarray
        Predictive mean and standard deviation.
    beta : float
        Number of standard deviations (not its square).

    Returns
    -------
    numpy.ndarray
    """
    return np.asarray(mean, dtype=float) + beta * np.asarray(std, dtype=float)


def estimate_lipschitz(F: np.ndarray, mean: np.ndarray, k: int = 5) -> float:
    """Largest slope ``|mu(a) - mu(b)| / |a - b|`` between each point and its nearest neighbours.

    The Lipschitz estimate local penalization needs (González et al. 2016, §3.2).

    Parameters
    ----------
    F : numpy.ndarray
        ``(n, d)`` feature rows.
    mean : numpy.ndarray
        ``(n,)`` model mean at the rows.
    k : int
        Neighbours per point.

    Returns
    -------
    float
        At least ``1e-7``; 1 for fewer than two points.
    """
    F = np.asarray(F, dtype=float)
    mean = np.asarray(mean, dtype=float)
    if len(F) < 2:
        return 1.0
    d = np.sqrt(((F[:, None, :] - F[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    k = min(k, len(F) - 1)
    nn = np.argpartition(d, k - 1, axis=1)[:, :k]
    rows = np.arange(len(F))[:, None]
    slopes = np.abs(mean[:, None] - mean[nn]) / np.maximum(d[rows, nn], 1e-12)
    return float(max(np.max(slopes), 1e-7))


def local_penalty(
    F: np.ndarray, centre: np.ndarray, mean_c: float, std_c: float, lipschitz: float, best: float
) -> np.ndarray:
    """González et al. (2016) penalty ``Phi((L |x - x_j| - M + mu_j) / sigma_j)`` in ``[0, 1]``.

    Near 0 inside the ball where the chosen point ``x_j`` probably already attains the optimum,
    1 far away; multiplying a positive acquisition by it spreads a batch out.

    Parameters
    ----------
    F : numpy.ndarray
        ``(n, d)`` candidate features.
    centre : numpy.ndarray
        ``(d,)`` features of the chosen point ``x_j``.
    mean_c, std_c : float
        Model mean and standard deviation at ``x_j``.
    lipschitz : float
        Lipschitz estimate ``L`` (:func:`estimate_lipschitz`).
    best : float
        Best value ``M`` observed.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` factors in ``[0, 1]``.
    """
    r = np.sqrt(((np.asarray(F) - np.asarray(centre)[None, :]) ** 2).sum(-1))
    z = (lipschitz * r - best + mean_c) / max(std_c, 1e-12)
    return stats.norm.cdf(z)


def pareto_mask(Y: np.ndarray, maximize: Sequence[bool] = (True, True)) -> np.ndarray:
    """Rows that no other row dominates.

    Parameters
    ----------
    Y : numpy.ndarray
        ``(n, k)`` objective values.
    maximize : sequence of bool
        Direction of each objective.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` booleans; rows with a NaN are never optimal.
    """
    Y = np.asarray(Y, dtype=float)
    sign = np.where(np.asarray(maximize, dtype=bool), 1.0, -1.0)
    Z = Y * sign
    ok = np.all(np.isfinite(Z), axis=1)
    mask = ok.copy()
    for i in np.flatnonzero(ok):
        others = Z[ok]
        dominated = np.any(np.all(others >= Z[i], axis=1) & np.any(others > Z[i], axis=1))
        mask[i] = not dominated
    return mask


def hypervolume_2d(
    Y: np.ndarray, reference: Sequence[float], maximize: Sequence[bool] = (True, True)
) -> float:
    """Area dominated by the points of ``Y`` and bounded by ``reference``.

    Parameters
    ----------
    Y : numpy.ndarray
        ``(n, 2)`` objective values.
    reference : sequence of float
        Reference point (worse than every point that counts).
    maximize : sequence of bool
        Direction of each objective.

    Returns
    -------
    float
    """
    Y = np.asarray(Y, dtype=float)
    sign = np.where(np.asarray(maximize, dtype=bool), 1.0, -1.0)
    Z = Y * sign
    ref = np.asarray(reference, dtype=float) * sign
    Z = Z[np.all(np.isfinite(Z), axis=1) & np.all(Z > ref, axis=1)]
    if len(Z) == 0:
        return 0.0
    Z = Z[np.argsort(-Z[:, 0])]  # sweep from the largest first objective
    area, y_top = 0.0, ref[1]
    for x, y in Z:
        if y > y_top:
            area += (x - ref[0]) * (y - y_top)
            y_top = y
    return float(area)


def parego_scalarize(
    Y: np.ndarray, weights: np.ndarray, maximize: Sequence[bool] = (True, True), rho: float = 0.05
) -> np.ndarray:
    """ParEGO's augmented Chebyshev scalarization, returned as a score to *maximize*.

    Each objective is normalized to ``[0, 1]`` over the observed rows (0 = best), then
    ``f = max_k w_k c_k + rho * sum_k w_k c_k``; the score is ``-f``.

    Parameters
    ----------
    Y : numpy.ndarray
        ``(n, k)`` objective values.
    weights : numpy.ndarray
        ``(k,)`` non-negative weights (summing to 1).
    maximize : sequence of bool
        Direction of each objective.
    rho : float
        Weight of the augmentation term.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` scores, larger is better.
    """
    Y = np.asarray(Y, dtype=float)
    sign = np.where(np.asarray(maximize, dtype=bool), 1.0, -1.0)
    Z = Y * sign
    hi, lo = np.nanmax(Z, axis=0), np.nanmin(Z, axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    cost = (hi - Z) / span
    w = np.asarray(weights, dtype=float)
    return -(np.max(w * cost, axis=1) + rho * np.sum(w * cost, axis=1))
