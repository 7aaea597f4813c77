"""Plots of predictions with uncertainty: parity plots with 90 % intervals, calibration curves.

One function per plot. Each draws into ``ax`` when given (else into a new figure) and returns the
matplotlib Figure, so the HTML report and users embed the same drawings:

* :func:`parity_plot` — predicted vs measured for one model and one target, from arrays;
* :func:`calibration_plot` — observed vs nominal coverage of central intervals, a line per model;
* :func:`parity_grid` / :func:`calibration_grid` — the same for every model (or target) of a long
  table of out-of-fold predictions (``model, target, y_true, mean, std`` and ``q05``/``q95`` or
  ``lo``/``hi``: what ``psplab evaluate`` writes to ``oof_predictions.csv``);
* :func:`write_figures` — one parity and one calibration PNG per target, with captions.

Axis labels always carry a unit in brackets (``[–]`` for dimensionless shares).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.models.metrics import central_coverage, r2_score
from psplab.plotting import axes_or_new, literal_labels, pyplot, safe_text

__all__ = [
    "MODEL_COLORS",
    "NOMINAL_LEVELS",
    "calibration_grid",
    "calibration_plot",
    "model_color",
    "parity_grid",
    "parity_plot",
    "slug",
    "write_figures",
]

NOMINAL_LEVELS = np.linspace(0.05, 0.95, 19)
MODEL_COLORS = {
    "bhn": "#c0392b",
    "gp": "#2471a3",
    "ensemble": "#229954",
    "dropout": "#8e44ad",
    "rf": "#d68910",
}


def model_color(name: str, index: int = 0) -> str:
    """A stable colour per model name, the same in every figure.

    Parameters
    ----------
    name : str
        Model name (``bhn``, ``gp``, ...).
    index : int
        Position of the model in its figure; picks a ``tab10`` colour for unknown names.

    Returns
    -------
    color : str
        A hex colour.
    """
    if name in MODEL_COLORS:
        return MODEL_COLORS[name]
    import matplotlib

    return matplotlib.colors.to_hex(pyplot().get_cmap("tab10").colors[index % 10])


def slug(name: str) -> str:
    """A file-name-safe version of a column name.

    Parameters
    ----------
    name : str
        Any column name.

    Returns
    -------
    slug : str
        Letters, digits and underscores only.
    """
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "target"


def parity_plot(
    y_true: np.ndarray,
    mean: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    label: str,
    title: str = "",
    color: str = "#2471a3",
    in_domain: np.ndarray | None = None,
    ax=None,
):
    """Predicted vs measured values with the central 90 % intervals as error bars.

    Parameters
    ----------
    y_true, mean, lo, hi : numpy.ndarray
        Measured values, predicted means and interval ends, one per row.
    label : str
        The quantity with its unit, e.g. ``"yield strength [MPa]"``.
    title : str
        Panel title; the MAE, R² and 90 % coverage are appended.
    color : str
        Colour of the points.
    in_domain : numpy.ndarray of bool, optional
        Rows inside the model's applicability domain; the others are drawn as hollow squares.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the plot.
    """
    fig, ax = axes_or_new(ax, (4.2, 4.0))
    y, m, lo, hi = (np.asarray(a, dtype=float) for a in (y_true, mean, lo, hi))
    err = np.vstack([np.maximum(m - lo, 0.0), np.maximum(hi - m, 0.0)])
    inside = np.ones(len(y), bool) if in_domain is None else np.asarray(in_domain, dtype=bool)
    style = dict(lw=0.6, alpha=0.55, ecolor="tab:gray", color=color)
    ax.errorbar(y[inside], m[inside], yerr=err[:, inside], fmt="o", ms=2.5, **style)
    if not inside.all():
        ax.errorbar(
            y[~inside], m[~inside], yerr=err[:, ~inside], fmt="s", ms=3.5, mfc="none",
            label="outside the domain", **style,
        )  # fmt: skip
        ax.legend(fontsize=7, loc="upper left")
    finite = np.concatenate([y, m])
    finite = finite[np.isfinite(finite)]
    a, b = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.05 * (b - a if b > a else 1.0)
    ax.plot([a - pad, b + pad], [a - pad, b + pad], "k--", lw=0.8)
    ax.set_xlim(a - pad, b + pad)
    ax.set_ylim(a - pad, b + pad)
    ax.set_aspect("equal")
    cover = float(np.mean((y >= lo) & (y <= hi))) if y.size else float("nan")
    mae = float(np.mean(np.abs(y - m))) if y.size else float("nan")
    prefix = f"{safe_text(title)}: " if title else ""
    ax.set_title(f"{prefix}MAE {mae:.3g}, R² {r2_score(y, m):.3f}, cov90 {cover:.2f}", fontsize=8)
    ax.set_xlabel(safe_text(f"measured {label}"), fontsize=8)
    ax.set_ylabel(safe_text(f"predicted {label}"), fontsize=8)
    ax.tick_params(labelsize=7)
    return fig


def calibration_plot(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    title: str = "",
    ax=None,
):
    """Observed vs nominal coverage of Gaussian central intervals, one line per model.

    Parameters
    ----------
    curves : mapping
        Model name -> ``(y_true, mean, std)`` arrays.
    title : str
        Panel title (e.g. the target).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the plot. Points below the diagonal are over-confident.
    """
    fig, ax = axes_or_new(ax, (4.4, 4.2))
    for i, (name, arrays) in enumerate(curves.items()):
        y, m, s = (np.asarray(v, dtype=float) for v in arrays)
        ok = np.isfinite(y) & np.isfinite(m) & np.isfinite(s) & (s > 0)
        observed = (
            central_coverage(y[ok], m[ok], s[ok], NOMINAL_LEVELS)
            if ok.any()
            else np.full(NOMINAL_LEVELS.size, np.nan)
        )
        color = model_color(name, i)
        ax.plot(NOMINAL_LEVELS, observed, "o-", ms=3, color=color, label=safe_text(name))
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="ideal")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal central-interval probability [–]", fontsize=8)
    ax.set_ylabel("observed share inside [–]", fontsize=8)
    if title:
        ax.set_title(safe_text(title), fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.tick_params(labelsize=7)
    return fig


def _interval(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The 90 % interval ends of a long prediction table (``q05/q95``, ``lo/hi`` or Gaussian)."""
    for a, b in (("q05", "q95"), ("lo", "hi")):
        if a in part.columns and b in part.columns:
            return part[a].to_numpy(float), part[b].to_numpy(float)
    half = 1.6448536269514722 * part["std"].to_numpy(float)
    mean = part["mean"].to_numpy(float)
    return mean - half, mean + half


def _grid(n: int, columns: int, size: tuple[float, float]):
    cols = max(1, min(columns, n))
    rows = int(np.ceil(n / cols))
    fig, axes = pyplot().subplots(
        rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)[:n]


def parity_grid(
    oof: pd.DataFrame,
    *,
    target: str | None = None,
    model: str | None = None,
    labels: Mapping[str, str] | None = None,
    columns: int = 3,
):
    """Parity plots from a long prediction table: one panel per model, or one per target.

    Parameters
    ----------
    oof : pandas.DataFrame
        Columns ``model, target, y_true, mean`` and ``q05``/``q95`` (or ``lo``/``hi``, or
        ``std`` for a Gaussian interval); ``in_domain`` when present marks the rows outside the
        domain.
    target : str, optional
        Draw every model's predictions of this target (one panel per model).
    model : str, optional
        Draw this model's predictions of every target (one panel per target). Give exactly one
        of ``target`` and ``model``.
    labels : mapping, optional
        Target name -> axis label with unit; the name itself otherwise.
    columns : int
        Panels per row.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The grid of parity plots.
    """
    if (target is None) == (model is None):
        raise ValueError("give exactly one of target= and model=")
    labels = dict(labels or {})
    key, value = ("target", target) if target is not None else ("model", model)
    part = oof[oof[key] == value]
    panel_col = "model" if target is not None else "target"
    panels = list(dict.fromkeys(part[panel_col]))
    fig, axes = _grid(max(len(panels), 1), columns, (3.6, 3.5))
    for i, (ax, name) in enumerate(zip(axes, panels, strict=False)):
        d = part[part[panel_col] == name]
        lo, hi = _interval(d)
        tgt = target if target is not None else name
        parity_plot(
            d["y_true"], d["mean"], lo, hi,
            label=labels.get(tgt, f"{tgt} [as in the table]"),
            title=str(name),
            color=model_color(model if model is not None else name, i),
            in_domain=d["in_domain"].to_numpy(bool) if "in_domain" in d.columns else None,
            ax=ax,
        )  # fmt: skip
    fig.tight_layout()
    return fig


def calibration_grid(oof: pd.DataFrame, *, targets: Sequence[str] | None = None, columns: int = 3):
    """Calibration curves from a long prediction table: one panel per target, a line per model.

    Parameters
    ----------
    oof : pandas.DataFrame
        Columns ``model, target, y_true, mean, std``.
    targets : sequence of str, optional
        Targets to draw (default: all, in table order).
    columns : int
        Panels per row.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The grid of calibration plots.
    """
    names = list(targets) if targets is not None else list(dict.fromkeys(oof["target"]))
    fig, axes = _grid(max(len(names), 1), columns, (3.6, 3.5))
    for ax, target in zip(axes, names, strict=False):
        part = oof[oof["target"] == target]
        curves = {
            m: (g["y_true"], g["mean"], g["std"]) for m, g in part.groupby("model", sort=False)
        }
        calibration_plot(curves, title=str(target), ax=ax)
    fig.tight_layout()
    return fig


def write_figures(
    oof: pd.DataFrame, out_dir: str | Path, labels: Mapping[str, str] | None = None, dpi: int = 120
) -> list[dict[str, Any]]:
    """Save ``parity_<target>.png`` and ``calibration_<target>.png`` for every target.

    Parameters
    ----------
    oof : pandas.DataFrame
        Long table of out-of-fold predictions (see :func:`parity_grid`).
    out_dir : str or pathlib.Path
        Directory to write into (created if missing).
    labels : mapping, optional
        Target name -> axis label with unit, e.g. ``{"ys": "yield strength [MPa]"}``.
    dpi : int
        Resolution of the PNG files.

    Returns
    -------
    written : list of dict
        ``{"kind": "parity"|"calibration", "target", "path", "caption"}`` per file.
    """
    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = dict(labels or {})
    written: list[dict[str, Any]] = []
    for target in dict.fromkeys(oof["target"]):
        label = labels.get(target, target)
        drawings = (
            ("parity", parity_grid(oof, target=target, labels=labels),
             f"Out-of-fold predicted vs measured {label}; bars are each model's central 90 % "
             "predictive interval, the dashed line is perfect prediction; hollow squares are rows "
             "outside the model's applicability domain."),
            ("calibration", calibration_grid(oof, targets=[target]),
             f"Calibration for {label}: share of out-of-fold measurements inside the Gaussian "
             "(mean, std) central interval vs its nominal probability; points above the "
             "diagonal are under-confident, below it over-confident."),
        )  # fmt: skip
        for kind, fig, caption in drawings:
            path = out / f"{kind}_{slug(target)}.png"
            literal_labels(fig).savefig(path, dpi=dpi)  # column names never reach mathtext
            plt.close(fig)
            written.append({"kind": kind, "target": target, "path": str(path), "caption": caption})
    return written
