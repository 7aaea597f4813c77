"""Matplotlib access shared by every domain's ``plots.py``.

Plot functions in psplab draw into the axes they are given (``ax=``) or into a new figure, and
return the matplotlib Figure; the HTML report and users embed the same drawings. This module
holds the three things they all need: pyplot without a display, "the given axes or new ones",
and saving a figure to a file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["axes_or_new", "pyplot", "save_figure"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, on the non-interactive Agg backend unless pyplot is already in use.

    Returns
    -------
    module
        ``matplotlib.pyplot``. A program (or notebook) that imported pyplot itself keeps its own
        backend; psplab never switches it.
    """
    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    return plt


def axes_or_new(ax: Any = None, figsize: tuple[float, float] = (5.0, 3.6)) -> tuple[Any, Any]:
    """``(figure, axes)``: the figure of ``ax`` when given, else a new figure with one axes.

    Parameters
    ----------
    ax : matplotlib.axes.Axes or None
        Axes to draw into.
    figsize : tuple of float
        Size of a new figure in inches.

    Returns
    -------
    tuple
        ``(matplotlib.figure.Figure, matplotlib.axes.Axes)``.
    """
    if ax is not None:
        return ax.figure, ax
    fig, new_ax = pyplot().subplots(figsize=figsize)
    return fig, new_ax


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix), close it and return the path.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or Path
        Output file.
    dpi : int
        Resolution of raster formats.

    Returns
    -------
    Path
        ``path``.
    """
    out = Path(path)
    try:
        fig.savefig(out, dpi=dpi, bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return out
