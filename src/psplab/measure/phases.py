"""Phase (area) fractions of a label image."""

from __future__ import annotations

from typing import Any

import numpy as np

from psplab.measure._components import as_label_array


def measure_phases(labels: np.ndarray, background: int | None = None) -> dict[str, Any]:
    """Area fraction of every label value.

    Parameters
    ----------
    labels : numpy.ndarray
        2-D integer image, one value per phase.
    background : int, optional
        A value to leave out (scale bar, unlabelled area): its pixels are neither a phase nor
        part of the area the fractions are taken of.

    Returns
    -------
    dict
        ``phase_fractions`` ``{label: fraction}`` (summing to 1 over the measured area),
        ``phase_pixel_counts`` ``{label: pixels}``, ``n_pixels`` (measured area) and
        ``n_background_pixels``.
    """
    values = as_label_array(labels, "labels")
    keep = np.ones(values.shape, dtype=bool) if background is None else values != background
    measured = values[keep]
    if measured.size == 0:
        raise ValueError(f"every pixel has the background value {background}: nothing to measure")
    uniq, counts = np.unique(measured, return_counts=True)
    total = int(measured.size)
    return {
        "phase_fractions": {int(u): float(c) / total for u, c in zip(uniq, counts, strict=True)},
        "phase_pixel_counts": {int(u): int(c) for u, c in zip(uniq, counts, strict=True)},
        "n_pixels": total,
        "n_background_pixels": int(values.size - total),
    }
