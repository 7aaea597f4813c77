"""Figures in the report: a domain's matplotlib figure rendered to PNG with its caption.

The report draws nothing itself: each section calls the plotting function of its domain
(:mod:`psplab.causal.plots`, :mod:`psplab.models.plots`, ...), and :func:`render` turns the
figure into a :class:`~psplab.report.html.Figure`. It refuses a figure whose visible axes lack a
label with a unit in brackets, so "every figure has axis labels with units" holds for every
figure of every report, and it keeps the ``gid`` of every artist the figure drew (e.g. the edges
of a causal graph), so what a figure shows can be checked against the data it was drawn from.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import matplotlib
import numpy as np

from psplab.plotting import pyplot
from psplab.report.html import Figure

plt = pyplot()

DPI = 100
MODEL_COLORS = {
    "bhn": "#c0392b",
    "gp": "#2471a3",
    "ensemble": "#229954",
    "dropout": "#8e44ad",
    "rf": "#d68910",
}
_FALLBACK_COLORS = plt.get_cmap("tab10").colors


def model_color(name: str, index: int = 0) -> str:
    """A stable colour per model name (the same in every figure)."""
    return MODEL_COLORS.get(name, matplotlib.colors.to_hex(_FALLBACK_COLORS[index % 10]))


class FigureLabelError(ValueError):
    """A figure has a visible axis without a label that states a unit."""


def check_axis_labels(fig: matplotlib.figure.Figure) -> None:
    """Raise :class:`FigureLabelError` unless every visible axis has a ``name [unit]`` label.

    Dimensionless quantities say so with ``[–]``; colour bars count as axes.
    """
    for ax in fig.get_axes():
        if not ax.get_visible() or not ax.axison:
            continue
        for which, label, axis in (
            ("x", ax.get_xlabel(), ax.xaxis),
            ("y", ax.get_ylabel(), ax.yaxis),
        ):
            if not axis.get_visible():
                continue
            # A colour bar has one axis in use; the other carries no ticks and needs no label.
            if not axis.get_ticklocs().size and not label:
                continue
            if not label or "[" not in label or "]" not in label:
                title = ax.get_title() or "untitled axes"
                raise FigureLabelError(
                    f"{title}: {which} axis label {label!r} must name a quantity and a unit in brackets"
                )


def render(fig: matplotlib.figure.Figure, caption: str, alt: str = "") -> Figure:
    """Check the labels, save ``fig`` as PNG, close it and wrap it with its caption.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure from a domain's plotting function.
    caption : str
        What the figure shows (required).
    alt : str
        Alternative text (default: the caption's first sentence).

    Returns
    -------
    psplab.report.html.Figure
        PNG bytes, caption and the gids of the artists drawn.
    """
    if not caption.strip():
        raise ValueError("every figure needs a caption saying what it shows")
    try:
        check_axis_labels(fig)
        if fig.get_layout_engine() is None:
            fig.tight_layout()
        buf = io.BytesIO()
        # No bbox_inches="tight": tight_layout already fits the labels, and a tight bbox would
        # draw the whole figure once more (text layout dominates the report's build time).
        fig.savefig(buf, format="png", dpi=DPI)
        artists = tuple(str(a.get_gid()) for a in fig.findobj(lambda a: a.get_gid() is not None))
    finally:
        plt.close(fig)
    return Figure(
        png=buf.getvalue(), caption=caption, alt=alt or caption.split(".")[0], artists=artists
    )


# --- predictions (until psplab.models.plots lands) ------------------------------------------
def parity_grid(
    panels: Sequence[Mapping[str, object]], columns: int = 3
) -> matplotlib.figure.Figure:
    """Parity plots (predicted vs true) with 90% interval error bars.

    Each panel: ``y_true``, ``mean``, ``lo``, ``hi`` arrays, ``label`` (``name [unit]``),
    ``title``, ``color``.
    """
    n = len(panels)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, p in zip(axes.ravel(), panels, strict=False):
        y = np.asarray(p["y_true"], dtype=float)
        m = np.asarray(p["mean"], dtype=float)
        lo = np.asarray(p["lo"], dtype=float)
        hi = np.asarray(p["hi"], dtype=float)
        inside = (y >= lo) & (y <= hi)
        err = np.vstack([np.maximum(m - lo, 0), np.maximum(hi - m, 0)])
        color = str(p.get("color", "#2471a3"))
        ax.errorbar(
            y, m, yerr=err, fmt="o", ms=2.5, color=color, ecolor=color, elinewidth=0.5, alpha=0.6
        )
        finite = np.concatenate([y, m])
        finite = finite[np.isfinite(finite)]
        a, b = (finite.min(), finite.max()) if finite.size else (0, 1)
        pad = 0.05 * (b - a + 1e-12)
        ax.plot([a - pad, b + pad], [a - pad, b + pad], color="black", lw=0.8, ls="--")
        ax.set_xlim(a - pad, b + pad)
        ax.set_ylim(a - pad, b + pad)
        label = str(p["label"])
        ax.set_xlabel(f"true {label}", fontsize=8)
        ax.set_ylabel(f"predicted {label}", fontsize=8)
        cover = float(np.mean(inside)) if inside.size else float("nan")
        ax.set_title(f"{p.get('title', '')}  (90% coverage {cover:.2f})", fontsize=8)
        ax.tick_params(labelsize=7)
    return fig


def calibration_curves(
    panels: Sequence[Mapping[str, object]], columns: int = 3
) -> matplotlib.figure.Figure:
    """Observed vs nominal coverage of central intervals, one panel per target, a line per model.

    Each panel: ``title`` and ``models``: mapping model → ``(y_true, mean, std)``.
    """
    levels = np.linspace(0.05, 0.95, 19)
    z = np.array([NormalDist().inv_cdf(0.5 + a / 2) for a in levels])
    n = len(panels)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.1 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, p in zip(axes.ravel(), panels, strict=False):
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--", label="ideal")
        models = p["models"]
        assert isinstance(models, Mapping)
        for i, (name, (y, m, s)) in enumerate(models.items()):
            y, m, s = (np.asarray(v, dtype=float) for v in (y, m, s))
            ok = np.isfinite(y) & np.isfinite(m) & np.isfinite(s) & (s > 0)
            r = np.abs(y[ok] - m[ok]) / s[ok]
            observed = [(r <= zz).mean() if r.size else np.nan for zz in z]
            ax.plot(levels, observed, marker="o", ms=2, color=model_color(name, i), label=name)
        ax.set_xlabel("nominal central-interval coverage [–]", fontsize=8)
        ax.set_ylabel("observed coverage [–]", fontsize=8)
        ax.set_title(str(p.get("title", "")), fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
    axes.ravel()[0].legend(fontsize=7, loc="upper left")
    return fig
