"""Where to measure next: acquisition scores and diverse batches."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.models.phasemap.acquire import acquisition_scores, suggest_batch

from .data import line_points


def test_acquisition_targets_the_boundary(tiny_model):
    x = line_points(101)
    ent = acquisition_scores(tiny_model, x, kind="entropy")
    assert abs(x[np.argmax(ent), 0] - 0.5) < 0.08
    idx, scores = suggest_batch(tiny_model, x, n=3, kind="combined")
    assert len(set(idx.tolist())) == 3 and np.all(np.diff(scores) <= 1e-12) is not None
    # Diverse batch: picks are at least a few candidate spacings apart.
    picked = np.sort(x[idx, 0])
    assert np.min(np.diff(picked)) > 0.02
    with pytest.raises(ValueError, match="kind must be one of"):
        acquisition_scores(tiny_model, x, kind="bogus")
