"""Connected components of label images, with periodic (wrap-around) merging."""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from skimage.measure import label as sk_label

# Pixel sizes a micrograph can have: from 0.01 nm (atomic resolution) to 1 cm. Outside, areas
# under- or overflow (1e-300 um squared is 0) and every result would be silently wrong.
PIXEL_UM_RANGE = (1e-5, 1e4)

# Neighbour offsets covering each pixel pair once (half of the 4- or 8-neighbourhood).
_HALF_NEIGHBOURS = {1: ((0, 1), (1, 0)), 2: ((0, 1), (1, 0), (1, 1), (1, -1))}


def check_pixel_um(pixel_um: float) -> float:
    """``pixel_um`` as a float, refused unless a physical pixel size in micrometres.

    Parameters
    ----------
    pixel_um : float
        Pixel size in micrometres (positive and finite).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For zero, a negative, non-finite or absurd value (outside :data:`PIXEL_UM_RANGE`).
    """
    low, high = PIXEL_UM_RANGE
    number = isinstance(pixel_um, int | float | np.integer | np.floating)
    value = float(pixel_um) if number and not isinstance(pixel_um, bool) else float("nan")
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(
            f"pixel_um must be a positive pixel size in micrometres, from {low:g} to {high:g}, "
            f"got {pixel_um!r}"
        )
    return value


def as_label_array(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Return ``image`` as a 2-D int64 array; raise ``ValueError`` for anything else.

    Parameters
    ----------
    image : numpy.ndarray
        Boolean, integer, or float holding integers only.
    name : str
        What the array is, for messages.

    Returns
    -------
    numpy.ndarray
        int64, 2-D.
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{name} holds non-integer values: measurement needs a label or binary "
                "image (segment the micrograph first)"
            )
        return arr.astype(np.int64)
    raise ValueError(f"{name} has unsupported dtype {arr.dtype}")


def label_components(
    values: np.ndarray,
    *,
    periodic: bool = False,
    connectivity: int = 1,
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Label connected regions of equal value.

    Parameters
    ----------
    values : numpy.ndarray
        2-D integer image; each connected region of one value becomes one component.
    periodic : bool
        Treat the image as a torus: regions that touch across opposite edges (with the same
        value) are merged, so a grain cut by the domain edge counts once.
    connectivity : int
        1 for 4-connectivity, 2 for 8-connectivity.
    exclude : numpy.ndarray, optional
        Boolean mask of pixels that belong to no component (label 0).

    Returns
    -------
    labels, n
        ``labels`` (int64, 0 = excluded, components 1..n) and the number of components.
    """
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity}")
    vals = np.asarray(values, dtype=np.int64)
    sentinel = int(vals.min()) - 1  # a value not present: skimage treats it as background
    work = vals.copy()
    if exclude is not None:
        work[np.asarray(exclude, dtype=bool)] = sentinel
    comp = sk_label(work, background=sentinel, connectivity=connectivity).astype(np.int64)
    n = int(comp.max())
    if not periodic or n == 0:
        return comp, n
    # Pixel pairs across the seams: equal values but different provisional components.
    # Inside the image equal-valued neighbours already share a component, so only seam pairs
    # survive the test below.
    rows, cols = [], []
    for dy, dx in _HALF_NEIGHBOURS[connectivity]:
        shifted_vals = np.roll(work, (-dy, -dx), axis=(0, 1))
        shifted_comp = np.roll(comp, (-dy, -dx), axis=(0, 1))
        link = (work == shifted_vals) & (comp != shifted_comp) & (comp > 0) & (shifted_comp > 0)
        rows.append(comp[link])
        cols.append(shifted_comp[link])
    a = np.concatenate(rows)
    b = np.concatenate(cols)
    if a.size == 0:
        return comp, n
    graph = sparse.coo_matrix((np.ones(a.size), (a - 1, b - 1)), shape=(n, n))
    n_merged, merged = connected_components(graph, directed=False)
    lut = np.concatenate([[0], merged + 1]).astype(np.int64)
    return lut[comp], int(n_merged)


def border_labels(labels: np.ndarray) -> np.ndarray:
    """Sorted unique non-zero labels on the image border.

    Parameters
    ----------
    labels : numpy.ndarray
        Component labels (0 = none).

    Returns
    -------
    numpy.ndarray
    """
    edge = np.concatenate([labels[0, :], labels[-1, :], labels[:, 0], labels[:, -1]])
    return np.unique(edge[edge > 0])


def corner_counts(labels: np.ndarray, n: int) -> np.ndarray:
    """How many of the four image corners each label 0..n holds.

    Parameters
    ----------
    labels : numpy.ndarray
        Component labels.
    n : int
        Largest label.

    Returns
    -------
    numpy.ndarray
        ``(n + 1,)`` counts.
    """
    corners = np.array([labels[0, 0], labels[0, -1], labels[-1, 0], labels[-1, -1]])
    return np.bincount(corners, minlength=n + 1)


def unwrapped_moments(
    labels: np.ndarray, n: int, periodic: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Area, centroid (row, col) and 2x2 covariance of every component 1..n, in pixels.

    In a periodic image a component that crosses a seam is unwrapped first (its pixels on the
    low side are shifted by one period) so that its centroid and shape are those of one piece.
    The covariance includes the 1/12 px^2 of a uniformly filled pixel, so a one-pixel particle
    has a finite, isotropic shape.

    Parameters
    ----------
    labels : numpy.ndarray
        Component labels (0 = none).
    n : int
        Number of components.
    periodic : bool
        Whether the image is a periodic domain.

    Returns
    -------
    tuple of numpy.ndarray
        ``(area, centroid_row, centroid_col, covariance)``: shapes ``(n,)``, ``(n,)``,
        ``(n,)``, ``(n, 2, 2)``.
    """
    h, w = labels.shape
    rr, cc = np.nonzero(labels)
    lab = labels[rr, cc]
    r = rr.astype(float)
    c = cc.astype(float)
    if periodic:
        for coord, size in ((r, h), (c, w)):
            lo = np.bincount(lab, weights=(coord == 0), minlength=n + 1) > 0
            hi = np.bincount(lab, weights=(coord == size - 1), minlength=n + 1) > 0
            wraps = lo & hi
            shift = wraps[lab] & (coord < size / 2)
            coord[shift] += size
    area = np.bincount(lab, minlength=n + 1)[1:].astype(float)
    sr = np.bincount(lab, weights=r, minlength=n + 1)[1:]
    sc = np.bincount(lab, weights=c, minlength=n + 1)[1:]
    mr, mc = sr / area, sc / area
    drr = r - mr[lab - 1]
    dcc = c - mc[lab - 1]
    vrr = np.bincount(lab, weights=drr * drr, minlength=n + 1)[1:] / area + 1.0 / 12.0
    vcc = np.bincount(lab, weights=dcc * dcc, minlength=n + 1)[1:] / area + 1.0 / 12.0
    vrc = np.bincount(lab, weights=drr * dcc, minlength=n + 1)[1:] / area
    cov = np.stack([np.stack([vrr, vrc], -1), np.stack([vrc, vcc], -1)], -2)
    if periodic:
        mr = np.mod(mr, h)
        mc = np.mod(mc, w)
    return area, mr, mc, cov
