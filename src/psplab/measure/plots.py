"""Plots of measured microstructures: a grain-label image with its boundaries and a scale bar.

One function per plot, drawing into ``ax`` when given (else a new figure) and returning the
matplotlib Figure; :func:`micrograph_gallery` lays several images out with :func:`plot_micrograph`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from psplab.plotting import axes_or_new, pyplot, safe_text

__all__ = ["micrograph_gallery", "nice_scale_bar_um", "plot_micrograph"]


def nice_scale_bar_um(span_um: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k µm) near a quarter of the field width.

    Parameters
    ----------
    span_um : float
        Width of the field of view in µm.

    Returns
    -------
    float
        The bar length in µm, between a tenth and a quarter of ``span_um``.
    """
    target = span_um / 4.0
    exponent = np.floor(np.log10(target))
    for mantissa in (5.0, 2.0, 1.0):
        value = mantissa * 10**exponent
        if value <= target:
            return float(value)
    return float(10**exponent)


def _label_colors(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """RGB image with neighbouring grain ids in unrelated colours (ids are shuffled)."""
    ids = np.unique(labels)
    rng = np.random.default_rng(seed)
    palette = pyplot().get_cmap("turbo")(rng.uniform(0.05, 0.95, size=ids.size))[:, :3]
    return palette[np.searchsorted(ids, labels)]


def plot_micrograph(
    grain_labels: np.ndarray,
    pixel_um: float,
    *,
    phase_labels: np.ndarray | None = None,
    title: str = "",
    ax: Any = None,
) -> Any:
    """Grains in their own colours, boundaries dark grey, precipitates black, a µm scale bar.

    Parameters
    ----------
    grain_labels : ndarray
        ``(H, W)`` grain ids.
    pixel_um : float
        Pixel size in µm.
    phase_labels : ndarray or None
        ``(H, W)``; pixels > 0 (precipitates) are drawn black.
    title : str
        Axes title (e.g. the recipe).
    ax : matplotlib.axes.Axes or None
        Axes to draw into; a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; axes in µm.
    """
    from matplotlib.patches import Rectangle
    from skimage.segmentation import find_boundaries

    fig, ax = axes_or_new(ax, (3.4, 3.5))
    labels = np.asarray(grain_labels)
    rgb = _label_colors(labels)
    rgb[find_boundaries(labels, mode="inner")] = 0.15
    if phase_labels is not None:
        rgb[np.asarray(phase_labels) > 0] = 0.0
    h, w = labels.shape
    width_um, height_um = w * pixel_um, h * pixel_um
    ax.imshow(rgb, extent=(0.0, width_um, 0.0, height_um), origin="lower", interpolation="nearest")
    ax.set_xlabel("x [µm]")
    ax.set_ylabel("y [µm]")
    ax.set_title(safe_text(title), fontsize=8)
    bar = nice_scale_bar_um(width_um)
    x0, y0 = 0.05 * width_um, 0.06 * height_um
    ax.add_patch(
        Rectangle(
            (x0 - 0.02 * width_um, y0 - 0.03 * height_um),
            bar + 0.04 * width_um,
            0.12 * height_um,
            color="white",
            alpha=0.8,
        )
    )
    ax.plot([x0, x0 + bar], [y0, y0], color="black", lw=3, solid_capstyle="butt")
    ax.text(
        x0 + bar / 2, y0 + 0.015 * height_um, f"{bar:g} µm", ha="center", va="bottom", fontsize=8
    )
    return fig


def micrograph_gallery(images: Sequence[Mapping[str, Any]], columns: int = 3) -> Any:
    """:func:`plot_micrograph` for several images, one panel each.

    Parameters
    ----------
    images : sequence of mapping
        Each with ``grain_labels``, ``pixel_um`` and optionally ``phase_labels`` and ``title``.
    columns : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        The gallery; unused panels are hidden.
    """
    if not images:
        raise ValueError("no images for the gallery")
    cols = min(columns, len(images))
    rows = int(np.ceil(len(images) / cols))
    fig, axes = pyplot().subplots(rows, cols, figsize=(3.4 * cols, 3.5 * rows), squeeze=False)
    for ax in axes.ravel()[len(images) :]:
        ax.set_visible(False)
    for ax, item in zip(axes.ravel(), images, strict=False):
        plot_micrograph(
            item["grain_labels"],
            float(item["pixel_um"]),
            phase_labels=item.get("phase_labels"),
            title=str(item.get("title", "")),
            ax=ax,
        )
    return fig
