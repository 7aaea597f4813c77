"""Microstructure descriptors the generator is trained to reproduce, for data and for its output.

Every field of view is summarised by a vector ``s`` (lengths in pixels, densities per
1000 px²):

* grains: the ``log`` mean equivalent-circle diameter of the grains (what
  ``measure_grains`` reports as ``mean_diameter_um``), the ``log`` density of grains, and of
  grains that keep an interior after erosion by
  a 3x3 and a 5x5 square (a granulometry, Matheron 1975: it counts grains by size, so a field
  of even grains and one of large and sliver grains with the same count differ), and the
  radial two-point correlation ``S2_b(r)``, ``r = 0..R``, of the grain-boundary indicator
  ``b`` (a pixel is boundary when its label differs from its right or its lower neighbour;
  ``S2_b(0)`` is the boundary fraction, which sets the mean intercept length);
* particles: the particle area fraction, the ``log`` particle density and ``S2_p(r)``,
  ``r = 1..R_p``, of the particle indicator (its decay sets the particle size).

For data images the counts follow :mod:`psplab.measure`'s conventions (periodic images count
each grain once; in other images a grain or particle cut by the edge counts one half,
Jeffries' rule) and the two-point statistics come from ``two_point_statistics`` and
``radial_profile``. For the generator's output the same quantities are computed in JAX from
the logits with a straight-through estimator: the forward pass uses the hard labels (argmax of
the grain channels, particle logit > 0), so the descriptor *values* are exactly those of the
images the generator emits, and the backward pass differentiates the same descriptors computed
from the softmax / sigmoid relaxation.
Counts of the output are Euler characteristics (4-connectivity), which equal the number of
regions for regions without holes. The mean grain diameter of the output is measured on the
host (periodic connected components of the hard labels, as ``measure_grains`` does); its
gradient is that of ``-1/2`` the log grain density (the diameter of ``N`` equal grains filling
the field scales as ``N^-1/2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SOFT_TEMPERATURE = 1.0  # temperature of the softmax / sigmoid in the backward pass
EROSIONS = (1, 2)  # half-widths of the square erosions of the granulometry
PER_AREA = 1000.0  # densities are per this many px^2


@dataclass(frozen=True)
class DescriptorLayout:
    """Which descriptors a model uses and where they sit in the vector.

    Attributes
    ----------
    grains : bool
        Grain descriptors present.
    particles : bool
        Particle descriptors present.
    radius : int
        ``R``: largest offset of ``S2_b`` (pixels).
    particle_radius : int
        ``R_p``: largest offset of ``S2_p`` (pixels).
    """

    grains: bool
    particles: bool
    radius: int
    particle_radius: int

    def blocks(self) -> list[tuple[str, int]]:
        """``(name, length)`` of each block, in vector order."""
        out = []
        if self.grains:
            out += [("grain_size", 1), ("grain_density", 1 + len(EROSIONS))]
            out += [("s2_boundary", self.radius + 1)]
        if self.particles:
            out += [("particle_fraction", 1), ("particle_density", 1)]
            out += [("s2_particle", self.particle_radius)]
        return out

    @property
    def size(self) -> int:
        """Length of the descriptor vector."""
        return sum(n for _, n in self.blocks())

    def start(self, name: str) -> int:
        """Index of the first entry of block ``name``."""
        i = 0
        for block, n in self.blocks():
            if block == name:
                return i
            i += n
        raise KeyError(name)


def layout_for(grid: int, grains: bool, particles: bool) -> DescriptorLayout:
    """The layout used for training images of ``grid`` pixels per side."""
    return DescriptorLayout(grains, particles, max(2, grid // 4), max(2, min(8, grid // 8)))


def boundary_mask(labels: np.ndarray, periodic: bool) -> np.ndarray:
    """Grain-boundary pixels of a label image: label differs from the right or lower neighbour.

    Parameters
    ----------
    labels : numpy.ndarray
        2-D label image.
    periodic : bool
        Compare the last row/column with the first (periodic domains); otherwise the last row
        and column are compared only within the image.

    Returns
    -------
    numpy.ndarray
        Boolean image, one pixel wide along every boundary.
    """
    lab = np.asarray(labels)
    down = lab != np.roll(lab, -1, axis=0)
    right = lab != np.roll(lab, -1, axis=1)
    if not periodic:
        down[-1, :] = False
        right[:, -1] = False
    return down | right


def eroded_interiors(labels: np.ndarray, half_width: int, periodic: bool) -> np.ndarray:
    """Pixels whose whole ``(2w+1)^2`` square lies in their own grain (an erosion of each grain).

    Outside a periodic image the square is clipped to the image.
    """
    lab = np.asarray(labels)
    keep = np.ones(lab.shape, dtype=bool)
    w = int(half_width)
    for dy in range(-w, w + 1):
        for dx in range(-w, w + 1):
            if dy == 0 and dx == 0:
                continue
            same = lab == np.roll(lab, (-dy, -dx), axis=(0, 1))
            if not periodic:  # offsets that leave the image do not count against a pixel
                same |= _outside(lab.shape, dy, dx)
            keep &= same
    return keep


def _outside(shape: tuple[int, ...], dy: int, dx: int) -> np.ndarray:
    rows = np.arange(shape[0])[:, None] + dy
    cols = np.arange(shape[1])[None, :] + dx
    return (rows < 0) | (rows >= shape[0]) | (cols < 0) | (cols >= shape[1])


def region_density(mask: np.ndarray, periodic: bool) -> float:
    """Connected regions (4-connectivity) of a binary image per :data:`PER_AREA` px².

    Periodic images join regions across the edges; otherwise a region touching the edge
    counts one half (Jeffries' rule, as :mod:`psplab.measure` counts grains and particles).
    """
    from psplab.models.generator.labels import periodic_components

    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return 0.0
    lab = periodic_components(m[None].astype(np.int64), periodic)[0]
    ids = np.unique(lab[m])
    if periodic:
        count = float(ids.size)
    else:
        edge = np.unique(
            np.concatenate([lab[0][m[0]], lab[-1][m[-1]], lab[:, 0][m[:, 0]], lab[:, -1][m[:, -1]]])
        )
        count = ids.size - 0.5 * edge.size
    return count * PER_AREA / m.size


def _log_density(density: float, area_px: int) -> float:
    # One region per field is added before the log: a field with no eroded grain is finite.
    return math.log(density + PER_AREA / area_px)


def data_descriptors(
    images: dict[str, np.ndarray], layout: DescriptorLayout, periodic: bool
) -> np.ndarray:
    """Descriptor vector of one data field (pixel units).

    Parameters
    ----------
    images : dict of str to numpy.ndarray
        The field's images by kind (``grains``; ``phases`` or ``particles``).
    layout : DescriptorLayout
        Which descriptors to compute.
    periodic : bool
        Whether the images are periodic domains.

    Returns
    -------
    numpy.ndarray
        ``(layout.size,)``.
    """
    from psplab.measure import (
        measure_grains,
        measure_particles,
        radial_profile,
        two_point_statistics,
    )

    out: list[float] = []
    if layout.grains:
        labels = np.asarray(images["grains"])
        area = labels.size
        grains = measure_grains(labels, 1.0, periodic=periodic)
        out.append(math.log(grains["mean_diameter_um"]))
        # grains_per_mm2 at 1 µm per pixel is grains per 10^6 px^2.
        out.append(_log_density(grains["grains_per_mm2"] * PER_AREA * 1e-6, area))
        for w in EROSIONS:
            dens = region_density(eroded_interiors(labels, w, periodic), periodic)
            out.append(_log_density(dens, area))
        s2 = two_point_statistics(boundary_mask(labels, periodic), periodic=periodic)
        out.extend(radial_profile(s2)[1][: layout.radius + 1].tolist())
    if layout.particles:
        mask = particle_mask(images)
        parts = measure_particles(mask, 1.0, periodic=periodic)
        out.append(float(mask.mean()))
        out.append(_log_density(parts["number_density_per_mm2"] * PER_AREA * 1e-6, mask.size))
        s2 = two_point_statistics(mask, periodic=periodic)
        out.extend(radial_profile(s2)[1][1 : layout.particle_radius + 1].tolist())
    return np.asarray(out, dtype=float)


def particle_mask(images: dict[str, np.ndarray]) -> np.ndarray:
    """The particle indicator of a field: phase label 1 (``phases``) or non-zero (``particles``)."""
    if "phases" in images:
        return np.asarray(images["phases"]) == 1
    return np.asarray(images["particles"]) != 0


@lru_cache(maxsize=16)
def _ring_matrix(grid: int, radius: int) -> np.ndarray:
    """``(grid*grid, radius+1)`` averaging matrix of the 1-px rings of an unshifted S2 map."""
    off = (np.arange(grid) + grid // 2) % grid - grid // 2  # signed offset of each index
    ring = np.rint(np.hypot(off[:, None], off[None, :])).astype(int).ravel()
    m = np.zeros((grid * grid, radius + 1), dtype=np.float32)
    for r in range(radius + 1):
        sel = ring == r
        m[sel, r] = 1.0 / sel.sum()
    return m


def _radial_s2(field, radius: int):
    """Periodic radial S2 ``(B, radius+1)`` of fields ``(B, G, G)``."""
    import jax.numpy as jnp

    grid = field.shape[-1]
    f = jnp.fft.rfft2(field)
    s2 = jnp.fft.irfft2(f * jnp.conj(f), s=field.shape[-2:]) / (grid * grid)
    return s2.reshape(field.shape[0], -1) @ jnp.asarray(_ring_matrix(grid, radius))


def _shift(a, dy: int, dx: int):
    """``a[y + dy, x + dx]`` (periodic) for arrays ``(B, G, G, ...)``."""
    import jax.numpy as jnp

    return jnp.roll(a, (-dy, -dx), axis=(1, 2))


def _euler(same_r, same_d, same_rd, occupied):
    """Euler characteristic per image of the 4-connected complex (vertices - edges + faces)."""
    import jax.numpy as jnp

    return jnp.sum(occupied - same_r - same_d + same_rd, axis=(1, 2))


def _binary_euler(m):
    """Euler characteristic of binary fields ``(B, G, G)`` (soft values allowed)."""
    right, down = _shift(m, 0, 1), _shift(m, 1, 0)
    return _euler(m * right, m * down, m * right * down * _shift(m, 1, 1), m)


def _box_sum(a, w: int):
    """Sum over the periodic ``(2w+1)^2`` square around each pixel of ``(B, G, G, ...)`` arrays."""
    for axis in (1, 2):
        total = a
        for d in range(1, w + 1):
            total = total + _roll(a, d, axis) + _roll(a, -d, axis)
        a = total
    return a


def _roll(a, d: int, axis: int):
    import jax.numpy as jnp

    return jnp.roll(a, d, axis=axis)


def _grain_descriptors(p, radius: int, log_p=None):
    """Grain densities (plain and eroded) and ``S2_b`` from channel probabilities ``(B, G, G, K)``.

    Without ``log_p``, ``p`` is one-hot, and an eroded interior is a pixel whose whole square
    holds its channel (a box count); with it, ``p`` is a softmax, ``log_p`` its logarithm (a
    log-softmax, finite where ``p`` underflows), and "the whole square holds channel k" has
    probability ``prod p_k`` over the square (a box sum of logs).
    """
    import jax.numpy as jnp

    hard = log_p is None
    area = p.shape[1] * p.shape[2]
    right, down = _shift(p, 0, 1), _shift(p, 1, 0)
    same_r = jnp.sum(p * right, axis=-1)
    same_d = jnp.sum(p * down, axis=-1)
    same_rd = jnp.sum(p * right * down * _shift(p, 1, 1), axis=-1)
    # Per channel, the grains are the channel's 4-connected regions: summing the per-channel
    # Euler characteristics counts them.
    counts = [jnp.maximum(_euler(same_r, same_d, same_rd, jnp.sum(p, axis=-1)), 1.0)]
    for w in EROSIONS:
        n = (2 * w + 1) ** 2
        inside = (_box_sum(p, w) > n - 0.5).astype(p.dtype) if hard else jnp.exp(_box_sum(log_p, w))
        # Eroded grains of different channels never touch: one binary field holds them all.
        counts.append(jnp.maximum(_binary_euler(jnp.sum(inside, axis=-1)), 0.0))
    logs = [jnp.log((c + 1.0) * PER_AREA / area) for c in counts]
    if hard:
        size = _measured_log_diameter(jnp.argmax(p, axis=-1))
    else:
        size = -0.5 * logs[0]  # only its gradient is used (straight-through)
    boundary = 1.0 - same_r * same_d
    return jnp.concatenate(
        [size[:, None], jnp.stack(logs, axis=1), _radial_s2(boundary, radius)], axis=1
    )


def host_log_mean_diameter(channels: np.ndarray) -> np.ndarray:
    """``log`` mean equivalent-circle diameter (px) of the grains of each label image.

    Parameters
    ----------
    channels : numpy.ndarray
        ``(B, H, W)`` channel images; grains are their periodic 4-connected regions.

    Returns
    -------
    numpy.ndarray
        ``(B,)`` float32.
    """
    from psplab.models.generator.labels import periodic_components

    labels = periodic_components(np.asarray(channels), periodic=True).astype(np.int64)
    b = labels.shape[0]
    counts = labels.reshape(b, -1).max(axis=1)
    offset = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ids = (labels - 1 + offset[:, None, None]).ravel()
    area = np.bincount(ids, minlength=int(counts.sum()))
    diameter = np.sqrt(4.0 * area / math.pi)
    owner = np.repeat(np.arange(b), counts)
    mean = np.bincount(owner, weights=diameter, minlength=b) / counts
    return np.log(mean).astype(np.float32)


def _measured_log_diameter(channels):
    import jax
    import jax.numpy as jnp

    shape = jax.ShapeDtypeStruct((channels.shape[0],), jnp.float32)
    return jax.pure_callback(host_log_mean_diameter, shape, channels)


def _particle_descriptors(q, radius: int):
    """Particle fraction, log density and ``S2_p(1..radius)`` of particle fields ``(B, G, G)``."""
    import jax.numpy as jnp

    area = q.shape[1] * q.shape[2]
    count = jnp.maximum(_binary_euler(q), 0.0)
    return jnp.concatenate(
        [
            jnp.mean(q, axis=(1, 2))[:, None],
            jnp.log((count + 1.0) * PER_AREA / area)[:, None],
            _radial_s2(q, radius)[:, 1:],
        ],
        axis=1,
    )


def generated_descriptors(logits, layout: DescriptorLayout, grain_channels: int):
    """Descriptors ``(B, layout.size)`` of generated logits ``(B, G, G, n_out)`` (JAX).

    A straight-through estimator on the whole vector: its value is that of the hard labels
    the generator emits (argmax channel, particle logit > 0); its gradient is that of the same
    descriptors computed from the softmax (grains) and sigmoid (particles) relaxation.
    """
    import jax
    import jax.numpy as jnp

    def both(hard_fn, soft_fn, x):
        hard = jax.lax.stop_gradient(hard_fn(jax.lax.stop_gradient(x)))
        soft = soft_fn(x)
        return soft + jax.lax.stop_gradient(hard - soft)

    parts = []
    if layout.grains:
        z = logits[..., :grain_channels]
        parts.append(
            both(
                lambda v: _grain_descriptors(
                    jax.nn.one_hot(jnp.argmax(v, axis=-1), grain_channels, dtype=v.dtype),
                    layout.radius,
                ),
                lambda v: _grain_descriptors(
                    jax.nn.softmax(v / SOFT_TEMPERATURE, axis=-1),
                    layout.radius,
                    jax.nn.log_softmax(v / SOFT_TEMPERATURE, axis=-1),
                ),
                z,
            )
        )
    if layout.particles:
        u = logits[..., -1]
        parts.append(
            both(
                lambda v: _particle_descriptors((v > 0).astype(v.dtype), layout.particle_radius),
                lambda v: _particle_descriptors(
                    jax.nn.sigmoid(v / SOFT_TEMPERATURE), layout.particle_radius
                ),
                u,
            )
        )
    return jnp.concatenate(parts, axis=1)
