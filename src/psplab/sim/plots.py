"""Figures of simulations: the PFHub free-energy curve and a simulated micrograph."""

from __future__ import annotations

from typing import Any

import numpy as np

from psplab.plotting import axes_or_new


def free_energy_plot(time: np.ndarray, free_energy: np.ndarray, *, ax: Any = None):
    """Total free energy against time on log-log axes (PFHub benchmark 1).

    Parameters
    ----------
    time : numpy.ndarray
        Times (the first, t = 0, is left out of the log axes).
    free_energy : numpy.ndarray
        Total free energy at those times.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into (default: a new 4.5 × 4 in figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the curve.
    """
    fig, ax = axes_or_new(ax, (4.5, 4))
    ax.loglog(np.asarray(time)[1:], np.asarray(free_energy)[1:], "o-")
    ax.set_xlabel("time")
    ax.set_ylabel("total free energy")
    ax.set_title("PFHub 1a")
    return fig


def microstructure_plot(
    grain_labels: np.ndarray,
    pixel_um: float,
    phase_labels: np.ndarray | None = None,
    *,
    ax: Any = None,
):
    """Grain boundaries (black) and precipitates (red) with axes in µm.

    Parameters
    ----------
    grain_labels : numpy.ndarray
        Grain ids (H, W).
    pixel_um : float
        Pixel size in µm.
    phase_labels : numpy.ndarray, optional
        0 matrix, 1 precipitate, same shape.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from skimage.segmentation import find_boundaries

    fig, ax = axes_or_new(ax, (5, 5))
    h, w = grain_labels.shape
    img = np.ones((h, w, 3))
    img[find_boundaries(grain_labels, mode="inner")] = 0.0
    if phase_labels is not None:
        img[np.asarray(phase_labels) == 1] = (0.8, 0.1, 0.1)
    ax.imshow(img, extent=(0, w * pixel_um, 0, h * pixel_um))
    ax.set_xlabel("µm")
    return fig
