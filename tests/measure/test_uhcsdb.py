"""Measurement on the real UHCSDB segmentation masks (DeCost et al. 2019, hdl:11256/940)."""

import numpy as np
import pytest
from scipy import ndimage

from psplab.measure import measure_image, measure_particles, measure_phases, read_image

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def labels_npz(shared_data):
    return np.load(shared_data / "uhcsdb" / "segment_labels" / "uhcs_labels_int8.npz")


@pytest.fixture(scope="module")
def cementite_masks(shared_data):
    return sorted((shared_data / "uhcsdb" / "segment_labels" / "spheroidite").glob("*.tif"))


def test_four_class_phase_fractions_equal_pixel_counts(labels_npz):
    assert len(labels_npz.files) == 24
    for key in labels_npz.files:
        labels = labels_npz[key]
        r = measure_phases(labels, background=-1)
        measured = labels != -1
        assert -1 not in r["phase_fractions"]
        assert r["n_pixels"] == int(measured.sum())
        for v, frac in r["phase_fractions"].items():
            assert r["phase_pixel_counts"][v] == int((labels == v).sum())
            assert frac == (labels == v).sum() / measured.sum()
        assert sum(r["phase_fractions"].values()) == pytest.approx(1.0)
        assert set(r["phase_fractions"]) == set(np.unique(labels[measured]).tolist())


def test_all_24_cementite_masks_measure(cementite_masks):
    assert len(cementite_masks) == 24
    eight = np.ones((3, 3), dtype=bool)
    for path in cementite_masks:
        mask = read_image(path)
        assert mask.shape == (475, 645) and set(np.unique(mask)) <= {0, 1}
        r = measure_particles(mask, pixel_um=1.0)
        # Independent check: scipy's 8-connected labelling and the plain pixel mean.
        _, n = ndimage.label(mask, structure=eight)
        assert r["count"] == n
        assert r["area_fraction"] == pytest.approx(mask.mean())
        assert 0 < r["median_eq_diameter_um"] < 50  # pixels: particles, not the field
        assert r["mean_aspect_ratio"] >= 1.0
        assert r["mean_nn_distance_um"] > r["median_eq_diameter_um"] / 2
    # measure_image takes a 0/1 mask as particles by default (last mask).
    assert measure_image(mask, 1.0)["particles"]["count"] == n
