"""J2 elasto-plastic FFT uniaxial test: single-phase exactness, Hall–Petch and precipitates."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.strength import FAMILY_CONSTANTS, fft, grain_yield_stress_mpa

from ._micro import periodic_discs, periodic_voronoi

N = 32  # one grid size for all plastic tests: one compilation


def test_offset_yield_of_a_bilinear_curve_is_exact():
    e_mod, sy, h = 200e3, 300.0, 1000.0
    strain = np.linspace(0, 0.01, 41)
    ey = sy / e_mod
    # Linear hardening in uniaxial stress: tangent E h / (E + h) after yield.
    stress = np.where(strain < ey, e_mod * strain, sy + e_mod * h / (e_mod + h) * (strain - ey))
    s02, e02 = fft.offset_yield(strain, stress, e_mod)
    assert s02 == pytest.approx(sy + 0.002 * h, rel=1e-9)
    assert e02 == pytest.approx(s02 / e_mod + 0.002, rel=1e-9)
    assert np.isnan(fft.offset_yield(strain[:5], stress[:5], e_mod)[0])


@pytest.mark.parametrize("hardening", [0.0, 1500.0])
def test_single_phase_returns_input_yield_stress_and_modulus(hardening):
    family = "ti_al"
    c = FAMILY_CONSTANTS[family]
    grains = np.ones((N, N), dtype=int)
    pixel_um = 0.8
    d_um = np.sqrt(4 * N * N * pixel_um**2 / np.pi)
    expected = float(grain_yield_stress_mpa(family, d_um, 3.0)) + 0.002 * hardening
    res = fft.mechanics_yield_strength(
        grains, None, pixel_um, family, solute_wt_pct=3.0, hardening_modulus_mpa=hardening
    )
    assert res["yield_strength_mpa"] == pytest.approx(expected, rel=1e-6)
    assert res["youngs_modulus_gpa"] == pytest.approx(c.youngs_modulus_gpa, rel=1e-9)
    np.testing.assert_allclose(
        res["stiffness_gpa"],
        fft.isotropic_plane_strain_stiffness(c.youngs_modulus_gpa, c.poisson_ratio),
        atol=1e-9,
    )
    # The field at yield is uniform and equals the yield stress (uniaxial stress state).
    np.testing.assert_allclose(res["stress_field_at_yield"], expected, rtol=1e-6)
    strain, stress = res["curve"]["strain"], res["curve"]["stress_mpa"]
    assert strain[0] == 0 and stress[0] == 0 and np.all(np.diff(stress) > -1e-9)


def test_plane_strain_option_gives_plane_strain_modulus():
    c = FAMILY_CONSTANTS["al_mg"]
    res = fft.mechanics_yield_strength(
        np.ones((N, N), int), None, 1.0, "al_mg", out_of_plane="fixed", compute_stiffness=False
    )
    e_ps = c.youngs_modulus_gpa / (1 - c.poisson_ratio**2)
    assert res["youngs_modulus_gpa"] == pytest.approx(e_ps, rel=1e-9)
    assert res["stiffness_gpa"] is None
    # Constrained out-of-plane flow raises the axial flow stress above the uniaxial one.
    uniaxial = fft.mechanics_yield_strength(
        np.ones((N, N), int), None, 1.0, "al_mg", compute_stiffness=False
    )
    assert res["yield_strength_mpa"] > uniaxial["yield_strength_mpa"]


def test_finer_grains_raise_fft_yield_strength_hall_petch():
    coarse = periodic_voronoi(N, 4, seed=1)
    fine = periodic_voronoi(N, 40, seed=1)
    kw = {"pixel_um": 0.5, "family": "ferritic_steel", "compute_stiffness": False}
    sy_coarse = fft.mechanics_yield_strength(coarse, None, **kw)
    sy_fine = fft.mechanics_yield_strength(fine, None, **kw)
    assert sy_fine["yield_strength_mpa"] > sy_coarse["yield_strength_mpa"] + 20.0
    # A polycrystal yields between its weakest and strongest grains.
    for res in (sy_coarse, sy_fine):
        field = res["yield_stress_field_mpa"]
        assert field.min() < res["yield_strength_mpa"] < field.max() + 0.002 * 2000.0


def test_hard_precipitates_raise_yield_and_carry_the_load():
    grains = periodic_voronoi(N, 10, seed=4)
    rng = np.random.default_rng(5)
    phases = periodic_discs(N, rng.uniform(0, N, (6, 2)), radius=2.5)
    assert 0.03 < phases.mean() < 0.2
    kw = {"pixel_um": 0.5, "family": "ferritic_steel", "compute_stiffness": True}
    plain = fft.mechanics_yield_strength(grains, None, include_orowan=False, **kw)
    hard = fft.mechanics_yield_strength(grains, phases, include_orowan=False, **kw)
    assert hard["yield_strength_mpa"] > plain["yield_strength_mpa"]
    assert hard["youngs_modulus_gpa"] > plain["youngs_modulus_gpa"]
    vm = hard["stress_field_at_yield"]
    assert vm[phases == 1].mean() > 1.3 * vm[phases == 0].mean()
    assert hard["info"]["max_relative_residual"] < 1e-5
    # Mixed control: only the axial macroscopic stress is non-zero.
    macro = hard["info"]["final_macro_stress_mpa"]
    assert macro["xx"] > hard["yield_strength_mpa"] * 0.9
    for comp in ("yy", "zz", "xy"):
        assert abs(macro[comp]) < 1e-4 * macro["xx"]
    c = hard["stiffness_gpa"]
    np.testing.assert_allclose(c, c.T)
    # Orowan: the image's particles add a (small, micron-size particles) matrix increment.
    with_oro = fft.mechanics_yield_strength(grains, phases, include_orowan=True, **kw)
    assert with_oro["info"]["orowan_mpa"] > 0
    assert with_oro["yield_strength_mpa"] > hard["yield_strength_mpa"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phase_labels": np.zeros((N, N + 1), int)}, "differs from grain_labels"),
        ({"pixel_um": 0.0}, "pixel_um must be > 0"),
        ({"family": "bronze"}, "unknown alloy family"),
        ({"out_of_plane": "zz"}, "out_of_plane"),
    ],
)
def test_mechanics_bad_inputs_raise_clear_errors(kwargs, message):
    args = {"grain_labels": np.ones((N, N), int), "phase_labels": None, "pixel_um": 1.0}
    args["family"] = "al_mg"
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fft.mechanics_yield_strength(**args)


def test_yield_strength_converges_with_load_increments():
    grains = periodic_voronoi(N, 10, seed=8)
    phases = periodic_discs(N, np.random.default_rng(9).uniform(0, N, (5, 2)), radius=2.0)
    kw = {"pixel_um": 0.5, "family": "ti_al", "compute_stiffness": False, "solute_wt_pct": 4.0}
    coarse = fft.mechanics_yield_strength(grains, phases, n_steps=12, **kw)
    fine = fft.mechanics_yield_strength(grains, phases, n_steps=48, **kw)
    assert coarse["info"]["n_steps"] >= 12 and fine["info"]["n_steps"] >= 48
    assert coarse["yield_strength_mpa"] == pytest.approx(fine["yield_strength_mpa"], rel=5e-3)
    # Equilibrium was reached at every increment.
    assert fine["info"]["max_relative_residual"] < 1e-5


def test_mechanics_for_sim_uses_recipe_family_and_solute():
    from types import SimpleNamespace

    grains = periodic_voronoi(N, 6, seed=2)
    recipe = SimpleNamespace(family="al_mg", solute_wt_pct=4.0)
    sim = SimpleNamespace(grain_labels=grains, phase_labels=None, pixel_um=1.5, recipe=recipe)
    res = fft.mechanics_for_sim(sim, compute_stiffness=False)
    direct = fft.mechanics_yield_strength(
        grains, None, 1.5, "al_mg", solute_wt_pct=4.0, compute_stiffness=False
    )
    assert res["yield_strength_mpa"] == direct["yield_strength_mpa"]
    assert res["info"]["family"] == "al_mg"
