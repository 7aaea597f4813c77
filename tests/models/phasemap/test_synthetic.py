"""The synthetic library and the demo fit on it."""

from __future__ import annotations

import numpy as np

from psplab.models.phasemap.synthetic import synthetic_library


def test_synthetic_library_ground_truth():
    lib = synthetic_library(n_points=50, seed=3)
    assert lib.structure_X.shape == (50, 2) and lib.property_X.shape == (50, 2)
    np.testing.assert_array_equal(lib.structure_labels, lib.label_fn(lib.structure_X))
    assert set(np.unique(lib.label_fn(lib.grid(41)))) == {0, 1, 2}
    resid = lib.property_y - lib.property_fn(lib.property_X)
    assert 0.02 < resid.std() < 0.1
