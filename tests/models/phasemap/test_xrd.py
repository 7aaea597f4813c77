"""XRD pattern clustering recovers planted clusters."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.models.phasemap.xrd import cluster_patterns, fowlkes_mallows, match_labels


def _planted(n_per: int = 25, seed: int = 0):
    """Three 'phases' with different peak sets, random mixtures of thickness and noise."""
    rng = np.random.default_rng(seed)
    tt = np.linspace(37, 48, 300)

    def peaks(centres):
        return sum(np.exp(-0.5 * ((tt - c) / 0.15) ** 2) for c in centres)

    bases = [peaks([38.5, 44.0]), peaks([40.2, 46.5]), peaks([42.0, 43.1, 47.2])]
    X, y = [], []
    for k, b in enumerate(bases):
        for _ in range(n_per):
            shift = rng.normal(0, 0.03)
            pat = (
                rng.uniform(0.5, 2.0) * np.interp(tt, tt + shift, b)
                + 0.2
                + 0.03 * rng.standard_normal(len(tt))
            )
            X.append(pat)
            y.append(k)
    return np.array(X), np.array(y)


@pytest.mark.parametrize("method", ["nmf", "agglomerative", "spectral"])
def test_recovers_planted_clusters(method):
    X, y = _planted()
    labels = cluster_patterns(X, 3, method=method, seed=0)
    _, acc = match_labels(labels, y)
    assert acc >= 0.97
    assert fowlkes_mallows(labels, y) >= 0.95


def test_soft_labels_are_probabilities_and_agree_with_hard():
    X, y = _planted(n_per=10, seed=1)
    labels, probs = cluster_patterns(X, 3, soft=True)
    assert probs.shape == (30, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.mean(np.argmax(probs, axis=1) == labels) >= 0.95


def test_errors():
    with pytest.raises(ValueError, match="method must be one of"):
        cluster_patterns(np.ones((4, 5)), 2, method="kmeans")
    with pytest.raises(ValueError, match="n_clusters must be in"):
        cluster_patterns(np.random.default_rng(0).random((4, 5)), 7)
