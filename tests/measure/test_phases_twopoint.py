import numpy as np
import pytest

from psplab.measure import measure_phases, radial_profile, two_point_statistics


def test_phase_fractions_equal_pixel_counts_and_exclude_background():
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, 3, size=(60, 70))
    r = measure_phases(labels, background=-1)
    keep = labels != -1
    assert set(r["phase_fractions"]) == {0, 1, 2}
    for v in (0, 1, 2):
        assert r["phase_pixel_counts"][v] == int((labels == v).sum())
        assert r["phase_fractions"][v] == pytest.approx((labels == v).sum() / keep.sum())
    assert sum(r["phase_fractions"].values()) == pytest.approx(1.0)
    assert r["n_background_pixels"] == int((~keep).sum())


def test_all_background_is_an_error():
    with pytest.raises(ValueError, match="background"):
        measure_phases(np.full((4, 4), 7), background=7)


def _brute_s2(ind, dy, dx, periodic):
    if periodic:
        return np.mean(ind * np.roll(ind, (-dy, -dx), axis=(0, 1)))
    h, w = ind.shape
    a = ind[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    b = ind[max(0, dy) : h + min(0, dy) or None, max(0, dx) : w + min(0, dx) or None]
    return np.mean(a * b)


@pytest.mark.parametrize("periodic", [True, False])
def test_two_point_statistics_match_direct_pair_counting(periodic):
    rng = np.random.default_rng(1)
    ind = (rng.random((24, 30)) < 0.3).astype(int)
    s2 = two_point_statistics(ind, periodic=periodic)
    assert s2.shape == ind.shape
    h, w = ind.shape
    for dy, dx in [(0, 0), (1, 0), (0, 3), (-4, 5), (7, -2), (-12, -15)]:
        assert s2[h // 2 + dy, w // 2 + dx] == pytest.approx(_brute_s2(ind, dy, dx, periodic))
    assert s2[h // 2, w // 2] == pytest.approx(ind.mean())


def test_periodic_s2_averages_to_fraction_squared():
    rng = np.random.default_rng(2)
    ind = rng.random((32, 32)) < 0.4
    s2 = two_point_statistics(ind)
    assert s2.mean() == pytest.approx(ind.mean() ** 2)
    r, prof = radial_profile(s2, pixel_um=0.5)
    assert r[1] == 0.5 and prof[0] == pytest.approx(ind.mean())


def test_label_image_needs_a_phase():
    labels = np.arange(16).reshape(4, 4) % 3
    with pytest.raises(ValueError, match="phase"):
        two_point_statistics(labels)
    s2 = two_point_statistics(labels, phase=2)
    assert s2[2, 2] == pytest.approx(np.mean(labels == 2))
