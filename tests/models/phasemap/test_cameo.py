"""CAMEO-style baseline: label propagation then one GP per region."""

from __future__ import annotations

import numpy as np

from psplab.models.phasemap import (
    CameoBaseline,
    PropertySource,
    StructureSource,
    synthetic_library,
)


def test_cameo_recovers_regions_and_piecewise_property():
    lib = synthetic_library(n_points=120, seed=1, n_property_points=120, noise=0.02)
    model = CameoBaseline(n_regions=3).fit(
        [StructureSource(lib.structure_X, labels=lib.structure_labels)],
        [PropertySource(lib.property_X, lib.property_y, prop="h")],
    )
    G = lib.grid(21)
    labels, mean, std = model.predict(G)
    assert np.mean(labels == lib.label_fn(G)) >= 0.85
    truth = lib.property_fn(G)
    r2 = 1 - np.mean((mean[:, 0] - truth) ** 2) / np.var(truth)
    assert r2 >= 0.7
    assert np.all(std > 0)
