"""The data a phase map is fitted to: structure and property measurements at synthesis points.

Structure measurements (phase labels, soft labels or raw diffraction patterns) and property
measurements (e.g. hardness, magnetization) may come from different instruments at different
points; each set is one *source*. :func:`coerce_structure` and :func:`coerce_property` check
what a user passes and return clean sources; every problem is an
:class:`psplab.errors.InputError` that names the source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from psplab.errors import InputError

__all__ = [
    "CLUSTER_METHODS",
    "CONSTRAINT_TOL",
    "PropertySource",
    "StructureSource",
    "as_points",
    "coerce_property",
    "coerce_structure",
    "independent_columns",
]

CLUSTER_METHODS = ("nmf", "agglomerative", "spectral")

# Relative singular value below which a direction of the [0, 1]-scaled inputs counts as a
# linear constraint (compositions read with 4 decimals that sum to 1: ~2e-4).
CONSTRAINT_TOL = 1e-3


@dataclass
class StructureSource:
    """Structure measurements at points ``X``: hard ``labels``, soft ``probs`` or raw ``patterns``.

    Raw patterns (e.g. XRD intensities, one row per point) are clustered into soft labels with
    :func:`psplab.models.phasemap.xrd.cluster_patterns` (method ``cluster``) when the model is
    fitted.
    """

    X: np.ndarray
    labels: np.ndarray | None = None
    probs: np.ndarray | None = None
    patterns: np.ndarray | None = None
    name: str = "structure"
    cluster: str = "nmf"


@dataclass
class PropertySource:
    """Property values ``y`` measured at points ``X``; sources with the same ``prop`` share it."""

    X: np.ndarray
    y: np.ndarray
    prop: str = "property"
    name: str = ""


def as_points(X: Any, what: str) -> np.ndarray:
    """``X`` as a finite float array ``(n, d)`` (a 1-D array is one column).

    Parameters
    ----------
    X : array-like
        Points, ``(n,)`` or ``(n, d)``.
    what : str
        Names the points in error messages (e.g. ``"structure source 'xrd'"``).

    Returns
    -------
    points : numpy.ndarray
        ``(n, d)`` float array.

    Raises
    ------
    InputError
        Empty, not numeric, more than two dimensions, or NaN/inf.
    """
    try:
        arr = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: points must be numbers ({exc})") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{what}: points must be a non-empty (n, d) array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        rows = np.flatnonzero(~np.all(np.isfinite(arr), axis=1))
        raise InputError(f"{what}: points contain NaN or inf (rows {rows[:5].tolist()})")
    return arr


def independent_columns(X: np.ndarray, tol: float = CONSTRAINT_TOL) -> np.ndarray:
    """Indices of the input columns to model, dropping those implied by a linear constraint.

    Compositions that sum to 100 % lie on a hyperplane: one coordinate is a function of the
    others. An ARD kernel over all of them has a lengthscale along a direction with no data
    (its posterior is the prior) that still shortens distances on the simplex; a GP on the
    independent coordinates does not. Each null direction of the [0, 1]-scaled, centred inputs
    drops the column with the largest weight in it; the others keep their lengthscales.

    Parameters
    ----------
    X : numpy.ndarray
        Inputs ``(n, d)``.
    tol : float
        Relative singular value below which a direction counts as a constraint.

    Returns
    -------
    columns : numpy.ndarray
        Sorted indices of the columns kept.
    """
    X = np.asarray(X, dtype=float)
    if X.shape[1] < 2 or X.shape[0] <= X.shape[1]:
        return np.arange(X.shape[1])
    # A constant column (an element held fixed) is left to the scaling and kept; the
    # constraint search runs on the others, where e.g. Fe + Ga + Pd = 95 % still holds.
    constant = [j for j in range(X.shape[1]) if np.ptp(X[:, j]) == 0]
    keep = [j for j in range(X.shape[1]) if j not in constant]
    while len(keep) > 1:
        sub = X[:, keep]
        scaled = (sub - sub.mean(axis=0)) / np.ptp(sub, axis=0)
        _, sv, vt = np.linalg.svd(scaled, full_matrices=False)
        if sv[-1] >= tol * sv[0]:
            break
        keep.pop(int(np.argmax(np.abs(vt[-1]))))
    return np.asarray(sorted(keep + constant))


def _as_source_list(sources: Any, cls: type, from_tuple: Callable[[tuple, int], Any]) -> list:
    """``sources`` (None, one source, a tuple, a dict or a sequence of them) as ``cls`` objects."""
    if sources is None:
        return []
    if isinstance(sources, cls | tuple | dict):
        sources = [sources]
    out = []
    for i, s in enumerate(sources):
        if isinstance(s, tuple):
            s = from_tuple(s, i)
        elif isinstance(s, dict):
            try:
                s = cls(**s)
            except TypeError as exc:
                raise InputError(f"{cls.__name__} {i}: {exc}") from exc
        if not isinstance(s, cls):
            raise InputError(f"source {i}: expected a {cls.__name__}, a tuple or a dict")
        out.append(s)
    return out


def coerce_structure(sources: Any) -> list[StructureSource]:
    """Check structure sources and return them with float points and flat labels.

    Parameters
    ----------
    sources : StructureSource, tuple, dict, sequence of them, or None
        A tuple is ``(X, labels)``; a dict holds :class:`StructureSource` fields.

    Returns
    -------
    sources : list of StructureSource
        Points ``(n, d)`` float; ``labels`` flat; ``probs``/``patterns`` float.

    Raises
    ------
    InputError
        Not exactly one of labels/probs/patterns, a length mismatch, bad points.
    """
    items = _as_source_list(
        sources,
        StructureSource,
        lambda t, i: StructureSource(X=t[0], labels=t[1], name=f"structure{i}"),
    )
    out = []
    for i, s in enumerate(items):
        name = s.name or f"structure{i}"
        X = as_points(s.X, f"structure source {name!r}")
        given = [v is not None for v in (s.labels, s.probs, s.patterns)]
        if sum(given) != 1:
            raise InputError(
                f"structure source {name!r}: give exactly one of labels, probs, patterns"
            )
        for attr in ("labels", "probs", "patterns"):
            val = getattr(s, attr)
            if val is not None and len(val) != len(X):
                raise InputError(
                    f"structure source {name!r}: {len(X)} points but {len(val)} {attr}"
                )
        if s.cluster not in CLUSTER_METHODS:
            raise InputError(
                f"structure source {name!r}: cluster must be one of {', '.join(CLUSTER_METHODS)}, "
                f"got {s.cluster!r}"
            )
        out.append(
            StructureSource(
                X=X,
                labels=None if s.labels is None else np.asarray(s.labels).reshape(-1),
                probs=None
                if s.probs is None
                else _floats(s.probs, f"structure source {name!r}: probs"),
                patterns=None
                if s.patterns is None
                else _floats(s.patterns, f"structure source {name!r}: patterns"),
                name=name,
                cluster=s.cluster,
            )
        )
    return out


def coerce_property(sources: Any) -> list[PropertySource]:
    """Check property sources and return them with float points and values.

    Parameters
    ----------
    sources : PropertySource, tuple, dict, sequence of them, or None
        Property readings; a tuple is ``(X, y)``, a dict holds the fields.

    Returns
    -------
    checked : list of PropertySource
        Points ``(n, d)`` and values ``(n,)`` as floats, every source named.

    Raises
    ------
    InputError
        A length mismatch, NaN/inf values or bad points.
    """
    items = _as_source_list(
        sources, PropertySource, lambda t, i: PropertySource(X=t[0], y=t[1], name=f"property{i}")
    )
    out = []
    for i, s in enumerate(items):
        name = s.name or f"property{i}"
        X = as_points(s.X, f"property source {name!r}")
        y = _floats(s.y, f"property source {name!r}: values").reshape(-1)
        if len(y) != len(X):
            raise InputError(f"property source {name!r}: {len(X)} points but {len(y)} values")
        if not np.all(np.isfinite(y)):
            rows = np.flatnonzero(~np.isfinite(y))
            raise InputError(
                f"property source {name!r}: values contain NaN or inf (rows {rows[:5].tolist()})"
            )
        out.append(PropertySource(X=X, y=y, prop=str(s.prop), name=name))
    return out


def _floats(values: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be numbers ({exc})") from exc
