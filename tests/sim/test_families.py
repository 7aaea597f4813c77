"""Recipes, alloy families and the thermal-history integrals that drive the simulations."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from psplab.sim import FAMILIES, RECIPE_PARAMS, AlloyFamily, Recipe, get_family
from psplab.sim import families as fam_mod


def test_three_families_with_bounds_over_recipe_params():
    assert set(FAMILIES) == {"ferritic_steel", "al_mg", "ti_al"}
    for name, fam in FAMILIES.items():
        assert isinstance(fam, AlloyFamily) and fam.name == name
        assert set(fam.bounds) == set(RECIPE_PARAMS)
        for lo, hi in fam.bounds.values():
            assert lo < hi
        base = fam.baseline_recipe()
        for p in RECIPE_PARAMS:
            lo, hi = fam.bounds[p]
            assert getattr(base, p) == pytest.approx(0.5 * (lo + hi))
        fam.check_recipe(base)  # the centre is inside


def test_recipe_round_trip_through_json():
    r = get_family("ti_al").baseline_recipe()
    back = Recipe.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r
    with pytest.raises(KeyError, match="hold_time_s"):
        Recipe.from_dict({k: v for k, v in r.to_dict().items() if k != "hold_time_s"})


def test_unknown_family_and_out_of_bounds_recipe_are_named():
    with pytest.raises(KeyError, match="known: ferritic_steel"):
        get_family("brass")
    fam = get_family("al_mg")
    bad = dataclasses.replace(fam.baseline_recipe(), hold_temperature_C=900.0, hold_time_s=-1.0)
    with pytest.raises(ValueError, match=r"hold_temperature_C=900 outside.*hold_time_s=-1"):
        fam.check_recipe(bad)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_arrhenius_integrals_grow_with_temperature_and_time(name):
    fam = get_family(name)
    base = fam.baseline_recipe()
    lo_T, hi_T = fam.bounds["hold_temperature_C"]
    k = [
        fam_mod.grain_growth_integral_um2(dataclasses.replace(base, hold_temperature_C=T))
        for T in np.linspace(lo_T, hi_T, 5)
    ]
    assert np.all(np.diff(k) > 0)
    k_t = [
        fam_mod.grain_growth_integral_um2(dataclasses.replace(base, hold_time_s=t))
        for t in (10.0, 100.0, 1000.0)
    ]
    assert np.all(np.diff(k_t) > 0)
    # The hold dominates a long anneal: K ≈ hold_time × k(T_hold) (heating/cooling add a bit).
    long = dataclasses.replace(base, hold_time_s=fam.bounds["hold_time_s"][1])
    k_hold = long.hold_time_s * fam.grain_growth_rate_um2_per_s(long.hold_temperature_K)
    assert k_hold <= fam_mod.grain_growth_integral_um2(long) <= 1.5 * k_hold


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_precipitation_drivers(name):
    fam = get_family(name)
    base = fam.baseline_recipe()
    x_lo, x_hi = fam.bounds["solute_wt_pct"]
    f = [
        fam_mod.precipitate_fraction_eq(dataclasses.replace(base, solute_wt_pct=x))
        for x in np.linspace(x_lo, x_hi, 6)
    ]
    assert np.all(np.diff(f) >= 0) and f[-1] > f[0]
    # Slower cooling: lower freeze-in temperature, more precipitate, longer coarsening.
    slow = dataclasses.replace(base, cooling_rate_K_per_s=fam.bounds["cooling_rate_K_per_s"][0])
    fast = dataclasses.replace(base, cooling_rate_K_per_s=fam.bounds["cooling_rate_K_per_s"][1])
    assert fam_mod.freeze_temperature_K(slow) < fam_mod.freeze_temperature_K(fast)
    assert fam_mod.precipitate_fraction_eq(slow) > fam_mod.precipitate_fraction_eq(fast)
    assert fam_mod.coarsening_integral_um2(slow) > fam_mod.coarsening_integral_um2(fast)
    # The solvus temperature inverts the solvus curve.
    T_s = fam.solvus_temperature_K(base.solute_wt_pct)
    assert fam.solvus_wt_pct(T_s) == pytest.approx(base.solute_wt_pct, rel=1e-9)


def test_more_strain_gives_finer_recrystallized_grains():
    for fam in FAMILIES.values():
        d = [fam.recrystallized_grain_size_um(e) for e in (0.1, 0.3, 0.8)]
        assert d[0] > d[1] > d[2] > 0


def test_temperature_history_segments():
    r = get_family("ferritic_steel").baseline_recipe()
    t, T, seg = fam_mod.temperature_history(r)
    assert np.all(np.diff(t) >= 0)
    assert T.max() == pytest.approx(r.hold_temperature_K)
    hold = seg == 1
    assert t[hold][-1] - t[hold][0] == pytest.approx(r.hold_time_s)
    cool = seg == 2
    rate = -np.diff(T[cool]) / np.diff(t[cool])
    assert np.allclose(rate, r.cooling_rate_K_per_s)


def test_family_files_round_trip_and_name_their_problems(tmp_path):
    from importlib import resources

    from psplab.errors import InputError

    text = (resources.files("psplab.data") / "families" / "ti_al.toml").read_text("utf-8")
    path = tmp_path / "ti_al.toml"
    path.write_text(text, encoding="utf-8")
    assert AlloyFamily.from_toml(path) == get_family("ti_al")
    path.write_text(text.replace("q_gb_J_per_mol", "q_gb").replace("[grains]", "[grains]\nx = 1"))
    with pytest.raises(InputError, match="missing 'q_gb_J_per_mol'") as err:
        AlloyFamily.from_toml(path)
    assert any("unknown constant 'q_gb'" in line for line in err.value.lines)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_grain_growth_law_in_physical_units(name):
    """d_f² = d0² + K_gg, and the cumulative integral ends at K_gg and never decreases."""
    fam = get_family(name)
    r = dataclasses.replace(fam.baseline_recipe(), hold_time_s=600.0)
    d0 = fam.recrystallized_grain_size_um(r.deformation_strain)
    k = fam_mod.grain_growth_integral_um2(r)
    assert fam_mod.final_grain_size_um(r) ** 2 == pytest.approx(d0**2 + k, rel=1e-12)
    t, k_t = fam_mod.grain_growth_history_um2(r)
    assert k_t[0] == 0.0 and k_t[-1] == pytest.approx(k) and np.all(np.diff(k_t) >= 0)
    assert np.all(np.diff(t) >= 0)


def test_precipitate_radius_follows_nucleation_and_lsw_coarsening():
    """R_n = (3f / 4πN_v)^(1/3); R³ - R_n³ = L_c K_ch, checked in µm against the constants."""
    fam = get_family("ferritic_steel")
    base = dataclasses.replace(fam.baseline_recipe(), solute_wt_pct=2.5)
    rows = []
    for T, t in ((650.0, 10.0), (750.0, 600.0), (850.0, 3600.0)):  # all below the solvus
        r = dataclasses.replace(base, hold_temperature_C=T, hold_time_s=t)
        f = fam_mod.precipitate_fraction_eq(r)
        r_n = fam_mod.nucleation_radius_um(f, fam)
        r_n_m = (3 * f / (4 * np.pi * fam.nucleation_density_per_m3)) ** (1 / 3)
        assert r_n == pytest.approx(r_n_m * 1e6, rel=1e-12)
        radius = fam_mod.precipitate_radius_um(r)
        k_ch = fam_mod.coarsening_integral_um2(r)
        rows.append((k_ch, radius))
        assert radius**3 - r_n**3 == pytest.approx(fam.coarsening_length_nm * 1e-3 * k_ch)
    k, radius = np.array(rows).T
    assert np.all(np.diff(k) > 0) and np.all(np.diff(radius) > 0)  # more diffusion, coarser
    none = dataclasses.replace(base, solute_wt_pct=0.0)
    assert fam_mod.precipitate_radius_um(none) == 0.0
