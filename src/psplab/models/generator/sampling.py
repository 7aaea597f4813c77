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
from psplab.models.generator.labels import labels_from_logits

SAMPLE_BLOCK = 64  # images per compiled call: bounds memory, one compilation per grid


@functools.lru_cache(maxsize=16)
def compiled_sampler(arch: net.Architecture, grid: int):
    """``run(params, x (b, d), z (b, n_latent), noises, fraction (b,)) -> logits`` for ``grid``.

    ``noises``: the standard-normal inputs of :func:`~psplab.models.generator.network.noise_shapes`,
    each with a leading batch axis ``b``; ``fraction``: each image's particle area fraction.
    """
    import jax

    @jax.jit
    def run(params, x, z, noises, fraction):
        g = net.unit_scales(params, z) if arch.conditional else None
        film = net.condition(params, g, x, arch)
        return net.decode(params, film, list(noises), arch, fraction=fraction, hard=True)

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
    import jax.numpy as jnp

    run = compiled_sampler(arch, int(grid))
    z = draw_networks(seed, n, n_networks, arch.n_latent)
    shapes = net.noise_shapes(int(grid), arch)
    noise = [draw_noise(seed, j, shapes) for j in range(n)]
    R = X.shape[0]
    total = R * n
    # Row r * n + j of the work list is image j of recipe r.
    recipe_of = np.repeat(np.arange(R), n)
    image_of = np.tile(np.arange(n), R)
    x32 = np.asarray(X, np.float32)
    frac = np.zeros((R, n), np.float32) if fraction is None else np.asarray(fraction, np.float32)
    frac = frac.reshape(-1)
    out: dict[str, list[np.ndarray]] = {}
    for start in range(0, total, SAMPLE_BLOCK):
        stop = min(start + SAMPLE_BLOCK, total)
        # A fixed block shape (the last row repeated): one compilation for any number of images.
        rows = np.minimum(np.arange(start, start + SAMPLE_BLOCK), stop - 1)
        noises = [np.stack([noise[j][i] for j in image_of[rows]]) for i in range(len(shapes))]
        logits = run(
            params,
            jnp.asarray(x32[recipe_of[rows]]),
            jnp.asarray(z[image_of[rows]]),
            [jnp.asarray(a) for a in noises],
            jnp.asarray(frac[rows]),
        )
        logits = np.asarray(logits)[: stop - start]
        labels = labels_from_logits(logits, arch.grain_channels, arch.particles, periodic)
        for kind, img in labels.items():
            out.setdefault(kind, []).append(img)
    return {k: np.concatenate(v).reshape((R, n) + v[0].shape[1:]) for k, v in out.items()}
