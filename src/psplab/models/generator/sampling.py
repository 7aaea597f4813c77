"""Drawing images from a fitted generator: compiled decoder calls, then labelling.

Randomness: image ``j`` of a call with ``seed`` uses the spatial noise of key
``fold_in(PRNGKey(seed), j)`` and the network ``z`` of key ``fold_in(PRNGKey(seed + 1), j mod
n_networks)``, for every recipe of the call. So results do not depend on the order or number of
recipes, and two recipes are compared under the same noise (common random numbers).
"""

from __future__ import annotations

import functools

import numpy as np

from psplab.models.generator import network as net
from psplab.models.generator.labels import labels_from_logits

SAMPLE_BLOCK = 64  # images per compiled call: bounds memory, one compilation per grid


@functools.lru_cache(maxsize=16)
def compiled_sampler(arch: net.Architecture, grid: int):
    """``run(params, x (b, d), z (b, n_latent), keys (b, 2)) -> (logits, cond)`` for ``grid``."""
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


def draw_keys(seed: int, n: int, n_networks: int, n_latent: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise keys ``(n, 2)`` and network draws ``z (n, n_latent)`` of images ``0..n-1``."""
    import jax

    base = jax.random.PRNGKey(int(seed))
    keys = np.asarray(jax.vmap(lambda j: jax.random.fold_in(base, j))(np.arange(n)))
    zbase = jax.random.PRNGKey(int(seed) + 1)
    nets = np.arange(n) % n_networks
    z = np.asarray(
        jax.vmap(lambda j: jax.random.normal(jax.random.fold_in(zbase, j), (max(n_latent, 1),)))(
            nets
        )
    )
    return keys, z[:, :n_latent]


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
    """Label images for every recipe: ``({kind: (R, n, G, G)}, log pixel output (R, n))``.

    ``X`` holds the recipes' standardized features ``(R, d)``; the log pixel output is the
    conditioning network's standardized pixel-size head (zeros without one).
    """
    import jax.numpy as jnp

    run = compiled_sampler(arch, int(grid))
    keys, z = draw_keys(seed, n, n_networks, arch.n_latent)
    R = X.shape[0]
    xr = np.repeat(np.asarray(X, np.float32), n, axis=0)
    kr = np.tile(keys, (R, 1))
    zr = np.tile(z, (R, 1)).astype(np.float32)
    total = R * n
    out: dict[str, list[np.ndarray]] = {}
    pix = []
    for start in range(0, total, SAMPLE_BLOCK):
        stop = min(start + SAMPLE_BLOCK, total)
        pad = SAMPLE_BLOCK - (stop - start)  # a fixed block shape: one compilation
        sl = slice(start, stop)
        xb, zb, kb = (
            np.concatenate([a[sl], np.repeat(a[sl][-1:], pad, axis=0)]) for a in (xr, zr, kr)
        )
        logits, cond = run(params, jnp.asarray(xb), jnp.asarray(zb), jnp.asarray(kb))
        logits = np.asarray(logits)[: stop - start]
        for kind, img in labels_from_logits(
            logits, arch.grain_channels, arch.particles, periodic
        ).items():
            out.setdefault(kind, []).append(img)
        pix.append(
            np.asarray(cond)[: stop - start, -1] if arch.pixel_head else np.zeros(stop - start)
        )
    images = {k: np.concatenate(v).reshape((R, n) + v[0].shape[1:]) for k, v in out.items()}
    return images, np.concatenate(pix).reshape(R, n)
