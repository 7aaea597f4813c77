"""Drawing images from a fitted generator: compiled decoder calls, then labelling.

Randomness: image ``j`` of a call with ``seed`` uses the spatial noise of
``default_rng((seed, 2, j))`` and network ``j mod n_networks`` of ``z ~ default_rng((seed, 1))``,
for every recipe of the call. So results do not depend on the order or number of
recipes, and two recipes are compared under the same noise (common random numbers). The noise
is drawn on the host: JAX's fast ``rbg`` generator gives different numbers for one key
depending on its place in a batch, which would tie an image to its recipe's position.
"""

from __future__ import annotations

import functools

import numpy as np

from psplab.models.generator import network as net
from psplab.models.generator.labels import labels_from_channels

SAMPLE_BLOCK = 16  # images per compiled call: cache-sized blocks run fastest on a CPU


@functools.lru_cache(maxsize=16)
def compiled_sampler(arch: net.Architecture, grid: int):
    """``run(params, x (b, d), z (b, n_latent), noises, fraction (b,)) -> (channels, particles)``.

    ``noises``: the standard-normal inputs of :func:`~psplab.models.generator.network.noise_shapes`,
    each with a leading batch axis ``b``; ``fraction``: each image's particle area fraction.
    Returns the winning grain channel ``(b, grid, grid)`` (uint8) and the particle indicator
    (uint8); either is an empty array when the model has no such head. The hard labels are
    taken on the device: a byte per pixel comes back instead of every channel's logit.
    """
    import jax
    import jax.numpy as jnp

    @jax.jit
    def run(params, x, z, noises, fraction):
        g = net.unit_scales(params, z) if arch.conditional else None
        film = net.condition(params, g, x, arch)
        logits = net.decode(params, film, list(noises), arch, fraction=fraction, hard=True)
        empty = jnp.zeros((0,), jnp.uint8)
        channels = (
            jnp.argmax(logits[..., : arch.grain_channels], axis=-1).astype(
                jnp.uint8 if arch.grain_channels <= 256 else jnp.int32
            )
            if arch.grain_channels
            else empty
        )
        particles = (logits[..., -1] > 0).astype(jnp.uint8) if arch.particles else empty
        return channels, particles

    return run


def draw_networks(seed: int, n: int, n_networks: int, n_latent: int) -> np.ndarray:
    """Network draws ``z (n, n_latent)`` of images ``0..n-1`` (one row per network, in turn)."""
    z = np.random.default_rng((int(seed), 1)).standard_normal((n_networks, n_latent))
    return z[np.arange(n) % n_networks].astype(np.float32)


def draw_noise(seed: int, image: int, shapes: tuple[tuple[int, ...], ...]) -> list[np.ndarray]:
    """The spatial noise inputs of image ``image`` (float32, one array per shape)."""
    rng = np.random.default_rng((int(seed), 2, int(image)))
    return [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def generate(
    params: dict,
    arch: net.Architecture,
    X: np.ndarray,
    n: int,
    seed: int,
    grid: int,
    n_networks: int,
    periodic: bool,
    fraction: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Label images for every recipe: ``{kind: (R, n, G, G)}``.

    ``X`` holds the recipes' standardized features ``(R, d)``; ``fraction (R, n)`` each
    image's particle area fraction (needed with a particle head).
    """

    run = compiled_sampler(arch, int(grid))
    z = draw_networks(seed, n, n_networks, arch.n_latent)
    shapes = net.noise_shapes(int(grid), arch)
    per_image = [draw_noise(seed, j, shapes) for j in range(n)]
    noise = [np.stack([a[i] for a in per_image]) for i in range(len(shapes))]
    R = X.shape[0]
    total = R * n
    # Row r * n + j of the work list is image j of recipe r.
    recipe_of = np.repeat(np.arange(R), n)
    image_of = np.tile(np.arange(n), R)
    x32 = np.asarray(X, np.float32)
    frac = np.zeros((R, n), np.float32) if fraction is None else np.asarray(fraction, np.float32)
    frac = frac.reshape(-1)
    out: dict[str, list[np.ndarray]] = {}

    def collect(result, keep: int) -> None:
        channels, particles = result
        labels = labels_from_channels(
            np.asarray(channels)[:keep] if arch.grain_channels else None,
            np.asarray(particles)[:keep] if arch.particles else None,
            periodic,
        )
        for kind, img in labels.items():
            out.setdefault(kind, []).append(img)

    pending = None
    for start in range(0, total, SAMPLE_BLOCK):
        stop = min(start + SAMPLE_BLOCK, total)
        # A fixed block shape (the last row repeated): one compilation for any number of images.
        rows = np.minimum(np.arange(start, start + SAMPLE_BLOCK), stop - 1)
        images = image_of[rows]
        # NumPy arrays straight into the compiled call (its C++ path moves them to the device).
        result = run(
            params, x32[recipe_of[rows]], z[images], [a[images] for a in noise], frac[rows]
        )
        # JAX returns before the block is computed: label the previous block meanwhile.
        if pending is not None:
            collect(*pending)
        pending = (result, stop - start)
    if pending is not None:
        collect(*pending)
    return {k: np.concatenate(v).reshape((R, n) + v[0].shape[1:]) for k, v in out.items()}
