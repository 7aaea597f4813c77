"""Baseline regressors with uncertainty, on the shared contract (:mod:`psplab.models.base`).

* ``ensemble`` — deep ensemble of MLPs with a Gaussian (mean, variance) head trained on the
  NLL; the members are vmapped and trained in one jit (Lakshminarayanan et al. 2017).
* ``dropout`` — MC dropout: dropout kept on at prediction, one mask per draw (Gal & Ghahramani 2016).
* ``rf`` — random forest; the predictive is the mixture of the trees' predictions widened by a
  noise term estimated out-of-bag, so the intervals are not overconfident (cf. Meinshausen 2006).

The Gaussian process lives in :mod:`psplab.models.gp` (re-exported here: ``gp`` is a baseline too).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from psplab.errors import InputError
from psplab.models._nn import (
    FULL_BATCH_ROWS,
    gaussian_head,
    init_mlp,
    mlp_apply,
    pad_rows,
    to_jax_params,
    to_numpy_params,
    train_adam,
)
from psplab.models.base import FunctionDrawsMixin, PreprocessedRegressor, store_params
from psplab.models.gp import GaussianProcess

__all__ = ["DeepEnsemble", "GaussianProcess", "MCDropout", "RandomForest"]


class _NetworkRegressor(PreprocessedRegressor):
    """Shared fitting of the JAX networks: sizes, Adam, divergence check, persistence."""

    def _validate_params_before_fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        from psplab.limits import require_at_most

        require_at_most(f"{self.model_name}.epochs", int(self.epochs), 100_000)
        if not self.hidden or min(int(h) for h in self.hidden) < 1:
            raise InputError(f"hidden must list positive layer widths, got {self.hidden!r}")
        require_at_most(f"{self.model_name}.hidden", max(int(h) for h in self.hidden), 4096)

    def _sizes(self, d: int, t: int) -> tuple[int, ...]:
        return (d, *(int(h) for h in self.hidden), self._n_outputs(t))

    def _train(self, loss, params, Z: np.ndarray, T: np.ndarray, key) -> None:
        n = Z.shape[0]
        batch = self.batch_size
        if batch is None:
            batch = None if n <= FULL_BATCH_ROWS else 256
        params, losses = train_adam(
            loss,
            params,
            Z,
            T,
            key=key,
            epochs=int(self.epochs),
            batch_size=batch,
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
        )
        if not np.all(np.isfinite(losses[-10:])):
            raise FloatingPointError(f"{self.model_name} training diverged; lower learning_rate")
        self.params_, self.loss_curve_ = params, losses
        self.n_inputs_ = Z.shape[1]

    def _model_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"p_{k}": v for k, v in to_numpy_params(self.params_).items()}
        return arrays, {"n_inputs": int(self.n_inputs_)}

    def _load_model_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.params_ = to_jax_params(arrays)
        self.n_inputs_ = int(meta["n_inputs"])


# ====================================================================== deep ensemble


class DeepEnsemble(_NetworkRegressor):
    """Deep ensemble: ``n_members`` MLPs with Gaussian heads, trained jointly in one jit.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths of every member.
    n_members : int
        Ensemble size.
    epochs, learning_rate, batch_size, weight_decay
        Adam settings (full batch up to :data:`FULL_BATCH_ROWS` rows when ``batch_size`` is
        None).
    input_transform, target_transform, target_bounds
        Shared preprocessing (:class:`~psplab.models.preprocessing.Preprocessor`).
    seed : int
        Seeds the members' initializations and minibatches.
    """

    model_name = "ensemble"

    def __init__(
        self,
        hidden: tuple[int, ...] | list[int] = (50, 50),
        n_members: int = 5,
        epochs: int = 2000,
        learning_rate: float = 3e-3,
        batch_size: int | None = None,
        weight_decay: float = 1e-4,
        input_transform: str = "log",
        target_transform: str | list[str] = "auto",
        target_bounds: list | None = None,
        seed: int = 0,
    ):
        store_params(self, locals())

    def _n_outputs(self, t: int) -> int:
        return 2 * t

    def _validate_params_before_fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        from psplab.limits import require_count

        super()._validate_params_before_fit(X, Y)
        require_count("ensemble.n_members", self.n_members, 100)

    def _fit_standardized(self, Z: np.ndarray, T: np.ndarray) -> None:
        import jax

        sizes = self._sizes(Z.shape[1], T.shape[1])
        k_init, k_train = jax.random.split(jax.random.PRNGKey(int(self.seed)))
        keys = jax.random.split(k_init, int(self.n_members))
        params = jax.vmap(lambda k: init_mlp(k, list(sizes)))(keys)
        self._train(_ensemble_loss(sizes), params, Z, T, k_train)

    def _mixture(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import jax.numpy as jnp

        Zp, n = pad_rows(Z)
        sizes = self._sizes(self.n_inputs_, self.n_targets_)
        mean, std = _ensemble_predict(sizes)(self.params_, jnp.asarray(Zp, jnp.float32))
        return np.asarray(mean, float)[:, :n], np.asarray(std, float)[:, :n]


@functools.lru_cache(maxsize=32)
def _ensemble_loss(sizes: tuple[int, ...]):
    import jax
    import jax.numpy as jnp

    n_layers, t = len(sizes) - 1, sizes[-1] // 2

    def member_nll(p, xb, yb, wb):
        mean, std = gaussian_head(mlp_apply(p, xb, n_layers), t)
        nll = jnp.sum(jnp.log(std) + 0.5 * ((yb - mean) / std) ** 2, axis=-1)
        return jnp.sum(wb * nll) / jnp.sum(wb)

    def loss(params, xb, yb, wb, key, step, n_steps):
        # Sum over members: each member's gradient only sees its own NLL.
        return jnp.sum(jax.vmap(member_nll, in_axes=(0, None, None, None))(params, xb, yb, wb))

    return loss


@functools.lru_cache(maxsize=32)
def _ensemble_predict(sizes: tuple[int, ...]):
    import jax

    n_layers, t = len(sizes) - 1, sizes[-1] // 2

    @jax.jit
    def predict(params, x):
        return jax.vmap(lambda p: gaussian_head(mlp_apply(p, x, n_layers), t))(params)

    return predict


# ====================================================================== MC dropout


class MCDropout(FunctionDrawsMixin, _NetworkRegressor):
    """MC dropout MLP with a learned per-target noise level.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths.
    rate : float
        Dropout probability on every hidden layer (training and prediction).
    epochs, learning_rate, batch_size, weight_decay
        Adam settings.
    n_predict_samples : int
        Dropout masks per prediction.
    input_transform, target_transform, target_bounds
        Shared preprocessing (:class:`~psplab.models.preprocessing.Preprocessor`).
    seed : int
        Seeds initialization, training masks and prediction masks.
    """

    model_name = "dropout"

    def __init__(
        self,
        hidden: tuple[int, ...] | list[int] = (100, 100),
        rate: float = 0.1,
        epochs: int = 2000,
        learning_rate: float = 3e-3,
        batch_size: int | None = None,
        weight_decay: float = 1e-4,
        n_predict_samples: int = 200,
        input_transform: str = "log",
        target_transform: str | list[str] = "auto",
        target_bounds: list | None = None,
        seed: int = 0,
    ):
        store_params(self, locals())

    def _n_outputs(self, t: int) -> int:
        return t

    def _validate_params_before_fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        from psplab.limits import require_at_most

        super()._validate_params_before_fit(X, Y)
        if not 0.0 <= float(self.rate) < 1.0:
            raise InputError(f"rate must be in [0, 1), got {self.rate}")
        require_at_most("dropout.n_predict_samples", int(self.n_predict_samples), 10_000)

    def _fit_standardized(self, Z: np.ndarray, T: np.ndarray) -> None:
        import jax
        import jax.numpy as jnp

        sizes = self._sizes(Z.shape[1], T.shape[1])
        k_init, k_train = jax.random.split(jax.random.PRNGKey(int(self.seed)))
        params = init_mlp(k_init, list(sizes))
        params["log_noise"] = jnp.full((T.shape[1],), math.log(0.3), jnp.float32)
        self._train(_dropout_loss(sizes, float(self.rate)), params, Z, T, k_train)

    def _draws(self, Z: np.ndarray, n_draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        import jax
        import jax.numpy as jnp

        Zp, n = pad_rows(Z)
        sizes = self._sizes(self.n_inputs_, self.n_targets_)
        means = _dropout_predict(sizes, float(self.rate))(
            self.params_, jnp.asarray(Zp, jnp.float32), jax.random.PRNGKey(int(seed)), int(n_draws)
        )
        means = np.asarray(means, float)[:, :n]
        noise = np.exp(np.asarray(self.params_["log_noise"], float)) + 1e-3
        return means, np.broadcast_to(noise, means.shape)

    def _mixture(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._draws(Z, int(self.n_predict_samples), int(self.seed) + 1)


@functools.lru_cache(maxsize=32)
def _dropout_loss(sizes: tuple[int, ...], rate: float):
    import jax
    import jax.numpy as jnp

    n_layers = len(sizes) - 1
    keep = 1.0 - rate

    def loss(p, xb, yb, wb, key, step, n_steps):
        keys = jax.random.split(key, n_layers)
        masks = [
            jax.random.bernoulli(keys[i], keep, (xb.shape[0], sizes[i + 1])) / keep
            for i in range(n_layers - 1)
        ]
        mean = mlp_apply(p, xb, n_layers, dropout=masks)
        std = jnp.exp(p["log_noise"]) + 1e-3
        nll = jnp.sum(jnp.log(std) + 0.5 * ((yb - mean) / std) ** 2, axis=-1)
        return jnp.sum(wb * nll) / jnp.sum(wb)

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


class RandomForest(PreprocessedRegressor):
    """Random forest whose predictive is the trees' mixture widened by an out-of-bag noise term.

    The per-tree predictions give the spread between plausible functions; alone they understate
    the error on new points (each leaf averages noisy targets), so a per-target noise variance
    ``s^2 = max(0, mean((y - oob_mean)^2 - oob_tree_var))`` is estimated from the out-of-bag
    predictions and added to every tree's Gaussian.

    Parameters
    ----------
    n_estimators, min_samples_leaf, max_features
        Passed to :class:`sklearn.ensemble.RandomForestRegressor`.
    input_transform, target_transform, target_bounds
        Shared preprocessing (:class:`~psplab.models.preprocessing.Preprocessor`).
    seed : int
        Random state of the forest.
    """

    model_name = "rf"

    def __init__(
        self,
        n_estimators: int = 300,
        min_samples_leaf: int = 1,
        max_features: float | str | None = 1.0,
        input_transform: str = "log",
        target_transform: str | list[str] = "auto",
        target_bounds: list | None = None,
        seed: int = 0,
    ):
        store_params(self, locals())

    def _validate_params_before_fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        from psplab.limits import require_count, require_memory

        require_count("rf.n_estimators", self.n_estimators, 5000)
        # About two nodes per training row and tree, ~40 bytes a node (with one target).
        nodes = 2.0 * X.shape[0] * int(self.n_estimators)
        require_memory(nodes * (32 + 8 * Y.shape[1]), f"a forest of {self.n_estimators} trees")

    def _fit_standardized(self, Z: np.ndarray, T: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestRegressor

        forest = RandomForestRegressor(
            n_estimators=int(self.n_estimators),
            min_samples_leaf=int(self.min_samples_leaf),
            max_features=self.max_features,
            bootstrap=True,
            random_state=int(self.seed),
            n_jobs=1,
        ).fit(Z, T if T.shape[1] > 1 else T[:, 0])
        self.forest_ = forest
        trees = [est.tree_ for est in forest.estimators_]
        # Flat arrays of all trees: enough to predict without sklearn objects (and to save).
        self.tree_offsets_ = np.cumsum([0] + [t.node_count for t in trees])
        self.left_ = np.concatenate([t.children_left for t in trees]).astype(np.int64)
        self.right_ = np.concatenate([t.children_right for t in trees]).astype(np.int64)
        self.feature_ = np.concatenate([t.feature for t in trees]).astype(np.int64)
        self.threshold_ = np.concatenate([t.threshold for t in trees])
        self.value_ = np.concatenate([t.value[:, :, 0] for t in trees])  # (nodes, t)
        self.noise_z_ = _oob_noise(forest, self.tree_predictions(Z), T)

    def tree_predictions(self, Z: np.ndarray) -> np.ndarray:
        """``(n_trees, n, t)`` predictions at scaled model inputs ``Z``, walking the node arrays.

        Parameters
        ----------
        Z : numpy.ndarray
            Model inputs, as :meth:`Preprocessor.model_inputs` returns them.

        Returns
        -------
        predictions : numpy.ndarray
            One prediction per tree, row and target (standardized modelled units).
        """
        n_trees = len(self.tree_offsets_) - 1
        Z = Z.astype(np.float32).astype(float)  # scikit-learn splits on float32 inputs
        out = np.empty((n_trees, Z.shape[0], self.value_.shape[1]))
        rows = np.arange(Z.shape[0])
        for k in range(n_trees):
            off = self.tree_offsets_[k]
            node = np.full(Z.shape[0], off)
            # A walk ends at a leaf in fewer steps than its tree has nodes (checked on load).
            for _ in range(int(self.tree_offsets_[k + 1] - off)):
                left = self.left_[node]
                leaf = left == -1
                if leaf.all():
                    break
                f = np.where(leaf, 0, self.feature_[node])
                nxt = np.where(Z[rows, f] <= self.threshold_[node], left, self.right_[node]) + off
                node = np.where(leaf, node, nxt)
            else:
                raise ValueError(f"tree {k} of the forest does not end in leaves")
            out[k] = self.value_[node]
        return out

    def _mixture(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        preds = self.tree_predictions(Z)
        return preds, np.broadcast_to(np.maximum(self.noise_z_, 1e-6), preds.shape)

    @property
    def noise_std_(self) -> np.ndarray:
        """Out-of-bag noise std ``(t,)`` in the modelled target units (``g``)."""
        self._check_fitted()
        return self.noise_z_ * self.prep_.y_scale

    def _model_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        names = ("tree_offsets", "left", "right", "feature", "threshold", "value", "noise_z")
        return {k: getattr(self, f"{k}_") for k in names}, {}

    def _load_model_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        _check_forest_arrays(arrays)
        for k, v in arrays.items():
            setattr(self, f"{k}_", v)


def _check_forest_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Refuse flat tree arrays that do not describe trees (a damaged or crafted model file).

    scikit-learn numbers a tree's nodes depth-first, so every child comes after its parent in
    its own tree: with that checked, a walk from a root reaches a leaf in fewer steps than the
    tree has nodes, and a self-loop or cycle (which made ``predict`` run forever) is refused.

    Parameters
    ----------
    arrays : dict
        ``tree_offsets``, ``left``, ``right``, ``feature``, ``threshold``, ``value``.

    Raises
    ------
    ValueError
        Naming what is wrong.
    """
    offsets = np.asarray(arrays["tree_offsets"])
    left, right = np.asarray(arrays["left"]), np.asarray(arrays["right"])
    n = left.shape[0] if left.ndim == 1 else -1
    if n < 1 or offsets.ndim != 1 or offsets.size < 2 or offsets[0] != 0 or offsets[-1] != n:
        raise ValueError("the tree offsets do not cover the node arrays")
    sizes = np.diff(offsets)
    others = [np.asarray(arrays[k]) for k in ("right", "feature", "threshold", "value")]
    if np.any(sizes < 1) or any(a.shape[:1] != (n,) for a in others) or others[3].ndim != 2:
        raise ValueError("the node arrays of the forest do not match")
    local = np.arange(n) - np.repeat(offsets[:-1], sizes)
    size = np.repeat(sizes, sizes)
    inner = left != -1
    children_ok = (left[inner] > local[inner]) & (right[inner] > local[inner])
    children_ok &= (left[inner] < size[inner]) & (right[inner] < size[inner])
    if not children_ok.all() or np.any(right[~inner] != -1):
        raise ValueError("a tree node points back to itself or out of its tree")
    feature, threshold, value = others[1], others[2], others[3]
    if np.any(feature[inner] < 0) or not (
        np.isfinite(threshold[inner]).all() and np.isfinite(value).all()
    ):
        raise ValueError("a split or leaf value of the forest is not valid")


def _oob_noise(forest, preds: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-target noise std: out-of-bag squared error less the trees' out-of-bag spread."""
    n = T.shape[0]
    inbag = np.zeros((len(forest.estimators_), n), dtype=bool)
    for k, idx in enumerate(forest.estimators_samples_):
        inbag[k, idx] = True
    oob = ~inbag
    counts = oob.sum(0)
    ok = counts >= 2
    if not ok.any():
        return np.zeros(T.shape[1])
    w = oob[:, ok, None].astype(float)
    m = (preds[:, ok] * w).sum(0) / counts[ok, None]
    v = (((preds[:, ok] - m) ** 2) * w).sum(0) / counts[ok, None]
    return np.sqrt(np.maximum(np.mean((T[ok] - m) ** 2 - v, axis=0), 0.0))
