"""Plots of optimization runs: one function per plot, each returning its Figure.

Each function draws into the axes it is given (``ax=``; for the one-panel-per-parameter plot, a
sequence of axes) or into a new figure (:func:`psplab.plotting.axes_or_new`); save with
:func:`psplab.plotting.save_figure`. The HTML report draws optimization runs with these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from psplab.plotting import axes_or_new, pyplot

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from psplab.optimize.space import SearchSpace

__all__ = ["best_so_far", "best_so_far_plot", "pareto_plot", "recipes_plot"]


def best_so_far(values: Any, maximize: bool = True) -> np.ndarray:
    """Running best of a 1-D trace (NaN evaluations do not count).

    Parameters
    ----------
    values : array_like
        Objective value of each evaluation, in order.
    maximize : bool
        Whether larger is better.

    Returns
    -------
    numpy.ndarray
        The best value up to each evaluation; NaN before the first finite one.
    """
    v = np.asarray(values, dtype=float)
    filled = np.where(np.isfinite(v), v, -np.inf if maximize else np.inf)
    out = np.maximum.accumulate(filled) if maximize else np.minimum.accumulate(filled)
    return np.where(np.isfinite(out), out, np.nan)


def best_so_far_plot(
    traces: Mapping[str, Any],
    *,
    ylabel: str,
    baseline: float | None = None,
    reference: float | None = None,
    maximize: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """Best-so-far objective against evaluations, one line per method, evaluations as dots.

    Parameters
    ----------
    traces : mapping of str to array_like
        Method name -> objective value of each of its evaluations, in order.
    ylabel : str
        Objective axis label, with its unit.
    baseline : float, optional
        Value of the starting recipe (dashed line).
    reference : float, optional
        A known optimum (dotted line).
    maximize : bool
        Whether larger is better.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure: one step line and its dots per method.
    """
    fig, ax = axes_or_new(ax, (6.0, 4.0))
    for name, values in traces.items():
        v = np.asarray(values, dtype=float)
        n = np.arange(1, len(v) + 1)
        line = ax.plot(
            n, best_so_far(v, maximize), drawstyle="steps-post", lw=2, label=f"{name} (best so far)"
        )
        ax.plot(n, v, ".", color=line[0].get_color(), alpha=0.35, ms=5)
    if baseline is not None and math.isfinite(baseline):
        ax.axhline(baseline, color="0.4", ls="--", lw=1, label="baseline recipe")
    if reference is not None and math.isfinite(reference):
        ax.axhline(reference, color="k", ls=":", lw=1, label="reference optimum")
    ax.set_xlabel("evaluations [count]")
    ax.set_ylabel(ylabel)
    ax.legend(loc="lower right" if maximize else "upper right", fontsize=8)
    return fig


def recipes_plot(
    history: pd.DataFrame,
    space: SearchSpace,
    objective: str,
    *,
    ylabel: str,
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per numeric parameter: evaluated recipes against the objective.

    Colour is the evaluation order; each panel's x range is the parameter's bounds.

    Parameters
    ----------
    history : pandas.DataFrame
        One row per evaluation with an ``evaluation`` column, the parameters and ``objective``.
    space : SearchSpace
        The search space (names, bounds, log scales).
    objective : str
        Column of ``history`` to plot.
    ylabel : str
        Objective axis label.
    ax : sequence of matplotlib.axes.Axes, optional
        One axes per numeric parameter; a new figure (three panels a row) when None.

    Returns
    -------
    matplotlib.figure.Figure
    """
    params = [p for p in space.parameters if p.is_numeric]
    if ax is None:
        cols = min(3, len(params))
        rows = math.ceil(len(params) / cols)
        fig, grid = pyplot().subplots(
            rows, cols, figsize=(4.0 * cols, 3.2 * rows), constrained_layout=True, squeeze=False
        )
        axes = list(grid.ravel())
        for extra in axes[len(params) :]:
            extra.set_visible(False)
    else:
        axes = list(ax)
        fig = axes[0].figure
    order = history["evaluation"].to_numpy()
    sc = None
    for a, p in zip(axes, params, strict=False):
        sc = a.scatter(history[p.name], history[objective], c=order, cmap="viridis", s=22)
        a.set_xlabel(p.label())
        a.set_ylabel(ylabel)
        if p.log:
            a.set_xscale("log")
        a.set_xlim(p.low, p.high)
    if sc is not None:
        fig.colorbar(sc, ax=axes[: len(params)], label="evaluation [count]")
    return fig


def pareto_plot(
    Y: np.ndarray,
    maximize: Sequence[bool],
    labels: Sequence[str],
    *,
    ax: Axes | None = None,
) -> Figure:
    """Evaluated points of two objectives and their Pareto front.

    Parameters
    ----------
    Y : numpy.ndarray
        Objective values ``(n, 2)`` of the evaluated points.
    maximize : sequence of bool
        Direction of each objective.
    labels : sequence of str
        Axis labels (with units).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into, or None for a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; the front is drawn in red.
    """
    from psplab.optimize.acquisition import pareto_mask

    fig, ax = axes_or_new(ax, (5.5, 4.0))
    mask = pareto_mask(Y, maximize)
    ax.plot(Y[:, 0], Y[:, 1], "o", color="0.6", ms=5, label="evaluated recipes")
    front = Y[mask]
    front = front[np.argsort(front[:, 0])]
    ax.plot(front[:, 0], front[:, 1], "o-", color="C3", ms=7, label="Pareto front")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend(fontsize=8)
    return fig
