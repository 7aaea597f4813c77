import math

import numpy as np
import pytest

from psplab.measure import (
    astm_g_from_intercept,
    astm_g_from_na,
    lognormal_fit,
    measure_grains,
)

from ._synth import poisson_voronoi, separated_seeds, voronoi_labels


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_voronoi_with_known_seeds_gives_exact_grain_count(periodic, seed):
    n = 40 + 15 * seed
    seeds = separated_seeds(n, 256, min_dist=18.0, seed=seed, periodic=periodic)
    labels = voronoi_labels(seeds, 256, periodic=periodic)
    result = measure_grains(labels, pixel_um=0.5, periodic=periodic)
    assert result["grain_count"] == n
    assert result["grain_count_interior"] + result["grain_count_edge"] == n


def test_periodic_count_is_invariant_under_wrap_shifts():
    seeds = separated_seeds(50, 200, min_dist=16.0, seed=3, periodic=True)
    labels = voronoi_labels(seeds, 200, periodic=True)
    base = measure_grains(labels, 1.0, periodic=True)
    shifted = measure_grains(np.roll(labels, (37, 91), axis=(0, 1)), 1.0, periodic=True)
    assert shifted["grain_count"] == base["grain_count"] == 50
    assert shifted["astm_g_planimetric"] == pytest.approx(base["astm_g_planimetric"])
    assert shifted["astm_g_intercept"] == pytest.approx(base["astm_g_intercept"])
    assert sorted(shifted["eq_diameters_um"]) == pytest.approx(sorted(base["eq_diameters_um"]))
    # Read as a non-periodic micrograph, the cut grains split and count more than once.
    assert measure_grains(np.roll(labels, (37, 91), axis=(0, 1)), 1.0)["grain_count"] > 50


def test_a_label_reused_for_separate_regions_is_two_grains():
    labels = np.ones((40, 40), dtype=int)
    labels[5:15, 5:15] = 2
    labels[25:35, 25:35] = 2
    assert measure_grains(labels, 1.0)["grain_count"] == 3


def test_poisson_voronoi_intercept_exceeds_planimetric_by_036():
    # l * sqrt(N_A) = pi/4 for Poisson-Voronoi vs 0.8906 assumed by E112: offset 0.36 G.
    diffs = []
    for seed in range(4):
        labels = poisson_voronoi(250, 448, seed=seed)
        r = measure_grains(labels, 1.0, periodic=True)
        diffs.append(r["astm_g_intercept"] - r["astm_g_planimetric"])
    expected = 6.644 * math.log10(0.8906 * 4 / math.pi)
    assert expected == pytest.approx(0.36, abs=0.005)
    assert np.mean(diffs) == pytest.approx(0.36, abs=0.15)


def test_jeffries_counting_on_a_square_lattice_recovers_the_field_area():
    # Square grains of side 20 px seen through a 60 px window offset by half a grain: the window
    # area holds exactly 9 grain areas; Jeffries (1 inside, 1/2 edge, 1/4 corner) gives 9.
    s = 20
    big = (np.arange(100)[:, None] // s) * 10 + (np.arange(100)[None, :] // s) + 1
    window = big[s // 2 : s // 2 + 3 * s, s // 2 : s // 2 + 3 * s]
    r = measure_grains(window, 1.0)
    assert r["grain_count"] == 16
    assert r["grain_count_interior"] == 4
    assert r["grain_count_effective"] == pytest.approx(9.0)
    assert r["grains_per_mm2"] == pytest.approx(1.0 / (s * s * 1e-6))
    # Interior grains only enter the diameter distribution: all are exactly s x s.
    assert r["mean_diameter_um"] == pytest.approx(math.sqrt(4 * s * s / math.pi))


def test_intercepts_of_square_grains():
    # Periodic square lattice of side s: rows and columns cross 1/s boundaries per px step.
    # A diagonal step crosses a row boundary with probability 1/s and a column boundary with
    # 1/s, but the 1/s^2 of steps through a grain corner change label only once (one
    # intercept, not two), over a step of sqrt(2) px.
    s = 16
    lab = (np.arange(128)[:, None] // s) * 8 + (np.arange(128)[None, :] // s) + 1
    r = measure_grains(lab, 2.0, periodic=True)
    diag = (2 / s - 1 / s**2) / math.sqrt(2)
    p_l = (1 / s + 1 / s + diag + diag) / 4
    assert r["mean_intercept_um"] == pytest.approx(2.0 / p_l)
    assert r["grain_count"] == 64


def test_astm_formulas_match_e112_table():
    # ASTM E112 Table 4: G = 0 <-> 7.75 grains/mm^2 and l = 0.320 mm; G = 8 <-> 1984 and 0.020.
    assert astm_g_from_na(7.75) == pytest.approx(0.0, abs=0.01)
    assert astm_g_from_intercept(0.320) == pytest.approx(0.0, abs=0.01)
    assert astm_g_from_na(1984.0) == pytest.approx(8.0, abs=0.01)
    assert astm_g_from_intercept(0.020) == pytest.approx(8.0, abs=0.01)
    assert math.isnan(astm_g_from_na(0.0))


def test_grain_size_scales_with_pixel_size():
    labels = poisson_voronoi(60, 160, seed=5)
    a = measure_grains(labels, 1.0, periodic=True)
    b = measure_grains(labels, 2.0, periodic=True)
    assert b["mean_diameter_um"] == pytest.approx(2 * a["mean_diameter_um"])
    # Doubling lengths quarters N_A: G falls by 2 (E112 doubles the count per G step).
    assert a["astm_g_planimetric"] - b["astm_g_planimetric"] == pytest.approx(2.0, abs=1e-3)
    assert a["astm_g_intercept"] - b["astm_g_intercept"] == pytest.approx(2.0, abs=1e-3)


def test_lognormal_fit_recovers_parameters():
    rng = np.random.default_rng(0)
    d = rng.lognormal(mean=math.log(12.0), sigma=0.4, size=4000)
    fit = lognormal_fit(d)
    assert fit["median_um"] == pytest.approx(12.0, rel=0.03)
    assert fit["sigma_ln"] == pytest.approx(0.4, rel=0.05)


def test_boundary_pixels_are_given_to_grains():
    seeds = separated_seeds(30, 160, min_dist=20.0, seed=7, periodic=True)
    labels = voronoi_labels(seeds, 160, periodic=True)
    with_boundaries = labels.copy()
    edge = (labels != np.roll(labels, 1, axis=0)) | (labels != np.roll(labels, 1, axis=1))
    with_boundaries[edge] = 0
    plain = measure_grains(labels, 1.0, periodic=True)
    drawn = measure_grains(with_boundaries, 1.0, periodic=True, boundary_value=0)
    assert drawn["grain_count"] == 30
    assert drawn["astm_g_planimetric"] == pytest.approx(plain["astm_g_planimetric"])
    assert drawn["astm_g_intercept"] == pytest.approx(plain["astm_g_intercept"], abs=0.1)


@pytest.mark.parametrize(
    "labels, pixel_um, match",
    [
        (np.ones((4, 4, 4), dtype=int), 1.0, "2-D"),
        (np.full((4, 4), 0.5), 1.0, "non-integer"),
        (np.ones((4, 4), dtype=int), 0.0, "positive"),
        (np.ones((4, 4), dtype=int), float("nan"), "positive"),
        (np.eye(4, dtype=int), 1e-300, "positive pixel size"),  # areas would underflow to 0
        (np.zeros((8, 8), dtype=int), 1.0, "one value .* no grains"),
    ],
)
def test_bad_inputs_raise_clear_errors(labels, pixel_um, match):
    with pytest.raises(ValueError, match=match):
        measure_grains(labels, pixel_um)


def test_a_one_pixel_wide_image_is_measured_along_its_only_direction():
    g = measure_grains(np.array([[0, 0, 1, 1, 2, 2]]), 1.0)
    assert g["grain_count"] == 3
    assert g["mean_intercept_um"] == pytest.approx(5 / 2)  # 5 px of line, 2 boundaries
