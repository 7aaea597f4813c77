"""A small synthetic image table and one tiny generator fitted on it, shared by the tests.

Two recipes, ``x = 0`` and ``x = 1``, on a 32-pixel periodic grid at 1 µm per pixel:
Poisson-Voronoi grains (a Poisson number of uniformly placed seeds, on average 6 or 18 per
image: mean diameters about 14 and 8 µm, their spread over grains about 0.25 of the mean,
like annealed polycrystals) and disc-shaped particles covering about 1 % or 5 % of the area.
Fitting once per test session keeps the suite fast; every test that needs a model uses this one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psplab.data.images import write_image_table
from psplab.data.spec import ColumnSpec

GRID = 32
N_PER_RECIPE = 12
GRAINS = {0.0: 6, 1.0: 18}
FRACTION = {0.0: 0.01, 1.0: 0.05}
# The default networks on 32-pixel images: the CLI's fits (default architecture) reuse the
# compiled training program of the session's fit.
TINY = {"steps": 400, "learning_rate": 1e-2}


def poisson_voronoi(rng: np.random.Generator, mean_count: float, grid: int = GRID) -> np.ndarray:
    """Periodic Voronoi labels (1..n) of a Poisson number of uniform seeds (at least 2)."""
    from scipy.spatial import cKDTree

    seeds = rng.random((max(2, rng.poisson(mean_count)), 2)) * grid
    yy, xx = np.meshgrid(np.arange(grid) + 0.5, np.arange(grid) + 0.5, indexing="ij")
    _, idx = cKDTree(seeds, boxsize=grid).query(np.stack([yy.ravel(), xx.ravel()], 1))
    _, dense = np.unique(idx, return_inverse=True)
    return (dense.reshape(grid, grid) + 1).astype(np.int32)


def _discs(rng: np.random.Generator, fraction: float) -> np.ndarray:
    """Discs of radius 1.5 px at uniform positions until they cover ``fraction`` (periodic)."""
    yy, xx = np.indices((GRID, GRID))
    out = np.zeros((GRID, GRID), bool)
    while out.mean() < fraction:
        cy, cx = rng.random(2) * GRID
        dy = np.minimum(np.abs(yy - cy), GRID - np.abs(yy - cy))
        dx = np.minimum(np.abs(xx - cx), GRID - np.abs(xx - cx))
        out |= dy**2 + dx**2 <= 1.5**2
    return out.astype(np.int32)


def write_table(folder: Path, seed: int = 0, pixel_um: dict[float, float] | None = None) -> Path:
    """The synthetic table in ``folder``; ``pixel_um`` per recipe (default 1 µm)."""
    rng = np.random.default_rng(seed)
    rows = []
    for x, n in GRAINS.items():
        px = 1.0 if pixel_um is None else pixel_um[x]
        for i in range(N_PER_RECIPE):
            g, p = folder / f"x{x:g}_{i}_g.npy", folder / f"x{x:g}_{i}_p.npy"
            np.save(g, poisson_voronoi(rng, n))
            np.save(p, _discs(rng, FRACTION[x]))
            base = {"x": x, "pixel_um": px, "sample": f"x{x:g}_{i}"}
            rows += [{**base, "path": g, "kind": "grains"}, {**base, "path": p, "kind": "phases"}]
    column = ColumnSpec("x", "processing", unit="dimensionless", min=0.0, max=1.0)
    return write_image_table(pd.DataFrame(rows), folder / "images.toml", [column], periodic=True)


@pytest.fixture(scope="session")
def synthetic_table(tmp_path_factory) -> Path:
    """The spec of the synthetic image table."""
    return write_table(tmp_path_factory.mktemp("generator-data"))


@pytest.fixture(scope="session")
def tiny_generator(synthetic_table):
    """The tiny generator fitted on :func:`synthetic_table` (seed 0)."""
    from psplab.models.generator import MicrostructureGenerator

    return MicrostructureGenerator(seed=0, **TINY).fit(synthetic_table)
