"""Recipe → microstructure: the batched simulation pipeline.

For each recipe (host side, cheap), :func:`psplab.sim.resolution.plan_recipe` applies the
family's kinetic laws in physical units and chooses the resolution:

1. ``deformation_strain`` → recrystallized grain size ``d0``;
2. the heat-hold-cool history → ``K_gg`` (µm², Arrhenius-integrated) → final mean diameter
   ``d_f = sqrt(d0² + K_gg)`` → grain pixel ``d_f / 12`` (unless forced);
3. ``solute_wt_pct`` and cooling → lever-rule precipitate fraction at the freeze-in
   temperature; nucleation density → nucleation radius; ``K_ch`` (µm², ∫D dt while
   supersaturated) → LSW-coarsened mean radius → precipitate pixel ``R / 4``.

Then on the device, for the whole batch at once, Allen-Cahn grain growth in two phases: the
preparation of a resolved, self-similar structure (pixel units), and the physical window, whose
reduced time is proportional to the part of ``K_gg`` after the window's start (see
:mod:`psplab.sim.resolution`). Recipes of one batch run the same number of steps, each with its
own time step. The precipitate image is drawn on the host (:mod:`psplab.sim.precipitates`).

Zener pinning (optional, off by default): ``zener_pinning=(f, r_um)`` pins the grain boundaries
with randomly placed discs of radius ``r_um`` covering an area fraction ``f`` (controlled
studies); they enter the Allen-Cahn free energy as ``ε_p φ_p Σ η_i²`` (see
:mod:`psplab.sim.grain_growth`). The simulated precipitates themselves are nanometres across,
far below the grain image's pixel, so they cannot pin in the simulation.

Causal structure (what the generation code may take as ground truth)::

    deformation_strain    → grain size (finer)
    hold_temperature_C    → grain size (coarser); → precipitate size (only holds below solvus)
    hold_time_s           → grain size (coarser); → precipitate size (only holds below solvus)
    cooling_rate_K_per_s  → grain size (weak: slower cooling, coarser);
                          → precipitate fraction (slower cooling, more);
                          → precipitate size (slower cooling: more fraction, longer coarsening)
    solute_wt_pct         → precipitate fraction (more); → precipitate size (larger)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psplab.errors import InputError
from psplab.sim import grain_growth as ggm
from psplab.sim.families import (
    Recipe,
    coarsening_integral_um2,
    freeze_temperature_K,
    get_family,
    grain_growth_history_um2,
    temperature_history,
)
from psplab.sim.precipitates import precipitate_images
from psplab.sim.resolution import ResolutionPlan, grown_diameter_sq, plan_recipe
from psplab.sim.tracking import mean_ecd_px

N_ORDER = 10
BATCH_BUCKETS = (1, 2, 4, 8, 16)  # padded batch sizes: one compilation each, little waste
DTYPES = ("float32", "float64")
# Peak bytes per grain-image pixel and order parameter of one recipe in a batch: the host copy
# of the fields, the device input and output of a chunk, and XLA's temporaries.
_BYTES_PER_FIELD_VALUE = 6


@dataclass
class SimResult:
    """One simulated microstructure.

    Attributes
    ----------
    grain_labels : numpy.ndarray
        int32 (H, W), grain ids 1..N on a periodic domain.
    phase_labels : numpy.ndarray
        int32 (H, W), 0 matrix, 1 precipitate, at the grain image's pixel: the precipitates as
        a micrograph at that magnification shows them (none when they are smaller than a
        pixel, as the families' nanometre precipitates are).
    pixel_um : float
        Pixel of the grain image in µm.
    recipe : Recipe
        The recipe simulated.
    info : dict
        The plan, the thermal history and what the run did: ``pixel_um``, ``d0_um``,
        ``d_final_law_um``, ``K_gg_um2``, ``K_ch_um2``, ``d_start_um`` (measured start of the
        physical window), ``t_start_s``, ``t_reduced_prepare``, ``t_reduced_gg``, ``n_steps_gg``,
        ``resolved``, ``expected_grains``, ``precipitate_fraction_eq``,
        ``precipitate_radius_um``, ``precipitate_pixel_um``, ``freeze_temperature_K``,
        ``solvus_temperature_K``, ``time_s``, ``temperature_K``, ``history_time_s``,
        ``history_mean_diameter_um``, ``history_grain_count``, ``merge_events``,
        ``recolourings``; with Zener pinning also ``pinning_particles`` (bool H×W) and
        ``pinning_fraction``.
    precipitate_labels : numpy.ndarray
        int32 (G, G), 0 matrix, 1 precipitate: the precipitate image at its own pixel.
    precipitate_pixel_um : float
        Pixel of the precipitate image in µm.
    """

    grain_labels: np.ndarray
    phase_labels: np.ndarray
    pixel_um: float
    recipe: Recipe
    info: dict[str, Any] = field(default_factory=dict)
    precipitate_labels: np.ndarray | None = None
    precipitate_pixel_um: float = float("nan")


@dataclass
class _Prepared:
    recipe: Recipe
    plan: ResolutionPlan
    labels0: np.ndarray
    precipitate_rng: np.random.Generator
    pin_particles: np.ndarray | None = None


def _zener_option(zener: Any) -> tuple[float, float] | None:
    """``None`` (no pinning) or ``(area_fraction, radius_um)``; ``InputError`` otherwise."""
    if zener is False or zener is None:
        return None
    if zener is True:
        raise InputError(
            "zener_pinning=True is not available: the simulated precipitates are nanometres "
            "across, far below the grain image's pixel; pin with (area_fraction, radius_um)"
        )
    try:
        f, r_um = (float(v) for v in zener)
    except (TypeError, ValueError):
        raise InputError(
            f"zener_pinning must be False or (area_fraction, radius_um), got {zener!r}"
        ) from None
    if not (0.0 <= f <= 0.4) or not math.isfinite(r_um) or r_um <= 0:
        raise InputError(
            f"zener_pinning=(area_fraction, radius_um) needs 0 ≤ fraction ≤ 0.4 and radius > 0, "
            f"got {zener!r}"
        )
    return f, r_um


def _prepare(
    recipe: Recipe,
    grid: int,
    seeds: tuple[int, int],
    zener: tuple[float, float] | None,
    pixel_um: float | None,
) -> _Prepared:
    plan = plan_recipe(recipe, grid, pixel_um)
    rng = np.random.default_rng(seeds)
    labels0 = ggm.voronoi_labels(grid, plan.n_voronoi(grid), rng)
    prep = _Prepared(recipe, plan, labels0, np.random.default_rng((*seeds, 1)))
    if zener is not None and zener[0] > 0:
        # Drawn after the grains, so a pinned run starts from the grains of the unpinned one.
        r_px = zener[1] / plan.pixel_um
        if r_px < 1.0:
            raise InputError(
                f"zener_pinning radius {zener[1]:g} µm is below one pixel ({plan.pixel_um:.3g} µm)"
                f" of this {recipe.family} recipe; give a larger radius or a finer pixel"
            )
        prep.pin_particles = ggm.random_particles(grid, zener[0], r_px, rng)
    return prep


def _bucket(n: int) -> int:
    for b in BATCH_BUCKETS:
        if n <= b:
            return b
    return BATCH_BUCKETS[-1]


def _steps_and_dt(times: np.ndarray) -> tuple[int, np.ndarray]:
    """One step count for a batch and each member's step (≤ DT_MAX) to cover its time."""
    n = int(np.ceil(times.max() / ggm.DT_MAX - 1e-9)) if times.size and times.max() > 0 else 0
    return n, (times / n if n else np.zeros_like(times))


def _grow(pad: list[_Prepared], dtype: str, seed: int) -> tuple[ggm.GrainGrowthBatch, dict]:
    """Preparation, then the physical window, for a padded batch; returns the batch and the
    per-recipe ``d_start_px``, reduced times and step counts."""
    pin = None
    if any(p.pin_particles is not None for p in pad):
        pin = np.stack(
            [
                ggm.pinning_field(p.pin_particles)
                if p.pin_particles is not None
                else np.zeros(p.labels0.shape)
                for p in pad
            ]
        )
    batch = ggm.GrainGrowthBatch(
        [p.labels0 for p in pad], n_order=N_ORDER, pin=pin, dtype=dtype, seed=seed
    )
    n_prep, dt_prep = _steps_and_dt(np.array([p.plan.t_prepare for p in pad]))
    batch.advance(dt_prep, n_prep)
    d_start = np.array([mean_ecd_px(lab) for lab in batch.start_clock()])
    t_window = np.array([p.plan.window_time(d) for p, d in zip(pad, d_start, strict=True)])
    n_window, dt_window = _steps_and_dt(t_window)
    batch.advance(dt_window, n_window, record=True)
    return batch, {
        "d_start_px": d_start,
        "t_prepare": np.array([p.plan.t_prepare for p in pad]),
        "t_window": t_window,
        "n_steps": n_prep + n_window,
    }


def _physical_history(prep: _Prepared, d_start_px: float, history: dict) -> dict[str, Any]:
    """Map the window's reduced times to physical times through ``K_gg(t)``."""
    plan = prep.plan
    t_hist, k_hist = grain_growth_history_um2(prep.recipe)
    px = plan.pixel_um
    # The law's K at the window's start (negative if the prepared structure is finer than d0:
    # the first checks then map to t = 0).
    k_start = (d_start_px * px) ** 2 - plan.d0_um**2
    grown = grown_diameter_sq(d_start_px**2, np.asarray(history["t"]))
    k_at = k_start + (grown - d_start_px**2) * px * px
    times = np.interp(np.clip(k_at, 0.0, k_hist[-1]), k_hist, t_hist)
    return {
        "d_start_um": float(d_start_px * px),
        "t_start_s": float(times[0]),
        "history_time_s": times,
        "history_mean_diameter_um": np.asarray(history["mean_ecd_px"]) * px,
        "history_grain_count": np.asarray(history["n_grains"], dtype=int),
    }


def _info(prep: _Prepared, grown: dict, i: int, tracker, history: dict) -> dict[str, Any]:
    plan, recipe = prep.plan, prep.recipe
    fam = get_family(recipe.family)
    t, T, _ = temperature_history(recipe, n_points=50, family=fam)
    info = {
        "pixel_um": plan.pixel_um,
        "forced_pixel": plan.forced_pixel,
        "d0_um": plan.d0_um,
        "d_final_law_um": plan.d_final_um,
        "K_gg_um2": plan.k_gg_um2,
        "K_ch_um2": coarsening_integral_um2(recipe, fam),
        "t_reduced_prepare": float(grown["t_prepare"][i]),
        "t_reduced_gg": float(grown["t_window"][i]),
        "n_steps_gg": int(grown["n_steps"]),
        "resolved": plan.resolved,
        "expected_grains": plan.expected_grains,
        "n_grains_initial": int(prep.labels0.max()),
        "precipitate_fraction_eq": plan.precipitate_fraction,
        "precipitate_radius_um": plan.precipitate_radius_um,
        "precipitate_pixel_um": plan.precipitate_pixel_um,
        "freeze_temperature_K": freeze_temperature_K(recipe, fam),
        "solvus_temperature_K": fam.solvus_temperature_K(recipe.solute_wt_pct),
        "time_s": t,
        "temperature_K": T,
        "merge_events": tracker.merge_events,
        "recolourings": tracker.recolourings,
        "pinning": prep.pin_particles is not None,
    }
    info.update(_physical_history(prep, float(grown["d_start_px"][i]), history))
    if prep.pin_particles is not None:
        info.update(
            pinning_particles=prep.pin_particles.copy(),
            pinning_fraction=float(prep.pin_particles.mean()),
        )
    return info


def _run_chunk(preps: list[_Prepared], grid: int, dtype: str, seed: int) -> list[SimResult]:
    n = len(preps)
    pad = preps + [preps[-1]] * (_bucket(n) - n)  # padded rows are computed and dropped
    batch, grown = _grow(pad, dtype, seed)
    final = batch.labels()
    results = []
    for i, p in enumerate(preps):
        own, at_grain = precipitate_images(p.plan, grid, p.precipitate_rng)
        results.append(
            SimResult(
                grain_labels=final[i].astype(np.int32),
                phase_labels=at_grain,
                pixel_um=p.plan.pixel_um,
                recipe=p.recipe,
                info=_info(p, grown, i, batch.trackers[i], batch.history[i]),
                precipitate_labels=own,
                precipitate_pixel_um=p.plan.precipitate_pixel_um,
            )
        )
    return results


def estimate_memory_bytes(grid: int, n_recipes: int, dtype: str = "float32") -> int:
    """Peak memory (bytes) :func:`simulate_batch` needs for ``n_recipes`` on a ``grid``² field.

    Recipes run in batches of at most ``BATCH_BUCKETS[-1]``; each holds ``N_ORDER`` order
    parameters per pixel on the host and the device.

    Parameters
    ----------
    grid : int
        Pixels per side.
    n_recipes : int
        Recipes to simulate.
    dtype : str
        ``"float32"`` or ``"float64"``.

    Returns
    -------
    int
        Bytes.
    """
    per_value = np.dtype(dtype).itemsize * _BYTES_PER_FIELD_VALUE
    batch = _bucket(max(1, int(min(n_recipes, BATCH_BUCKETS[-1]))))
    return int(batch * N_ORDER * float(grid) ** 2 * per_value)


def _check_batch_args(recipes: list, grid: Any, dtype: str) -> None:
    if dtype not in DTYPES:
        raise InputError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if isinstance(grid, bool) or int(grid) != grid or grid < 16:
        raise InputError(f"grid must be an integer ≥ 16, got {grid!r}")
    for r in recipes:
        if not isinstance(r, Recipe):
            raise TypeError(f"expected Recipe, got {type(r).__name__}")


def _per_recipe(pixel_um: Any, n: int) -> list[float | None]:
    if pixel_um is None or np.ndim(pixel_um) == 0:
        return [pixel_um] * n
    values = list(pixel_um)
    if len(values) != n:
        raise InputError(f"pixel_um gives {len(values)} pixel sizes for {n} recipes")
    return values


def simulate_batch(
    recipes: Sequence[Recipe],
    grid: int = 128,
    seed: int = 0,
    dtype: str = "float32",
    *,
    zener_pinning: bool | tuple[float, float] = False,
    pixel_um: float | Sequence[float | None] | None = None,
) -> list[SimResult]:
    """Simulate many recipes, batched (vmapped) on the device.

    Parameters
    ----------
    recipes : sequence of Recipe
        Recipes of any families (each is checked against its family's bounds).
    grid : int
        Pixels per side of the grain image (square, periodic).
    seed : int
        Recipe ``i`` draws its random grains from ``numpy.random.default_rng((seed, i))`` and
        its precipitates from ``default_rng((seed, i, 1))``: the same (recipes, seed) give the
        same images.
    dtype : str
        ``"float32"`` (default) or ``"float64"``.
    zener_pinning : False or (float, float)
        ``(area_fraction, radius_um)``: randomly placed discs of that radius covering that
        area fraction pin the grain boundaries (in ``info["pinning_particles"]``).
    pixel_um : float or sequence, optional
        Force the grain pixel (µm) of every recipe, or one per recipe (``None`` entries keep
        the recipe's own); default: each recipe's own (:mod:`psplab.sim.resolution`: final
        mean grain diameter / 12).

    Returns
    -------
    list of SimResult
        In the order of ``recipes``.

    Raises
    ------
    InputError
        For a recipe outside its family's bounds, a bad option, or a forced pixel that cannot
        hold the recipe's grains.
    """
    recipes = list(recipes)
    _check_batch_args(recipes, grid, dtype)
    zener = _zener_option(zener_pinning)
    pixels = _per_recipe(pixel_um, len(recipes))
    preps = [
        _prepare(r, int(grid), (seed, i), zener, px)
        for i, (r, px) in enumerate(zip(recipes, pixels, strict=True))
    ]
    out: list[SimResult] = []
    step = BATCH_BUCKETS[-1]
    for start in range(0, len(preps), step):
        out.extend(_run_chunk(preps[start : start + step], int(grid), dtype, seed + start))
    return out


def simulate_recipe(
    recipe: Recipe,
    grid: int = 128,
    seed: int = 0,
    dtype: str = "float32",
    *,
    zener_pinning: bool | tuple[float, float] = False,
    pixel_um: float | None = None,
) -> SimResult:
    """Simulate one recipe (same as ``simulate_batch([recipe], ...)[0]``).

    Parameters
    ----------
    recipe : Recipe
        The processing route.
    grid, seed : int
        As for :func:`simulate_batch`.
    dtype : str
        As for :func:`simulate_batch`.
    zener_pinning : False or (float, float)
        As for :func:`simulate_batch`.
    pixel_um : float, optional
        Force the grain pixel (µm).

    Returns
    -------
    SimResult
    """
    return simulate_batch(
        [recipe],
        grid=grid,
        seed=seed,
        dtype=dtype,
        zener_pinning=zener_pinning,
        pixel_um=pixel_um,
    )[0]
