"""Moments of a log-normal mixture clipped to an envelope, in closed form.

A log-modelled target's predictive distribution is a mixture of log-normals (one per member,
network draw or tree). Its draws and quantiles are clipped to the target's envelope, so its
mean and standard deviation must be those of the *clipped* mixture too. The unclipped mean
``exp(mu + sigma^2 / 2)`` is dominated by the far tail when ``sigma`` is large (a sparse
target spanning decades, a row far from the data): it can sit orders of magnitude above every
training value although 99 % of the distribution lies below it. For ``Y = exp(G)``,
``G ~ N(mu, sigma^2)``, clipped to ``[lo, hi]`` with ``a = (log lo - mu) / sigma`` and
``b = (log hi - mu) / sigma``::

    E[clip(Y)^k] = lo^k Phi(a) + exp(k mu + k^2 sigma^2 / 2) [Phi(b - k sigma) - Phi(a - k sigma)]
                   + hi^k (1 - Phi(b)),        k = 1, 2

and the mixture's moments are the averages over its components. Everything is evaluated in
logs (``log_ndtr``), so no term overflows however wide the mixture is.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, logsumexp

__all__ = ["clipped_lognormal_moments"]


def _log_ndtr_diff(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """``log(Phi(upper) - Phi(lower))`` for ``upper >= lower``, without cancellation."""
    log_up, log_low = log_ndtr(upper), log_ndtr(lower)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.exp(np.minimum(log_low - log_up, 0.0))
        return log_up + np.log1p(-np.minimum(ratio, 1.0))


def _log_raw_moment(k: int, mu, sigma, log_lo, log_hi) -> np.ndarray:
    """Log of ``E[clip(Y)^k]`` for each component (shape of ``mu``)."""
    a = (log_lo - mu) / sigma
    b = (log_hi - mu) / sigma
    with np.errstate(invalid="ignore"):
        # An infinite bound has no mass beyond it (inf * 0 would read nan).
        below = np.where(np.isfinite(log_lo), k * log_lo + log_ndtr(a), -np.inf)
        above = np.where(np.isfinite(log_hi), k * log_hi + log_ndtr(-b), -np.inf)
    middle = k * mu + 0.5 * (k * sigma) ** 2 + _log_ndtr_diff(b - k * sigma, a - k * sigma)
    terms = np.stack(np.broadcast_arrays(below, middle, above))
    return logsumexp(terms, axis=0)


def clipped_lognormal_moments(
    log_means: np.ndarray, log_stds: np.ndarray, log_lo: np.ndarray, log_hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of an equal-weight log-normal mixture clipped to an envelope.

    Parameters
    ----------
    log_means, log_stds : numpy.ndarray
        ``(m, n, t)``: each component's mean and standard deviation of ``log y``.
    log_lo, log_hi : numpy.ndarray
        ``(t,)``: logs of the envelope's bounds (``log_lo`` may be ``-inf``).

    Returns
    -------
    mean, std : numpy.ndarray
        ``(n, t)`` in the target's units.
    """
    sigma = np.maximum(log_stds, 1e-300)
    log_m = np.log(log_means.shape[0])
    log_m1 = logsumexp(_log_raw_moment(1, log_means, sigma, log_lo, log_hi), axis=0) - log_m
    log_m2 = logsumexp(_log_raw_moment(2, log_means, sigma, log_lo, log_hi), axis=0) - log_m
    mean = np.exp(log_m1)
    # var = m2 - m1^2 = m1^2 (exp(log m2 - 2 log m1) - 1); the clip keeps it finite.
    excess = np.maximum(log_m2 - 2.0 * log_m1, 0.0)
    std = mean * np.sqrt(np.expm1(excess))
    return mean, std
