"""Shared helpers for the JAX network models: padding, MLPs, Gaussian heads, Adam in ``lax.scan``.

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

#: Largest training set the networks fit full-batch; larger ones take minibatches of 256 rows.
#: Full batches are the cheaper way to spend the same epochs on a CPU.
FULL_BATCH_ROWS = 8192

# ----------------------------------------------------------------------------- predictive helpers


def pad_rows(A: np.ndarray, minimum: int = 16) -> tuple[np.ndarray, int]:
    """Pad rows (with copies of row 0) up to a power of two.

    Jitted predictors compile once per input shape; bucketing the row count keeps callers that
    predict on varying numbers of rows (optimizers, tests) from recompiling every call.

    Parameters
    ----------
    A : numpy.ndarray
        ``(n, ...)`` rows.
    minimum : int
        Smallest padded size.

    Returns
    -------
    padded : numpy.ndarray
        ``(size, ...)``.
    n : int
        The number of real rows.
    """
    n = A.shape[0]
    size = max(minimum, 1 << max(n - 1, 0).bit_length())
    if size == n:
        return A, n
    return np.concatenate([A, np.repeat(A[:1], size - n, axis=0)]), n


# ----------------------------------------------------------------------------- JAX pieces


def init_dense(key, n_in: int, n_out: int, gain: float = 1.0):
    """He/Glorot-style normal init for a dense layer.

    Parameters
    ----------
    key : jax.Array
        PRNG key.
    n_in, n_out : int
        Layer sizes.
    gain : float
        Scale of the weights times ``1 / sqrt(n_in)``.

    Returns
    -------
    W, b : jax.Array
        Weights ``(n_in, n_out)`` and zero biases.
    """
    import jax
    import jax.numpy as jnp

    W = jax.random.normal(key, (n_in, n_out), dtype=jnp.float32) * (gain / math.sqrt(max(n_in, 1)))
    return W, jnp.zeros((n_out,), dtype=jnp.float32)


def init_mlp(key, sizes: list[int], prefix: str = "") -> dict[str, Any]:
    """Flat parameters of a ReLU MLP.

    Parameters
    ----------
    key : jax.Array
        PRNG key.
    sizes : list of int
        Layer sizes, inputs first.
    prefix : str
        Prefix of the parameter names.

    Returns
    -------
    params : dict
        ``{prefix}W{i}`` and ``{prefix}b{i}`` per layer.
    """
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
    """Forward pass of :func:`init_mlp`'s network.

    Parameters
    ----------
    params : dict
        As :func:`init_mlp` made them.
    x : jax.Array
        Inputs ``(n, d)``.
    n_layers : int
        Number of dense layers.
    prefix : str
        Prefix of the parameter names.
    dropout : list of jax.Array, optional
        One mask per hidden layer.

    Returns
    -------
    out : jax.Array
        ``(n, sizes[-1])``.
    """
    import jax.numpy as jnp

    h = x
    for i in range(n_layers):
        h = h @ params[f"{prefix}W{i}"] + params[f"{prefix}b{i}"]
        if i < n_layers - 1:
            h = jnp.maximum(h, 0.0)
            if dropout is not None:
                h = h * dropout[i]
    return h


def gaussian_head(out, t: int, min_std: float = 1e-3):
    """Split a network output into a mean and a positive std (standardized units).

    The softplus offset makes an untrained head start at std ~0.3, a calm start for the NLL.

    Parameters
    ----------
    out : jax.Array
        ``(..., 2t)`` network outputs.
    t : int
        Number of targets.
    min_std : float
        Floor of the std.

    Returns
    -------
    mean, std : jax.Array
        Each ``(..., t)``.
    """
    import jax

    std = jax.nn.softplus(out[..., t:] + math.log(math.e**0.3 - 1.0)) + min_std
    return out[..., :t], std


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
    """Minimize ``loss_fn(params, xb, yb, wb, key, step, n_steps)`` with Adam, in one jit.

    Full batch when ``batch_size`` is None or at least ``n``: the rows are then padded to a
    multiple of 64 with weight 0 (``wb``), so that fits of slightly different sizes (the folds
    of a cross-validation) share one compiled program. Otherwise each step draws a random
    minibatch without replacement (all weights 1) and ``epochs`` counts passes over the data. The learning rate
    follows a cosine decay to 10 % so that the last steps settle instead of rattling.
    ``loss_fn`` should be a cached (module-level or ``lru_cache``-built) function so that
    repeated fits of the same shapes reuse the compilation.

    Parameters
    ----------
    loss_fn : callable
        The loss.
    params : dict
        Initial parameters (a pytree).
    X, Y : numpy.ndarray
        Training inputs and targets.
    key : jax.Array
        PRNG key of the minibatches and the loss's randomness.
    epochs : int
        Passes over the data.
    batch_size : int, optional
        Minibatch size (``None``: full batch).
    learning_rate : float
        Initial Adam step.
    weight_decay : float
        AdamW decay (0: plain Adam).

    Returns
    -------
    params : dict
        The trained parameters.
    losses : numpy.ndarray
        The loss at every step.
    """
    import jax.numpy as jnp

    n = X.shape[0]
    full = batch_size is None or batch_size >= n
    weights = np.ones(n, dtype=np.float32)
    if full:
        size = -(-n // 64) * 64
        X = np.concatenate([X, np.repeat(X[:1], size - n, axis=0)])
        Y = np.concatenate([Y, np.repeat(Y[:1], size - n, axis=0)])
        weights = np.r_[weights, np.zeros(size - n, dtype=np.float32)]
        n = size
    bs = n if full else int(batch_size)
    steps_per_epoch = 1 if full else math.ceil(n / bs)
    n_steps = max(1, int(epochs) * steps_per_epoch)
    run = _trainer(loss_fn, n, bs, n_steps, float(learning_rate), float(weight_decay))
    data = (jnp.asarray(X, jnp.float32), jnp.asarray(Y, jnp.float32), jnp.asarray(weights))
    params, losses = run(params, *data, key)
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
    def run(params, Xj, Yj, Wj, key):
        # Per-step keys are split up front: a key chain carried through the scan puts the PRNG
        # hash into the step body even for losses that draw nothing, and it dominates compile time.
        keys = jax.random.split(key, n_steps)

        def step(carry, xs):
            i, k = xs
            p, s = carry
            if full:
                xb, yb, wb, k_loss = Xj, Yj, Wj, k
            else:
                k_batch, k_loss = jax.random.split(k)
                idx = jax.random.choice(k_batch, n, (bs,), replace=False)
                xb, yb, wb = Xj[idx], Yj[idx], Wj[idx]
            loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb, wb, k_loss, i, n_steps)
            updates, s = opt.update(grads, s, p)
            p = optax.apply_updates(p, updates)
            return (p, s), loss

        (params, _), losses = jax.lax.scan(
            step, (params, opt.init(params)), (jnp.arange(n_steps), keys)
        )
        return params, losses

    return run


def to_numpy_params(params: dict[str, Any]) -> dict[str, np.ndarray]:
    """Parameters as NumPy arrays (for ``.npz``).

    Parameters
    ----------
    params : dict
        Name -> JAX array.

    Returns
    -------
    arrays : dict
        Name -> NumPy array.
    """
    return {k: np.asarray(v) for k, v in params.items()}


def to_jax_params(arrays: dict[str, np.ndarray], prefix: str = "p_") -> dict[str, Any]:
    """Parameters stored as ``{prefix}{name}`` in an ``.npz`` back to a JAX flat dict.

    Parameters
    ----------
    arrays : dict
        Name -> NumPy array.
    prefix : str
        Prefix that marks the parameters.

    Returns
    -------
    params : dict
        Name (prefix removed) -> JAX array.
    """
    import jax.numpy as jnp

    return {k[len(prefix) :]: jnp.asarray(v) for k, v in arrays.items() if k.startswith(prefix)}
