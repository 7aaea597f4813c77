"""Bayesian hypernetwork regressor (Krueger et al. 2017, arXiv:1710.04759).

The base network is a ReLU MLP with weight normalization (Salimans & Kingma 2016): each unit's
weight vector is ``w = g * v / ||v||``. The directions ``v`` and the biases are point estimates;
the per-unit scales ``g`` (one per hidden and output unit, ``G`` in all) are random with an
approximate posterior ``q(g)`` given by a normalizing flow, the *hypernetwork*::

    z ~ N(0, I_G)  ->  K affine couplings (RealNVP, Dinh et al. 2017)  ->  g = mu + sigma * f(z)

Because every step is invertible with a triangular Jacobian, ``log q(g)`` is exact:
``log N(z) - sum log|det df/dz| - sum log sigma``. Training maximizes the ELBO

    E_q[ log p(y | x, g) ] - beta * KL(q(g) || p(g)),   p(g) = N(0, prior_std^2 I),

estimated with ``n_train_samples`` reparameterized draws per step, with ``beta`` annealed
linearly from 0 to ``kl_weight`` over the first ``anneal_fraction`` of the steps (KL annealing,
so the network first learns to fit and only then pays for its certainty). Inputs and targets
come from the shared preprocessing (:mod:`psplab.models.preprocessing`); all targets share one
network. The observation noise is a learned per-target constant (``noise="homoscedastic"``) or
a second network head (``"heteroscedastic"``).

Predictions draw ``n_predict_samples`` scale vectors ``g`` from the flow (fixed by ``seed``) and
form the posterior predictive as the mixture of the per-draw Gaussians.

With ``n_members = M > 1`` the approximate posterior is an equal-weight mixture of ``M`` such
hypernetwork posteriors, each trained from its own initialization (``q = 1/M sum_m q_m``, as
MultiSWAG mixes SWAG posteriors, Wilson & Izmailov 2020): the point-estimated directions ``v``
put each member in one mode of the weight posterior, and the mixture covers several. The draws
of a prediction are shared out among the members in turn.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from psplab.errors import InputError
from psplab.models._nn import FULL_BATCH_ROWS, to_jax_params, to_numpy_params
from psplab.models.base import FunctionDrawsMixin, PreprocessedRegressor, store_params

__all__ = ["BayesianHypernetwork"]

_MIN_NOISE_STD = 1e-3  # in standardized units: stops the likelihood from collapsing onto points


class BayesianHypernetwork(FunctionDrawsMixin, PreprocessedRegressor):
    """Bayesian hypernetwork: a weight-normalized MLP whose unit scales come from a flow.

    Parameters
    ----------
    hidden : tuple of int
        Widths of the base network's hidden layers.
    n_couplings : int
        Affine coupling layers in the hypernetwork flow (2: every scale is transformed once,
        conditioned on the other half).
    coupling_hidden : int
        Width of the small MLP inside each coupling.
    noise : str
        ``"homoscedastic"`` (one learned noise level per target) or ``"heteroscedastic"``.
    prior_std : float
        Standard deviation of the Gaussian prior on the unit scales ``g``.
    kl_weight : float
        Final weight of the KL term: 1 is the plain ELBO; the default 0.2 is a tempered
        ("cold") posterior (Wenzel et al. 2020): with ~100 rows the entropy cost of ~100
        stochastic scales otherwise dominates and gives too wide intervals.
    anneal_fraction : float
        Share of the training steps over which the KL weight rises linearly from 0.
    epochs : int
        Passes over the data (steps, with full batches). The directions ``v`` are point
        estimates and overfit tables of a few hundred rows long before 2000 steps; 300 steps
        with the cosine-decayed rate fit them as well as any longer run that was measured.
    learning_rate : float
        Adam's initial learning rate (cosine-decayed to 10 %).
    batch_size : int, optional
        Minibatch size; ``None`` means full batch up to 8192 rows, else 256.
    n_train_samples : int
        Draws of ``g`` per training step for the ELBO estimate.
    n_predict_samples : int
        Draws of ``g`` behind each prediction.
    calibration : str
        How the noise level is set. ``"holdout"`` (default), in one training run: for the first
        ``holdout_until`` of the steps a random ``holdout_fraction`` of the rows is left out of
        the likelihood; at that step the predictive on the left-out rows fixes a per-target
        factor on the noise std that maximizes their Gaussian likelihood (a flexible network
        drives its training residuals, and so its learned noise, below the true noise); the
        remaining steps train on all rows. ``"train"``: only remove from the learned noise
        variance the spread between draws that the ELBO folded into it. ``"none"``: use the
        learned noise as is. Below 30 rows ``"holdout"`` falls back to ``"train"``.
    holdout_fraction : float
        Share of the rows held out for the ``"holdout"`` calibration.
    holdout_until : float
        Share of the training steps run without the held-out rows.
    clip_norm : float, optional
        Global gradient-norm clip of every Adam step (``None``: no clipping).
    n_members : int
        Hypernetwork posteriors in the mixture (see the module notes), trained one after the
        other from their own initializations: ``M`` times the training time (the compiled
        program is shared). All members leave out the same rows for the ``"holdout"``
        calibration, and the noise factor is fitted to the *mixture's* probe predictive. Five
        members cut the error of one by about a tenth on the tables measured.
    input_transform, target_transform, target_bounds
        Shared preprocessing (:class:`~psplab.models.preprocessing.Preprocessor`).
    seed : int
        The only source of randomness (initialization, training draws, prediction draws).
    """

    model_name = "bhn"

    def __init__(
        self,
        hidden: tuple[int, ...] | list[int] = (50, 50),
        n_couplings: int = 2,
        coupling_hidden: int = 32,
        noise: str = "homoscedastic",
        prior_std: float = 1.0,
        kl_weight: float = 0.2,
        anneal_fraction: float = 0.3,
        epochs: int = 300,
        learning_rate: float = 1e-2,
        batch_size: int | None = None,
        n_train_samples: int = 1,
        n_predict_samples: int = 200,
        calibration: str = "holdout",
        holdout_fraction: float = 0.2,
        holdout_until: float = 0.7,
        clip_norm: float | None = 1.0,
        n_members: int = 5,
        input_transform: str = "log",
        target_transform: str | list[str] = "auto",
        target_bounds: list | None = None,
        seed: int = 0,
    ):
        store_params(self, locals())

    # ------------------------------------------------------------------ configuration
    def _config(self, n_in: int, n_targets: int) -> _Config:
        hidden = tuple(int(h) for h in self.hidden)
        n_out = n_targets * (2 if self.noise == "heteroscedastic" else 1)
        return _Config(
            sizes=(n_in, *hidden, n_out),
            n_targets=n_targets,
            n_couplings=int(self.n_couplings),
            coupling_hidden=int(self.coupling_hidden),
            heteroscedastic=self.noise == "heteroscedastic",
            prior_std=float(self.prior_std),
        )

    def _validate_params_before_fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        from psplab.limits import require_count, require_memory

        if self.noise not in ("homoscedastic", "heteroscedastic"):
            raise InputError(
                f"noise must be 'homoscedastic' or 'heteroscedastic', got {self.noise!r}"
            )
        if self.calibration not in ("holdout", "train", "none"):
            raise InputError(
                f"calibration must be 'holdout', 'train' or 'none', got {self.calibration!r}"
            )
        if not self.hidden or min(int(h) for h in self.hidden) < 1:
            raise InputError(f"hidden must list positive layer widths, got {self.hidden!r}")
        for name, value, limit in (
            ("bhn.n_members", self.n_members, 100),
            ("bhn.epochs", self.epochs, 100_000),
            ("bhn.n_predict_samples", self.n_predict_samples, 10_000),
            ("bhn.n_train_samples", self.n_train_samples, 64),
            ("bhn.hidden", max(int(h) for h in self.hidden), 4096),
        ):
            require_count(name, value, limit)
        # The run's standard-normal draws are drawn up front: steps x draws x unit scales.
        units = sum(int(h) for h in self.hidden) + Y.shape[1]
        steps = int(self.epochs) * max(1, -(-X.shape[0] // int(self.batch_size or X.shape[0])))
        require_memory(
            4.0 * steps * int(self.n_train_samples) * units,
            f"bhn.epochs={self.epochs} with n_train_samples={self.n_train_samples}",
            "lower the epochs or the training draws",
        )

    # ------------------------------------------------------------------ fitting
    def _fit_standardized(self, Z: np.ndarray, T: np.ndarray) -> None:
        import jax.numpy as jnp

        cfg = self._config(Z.shape[1], T.shape[1])
        n = Z.shape[0]
        full = self.batch_size is None and n <= FULL_BATCH_ROWS
        bs = n if full else int(self.batch_size or 256)
        Zp, Tp = Z, T
        if full:
            # Pad with zero-weight rows to a multiple of 32: folds of slightly different sizes
            # and repeated fits then share one compiled training program.
            size = _padded_rows(n)
            Zp, Tp = _pad_rows_to(Z, size), _pad_rows_to(T, size)
            bs = size
        n_pad = Zp.shape[0]
        weights = np.zeros(n_pad, dtype=np.float32)
        weights[:n] = 1.0
        seed = int(self.seed)
        holdout = self.calibration == "holdout" and n >= 30
        hold = np.zeros(0, dtype=int)
        if holdout:
            n_hold = max(5, int(round(float(self.holdout_fraction) * n)))
            hold = np.sort(np.random.default_rng(seed + 101).permutation(n)[:n_hold])
        steps_per_epoch = 1 if bs >= n_pad else math.ceil(n / bs)
        n_steps = max(1, int(self.epochs) * steps_per_epoch)
        switch = int(round(float(self.holdout_until) * n_steps)) if holdout else 0
        clip = None if self.clip_norm is None else float(self.clip_norm)
        start, segment, unravel = _trainer(cfg, n_pad, bs, n_steps, int(self.n_train_samples), clip)
        hyper = np.array(
            [float(self.learning_rate), float(self.kl_weight), float(self.anneal_fraction)],
            dtype=np.float32,
        )
        data = (jnp.asarray(Zp, jnp.float32), jnp.asarray(Tp, jnp.float32), jnp.asarray(hyper))
        states = [self._start_member(m, cfg, n_steps, start) for m in range(int(self.n_members))]
        self.config_ = cfg
        self.noise_factor_ = np.ones((int(self.n_members), T.shape[1]))
        # One compiled segment of Adam steps, called once per phase: steps [0, switch) without
        # the held-out rows, then the rest on all rows.
        probe = None
        if holdout:
            probe_weights = weights.copy()
            probe_weights[hold] = 0.0
            pw = jnp.asarray(probe_weights)
            states = [segment(st, *data[:2], pw, data[2], 0, switch) for st in states]
            self.params_ = [unravel(st[0]) for st in states]
            probe = self._probe(Z[hold], T[hold])
        w = jnp.asarray(weights)
        states = [segment(st, *data[:2], w, data[2], switch, n_steps) for st in states]
        losses = np.stack([np.asarray(st[2]) for st in states])
        if not np.all(np.isfinite(losses[:, -10:])):
            raise FloatingPointError("BHN training diverged (non-finite loss); lower learning_rate")
        self.params_ = [unravel(st[0]) for st in states]
        self.loss_curve_ = losses
        if probe is not None:
            self._carry_over_calibration(Z[hold], *probe)
        elif self.calibration == "train":
            self._remove_double_counted_spread(Z)

    def _start_member(self, m: int, cfg: _Config, n_steps: int, start):
        """Initial training state of member ``m`` (parameters and every random number)."""
        # All random numbers come from NumPy, seeded by `seed` and the member: eager JAX random
        # calls each compile a small program.
        seed = int(self.seed)
        rng = np.random.default_rng([seed, 1] if m == 0 else [seed, 1, m])
        eps = rng.standard_normal(
            (n_steps, int(self.n_train_samples), _n_units(cfg)), dtype=np.float32
        )
        batch_seed = int(rng.integers(2**31 - 1))
        return start(_flatten(_init_params(rng, cfg)), eps, batch_seed)

    def _probe(self, Z_hold: np.ndarray, T_hold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Noise factor and calibrated total variance on the held-out rows (probe networks)."""
        M = len(self.params_)
        means, stds = self._draws(Z_hold, _PROBE_DRAWS * M, _predict_seed(self.seed) + 1)
        mu = means.mean(axis=0)
        spread = means.var(axis=0)
        noise_var = (stds**2).mean(axis=0)
        # One factor for the mixture: the spread between draws is part of its width.
        factor = _best_noise_factor(T_hold, mu, spread, noise_var)
        return spread.mean(axis=0), (spread + factor**2 * noise_var).mean(axis=0)

    def _carry_over_calibration(
        self, Z_hold: np.ndarray, probe_spread: np.ndarray, probe_total: np.ndarray
    ) -> None:
        """Carry the probe's calibrated total variance over to the final networks.

        The last steps on all rows shrink the learned noise and also the spread between draws,
        so the noise makes up for the spread the final networks no longer give. Their spread on
        new rows is not measurable here; it lies between the probe's spread on the held-out
        rows (no shrinkage) and the final spread on those rows, which the final networks have
        now trained on (full shrinkage): take the midpoint.
        """
        spread_final, noise_final = self._spread_and_noise(Z_hold, _predict_seed(self.seed))
        spread_new = 0.5 * (probe_spread + spread_final)
        target = np.maximum(probe_total - spread_new, 0.1 * probe_total)
        self.noise_factor_ = np.sqrt(target / noise_final)

    def _remove_double_counted_spread(self, Z: np.ndarray) -> None:
        """``calibration="train"``: take the draws' spread out of the learned noise variance.

        The ELBO's optimal noise variance is ``E_q[(y - f_g(x))^2] = resid^2 + Var_q f``, so
        adding ``Var_q f`` again at prediction would count it twice.
        """
        M = len(self.params_)
        means, stds = self._draws(Z, int(self.n_predict_samples) * M, _predict_seed(self.seed))
        for m in range(M):  # draw i belongs to member i % M
            spread = means[m::M].var(axis=0).mean(axis=0)
            noise_var = (stds[m::M] ** 2).mean(axis=(0, 1))
            self.noise_factor_[m] = np.sqrt(np.clip(1.0 - spread / noise_var, 0.05, 1.0))

    def _spread_and_noise(self, Z: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """On ``Z``: the draws' spread ``(t,)`` and each member's noise ``(M, t)``.

        Both are means over the rows of variances; the noise is taken before the noise factor.
        """
        M = len(self.params_)
        means, stds = self._draws(Z, _PROBE_DRAWS * M, seed)
        spread = means.var(axis=0).mean(axis=0)
        stds = stds / self.noise_factor_[np.arange(stds.shape[0]) % M][:, None, :]
        per_draw = stds**2
        return spread, np.stack([per_draw[m::M].mean(axis=(0, 1)) for m in range(M)])

    # ------------------------------------------------------------------ prediction
    def _draws(self, Z: np.ndarray, n_draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-draw Gaussian means and stds, ``(m, n, t)`` each, in standardized units."""
        import jax.numpy as jnp

        # Fixed blocks of rows and draws: one compiled predictor serves every call, whatever
        # the number of rows or draws (tests, cross-validation folds, optimizers).
        Zp, n = _pad_to(Z, _ROW_BLOCK)
        G = _n_units(self.config_)
        # NumPy draws: a JAX random call would compile a program per number of draws.
        z = np.random.default_rng([int(seed), 2]).standard_normal((int(n_draws), G))
        predict = _predict_factory(self.config_)
        Zj = jnp.asarray(Zp, dtype=jnp.float32)
        M = len(self.params_)
        T = self.config_.n_targets
        mean_s = np.empty((int(n_draws), n, T))
        std_s = np.empty((int(n_draws), n, T))
        for m, params in enumerate(self.params_):
            # Draw i comes from member i % M: any number of draws shares the members out evenly.
            mine = np.arange(m, int(n_draws), M)
            if mine.size == 0:
                continue
            zp, _ = _pad_to(z[mine], _DRAW_BLOCK)
            zj = jnp.asarray(zp, dtype=jnp.float32)
            blocks_m, blocks_s = [], []
            for r in range(0, Zp.shape[0], _ROW_BLOCK):
                row_m, row_s = [], []
                for d in range(0, zp.shape[0], _DRAW_BLOCK):
                    m_b, s_b = predict(params, Zj[r : r + _ROW_BLOCK], zj[d : d + _DRAW_BLOCK])
                    row_m.append(np.asarray(m_b))
                    row_s.append(np.asarray(s_b))
                blocks_m.append(np.concatenate(row_m, axis=0))
                blocks_s.append(np.concatenate(row_s, axis=0))
            mean_s[mine] = np.concatenate(blocks_m, axis=1)[: mine.size, :n]
            std_s[mine] = np.concatenate(blocks_s, axis=1)[: mine.size, :n] * self.noise_factor_[m]
        return mean_s, std_s

    def _mixture(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._draws(Z, int(self.n_predict_samples), _predict_seed(self.seed))

    # ------------------------------------------------------------------ persistence
    def _model_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        # Member 0 under "p_", member m under "m{m}_".
        arrays = {}
        for m, params in enumerate(self.params_):
            prefix = "p_" if m == 0 else f"m{m}_"
            arrays.update({f"{prefix}{k}": v for k, v in to_numpy_params(params).items()})
        arrays.update(
            loss_curve=np.asarray(self.loss_curve_), noise_factor=np.asarray(self.noise_factor_)
        )
        meta = {
            "n_inputs": int(self.config_.sizes[0]),
            "n_targets": int(self.config_.n_targets),
            "n_members": len(self.params_),
        }
        return arrays, meta

    def _load_model_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.config_ = self._config(int(meta["n_inputs"]), int(meta["n_targets"]))
        self.params_ = [to_jax_params(arrays, "p_")] + [
            to_jax_params(arrays, f"m{m}_") for m in range(1, int(meta["n_members"]))
        ]
        self.loss_curve_ = np.atleast_2d(arrays["loss_curve"])
        self.noise_factor_ = np.atleast_2d(arrays["noise_factor"])


# ====================================================================== the model's maths


def _predict_seed(seed: int) -> int:
    # Prediction draws use their own stream so they do not repeat the training draws.
    return int(seed) * 7919 + 17


# ====================================================================== the model's maths


@dataclass(frozen=True)
class _Config:
    """Hashable architecture description (so jitted functions can be cached per shape)."""

    sizes: tuple[int, ...]
    n_targets: int
    n_couplings: int
    coupling_hidden: int
    heteroscedastic: bool
    prior_std: float


def _n_units(cfg: _Config) -> int:
    """Number of stochastic scales: one per hidden and output unit."""
    return int(sum(cfg.sizes[1:]))


def _masks(cfg: _Config):
    import jax.numpy as jnp

    G = _n_units(cfg)
    idx = np.arange(G)
    # Alternate even/odd halves so each coordinate is transformed by every other coupling.
    return [jnp.asarray((idx % 2 == (k % 2)).astype(np.float32)) for k in range(cfg.n_couplings)]


def _init_params(rng: np.random.Generator, cfg: _Config) -> dict[str, np.ndarray]:
    """Initial parameters (float32 NumPy arrays) drawn from ``rng``."""
    sizes = cfg.sizes
    G = _n_units(cfg)
    f32 = np.float32
    p: dict[str, np.ndarray] = {}
    mu = []
    for i in range(len(sizes) - 1):
        # Directions with unit column norm: Adam's step is then a sizeable *relative* change of
        # each direction (with N(0, 1) entries the angles barely move and the net underfits).
        p[f"V{i}"] = (rng.standard_normal((sizes[i], sizes[i + 1])) / math.sqrt(sizes[i])).astype(
            f32
        )
        p[f"b{i}"] = np.zeros((sizes[i + 1],), f32)
        last = i == len(sizes) - 2
        # Scales that keep unit variance through ReLU layers (sqrt 2) and a small output layer.
        mu.append(np.full(sizes[i + 1], 1.0 if last else math.sqrt(2.0), dtype=f32))
    p["mu"] = np.concatenate(mu)
    p["log_sigma"] = np.full((G,), math.log(0.05), f32)
    H = cfg.coupling_hidden
    for k in range(cfg.n_couplings):
        p[f"c{k}_W0"] = (rng.standard_normal((G, H)) * math.sqrt(2.0 / G)).astype(f32)
        p[f"c{k}_b0"] = np.zeros((H,), f32)
        # Zero output layer: every coupling starts as the identity.
        p[f"c{k}_W1"] = np.zeros((H, 2 * G), f32)
        p[f"c{k}_b1"] = np.zeros((2 * G,), f32)
    p["log_noise"] = np.full((cfg.n_targets,), math.log(0.3), f32)
    return p


def _flatten(params: dict[str, np.ndarray]) -> np.ndarray:
    """One flat float32 vector, leaves in sorted-name order (the order of :func:`_unraveler`)."""
    return np.concatenate([np.ravel(params[k]) for k in sorted(params)]).astype(np.float32)


def _unraveler(cfg: _Config):
    """Inverse of :func:`_flatten` for ``cfg``'s parameters, traceable by JAX."""
    shapes = {k: v.shape for k, v in _init_params(np.random.default_rng(0), cfg).items()}
    layout = []
    offset = 0
    for k in sorted(shapes):
        size = int(np.prod(shapes[k], dtype=int))
        layout.append((k, offset, size, shapes[k]))
        offset += size

    def unravel(flat):
        return {k: flat[o : o + n].reshape(shape) for k, o, n, shape in layout}

    return unravel


def _flow(p: dict[str, Any], z, cfg: _Config):
    """Map ``z (S, G)`` to scales ``g (S, G)`` and ``log|det dg/dz|`` per draw."""
    import jax.numpy as jnp

    G = _n_units(cfg)
    x = z
    logdet = jnp.zeros(z.shape[:-1])
    for k, m in enumerate(_masks(cfg)):
        xm = x * m
        h = jnp.maximum(xm @ p[f"c{k}_W0"] + p[f"c{k}_b0"], 0.0)
        st = h @ p[f"c{k}_W1"] + p[f"c{k}_b1"]
        s = jnp.tanh(st[..., :G]) * (1.0 - m)  # bounded log-scales keep the flow well conditioned
        t = st[..., G:] * (1.0 - m)
        x = xm + (1.0 - m) * (x * jnp.exp(s) + t)
        logdet = logdet + s.sum(-1)
    g = p["mu"] + jnp.exp(p["log_sigma"]) * x
    logdet = logdet + p["log_sigma"].sum()
    return g, logdet


def _base_apply(p: dict[str, Any], g, x, cfg: _Config):
    """Weight-normalized MLP with unit scales ``g (G,)`` on ``x (n, d)`` -> ``(n, n_out)``."""
    import jax.numpy as jnp

    sizes = cfg.sizes
    h = x
    off = 0
    n_layers = len(sizes) - 1
    for i in range(n_layers):
        V = p[f"V{i}"]
        width = sizes[i + 1]
        gi = g[off : off + width]
        off += width
        W = V * (gi / jnp.sqrt(jnp.sum(V * V, axis=0) + 1e-12))
        h = h @ W + p[f"b{i}"]
        if i < n_layers - 1:
            h = jnp.maximum(h, 0.0)
    return h


def _heads(p: dict[str, Any], out, cfg: _Config):
    """Split the output into mean and log-variance (standardized units)."""
    import jax
    import jax.numpy as jnp

    t = cfg.n_targets
    mean = out[..., :t]
    if cfg.heteroscedastic:
        std = jax.nn.softplus(out[..., t:] + math.log(math.e**0.3 - 1.0)) + _MIN_NOISE_STD
    else:
        std = jnp.exp(p["log_noise"]) + _MIN_NOISE_STD
        std = jnp.broadcast_to(std, mean.shape)
    return mean, std


def _pad_to(A: np.ndarray, multiple: int) -> tuple[np.ndarray, int]:
    n = A.shape[0]
    return _pad_rows_to(A, -(-n // multiple) * multiple), n


def _padded_rows(n: int) -> int:
    """Training rows after padding: the next multiple of 32."""
    return -(-n // 32) * 32


def _pad_rows_to(A: np.ndarray, size: int) -> np.ndarray:
    n = A.shape[0]
    if size <= n:
        return A
    return np.concatenate([A, np.repeat(A[:1], size - n, axis=0)])


def _best_noise_factor(
    y: np.ndarray, mu: np.ndarray, spread: np.ndarray, noise_var: np.ndarray
) -> np.ndarray:
    """Per-target noise-std factor maximizing the Gaussian likelihood of held-out rows.

    ``y, mu, spread, noise_var`` are ``(n_hold, t)`` in standardized units: truths, predictive
    means, draw-to-draw variances and mean noise variances of the probe network.
    """
    factors = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))
    best = np.empty(y.shape[1])
    for j in range(y.shape[1]):
        var = spread[None, :, j] + factors[:, None] ** 2 * noise_var[None, :, j]
        ll = -0.5 * np.sum(np.log(var) + (y[None, :, j] - mu[None, :, j]) ** 2 / var, axis=1)
        best[j] = factors[int(np.argmax(ll))]
    return best


_ROW_BLOCK = 128  # rows per call of the compiled predictor
_DRAW_BLOCK = 64  # draws of g per call of the compiled predictor
_PROBE_DRAWS = 64  # draws of g behind the held-out predictive used for calibration


def _compiler_options() -> dict:
    """XLA options for the BHN's compiled programs.

    On a CPU, compiling is a large share of a first fit of a few hundred rows. XLA's newer CPU
    fusion emitters cost about a third more compile time on these loops of tiny ops than the
    classic ones, so they are off. Full LLVM optimization stays on: without it the training
    loop and the predictor run several times slower.
    """
    return {"xla_cpu_use_fusion_emitters": False}


@functools.lru_cache(maxsize=32)
def _trainer(cfg: _Config, n: int, bs: int, n_steps: int, n_samples: int, clip_norm: float | None):
    """Compiled training pieces ``(start, segment, unravel)`` for one architecture and size.

    ``start(flat, eps, batch_seed)`` initializes Adam on the flat parameter vector and holds
    the run's standard-normal draws ``eps (n_steps, n_samples, G)``;
    ``segment(state, X, Y, w, hyper, first, stop)`` runs Adam steps ``first..stop-1`` in one
    jitted ``fori_loop`` (dynamic bounds, so every phase and every fit of the same shapes reuses
    one compilation). ``hyper = [learning_rate, kl_weight, anneal_fraction]`` is an argument,
    not a constant, so fits that differ only in those (the tuning grid) share the program too.
    Rows with weight 0 (padding, held-out rows) do not enter the likelihood. ``unravel`` turns
    the flat parameter vector back into the dict.
    """
    import jax
    import jax.numpy as jnp
    import optax

    log2pi = math.log(2.0 * math.pi)
    full = bs >= n
    # Adam and the clip work on one flat vector: per-leaf updates of ~25 small arrays cost a
    # kernel launch each per step, which on a CPU dominates the cost of these tiny matrices.
    unravel = _unraveler(cfg)
    opt = optax.scale_by_adam()
    if clip_norm is not None:
        # A one-draw ELBO gradient is occasionally huge; unclipped, such a step can throw the
        # network into a poor optimum it never leaves.
        opt = optax.chain(optax.clip_by_global_norm(clip_norm), opt)

    def loss(p, xb, yb, wb, n_eff, z, step, kl_weight, anneal_fraction):
        g, logdet = _flow(p, z, cfg)
        log_q = -0.5 * jnp.sum(z**2 + log2pi, axis=-1) - logdet
        log_prior = -0.5 * jnp.sum(
            (g / cfg.prior_std) ** 2 + log2pi + 2 * math.log(cfg.prior_std), axis=-1
        )
        out = jax.vmap(lambda gi: _base_apply(p, gi, xb, cfg))(g)
        mean, std = _heads(p, out, cfg)
        nll = 0.5 * (log2pi + 2.0 * jnp.log(std) + ((yb - mean) / std) ** 2)
        nll_row = nll.sum(-1).mean(0)  # sum over targets, mean over draws
        data = jnp.sum(wb * nll_row) / jnp.maximum(jnp.sum(wb), 1.0)
        ramp = jnp.clip(step / jnp.maximum(anneal_fraction * n_steps, 1.0), 0.0, 1.0)
        kl = jnp.mean(log_q - log_prior)
        return data + kl_weight * ramp * kl / n_eff

    @functools.partial(jax.jit, compiler_options=_compiler_options())
    def start(flat, eps, batch_seed):
        # All random numbers come in from outside: a PRNG inside the loop body would be
        # compiled into it, and that compilation costs more than the few kB these arrays take.
        if full:
            batch_keys = jnp.zeros((n_steps,))
        else:
            batch_keys = jax.random.split(jax.random.PRNGKey(batch_seed), n_steps)
        losses = jnp.full((n_steps,), jnp.nan, jnp.float32)
        return flat, opt.init(flat), losses, eps, batch_keys

    @functools.partial(jax.jit, compiler_options=_compiler_options())
    def segment(state, Xj, Yj, w, hyper, first, stop):
        flat, opt_state, losses, eps, batch_keys = state
        n_eff = jnp.sum(w)
        lr, kl_weight, anneal_fraction = hyper[0], hyper[1], hyper[2]

        def body(i, carry):
            p, s, L = carry
            if full:
                xb, yb, wb = Xj, Yj, w
            else:
                idx = jax.random.choice(batch_keys[i], n, (bs,), replace=False)
                xb, yb, wb = Xj[idx], Yj[idx], w[idx]
            value, grads = jax.value_and_grad(
                lambda f: loss(unravel(f), xb, yb, wb, n_eff, eps[i], i, kl_weight, anneal_fraction)
            )(p)
            updates, s = opt.update(grads, s, p)
            # Adam with a cosine decay of the learning rate to 10% (optax.cosine_decay_schedule
            # with alpha=0.1), written out so that the rate is an argument.
            frac = jnp.minimum(i, n_steps) / n_steps
            rate = lr * (0.9 * 0.5 * (1.0 + jnp.cos(jnp.pi * frac)) + 0.1)
            return p - rate * updates, s, L.at[i].set(value)

        # Dynamic loop bounds: both phases run the same compiled loop.
        flat, opt_state, losses = jax.lax.fori_loop(first, stop, body, (flat, opt_state, losses))
        return flat, opt_state, losses, eps, batch_keys

    def unravel_numpy(flat):
        # For the callers, in NumPy: eager JAX slices would each compile a small program.
        return unravel(np.asarray(flat))

    return start, segment, unravel_numpy


@functools.lru_cache(maxsize=32)
def _predict_factory(cfg: _Config):
    import jax

    @functools.partial(jax.jit, compiler_options=_compiler_options())
    def predict(p, x, z):
        g, _ = _flow(p, z, cfg)
        out = jax.vmap(lambda gi: _base_apply(p, gi, x, cfg))(g)
        return _heads(p, out, cfg)

    return predict
