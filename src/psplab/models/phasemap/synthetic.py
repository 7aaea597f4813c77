"""A synthetic composition library with known phase regions, and the demo fit on it.

:func:`synthetic_library` makes structure labels and a piecewise-smooth property with jumps at
the region boundaries on the unit square; the truth is known everywhere, so a fit can be scored.
:func:`fit_phase_map_demo` is the phase-map stage of ``psplab demo``: it fits
:class:`~psplab.models.phasemap.estimator.PhaseMapModel` with sampler settings whose chains mix
(largest R-hat below 1.05) and evaluates the result on a grid.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psplab.models.phasemap.estimator import PhaseMapModel
from psplab.models.phasemap.grid import PhaseMapGrid
from psplab.models.phasemap.sources import PropertySource, StructureSource

__all__ = [
    "DEMO_MODEL_PARAMS",
    "PhaseMapDemo",
    "SyntheticLibrary",
    "fit_phase_map_demo",
    "synthetic_library",
]

# Sampler settings of the demo's fit. With one chain of 100 + 100 draws at tree depth 5 the
# chains do not mix (largest R-hat ~1.3): every transition hits the tree-depth limit. Depth 6
# (63 leapfrog steps) with a longer warm-up for the step size and mass matrix, and two chains
# so that R-hat compares chains, gives R-hat ~1.01-1.02 with 300 draws per chain and ~1.007
# with 600 (below the 1.01 that reports call mixed) on the demo's data.
DEMO_MODEL_PARAMS: dict[str, Any] = {
    "n_regions": 3,
    "kernel": "rbf",
    "num_warmup": 500,
    "num_samples": 600,
    "num_chains": 2,
    "max_tree_depth": 6,
    "svi_steps": 1000,
    "max_inducing": 25,
}


@dataclass
class SyntheticLibrary:
    """A synthetic 2-D composition library with known regions (see :func:`synthetic_library`).

    Attributes
    ----------
    structure_X, structure_labels : numpy.ndarray
        ``(n_s, 2)`` points where the phase label was measured, and the labels ``0..K-1``.
    property_X, property_y : numpy.ndarray
        ``(n_p, 2)`` points where the property was measured, and the noisy values.
    label_fn, property_fn : callable
        True region and noise-free property of any ``(n, 2)`` points.
    n_regions : int
        Number of regions.
    coords : tuple of str
        Names of the two coordinates (fractions).
    property_name : str
        Name of the property, ``<name>_<unit>``.
    """

    structure_X: np.ndarray
    structure_labels: np.ndarray
    property_X: np.ndarray
    property_y: np.ndarray
    label_fn: Callable[[np.ndarray], np.ndarray]
    property_fn: Callable[[np.ndarray], np.ndarray]
    n_regions: int = 3
    coords: tuple[str, str] = ("x_A", "x_B")
    property_name: str = "hardness_GPa"

    def structure_source(self) -> StructureSource:
        """The structure measurements as a source.

        Returns
        -------
        source : StructureSource
        """
        return StructureSource(self.structure_X, labels=self.structure_labels, name="phase")

    def property_source(self) -> PropertySource:
        """The property measurements as a source.

        Returns
        -------
        source : PropertySource
        """
        return PropertySource(
            self.property_X, self.property_y, prop=self.property_name, name="property"
        )

    def grid(self, n: int = 31) -> np.ndarray:
        """An ``n x n`` grid over the unit square, x varying fastest.

        Parameters
        ----------
        n : int
            Points per axis.

        Returns
        -------
        X : numpy.ndarray
            ``(n * n, 2)``.
        """
        g = np.linspace(0.0, 1.0, n)
        return np.stack(np.meshgrid(g, g, indexing="xy"), axis=-1).reshape(-1, 2)


@dataclass
class PhaseMapDemo:
    """What :func:`fit_phase_map_demo` returns.

    Attributes
    ----------
    model : PhaseMapModel
        The fitted model.
    library : SyntheticLibrary
        The data and their truth.
    grid : PhaseMapGrid
        Predictions on the grid, with the true regions and the measured points.
    accuracy : float
        Share of grid points whose most probable region is the true one.
    property_r2 : float
        R² of the property's posterior mean against the noise-free truth on the grid.
    warnings : list of str
        Sampling warnings of the fit (empty when the chains mixed).
    """

    model: PhaseMapModel
    library: SyntheticLibrary
    grid: PhaseMapGrid
    accuracy: float
    property_r2: float
    warnings: list[str] = field(default_factory=list)


def _synthetic_labels(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float).reshape(-1, 2)
    lab = np.ones(len(X), dtype=int)  # region 1: the matrix phase
    lab[X[:, 0] + 0.5 * X[:, 1] > 1.0] = 2  # region 2: beyond a straight boundary
    lab[np.hypot(X[:, 0] - 0.3, X[:, 1] - 0.35) < 0.22] = 0  # region 0: a disk
    return lab


def _synthetic_property(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float).reshape(-1, 2)
    lab = _synthetic_labels(X)
    g = np.stack(
        [
            3.0 + 0.5 * np.sin(4.0 * X[:, 0]),  # hard disk phase
            1.0 + 0.8 * X[:, 1],  # soft matrix, rising with x_B
            2.0 - 0.6 * X[:, 0] * X[:, 1],  # intermediate phase
        ],
        axis=1,
    )
    return g[np.arange(len(X)), lab]


def synthetic_library(
    n_points: int = 60, seed: int = 0, n_property_points: int | None = None, noise: float = 0.05
) -> SyntheticLibrary:
    """A 2-D library on the unit square with K = 3 regions (a disk, a matrix, a half-plane).

    Parameters
    ----------
    n_points : int
        Points with a structure label (uniform random).
    seed : int
        Seeds the points and the noise.
    n_property_points : int, optional
        Points with a property reading (default ``n_points``), other random points.
    noise : float
        Standard deviation of the Gaussian noise on the property (GPa).

    Returns
    -------
    library : SyntheticLibrary
        The measurements and the ground truth (``label_fn``, ``property_fn``).
    """
    rng = np.random.default_rng(seed)
    n_prop = n_points if n_property_points is None else n_property_points
    Xs = rng.uniform(0.0, 1.0, size=(n_points, 2))
    Xp = rng.uniform(0.0, 1.0, size=(n_prop, 2))
    yp = _synthetic_property(Xp) + noise * rng.standard_normal(n_prop)
    return SyntheticLibrary(
        structure_X=Xs,
        structure_labels=_synthetic_labels(Xs),
        property_X=Xp,
        property_y=yp,
        label_fn=_synthetic_labels,
        property_fn=_synthetic_property,
    )


def fit_phase_map_demo(
    n_points: int = 60, seed: int = 0, grid_points: int = 41, **model_params: Any
) -> PhaseMapDemo:
    """Fit a phase map to :func:`synthetic_library` and score it on a grid against the truth.

    Parameters
    ----------
    n_points : int
        Measured points of each kind.
    seed : int
        Seeds the library and the model.
    grid_points : int
        Grid points per axis of the evaluation grid.
    **model_params
        :class:`PhaseMapModel` parameters overriding :data:`DEMO_MODEL_PARAMS`.

    Returns
    -------
    demo : PhaseMapDemo
    """
    lib = synthetic_library(n_points=n_points, seed=seed)
    model = PhaseMapModel(**{**DEMO_MODEL_PARAMS, "seed": seed, **model_params})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit([lib.structure_source()], [lib.property_source()])
    n = int(grid_points)
    X = lib.grid(n)
    pred = model.predict(X)
    shape = (n, n)
    truth = np.asarray(lib.label_fn(X)).reshape(shape)
    y_true = np.asarray(lib.property_fn(X))
    mean = pred.mean[:, 0]
    r2 = 1.0 - np.sum((mean - y_true) ** 2) / np.sum((y_true - y_true.mean()) ** 2)
    name, _, unit = lib.property_name.rpartition("_")
    g = X[:n, 0]
    grid = PhaseMapGrid(
        probs=pred.probs.reshape(*shape, -1),
        x1=g,
        x2=g,
        entropy=pred.entropy.reshape(shape),
        property_mean=pred.mean.reshape(*shape, -1),
        property_std=pred.std.reshape(*shape, -1),
        truth=truth,
        points=lib.structure_X,
        point_labels=lib.structure_labels,
        axis_labels=[f"{c} [fraction]" for c in lib.coords],
        property_names=[lib.property_name],
        property_labels=[f"{name} [{unit}]"],
        region_names=list(pred.region_names),
    )
    return PhaseMapDemo(
        model=model,
        library=lib,
        grid=grid,
        accuracy=float(np.mean(pred.labels.reshape(shape) == truth)),
        property_r2=float(r2),
        warnings=[str(w.message) for w in caught],
    )
