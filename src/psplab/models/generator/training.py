r"""Variational training of the generator: the objective and the compiled Adam loop.

Objective
---------
Let field ``i`` have processing features ``x_i`` and measured descriptors ``s_i``
(:mod:`~psplab.models.generator.descriptors`, standardized). A draw of the hypernetwork's
noise ``z`` gives unit scales ``g = h(z)`` and so one conditioning network; a draw of the
spatial noise ``eps`` gives one image ``D_w(eps; c(x; g))``. The model of the data is

.. math::

    s_i \mid x_i, g \sim \mathcal N\!\big(m_g(x_i), \operatorname{diag}\sigma^2\big), \qquad
    m_g(x) = \mathbb E_\varepsilon\, s\big(D_w(\varepsilon; c(x; g))\big),

a Gaussian *synthetic likelihood* (Wood 2010; Price et al. 2018) on the expected descriptors
of the images one network makes for the recipe, with a learned noise ``sigma`` per
descriptor. Training maximizes the evidence lower bound over ``q(g)`` (the affine
hypernetwork), the decoder weights ``w`` and ``sigma``:

.. math::

    \mathcal L = \sum_i \mathbb E_{q(g)} \log \mathcal N\!\big(s_i; \hat m_g(x_i), \sigma^2\big)
      - \beta\, \mathrm{KL}\big(q(g) \,\|\, \mathcal N(0, s_p^2 I)\big),

with ``m_g`` estimated by the mean over ``n_aleatoric`` noise draws (one network draw per
field and step, reparameterized), the KL in closed form, and ``beta`` rising linearly from 0
to ``kl_weight`` over the first 30 % of the steps.

Why this objective: two images of one recipe are different random arrangements, and which
grain carries which label is arbitrary, so a pixel-wise likelihood (a VAE's) would score the
arrangement rather than the microstructure. What the process determines is the *statistics*
of the field -- grain density, boundary and particle two-point correlations -- so the data
enter through them, as in descriptor-based reconstruction (MCRpy: Seibert et al. 2022;
Bostanabad et al. 2018), but with a decoder that makes a new image from noise in one pass
instead of an optimization per image. The variational treatment of ``g`` is what gives each
``z`` a different plausible network: where many recipes constrain a unit's scale ``q``
narrows, elsewhere it keeps the prior's spread, so images of recipes far from the training
ones disagree more between networks.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from psplab.models.generator import network as net
from psplab.models.generator.descriptors import DescriptorLayout, generated_descriptors

# XLA's RngBitGenerator: the default threefry PRNG compiles ~20x slower for the training
# step's millions of noise values (30 s of a tiny fit's compilation on a 2-core CPU).
PRNG_IMPL = "rbg"
MIN_NOISE = 0.02  # floor of sigma (standardized units): stops the fit chasing single fields
ANNEAL_FRACTION = 0.3


@dataclass(frozen=True)
class TrainConfig:
    """Hashable training set-up: one compiled program per config.

    The data size, step count, learning rate and KL weight are not part
    of it (they are arguments of the compiled program), so fits on other data or with other
    schedules reuse the compilation.

    Attributes
    ----------
    arch : Architecture
        The networks.
    layout : DescriptorLayout
        The descriptors.
    grid : int
        Training image size (pixels per side).
    batch : int
        Fields per step.
    n_aleatoric : int
        Images per field and step (noise draws behind ``m_g``).
    chunk : int
        Steps between progress reports and divergence checks.
    prior_std : float
        ``s_p``, the prior standard deviation of the unit scales.
    """

    arch: net.Architecture
    layout: DescriptorLayout
    grid: int
    batch: int
    n_aleatoric: int
    chunk: int
    prior_std: float


@dataclass(frozen=True)
class Schedule:
    """The run's numbers that do not shape the compiled program.

    Attributes
    ----------
    n_steps : int
        Total Adam steps (the learning rate decays and the KL weight rises over them).
    n_fields : int
        Training rows (the KL is shared out over them).
    learning_rate : float
        Adam's initial rate (cosine decay to 10 %).
    kl_weight : float
        Final ``beta``.
    """

    n_steps: int
    n_fields: int
    learning_rate: float
    kl_weight: float

    def as_array(self) -> np.ndarray:
        """``[n_steps, n_fields, learning_rate, kl_weight]`` (float32)."""
        head = [self.n_steps, self.n_fields, self.learning_rate, self.kl_weight]
        return np.asarray(head, dtype=np.float32)


def init_training_params(rng: np.random.Generator, cfg: TrainConfig) -> dict[str, np.ndarray]:
    """Network parameters plus the likelihood's log noise levels."""
    p = net.init_params(rng, cfg.arch)
    p["log_noise"] = np.full(cfg.layout.size, math.log(0.3), np.float32)
    return p


def _loss(p, batch, key, step, cfg: TrainConfig, hyper, desc_mean, desc_scale):
    """Negative ELBO per field (standardized descriptor units), and its parts.

    ``batch = (X, S, M, F)``: features, standardized descriptors and which of them the field
    has, and the field's particle area fraction (the level its particle field is cut at).
    ``hyper`` is :meth:`Schedule.as_array`.
    """
    import jax
    import jax.numpy as jnp

    xb, sb, mb, fb = batch
    arch = cfg.arch
    b, k = xb.shape[0], cfg.n_aleatoric
    keys = jax.random.split(key, 4)
    if arch.conditional:
        g = net.unit_scales(p, jax.random.normal(keys[0], (b, arch.n_latent)))
    else:
        g = None
    film = jnp.repeat(net.condition(p, g, xb, arch), k, axis=0)
    noises = [
        jax.random.normal(kk, (b * k,) + shape)
        for kk, shape in zip(keys[1:], net.noise_shapes(cfg.grid, arch), strict=True)
    ]
    logits = net.decode(p, film, noises, arch, fraction=jnp.repeat(fb, k))
    desc = generated_descriptors(logits, cfg.layout, arch.grain_channels)
    mean = ((desc - desc_mean) / desc_scale).reshape(b, k, -1).mean(axis=1)
    sigma = jnp.exp(p["log_noise"]) + MIN_NOISE
    nll = jnp.sum(mb * (0.5 * ((sb - mean) / sigma) ** 2 + jnp.log(sigma)), axis=-1)
    kl = net.kl_divergence(p, cfg.prior_std) if arch.conditional else jnp.zeros(())
    ramp = jnp.clip(step / jnp.maximum(ANNEAL_FRACTION * hyper[0], 1.0), 0.0, 1.0)
    data = jnp.mean(nll)
    return data + hyper[3] * ramp * kl / hyper[1], (data, kl)


@functools.lru_cache(maxsize=8)
def compiled_trainer(cfg: TrainConfig):
    """``(init_opt, run_step)`` for ``cfg``.

    ``run_step(params, opt_state, data, idx, key, step, hyper, desc_mean, desc_scale)``
    (``data`` the tuple ``(X, S, M, F)`` of :func:`_loss`'s per-field arrays, ``hyper``
    :meth:`Schedule.as_array`) runs one Adam step on the fields ``idx (batch,)`` and returns
    the new parameters, optimizer state and the losses ``(3,)`` (total, data term, KL).
    One compiled step called from Python rather than a ``lax.scan`` over many: XLA's CPU
    backend runs the convolutions inside a loop body several times slower than at top level.
    """
    import jax
    import jax.numpy as jnp
    import optax

    # One-draw ELBO gradients are occasionally huge; clipping keeps such a step harmless.
    opt = optax.chain(optax.clip_by_global_norm(5.0), optax.scale_by_adam())

    @jax.jit
    def run_step(params, opt_state, data, idx, key, step, hyper, desc_mean, desc_scale):
        batch = tuple(a[idx] for a in data)
        (value, (fit, kl)), grads = jax.value_and_grad(_loss, has_aux=True)(
            params, batch, key, step, cfg, hyper, desc_mean, desc_scale
        )
        updates, opt_state = opt.update(grads, opt_state, params)
        # Adam with a cosine decay of the rate to 10 % (optax.cosine_decay_schedule with
        # alpha=0.1), written out so that the step count is an argument.
        frac = jnp.minimum(step / hyper[0], 1.0)
        rate = hyper[2] * (0.1 + 0.9 * 0.5 * (1.0 + jnp.cos(jnp.pi * frac)))
        params = jax.tree_util.tree_map(lambda a, u: a - rate * u, params, updates)
        return params, opt_state, jnp.stack([value, fit, kl])

    return opt.init, run_step


def train(
    params: dict[str, np.ndarray],
    cfg: TrainConfig,
    schedule: Schedule,
    data: tuple[np.ndarray, ...],
    desc_mean: np.ndarray,
    desc_scale: np.ndarray,
    seed: int,
    progress=None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run ``schedule.n_steps`` Adam steps; return the final parameters and the loss per step.

    Parameters
    ----------
    params : dict of str to numpy.ndarray
        Initial parameters (:func:`init_training_params`).
    cfg : TrainConfig
        The set-up.
    schedule : Schedule
        Step count, data size, rates.
    data : tuple of numpy.ndarray
        Per training field: standardized features ``X (n, d)``, standardized descriptors
        ``S (n, D)`` (0 where absent), which of them enter the likelihood ``M (n, D)`` and the
        particle area fraction ``F (n,)`` (0 for fields without particles).
    desc_mean, desc_scale : numpy.ndarray
        The descriptors' standardization (applied to the generated ones inside the loss).
    seed : int
        Seeds the minibatches and every noise draw.
    progress : callable, optional
        Called with the number of steps done after each chunk.

    Returns
    -------
    params, losses
        NumPy parameters and ``(n_steps, 3)`` losses (total, data, KL).
    """
    import jax
    import jax.numpy as jnp

    init_opt, run_step = compiled_trainer(cfg)
    rng = np.random.default_rng([seed, 7])
    n = data[0].shape[0]
    total = schedule.n_steps
    # Minibatches without replacement within each pass over the fields.
    order = np.concatenate([rng.permutation(n) for _ in range(-(-total * cfg.batch // n) + 1)])[
        : total * cfg.batch
    ].reshape(total, cfg.batch)
    keys = jax.random.split(jax.random.key(seed, impl=PRNG_IMPL), total)
    p = {k: jnp.asarray(v) for k, v in params.items()}
    state = init_opt(p)
    arrays = tuple(jnp.asarray(a, jnp.float32) for a in data)
    scaling = [jnp.asarray(a, jnp.float32) for a in (desc_mean, desc_scale)]
    hyper = jnp.asarray(schedule.as_array())
    losses = []
    for i in range(total):
        p, state, step_losses = run_step(
            p, state, arrays, order[i], keys[i], np.float32(i), hyper, *scaling
        )
        losses.append(step_losses)
        if (i + 1) % cfg.chunk == 0 or i + 1 == total:
            done = np.asarray(jnp.stack(losses[-cfg.chunk :]))
            if not np.all(np.isfinite(done[:, 0])):
                raise FloatingPointError(
                    "generator training diverged (non-finite loss); lower learning_rate"
                )
            if progress is not None:
                progress(i + 1)
    return {k: np.asarray(v) for k, v in p.items()}, np.asarray(jnp.stack(losses))
