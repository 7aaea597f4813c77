"""Matplotlib access shared by every domain's ``plots.py``.

Plot functions in psplab draw into the axes they are given (``ax=``) or into a new figure, and
return the matplotlib Figure; the HTML report and users embed the same drawings. This module
holds what they all need: pyplot without a display, "the given axes or new ones", saving a
figure to a file, and safe text.

Safe text: matplotlib reads any text holding two ``$`` signs as a TeX-like formula and raises at
draw time when the formula is not valid (a column named ``price $\\foo{$`` makes ``savefig``
fail), or silently draws something else (``a $x$ b``). Every plot that puts a user's string (a
column name, a unit, a categorical level, a file name) into a figure passes it through
:func:`safe_text`; :func:`literal_labels` is the net that :func:`save_figure` casts over every
finished figure.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["axes_or_new", "literal_labels", "pyplot", "safe_text", "save_figure"]


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
        literal_labels(fig)  # a user's column name never reaches mathtext
        fig.savefig(out, dpi=dpi, bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return out


def safe_text(text: Any) -> str:
    """``text`` as a string that matplotlib draws literally.

    Parameters
    ----------
    text : object
        A user's string (or anything with ``str``).

    Returns
    -------
    str
        The text with every ``$`` escaped (``\\$``), so mathtext never parses it; a leading
        underscore gets an invisible zero-width space before it (matplotlib leaves labels that
        start with ``_`` out of legends).
    """
    out = str(text).replace("\\$", "$").replace("$", "\\$")
    return "\u200b" + out if out.startswith("_") else out


def literal_labels(figure: Any) -> Any:
    """Turn mathtext parsing off for every title, axis label, legend entry and annotation.

    Tick labels are left alone (matplotlib's own log-axis labels are mathtext); categorical
    tick labels made from user strings must go through :func:`safe_text` where they are set.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        A finished figure.

    Returns
    -------
    matplotlib.figure.Figure
        The same figure, for chaining.
    """
    texts = list(figure.texts)
    if getattr(figure, "_suptitle", None) is not None:
        texts.append(figure._suptitle)
    for legend in figure.legends:
        texts += list(legend.get_texts()) + [legend.get_title()]
    for ax in figure.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        texts += [
            getattr(ax, name) for name in ("_left_title", "_right_title") if hasattr(ax, name)
        ]
        legend = ax.get_legend()
        if legend is not None:
            texts += list(legend.get_texts()) + [legend.get_title()]
    for text in texts:
        # Drawn literally now, so an escape made by safe_text would show: undo it.
        text.set_text(text.get_text().replace("\\$", "$"))
        text.set_parse_math(False)
    return figure
