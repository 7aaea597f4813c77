"""Precipitate images: a realization of the family's precipitate population.

The precipitate fraction and mean radius of a recipe come from the kinetic laws of its family
(:func:`psplab.sim.families.precipitate_fraction_eq`, :func:`~psplab.sim.families.
precipitate_radius_um`: nucleation, growth to the lever-rule fraction, LSW coarsening in
physical time). An image of them is drawn here: discs with radii from the
Lifshitz-Slyozov-Wagner size distribution (Lifshitz & Slyozov, J. Phys. Chem. Solids 19 (1961)
35; Wagner, Z. Elektrochem. 65 (1961) 581), scaled to the mean radius, placed at random on a
periodic square until they cover the fraction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

if TYPE_CHECKING:
    from psplab.sim.resolution import ResolutionPlan

LSW_CUTOFF = 1.5  # largest radius of the LSW distribution, in units of the mean radius
MAX_TRIES_PER_DISC = 200


def lsw_pdf(u: np.ndarray) -> np.ndarray:
    """LSW radius distribution (unnormalized) in ``u = R / R_c``; zero outside [0, 3/2).

    Parameters
    ----------
    u : numpy.ndarray
        Radii in units of the critical (mean) radius.

    Returns
    -------
    numpy.ndarray
        ``u² (3/(3+u))^(7/3) (1.5/(1.5-u))^(11/3) exp(-u/(1.5-u))``.
    """
    u = np.asarray(u, dtype=float)
    inside = (u >= 0) & (u < LSW_CUTOFF)
    v = np.where(inside, u, 0.0)
    gap = np.where(inside, LSW_CUTOFF - v, 1.0)
    out = v**2 * (3.0 / (3.0 + v)) ** (7.0 / 3.0) * (LSW_CUTOFF / gap) ** (11.0 / 3.0)
    return np.where(inside, out * np.exp(-v / gap), 0.0)


def _lsw_quantiles(n_grid: int = 4001) -> tuple[np.ndarray, np.ndarray]:
    u = np.linspace(0.0, LSW_CUTOFF, n_grid)
    pdf = lsw_pdf(u)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(u))])
    cdf /= cdf[-1]
    mean = float(np.sum(0.5 * (u[1:] * pdf[1:] + u[:-1] * pdf[:-1]) * np.diff(u)))
    mean /= float(np.sum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(u)))
    return cdf, u / mean  # radii in units of the mean radius


_CDF, _RHO = _lsw_quantiles()


def lsw_radii(n: int, mean_radius: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` radii drawn from the LSW distribution with mean ``mean_radius``.

    Parameters
    ----------
    n : int
        How many.
    mean_radius : float
        Mean of the distribution (any length unit).
    rng : numpy.random.Generator
        Source of the draws.

    Returns
    -------
    numpy.ndarray
        ``n`` radii, at most 1.5 × ``mean_radius``.
    """
    return mean_radius * np.interp(rng.random(n), _CDF, _RHO)


def _disc(radius: float) -> np.ndarray:
    r = int(np.ceil(radius))
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= radius * radius + 1e-9


def place_discs(
    grid: int,
    fraction: float,
    radii: Callable[[int], np.ndarray],
    rng: np.random.Generator,
    *,
    allow_overlap: bool = False,
) -> np.ndarray:
    """Discs at random positions on a periodic ``grid``² covering ``fraction`` of it.

    Random sequential adsorption: a candidate disc (radius from ``radii(1)``, in pixels,
    at a uniformly random centre) is kept if it stays one pixel of matrix (4-connected) away
    from every disc already there, and while half of it still fits under the target area, so
    the covered fraction ends within half a disc of ``fraction``.

    Parameters
    ----------
    grid : int
        Pixels per side.
    fraction : float
        Target area fraction in [0, 1).
    radii : callable
        ``radii(n)`` returns ``n`` radii in pixels.
    rng : numpy.random.Generator
        Source of positions (and passed on nowhere else; ``radii`` holds its own).
    allow_overlap : bool
        When adsorption jams (dense packings, about 40 % for equal discs) go on placing discs
        that may overlap (impinged particles) instead of raising ``ValueError``.

    Returns
    -------
    numpy.ndarray
        bool (grid, grid), True inside the discs.
    """
    out = np.zeros((grid, grid), dtype=bool)
    target = fraction * grid * grid
    covered, misses, guarded = 0, 0, True
    while target > 0:
        disc = _disc(max(float(radii(1)[0]), 0.5))
        area = int(disc.sum())
        if covered + 0.5 * area > target:
            break
        half = disc.shape[0] // 2
        offs = np.arange(-half - 1, half + 2)
        iy, ix = rng.integers(0, grid, size=2)
        ys, xs = ((iy + offs) % grid)[:, None], ((ix + offs) % grid)[None, :]
        if guarded and out[ys, xs][ndimage.binary_dilation(np.pad(disc, 1))].any():
            misses += 1
            if misses > MAX_TRIES_PER_DISC:
                if not allow_overlap:
                    raise ValueError(
                        f"could not place particles covering {fraction:g} of the grid "
                        f"(reached {covered / grid**2:.3f}); use a smaller fraction"
                    )
                guarded = False  # jammed: impinged particles from here on
            continue
        misses = 0
        before = int(out[ys[1:-1], xs[:, 1:-1]].sum())
        out[ys[1:-1], xs[:, 1:-1]] |= disc
        covered += int(out[ys[1:-1], xs[:, 1:-1]].sum()) - before
    return out


def precipitate_image(
    grid: int, fraction: float, mean_radius_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Label image (int32: 0 matrix, 1 precipitate) of LSW-distributed discs at ``fraction``.

    Parameters
    ----------
    grid : int
        Pixels per side (periodic square).
    fraction : float
        Precipitate area fraction.
    mean_radius_px : float
        Mean particle radius in pixels.
    rng : numpy.random.Generator
        Source of radii and positions.

    Returns
    -------
    numpy.ndarray
        int32 (grid, grid).
    """
    if fraction <= 0 or mean_radius_px <= 0:
        return np.zeros((grid, grid), dtype=np.int32)
    mask = place_discs(
        grid,
        fraction,
        lambda n: lsw_radii(n, mean_radius_px, rng),
        rng,
        allow_overlap=True,
    )
    return mask.astype(np.int32)


def precipitate_images(
    plan: ResolutionPlan, grid: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A recipe's precipitate image at its own pixel, and the precipitates at the grain pixel.

    Parameters
    ----------
    plan : ResolutionPlan
        The recipe's plan (:func:`psplab.sim.resolution.plan_recipe`): fraction, mean radius,
        precipitate pixel and grid, grain pixel.
    grid : int
        Pixels per side of the grain image.
    rng : numpy.random.Generator
        Source of radii and positions.

    Returns
    -------
    own : numpy.ndarray
        int32 (``plan.precipitate_grid``)² image at ``plan.precipitate_pixel_um``.
    at_grain : numpy.ndarray
        int32 (grid, grid) at the grain pixel: the same population drawn where its particles
        span at least a pixel; all matrix otherwise (as a micrograph at that magnification).
    """
    radius = plan.precipitate_radius_um
    own = precipitate_image(
        plan.precipitate_grid,
        plan.precipitate_fraction,
        radius / plan.precipitate_pixel_um if radius > 0 else 0.0,
        rng,
    )
    r_grain_px = radius / plan.pixel_um
    if r_grain_px < 1.0:
        return own, np.zeros((grid, grid), dtype=np.int32)
    return own, precipitate_image(grid, plan.precipitate_fraction, r_grain_px, rng)
