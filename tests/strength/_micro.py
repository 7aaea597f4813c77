"""Small synthetic periodic microstructures for the mechanics tests (seeded)."""

from __future__ import annotations

import numpy as np


def periodic_voronoi(n: int, n_grains: int, seed: int) -> np.ndarray:
    """Periodic Voronoi grain ids 1..n_grains on an n×n grid."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, n, (n_grains, 2))
    y, x = np.mgrid[:n, :n] + 0.5
    best = np.full((n, n), np.inf)
    labels = np.zeros((n, n), dtype=np.int32)
    for i, (py, px) in enumerate(pts):
        dy = np.abs(y - py)
        dx = np.abs(x - px)
        dist = np.minimum(dy, n - dy) ** 2 + np.minimum(dx, n - dx) ** 2
        closer = dist < best
        best[closer] = dist[closer]
        labels[closer] = i + 1
    return labels


def periodic_discs(n: int, centres: np.ndarray, radius: float) -> np.ndarray:
    """Binary image (int) of discs of ``radius`` pixels at ``centres`` (y, x), periodic."""
    y, x = np.mgrid[:n, :n] + 0.5
    out = np.zeros((n, n), dtype=np.int32)
    for py, px in centres:
        dy = np.abs(y - py)
        dx = np.abs(x - px)
        out[np.minimum(dy, n - dy) ** 2 + np.minimum(dx, n - dx) ** 2 < radius**2] = 1
    return out
