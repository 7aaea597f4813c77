"""Shared data of the phase-map tests: tiny 2-D data and the sampler settings they share."""

from __future__ import annotations

import numpy as np

# One static configuration for every GP phase-map fit of these tests: the tiny data and SAGE
# challenge 2a pad to the same bucket sizes (structure 96 rows, property 48), so all of them
# (API fit, CLI fit, challenge fit) share one compiled NUTS program.
TINY = dict(num_warmup=100, num_samples=50, svi_steps=300, max_inducing=36, seed=0)


def tiny_data(seed: int = 0):
    """2-D, two regions (x0 > 0.5), a property that jumps at the boundary."""
    rng = np.random.default_rng(seed)
    xs = rng.uniform(0.0, 1.0, size=(90, 2))
    xp = rng.uniform(0.0, 1.0, size=(44, 2))
    yp = np.where(
        xp[:, 0] > 0.5, 2.0 - xp[:, 1], np.sin(3 * xp[:, 0])
    ) + 0.02 * rng.standard_normal(44)
    return xs, (xs[:, 0] > 0.5).astype(int), xp, yp


def line_points(n: int) -> np.ndarray:
    """Points across the boundary: x0 from 0 to 1 at x1 = 0.5."""
    return np.stack([np.linspace(0.0, 1.0, n), np.full(n, 0.5)], axis=1)
