"""Plots of an optimization: the best objective found so far against the evaluations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from psplab.plotting import axes_or_new, pyplot

__all__ = ["plot_optimization_trace"]


def plot_optimization_trace(
    traces: Mapping[str, Any],
    ylabel: str,
    *,
    baseline: float | None = None,
    ax: Any = None,
) -> Any:
    """Best-so-far objective vs evaluation number, one line per method, evaluations as dots.

    Parameters
    ----------
    traces : mapping
        Method -> the objective of each evaluation, in order (NaN for a failed one).
    ylabel : str
        ``objective [unit]``.
    baseline : float or None
        A reference value (e.g. the family's baseline recipe), drawn dashed.
    ax : matplotlib.axes.Axes or None
        Axes to draw into; a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    fig, ax = axes_or_new(ax, (6.4, 3.8))
    colors = pyplot().get_cmap("tab10").colors
    for i, (name, values) in enumerate(traces.items()):
        v = np.asarray(values, dtype=float)
        k = np.arange(1, v.size + 1)
        color = "#c0392b" if i == 0 else colors[(i + 1) % 10]
        ax.scatter(k, v, s=10, color=color, alpha=0.4)
        best = np.fmax.accumulate(np.where(np.isfinite(v), v, -np.inf))
        ax.step(k, best, where="post", color=color, lw=1.8, label=f"{name}: best so far")
    if baseline is not None and np.isfinite(baseline):
        ax.axhline(baseline, color="black", ls="--", lw=0.8, label="baseline recipe")
    ax.set_xlabel("evaluation [count]")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return fig
