"""Strength model: the physical laws of each term, recovered from the public functions."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.strength import (
    FAMILY_CONSTANTS,
    get_constants,
    orowan_mpa,
    strength_contributions,
    yield_strength_mpa,
)

FAMILIES = ("ferritic_steel", "al_mg", "ti_al")


def test_all_families_present_with_positive_constants():
    assert set(FAMILIES) <= set(FAMILY_CONSTANTS)
    for name in FAMILIES:
        c = FAMILY_CONSTANTS[name]
        for value in (
            c.friction_stress_mpa,
            c.solid_solution_coeff_mpa,
            c.hall_petch_k_mpa_sqrt_um,
            c.shear_modulus_gpa,
            c.burgers_vector_nm,
            c.taylor_factor,
        ):
            assert value > 0
        assert 0 < c.poisson_ratio < 0.5
        # A precipitate must be stronger than the matrix yield of a fine-grained alloy.
        assert c.precipitate_yield_mpa > yield_strength_mpa(name, 1.0, 5.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_hall_petch_slope_recovered_by_fit(family):
    d_um = np.geomspace(1.0, 200.0, 12)
    sigma = yield_strength_mpa(family, d_um, solute_wt_pct=2.0)
    slope, intercept = np.polyfit(d_um**-0.5, sigma, 1)
    c = FAMILY_CONSTANTS[family]
    assert slope == pytest.approx(c.hall_petch_k_mpa_sqrt_um, rel=1e-9)
    expected0 = c.friction_stress_mpa + c.solid_solution_coeff_mpa * 2.0**c.solid_solution_exponent
    assert intercept == pytest.approx(expected0, rel=1e-9)


@pytest.mark.parametrize("family", FAMILIES)
def test_strength_falls_as_grains_grow(family):
    d_um = np.linspace(0.5, 300.0, 50)
    sigma = yield_strength_mpa(family, d_um, 1.0, 0.01, 0.02)
    assert np.all(np.diff(sigma) < 0)


def test_zero_precipitates_give_zero_orowan_for_any_radius():
    terms = strength_contributions("ti_al", 20.0, 3.0, 0.0, np.array([0.001, 0.1, 10.0]))
    np.testing.assert_array_equal(terms["orowan"], 0.0)
    # ... and the radius is irrelevant (even invalid) where there are no particles.
    assert orowan_mpa("al_mg", 0.0, 0.0) == 0.0


@pytest.mark.parametrize("family", FAMILIES)
def test_orowan_increases_with_fraction_and_scales_as_sqrt_f_when_dilute(family):
    f = np.array([1e-5, 4e-5, 1e-3, 1e-2, 5e-2])
    oro = orowan_mpa(family, f, 0.02)
    assert np.all(np.diff(oro) > 0)
    # Dilute limit: spacing ~ f^-1/2, so quadrupling f doubles the increment (to ~1%).
    assert oro[1] / oro[0] == pytest.approx(2.0, rel=0.01)


def test_orowan_falls_with_radius_at_fixed_fraction():
    # Ashby–Orowan ~ ln(r)/r: coarsening weakens (beyond a few Burgers vectors).
    r_um = np.geomspace(0.005, 1.0, 20)
    oro = orowan_mpa("ferritic_steel", 0.01, r_um)
    assert np.all(np.diff(oro) < 0)


def test_orowan_matches_hand_calculation():
    c = get_constants("ferritic_steel")
    f, r = 0.01, 0.01  # 10 nm carbides, 1 vol%
    b = c.burgers_vector_nm * 1e-3
    rp = np.sqrt(2 / 3) * r
    lam = 2 * rp * (np.sqrt(np.pi / (4 * f)) - 1)
    expected = (
        c.taylor_factor
        * 0.4
        * c.shear_modulus_gpa
        * 1e3
        * b
        / (np.pi * np.sqrt(1 - c.poisson_ratio))
        * np.log(2 * rp / b)
        / lam
    )
    assert orowan_mpa("ferritic_steel", f, r) == pytest.approx(expected, rel=1e-12)
    # Order of magnitude of microalloy precipitation strengthening (Gladman 1997).
    assert 100.0 < expected < 500.0


def test_solid_solution_power_law():
    c = FAMILY_CONSTANTS["ti_al"]
    x = np.array([1.0, 2.0, 4.0, 8.0])
    ss = strength_contributions("ti_al", 50.0, x)["solid_solution"]
    n = np.polyfit(np.log(x), np.log(ss), 1)[0]
    assert n == pytest.approx(c.solid_solution_exponent, rel=1e-9)


def test_total_is_sum_of_terms_and_vectorized_broadcasting():
    d = np.array([[5.0], [50.0]])
    x = np.array([0.5, 1.0, 2.0])
    terms = strength_contributions("al_mg", d, x, 0.02, 0.05)
    assert terms["total"].shape == (2, 3)
    total = terms["friction"] + terms["solid_solution"] + terms["hall_petch"] + terms["orowan"]
    np.testing.assert_allclose(terms["total"], total)
    scalar = yield_strength_mpa("al_mg", 5.0, 1.0, 0.02, 0.05)
    assert isinstance(scalar, float)
    assert scalar == pytest.approx(terms["total"][0, 1])


def test_literature_anchor_pickering_ferrite():
    # Pickering & Gladman: 53.9 + 32.3 %Mn + 17.4 d^-1/2 (d in mm); 1% Mn, d = 25 um.
    expected = 53.9 + 32.3 * 1.0 + 17.4 / np.sqrt(0.025)
    assert yield_strength_mpa("ferritic_steel", 25.0, 1.0) == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"family": "brass", "grain_size_um": 10.0}, "unknown alloy family 'brass'"),
        ({"family": "al_mg", "grain_size_um": 0.0}, "grain_size_um must be > 0"),
        ({"family": "al_mg", "grain_size_um": 5.0, "solute_wt_pct": -1.0}, "solute_wt_pct"),
        (
            {
                "family": "al_mg",
                "grain_size_um": 5.0,
                "precipitate_fraction": 0.1,
                "precipitate_radius_um": 0.0,
            },
            "precipitate_radius_um must be > 0",
        ),
        ({"family": "al_mg", "grain_size_um": 5.0, "precipitate_fraction": 1.2}, "< 1"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        strength_contributions(**kwargs)
