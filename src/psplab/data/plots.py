"""Plots of a dataset: the distribution of a column.

One function per plot, drawing into ``ax`` when given (else a new figure) and returning the
matplotlib Figure; :func:`histogram_grid` lays out one :func:`plot_histogram` per column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from psplab.plotting import axes_or_new, pyplot, safe_text

__all__ = ["histogram_grid", "plot_histogram"]


def plot_histogram(
    values: Any, label: str, *, count_label: str = "rows [count]", ax: Any = None
) -> Any:
    """Histogram of one column's values (missing and non-numeric values are skipped).

    Parameters
    ----------
    values : array-like
        The column.
    label : str
        ``name [unit]`` for the x axis.
    count_label : str
        Label of the count axis.
    ax : matplotlib.axes.Axes or None
        Where to draw; None makes a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the histogram.
    """
    fig, ax = axes_or_new(ax, (3.0, 2.4))
    finite = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy()
    ax.hist(finite, bins=20, color="#5d7ea8", edgecolor="white")
    ax.set_xlabel(safe_text(label), fontsize=8)
    ax.set_ylabel(count_label, fontsize=8)
    ax.tick_params(labelsize=7)
    return fig


def histogram_grid(
    frame: pd.DataFrame,
    labels: Mapping[str, str],
    *,
    count_label: str = "rows [count]",
    columns: int = 4,
) -> Any:
    """One :func:`plot_histogram` per column named in ``labels``.

    Parameters
    ----------
    frame : DataFrame
        The data.
    labels : mapping
        Column -> axis label (``name [unit]``); columns absent from ``frame`` are skipped.
    count_label : str
        Label of the count axes.
    columns : int
        Histograms per row.

    Returns
    -------
    matplotlib.figure.Figure
        One histogram per column, row by row.
    """
    names = [c for c in labels if c in frame.columns]
    cols = max(min(columns, len(names)), 1)
    rows = max(int(np.ceil(len(names) / cols)), 1)
    fig, axes = pyplot().subplots(rows, cols, figsize=(3.0 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        plot_histogram(frame[name], labels[name], count_label=count_label, ax=ax)
    return fig
