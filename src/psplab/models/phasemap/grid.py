"""A fitted phase map evaluated on a grid: what the figures and the report draw from.

A :class:`PhaseMapGrid` holds the posterior region probabilities, their entropy and each
property's predictive mean and std on a line (1-D inputs), a rectangular grid over two input
columns (any other columns held at the centre of their range) or a triangular grid of
three-component compositions. It is saved as one ``.npz`` (no pickle) beside a run's
``manifest.json`` under the role ``phasemap_grid``, so a report can draw a phase map from a run
directory without the model.

File format (``.npz``; every key but ``probs`` optional):

==================  =========================================================================
key                 meaning
==================  =========================================================================
``x1``, ``x2``      grid axes ``(n1,)``, ``(n2,)`` (rectangular layout; ``x1`` alone: a line)
``xy``              ``(m, 2)`` scattered plot coordinates (ternary layout)
``probs``           region probabilities ``(n2, n1, K)``, ``(n1, K)`` or ``(m, K)``
``entropy``         entropy of ``probs`` in nats, ``probs``'s shape without ``K``
``property_mean``   predictive mean, ``(..., T)`` (or without ``T`` for one property)
``property_std``    predictive std, as ``property_mean``
``truth``           true region index (synthetic data), drawn as dashed boundaries
``points``          ``(p, 2)`` or ``(p,)`` measured points, in plot coordinates
``point_labels``    ``(p,)`` region index of each measured point
``axis_labels``     ``(2,)`` or ``(1,)`` axis labels with units
``property_names``  ``(T,)``; ``property_labels`` ``(T,)`` labels with units
``region_names``    ``(K,)``
==================  =========================================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from psplab.errors import ModelFileError

__all__ = [
    "GRID_ROLE",
    "PhaseMapGrid",
    "predict_grid",
    "query_grid",
    "read_phase_map_grid",
    "simplex_grid",
    "ternary_xy",
]

# Manifest role of a run's grid file.
GRID_ROLE = "phasemap_grid"
# Axis-label unit of a quantity whose unit the user did not give (arbitrary units).
UNKNOWN_UNIT = "a.u."


def ternary_xy(C: np.ndarray) -> np.ndarray:
    """Cartesian coordinates of 3-component compositions (rows normalized to sum 1).

    Vertex A at (0, 0), B at (1, 0), C at (1/2, sqrt(3)/2).

    Parameters
    ----------
    C : numpy.ndarray
        ``(n, 3)`` compositions.

    Returns
    -------
    xy : numpy.ndarray
        ``(n, 2)``.
    """
    C = np.asarray(C, dtype=float)
    C = C / C.sum(axis=1, keepdims=True)
    return np.stack([C[:, 1] + 0.5 * C[:, 2], np.sqrt(3.0) / 2.0 * C[:, 2]], axis=1)


def simplex_grid(n: int = 41) -> np.ndarray:
    """Compositions on a regular triangular grid with ``n`` points per edge.

    Parameters
    ----------
    n : int
        Points per edge.

    Returns
    -------
    C : numpy.ndarray
        ``(n (n + 1) / 2, 3)``, rows summing to 1.
    """
    pts = [(i, j, n - 1 - i - j) for i in range(n) for j in range(n - i)]
    return np.asarray(pts, dtype=float) / (n - 1)


def query_grid(model: Any, n: int = 41, ternary: bool = False) -> np.ndarray:
    """Query points for maps of a fitted model over its observed input range.

    Parameters
    ----------
    model : PhaseMapModel
        Fitted (``input_min_``, ``input_max_``, ``n_dim_``).
    n : int
        Points per axis (a 1-D line gets ``4 n``).
    ternary : bool
        Three inputs: a triangular grid of compositions inside the observed range.

    Returns
    -------
    X : numpy.ndarray
        ``(m, n_dim_)``: a line, a rectangular grid over the first two columns (x varying
        fastest; other columns at the centre of their range), or simplex points.
    """
    lo, hi = model.input_min_, model.input_max_
    if model.n_dim_ == 1:
        return np.linspace(lo[0], hi[0], 4 * n)[:, None]
    if ternary and model.n_dim_ == 3:
        G = simplex_grid(n)
        return G[np.all((G >= lo - 1e-9) & (G <= hi + 1e-9), axis=1)]
    axes = [np.linspace(lo[i], hi[i], n) for i in range(2)]
    g = np.stack(np.meshgrid(*axes, indexing="xy"), axis=-1).reshape(-1, 2)
    out = np.tile(0.5 * (lo + hi), (len(g), 1))
    out[:, :2] = g
    return out


@dataclass
class PhaseMapGrid:
    """Posterior phase map and property maps on a grid (see the module docstring for the layout).

    Attributes
    ----------
    probs : numpy.ndarray
        Region probabilities, ``(n2, n1, K)`` (rectangular), ``(n1, K)`` (line) or ``(m, K)``
        (ternary).
    x1, x2 : numpy.ndarray or None
        Grid axes.
    xy : numpy.ndarray or None
        Scattered plot coordinates (ternary layout).
    entropy : numpy.ndarray or None
        Entropy of ``probs`` (computed when None).
    property_mean, property_std : numpy.ndarray or None
        ``probs``'s shape with ``T`` properties last.
    truth, points, point_labels : numpy.ndarray or None
        True region index on the grid; measured points and their region index.
    axis_labels : list of str
        Axis labels with units.
    property_names, property_labels, region_names : list of str
        Names; ``property_labels`` with units (default: the names with ``[–]``).
    """

    probs: np.ndarray
    x1: np.ndarray | None = None
    x2: np.ndarray | None = None
    xy: np.ndarray | None = None
    entropy: np.ndarray | None = None
    property_mean: np.ndarray | None = None
    property_std: np.ndarray | None = None
    truth: np.ndarray | None = None
    points: np.ndarray | None = None
    point_labels: np.ndarray | None = None
    axis_labels: list[str] = field(default_factory=list)
    property_names: list[str] = field(default_factory=list)
    property_labels: list[str] = field(default_factory=list)
    region_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.probs = np.asarray(self.probs, dtype=float)
        if self.entropy is None:
            p = np.clip(self.probs, 1e-300, 1.0)
            self.entropy = -np.sum(p * np.log(p), axis=-1)
        grid_shape = self.probs.shape[:-1]
        for name in ("property_mean", "property_std"):
            value = getattr(self, name)
            if value is not None and np.ndim(value) == len(grid_shape):
                setattr(self, name, np.asarray(value, dtype=float)[..., None])  # one property
        n_props = 0 if self.property_mean is None else self.property_mean.shape[-1]
        if not self.property_names:
            self.property_names = [f"property{t}" for t in range(n_props)]
        if not self.property_labels:
            # A label states its unit; "[–]" when none was given, as for the axes.
            self.property_labels = [n if "[" in n else f"{n} [–]" for n in self.property_names]
        if not self.region_names:
            self.region_names = [str(k) for k in range(self.probs.shape[-1])]
        if not self.axis_labels:
            self.axis_labels = ["x1 [–]", "x2 [–]"][: 1 if self.layout == "line" else 2]

    @property
    def layout(self) -> str:
        """``"image"`` (rectangular grid), ``"line"`` (1-D) or ``"ternary"`` (scattered)."""
        if self.xy is not None:
            return "ternary"
        return "line" if self.x2 is None else "image"

    @property
    def n_properties(self) -> int:
        """Number of properties mapped."""
        return 0 if self.property_mean is None else int(self.property_mean.shape[-1])

    def save(self, path: str | Path) -> Path:
        """Write the grid as ``.npz`` (plain arrays, no pickle).

        Parameters
        ----------
        path : str or Path
            File to write (``.npz`` is added when missing).

        Returns
        -------
        path : Path
            The file written.
        """
        path = Path(path).with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (isinstance(value, list) and not value):
                continue
            arrays[f.name] = np.asarray(value, dtype=str if isinstance(value, list) else None)
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PhaseMapGrid:
        """Read a grid written by :meth:`save` (or by another tool in the same format).

        Parameters
        ----------
        path : str or Path
            The ``.npz`` file.

        Returns
        -------
        grid : PhaseMapGrid
            The arrays and labels stored.

        Raises
        ------
        ModelFileError
            The file is missing, unreadable, or holds no ``probs``.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{path}: cannot read the phase-map grid ({exc})") from exc
        if "probs" not in arrays:
            raise ModelFileError(f"{path}: not a phase-map grid (no 'probs' array)")
        names = {f.name for f in fields(cls)}
        lists = {"axis_labels", "property_names", "property_labels", "region_names"}
        kwargs = {
            k: ([str(s) for s in np.ravel(v)] if k in lists else v)
            for k, v in arrays.items()
            if k in names
        }
        return cls(**kwargs)


def read_phase_map_grid(source: str | Path | PhaseMapGrid) -> PhaseMapGrid:
    """The phase-map grid of a run directory, a grid file, or a grid already in memory.

    A run directory's ``manifest.json`` names the file under the role ``phasemap_grid``; axis
    and property labels missing from the file are taken from the manifest's results
    (``axis_labels``, ``property_label``).

    Parameters
    ----------
    source : str, Path or PhaseMapGrid
        Run directory, ``.npz`` file or grid.

    Returns
    -------
    grid : PhaseMapGrid
        Labels completed from the run's manifest where the file has none.

    Raises
    ------
    ModelFileError
        No grid in the run directory, or an unreadable file.
    """
    if isinstance(source, PhaseMapGrid):
        return source
    path = Path(source)
    if not path.is_dir():
        return PhaseMapGrid.load(path)
    manifest_path = path / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{manifest_path}: cannot read the run's manifest ({exc})") from exc
    rel = (manifest.get("files") or {}).get(GRID_ROLE)
    if not isinstance(rel, str):
        raise ModelFileError(f"{path}: the run has no '{GRID_ROLE}' file")
    grid = PhaseMapGrid.load(path / rel)
    results = manifest.get("results") or {}
    with np.load(path / rel, allow_pickle=False) as npz:
        saved = set(npz.files)
    if "axis_labels" not in saved and results.get("axis_labels"):
        grid.axis_labels = [str(a) for a in results["axis_labels"]]
    if "property_labels" not in saved and results.get("property_label"):
        grid.property_labels = [str(results["property_label"])] * grid.n_properties
    return grid


def predict_grid(
    model: Any,
    coords: Sequence[str] | None = None,
    n: int = 41,
    ternary: bool = False,
    data_points: np.ndarray | None = None,
    point_labels: np.ndarray | None = None,
    units: str = "",
    property_units: Mapping[str, str] | None = None,
) -> PhaseMapGrid:
    """Evaluate a fitted model on :func:`query_grid` points.

    Parameters
    ----------
    model : PhaseMapModel
        Fitted.
    coords : sequence of str, optional
        Names of the input columns (default ``x0, x1, ...``).
    n : int
        Points per axis.
    ternary : bool
        Three-component compositions: a triangular grid drawn in ternary coordinates.
    data_points : numpy.ndarray, optional
        Measured points ``(p, n_dim_)`` to mark (in input units).
    point_labels : numpy.ndarray, optional
        Region index of each measured point (colours the marks).
    units : str
        Unit of the input columns, for the axis labels (``a.u.`` when empty).
    property_units : mapping, optional
        Unit of each property by name, for the colour-bar labels (``a.u.`` when missing).

    Returns
    -------
    grid : PhaseMapGrid
    """
    coords = list(coords) if coords is not None else [f"x{i}" for i in range(model.n_dim_)]
    G = query_grid(model, n=n, ternary=ternary)
    pred = model.predict(G)
    unit = units or UNKNOWN_UNIT
    prop_units = dict(property_units or {})
    common: dict[str, Any] = {
        "property_names": list(pred.property_names),
        "property_labels": [
            f"{name} [{prop_units.get(name) or UNKNOWN_UNIT}]" for name in pred.property_names
        ],
        "region_names": list(pred.region_names),
        "point_labels": None if point_labels is None else np.asarray(point_labels),
    }
    T = len(pred.property_names)
    if ternary:
        axis = [f"{coords[1]} + {coords[2]}/2 (ternary) [{unit}]", f"{coords[2]} · √3/2 [{unit}]"]
        pts = None if data_points is None else ternary_xy(np.asarray(data_points, dtype=float))
        return PhaseMapGrid(
            probs=pred.probs, xy=ternary_xy(G), entropy=pred.entropy,
            property_mean=pred.mean if T else None, property_std=pred.std if T else None,
            points=pts, axis_labels=axis, **common,
        )  # fmt: skip
    pts = None if data_points is None else np.asarray(data_points, dtype=float)
    if model.n_dim_ == 1:
        return PhaseMapGrid(
            probs=pred.probs, x1=G[:, 0], entropy=pred.entropy,
            property_mean=pred.mean if T else None, property_std=pred.std if T else None,
            points=None if pts is None else pts[:, 0], axis_labels=[f"{coords[0]} [{unit}]"],
            **common,
        )  # fmt: skip
    x1, x2 = G[:n, 0], G[::n, 1]  # x1 varies fastest
    shape = (len(x2), len(x1))
    return PhaseMapGrid(
        probs=pred.probs.reshape(*shape, -1),
        x1=x1,
        x2=x2,
        entropy=pred.entropy.reshape(shape),
        property_mean=pred.mean.reshape(*shape, T) if T else None,
        property_std=pred.std.reshape(*shape, T) if T else None,
        points=None if pts is None else pts[:, :2],
        axis_labels=[f"{coords[0]} [{unit}]", f"{coords[1]} [{unit}]"],
        **common,
    )
