"""Baseline regressors with uncertainty, all on the :class:`ProbabilisticRegressor` contract.

* ``gp`` — exact Gaussian process, ARD squared-exponential kernel, hyperparameters by maximizing
  the log marginal likelihood (L-BFGS-B with analytic gradients, float64 numpy); one GP per target
  (Rasmussen & Williams 2006, ch. 2 and 5).
* ``ensemble`` — deep ensemble of 5 MLPs with a Gaussian (mean, variance) head trained on the
  NLL; the members are vmapped and trained in one jit (Lakshminarayanan et al. 2017).
* ``dropout`` — MC dropout: dropout kept on at prediction, one mask per draw (Gal & Ghahramani 2016).
* ``rf`` — random forest; the predictive is the mixture of the trees' predictions widened by a
  noise term estimated out-of-bag, so the intervals are not overconfident (cf. Meinshausen 2006).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from scipy import linalg, optimize

from psplab._blas import one_blas_thread
from psplab.models._nn import (
    Scaler,
    check_X,
    check_Xy,
    init_mlp,
    mixture_quantiles,
    mlp_apply,
    pad_rows,
    shape_out,
    to_jax_params,
    to_numpy_params,
    train_adam,
)
from psplab.models.base import ProbabilisticRegressor, register_model

_MIN_NOISE_STD = 1e-3  # standardized units


# ====================================================================== Gaussian process


@register_model("gp")
class GaussianProcess(ProbabilisticRegressor):
    """Exact GP regression with an ARD squared-exponential kernel, one GP per target.

    Parameters
    ----------
    n_restarts
        Extra optimizer starts (from seeded random length scales) besides the default start.
    min_noise
        Lower bound of the noise std in standardized units (keeps the Cholesky stable).
    max_iter
        L-BFGS-B iterations per start.
    seed
        Seed of the random restarts.
    """

    def __init__(
        self, n_restarts: int = 1, min_noise: float = 1e-3, max_iter: int = 200, seed: int = 0
    ):
        self.n_restarts = n_restarts
        self.min_noise = min_noise
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> GaussianProcess:
        X, Y, is_1d = check_Xy(X, y)
        self.n_features_in_ = X.shape[1]
        self.y_1d_ = is_1d
        self.x_scaler_ = Scaler.fit(X)
        self.y_scaler_ = Scaler.fit(Y)
        Xs = self.x_scaler_.transform(X)
        Ys = self.y_scaler_.transform(Y)
        self.X_train_ = Xs
        self.Y_train_ = Ys
        # Hundreds of small factorizations: one BLAS thread (NIMS, 393 rows: 17.1 -> 6.5 s).
        with one_blas_thread(len(Xs)):
            # (t, d + 2): log length scales, log signal std, log noise std
            self.theta_ = np.array(self._fit_hyperparameters(Xs, Ys))
            self._factorize()
        return self

    def _fit_hyperparameters(self, Xs: np.ndarray, Ys: np.ndarray) -> list[np.ndarray]:
        """Type-II maximum likelihood per target, best of the default and random starts."""
        rng = np.random.default_rng(self.seed)
        d = Xs.shape[1]
        thetas = []
        for j in range(Ys.shape[1]):
            starts = [np.concatenate([np.full(d, math.log(math.sqrt(d))), [0.0, math.log(0.1)]])]
            for _ in range(int(self.n_restarts)):
                ls = rng.uniform(math.log(0.3), math.log(3.0 * math.sqrt(d)), d)
                starts.append(
                    np.concatenate([ls, [rng.uniform(-0.5, 0.5), rng.uniform(-4.0, -1.0)]])
                )
            best = None
            for theta0 in starts:
                res = self._optimize(Xs, Ys[:, j], theta0)
                if best is None or res.fun < best.fun:
                    best = res
            thetas.append(best.x)
        return thetas

    def _bounds(self, d: int) -> list[tuple[float, float]]:
        return [(math.log(1e-2), math.log(1e3))] * d + [
            (math.log(1e-2), math.log(1e2)),
            (math.log(self.min_noise), math.log(10.0)),
        ]

    def _optimize(self, Xs: np.ndarray, y: np.ndarray, theta0: np.ndarray):
        bounds = self._bounds(Xs.shape[1])
        theta0 = np.clip(theta0, [b[0] for b in bounds], [b[1] for b in bounds])
        try:
            return optimize.minimize(
                _neg_log_marginal,
                theta0,
                args=(Xs, y),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": int(self.max_iter)},
            )
        except (np.linalg.LinAlgError, linalg.LinAlgError):
            return optimize.OptimizeResult(x=theta0, fun=np.inf)

    def _factorize(self) -> None:
        self.chol_ = []
        self.alpha_ = []
        for j, theta in enumerate(self.theta_):
            K = _kernel(self.X_train_, self.X_train_, theta) + _noise_var(theta) * np.eye(
                len(self.X_train_)
            )
            L = linalg.cholesky(K, lower=True)
            self.chol_.append(L)
            self.alpha_.append(linalg.cho_solve((L, True), self.Y_train_[:, j]))

    def _latent(self, X: np.ndarray, full_cov: bool = False):
        if not hasattr(self, "theta_"):
            raise RuntimeError("GaussianProcess is not fitted; call fit(X, y) first")
        Xs = self.x_scaler_.transform(check_X(X, self.n_features_in_))
        out = []
        for j, theta in enumerate(self.theta_):
            Ks = _kernel(Xs, self.X_train_, theta)
            mean = Ks @ self.alpha_[j]
            V = linalg.solve_triangular(self.chol_[j], Ks.T, lower=True)
            if full_cov:
                cov = _kernel(Xs, Xs, theta) - V.T @ V
                out.append((mean, cov))
            else:
                var = np.maximum(np.exp(2 * theta[-2]) - np.sum(V * V, axis=0), 1e-12)
                out.append((mean, var))
        return out

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = self._latent(X)
        mean = np.stack([m for m, _ in parts], axis=1)
        var = np.stack(
            [v + _noise_var(th) for (_, v), th in zip(parts, self.theta_, strict=True)], axis=1
        )
        mean = self.y_scaler_.inverse(mean)
        std = np.sqrt(var) * self.y_scaler_.scale
        return shape_out(mean, self.y_1d_), shape_out(std, self.y_1d_)

    def sample(
        self, X: np.ndarray, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        """Joint draws from the posterior over the rows of ``X`` (full covariance, per target)."""
        rng = np.random.default_rng(seed)
        parts = self._latent(X, full_cov=True)
        draws = []
        for (mean, cov), theta in zip(parts, self.theta_, strict=True):
            n = len(mean)
            jitter = 1e-9 * max(1.0, float(np.mean(np.diag(cov))))
            w, U = np.linalg.eigh(cov + jitter * np.eye(n))  # eigh tolerates tiny negative modes
            root = U * np.sqrt(np.clip(w, 0.0, None))
            f = mean[None, :] + rng.standard_normal((n_samples, n)) @ root.T
            if include_noise:
                f = f + math.sqrt(_noise_var(theta)) * rng.standard_normal(f.shape)
            draws.append(f)
        out = np.stack(draws, axis=-1) * self.y_scaler_.scale + self.y_scaler_.mean
        return shape_out(out, self.y_1d_)

    @property
    def length_scales_(self) -> np.ndarray:
        """ARD length scales in the inputs' own units, ``(t, d)``."""
        return np.exp(self.theta_[:, :-2]) * self.x_scaler_.scale[None, :]

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "X_train": self.X_train_,
            "Y_train": self.Y_train_,
            "theta": self.theta_,
            "x_mean": self.x_scaler_.mean,
            "x_scale": self.x_scaler_.scale,
            "y_mean": self.y_scaler_.mean,
            "y_scale": self.y_scaler_.scale,
        }
        return arrays, {"n_features_in": int(self.n_features_in_), "y_1d": bool(self.y_1d_)}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.X_train_ = arrays["X_train"]
        self.Y_train_ = arrays["Y_train"]
        self.theta_ = arrays["theta"]
        self.x_scaler_ = Scaler(arrays["x_mean"], arrays["x_scale"])
        self.y_scaler_ = Scaler(arrays["y_mean"], arrays["y_scale"])
        self.n_features_in_ = int(meta["n_features_in"])
        self.y_1d_ = bool(meta["y_1d"])
        self._factorize()


def _noise_var(theta: np.ndarray) -> float:
    return float(np.exp(2 * theta[-1]))


def _kernel(A: np.ndarray, B: np.ndarray, theta: np.ndarray) -> np.ndarray:
    ls = np.exp(theta[:-2])
    a, b = A / ls, B / ls
    sq = np.sum(a * a, 1)[:, None] + np.sum(b * b, 1)[None, :] - 2.0 * a @ b.T
    return np.exp(2 * theta[-2]) * np.exp(-0.5 * np.maximum(sq, 0.0))


def _neg_log_marginal(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood and its gradient w.r.t. the log hyperparameters."""
    n, d = X.shape
    Kf = _kernel(X, X, theta)
    K = Kf + _noise_var(theta) * np.eye(n)
    try:
        L = linalg.cholesky(K, lower=True)
    except linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = linalg.cho_solve((L, True), y)
    nll = 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * n * math.log(2 * math.pi)
    # dNLL/dθ = -½ tr((ααᵀ - K⁻¹) dK/dθ)
    W = np.outer(alpha, alpha) - linalg.cho_solve((L, True), np.eye(n))
    grad = np.empty_like(theta)
    ls = np.exp(theta[:-2])
    WK = W * Kf
    # sum_ij WK_ij (x_ik - x_jk)^2 = 2 sum_i x_ik^2 r_i - 2 x_k' WK x_k (WK symmetric, r its row
    # sums): one (n, n) @ (n, d) product instead of d elementwise (n, n) passes.
    r = WK.sum(axis=1)
    quad = 2.0 * (X * X).T @ r - 2.0 * np.sum(X * (WK @ X), axis=0)
    grad[:d] = -0.5 * quad / ls**2
    grad[-2] = -0.5 * np.sum(WK) * 2.0
    grad[-1] = -0.5 * np.trace(W) * 2.0 * _noise_var(theta)
    return float(nll), grad


# ====================================================================== deep ensemble


@register_model("ensemble")
class DeepEnsemble(ProbabilisticRegressor):
    """Deep ensemble: ``n_members`` MLPs with Gaussian heads, trained jointly in one jit.

    Parameters
    ----------
    hidden
        Hidden layer widths of every member.
    n_members
        Ensemble size.
    epochs, learning_rate, batch_size, weight_decay
        Adam settings (same schedule as the BHN, for a fair comparison).
    seed
        Seeds the members' initializations and minibatches.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] | list[int] = (50, 50),
        n_members: int = 5,
        epochs: int = 2000,
        learning_rate: float = 3e-3,
        batch_size: int | None = None,
        weight_decay: float = 1e-4,
        seed: int = 0,
    ):
        self.hidden = hidden
        self.n_members = n_members
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.seed = seed

    def _sizes(self, d: int, t: int) -> tuple[int, ...]:
        return (d, *(int(h) for h in self.hidden), 2 * t)

    def fit(self, X: np.ndarray, y: np.ndarray) -> DeepEnsemble:
        import jax

        X, Y, is_1d = check_Xy(X, y)
        self.n_features_in_, self.n_targets_, self.y_1d_ = X.shape[1], Y.shape[1], is_1d
        self.x_scaler_, self.y_scaler_ = Scaler.fit(X), Scaler.fit(Y)
        sizes = self._sizes(X.shape[1], Y.shape[1])
        key = jax.random.PRNGKey(int(self.seed))
        k_init, k_train = jax.random.split(key)
        keys = jax.random.split(k_init, int(self.n_members))
        params = jax.vmap(lambda k: init_mlp(k, list(sizes)))(keys)
        n = X.shape[0]
        batch = self.batch_size if self.batch_size is not None else (None if n <= 1024 else 256)
        params, losses = train_adam(
            _ensemble_loss(sizes),
            params,
            self.x_scaler_.transform(X),
            self.y_scaler_.transform(Y),
            key=k_train,
            epochs=int(self.epochs),
            batch_size=batch,
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
        )
        if not np.all(np.isfinite(losses[-10:])):
            raise FloatingPointError("deep ensemble training diverged; lower learning_rate")
        self.params_, self.loss_curve_ = params, losses
        return self

    def _members(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import jax.numpy as jnp

        if not hasattr(self, "params_"):
            raise RuntimeError("DeepEnsemble is not fitted; call fit(X, y) first")
        Xp, n = pad_rows(self.x_scaler_.transform(check_X(X, self.n_features_in_)))
        sizes = self._sizes(self.n_features_in_, self.n_targets_)
        mean, std = _ensemble_predict(sizes)(self.params_, jnp.asarray(Xp, jnp.float32))
        scale = self.y_scaler_.scale
        mean, std = np.asarray(mean, float)[:, :n], np.asarray(std, float)[:, :n]
        return mean * scale + self.y_scaler_.mean, std * scale

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means, stds = self._members(X)
        mean = means.mean(0)
        std = np.sqrt(means.var(0) + (stds**2).mean(0))
        return shape_out(mean, self.y_1d_), shape_out(std, self.y_1d_)

    def predict_quantiles(self, X: np.ndarray, q: np.ndarray | list[float]) -> np.ndarray:
        means, stds = self._members(X)
        return shape_out(mixture_quantiles(means, stds, q), self.y_1d_)

    def sample(
        self, X: np.ndarray, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        """Each draw picks one member (a whole function) at random, plus its noise."""
        means, stds = self._members(X)
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, means.shape[0], n_samples)
        out = means[pick]
        if include_noise:
            out = out + stds[pick] * rng.standard_normal(out.shape)
        return shape_out(out, self.y_1d_)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"p_{k}": v for k, v in to_numpy_params(self.params_).items()}
        arrays.update(_scaler_arrays(self))
        return arrays, {
            "n_features_in": self.n_features_in_,
            "n_targets": self.n_targets_,
            "y_1d": self.y_1d_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.params_ = to_jax_params(arrays)
        _set_scalers(self, arrays)
        self.n_features_in_, self.n_targets_ = int(meta["n_features_in"]), int(meta["n_targets"])
        self.y_1d_ = bool(meta["y_1d"])


def _gauss_head(out, t: int):
    import jax

    # Offset so an untrained head starts at std ~0.3 (standardized units), a calm start for the NLL.
    std = jax.nn.softplus(out[..., t:] + math.log(math.e**0.3 - 1.0)) + _MIN_NOISE_STD
    return out[..., :t], std


@functools.lru_cache(maxsize=32)
def _ensemble_loss(sizes: tuple[int, ...]):
    import jax
    import jax.numpy as jnp

    n_layers, t = len(sizes) - 1, sizes[-1] // 2

    def member_nll(p, xb, yb):
        mean, std = _gauss_head(mlp_apply(p, xb, n_layers), t)
        return jnp.mean(jnp.sum(jnp.log(std) + 0.5 * ((yb - mean) / std) ** 2, axis=-1))

    def loss(params, xb, yb, key, step, n_steps):
        # Sum over members: each member's gradient only sees its own NLL.
        return jnp.sum(jax.vmap(member_nll, in_axes=(0, None, None))(params, xb, yb))

    return loss


@functools.lru_cache(maxsize=32)
def _ensemble_predict(sizes: tuple[int, ...]):
    import jax

    n_layers, t = len(sizes) - 1, sizes[-1] // 2

    @jax.jit
    def predict(params, x):
        return jax.vmap(lambda p: _gauss_head(mlp_apply(p, x, n_layers), t))(params)

    return predict


def _scaler_arrays(model) -> dict[str, np.ndarray]:
    return {
        "x_mean": model.x_scaler_.mean,
        "x_scale": model.x_scaler_.scale,
        "y_mean": model.y_scaler_.mean,
        "y_scale": model.y_scaler_.scale,
    }


def _set_scalers(model, arrays: dict[str, np.ndarray]) -> None:
    model.x_scaler_ = Scaler(arrays["x_mean"], arrays["x_scale"])
    model.y_scaler_ = Scaler(arrays["y_mean"], arrays["y_scale"])


# ====================================================================== MC dropout


@register_model("dropout")
class MCDropout(ProbabilisticRegressor):
    """MC dropout MLP with a learned per-target noise level.

    Parameters
    ----------
    hidden
        Hidden layer widths.
    rate
        Dropout probability on every hidden layer (training and prediction).
    epochs, learning_rate, batch_size, weight_decay
        Adam settings.
    n_predict_samples
        Dropout masks per prediction.
    seed
        Seeds initialization, training masks and prediction masks.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] | list[int] = (100, 100),
        rate: float = 0.1,
        epochs: int = 2000,
        learning_rate: float = 3e-3,
        batch_size: int | None = None,
        weight_decay: float = 1e-4,
        n_predict_samples: int = 200,
        seed: int = 0,
    ):
        self.hidden = hidden
        self.rate = rate
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.n_predict_samples = n_predict_samples
        self.seed = seed

    def _sizes(self, d: int, t: int) -> tuple[int, ...]:
        return (d, *(int(h) for h in self.hidden), t)

    def fit(self, X: np.ndarray, y: np.ndarray) -> MCDropout:
        import jax
        import jax.numpy as jnp

        if not 0.0 <= float(self.rate) < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {self.rate}")
        X, Y, is_1d = check_Xy(X, y)
        self.n_features_in_, self.n_targets_, self.y_1d_ = X.shape[1], Y.shape[1], is_1d
        self.x_scaler_, self.y_scaler_ = Scaler.fit(X), Scaler.fit(Y)
        sizes = self._sizes(X.shape[1], Y.shape[1])
        key = jax.random.PRNGKey(int(self.seed))
        k_init, k_train = jax.random.split(key)
        params = init_mlp(k_init, list(sizes))
        params["log_noise"] = jnp.full((Y.shape[1],), math.log(0.3), jnp.float32)
        n = X.shape[0]
        batch = self.batch_size if self.batch_size is not None else (None if n <= 1024 else 256)
        params, losses = train_adam(
            _dropout_loss(sizes, float(self.rate)),
            params,
            self.x_scaler_.transform(X),
            self.y_scaler_.transform(Y),
            key=k_train,
            epochs=int(self.epochs),
            batch_size=batch,
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
        )
        if not np.all(np.isfinite(losses[-10:])):
            raise FloatingPointError("MC dropout training diverged; lower learning_rate")
        self.params_, self.loss_curve_ = params, losses
        return self

    def _draws(self, X: np.ndarray, n_draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        import jax
        import jax.numpy as jnp

        if not hasattr(self, "params_"):
            raise RuntimeError("MCDropout is not fitted; call fit(X, y) first")
        Xp, n = pad_rows(self.x_scaler_.transform(check_X(X, self.n_features_in_)))
        sizes = self._sizes(self.n_features_in_, self.n_targets_)
        means = _dropout_predict(sizes, float(self.rate))(
            self.params_, jnp.asarray(Xp, jnp.float32), jax.random.PRNGKey(int(seed)), int(n_draws)
        )
        means = np.asarray(means, float)[:, :n] * self.y_scaler_.scale + self.y_scaler_.mean
        noise = (
            np.exp(np.asarray(self.params_["log_noise"], float)) + _MIN_NOISE_STD
        ) * self.y_scaler_.scale
        return means, np.broadcast_to(noise, means.shape)

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means, stds = self._draws(X, int(self.n_predict_samples), int(self.seed) + 1)
        std = np.sqrt(means.var(0) + (stds**2).mean(0))
        return shape_out(means.mean(0), self.y_1d_), shape_out(std, self.y_1d_)

    def predict_quantiles(self, X: np.ndarray, q: np.ndarray | list[float]) -> np.ndarray:
        means, stds = self._draws(X, int(self.n_predict_samples), int(self.seed) + 1)
        return shape_out(mixture_quantiles(means, stds, q), self.y_1d_)

    def sample(
        self, X: np.ndarray, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        """One dropout mask per draw, shared by all rows: each draw is one function."""
        means, stds = self._draws(X, n_samples, seed)
        if include_noise:
            means = means + stds * np.random.default_rng(seed).standard_normal(means.shape)
        return shape_out(means, self.y_1d_)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"p_{k}": v for k, v in to_numpy_params(self.params_).items()}
        arrays.update(_scaler_arrays(self))
        return arrays, {
            "n_features_in": self.n_features_in_,
            "n_targets": self.n_targets_,
            "y_1d": self.y_1d_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.params_ = to_jax_params(arrays)
        _set_scalers(self, arrays)
        self.n_features_in_, self.n_targets_ = int(meta["n_features_in"]), int(meta["n_targets"])
        self.y_1d_ = bool(meta["y_1d"])


@functools.lru_cache(maxsize=32)
def _dropout_loss(sizes: tuple[int, ...], rate: float):
    import jax
    import jax.numpy as jnp

    n_layers = len(sizes) - 1
    keep = 1.0 - rate

    def loss(p, xb, yb, key, step, n_steps):
        keys = jax.random.split(key, n_layers)
        masks = [
            jax.random.bernoulli(keys[i], keep, (xb.shape[0], sizes[i + 1])) / keep
            for i in range(n_layers - 1)
        ]
        mean = mlp_apply(p, xb, n_layers, dropout=masks)
        std = jnp.exp(p["log_noise"]) + _MIN_NOISE_STD
        return jnp.mean(jnp.sum(jnp.log(std) + 0.5 * ((yb - mean) / std) ** 2, axis=-1))

    return loss


@functools.lru_cache(maxsize=32)
def _dropout_predict(sizes: tuple[int, ...], rate: float):
    import jax

    n_layers = len(sizes) - 1
    keep = 1.0 - rate

    @functools.partial(jax.jit, static_argnums=3)
    def predict(p, x, key, n_draws):
        def one(k):
            keys = jax.random.split(k, n_layers)
            masks = [
                jax.random.bernoulli(keys[i], keep, (sizes[i + 1],)) / keep
                for i in range(n_layers - 1)
            ]
            return mlp_apply(p, x, n_layers, dropout=masks)

        return jax.vmap(one)(jax.random.split(key, n_draws))

    return predict


# ====================================================================== random forest


@register_model("rf")
class RandomForest(ProbabilisticRegressor):
    """Random forest whose predictive is the trees' mixture widened by an out-of-bag noise term.

    The per-tree predictions give the spread between plausible functions; alone they understate
    the error on new points (each leaf averages noisy targets), so a per-target noise variance
    ``s^2 = max(0, mean((y - oob_mean)^2 - oob_tree_var))`` is estimated from the out-of-bag
    predictions and added to every tree's Gaussian.

    Parameters
    ----------
    n_estimators, min_samples_leaf, max_features
        Passed to :class:`sklearn.ensemble.RandomForestRegressor`.
    seed
        Random state of the forest.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        min_samples_leaf: int = 1,
        max_features: float | str | None = 1.0,
        seed: int = 0,
    ):
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> RandomForest:
        X, Y, is_1d = check_Xy(X, y)
        self.n_features_in_, self.y_1d_ = X.shape[1], is_1d
        forest = self._make_forest().fit(X, Y if Y.shape[1] > 1 else Y[:, 0])
        self.forest_ = forest
        self._extract_trees(forest)
        # Out-of-bag calibration of the extra noise term.
        n = X.shape[0]
        preds = self._tree_predictions(X)  # (T, n, t)
        inbag = np.zeros((len(forest.estimators_), n), dtype=bool)
        for k, idx in enumerate(forest.estimators_samples_):
            inbag[k, idx] = True
        oob = ~inbag
        counts = oob.sum(0)
        ok = counts >= 2
        w = oob[:, ok, None].astype(float)
        m = (preds[:, ok] * w).sum(0) / counts[ok, None]
        v = (((preds[:, ok] - m) ** 2) * w).sum(0) / counts[ok, None]
        resid2 = (Y[ok] - m) ** 2
        self.noise_std_ = np.sqrt(np.maximum(np.mean(resid2 - v, axis=0), 0.0))
        return self

    def _make_forest(self):
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(
            n_estimators=int(self.n_estimators),
            min_samples_leaf=int(self.min_samples_leaf),
            max_features=self.max_features,
            bootstrap=True,
            random_state=int(self.seed),
            n_jobs=1,
        )

    def _extract_trees(self, forest) -> None:
        # Flat arrays of all trees: enough to predict without sklearn objects (and to save as npz).
        trees = [est.tree_ for est in forest.estimators_]
        self.tree_offsets_ = np.cumsum([0] + [t.node_count for t in trees])
        self.left_ = np.concatenate([t.children_left for t in trees]).astype(np.int64)
        self.right_ = np.concatenate([t.children_right for t in trees]).astype(np.int64)
        self.feature_ = np.concatenate([t.feature for t in trees]).astype(np.int64)
        self.threshold_ = np.concatenate([t.threshold for t in trees])
        self.value_ = np.concatenate([t.value[:, :, 0] for t in trees])  # (nodes, t)

    def _tree_predictions(self, X: np.ndarray) -> np.ndarray:
        """``(n_trees, n, t)`` predictions by walking the flat node arrays."""
        n_trees = len(self.tree_offsets_) - 1
        X = X.astype(np.float32).astype(float)  # sklearn splits on float32 inputs
        out = np.empty((n_trees, X.shape[0], self.value_.shape[1]))
        rows = np.arange(X.shape[0])
        for k in range(n_trees):
            node = np.full(X.shape[0], self.tree_offsets_[k])
            off = self.tree_offsets_[k]
            while True:
                left = self.left_[node]
                leaf = left == -1
                if leaf.all():
                    break
                f = np.where(leaf, 0, self.feature_[node])
                go_left = X[rows, f] <= self.threshold_[node]
                nxt = np.where(go_left, left, self.right_[node]) + off
                node = np.where(leaf, node, nxt)
            out[k] = self.value_[node]
        return out

    def _check(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "value_"):
            raise RuntimeError("RandomForest is not fitted; call fit(X, y) first")
        return check_X(X, self.n_features_in_)

    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        preds = self._tree_predictions(self._check(X))
        std = np.sqrt(preds.var(0) + self.noise_std_**2)
        return shape_out(preds.mean(0), self.y_1d_), shape_out(std, self.y_1d_)

    def predict_quantiles(self, X: np.ndarray, q: np.ndarray | list[float]) -> np.ndarray:
        preds = self._tree_predictions(self._check(X))
        noise = np.broadcast_to(
            np.maximum(self.noise_std_, 1e-9 * (1 + np.abs(preds).max())), preds.shape
        )
        return shape_out(mixture_quantiles(preds, noise, q), self.y_1d_)

    def sample(
        self, X: np.ndarray, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray:
        """Each draw is one randomly picked tree (a whole function), plus the noise term."""
        preds = self._tree_predictions(self._check(X))
        rng = np.random.default_rng(seed)
        out = preds[rng.integers(0, preds.shape[0], n_samples)]
        if include_noise:
            out = out + self.noise_std_ * rng.standard_normal(out.shape)
        return shape_out(out, self.y_1d_)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "tree_offsets": self.tree_offsets_,
            "left": self.left_,
            "right": self.right_,
            "feature": self.feature_,
            "threshold": self.threshold_,
            "value": self.value_,
            "noise_std": self.noise_std_,
        }
        return arrays, {"n_features_in": self.n_features_in_, "y_1d": self.y_1d_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.tree_offsets_ = arrays["tree_offsets"]
        self.left_, self.right_ = arrays["left"], arrays["right"]
        self.feature_, self.threshold_ = arrays["feature"], arrays["threshold"]
        self.value_, self.noise_std_ = arrays["value"], arrays["noise_std"]
        self.n_features_in_, self.y_1d_ = int(meta["n_features_in"]), bool(meta["y_1d"])
