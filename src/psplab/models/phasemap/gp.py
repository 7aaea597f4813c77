"""Gaussian-process building blocks of the phase-map model (JAX, float64 inside ``x64()``).

These are not a regression GP: the phase map's latent functions and the per-region property
functions are parts of one joint model (a softmax of latent GPs observed through labels, and
property GPs mixed by the region probabilities), sampled together by NUTS. psplab's regression
GP (:class:`psplab.models.gp.GaussianProcess`) is used where a plain regression is
wanted: the reference in :mod:`psplab.models.phasemap.check` and the per-region models of
:class:`psplab.models.phasemap.cameo.CameoBaseline`.

Kernels are stationary and use the correct squared distance ``sum_d ((x_d - z_d) / l_d)^2``
(computed from differences, never as ``x^2 - xz + z^2``). Latent functions are parameterized in
whitened form on a set of inducing points ``Z``: ``f(Z) = L v`` with ``L L^T = K(Z, Z)`` and
``v ~ N(0, I)``, so that ``f(x) = K(x, Z) L^{-T} v`` (the projected-process mean). The posterior of
``v`` is close to isotropic, which is what lets NUTS take long steps on 100-200 points.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from psplab.errors import InputError

__all__ = [
    "JITTER",
    "KERNELS",
    "choose_inducing",
    "gaussian_log_density",
    "kernel",
    "kernel_matrix",
    "kernels_from_squared_differences",
    "scaled_sqdist",
    "squared_differences",
    "whitened_projection",
    "x64",
]

KERNELS = ("rbf", "matern52")
JITTER = 1e-6


@contextmanager
def x64() -> Iterator[None]:
    """Run a block with 64-bit JAX types, restoring the previous setting afterwards.

    Flipping ``jax_enable_x64`` globally at import time would change other modules' float32 code;
    this scopes it to the phase map's fit and predict calls. (``jax.enable_x64`` is missing
    from the oldest JAX psplab supports; the config flag is set and restored there.)

    Yields
    ------
    None
        Inside the block JAX creates float64 arrays by default.
    """
    ctx = getattr(jax, "enable_x64", None)
    if ctx is not None and callable(ctx):
        with ctx(True):
            yield
        return
    previous = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def scaled_sqdist(X: jnp.ndarray, Z: jnp.ndarray, lengthscale: jnp.ndarray) -> jnp.ndarray:
    """Scaled squared distances ``r^2_ij = sum_d ((X_id - Z_jd) / l_d)^2``.

    Parameters
    ----------
    X : jax.Array
        Rows of the result, ``(n, d)``.
    Z : jax.Array
        Columns of the result, ``(m, d)``.
    lengthscale : jax.Array
        One lengthscale per input dimension, ``(d,)``.

    Returns
    -------
    r2 : jax.Array
        ``(n, m)``.
    """
    diff = (X[:, None, :] - Z[None, :, :]) / lengthscale
    return jnp.sum(diff * diff, axis=-1)


@jax.custom_vjp
def gaussian_log_density(C: jnp.ndarray, r: jnp.ndarray) -> jnp.ndarray:
    """Gaussian log density without its constant: ``-r^T C^{-1} r / 2 - log|C| / 2``.

    The gradient is written out, ``dC = (a a^T - C^{-1}) / 2`` with ``a = C^{-1} r``, from one
    Cholesky factorization and one triangular solve: reverse-mode through ``cholesky`` would
    run further triangular solves at every leapfrog step (about 1.6x the time per gradient).

    Parameters
    ----------
    C : jax.Array
        Covariance ``(n, n)``, positive definite.
    r : jax.Array
        Residual ``(n,)``.

    Returns
    -------
    value : jax.Array
        Scalar; the ``-n log(2 pi) / 2`` term is left to the caller.
    """
    return _gaussian_log_density_fwd(C, r)[0]


def _gaussian_log_density_fwd(C, r):
    n = C.shape[0]
    L = jnp.linalg.cholesky(C)
    rhs = jnp.concatenate([r[:, None], jnp.eye(n, dtype=C.dtype)], axis=1)
    sol = solve_triangular(L, rhs, lower=True)
    z, L_inv = sol[:, 0], sol[:, 1:]
    value = -0.5 * jnp.dot(z, z) - jnp.sum(jnp.log(jnp.diag(L)))
    alpha = L_inv.T @ z
    return value, (alpha, L_inv.T @ L_inv)


def _gaussian_log_density_bwd(res, g):
    alpha, C_inv = res
    return (0.5 * g * (jnp.outer(alpha, alpha) - C_inv), -g * alpha)


gaussian_log_density.defvjp(_gaussian_log_density_fwd, _gaussian_log_density_bwd)


def squared_differences(X: jnp.ndarray, Z: jnp.ndarray) -> jnp.ndarray:
    """Squared coordinate differences ``(X_id - Z_jd)^2``: the parameter-free part of an ARD distance.

    Parameters
    ----------
    X : jax.Array
        First point set, ``(n, d)``.
    Z : jax.Array
        Second point set, ``(m, d)``.

    Returns
    -------
    sqdiff : jax.Array
        ``(n, m, d)``.
    """
    diff = X[:, None, :] - Z[None, :, :]
    return diff * diff


def kernels_from_squared_differences(
    sqdiff: jnp.ndarray, lengthscales: jnp.ndarray, kind: str
) -> jnp.ndarray:
    """Unit-amplitude kernels for ``K`` rows of ARD lengthscales.

    ``r^2 = sqdiff @ l^-2`` is one matrix product, so a sampler that precomputes ``sqdiff`` once
    pays a product per step instead of rebuilding and differentiating the ``(n, m, d)``
    difference tensor (a third of a gradient's time at 80 property points).

    Parameters
    ----------
    sqdiff : jax.Array
        :func:`squared_differences` ``(n, m, d)``.
    lengthscales : jax.Array
        ``(K, d)``.
    kind : str
        ``"rbf"`` or ``"matern52"``.

    Returns
    -------
    kernels : jax.Array
        ``(K, n, m)``.
    """
    n, m, d = sqdiff.shape
    r2 = (sqdiff.reshape(n * m, d) @ (1.0 / lengthscales**2).T).T.reshape(-1, n, m)
    return _unit_kernel(r2, kind)


def _unit_kernel(r2: jnp.ndarray, kind: str) -> jnp.ndarray:
    """Unit-variance stationary kernel as a function of the scaled squared distance ``r^2``."""
    if kind == "rbf":
        return jnp.exp(-0.5 * r2)
    if kind == "matern52":
        # Double-where keeps the gradient of sqrt finite at r = 0 (the diagonal).
        safe = jnp.where(r2 > 1e-30, r2, 1.0)
        r = jnp.where(r2 > 1e-30, jnp.sqrt(safe), 0.0)
        s5r = jnp.sqrt(5.0) * r
        return (1.0 + s5r + 5.0 / 3.0 * r2) * jnp.exp(-s5r)
    raise InputError(f"unknown kernel {kind!r} (expected one of {', '.join(KERNELS)})")


def kernel_matrix(
    X: jnp.ndarray, Z: jnp.ndarray, lengthscale: jnp.ndarray, amplitude: jnp.ndarray, kind: str
) -> jnp.ndarray:
    """Stationary ARD kernel ``k(X, Z)``: ``rbf`` or ``matern52`` with variance ``amplitude^2``.

    Parameters
    ----------
    X : jax.Array
        Where the kernel's rows are evaluated, ``(n, d)``.
    Z : jax.Array
        Where its columns are evaluated, ``(m, d)``.
    lengthscale : jax.Array
        ARD lengthscales ``(d,)`` in the units of ``X``.
    amplitude : jax.Array
        Signal standard deviation (scalar); the kernel's diagonal is its square.
    kind : str
        Kernel family (:data:`KERNELS`).

    Returns
    -------
    K : jax.Array
        Covariance ``(n, m)``.
    """
    return amplitude**2 * _unit_kernel(scaled_sqdist(X, Z, lengthscale), kind)


def whitened_projection(
    X: jnp.ndarray, Z: jnp.ndarray, lengthscale: jnp.ndarray, amplitude: jnp.ndarray, kind: str
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Whitened projection ``A = K(X, Z) L^{-T}`` (``L L^T = K(Z, Z)``) and the conditional variance.

    With ``v ~ N(0, I)``, ``A v`` is the latent function at ``X`` given its values at ``Z``.

    Parameters
    ----------
    X : jax.Array
        Points where the latent function is wanted, ``(n, d)``.
    Z : jax.Array
        Inducing points ``(m, d)``.
    lengthscale : jax.Array
        ARD lengthscales of the latent GP, ``(d,)``.
    amplitude : jax.Array
        Prior standard deviation of the latent function (scalar).
    kind : str
        ``"rbf"`` or ``"matern52"``.

    Returns
    -------
    A : jax.Array
        ``(n, m)``.
    cond_var : jax.Array
        ``k(x, x) - diag(A A^T)``, ``(n,)``, clipped at 0.
    """
    m = Z.shape[0]
    Kzz = kernel_matrix(Z, Z, lengthscale, amplitude, kind) + JITTER * amplitude**2 * jnp.eye(m)
    L = jnp.linalg.cholesky(Kzz)
    Kxz = kernel_matrix(X, Z, lengthscale, amplitude, kind)
    A = solve_triangular(L, Kxz.T, lower=True).T
    cond_var = jnp.clip(amplitude**2 - jnp.sum(A * A, axis=1), 0.0, None)
    return A, cond_var


def choose_inducing(X: np.ndarray, max_points: int, seed: int = 0) -> np.ndarray:
    """Inducing points: all distinct inputs when there are few, else k-means centres.

    Duplicated inputs (repeat measurements) would make ``K(Z, Z)`` singular, so they are merged.

    Parameters
    ----------
    X : numpy.ndarray
        Normalized inputs ``(n, d)``.
    max_points : int
        Most inducing points.
    seed : int
        Seeds k-means.

    Returns
    -------
    Z : numpy.ndarray
        ``(m, d)`` with ``m <= max_points``.
    """
    uniq = np.unique(np.round(np.asarray(X, dtype=float), 12), axis=0)
    if len(uniq) <= max_points:
        return uniq
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=max_points, n_init=1, random_state=seed).fit(uniq)
    return np.asarray(km.cluster_centers_, dtype=float)


def kernel(
    X: Any, Z: Any, lengthscale: Any, amplitude: float = 1.0, kind: str = "rbf"
) -> np.ndarray:
    """Evaluate a phase-map kernel in float64, NumPy in and out (for checks and plots).

    Parameters
    ----------
    X : array-like
        First argument, ``(n, d)`` (or ``(n,)`` for one dimension).
    Z : array-like
        Second argument, ``(m, d)``.
    lengthscale : float or array-like
        One lengthscale, or one per input dimension.
    amplitude : float
        Signal standard deviation.
    kind : str
        ``"rbf"`` (default) or ``"matern52"``.

    Returns
    -------
    K : numpy.ndarray
        The kernel matrix, ``(n, m)``, float64.
    """
    from psplab.models.phasemap.sources import as_points

    Xp, Zp = as_points(X, "X"), as_points(Z, "Z")
    ls = np.broadcast_to(np.asarray(lengthscale, float), (Xp.shape[1],))
    with x64():
        out = kernel_matrix(
            jnp.asarray(Xp), jnp.asarray(Zp), jnp.asarray(ls), jnp.asarray(float(amplitude)), kind
        )
        return np.asarray(out)
