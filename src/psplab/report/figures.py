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

import matplotlib

from psplab.plotting import literal_labels, pyplot
from psplab.report.html import Figure

plt = pyplot()

DPI = 100


class FigureLabelError(ValueError):
    """A figure has a visible axis without a label that states a unit."""


def check_axis_labels(fig: matplotlib.figure.Figure) -> None:
    """Raise :class:`FigureLabelError` unless every visible axis has a ``name [unit]`` label.

    Dimensionless quantities say so with ``[–]``; colour bars count as axes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to check.

    Raises
    ------
    FigureLabelError
        Naming the axes and the label that lacks a unit.
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
        literal_labels(fig)  # a user's column name never reaches mathtext
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
