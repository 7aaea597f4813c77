"""A small exact Gaussian process in NumPy (Matérn-5/2, ARD), for cheap inner loops.

It follows the :class:`psplab.models.base.ProbabilisticRegressor` contract, so the optimizer treats
it like any psplab model. It is used by the tests (analytic objectives) and where a caller asks for
``model="fastgp"``; the product path uses :func:`psplab.models.make_model`. Not registered in the
model registry, so it never shadows the predictor package's ``gp``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg, optimize

from psplab._blas import one_blas_thread
from psplab.models.base import ProbabilisticRegressor, as_2d_targets


def _matern52(X1: np.ndarray, X2: np.ndarray, ls: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.maximum(((X1[:, None, :] - X2[None, :, :]) / ls) ** 2, 0.0).sum(-1))
    s5 = np.sqrt(5.0) * d
    return (1.0 + s5 + 5.0 / 3.0 * d**2) * np.exp(-s5)


def _robust_cholesky(C: np.ndarray) -> np.ndarray:
    """Cholesky factor with growing jitter: dense candidate sets make ``C`` nearly singular."""
    C = (C + C.T) / 2
    scale = float(np.mean(np.diag(C))) or 1.0
    for jitter in (1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
        try:
            return linalg.cholesky(C + jitter * scale * np.eye(len(C)), lower=True)
        except linalg.LinAlgError:
            continue
    w, Q = np.linalg.eigh(C)
    return Q * np.sqrt(np.maximum(w, 0.0))


class FastGP(ProbabilisticRegressor):
    """Exact GP regression with a Matérn-5/2 ARD kernel; hyperparameters by maximum likelihood.

    Parameters
    ----------
    restarts
        Random restarts of the marginal-likelihood optimization (plus one default start).
    noise_floor
        Lower bound of the noise variance on standardized targets (keeps Cholesky stable).
    seed
        Seed of the restarts.
    """

    model_name = "fastgp"

    def __init__(self, restarts: int = 2, noise_floor: float = 1e-6, seed: int = 0):
        self.restarts = restarts
        self.noise_floor = noise_floor
        self.seed = seed

    def _nll(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        d = X.shape[1]
        ls, amp, noise = (
            np.exp(theta[:d]),
            np.exp(theta[d]),
            np.exp(theta[d + 1]) + self.noise_floor,
        )
        K = amp * _matern52(X, X, ls) + noise * np.eye(len(X))
        try:
            L = linalg.cholesky(K, lower=True)
        except linalg.LinAlgError:
            return 1e10
        alpha = linalg.cho_solve((L, True), y)
        # Weak log-normal priors keep length scales inside the unit cube's range with few points.
        prior = 0.5 * np.sum((theta[:d] - np.log(0.3)) ** 2) / 1.5**2 + 0.5 * theta[d] ** 2
        return float(0.5 * y @ alpha + np.log(np.diag(L)).sum() + prior)

    def fit(self, X: np.ndarray, y: np.ndarray) -> FastGP:
        X = np.asarray(X, dtype=float)
        Y, self.vector_ = as_2d_targets(y)
        if X.ndim != 2 or len(X) != len(Y):
            raise ValueError(f"X must be (n, d) with n = len(y); got {X.shape} and {Y.shape}")
        self.X_ = X
        self.y_mean_ = Y.mean(0)
        self.y_std_ = np.where(Y.std(0) > 0, Y.std(0), 1.0)
        Z = (Y - self.y_mean_) / self.y_std_
        # Many small factorizations: one BLAS thread (see psplab._blas).
        with one_blas_thread(len(X)):
            self._fit_targets(X, Z)
        return self

    def _fit_targets(self, X: np.ndarray, Z: np.ndarray) -> None:
        rng = np.random.default_rng(self.seed)
        d = X.shape[1]
        self.theta_, self.L_, self.alpha_ = [], [], []
        for t in range(Z.shape[1]):
            starts = [np.r_[np.full(d, np.log(0.3)), 0.0, np.log(1e-2)]]
            starts += [
                np.r_[
                    rng.uniform(np.log(0.05), np.log(2.0), d),
                    rng.normal(0, 0.5),
                    rng.uniform(-8, -1),
                ]
                for _ in range(self.restarts)
            ]
            best = None
            bounds = [(np.log(1e-3), np.log(20.0))] * d + [(-5, 5), (np.log(1e-8), 1.0)]
            for x0 in starts:
                res = optimize.minimize(
                    self._nll, x0, args=(X, Z[:, t]), method="L-BFGS-B", bounds=bounds
                )
                if best is None or res.fun < best.fun:
                    best = res
            theta = best.x
            K = self._k(X, X, theta) + self._noise(theta) * np.eye(len(X))
            L = linalg.cholesky(K + 1e-10 * np.eye(len(X)), lower=True)
            self.theta_.append(theta)
            self.L_.append(L)
            self.alpha_.append(linalg.cho_solve((L, True), Z[:, t]))

    def _k(self, A: np.ndarray, B: np.ndarray, theta: np.ndarray) -> np.ndarray:
        d = A.shape[1]
        return np.exp(theta[d]) * _matern52(A, B, np.exp(theta[:d]))

    def _noise(self, theta: np.ndarray) -> float:
        return float(np.exp(theta[-1]) + self.noise_floor)

    def _latent(self, X: np.ndarray, t: int, full_cov: bool = False):
        theta, L, alpha = self.theta_[t], self.L_[t], self.alpha_[t]
        Ks = self._k(X, self.X_, theta)
        mean = Ks @ alpha
        V = linalg.solve_triangular(L, Ks.T, lower=True)
        if full_cov:
            return mean, self._k(X, X, theta) - V.T @ V
        var = np.exp(theta[X.shape[1]]) - np.sum(V**2, axis=0)
        return mean, np.maximum(var, 1e-12)

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=float)
        means, stds = [], []
        for t in range(len(self.theta_)):
            m, v = self._latent(X, t)
            means.append(m * self.y_std_[t] + self.y_mean_[t])
            stds.append(np.sqrt(v + self._noise(self.theta_[t])) * self.y_std_[t])
        mean, std = np.stack(means, -1), np.stack(stds, -1)
        return (mean[:, 0], std[:, 0]) if self.vector_ else (mean, std)

    def sample(
        self, X: np.ndarray, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        rng = np.random.default_rng(seed)
        outs = []
        for t in range(len(self.theta_)):
            m, C = self._latent(X, t, full_cov=True)
            if include_noise:
                C = C + self._noise(self.theta_[t]) * np.eye(len(X))
            A = _robust_cholesky(C)
            z = rng.standard_normal((n_samples, len(X)))
            outs.append((m + z @ A.T) * self.y_std_[t] + self.y_mean_[t])
        draws = np.stack(outs, -1)
        return draws[..., 0] if self.vector_ else draws

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "X": self.X_,
            "theta": np.array(self.theta_),
            "y_mean": self.y_mean_,
            "y_std": self.y_std_,
        }
        arrays["alpha"] = np.array(self.alpha_)
        return arrays, {"vector": bool(self.vector_)}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.X_ = arrays["X"]
        self.theta_ = list(arrays["theta"])
        self.y_mean_, self.y_std_ = arrays["y_mean"], arrays["y_std"]
        self.alpha_ = list(arrays["alpha"])
        self.vector_ = bool(meta["vector"])
        self.L_ = [
            linalg.cholesky(
                self._k(self.X_, self.X_, th) + (self._noise(th) + 1e-10) * np.eye(len(self.X_)),
                lower=True,
            )
            for th in self.theta_
        ]
