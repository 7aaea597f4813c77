"""The report section of a ``psplab evaluate`` run: parity, calibration and the metrics table."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from psplab.plotting import safe_text
from psplab.report.figures import render
from psplab.report.html import Section, Table
from psplab.report.runs import LeftOut, Run, label, read_table

__all__ = ["metrics_table", "normalize_predictions", "predictions_section"]

METRIC_COLUMNS = (
    ("mae", "MAE", "min"),
    ("rmse", "RMSE", "min"),
    ("r2", "R²", "max"),
    ("nll", "NLL", "min"),
    ("crps", "CRPS", "min"),
    ("coverage90", "cov. 90%", "cov"),
    ("width90", "width 90%", "min"),
    ("fit_seconds", "fit [s]", None),
)
Z90 = 1.6448536269514722  # half-width of a central 90 % Gaussian interval, in std


def normalize_predictions(frame: pd.DataFrame) -> pd.DataFrame:
    """Out-of-fold predictions in long form: ``model, target, y_true, mean, std, lo, hi``.

    Parameters
    ----------
    frame : DataFrame
        The long form (``model``, ``target``, ``y_true``, ``mean``, ``std``, optional ``q05``/
        ``q95``) or a wide form with ``<target>_true``, ``<target>_mean``, ``<target>_std``.

    Returns
    -------
    DataFrame
        Long form; ``lo``/``hi`` from ``q05``/``q95``, else the Gaussian 90 % interval.

    Raises
    ------
    LeftOut
        Neither form.
    """
    f = frame.copy()
    if {"model", "target"} <= set(f.columns):
        rename = {"y": "y_true", "true": "y_true", "pred_mean": "mean", "pred_std": "std"}
        f = f.rename(columns={k: v for k, v in rename.items() if k in f.columns})
    else:
        f = _long_from_wide(f)
    if "std" not in f.columns:
        f["std"] = np.nan
    if "q05" in f.columns and "q95" in f.columns:
        f["lo"], f["hi"] = f["q05"], f["q95"]
    else:
        f["lo"], f["hi"] = f["mean"] - Z90 * f["std"], f["mean"] + Z90 * f["std"]
    return f


def _long_from_wide(f: pd.DataFrame) -> pd.DataFrame:
    parts = []
    targets = sorted({c[: -len("_mean")] for c in f.columns if c.endswith("_mean")})
    for t in targets:
        true_col = next((c for c in (f"{t}_true", t) if c in f.columns), None)
        if true_col is None:
            continue
        part = pd.DataFrame(
            {
                "model": f["model"] if "model" in f.columns else "model",
                "target": t,
                "y_true": f[true_col],
                "mean": f[f"{t}_mean"],
                "std": f.get(f"{t}_std", np.nan),
            }
        )
        for q in ("q05", "q95"):
            if f"{t}_{q}" in f.columns:
                part[q] = f[f"{t}_{q}"]
        parts.append(part)
    if not parts:
        raise LeftOut("its predictions table has neither model/target nor <target>_mean columns")
    return pd.concat(parts, ignore_index=True)


def _metrics_of(run: Run) -> dict[str, Any] | None:
    p = run.file("metrics")
    if p is not None and p.suffix == ".json":
        try:
            m = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            m = None
    else:
        m = run.results.get("metrics")
    return m if isinstance(m, dict) and m else None


def predictions_section(run: Run, units: dict[str, str]) -> Section:
    """Parity plots, calibration curves and the metrics table of one evaluation run.

    Parameters
    ----------
    run : Run
        A ``psplab evaluate`` run (out-of-fold predictions and/or metrics).
    units : dict
        Target units, for the parity axes.

    Returns
    -------
    Section
        Two parity grids, the calibration grid and the metrics table (what the run has).

    Raises
    ------
    LeftOut
        Without predictions and metrics.
    """
    pred_path = run.file("oof_predictions", "oof", "predictions")
    metrics = _metrics_of(run)
    if pred_path is None and metrics is None:
        raise LeftOut("no out-of-fold predictions and no metrics")
    folds = run.params.get("cv") or run.params.get("demo", {}).get("cv", "?")
    sec = Section(
        "predictions",
        "Predictions with uncertainty",
        f"Out-of-fold predictions of every model on the same cross-validation folds ({folds} "
        f"folds, from {run.name}). Intervals are central 90% predictive intervals.",
    )
    if pred_path is not None:
        _add_prediction_figures(sec, normalize_predictions(read_table(pred_path)), units)
    if metrics:
        sec.add(metrics_table(metrics))
    return sec


def _add_prediction_figures(sec: Section, pred: pd.DataFrame, units: dict[str, str]) -> None:
    from psplab.models.plots import calibration_grid, parity_grid

    models = list(dict.fromkeys(pred["model"]))
    targets = list(dict.fromkeys(pred["target"]))
    labels = {t: safe_text(label(t, units)) for t in targets}  # drawn literally by render
    primary = next((t for t in targets if "strength" in t.lower()), targets[-1])
    sec.add(
        render(
            parity_grid(pred, target=primary, labels=labels),
            f"Parity plots of {primary} for each model: out-of-fold prediction against the true "
            "value, with 90% predictive intervals as error bars; the dashed line is y = x. The "
            "panel title gives the MAE, R² and the share of true values inside the interval.",
            alt="parity plots",
        )
    )
    lead = "bhn" if "bhn" in models else models[0]
    sec.add(
        render(
            parity_grid(pred, model=lead, labels=labels),
            f"Parity plots of every target for the {lead} model (out of fold, 90% intervals, "
            "dashed y = x).",
            alt="parity plots",
        )
    )
    if pred["std"].notna().any():
        sec.add(
            render(
                calibration_grid(pred),
                "Calibration: for central intervals of nominal coverage p (Gaussian with the "
                "predicted mean and std), the share of out-of-fold true values inside; a "
                "calibrated model follows the dashed diagonal, below it is over-confident.",
                alt="calibration curves",
            )
        )


def metrics_table(metrics: dict[str, Any]) -> Table:
    """Model comparison per target, the best value of each metric in bold.

    Parameters
    ----------
    metrics : dict
        ``{model: {target: {mae, rmse, r2, ...}}}``.

    Returns
    -------
    Table
        One row per (target, model).
    """
    header = ["target", "model"] + [title for _, title, _ in METRIC_COLUMNS]
    rows: list[list[Any]] = []
    highlight: set[tuple[int, int]] = set()
    for t in dict.fromkeys(t for m in metrics.values() for t in m):
        start = len(rows)
        for model, per_target in metrics.items():
            entry = per_target.get(t)
            if entry is not None:
                rows.append([t, model] + [entry.get(key) for key, _, _ in METRIC_COLUMNS])
        for j, (_key, _, best) in enumerate(METRIC_COLUMNS, start=2):
            vals = [
                (i, r[j])
                for i, r in enumerate(rows[start:], start=start)
                if isinstance(r[j], int | float) and math.isfinite(r[j])
            ]
            if vals and best is not None:
                score = {"cov": lambda v: abs(v[1] - 0.9), "min": lambda v: v[1]}.get(
                    best, lambda v: -v[1]
                )
                highlight.add((min(vals, key=score)[0], j))
    return Table(
        header,
        rows,
        caption="Model comparison on the same folds (errors, NLL and CRPS in each target's units; "
        "coverage: share inside the central 90% interval, ideal 0.90). Best per target in bold.",
        highlight=highlight,
    )
