"""Synthetic microstructures with known answers, shared by the measurement tests."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def separated_seeds(n: int, size: int, min_dist: float, seed: int, periodic: bool) -> np.ndarray:
    """``n`` points in ``[0, size)^2`` at least ``min_dist`` apart (rejection sampling)."""
    rng = np.random.default_rng(seed)
    pts: list[np.ndarray] = []
    while len(pts) < n:
        p = rng.uniform(0, size, 2)
        if pts:
            d = np.abs(np.asarray(pts) - p)
            if periodic:
                d = np.minimum(d, size - d)
            if np.min(np.hypot(d[:, 0], d[:, 1])) < min_dist:
                continue
        pts.append(p)
    return np.asarray(pts)


def voronoi_labels(seeds: np.ndarray, size: int, periodic: bool) -> np.ndarray:
    """Label every pixel centre with the index (1..n) of its nearest seed."""
    tree = cKDTree(seeds, boxsize=size if periodic else None)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    _, idx = tree.query(np.column_stack([yy.ravel(), xx.ravel()]))
    return idx.reshape(size, size).astype(np.int32) + 1


def poisson_voronoi(n: int, size: int, seed: int) -> np.ndarray:
    """Periodic Poisson-Voronoi tessellation with ``n`` uniformly random seeds."""
    rng = np.random.default_rng(seed)
    return voronoi_labels(rng.uniform(0, size, (n, 2)), size, periodic=True)


def discs(centres: np.ndarray, radius: float, size: int, periodic: bool = False) -> np.ndarray:
    """Binary image of discs (pixel centres within ``radius`` of a centre)."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    img = np.zeros((size, size), dtype=bool)
    for cy, cx in centres:
        dy, dx = yy - cy, xx - cx
        if periodic:
            dy = (dy + size / 2) % size - size / 2
            dx = (dx + size / 2) % size - size / 2
        img |= dy * dy + dx * dx <= radius * radius
    return img
