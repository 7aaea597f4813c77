"""From checked sources to the model's arrays: region names, soft labels, padded data.

Data enter the compiled programs padded to a few bucket sizes
(:func:`psplab.models.phasemap.likelihood.bucket_size`): padded structure rows carry all-zero
soft labels and padded property rows zero weight, so they leave the likelihood unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from psplab.errors import InputError
from psplab.limits import require_memory
from psplab.models.phasemap.likelihood import ModelSpec, sites
from psplab.models.phasemap.sources import StructureSource

__all__ = [
    "changepoint_grid",
    "pad_rows",
    "plain_labels",
    "region_classes",
    "require_fit_memory",
    "soft_labels",
    "source_index",
]


def plain_labels(labels: Any) -> np.ndarray:
    """Labels as an array, booleans as 0/1 integers.

    Parameters
    ----------
    labels : array-like
        Region labels.

    Returns
    -------
    labels : numpy.ndarray
    """
    labels = np.asarray(labels)
    return labels.astype(int) if labels.dtype == bool else labels


def region_classes(S: list[StructureSource], K: int, phase_model: str) -> np.ndarray:
    """Region names: the hard labels seen (shared over sources), then names for the others.

    Change-point regions are ordered left to right, so the labels are ordered by where they
    were seen.

    Parameters
    ----------
    S : list of StructureSource
        Checked structure sources.
    K : int
        Number of regions.
    phase_model : str
        ``"gp"`` or ``"changepoint"``.

    Returns
    -------
    classes : numpy.ndarray
        ``(K,)`` region names.

    Raises
    ------
    InputError
        More distinct labels than regions.
    """
    hard = [s for s in S if s.labels is not None]
    labels = [plain_labels(s.labels) for s in hard]
    classes = np.unique(np.concatenate(labels)) if hard else np.array([], dtype=int)
    if len(classes) > K:
        raise InputError(f"{len(classes)} distinct labels but n_regions={K}")
    if phase_model == "changepoint" and len(classes):
        xs = np.concatenate([s.X[:, 0] for s in hard])
        lab = np.concatenate(labels)
        centre = [np.mean(xs[lab == c]) for c in classes]
        classes = classes[np.argsort(centre)]
    n_missing = K - len(classes)
    if n_missing <= 0:
        return classes
    if len(classes) == 0:
        return np.arange(K)
    if classes.dtype.kind in "iu":
        start = int(classes.max()) + 1
        return np.concatenate([classes, np.arange(start, start + n_missing)])
    return np.concatenate(
        [classes.astype(str), np.array([f"region{k}" for k in range(len(classes), K)])]
    )


def pad_rows(a: np.ndarray, n: int, value: float = 0.0) -> np.ndarray:
    """``a`` with rows of ``value`` appended up to ``n`` rows.

    Parameters
    ----------
    a : numpy.ndarray
        ``(m, ...)`` with ``m <= n``.
    n : int
        Rows wanted.
    value : float
        Fill value.

    Returns
    -------
    padded : numpy.ndarray
        ``(n, ...)``, same dtype.
    """
    extra = n - len(a)
    return np.concatenate([a, np.full((extra,) + a.shape[1:], value, dtype=a.dtype)])


def source_index(sizes: list[int], values: Sequence[int] | None = None) -> np.ndarray:
    """Per row of sources concatenated in order: ``values[source]`` (default: the source index).

    Parameters
    ----------
    sizes : list of int
        Rows of each source.
    values : sequence of int, optional
        One value per source.

    Returns
    -------
    index : numpy.ndarray
        ``(sum(sizes),)`` int32.
    """
    values = range(len(sizes)) if values is None else values
    parts = [np.full(n, v) for n, v in zip(sizes, values, strict=True)]
    return np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)


def changepoint_grid(
    xs: np.ndarray, xp: np.ndarray, n_padded: int, n_grid: int
) -> dict[str, np.ndarray]:
    """Arrays of the grid-marginalized change point.

    ``Ms``: which (padded) structure points lie right of each grid cell's centre (region 1 of a
    step boundary); ``cell_part``: which of the ``n_p + 1`` partitions of the property points
    each cell induces (partition ``j``: the ``j`` leftmost points in region 0), with the sort
    orders that make each partition a prefix.

    Parameters
    ----------
    xs : numpy.ndarray
        Normalized structure coordinates ``(n_s,)`` (padded).
    xp : numpy.ndarray
        Normalized property coordinates ``(n_p,)`` (real rows only).
    n_padded : int
        Padded number of property rows.
    n_grid : int
        Grid cells over [0, 1].

    Returns
    -------
    arrays : dict
        ``Ms``, ``ord_asc``, ``ord_desc``, ``cell_part``, ``cell_part_rev``.
    """
    centres = (np.arange(n_grid) + 0.5) / n_grid
    pad_idx = np.arange(len(xp), n_padded)
    part = np.searchsorted(np.sort(xp), centres, side="left")
    return {
        "Ms": (xs[None, :] >= centres[:, None]).astype(float),
        "ord_asc": np.concatenate([np.argsort(xp, kind="stable"), pad_idx]).astype(np.int32),
        "ord_desc": np.concatenate([np.argsort(-xp, kind="stable"), pad_idx]).astype(np.int32),
        "cell_part": part.astype(np.int32),
        "cell_part_rev": (len(xp) - part).astype(np.int32),
    }


def require_fit_memory(
    spec: ModelSpec, settings: Any, n_structure_rows: int, n_property_rows: int
) -> None:
    """Refuse a fit whose draws or covariances would not fit in memory, before any work.

    Parameters
    ----------
    spec : ModelSpec
        The problem's static description.
    settings : SamplerSettings
        Chains, warm-up and samples.
    n_structure_rows, n_property_rows : int
        Rows of structure and property data (padded).

    Raises
    ------
    ResourceError
        The estimate is above the memory available.
    """
    n_params = sum(int(np.prod(shape)) for _, shape, _ in sites(spec).values())
    steps = settings.num_chains * (settings.num_warmup + settings.num_samples)
    n_p = n_property_rows
    # Draws of every NUTS step (warm-up included), the property covariance with its per-region
    # kernels, squared differences and gradient copies, and the phase projections.
    n_bytes = 8 * (steps * (n_params + 4) + 4 * n_p * n_p * (spec.n_regions + spec.dim + 4))
    n_bytes += 8 * 4 * n_structure_rows * spec.n_inducing
    require_memory(
        n_bytes,
        f"a phase-map fit with {steps} NUTS steps of {n_params} parameters and {n_p} property rows",
        "use fewer chains/samples/warm-up steps, fewer inducing points or fewer property readings",
    )


def soft_labels(S: list[StructureSource], classes: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """Soft labels of each structure source over the regions ``classes``.

    Hard labels become one-hot rows; patterns are clustered
    (:func:`psplab.models.phasemap.xrd.cluster_patterns`) into soft labels.

    Parameters
    ----------
    S : list of StructureSource
        Checked structure sources.
    classes : numpy.ndarray
        The ``K`` region names (:func:`region_classes`).
    seed : int
        Seeds the pattern clustering.

    Returns
    -------
    labels : list of numpy.ndarray
        ``(n_i, K)`` per source, rows summing to 1.

    Raises
    ------
    InputError
        Soft labels of the wrong shape or not probabilities.
    """
    K = len(classes)
    lookup = {v: k for k, v in enumerate(classes.tolist())}
    targets = []
    for s in S:
        if s.labels is not None:
            idx = np.array([lookup[v] for v in plain_labels(s.labels).tolist()], dtype=int)
            Q = np.eye(K)[idx]
        elif s.probs is not None:
            Q = s.probs
        else:
            from psplab.models.phasemap.xrd import cluster_patterns

            _, Q = cluster_patterns(s.patterns, K, method=s.cluster, soft=True, seed=seed)
        if Q.shape != (len(s.X), K):
            raise InputError(
                f"structure source {s.name!r}: soft labels must be (n, {K}), got {Q.shape}"
            )
        if np.any(Q < 0) or not np.allclose(Q.sum(axis=1), 1.0, atol=1e-6):
            raise InputError(
                f"structure source {s.name!r}: soft labels must be rows of probabilities"
            )
        targets.append(Q)
    return targets
