import math

import numpy as np
import pytest

from psplab.measure import measure_particles

from ._synth import discs


def test_discs_of_known_size_and_spacing():
    # 5 x 5 square lattice of discs, radius 6 px, spacing 32 px, in a 160 px periodic box.
    centres = [(16 + 32 * i, 16 + 32 * j) for i in range(5) for j in range(5)]
    img = discs(np.asarray(centres, float), 6.0, 160, periodic=True)
    r = measure_particles(img, pixel_um=0.5, periodic=True)
    assert r["count"] == 25
    assert r["area_fraction"] == pytest.approx(img.sum() / img.size)
    # The digitised disc area is within 2 % of pi r^2.
    assert r["mean_eq_diameter_um"] == pytest.approx(2 * 6.0 * 0.5, rel=0.02)
    assert r["median_eq_diameter_um"] == pytest.approx(r["mean_eq_diameter_um"])
    assert r["mean_aspect_ratio"] == pytest.approx(1.0, abs=0.02)
    assert r["mean_nn_distance_um"] == pytest.approx(32 * 0.5)
    assert r["number_density_per_mm2"] == pytest.approx(25 / (160 * 0.5e-3) ** 2)
    # A square lattice is more regular than Poisson: Clark-Evans R = 32 * 2 * sqrt(25)/160 = 2.
    assert r["clark_evans_ratio"] == pytest.approx(2.0)


def test_ellipse_aspect_ratio():
    yy, xx = np.mgrid[0:100, 0:100] + 0.5
    img = ((yy - 50) / 8.0) ** 2 + ((xx - 50) / 24.0) ** 2 <= 1.0
    r = measure_particles(img, 1.0)
    assert r["count"] == 1
    assert r["mean_aspect_ratio"] == pytest.approx(3.0, rel=0.03)


def test_particle_cut_by_the_corner_is_one_particle_when_periodic():
    whole = discs(np.array([[40.0, 40.0]]), 9.0, 80, periodic=True)
    cut = np.roll(whole, (40, 40), axis=(0, 1))  # now split over all four corners
    r_whole = measure_particles(whole, 1.0, periodic=True)
    r_cut = measure_particles(cut, 1.0, periodic=True)
    assert r_cut["count"] == 1
    assert r_cut["mean_eq_diameter_um"] == pytest.approx(r_whole["mean_eq_diameter_um"])
    assert r_cut["mean_aspect_ratio"] == pytest.approx(r_whole["mean_aspect_ratio"])
    # As a plain micrograph the four pieces are separate edge particles, each counted half.
    flat = measure_particles(cut, 1.0, periodic=False)
    assert flat["count"] == 4 and flat["count_edge"] == 4
    assert flat["number_density_per_mm2"] == pytest.approx(2 / (80e-3) ** 2)


def test_periodic_nearest_neighbour_uses_minimum_image():
    img = discs(np.array([[10.0, 3.0], [10.0, 97.0]]), 2.0, 100, periodic=True)
    r = measure_particles(img, 1.0, periodic=True)
    assert r["count"] == 2
    assert r["mean_nn_distance_um"] == pytest.approx(6.0, abs=0.01)
    assert measure_particles(img, 1.0)["mean_nn_distance_um"] == pytest.approx(94.0, abs=0.01)


def test_connectivity_decides_whether_diagonal_pixels_join():
    img = np.zeros((10, 10), dtype=np.uint8)
    img[3, 3] = img[4, 4] = 1
    assert measure_particles(img, 1.0)["count"] == 1
    assert measure_particles(img, 1.0, connectivity=1)["count"] == 2


def test_mask_restricts_area_fraction_and_density():
    img = np.zeros((50, 100), dtype=bool)
    img[10:20, 10:20] = True
    mask = np.ones_like(img)
    mask[:, 50:] = False  # right half is a scale bar
    r = measure_particles(img, 1.0, mask=mask)
    assert r["area_fraction"] == pytest.approx(100 / 2500)
    assert r["number_density_per_mm2"] == pytest.approx(1 / 2500e-6)


def test_empty_image_has_no_particles():
    r = measure_particles(np.zeros((20, 20), dtype=bool), 1.0)
    assert r["count"] == 0 and r["area_fraction"] == 0.0
    assert math.isnan(r["mean_eq_diameter_um"])


def test_bad_pixel_size():
    with pytest.raises(ValueError, match="pixel_um"):
        measure_particles(np.zeros((5, 5)), -1.0)
