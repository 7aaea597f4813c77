"""Figures for cross-validated predictions: parity plots with 90% intervals, calibration curves.

Both take the long out-of-fold table of :func:`psplab.models.evaluation.cross_validate`
(columns ``model, target, y_true, mean, std, q05, q95``) and return a matplotlib figure;
:func:`write_figures` saves one parity and one calibration PNG per target and returns their
paths with captions (the report reuses these).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from psplab.models.metrics import central_coverage, r2_score

NOMINAL_LEVELS = np.linspace(0.05, 0.95, 19)


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def slug(name: str) -> str:
    """A file-name-safe version of a column name."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "target"


def parity_plot(
    oof: pd.DataFrame, target: str, label: str | None = None, models: Sequence[str] | None = None
):
    """Predicted vs measured for one target, one panel per model, bars = central 90% interval."""
    plt = _plt()
    part = oof[oof["target"] == target]
    models = list(models) if models is not None else list(dict.fromkeys(part["model"]))
    label = label or target
    n = len(models)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
    lo = float(np.nanmin(part[["y_true", "q05"]].to_numpy()))
    hi = float(np.nanmax(part[["y_true", "q95"]].to_numpy()))
    pad = 0.03 * (hi - lo if hi > lo else 1.0)
    for ax, model in zip(axes.flat, models, strict=False):
        d = part[part["model"] == model]
        y, m = d["y_true"].to_numpy(), d["mean"].to_numpy()
        err = np.vstack([m - d["q05"].to_numpy(), d["q95"].to_numpy() - m]).clip(min=0)
        ax.errorbar(
            y, m, yerr=err, fmt="o", ms=2.5, lw=0.6, alpha=0.55, color="tab:blue", ecolor="tab:gray"
        )
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal")
        inside = np.mean((y >= d["q05"].to_numpy()) & (y <= d["q95"].to_numpy()))
        mae = np.mean(np.abs(y - m))
        ax.set_title(
            f"{model}: MAE {mae:.3g}, R² {r2_score(y, m):.3f}, cov90 {inside:.2f}", fontsize=9
        )
        ax.set_xlabel(f"measured {label}")
        ax.set_ylabel(f"predicted {label}")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def calibration_plot(
    oof: pd.DataFrame, target: str, label: str | None = None, models: Sequence[str] | None = None
):
    """Observed vs nominal coverage of Gaussian central intervals, one line per model."""
    plt = _plt()
    part = oof[oof["target"] == target]
    models = list(models) if models is not None else list(dict.fromkeys(part["model"]))
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    for model in models:
        d = part[part["model"] == model]
        obs = central_coverage(
            d["y_true"].to_numpy(), d["mean"].to_numpy(), d["std"].to_numpy(), NOMINAL_LEVELS
        )
        ax.plot(NOMINAL_LEVELS, obs, "o-", ms=3, label=model)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="ideal")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal central-interval probability [-]")
    ax.set_ylabel("observed share of measurements inside [-]")
    ax.set_title(f"calibration: {label or target}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_figures(
    oof: pd.DataFrame, out_dir: str | Path, labels: Mapping[str, str] | None = None, dpi: int = 120
) -> list[dict[str, str]]:
    """Save ``parity_<target>.png`` and ``calibration_<target>.png`` per target.

    Returns ``[{"path": ..., "caption": ..., "kind": "parity"|"calibration", "target": ...}]``.
    ``labels`` maps target names to axis labels with units (e.g. ``"Fatigue [MPa]"``).
    """
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = dict(labels or {})
    written: list[dict[str, str]] = []
    for target in dict.fromkeys(oof["target"]):
        label = labels.get(target, target)
        fig = parity_plot(oof, target, label)
        path = out / f"parity_{slug(target)}.png"
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        written.append(
            {
                "kind": "parity",
                "target": target,
                "path": str(path),
                "caption": (
                    f"Out-of-fold predicted vs measured {label}; bars are each model's central 90% "
                    "predictive interval, the dashed line is perfect prediction."
                ),
            }
        )
        fig = calibration_plot(oof, target, label)
        path = out / f"calibration_{slug(target)}.png"
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        written.append(
            {
                "kind": "calibration",
                "target": target,
                "path": str(path),
                "caption": (
                    f"Calibration for {label}: share of out-of-fold measurements inside the Gaussian "
                    "(mean, std) central interval vs its nominal probability; points above the "
                    "diagonal are under-confident, below it over-confident."
                ),
            }
        )
    return written
