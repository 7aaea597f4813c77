"""Recipe → microstructure: the batched simulation pipeline.

For each recipe (host side, cheap):

1. ``deformation_strain`` → recrystallized grain size ``d0`` → periodic Voronoi grains;
2. ``hold_temperature_C``, ``hold_time_s``, ``cooling_rate_K_per_s`` → ``K_gg`` (µm²), the
   Arrhenius-integrated grain-growth constant over heat-hold-cool → reduced Allen-Cahn time
   ``t_gg = K_gg / (pixel² β)`` (β: growth of the squared mean diameter per reduced time unit
   of the Fan-Chen model, px², measured by ``benchmarks``/tests);
3. ``solute_wt_pct``, ``cooling_rate_K_per_s`` → lever-rule precipitate fraction at the
   freeze-in temperature → nuclei; ``solute``, the thermal history (cooling rate always; hold
   temperature and time only for holds below the solvus) → ``K_ch`` (µm², ∫D dt while
   supersaturated) → reduced Cahn-Hilliard time (monotone, saturating map onto the window);

then on the device, for the whole batch at once: Cahn-Hilliard (fixed ``N_STEPS_CH`` steps,
per-recipe ``dt``), then Allen-Cahn grain growth (fixed ``N_STEPS_GG`` steps, per-recipe
``dt``) in chunks with host re-colouring of the order parameters in between.

Zener pinning (optional, off by default): ``zener_pinning=True`` lets the precipitates that
exist during the hold pin the grain boundaries. That is the lever-rule fraction at the *hold*
temperature (zero for holds above the solvus; the rest precipitates on cooling, after growth):
whole simulated particles, picked at random, up to that fraction. ``zener_pinning=(f, r_um)``
instead pins with randomly placed discs of radius ``r_um`` covering an area fraction ``f``
(controlled studies). The pinning particles enter the Allen-Cahn free energy as
``ε_p φ_p Σ η_i²`` (see :mod:`psplab.sim.grain_growth`).

Causal structure (what the generation code may take as ground truth)::

    deformation_strain    → grain size (finer)
    hold_temperature_C    → grain size (coarser); → precipitate size (only holds below solvus)
    hold_time_s           → grain size (coarser); → precipitate size (only holds below solvus)
    cooling_rate_K_per_s  → grain size (weak: slower cooling, coarser);
                          → precipitate fraction (slower cooling, more);
                          → precipitate size (slower cooling, coarser)
    solute_wt_pct         → precipitate fraction (more); → precipitate size/number
                          → grain size only with zener_pinning=True (off by default):
                            more solute, more particles during a sub-solvus hold, finer grains
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from psplab.sim import cahn_hilliard as chm
from psplab.sim import grain_growth as ggm
from psplab.sim.families import (
    AlloyFamily,
    Recipe,
    coarsening_integral_um2,
    freeze_temperature_K,
    get_family,
    grain_growth_integral_um2,
    precipitate_fraction_eq,
    temperature_history,
)

N_ORDER = 10
N_STEPS_GG = 480
N_STEPS_CH = 200
# Reduced-time windows (pixel units). GG: dt ≤ DT_MAX keeps explicit Euler stable.
T_GG_MAX = ggm.DT_MAX * N_STEPS_GG
BETA_GG_PX2 = 1.9  # d(d_mean²)/dt of the Fan-Chen model with L = κ = 1 (tests/sim measure it)
T_CH_MIN = 20.0  # every recipe relaxes its nuclei at least this long
T_CH_MAX = 3000.0
# Matrix solubility of the diffuse-interface model around 2-5 px particles (Gibbs-Thomson);
# added to the mean composition so the simulated precipitate fraction follows the lever rule.
GIBBS_THOMSON_OFFSET = 0.02
CH_EXPONENT = 0.3
NUCLEUS_RADIUS_PX = 2.5
BATCH_BUCKETS = (1, 2, 4, 8, 16)  # padded batch sizes: one compilation each, little waste


def reduced_gg_time(k_gg_um2: float, pixel_um: float) -> float:
    """Reduced Allen-Cahn time for a grain-growth integral ``K_gg`` (µm²).

    ``t = T x / (1 + x)``, ``x = K_gg / (pixel² β T)`` with ``T`` the window: for ``K_gg`` well
    inside the window this is the parabolic law itself (``t = K_gg / (pixel² β)``, so the
    simulated d² - d0² equals ``K_gg``); towards the top it saturates (monotonically) instead
    of running off a grid that can only hold so few grains.
    """
    x = k_gg_um2 / (pixel_um**2 * BETA_GG_PX2 * T_GG_MAX)
    return float(T_GG_MAX * x / (1.0 + x))


def reduced_ch_time(k_ch_um2: float, k_mid_um2: float) -> float:
    """Reduced Cahn-Hilliard time for a coarsening integral ``K_ch`` (µm²).

    ``K_ch`` spans many decades over a family's bounds, the grid about one decade of
    ``R³``; ``t = T_min + (T_max - T_min) u / (1 + u)`` with ``u = (K_ch / K_mid)^0.3`` is
    monotone (more diffusion, longer coarsening) and puts the family's median in the middle.
    """
    u = (max(k_ch_um2, 0.0) / k_mid_um2) ** CH_EXPONENT
    return float(T_CH_MIN + (T_CH_MAX - T_CH_MIN) * u / (1.0 + u))


@dataclass
class SimResult:
    """One simulated microstructure.

    Attributes
    ----------
    grain_labels
        int32 (H, W), grain ids 1..N on a periodic domain.
    phase_labels
        int32 (H, W), 0 matrix, 1 precipitate.
    pixel_um
        Pixel size in µm.
    recipe
        The recipe simulated.
    info
        Derived quantities and the thermal history: ``time_s``, ``temperature_K``, ``d0_um``,
        ``K_gg_um2``, ``K_ch_um2``, ``t_reduced_gg``, ``t_reduced_ch``,
        ``precipitate_fraction_eq``, ``freeze_temperature_K``, ``solvus_temperature_K``,
        ``pinning``, ``merge_events``, ``recolourings``, ``composition`` (the CH field);
        with Zener pinning also ``pinning_particles`` (bool H×W) and ``pinning_fraction``.
    """

    grain_labels: np.ndarray
    phase_labels: np.ndarray
    pixel_um: float
    recipe: Recipe
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Prepared:
    recipe: Recipe
    family: AlloyFamily
    labels0: np.ndarray
    c0: np.ndarray
    dt_gg: float
    dt_ch: float
    pinning: bool
    info: dict[str, Any]
    # Zener pinning: target area fraction of simulated precipitates present during the hold
    # (mode "precipitates") or the given particles (mode "given").
    pin_mode: str | None = None
    pin_fraction: float = 0.0
    pin_particles: np.ndarray | None = None
    pin_rng: np.random.Generator | None = None


def hold_precipitate_fraction(recipe: Recipe, family: AlloyFamily | None = None) -> float:
    """Lever-rule precipitate (area) fraction at the hold temperature, in [0, 0.45].

    The particles that exist while grains grow (during the hold): zero for holds above the
    solvus. It is at most :func:`~psplab.sim.families.precipitate_fraction_eq` (the
    fraction frozen in on cooling, at a lower temperature with a lower solubility).
    """
    fam = family or get_family(recipe.family)
    x_s = float(fam.solvus_wt_pct(recipe.hold_temperature_K))
    f = (recipe.solute_wt_pct - x_s) / (fam.precipitate_wt_pct - x_s)
    return float(np.clip(f, 0.0, 0.45))


def _check_zener(zener: Any) -> None:
    if isinstance(zener, bool):
        return
    try:
        f, r_um = (float(v) for v in zener)
    except (TypeError, ValueError):
        raise ValueError(
            f"zener_pinning must be True/False or (area_fraction, radius_um), got {zener!r}"
        ) from None
    if not (0.0 <= f <= 0.4) or not np.isfinite(r_um) or r_um <= 0:
        raise ValueError(
            f"zener_pinning=(area_fraction, radius_um) needs 0 ≤ fraction ≤ 0.4 and radius > 0, "
            f"got {zener!r}"
        )


def _prepare(
    recipe: Recipe, grid: int, rng: np.random.Generator, zener: bool | tuple[float, float]
) -> _Prepared:
    fam = get_family(recipe.family)
    fam.check_recipe(recipe)
    px = fam.pixel_um
    d0_um = fam.recrystallized_grain_size_um(recipe.deformation_strain)
    d0_px = d0_um / px
    n_grains = max(2, int(round(4.0 * grid * grid / (np.pi * d0_px**2))))
    labels0 = ggm.voronoi_labels(grid, n_grains, rng)

    k_gg = grain_growth_integral_um2(recipe, fam)
    t_gg = reduced_gg_time(k_gg, px)

    frac = precipitate_fraction_eq(recipe, fam)
    k_ch = coarsening_integral_um2(recipe, fam)
    t_ch = reduced_ch_time(k_ch, fam.ch_k_mid_um2)
    c0 = chm.nucleated_field(grid, frac, NUCLEUS_RADIUS_PX, rng)
    if frac > 0:
        c0 = c0 + GIBBS_THOMSON_OFFSET
    T_s = fam.solvus_temperature_K(recipe.solute_wt_pct)
    # Draws for the pinning particles come after the grains and nuclei, so a run with
    # pinning starts from the same grains and nuclei as the run without.
    pin_mode, pin_frac, pin_particles, pin_rng = None, 0.0, None, None
    if zener is True:
        pin_frac = hold_precipitate_fraction(recipe, fam)
        if pin_frac > 0:
            pin_mode, pin_rng = "precipitates", np.random.default_rng(rng.integers(2**63))
    elif zener is not False:
        f_given, r_um = (float(v) for v in zener)
        r_px = r_um / px
        if r_px < 1.0:
            raise ValueError(
                f"zener_pinning radius {r_um:g} µm is below one pixel ({px:g} µm) of {fam.name}"
            )
        pin_particles = ggm.random_particles(grid, f_given, r_px, rng)
        pin_frac = float(pin_particles.mean())
        pin_mode = "given" if pin_frac > 0 else None
    pinning = pin_mode is not None
    t, T, _ = temperature_history(recipe, n_points=50, family=fam)
    info = {
        "time_s": t,
        "temperature_K": T,
        "d0_um": d0_um,
        "n_grains_initial": int(labels0.max()),
        "K_gg_um2": k_gg,
        "K_ch_um2": k_ch,
        "t_reduced_gg": t_gg,
        "t_reduced_ch": t_ch,
        "precipitate_fraction_eq": frac,
        "freeze_temperature_K": freeze_temperature_K(recipe, fam),
        "solvus_temperature_K": T_s,
        "pinning": pinning,
    }
    return _Prepared(
        recipe,
        fam,
        labels0,
        c0,
        t_gg / N_STEPS_GG,
        t_ch / N_STEPS_CH,
        pinning,
        info,
        pin_mode,
        pin_frac,
        pin_particles,
        pin_rng,
    )


def _hold_particles(phase: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Whole precipitates, in random order, covering about ``fraction`` of the grid.

    A particle is taken while at least half of it fits under the target, so one large
    (e.g. interconnected) precipitate cannot overshoot the target by more than half its area.
    """
    lab, n = ggm.periodic_label(phase > 0)
    keep = np.zeros(n + 1, dtype=bool)
    area = np.bincount(lab.ravel(), minlength=n + 1)
    target, covered = fraction * phase.size, 0
    for k in (rng.permutation(n) + 1).tolist():
        if covered + 0.5 * area[k] <= target:
            keep[k] = True
            covered += int(area[k])
    return keep[lab]


def _bucket(n: int) -> int:
    for b in BATCH_BUCKETS:
        if n <= b:
            return b
    return BATCH_BUCKETS[-1]


def _run_chunk(preps: list[_Prepared], grid: int, dtype: str, seed: int) -> list[SimResult]:
    n = len(preps)
    b = _bucket(n)
    pad = preps + [preps[-1]] * (b - n)  # padded rows are computed and dropped
    with jax.enable_x64(dtype == "float64"):
        # Precipitation.
        c0 = jnp.asarray(np.stack([p.c0 for p in pad]), dtype=dtype)
        dt_ch = jnp.asarray([p.dt_ch for p in pad], dtype=dtype)
        c = np.asarray(chm.ch_run(c0, dt_ch, N_STEPS_CH))
        phase = (c > 0.5).astype(np.int32)

        # Grain growth.
        pin = np.zeros((b, grid, grid))
        for i, p in enumerate(preps):  # padded rows repeat the last recipe's field below
            if p.pin_mode == "precipitates":
                p.pin_particles = _hold_particles(phase[i], p.pin_fraction, p.pin_rng)
            if p.pinning:
                pin[i] = ggm.pinning_field(p.pin_particles)
        pin[n:] = pin[n - 1]
    _, trackers, _, final = ggm.run_grain_growth(
        [p.labels0 for p in pad],
        np.array([p.dt_gg for p in pad]),
        N_STEPS_GG,
        n_order=N_ORDER,
        pin=pin,
        dtype=dtype,
        seed=seed,
    )

    results = []
    for i, p in enumerate(preps):
        labels = final[i]
        info = dict(p.info)
        info.update(
            merge_events=trackers[i].merge_events,
            recolourings=trackers[i].recolourings,
            composition=c[i].astype(np.float32),
        )
        if p.pinning:
            info.update(
                pinning_particles=p.pin_particles.copy(),
                pinning_fraction=float(p.pin_particles.mean()),
            )
        results.append(
            SimResult(
                grain_labels=labels.astype(np.int32),
                phase_labels=phase[i],
                pixel_um=p.family.pixel_um,
                recipe=p.recipe,
                info=info,
            )
        )
    return results


def simulate_batch(
    recipes: Sequence[Recipe],
    grid: int = 128,
    seed: int = 0,
    dtype: str = "float32",
    *,
    zener_pinning: bool | tuple[float, float] = False,
) -> list[SimResult]:
    """Simulate many recipes, batched (vmapped) on the device.

    Parameters
    ----------
    recipes
        Recipes of any families (each is checked against its family's bounds).
    grid
        Grid size in pixels (square, periodic). The pixel size is the family's, so the grid
        sets the field of view, not the resolution.
    seed
        Recipe ``i`` draws its random grains and nuclei from ``numpy.random.default_rng((seed,
        i))``: the same (recipes, seed) give the same images.
    dtype
        ``"float32"`` (default) or ``"float64"``.
    zener_pinning
        Zener pinning of grain boundaries by immobile particles (off by default). ``True``:
        the simulated precipitates that exist during the hold pin (whole particles picked at
        random up to the lever-rule fraction at the hold temperature; none for holds above
        the solvus). ``(area_fraction, radius_um)``: randomly placed discs of that radius
        covering that area fraction pin instead (``phase_labels`` still shows the
        precipitates; the pinning particles are in ``info["pinning_particles"]``).

    Returns
    -------
    list of SimResult, in the order of ``recipes``.
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if int(grid) != grid or grid < 16:
        raise ValueError(f"grid must be an integer ≥ 16, got {grid!r}")
    _check_zener(zener_pinning)
    recipes = list(recipes)
    for r in recipes:
        if not isinstance(r, Recipe):
            raise TypeError(f"expected Recipe, got {type(r).__name__}")
    preps = [
        _prepare(r, int(grid), np.random.default_rng((seed, i)), zener_pinning)
        for i, r in enumerate(recipes)
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
) -> SimResult:
    """Simulate one recipe (same as ``simulate_batch([recipe], ...)[0]``)."""
    return simulate_batch([recipe], grid=grid, seed=seed, dtype=dtype, zener_pinning=zener_pinning)[
        0
    ]
