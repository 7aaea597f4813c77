"""How finely each recipe is resolved: pixel sizes, the simulated growth window, step counts.

**Pixel-size rule (grains).** The family's parabolic law gives the final mean grain diameter
``d_f = sqrt(d0² + K_gg)``. Unless a pixel size is forced, the pixel is ``d_f / 12``: the final
mean equivalent-circle diameter spans :data:`D_END_PX` = 12 px, whatever the recipe, so a grid
of ``G`` pixels per side holds about ``0.7 (G / 12)²`` grains at the end (≈ 115 at ``G`` = 128,
≈ 29 at 64) and the field of view is ``G × d_f / 12``.

**Simulated window.** The Allen-Cahn model resolves grains of ≥ :data:`D_START_PX` = 10 px.
The physical clock of a simulation starts at the mean diameter ``d_s = max(d0, 10/12 d_f)``
(10 px at the adaptive pixel; ``d0`` itself when the recrystallized grains are that large,
otherwise the state that the parabolic law reaches at ``K(t_s) = d_s² - d0²``) and runs to
``d_f``. The window is set in µm, so a forced finer pixel refines the same physical problem. The structure at ``d_s`` is prepared
in pixel units, outside the physical clock: a hard-core Voronoi tessellation with mean diameter
``d_s / 2`` grown to ``≈ d_s`` (grain growth is statistically self-similar, so the grown
structure, unlike a Voronoi one, has the steady-state shape and size spread). The window's
reduced time is ``(d_f² - d_s²) / (β px²)`` with the *measured* ``d_s`` and the model's growth
rate β (:data:`BETA_ECD_PX2`), i.e. proportional to the part of ``K_gg`` after ``t_s``, with no
saturation. (Better-resolved grains, above 12 px with a forced finer pixel, grow a little more
slowly; :func:`growth_time` integrates the measured rate.) With the adaptive pixel that is at most ``(12² - 8²) / β`` ≈ 55 time units, and
the preparation at most ``C_PRE × (12 / 1.6)²`` ≈ 68: every recipe takes at most
:func:`max_steps_adaptive` = 682 explicit steps of ``dt`` = 0.18 (typically ≈ 430; a batch runs
the largest count of its members).

**Precipitates** are far smaller than grains (nanometres against micrometres), so they get
their own image: pixel ``R / 4`` (the mean radius spans :data:`R_END_PX` = 4 px) on a grid
large enough for ≈ :data:`MIN_PARTICLES` particles (between ``G`` and
:data:`MAX_PRECIPITATE_GRID_FACTOR` × ``G``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from psplab.errors import InputError
from psplab.sim.families import (
    AlloyFamily,
    Recipe,
    final_grain_size_um,
    get_family,
    grain_growth_integral_um2,
    precipitate_fraction_eq,
    precipitate_radius_um,
)

D_END_PX = 12.0  # final mean ECD (px) at the adaptive pixel: ≥ 8 px resolved, ≥ 100 grains at 128²
D_START_PX = 10.0  # the physical window starts at a mean ECD of at least this (px)
PREGROWTH_RATIO = 1.6  # prepared structure: Voronoi at d_s / 1.6 grown to d_s
# Reduced time, in units of (Voronoi mean ECD)², that hard-core Voronoi grains take to double
# their mean ECD (16 runs at 128², d_v = 5 px: 1.84 ± 0.05; tests/sim check it).
C_PRE = 1.2
# d(mean ECD²)/dτ of the Fan-Chen model (L = κ = 1, γ = 1.5) in px² per unit reduced time, for
# grown (self-similar) structures: 1.45 up to D_END_PX (15 recipes × 2 seeds at 128², window
# 10-12 px: measured/law 1.00), then β∞ (1 + c / d²), which is slower for better-resolved grains
# (grown structures at 256², 10-24 px: 1.36 on average); continuous at D_END_PX.
BETA_ECD_PX2 = 1.45
BETA_SIZE_PX2 = 19.0  # c
BETA_INF_PX2 = BETA_ECD_PX2 / (1.0 + BETA_SIZE_PX2 / D_END_PX**2)  # β∞ ≈ 1.28
VORONOI_ECD_RATIO = 0.985  # mean ECD / sqrt(4 Ā / π) of a hard-core Voronoi tessellation
GROWN_ECD_RATIO = 0.945  # the same for grown structures (self-similar regime)
MIN_START_SHARE = 0.8  # a prepared structure counts as at least this share of its target size
MIN_GRAINS_END = 4  # a field of view that holds fewer final grains is refused
MIN_D_FINAL_PX = 3.0  # final grains smaller than this (forced pixel) are refused
R_END_PX = 4.0  # mean precipitate radius in px of the precipitate image
MIN_PARTICLES = 50
MAX_PRECIPITATE_GRID_FACTOR = 4
LSW_MEAN_SQUARE = 1.046  # <R²> / <R>² of the LSW distribution


@dataclass(frozen=True)
class ResolutionPlan:
    """Pixel sizes and growth window of one recipe (see the module docstring).

    Attributes
    ----------
    pixel_um : float
        Pixel of the grain image (µm).
    forced_pixel : bool
        Whether ``pixel_um`` was given rather than chosen.
    d0_um, d_final_um : float
        Recrystallized and final mean grain diameter of the family's law (µm).
    k_gg_um2 : float
        Grain-growth integral of the whole history (µm²).
    d_start_px : float
        Target mean diameter (px) of the prepared structure where the physical clock starts.
    voronoi_ecd_px : float
        Mean diameter (px) of the Voronoi tessellation the preparation starts from.
    t_prepare : float
        Reduced time of the preparation (pixel units, outside the physical clock).
    resolved : bool
        Whether every simulated stage has grains of ≥ :data:`D_START_PX` px (a forced pixel
        coarser than the adaptive one, ``d_f / 12``, gives ``False`` unless ``d0`` is larger).
    expected_grains : float
        Grains the field of view holds at the end.
    precipitate_fraction : float
        Lever-rule fraction at the freeze-in temperature.
    precipitate_radius_um : float
        Mean precipitate radius of the family's law (µm; 0 without precipitate).
    precipitate_pixel_um : float
        Pixel of the precipitate image (µm).
    precipitate_grid : int
        Pixels per side of the precipitate image.
    """

    pixel_um: float
    forced_pixel: bool
    d0_um: float
    d_final_um: float
    k_gg_um2: float
    d_start_px: float
    voronoi_ecd_px: float
    t_prepare: float
    resolved: bool
    expected_grains: float
    precipitate_fraction: float
    precipitate_radius_um: float
    precipitate_pixel_um: float
    precipitate_grid: int

    @property
    def d_final_px(self) -> float:
        """Final mean diameter of the law in pixels."""
        return self.d_final_um / self.pixel_um

    def n_voronoi(self, grid: int) -> int:
        """Number of Voronoi cells whose mean ECD is :attr:`voronoi_ecd_px` on ``grid``².

        Parameters
        ----------
        grid : int
            Pixels per side.

        Returns
        -------
        int
            At least 2.
        """
        d_area = self.voronoi_ecd_px / VORONOI_ECD_RATIO
        return max(2, int(round(4.0 * grid * grid / (math.pi * d_area**2))))

    def window_time(self, d_start_measured_px: float) -> float:
        """Reduced time from the measured prepared diameter to the law's final diameter.

        The measured diameter is taken as at least :data:`MIN_START_SHARE` of the target, which
        bounds the step count whatever a preparation gives.

        Parameters
        ----------
        d_start_measured_px : float
            Mean ECD (px) of the prepared structure.

        Returns
        -------
        float
            Reduced time (pixel units).
        """
        d_s = max(d_start_measured_px, MIN_START_SHARE * self.d_start_px)
        return growth_time(d_s**2, self.d_final_px**2)


def growth_time(d2_start_px2: float, d2_end_px2: float) -> float:
    """Reduced time the model takes to grow the mean ECD² from one value to another.

    ``∫ d(d²) / β(d)`` with β of :data:`BETA_ECD_PX2` (up to :data:`D_END_PX`) and
    ``β∞ (1 + c / d²)`` above; 0 when the end is not above the start.

    Parameters
    ----------
    d2_start_px2, d2_end_px2 : float
        Squared mean diameters in px².

    Returns
    -------
    float
    """
    x0, x1 = float(d2_start_px2), float(d2_end_px2)
    if x1 <= x0:
        return 0.0
    knee = D_END_PX**2
    t = (min(x1, knee) - min(x0, knee)) / BETA_ECD_PX2
    a, c = max(x0, knee), BETA_SIZE_PX2
    if x1 > a:
        t += (x1 - a - c * np.log((x1 + c) / (a + c))) / BETA_INF_PX2
    return float(t)


def grown_diameter_sq(d2_start_px2: float, times: np.ndarray) -> np.ndarray:
    """Expected mean ECD² (px²) after reduced times ``times`` from ``d2_start_px2``.

    The inverse of :func:`growth_time` (maps the checks of a window to physical time).

    Parameters
    ----------
    d2_start_px2 : float
        Squared mean diameter at the window's start, px².
    times : numpy.ndarray
        Reduced times since the start.

    Returns
    -------
    numpy.ndarray
        Squared mean diameters, px².
    """
    times = np.asarray(times, dtype=float)
    lo = np.full(times.shape, float(d2_start_px2))
    hi = lo + BETA_ECD_PX2 * times + 1.0  # β ≤ BETA_ECD_PX2: growth is at most this
    for _ in range(60):  # bisection: growth_time is increasing in the end point
        mid = 0.5 * (lo + hi)
        ahead = np.array([growth_time(d2_start_px2, m) for m in mid.ravel()]).reshape(mid.shape)
        lo, hi = np.where(ahead < times, mid, lo), np.where(ahead < times, hi, mid)
    return 0.5 * (lo + hi)


def expected_grains(grid: int, d_px: float) -> float:
    """Grains of mean ECD ``d_px`` (grown structure) that a ``grid``² field holds.

    Parameters
    ----------
    grid : int
        Pixels per side of the square field.
    d_px : float
        Mean equivalent-circle diameter in pixels.

    Returns
    -------
    float
    """
    d_area = d_px / GROWN_ECD_RATIO
    return (grid / d_area) ** 2 / (0.25 * math.pi)  # ratio first: no overflow for tiny pixels


def _grain_window(d0_um: float, d_final_um: float, px: float) -> tuple[float, float, float]:
    """(d_start_px, voronoi_ecd_px, t_prepare) of the window ``[max(d0, 10/12 d_f), d_f]``.

    The window is set in µm, whatever the pixel: a forced finer pixel refines the same
    physical problem (the same Voronoi seeds, relative to the field of view, for the same seed).
    """
    d_start = min(max(d0_um, D_START_PX / D_END_PX * d_final_um), d_final_um) / px
    d_v = max(d_start / PREGROWTH_RATIO, min(d_start, 2.5))
    t_prepare = C_PRE * d_v**2 if d_v < d_start else 0.0
    return d_start, d_v, t_prepare


def _precipitate_plan(
    recipe: Recipe, family: AlloyFamily, grid: int, pixel_um: float
) -> tuple[float, float, float, int]:
    frac = precipitate_fraction_eq(recipe, family)
    radius_um = precipitate_radius_um(recipe, family)
    if frac <= 0 or radius_um <= 0:
        return frac, 0.0, pixel_um, grid
    area_px = math.pi * R_END_PX**2 * LSW_MEAN_SQUARE
    side = math.sqrt(MIN_PARTICLES * area_px / frac)
    side = int(16 * math.ceil(side / 16))
    side = min(max(side, grid), MAX_PRECIPITATE_GRID_FACTOR * grid)
    return frac, radius_um, radius_um / R_END_PX, side


def plan_recipe(recipe: Recipe, grid: int, pixel_um: float | None = None) -> ResolutionPlan:
    """The resolution plan of ``recipe`` on a ``grid``² field.

    Parameters
    ----------
    recipe : Recipe
        The processing route (checked against its family's bounds).
    grid : int
        Pixels per side of the grain image.
    pixel_um : float, optional
        Force the grain pixel (µm); default ``d_f / 12``.

    Returns
    -------
    ResolutionPlan

    Raises
    ------
    InputError
        For a recipe outside its family's bounds, or a forced pixel at which the final grains
        span fewer than :data:`MIN_D_FINAL_PX` pixels or the field holds fewer than
        :data:`MIN_GRAINS_END` of them.
    """
    fam = get_family(recipe.family)
    fam.check_recipe(recipe)
    d0 = fam.recrystallized_grain_size_um(recipe.deformation_strain)
    d_f = final_grain_size_um(recipe, fam)
    forced = pixel_um is not None
    px = float(pixel_um) if forced else d_f / D_END_PX
    if not (math.isfinite(px) and px > 0):
        raise InputError(f"pixel size must be a positive number of µm, got {pixel_um!r}")
    d_f_px = d_f / px
    n_end = expected_grains(grid, d_f_px)
    if d_f_px < MIN_D_FINAL_PX:
        raise InputError(
            f"{recipe.family}: final grains of {d_f:.3g} µm span only {d_f_px:.2g} px of "
            f"{px:g} µm; use a pixel of at most {d_f / MIN_D_FINAL_PX:.3g} µm"
        )
    if n_end < MIN_GRAINS_END:
        raise InputError(
            f"{recipe.family}: a {grid}-pixel field of view holds only {n_end:.1f} final grains "
            f"of {d_f:.3g} µm ({d_f_px:.3g} px); use a larger grid or a coarser pixel"
        )
    d_start, d_v, t_prep = _grain_window(d0, d_f, px)
    frac, r_um, px_p, grid_p = _precipitate_plan(recipe, fam, grid, px)
    return ResolutionPlan(
        pixel_um=px,
        forced_pixel=forced,
        d0_um=d0,
        d_final_um=d_f,
        k_gg_um2=grain_growth_integral_um2(recipe, fam),
        d_start_px=d_start,
        voronoi_ecd_px=d_v,
        t_prepare=t_prep,
        resolved=bool(d_start >= D_START_PX - 1e-9),
        expected_grains=n_end,
        precipitate_fraction=frac,
        precipitate_radius_um=r_um,
        precipitate_pixel_um=px_p,
        precipitate_grid=grid_p,
    )


def max_steps_adaptive(dt: float) -> int:
    """Upper bound on the explicit steps of one recipe at the adaptive pixel, step ``dt``.

    The preparation grows with the start diameter and the window shrinks with it; both are
    largest at their own extremes (start at :data:`D_END_PX`, window from
    :data:`MIN_START_SHARE` × :data:`D_START_PX`), so their sum bounds every recipe.

    Parameters
    ----------
    dt : float
        Explicit time step (reduced units).

    Returns
    -------
    int
    """
    t_prepare = C_PRE * (D_END_PX / PREGROWTH_RATIO) ** 2
    t_window = growth_time((MIN_START_SHARE * D_START_PX) ** 2, D_END_PX**2)
    return int(np.ceil(t_prepare / dt) + np.ceil(t_window / dt))
