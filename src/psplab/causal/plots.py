"""Plots of a causal analysis: the graph by tier, the influence ranking, dose-response curves.

One function per plot. Each draws into ``ax`` when given (else into a new figure) and returns the
matplotlib Figure; ``psplab causal`` saves them as PNG and ``psplab report`` embeds the same
drawings. The grid functions (:func:`influence_figure`, :func:`dose_response_grid`) lay out one
panel per outcome or curve and call the single-panel functions.

Every edge of :func:`plot_graph` is one matplotlib annotation whose ``gid`` is
``"edge:SOURCE->TARGET"`` (oriented) or ``"edge:A--B"`` (unoriented), drawn from the source
node's position to the target's; :func:`drawn_edges` reads them back, so a test (or a user) can
check a figure against the graph it was drawn from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from psplab.causal.effects import DoseResponse
from psplab.causal.graph import CausalGraph
from psplab.causal.stability import EdgeStability
from psplab.plotting import axes_or_new, pyplot, safe_text

__all__ = [
    "dose_response_grid",
    "drawn_edges",
    "edge_of_gid",
    "edge_weights",
    "influence_figure",
    "plot_dose_response",
    "plot_graph",
    "plot_influence",
]

SIGN_COLORS = {"+": "tab:red", "-": "tab:blue"}
TIER_NAMES = {0: "processing", 1: "structure", 2: "property"}


def _label(name: str, units: Mapping[str, str | None] | None) -> str:
    unit = (units or {}).get(name)
    return safe_text(f"{name} [{unit}]" if unit else f"{name} [–]")


def edge_weights(
    stability: EdgeStability | pd.DataFrame | None,
) -> dict[frozenset[str], float]:
    """Bootstrap adjacency frequency of each pair, keyed by ``frozenset({a, b})``.

    Parameters
    ----------
    stability : EdgeStability, DataFrame or None
        An :class:`EdgeStability`, or its :meth:`EdgeStability.table` (``source``, ``target``,
        ``adjacency``: what ``psplab causal`` writes to ``edge_stability.csv``).

    Returns
    -------
    dict
        ``{frozenset({a, b}): frequency}``; empty when ``stability`` is None.
    """
    if stability is None:
        return {}
    table = stability.table() if isinstance(stability, EdgeStability) else stability
    return {
        frozenset((str(r.source), str(r.target))): float(r.adjacency)
        for r in table.itertuples(index=False)
    }


def _node_positions(graph: CausalGraph) -> tuple[dict[int, tuple[float, float]], list[int], int]:
    """Tiers left to right (unknown tier first), members of a tier stacked and centred."""
    tiers = [(-1 if t is None else int(t)) for t in graph.tiers]
    levels = sorted(set(tiers))
    pos: dict[int, tuple[float, float]] = {}
    height = 1
    for col, t in enumerate(levels):
        members = [i for i, v in enumerate(tiers) if v == t]
        height = max(height, len(members))
        for r, i in enumerate(members):
            pos[i] = (float(col), (len(members) - 1) / 2 - r)
    return pos, levels, height


def plot_graph(
    graph: CausalGraph,
    *,
    weights: Mapping[frozenset[str], float] | None = None,
    n_resamples: int | None = None,
    title: str | None = None,
    ax: Any = None,
) -> Any:
    """The graph with tiers left to right; edge width and opacity follow bootstrap frequency.

    Parameters
    ----------
    graph : CausalGraph
        The graph to draw (every oriented and unoriented edge of it, nothing else).
    weights : mapping or None
        Adjacency frequency per pair (:func:`edge_weights`); 1 for every edge when None.
    n_resamples : int or None
        Number of bootstrap resamples behind ``weights`` (for the legend).
    title : str or None
        Axes title.
    ax : matplotlib.axes.Axes or None
        Axes to draw into; a new figure sized to the graph when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the drawing.
    """
    pos, levels, height = _node_positions(graph)
    fig, ax = axes_or_new(ax, (3.2 * len(levels) + 2, 0.55 * height + 2))
    weights = weights or {}
    for a, b in graph.directed_edges:
        _draw_edge(ax, pos, graph, a, b, True, weights.get(frozenset((a, b)), 1.0))
    for a, b in graph.undirected_edges:
        _draw_edge(ax, pos, graph, a, b, False, weights.get(frozenset((a, b)), 1.0))
    for i, name in enumerate(graph.nodes):
        ax.text(
            *pos[i],
            safe_text(name),
            ha="center",
            va="center",
            fontsize=8,
            gid=f"node:{name}",
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.3"},
            zorder=3,
        )
    for col, t in enumerate(levels):
        name = "tier ?" if t < 0 else f"tier {t}: {TIER_NAMES.get(t, '')}".rstrip(": ")
        ax.text(col, 0.6 + height / 2, name, ha="center", fontweight="bold")
    ax.set_xlim(-0.7, len(levels) - 0.3)
    ax.set_ylim(-height / 2 - 0.8, height / 2 + 1.2)
    ax.axis("off")
    legend = "solid arrows: oriented edges; dashed lines: unoriented"
    if n_resamples:
        legend += f"; width: share of {n_resamples} bootstrap resamples with the edge"
    ax.text(0.5, -0.02, legend, transform=ax.transAxes, ha="center", va="top", fontsize=8)
    ax.set_title(safe_text(title) if title else "Causal graph (MPDAG)")
    return fig


def _draw_edge(ax, pos, graph: CausalGraph, a: str, b: str, directed: bool, freq: float) -> None:
    """One edge as one annotation from ``a``'s node to ``b``'s, tagged with its gid."""
    i, j = graph.index(a), graph.index(b)
    same_column = pos[i][0] == pos[j][0]
    # Bend edges inside a tier column (a straight line would run through the nodes between)
    # and edges that skip a column; the ends stay exactly at the two nodes.
    rad = 0.45 if same_column else (0.12 if abs(pos[i][0] - pos[j][0]) > 1 else 0.0)
    ax.annotate(
        "",
        xy=pos[j],
        xytext=pos[i],
        gid=f"edge:{a}->{b}" if directed else f"edge:{a}--{b}",
        arrowprops={
            "arrowstyle": "-|>" if directed else "-",
            "lw": 0.5 + 4.0 * freq,
            "color": "tab:blue" if directed else "tab:gray",
            "ls": "-" if directed else "--",
            "alpha": 0.35 + 0.6 * freq,
            "shrinkA": 10,
            "shrinkB": 10,
            "mutation_scale": 12 + 4 * freq,
            "connectionstyle": f"arc3,rad={rad}",
        },
        zorder=2,
    )


def edge_of_gid(gid: str) -> tuple[str, str, bool] | None:
    """``(source, target, directed)`` of an edge artist's gid (None for any other gid).

    Parameters
    ----------
    gid : str
        ``"edge:A->B"`` or ``"edge:A--B"`` (as :func:`plot_graph` tags its edges).

    Returns
    -------
    tuple or None
        The edge, or None when ``gid`` is not an edge's.
    """
    if not gid.startswith("edge:"):
        return None
    body = gid[len("edge:") :]
    directed = "->" in body
    a, b = body.split("->" if directed else "--", 1)
    return a, b, directed


def drawn_edges(fig: Any) -> list[tuple[str, str, bool]]:
    """The edges a :func:`plot_graph` figure draws: ``(source, target, directed)`` each.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure returned by :func:`plot_graph`.

    Returns
    -------
    list of tuple
        One entry per drawn edge, read from the artists' gids.
    """
    gids = [str(a.get_gid()) for a in fig.findobj(lambda a: a.get_gid() is not None)]
    return [e for e in map(edge_of_gid, gids) if e is not None]


def plot_influence(
    table: pd.DataFrame,
    outcome: str,
    *,
    units: Mapping[str, str | None] | None = None,
    ax: Any = None,
) -> Any:
    """Effect of each parameter over its range on ``outcome``, with its 90 % interval, by rank.

    Parameters
    ----------
    table : DataFrame
        :func:`psplab.causal.influence_table` (or ``influence.csv``).
    outcome : str
        The outcome to draw.
    units : mapping or None
        Unit per column name (for the axis label).
    ax : matplotlib.axes.Axes or None
        Axes to draw into; a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure. Bars and diamonds share the outcome's unit: the linear effect (bar) and the
        dose-response effect (diamond) are both changes of ``outcome`` over the parameter's
        range. Flagged effects (``flag`` column) are listed without a bar.
    """
    sub = table[table["outcome"] == outcome].sort_values("rank", ascending=False)
    fig, ax = axes_or_new(ax, (4.5, 0.35 * len(sub) + 2))
    flags = sub["flag"].fillna("").astype(str) if "flag" in sub else pd.Series("", sub.index)
    shown = (flags == "").to_numpy()
    val = np.where(shown, sub["effect_over_range"].to_numpy(dtype=float), np.nan)
    lo = sub["interval_low"].to_numpy(dtype=float)
    hi = sub["interval_high"].to_numpy(dtype=float)
    yy = np.arange(len(sub))
    ax.barh(yy, np.nan_to_num(val), color=[SIGN_COLORS.get(s, "0.6") for s in sub["sign"]])
    ok = shown & np.isfinite(lo) & np.isfinite(hi) & np.isfinite(val)
    ax.errorbar(
        val[ok], yy[ok], xerr=[val[ok] - lo[ok], hi[ok] - val[ok]], fmt="none", ecolor="k", lw=0.8
    )
    dose = sub["dose_effect_over_range"].to_numpy(dtype=float)
    has = np.isfinite(dose)
    if has.any():
        ax.plot(dose[has], yy[has], "D", color="tab:orange", ms=5, label="dose-response (SCM)")
        ax.legend(fontsize=7, loc="best")
    for y in yy[~shown]:
        ax.text(0, y, " flagged: not an estimate", va="center", fontsize=7, color="tab:red")
    ax.set_yticks(yy, [safe_text(p) for p in sub["parameter"]], fontsize=8)
    ax.axvline(0, color="k", lw=0.5)
    unit = (units or {}).get(outcome)
    xlabel = f"change in {outcome} over parameter range [{unit or '–'}]"
    ax.set_xlabel(safe_text(xlabel), fontsize=8)
    ax.set_ylabel("processing parameter [–]", fontsize=8)
    ax.set_title(safe_text(outcome), fontsize=10)
    return fig


def influence_figure(table: pd.DataFrame, units: Mapping[str, str | None] | None = None) -> Any:
    """:func:`plot_influence` for every outcome of ``table``, one panel each (own x axis).

    Parameters
    ----------
    table : DataFrame
        The influence table.
    units : mapping or None
        Unit per column name.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per outcome, each on its own axis: outcomes never share a unit axis.
    """
    outcomes = list(dict.fromkeys(table["outcome"])) or [""]
    rows = max((table["outcome"] == o).sum() for o in outcomes) if len(table) else 1
    fig, axes = pyplot().subplots(
        1, len(outcomes), figsize=(4.8 * len(outcomes), 0.35 * rows + 2), squeeze=False
    )
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        plot_influence(table, outcome, units=units, ax=ax)
    fig.tight_layout()
    return fig


def plot_dose_response(
    dr: DoseResponse,
    *,
    units: Mapping[str, str | None] | None = None,
    data: pd.DataFrame | None = None,
    truth: Sequence[float] | None = None,
    ax: Any = None,
) -> Any:
    """``E[Y | do(X = x)]`` with its band; observed points faint behind it.

    Parameters
    ----------
    dr : DoseResponse
        The curve (``grid``, ``mean``, ``lower``, ``upper``, ``level``).
    units : mapping or None
        Unit per column name.
    data : DataFrame or None
        Observed rows (columns ``dr.treatment`` and ``dr.outcome``) to scatter behind the curve.
    truth : sequence of float or None
        The true interventional mean on ``dr.grid`` (simulated data), drawn dashed.
    ax : matplotlib.axes.Axes or None
        Axes to draw into; a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the curve.
    """
    fig, ax = axes_or_new(ax, (5.0, 3.6))
    if data is not None and {dr.treatment, dr.outcome} <= set(data.columns):
        ax.scatter(data[dr.treatment], data[dr.outcome], s=6, color="0.75", label="observed")
    band = f"{int(round(dr.level * 100))} % band"
    ax.fill_between(dr.grid, dr.lower, dr.upper, color="tab:orange", alpha=0.35, label=band)
    ax.plot(dr.grid, dr.mean, color="tab:orange", lw=2, label="E[Y | do(X = x)]")
    if truth is not None:
        ax.plot(dr.grid, np.asarray(truth, float), color="k", ls="--", lw=1, label="truth")
    ax.set_xlabel(f"do({_label(dr.treatment, units)})", fontsize=8)
    ax.set_ylabel(f"E[{_label(dr.outcome, units)}]", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_title(safe_text(f"do({dr.treatment}) -> {dr.outcome}"), fontsize=9)
    return fig


def dose_response_grid(
    curves: Iterable[DoseResponse],
    *,
    units: Mapping[str, str | None] | None = None,
    truths: Mapping[tuple[str, str], Sequence[float]] | None = None,
    columns: int = 3,
) -> Any:
    """:func:`plot_dose_response` for several curves, one panel each.

    Parameters
    ----------
    curves : iterable of DoseResponse
        The curves.
    units : mapping or None
        Unit per column name.
    truths : mapping or None
        True interventional means by ``(treatment, outcome)``.
    columns : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        The grid; unused panels are hidden.
    """
    curves = list(curves)
    n = max(len(curves), 1)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = pyplot().subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.ravel()[len(curves) :]:
        ax.set_visible(False)
    for ax, dr in zip(axes.ravel(), curves, strict=False):
        truth = (truths or {}).get((dr.treatment, dr.outcome))
        plot_dose_response(dr, units=units, truth=truth, ax=ax)
    fig.tight_layout()
    return fig
