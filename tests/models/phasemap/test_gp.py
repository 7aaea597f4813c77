"""Gaussian-process building blocks: kernels, squared differences, the log density and its gradient."""

from __future__ import annotations

import numpy as np

from psplab.models.phasemap.gp import kernel


def test_kernels_are_stationary_with_ard_distances():
    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    for kind in ("rbf", "matern52"):
        K1 = kernel(X, X, [0.5, 2.0], 1.5, kind)
        K2 = kernel(X + 10.0, X + 10.0, [0.5, 2.0], 1.5, kind)  # shift invariance
        np.testing.assert_allclose(K1, K2, rtol=1e-12)
        np.testing.assert_allclose(np.diag(K1), 1.5**2)
    # r^2 = (1/0.5)^2 + (2/2)^2 = 5
    np.testing.assert_allclose(kernel(X[:1], X[1:], [0.5, 2.0], 1.0, "rbf"), np.exp(-2.5))
    r = np.sqrt(5.0)
    expected = (1 + np.sqrt(5) * r + 5 / 3 * r**2) * np.exp(-np.sqrt(5) * r)
    np.testing.assert_allclose(kernel(X[:1], X[1:], [0.5, 2.0], 1.0, "matern52"), expected)


def test_kernels_from_squared_differences_match_kernel_matrix():
    import jax.numpy as jnp

    from psplab.models.phasemap.gp import (
        kernel_matrix,
        kernels_from_squared_differences,
        squared_differences,
        x64,
    )

    rng = np.random.default_rng(1)
    X, Z = rng.uniform(size=(7, 3)), rng.uniform(size=(5, 3))
    ls = np.array([[0.3, 0.5, 1.0], [0.2, 0.2, 0.7]])
    with x64():
        for kind in ("rbf", "matern52"):
            K = kernels_from_squared_differences(squared_differences(X, Z), jnp.asarray(ls), kind)
            for k in range(2):
                np.testing.assert_allclose(K[k], kernel_matrix(X, Z, ls[k], 1.0, kind), rtol=1e-12)


def test_gaussian_log_density_matches_scipy_and_autodiff():
    import jax
    import jax.numpy as jnp
    from scipy.stats import multivariate_normal

    from psplab.models.phasemap.gp import gaussian_log_density, x64

    rng = np.random.default_rng(3)
    G = rng.standard_normal((6, 6))
    C0, r = G @ G.T + 0.5 * np.eye(6), rng.standard_normal(6)
    expected = multivariate_normal(np.zeros(6), C0).logpdf(r) + 3.0 * np.log(2.0 * np.pi)

    def direct(s, r):
        C = s[0] * C0 + s[1] * jnp.outer(r, r)
        L = jnp.linalg.cholesky(C)
        z = jax.scipy.linalg.solve_triangular(L, r, lower=True)
        return -0.5 * z @ z - jnp.sum(jnp.log(jnp.diag(L)))

    def custom(s, r):
        return gaussian_log_density(s[0] * C0 + s[1] * jnp.outer(r, r), r)

    with x64():
        s = jnp.array([1.0, 0.0])
        np.testing.assert_allclose(float(custom(s, jnp.asarray(r))), expected, rtol=1e-10)
        s = jnp.array([0.7, 0.3])  # C depends on r too: both cotangents are checked
        for argnum in (0, 1):
            g1 = jax.grad(direct, argnum)(s, jnp.asarray(r))
            g2 = jax.grad(custom, argnum)(s, jnp.asarray(r))
            np.testing.assert_allclose(g2, g1, rtol=1e-8)
