"""Shared helpers for the JAX network models: input checks, scalers, MLPs, Adam in ``lax.scan``.

Everything here is float32 JAX on the CPU (the networks are small); the GP uses float64 numpy.
Parameters are *flat* ``dict[str, array]`` so that they are pytrees for optax and save directly
into ``.npz`` without pickle.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

# ----------------------------------------------------------------------------- validation


def check_X(X: Any, n_features: int | None = None) -> np.ndarray:
    """``X`` as a finite float64 ``(n, d)`` array; raises ``ValueError`` saying what is wrong."""
    arr = np.asarray(X, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("X has no rows")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(arr), axis=1))[0])
        raise ValueError(f"X has a missing or non-finite value (row {bad + 1})")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"X has {arr.shape[1]} features but the model was fitted on {n_features}")
    return arr


def check_Xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validated ``(X (n,d), y (n,t), y_was_1d)``; targets must be finite (drop missing rows first)."""
    from psplab.models.base import as_2d_targets

    Xa = check_X(X)
    ya, is_1d = as_2d_targets(y)
    if ya.shape[0] != Xa.shape[0]:
        raise ValueError(f"X has {Xa.shape[0]} rows but y has {ya.shape[0]}")
    if not np.all(np.isfinite(ya)):
        raise ValueError("y has missing or non-finite values; drop those rows before fitting")
    if Xa.shape[0] < 2:
        raise ValueError("need at least 2 rows to fit")
    return Xa, ya, is_1d


class Scaler:
    """Column standardization; constant columns keep scale 1 so they pass through harmlessly."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray):
        self.mean = np.asarray(mean, dtype=float)
        self.scale = np.asarray(scale, dtype=float)

    @classmethod
    def fit(cls, A: np.ndarray) -> Scaler:
        mean = A.mean(axis=0)
        scale = A.std(axis=0)
        scale = np.where(scale > 1e-12 * (1.0 + np.abs(mean)), scale, 1.0)
        return cls(mean, scale)

    def transform(self, A: np.ndarray) -> np.ndarray:
        return (A - self.mean) / self.scale

    def inverse(self, A: np.ndarray) -> np.ndarray:
        return A * self.scale + self.mean


def shape_out(a: np.ndarray, is_1d: bool) -> np.ndarray:
    """Drop the target axis (last) when the model was fitted on a 1-D ``y``."""
    return a[..., 0] if is_1d else a


# ----------------------------------------------------------------------------- predictive helpers


def pad_rows(A: np.ndarray, minimum: int = 16) -> tuple[np.ndarray, int]:
    """Pad rows (with copies of row 0) up to a power of two; returns ``(padded, n_real)``.

    Jitted predictors compile once per input shape; bucketing the row count keeps callers that
    predict on varying numbers of rows (optimizers, tests) from recompiling every call.
    """
    n = A.shape[0]
    size = max(minimum, 1 << max(n - 1, 0).bit_length())
    if size == n:
        return A, n
    return np.concatenate([A, np.repeat(A[:1], size - n, axis=0)]), n


def mixture_quantiles(
    means: np.ndarray, stds: np.ndarray, q: np.ndarray | list[float], n_iter: int = 60
) -> np.ndarray:
    """Quantiles of an equal-weight Gaussian mixture along axis 0, by bisection on its CDF.

    Parameters
    ----------
    means, stds
        ``(m, ...)`` component means and standard deviations (``stds`` broadcastable).
    q
        Probabilities in (0, 1).

    Returns
    -------
    ``(len(q), ...)`` quantiles. A mixture rather than a Gaussian fit keeps skewed or bimodal
    posterior predictives (ensembles, trees, hypernetwork samples) honest.
    """
    means = np.asarray(means, dtype=float)
    stds = np.broadcast_to(np.maximum(np.asarray(stds, dtype=float), 1e-12), means.shape)
    qs = np.asarray(q, dtype=float)
    lo = (means - 8.0 * stds).min(axis=0)
    hi = (means + 8.0 * stds).max(axis=0)
    out = np.empty((qs.size,) + means.shape[1:])
    for k, p in enumerate(qs):
        a, b = lo.copy(), hi.copy()
        for _ in range(n_iter):
            mid = 0.5 * (a + b)
            cdf = stats.norm.cdf((mid[None] - means) / stds).mean(axis=0)
            below = cdf < p
            a = np.where(below, mid, a)
            b = np.where(below, b, mid)
        out[k] = 0.5 * (a + b)
    return out


# ----------------------------------------------------------------------------- JAX pieces


def init_dense(key, n_in: int, n_out: int, gain: float = 1.0):
    """He/Glorot-style normal init for a dense layer; returns ``(W, b)``."""
    import jax
    import jax.numpy as jnp

    W = jax.random.normal(key, (n_in, n_out), dtype=jnp.float32) * (gain / math.sqrt(max(n_in, 1)))
    return W, jnp.zeros((n_out,), dtype=jnp.float32)


def init_mlp(key, sizes: list[int], prefix: str = "") -> dict[str, Any]:
    """Flat params ``{prefix}W{i}``/``{prefix}b{i}`` of a ReLU MLP with layer sizes ``sizes``."""
    import jax

    params: dict[str, Any] = {}
    keys = jax.random.split(key, len(sizes) - 1)
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        W, b = init_dense(keys[i], sizes[i], sizes[i + 1], gain=1.0 if last else math.sqrt(2.0))
        params[f"{prefix}W{i}"] = W
        params[f"{prefix}b{i}"] = b
    return params


def mlp_apply(params: dict[str, Any], x, n_layers: int, prefix: str = "", dropout=None):
    """Forward pass of :func:`init_mlp`'s network; ``dropout`` = list of per-hidden-layer masks."""
    import jax.numpy as jnp

    h = x
    for i in range(n_layers):
        h = h @ params[f"{prefix}W{i}"] + params[f"{prefix}b{i}"]
        if i < n_layers - 1:
            h = jnp.maximum(h, 0.0)
            if dropout is not None:
                h = h * dropout[i]
    return h


def gaussian_nll(y, mean, log_var):
    """Elementwise negative log density of ``N(mean, exp(log_var))`` at ``y``."""
    import jax.numpy as jnp

    return 0.5 * (jnp.log(2.0 * jnp.pi) + log_var + (y - mean) ** 2 * jnp.exp(-log_var))


def train_adam(
    loss_fn: Callable,
    params: dict[str, Any],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    key,
    epochs: int,
    batch_size: int | None,
    learning_rate: float,
    weight_decay: float = 0.0,
) -> tuple[dict[str, Any], np.ndarray]:
    """Minimize ``loss_fn(params, xb, yb, key, step, n_steps)`` with Adam, all steps in one jit.

    Full batch when ``batch_size`` is None or at least ``n``; otherwise each step draws a random
    minibatch without replacement and ``epochs`` counts passes over the data. The learning rate
    follows a cosine decay to 10% so that the last steps settle instead of rattling. Returns the
    final params and the loss per step. ``loss_fn`` should be a cached (module-level or
    ``lru_cache``-built) function so that repeated fits of the same shapes reuse the compilation.
    """
    import jax.numpy as jnp

    n = X.shape[0]
    full = batch_size is None or batch_size >= n
    bs = n if full else int(batch_size)
    steps_per_epoch = 1 if full else math.ceil(n / bs)
    n_steps = max(1, int(epochs) * steps_per_epoch)
    run = _trainer(loss_fn, n, bs, n_steps, float(learning_rate), float(weight_decay))
    params, losses = run(
        params, jnp.asarray(X, dtype=jnp.float32), jnp.asarray(Y, dtype=jnp.float32), key
    )
    return params, np.asarray(losses)


@functools.lru_cache(maxsize=64)
def _trainer(loss_fn: Callable, n: int, bs: int, n_steps: int, lr: float, weight_decay: float):
    import jax
    import jax.numpy as jnp
    import optax

    full = bs >= n
    schedule = optax.cosine_decay_schedule(lr, n_steps, alpha=0.1)
    opt = (
        optax.adamw(schedule, weight_decay=weight_decay)
        if weight_decay > 0
        else optax.adam(schedule)
    )

    @jax.jit
    def run(params, Xj, Yj, key):
        # Per-step keys are split up front: a key chain carried through the scan puts the PRNG
        # hash into the step body even for losses that draw nothing, and it dominates compile time.
        keys = jax.random.split(key, n_steps)

        def step(carry, xs):
            i, k = xs
            p, s = carry
            if full:
                xb, yb, k_loss = Xj, Yj, k
            else:
                k_batch, k_loss = jax.random.split(k)
                idx = jax.random.choice(k_batch, n, (bs,), replace=False)
                xb, yb = Xj[idx], Yj[idx]
            loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb, k_loss, i, n_steps)
            updates, s = opt.update(grads, s, p)
            p = optax.apply_updates(p, updates)
            return (p, s), loss

        (params, _), losses = jax.lax.scan(
            step, (params, opt.init(params)), (jnp.arange(n_steps), keys)
        )
        return params, losses

    return run


def to_numpy_params(params: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in params.items()}


def to_jax_params(arrays: dict[str, np.ndarray], prefix: str = "p_") -> dict[str, Any]:
    """Params stored as ``{prefix}{name}`` in an ``.npz`` back to a JAX flat dict."""
    import jax.numpy as jnp

    return {k[len(prefix) :]: jnp.asarray(v) for k, v in arrays.items() if k.startswith(prefix)}
