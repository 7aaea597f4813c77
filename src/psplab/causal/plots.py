"""Figures: the causal graph by tier, the influence bar chart and dose-response curves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from psplab.causal.effects import DoseResponse
from psplab.causal.graph import CausalGraph
from psplab.causal.stability import EdgeStability


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(name: str, units: Mapping[str, str | None] | None) -> str:
    unit = (units or {}).get(name)
    return f"{name} [{unit}]" if unit else name


def plot_graph(
    graph: CausalGraph,
    path: str | Path,
    stability: EdgeStability | None = None,
    title: str | None = None,
) -> Path:
    """Tiers laid out left to right; edge width and opacity follow bootstrap adjacency frequency."""
    plt = _plt()
    tiers = [(-1 if t is None else t) for t in graph.tiers]
    levels = sorted(set(tiers))
    col = {t: k for k, t in enumerate(levels)}
    pos = {}
    for t in levels:
        members = [i for i, v in enumerate(tiers) if v == t]
        for r, i in enumerate(members):
            pos[i] = (col[t], -(r - (len(members) - 1) / 2))
    height = max(len([v for v in tiers if v == t]) for t in levels)
    fig, ax = plt.subplots(figsize=(3.2 * len(levels) + 2, 0.55 * height + 2))
    for i, j in zip(*np.nonzero(np.triu(graph.adj, 1)), strict=True):
        freq = (
            1.0
            if stability is None
            else float(
                stability.adjacency[
                    stability.index(graph.nodes[i]), stability.index(graph.nodes[j])
                ]
            )
        )
        width = 0.5 + 4.0 * freq
        if graph.arrow[i, j] or graph.arrow[j, i]:
            a, b = (i, j) if graph.arrow[i, j] else (j, i)
            ax.annotate(
                "",
                xy=pos[b],
                xytext=pos[a],
                arrowprops=dict(
                    arrowstyle="-|>",
                    lw=width,
                    color="tab:blue",
                    alpha=0.35 + 0.6 * freq,
                    shrinkA=14,
                    shrinkB=14,
                    mutation_scale=12 + 4 * freq,
                ),
            )
        else:
            ax.plot(
                *zip(pos[i], pos[j], strict=True),
                lw=width,
                color="tab:gray",
                alpha=0.35 + 0.6 * freq,
                ls="--",
            )
    for i, name in enumerate(graph.nodes):
        ax.text(
            *pos[i],
            name,
            ha="center",
            va="center",
            fontsize=8,
            bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="0.3"),
        )
    for t in levels:
        ax.text(
            col[t],
            0.6 + height / 2,
            "tier ?" if t < 0 else f"tier {t}",
            ha="center",
            fontweight="bold",
        )
    ax.set_xlim(-0.7, len(levels) - 0.3)
    ax.set_ylim(-height / 2 - 0.8, height / 2 + 1.2)
    ax.axis("off")
    cap = "solid arrows: oriented edges; dashed: undirected"
    if stability is not None:
        cap += f"; width = adjacency frequency over {stability.n_resamples} bootstrap resamples"
    ax.set_title(title or "Causal graph (MPDAG)")
    fig.text(0.5, 0.01, cap, ha="center", fontsize=8)
    out = Path(path)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_influence(
    table: pd.DataFrame, path: str | Path, units: Mapping[str, str | None] | None = None
) -> Path:
    """One panel per outcome: effect over each parameter's range with its interval, by rank."""
    plt = _plt()
    outcomes = list(dict.fromkeys(table["outcome"]))
    n = max(len(outcomes), 1)
    k = max((table["outcome"] == o).sum() for o in outcomes) if outcomes else 1
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 0.35 * k + 2), squeeze=False)
    for ax, y in zip(axes[0], outcomes, strict=False):
        sub = table[table["outcome"] == y].sort_values("rank", ascending=False)
        val = sub["effect_over_range"].to_numpy()
        lo = sub["interval_low"].to_numpy()
        hi = sub["interval_high"].to_numpy()
        colors = ["tab:red" if s == "+" else "tab:blue" if s == "-" else "0.6" for s in sub["sign"]]
        yy = np.arange(len(sub))
        ax.barh(yy, val, color=colors)
        ax.errorbar(val, yy, xerr=[val - lo, hi - val], fmt="none", ecolor="k", lw=0.8, capsize=2)
        dose = sub["dose_effect_over_range"].to_numpy()
        has = np.isfinite(dose)
        if has.any():
            ax.plot(dose[has], yy[has], "D", color="tab:orange", ms=5, label="dose-response (SCM)")
            ax.legend(fontsize=7, loc="lower right")
        ax.set_yticks(yy, sub["parameter"], fontsize=8)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_xlabel(f"change in {_label(y, units)}\nover parameter range (5-95 %)")
        ax.set_title(y, fontsize=10)
    fig.text(
        0.5,
        -0.02,
        "bars: linear causal effect (O-set or IDA) of moving each parameter across its 5-95 % range; whiskers: "
        "90 % interval; red +, blue -, grey: sign not resolved or no causal path (0); "
        "diamonds: nonlinear dose-response",
        ha="center",
        fontsize=8,
    )
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_dose_response(
    dr: DoseResponse,
    path: str | Path,
    units: Mapping[str, str | None] | None = None,
    data: pd.DataFrame | None = None,
) -> Path:
    """``E[Y | do(X = x)]`` with its band; observed points faint in the background."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    if data is not None:
        ax.scatter(
            data[dr.treatment], data[dr.outcome], s=6, color="0.75", label="observed", zorder=1
        )
    ax.fill_between(
        dr.grid,
        dr.lower,
        dr.upper,
        color="tab:orange",
        alpha=0.35,
        label=f"{int(round(dr.level * 100))} % band",
        zorder=2,
    )
    ax.plot(dr.grid, dr.mean, color="tab:orange", lw=2, label="E[Y | do(X = x)]", zorder=3)
    ax.set_xlabel(_label(dr.treatment, units))
    ax.set_ylabel(_label(dr.outcome, units))
    ax.legend(fontsize=7)
    ax.set_title(f"do({dr.treatment}) -> {dr.outcome}", fontsize=10)
    fig.text(
        0.5,
        -0.04,
        "interventional mean through the fitted structural causal model; band: spread over "
        "model draws",
        ha="center",
        fontsize=7,
    )
    out = Path(path)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
