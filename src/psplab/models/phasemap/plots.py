"""Figures of a fitted phase map, drawn from a :class:`~psplab.models.phasemap.grid.PhaseMapGrid`.

One function per plot; each takes ``ax=`` (draws into the given axes, else makes a figure) and
returns the matplotlib Figure. :func:`plot_phase_map` draws every panel side by side and accepts
a run directory, so a report over run directories draws exactly what the run's own figure shows.
Every axis, colour bar included, is labelled with a quantity and a unit in brackets; names
from the user's data are drawn literally (:func:`psplab.plotting.safe_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from psplab.models.phasemap.grid import PhaseMapGrid, read_phase_map_grid
from psplab.plotting import safe_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_entropy_map", "plot_phase_map", "plot_property_map", "plot_region_map"]

PANEL_SIZE_IN = (4.1, 3.7)


def _axes(ax: Any, n_panels: int) -> tuple[Figure, list[Axes]]:
    """The figure and ``n_panels`` axes: ``ax`` as given (one Axes or a sequence), else new."""
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(PANEL_SIZE_IN[0] * n_panels, PANEL_SIZE_IN[1]), layout="tight")
        return fig, list(np.atleast_1d(fig.subplots(1, n_panels)))
    axes = [ax] if not isinstance(ax, Sequence | np.ndarray) else list(np.ravel(ax))
    if len(axes) != n_panels:
        raise ValueError(f"this figure has {n_panels} panel(s) but {len(axes)} axes were given")
    return axes[0].figure, axes


def _region_colors(grid: PhaseMapGrid) -> np.ndarray:
    """RGB of the most probable region, paled towards white where the posterior is unsure."""
    from matplotlib import colormaps

    k = grid.probs.shape[-1]
    label = grid.probs.argmax(-1)
    pmax = grid.probs.max(-1)
    rgb = colormaps["tab10"](label % 10)[..., :3]
    shade = 0.35 + 0.65 * (pmax - 1.0 / k) / max(1 - 1.0 / k, 1e-9)
    return rgb * shade[..., None] + (1 - shade[..., None])


def _decorate(ax: Axes, grid: PhaseMapGrid, ylabel: str | None = None) -> None:
    """Axis labels, true boundaries and measured points on a map panel."""
    from matplotlib import colormaps

    ax.set_xlabel(safe_text(grid.axis_labels[0]), fontsize=8)
    ax.tick_params(labelsize=7)
    if grid.layout == "line":
        ax.set_ylabel(safe_text(ylabel or ""), fontsize=8)
        if grid.points is not None:
            ax.plot(np.ravel(grid.points), np.zeros(np.size(grid.points)), "k|", ms=8)
        return
    ax.set_ylabel(safe_text(grid.axis_labels[1]), fontsize=8)
    if grid.truth is not None and grid.layout == "image":
        truth = np.asarray(grid.truth)
        ax.contour(
            grid.x1, grid.x2, truth, levels=np.arange(truth.max()) + 0.5,
            colors="black", linewidths=0.8, linestyles="--",
        )  # fmt: skip
    if grid.points is not None:
        pts = np.asarray(grid.points).reshape(len(grid.points), -1)
        labels = grid.point_labels
        colors = "white" if labels is None else colormaps["tab10"](np.asarray(labels) % 10)
        ax.scatter(pts[:, 0], pts[:, 1], s=8, c=colors, edgecolors="black", linewidths=0.4)
    if grid.layout == "ternary":
        ax.set_aspect("equal")


def _draw_field(ax: Axes, grid: PhaseMapGrid, values: np.ndarray, cmap: str, label: str) -> None:
    """A scalar field over the grid with a labelled colour bar."""
    if grid.layout == "image":
        extent = (grid.x1.min(), grid.x1.max(), grid.x2.min(), grid.x2.max())
        image = ax.imshow(values, extent=extent, origin="lower", aspect="auto", cmap=cmap)
    else:
        image = ax.tricontourf(grid.xy[:, 0], grid.xy[:, 1], values, levels=20, cmap=cmap)
    bar = ax.figure.colorbar(image, ax=ax)
    bar.set_label(safe_text(label), fontsize=8)


def plot_region_map(grid: PhaseMapGrid | str | Path, ax: Axes | None = None) -> Figure:
    """The most probable region at each point, pale where the posterior is unsure.

    A 1-D map draws each region's probability along the line instead.

    Parameters
    ----------
    grid : PhaseMapGrid, str or Path
        The map to draw (a grid, its ``.npz`` file or a run directory).
    ax : matplotlib.axes.Axes, optional
        Draw here instead of in a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the map.
    """
    grid = read_phase_map_grid(grid)
    fig, (ax,) = _axes(ax, 1)
    if grid.layout == "line":
        for k, name in enumerate(grid.region_names):
            ax.plot(grid.x1, grid.probs[:, k], label=safe_text(f"region {name}"))
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
        ax.set_title("region probabilities", fontsize=8)
        _decorate(ax, grid, "probability [–]")
        return fig
    rgb = _region_colors(grid)
    if grid.layout == "image":
        extent = (grid.x1.min(), grid.x1.max(), grid.x2.min(), grid.x2.max())
        ax.imshow(rgb, extent=extent, origin="lower", aspect="auto")
    else:
        from matplotlib.collections import PolyCollection
        from matplotlib.tri import Triangulation

        # Triangles between the grid points, each in the mean colour of its corners.
        tri = Triangulation(grid.xy[:, 0], grid.xy[:, 1]).triangles
        faces = rgb[tri].mean(axis=1)
        ax.add_collection(PolyCollection(grid.xy[tri], facecolors=faces, edgecolors="face"))
        ax.autoscale_view()
    ax.set_title("most probable region (pale = unsure)", fontsize=8)
    _decorate(ax, grid)
    return fig


def plot_entropy_map(grid: PhaseMapGrid | str | Path, ax: Axes | None = None) -> Figure:
    """Entropy of the posterior region probabilities: where the phase boundary is uncertain.

    Parameters
    ----------
    grid : PhaseMapGrid, str or Path
        Grid with ``entropy`` (or its file, or a run directory).
    ax : matplotlib.axes.Axes, optional
        Existing axes for the panel.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Figure of ``ax``, or a new one-panel figure.
    """
    grid = read_phase_map_grid(grid)
    fig, (ax,) = _axes(ax, 1)
    ax.set_title("phase-label entropy", fontsize=8)
    if grid.layout == "line":
        ax.plot(grid.x1, grid.entropy, "k-")
        _decorate(ax, grid, "entropy [nat]")
        return fig
    _draw_field(ax, grid, grid.entropy, "magma", "entropy [nat]")
    _decorate(ax, grid)
    return fig


def plot_property_map(
    grid: PhaseMapGrid | str | Path, prop: int | str = 0, stat: str = "mean", ax: Axes | None = None
) -> Figure:
    """A property's posterior-predictive mean or std over the grid.

    A 1-D map draws the mean with a band of ±2 std for ``stat="mean"``, the std alone for
    ``stat="std"``.

    Parameters
    ----------
    grid : PhaseMapGrid, str or Path
        Grid with ``property_mean``/``property_std`` (or its file, or a run directory).
    prop : int or str
        The property (index or name).
    stat : str
        ``"mean"`` or ``"std"``.
    ax : matplotlib.axes.Axes, optional
        Where to draw (a new figure when omitted).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure drawn into.
    """
    grid = read_phase_map_grid(grid)
    if grid.n_properties == 0:
        raise ValueError("the grid holds no property")
    if stat not in ("mean", "std"):
        raise ValueError(f"stat must be 'mean' or 'std', got {stat!r}")
    t = grid.property_names.index(prop) if isinstance(prop, str) else int(prop)
    fig, (ax,) = _axes(ax, 1)
    label = grid.property_labels[t]
    mean, std = grid.property_mean[..., t], grid.property_std[..., t]
    std_label = label.replace("[", "std [") if "[" in label else f"{label} std [–]"
    ax.set_title(safe_text(f"{grid.property_names[t]}: posterior {stat}"), fontsize=8)
    if grid.layout == "line":
        if stat == "mean":
            ax.plot(grid.x1, mean, "C0-")
            ax.fill_between(grid.x1, mean - 2 * std, mean + 2 * std, alpha=0.3, label="±2 std")
            ax.legend(fontsize=7)
        else:
            ax.plot(grid.x1, std, "C1-")
        _decorate(ax, grid, label if stat == "mean" else std_label)
        return fig
    values, cmap = (mean, "viridis") if stat == "mean" else (std, "cividis")
    _draw_field(ax, grid, values, cmap, label if stat == "mean" else std_label)
    _decorate(ax, grid)
    return fig


def plot_phase_map(
    source: PhaseMapGrid | str | Path,
    ax: Sequence[Axes] | None = None,
    properties: Sequence[int | str] | None = None,
) -> Figure:
    """The phase map side by side: regions, entropy, and each property's mean and std.

    Parameters
    ----------
    source : PhaseMapGrid, str or Path
        A grid, its ``.npz`` file, or a run directory whose manifest names one (role
        ``phasemap_grid``; written by ``psplab phasemap fit`` and ``psplab demo``).
    ax : sequence of matplotlib.axes.Axes, optional
        One axes per panel (2 + 2 per property on a 2-D map, 2 + 1 per property on a line).
    properties : sequence of int or str, optional
        Properties to draw (default: all).

    Returns
    -------
    fig : matplotlib.figure.Figure

    Raises
    ------
    ModelFileError
        ``source`` holds no readable grid.
    """
    grid = read_phase_map_grid(source)
    props = list(range(grid.n_properties)) if properties is None else list(properties)
    stats = ("mean",) if grid.layout == "line" else ("mean", "std")
    panels = 2 + len(stats) * len(props)
    fig, axes = _axes(ax, panels)
    plot_region_map(grid, ax=axes[0])
    plot_entropy_map(grid, ax=axes[1])
    rest = iter(axes[2:])
    for prop in props:
        for stat in stats:
            plot_property_map(grid, prop=prop, stat=stat, ax=next(rest))
    return fig
