"""Drawing images from a fitted generator: compiled decoder calls, then labelling.

Randomness: image ``j`` of a call with ``seed`` uses the spatial noise of key
``fold_in(key(seed), j)`` and network ``j mod n_networks`` of ``z ~ default_rng((seed, 1))``,
for every recipe of the call. So results do not depend on the order or number of
recipes, and two recipes are compared under the same noise (common random numbers).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from psplab.models.generator import network as net
from psplab.models.generator.labels import labels_from_logits
from psplab.models.generator.training import PRNG_IMPL

SAMPLE_BLOCK = 64  # images per compiled call: bounds memory, one compilation per grid


@functools.lru_cache(maxsize=16)
def compiled_sampler(arch: net.Architecture, grid: int):
    """``run(params, x (b, d), z (b, n_latent), keys (b,)) -> (logits, cond)`` for ``grid``."""
    import jax

    shapes = net.noise_shapes(grid, arch)

    @jax.jit
    def run(params, x, z, keys):
        g = net.unit_scales(params, z) if arch.conditional else None
        cond = net.condition(params, g, x, arch)
        noises = [
            jax.vmap(lambda k, i=i, s=s: jax.random.normal(jax.random.fold_in(k, i), s))(keys)
            for i, s in enumerate(shapes)
        ]
        return net.decode(params, cond[:, : arch.n_film], noises, arch), cond

    return run


def draw_keys(seed: int, n: int, n_networks: int, n_latent: int) -> tuple[Any, np.ndarray]:
    """Noise keys ``(n,)`` and network draws ``z (n, n_latent)`` of images ``0..n-1``.

    The networks' ``z`` come from NumPy (``default_rng((seed, 1))``, one row per network);
    the spatial noise from JAX keys ``fold_in(key(seed), j)``.
    """
    import jax

    base = jax.random.key(int(seed), impl=PRNG_IMPL)
    keys = jax.vmap(lambda j: jax.random.fold_in(base, j))(np.arange(n))
    z = np.random.default_rng((int(seed), 1)).standard_normal((n_networks, n_latent))
    return keys, z[np.arange(n) % n_networks].astype(np.float32)


def generate(
    params: dict,
    arch: net.Architecture,
    X: np.ndarray,
    n: int,
    seed: int,
    grid: int,
    n_networks: int,
    periodic: bool,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Label images for every recipe: ``({kind: (R, n, G, G)}, pixel outputs (R, n, heads))``.

    ``X`` holds the recipes' standardized features ``(R, d)``; the pixel outputs are the
    conditioning network's standardized log-pixel-size heads (none without heads).
    """
    import jax.numpy as jnp

    run = compiled_sampler(arch, int(grid))
    keys, z = draw_keys(seed, n, n_networks, arch.n_latent)
    R = X.shape[0]
    total = R * n
    # Row r * n + j of the work list is image j of recipe r.
    recipe_of = np.repeat(np.arange(R), n)
    image_of = np.tile(np.arange(n), R)
    x32 = np.asarray(X, np.float32)
    out: dict[str, list[np.ndarray]] = {}
    pix = []
    for start in range(0, total, SAMPLE_BLOCK):
        stop = min(start + SAMPLE_BLOCK, total)
        # A fixed block shape (the last row repeated): one compilation for any number of images.
        rows = np.minimum(np.arange(start, start + SAMPLE_BLOCK), stop - 1)
        logits, cond = run(
            params,
            jnp.asarray(x32[recipe_of[rows]]),
            jnp.asarray(z[image_of[rows]]),
            keys[image_of[rows]],
        )
        logits = np.asarray(logits)[: stop - start]
        labels = labels_from_logits(logits, arch.grain_channels, arch.particles, periodic)
        for kind, img in labels.items():
            out.setdefault(kind, []).append(img)
        pix.append(np.asarray(cond)[: stop - start, arch.n_film :])
    images = {k: np.concatenate(v).reshape((R, n) + v[0].shape[1:]) for k, v in out.items()}
    return images, np.concatenate(pix).reshape(R, n, arch.pixel_heads)
