"""simulate_recipe / simulate_batch: the contract and the family's kinetics end to end (µm)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from psplab.errors import InputError
from psplab.measure import measure_grains, measure_particles
from psplab.sim import Recipe, SimResult, get_family, plan_recipe, simulate_batch, simulate_recipe
from psplab.sim import families as fam_mod
from psplab.sim.precipitates import precipitate_image, precipitate_images
from psplab.sim.resolution import D_START_PX


def _corner(name: str, which: str) -> Recipe:
    fam = get_family(name)
    (t_lo, t_hi), (h_lo, h_hi) = fam.bounds["hold_temperature_C"], fam.bounds["hold_time_s"]
    T, t = {"cold_short": (t_lo, h_lo), "hot_long": (t_hi, h_hi)}[which]
    return dataclasses.replace(fam.baseline_recipe(), hold_temperature_C=T, hold_time_s=t)


@pytest.fixture(scope="module")
def law_runs() -> list[SimResult]:
    """The two extreme (hold temperature, hold time) corners of every family, 128²."""
    recipes = [_corner(f, w) for f in ("ferritic_steel", "al_mg", "ti_al")
               for w in ("cold_short", "hot_long")]
    return simulate_batch(recipes, grid=128, seed=0)


@pytest.mark.slow
def test_grain_size_follows_the_family_law_in_micrometres(law_runs):
    """Measured mean diameter (µm) vs sqrt(d0² + K_gg) from the run's own info.

    Across 15 corner/centre recipes and several seeds at 128² the ratio stayed within
    0.95-1.06 (seed-to-seed spread ≈ 3 %); the bound is the issue's 10 %.
    """
    for res in law_runs:
        m = measure_grains(res.grain_labels, res.pixel_um, periodic=True)
        law = np.sqrt(res.info["d0_um"] ** 2 + res.info["K_gg_um2"])
        assert m["mean_diameter_um"] == pytest.approx(law, rel=0.10), res.recipe
        assert m["grain_count"] >= 100
        assert m["mean_diameter_um"] / res.pixel_um >= 8.0
    # The corners of each family span the family's own kinetics (5-35× in diameter), not
    # the < 2× a fixed window of pixels allowed.
    for k in range(0, len(law_runs), 2):
        cold, hot = law_runs[k], law_runs[k + 1]
        d = [measure_grains(r.grain_labels, r.pixel_um, periodic=True)["mean_diameter_um"]
             for r in (cold, hot)]
        law_ratio = hot.info["d_final_law_um"] / cold.info["d_final_law_um"]
        assert law_ratio > 4.5
        assert d[1] / d[0] == pytest.approx(law_ratio, rel=0.15)


@pytest.mark.slow
def test_grain_size_follows_the_law_along_the_thermal_history(law_runs):
    """At every check of the simulated window, the mean diameter at physical time t matches
    sqrt(d0² + K_gg(t)) (within 12 %: early checks see the seed-to-seed spread of a grown
    structure, ≈ 4 % at 128²), and the window starts with resolved grains."""
    for res in law_runs:
        t_hist, k_hist = fam_mod.grain_growth_history_um2(res.recipe)
        times = res.info["history_time_s"]
        d_sim = res.info["history_mean_diameter_um"]
        assert np.all(np.diff(times) >= 0) and times[-1] <= t_hist[-1] + 1e-9
        d_law = np.sqrt(res.info["d0_um"] ** 2 + np.interp(times, t_hist, k_hist))
        np.testing.assert_allclose(d_sim[1:], d_law[1:], rtol=0.12)
        assert res.info["d_start_um"] / res.pixel_um >= 0.9 * D_START_PX
        assert res.info["resolved"]


def test_result_contract_and_determinism():
    r = get_family("ferritic_steel").baseline_recipe()
    a, b = simulate_batch([r, r], grid=48, seed=3)
    plan = plan_recipe(r, 48)
    for res in (a, b):
        assert res.grain_labels.shape == res.phase_labels.shape == (48, 48)
        assert res.grain_labels.dtype == np.int32 and res.phase_labels.dtype == np.int32
        ids = np.unique(res.grain_labels)
        assert ids[0] == 1 and np.array_equal(ids, np.arange(1, ids[-1] + 1))
        assert res.pixel_um == pytest.approx(plan.pixel_um) == res.info["pixel_um"]
        assert res.precipitate_labels.shape == (plan.precipitate_grid,) * 2
        assert res.precipitate_pixel_um == pytest.approx(plan.precipitate_pixel_um)
        assert set(np.unique(res.precipitate_labels)) <= {0, 1}
        # nanometre precipitates do not show at the grain image's micrometre pixel
        assert res.precipitate_pixel_um < 1e-2 * res.pixel_um and res.phase_labels.max() == 0
        assert len(res.info["time_s"]) == len(res.info["temperature_K"])
    assert not np.array_equal(a.grain_labels, b.grain_labels)  # recipe i draws from (seed, i)
    again = simulate_recipe(r, grid=48, seed=3)
    np.testing.assert_array_equal(again.grain_labels, a.grain_labels)
    np.testing.assert_array_equal(again.precipitate_labels, a.precipitate_labels)
    c = simulate_recipe(r, grid=48, seed=3, dtype="float64")
    assert abs(int(c.grain_labels.max()) - int(a.grain_labels.max())) <= 2


def test_forced_pixel_sets_the_field_of_view():
    r = get_family("al_mg").baseline_recipe()
    d_f = fam_mod.final_grain_size_um(r)
    res = simulate_recipe(r, grid=48, seed=0, pixel_um=d_f / 8)
    assert res.pixel_um == d_f / 8 and res.info["forced_pixel"]
    assert not res.info["resolved"]  # 8 px final grains: the window cannot start at 10 px
    m = measure_grains(res.grain_labels, res.pixel_um, periodic=True)
    assert m["mean_diameter_um"] == pytest.approx(d_f, rel=0.2)
    with pytest.raises(InputError, match="holds only"):
        plan_recipe(r, 48, pixel_um=d_f / 30)
    with pytest.raises(InputError, match="span only"):
        plan_recipe(r, 48, pixel_um=d_f)


def test_precipitates_follow_the_lever_rule_and_lsw_in_micrometres():
    """Measured area fraction and mean radius of the precipitate image against the laws.

    Over 8 seeds per recipe the fraction stayed within 0.0007 of the lever rule (placement
    stops within half a particle), the radius within 5 % (≈ 50 LSW-distributed particles) and
    (R³ - R_n³) / (L_c K_ch) within 0.84-1.17 where coarsening dominates.
    """
    steel = get_family("ferritic_steel").baseline_recipe()
    recipes = [
        dataclasses.replace(steel, solute_wt_pct=2.5, hold_temperature_C=T, hold_time_s=t)
        for T, t in ((650.0, 10.0), (800.0, 1200.0), (850.0, 3600.0))
    ] + [get_family("al_mg").baseline_recipe(), get_family("ti_al").baseline_recipe()]
    excess = []
    for seed, r in enumerate(recipes):
        plan = plan_recipe(r, 128)
        own, _ = precipitate_images(plan, 128, np.random.default_rng(seed))
        m = measure_particles(own == 1, plan.precipitate_pixel_um, periodic=True)
        assert m["area_fraction"] == pytest.approx(plan.precipitate_fraction, abs=0.003)
        radius = m["mean_eq_diameter_um"] / 2
        assert radius == pytest.approx(plan.precipitate_radius_um, rel=0.12)
        assert m["count"] >= 40
        fam = get_family(r.family)
        r_n = fam_mod.nucleation_radius_um(plan.precipitate_fraction, fam)
        k_ch = fam_mod.coarsening_integral_um2(r, fam)
        excess.append((k_ch, radius**3 - r_n**3, fam.coarsening_length_nm * 1e-3))
    # R³ - R_n³ ∝ K_ch from the measured radii, where coarsening dominates (the steel holds
    # at 800 and 850 °C grow R³ 3.7× and 28× beyond R_n³).
    for k_ch, r3, l_c in excess[1:3]:
        assert r3 / k_ch == pytest.approx(l_c, rel=0.35)


@pytest.mark.slow
def test_halving_the_pixel_converges():
    """Same field of view, half the pixel: mean grain size within 5 %, precipitate fraction
    within 0.005. Four seeds each (seed-to-seed spread of one 64² run ≈ 5 %, of the mean of
    four ≈ 2.5 %)."""
    r = dataclasses.replace(get_family("ti_al").baseline_recipe(), hold_time_s=600.0)
    coarse = simulate_batch([r] * 4, grid=64, seed=0)
    px = coarse[0].pixel_um
    fine = simulate_batch([r] * 4, grid=128, seed=0, pixel_um=px / 2)  # same seeds, refined

    def mean_d(results):
        return np.mean([measure_grains(x.grain_labels, x.pixel_um, periodic=True)
                        ["mean_diameter_um"] for x in results])

    assert mean_d(fine) == pytest.approx(mean_d(coarse), rel=0.05)
    plan = plan_recipe(r, 64)
    r_px = plan.precipitate_radius_um / plan.precipitate_pixel_um
    for seed in range(3):
        a = precipitate_image(plan.precipitate_grid, plan.precipitate_fraction, r_px,
                              np.random.default_rng(seed))
        b = precipitate_image(2 * plan.precipitate_grid, plan.precipitate_fraction, 2 * r_px,
                              np.random.default_rng(seed))
        assert abs(a.mean() - b.mean()) < 0.005


def test_bad_inputs_are_rejected():
    base = get_family("al_mg").baseline_recipe()
    with pytest.raises(InputError, match="hold_time_s"):
        simulate_recipe(dataclasses.replace(base, hold_time_s=1e6), grid=32)
    with pytest.raises(InputError, match="dtype"):
        simulate_recipe(base, grid=32, dtype="float16")
    with pytest.raises(InputError, match="grid"):
        simulate_recipe(base, grid=8)
    with pytest.raises(TypeError, match="Recipe"):
        simulate_batch([base.to_dict()], grid=32)
