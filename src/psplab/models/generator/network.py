"""The generator's networks in JAX: conditioning MLP, affine hypernetwork, periodic conv decoder.

Three pieces, all pure functions of a flat ``dict[str, array]`` of parameters (a pytree for
optax that saves straight into ``.npz``):

* the **decoder** ``D_w(eps; phi)``: periodic white noise ``eps`` at 1/8 of the output grid
  through three 3x3 convolutions (wrap-around padding), each followed by FiLM
  ``h <- h (1 + gamma_l) + beta_l`` and a leaky ReLU, with ×2 upsampling and fresh noise
  injected after each upsampling; a 1x1 convolution gives two fields at half the output grid,
  and a periodic bilinear ×2 upsampling brings them to the output grid. Its weights ``w`` are
  point estimates; its FiLM parameters ``phi = (gamma_l, beta_l)`` carry the processing.
  Grain labels are exchangeable (which grain gets which number means nothing), so the ``K``
  grain logits of a pixel are ``K`` independent draws of the *same* field: the decoder runs
  once per grain channel on its own noise, with shared weights and FiLM, and the label is the
  channel whose field is highest. The particle logit is the second field of the first run,
  cut at the level that gives the image its particle area fraction (a level-cut random field:
  Quiblier 1984; Roberts & Teubner 1995); the fraction itself comes from the generator's
  scalar heads (:mod:`~psplab.models.generator.heads`);
* the **conditioning network** ``c(x; g)``: a weight-normalized ReLU MLP from the processing
  features ``x`` to ``phi``, whose unit scales ``g`` (one per hidden
  and output unit) are random: column ``j`` of a layer is ``g_j v_j / ||v_j||``
  (Salimans & Kingma 2016), so ``g`` sets how strongly each unit responds to the processing;
* the **hypernetwork** ``g = h(z) = mu + sigma * z_1 + U z_2`` with ``z = (z_1, z_2) ~ N(0, I)``:
  every draw of ``z`` is one network. Being affine, it makes ``q(g)`` Gaussian with covariance
  ``diag(sigma^2) + U U^T`` (units correlated through the rank-``r`` factor ``U``), so the KL
  divergence to the prior ``N(0, s^2 I)`` has a closed form (:func:`kl_divergence`) and the
  ELBO carries no Monte-Carlo noise from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

LEAK = 0.2  # leaky-ReLU slope of the decoder (negative half keeps gradients alive at init)


@dataclass(frozen=True)
class Architecture:
    """Hashable description of the networks (jitted functions are cached per architecture).

    Attributes
    ----------
    n_inputs : int
        Processing features after encoding.
    grain_channels : int
        Label channels of the grain head (0: the data have no grain images).
    particles : bool
        Whether there is a particle head (one logit channel).
    hidden : int
        Width of the conditioning MLP's two hidden layers.
    widths : tuple of int
        Decoder channels at 1/8, 1/4 and 1/2 of the output grid.
    noise_channels : int
        Channels of the base noise.
    rank : int
        Rank of the hypernetwork's correlated part ``U``.
    conditional : bool
        ``False`` for the fixed-weights baseline: FiLM parameters are plain learned constants
        (no processing input, no hypernetwork).
    flow_steps : int
        Steps of curvature flow (:func:`curvature_flow`) applied to the grain channels.
    mix_runs : bool
        Let the decoder runs of one image see each other after each upsampling
        (:func:`_mixing`).
    isotropic : bool
        Make every 3x3 kernel symmetric under the eight rotations and reflections of the
        square (its average over them). With isotropic noise the images' statistics then do
        not prefer a direction; the radial descriptors the model is trained on could not
        teach it that (they average over directions), and unconstrained kernels drift into
        streaks along the axes.
    """

    n_inputs: int
    grain_channels: int
    particles: bool
    hidden: int = 32
    widths: tuple[int, int, int] = (16, 16, 8)
    noise_channels: int = 8
    rank: int = 8
    conditional: bool = True
    isotropic: bool = True
    flow_steps: int = 2
    mix_runs: bool = False

    @property
    def n_out(self) -> int:
        """Output logit channels: the grain channels, then the particle channel."""
        return self.grain_channels + int(self.particles)

    @property
    def n_runs(self) -> int:
        """Decoder runs per image: one per grain channel (one when there are only particles)."""
        return max(1, self.grain_channels)

    @property
    def n_film(self) -> int:
        """FiLM parameters: a scale and a shift per decoder channel."""
        return 2 * sum(self.widths)

    @property
    def n_cond(self) -> int:
        """Outputs of the conditioning network (the FiLM parameters)."""
        return self.n_film

    @property
    def n_units(self) -> int:
        """Stochastic unit scales: one per hidden and output unit of the conditioning MLP."""
        return 2 * self.hidden + self.n_cond if self.conditional else 0

    @property
    def n_latent(self) -> int:
        """Dimension of ``z``."""
        return self.n_units + self.rank if self.conditional else 0


def init_params(rng: np.random.Generator, arch: Architecture) -> dict[str, np.ndarray]:
    """Initial parameters (float32) drawn from ``rng``; FiLM starts near the identity."""
    f32 = np.float32
    p: dict[str, np.ndarray] = {}
    chans = (arch.noise_channels, *arch.widths)
    # He initialization; symmetrizing a random kernel keeps 3 of its 9 degrees of freedom (and
    # a third of its squared norm), which the factor 3 restores.
    gain = 2.0 * (3.0 if arch.isotropic else 1.0)
    for i in range(3):
        fan_in = 9 * chans[i]
        p[f"dec_w{i}"] = (
            rng.standard_normal((3, 3, chans[i], chans[i + 1])) * math.sqrt(gain / fan_in)
        ).astype(f32)
        p[f"dec_b{i}"] = np.zeros(chans[i + 1], f32)
    for i in (1, 2):  # per-channel scale of the noise injected after each upsampling
        p[f"dec_noise{i}"] = np.full(chans[i], 0.3, f32)
        # Mixing of the runs starts switched off: the runs start independent.
        p[f"dec_mix{i}"] = np.zeros((3, 3, 2 * chans[i], chans[i + 1]), f32)
    p["dec_out_w"] = (rng.standard_normal((chans[3], 2)) / math.sqrt(chans[3])).astype(f32)
    p["dec_out_b"] = np.zeros(2, f32)
    if not arch.conditional:
        p["film_const"] = np.zeros(arch.n_cond, f32)
        return p
    sizes = (arch.n_inputs, arch.hidden, arch.hidden, arch.n_cond)
    mu = []
    for i in range(3):
        p[f"cond_v{i}"] = (
            rng.standard_normal((sizes[i], sizes[i + 1])) / math.sqrt(sizes[i])
        ).astype(f32)
        p[f"cond_b{i}"] = np.zeros(sizes[i + 1], f32)
        # ReLU layers keep unit variance with scale sqrt(2); the output starts small so that
        # the decoder begins unconditioned and the processing enters as training proceeds.
        mu.append(np.full(sizes[i + 1], 0.1 if i == 2 else math.sqrt(2.0), f32))
    p["hyp_mu"] = np.concatenate(mu)
    p["hyp_log_sigma"] = np.full(arch.n_units, math.log(0.05), f32)
    p["hyp_u"] = (rng.standard_normal((arch.n_units, arch.rank)) * 0.01).astype(f32)
    return p


def unit_scales(p: dict[str, Any], z):
    """The hypernetwork: ``z (S, n_latent)`` -> unit scales ``g (S, n_units)``."""
    import jax.numpy as jnp

    n = p["hyp_mu"].shape[0]
    return p["hyp_mu"] + jnp.exp(p["hyp_log_sigma"]) * z[..., :n] + z[..., n:] @ p["hyp_u"].T


def kl_divergence(p: dict[str, Any], prior_std: float):
    """``KL(q(g) || N(0, prior_std^2 I))`` for ``q = N(mu, diag(sigma^2) + U U^T)``, exactly.

    ``log det`` by the matrix determinant lemma:
    ``log det(D + U U^T) = log det D + log det(I_r + U^T D^-1 U)``.
    """
    import jax.numpy as jnp

    mu, log_sigma, u = p["hyp_mu"], p["hyp_log_sigma"], p["hyp_u"]
    n, r = u.shape
    var = jnp.exp(2.0 * log_sigma)
    s2 = prior_std**2
    trace = jnp.sum(var) + jnp.sum(u * u)
    inner = jnp.eye(r) + (u / var[:, None]).T @ u
    logdet = jnp.sum(2.0 * log_sigma) + jnp.linalg.slogdet(inner)[1]
    return 0.5 * (trace / s2 + jnp.sum(mu * mu) / s2 - n + n * math.log(s2) - logdet)


def condition(p: dict[str, Any], g, x, arch: Architecture):
    """FiLM parameters ``(S, n_cond)`` for features ``x (S, d)``.

    Row ``s`` of ``x`` goes through the network with unit scales ``g[s]``. For the
    fixed-weights baseline the output is the learned constant, whatever ``x``.
    """
    import jax.numpy as jnp

    if not arch.conditional:
        return jnp.broadcast_to(p["film_const"], (x.shape[0], arch.n_cond))
    h = x
    off = 0
    for i in range(3):
        v = p[f"cond_v{i}"]
        width = v.shape[1]
        gi = g[:, off : off + width]
        off += width
        direction = v / jnp.sqrt(jnp.sum(v * v, axis=0) + 1e-12)
        h = (h @ direction) * gi + p[f"cond_b{i}"]
        if i < 2:
            h = jnp.maximum(h, 0.0)
    return h


def _symmetrized(w):
    """The average of a ``(3, 3, in, out)`` kernel over the symmetries of the square."""
    import jax.numpy as jnp

    rotations = [jnp.rot90(w, k, axes=(0, 1)) for k in range(4)]
    return (sum(rotations) + sum(jnp.flip(r, axis=0) for r in rotations)) / 8.0


def _conv3(h, w, b):
    """3x3 convolution with wrap-around padding, NHWC."""
    import jax
    import jax.numpy as jnp

    h = jnp.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="wrap")
    out = jax.lax.conv_general_dilated(
        h, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return out + b


def upsample2(h):
    """Periodic bilinear ×2 upsampling along both spatial axes (NHWC)."""
    import jax
    import jax.numpy as jnp

    for axis in (1, 2):
        n = h.shape[axis]
        pad = [(0, 0)] * h.ndim
        pad[axis] = (1, 1)
        padded = jnp.pad(h, pad, mode="wrap")
        prev = jax.lax.slice_in_dim(padded, 0, n, axis=axis)
        nxt = jax.lax.slice_in_dim(padded, 2, n + 2, axis=axis)
        even = 0.75 * h + 0.25 * prev  # output pixel 2i lies a quarter pixel before input i
        odd = 0.75 * h + 0.25 * nxt
        h = jnp.stack([even, odd], axis=axis + 1)
        shape = list(h.shape)
        shape[axis : axis + 2] = [shape[axis] * 2]
        h = h.reshape(shape)
    return h


def noise_shapes(grid: int, arch: Architecture) -> tuple[tuple[int, ...], ...]:
    """Shapes (without batch) of the three noise inputs for an output ``grid`` (multiple of 8).

    Each shape leads with the decoder runs per image (:attr:`Architecture.n_runs`).
    """
    base = grid // 8
    k = arch.n_runs
    # After each upsampling one noise image per run, broadcast over the channels with a learned
    # scale per channel (as StyleGAN injects noise, Karras et al. 2019): the randomness the
    # fine scales need at a twelfth of the numbers a channel each would cost to draw.
    return (
        (k, base, base, arch.noise_channels),
        (k, 2 * base, 2 * base, 1),
        (k, 4 * base, 4 * base, 1),
    )


def decode(p: dict[str, Any], film, noises, arch: Architecture, fraction=None, hard=False):
    """Label logits ``(B, G, G, n_out)`` from FiLM parameters ``(B, n_cond)`` and the noise.

    ``noises`` are standard-normal arrays of :func:`noise_shapes` with a leading batch axis;
    ``fraction (B,)`` is each image's particle area fraction (needed with a particle head):
    the particle logit is the field minus its ``1 - fraction`` quantile, so exactly that share
    of the pixels is positive. ``hard=True`` skips the relaxations that only carry gradients
    (sampling).
    """
    import jax.numpy as jnp

    b, k = film.shape[0], arch.n_runs
    fields = _decode_runs(
        p, jnp.repeat(film, k, axis=0), [n.reshape((b * k,) + n.shape[2:]) for n in noises], arch
    )
    fields = fields.reshape((b, k) + fields.shape[1:])  # (B, runs, G, G, 2)
    parts = []
    if arch.grain_channels:
        grains = jnp.moveaxis(fields[..., 0], 1, -1)
        if arch.flow_steps:
            grains = curvature_flow(grains, arch.flow_steps, hard=hard)
        parts.append(grains)
    if arch.particles:
        field = fields[:, 0, :, :, 1]
        level = level_for_fraction(field, fraction, differentiable=not hard)
        parts.append((field - level[:, None, None])[..., None])
    return jnp.concatenate(parts, axis=-1)


LEVEL_BISECTIONS = 24  # halvings of the field's range: below float32 resolution of the level


def level_for_fraction(field, fraction, differentiable: bool = True):
    """Per image ``(B,)``: the level above which a share ``fraction (B,)`` of ``field`` lies.

    With ``differentiable`` the ``1 - fraction`` quantile of each image's values, linear
    between order statistics, so that gradients see the level move with the field (training:
    the fraction is held fixed while the decoder changes). Otherwise a bisection between each
    image's minimum and maximum (``LEVEL_BISECTIONS`` halvings), several times cheaper than
    sorting every image (sampling). Either way a fraction of 0 gives the maximum, so no pixel
    lies above it.
    """
    import jax
    import jax.numpy as jnp

    flat = field.reshape(field.shape[0], -1)
    target = jnp.clip(fraction, 0.0, 1.0)
    if differentiable:
        ordered = jnp.sort(flat, axis=1)
        n = ordered.shape[1]
        pos = (1.0 - target) * (n - 1)
        lo = jnp.clip(jnp.floor(pos), 0, n - 2).astype(jnp.int32)
        w = pos - lo
        below = jnp.take_along_axis(ordered, lo[:, None], axis=1)[:, 0]
        above = jnp.take_along_axis(ordered, lo[:, None] + 1, axis=1)[:, 0]
        return below + w * (above - below)

    def halve(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        over = jnp.mean((flat > mid).astype(flat.dtype), axis=1, keepdims=True) > target[:, None]
        return jnp.where(over, mid, lo), jnp.where(over, hi, mid)

    bounds = (flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True))
    return jax.lax.fori_loop(0, LEVEL_BISECTIONS, halve, bounds)[1][:, 0]


def _mixing(h, w, arch: Architecture):
    """What each run sees of the image's other runs: a convolution of their mean and maximum.

    A permutation-equivariant layer (Zaheer et al. 2017, Deep Sets): every run gets the same
    function of the pooled features, so the runs stay exchangeable, but a run can now respond
    to where the others are strong (competition between grain channels, which spaces grains
    more evenly than independent fields do).
    """
    import jax.numpy as jnp

    k = arch.n_runs
    runs = h.reshape((-1, k) + h.shape[1:])
    pooled = jnp.concatenate([runs.mean(axis=1), runs.max(axis=1)], axis=-1)
    ws = _symmetrized(w) if arch.isotropic else w
    mixed = _conv3(pooled, ws, 0.0)
    return jnp.repeat(mixed, k, axis=0)


FLOW_SHARPNESS = 10.0  # inverse temperature of the relaxed thresholding in the flow
# Width (pixels) of the flow's Gaussian. Fixed, not learned: the flow only cleans up what the
# pixel grid cannot hold (slivers, one-pixel corners) and leaves the grain scale to the decoder.
# A learned width can grow until one channel swallows the image.
FLOW_WIDTH_PX = 1.0


def curvature_flow(logits, n_steps: int, width_px: float = FLOW_WIDTH_PX, hard: bool = False):
    """Grain logits after ``n_steps`` of MBO thresholding (motion by mean curvature).

    Each step blurs every channel's indicator with a periodic Gaussian of width
    ``width_px`` pixels and gives each pixel the channel whose blurred indicator is
    highest (Merriman, Bence & Osher 1994; for grain networks Esedoglu & Otto 2015). Iterated,
    this moves boundaries by their curvature as grain growth does: slivers and the smallest
    grains vanish, boundaries straighten, triple junctions relax. The forward pass thresholds
    exactly; gradients pass through a softmax of the blurred indicators (straight-through;
    ``hard=True`` leaves the relaxation out). Returns the last blurred indicators times
    :data:`FLOW_SHARPNESS` (logits whose argmax is the label).
    """
    import jax
    import jax.numpy as jnp

    u = logits
    for _ in range(n_steps):
        ind = jax.nn.one_hot(jnp.argmax(u, axis=-1), u.shape[-1], dtype=u.dtype)
        if not hard:
            soft = jax.nn.softmax(u, axis=-1)
            ind = soft + jax.lax.stop_gradient(ind - soft)
        u = FLOW_SHARPNESS * gaussian_blur(ind, width_px)
    return u


def gaussian_blur(a, width_px: float):
    """Periodic Gaussian blur of ``a (B, H, W, C)`` along both image axes, truncated at 2 widths.

    Separable, by one wrap-around pad and shifted slices per axis: at a width of a pixel or two
    several times cheaper than a Fourier transform of every channel.
    """
    import jax
    import jax.numpy as jnp

    reach = max(1, int(math.ceil(2.5 * width_px)))
    taps = np.exp(-0.5 * (np.arange(-reach, reach + 1) / width_px) ** 2)
    taps = taps / taps.sum()
    for axis in (1, 2):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (reach, reach)
        padded = jnp.pad(a, pad, mode="wrap")
        n = a.shape[axis]
        a = sum(
            float(t) * jax.lax.slice_in_dim(padded, i, i + n, axis=axis) for i, t in enumerate(taps)
        )
    return a


def _decode_runs(p: dict[str, Any], film, noises, arch: Architecture):
    """The decoder on a batch of runs (``n_runs`` per image, consecutive): ``(R, G, G, 2)``."""
    import jax
    import jax.numpy as jnp

    h = noises[0]
    off = 0
    for i, width in enumerate(arch.widths):
        if i > 0:
            h = upsample2(h) + noises[i] * p[f"dec_noise{i}"]
        w = _symmetrized(p[f"dec_w{i}"]) if arch.isotropic else p[f"dec_w{i}"]
        pre = h
        h = _conv3(h, w, p[f"dec_b{i}"])
        if i > 0 and arch.mix_runs and arch.n_runs > 1:
            h = h + _mixing(pre, p[f"dec_mix{i}"], arch)
        gamma = film[:, off : off + width]
        beta = film[:, off + width : off + 2 * width]
        off += 2 * width
        h = h * (1.0 + gamma[:, None, None, :]) + beta[:, None, None, :]
        h = jax.nn.leaky_relu(h, LEAK)
    logits = jnp.einsum("bhwc,co->bhwo", h, p["dec_out_w"]) + p["dec_out_b"]
    return upsample2(logits)
