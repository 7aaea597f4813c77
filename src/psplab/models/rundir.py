"""Run directories of ``psplab fit`` and ``psplab evaluate`` (also written by the demo).

An evaluate run holds the metrics JSON (strict: NaN is ``null``), ``oof_predictions.csv``, one
parity and one calibration figure per target (:mod:`psplab.models.plots`), their captions and
``manifest.json``; the manifest names the out-of-fold table ``oof_predictions``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["strict_json", "write_evaluation_run", "write_fit_run"]


def strict_json(obj: Any) -> Any:
    """``obj`` with NumPy scalars as Python numbers and NaN/infinity as ``None``.

    Parameters
    ----------
    obj : object
        Nested dicts, lists and numbers.

    Returns
    -------
    clean : object
        Ready for ``json.dumps(..., allow_nan=False)``.
    """
    if isinstance(obj, Mapping):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _dump(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(strict_json(obj), indent=2, allow_nan=False) + "\n")
    return path


def write_fit_run(fitted, out: str | Path, spec_path: str | Path | None = None) -> Path:
    """Save a fitted model's run directory with its manifest (what ``psplab fit`` writes).

    Parameters
    ----------
    fitted : psplab.models.pipeline.FittedModel
        What :func:`~psplab.models.pipeline.fit_dataset` returned.
    out : str or pathlib.Path
        The run directory.
    spec_path : str or pathlib.Path, optional
        The user's spec, recorded in the manifest.

    Returns
    -------
    out : pathlib.Path
        The run directory.
    """
    from psplab.manifest import write_manifest

    out = Path(out)
    files = fitted.save(out)
    rows = sum(part.rows for part in fitted.parts)
    write_manifest(
        out,
        "fit",
        files=files,
        params={
            "model": fitted.model,
            "spec": str(spec_path or ""),
            **fitted.params,
            **fitted.settings,
        },
        results={"targets": fitted.targets, "rows": rows},
    )
    return out


def write_evaluation_run(
    result,
    out: str | Path,
    json_path: str | Path | None = None,
    labels: Mapping[str, str] | None = None,
    spec_path: str | Path | None = None,
) -> dict[str, Path]:
    """Write an evaluation's metrics, out-of-fold table, figures and manifest.

    Parameters
    ----------
    result : psplab.models.evaluation.EvaluationResult
        What :func:`~psplab.models.evaluation.evaluate_dataset` returned.
    out : str or pathlib.Path
        Run directory.
    json_path : str or pathlib.Path, optional
        Where the metrics JSON goes (default ``out/metrics.json``).
    labels : mapping, optional
        Target name -> axis label with unit.
    spec_path : str or pathlib.Path, optional
        The spec the user gave (recorded in the manifest).

    Returns
    -------
    files : dict
        ``metrics``, ``oof_predictions`` and ``captions`` paths.
    """
    from psplab.manifest import write_manifest
    from psplab.models.plots import write_figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = _dump(
        Path(json_path) if json_path is not None else out / "metrics.json", result.metrics
    )
    oof_path = out / "oof_predictions.csv"
    result.oof.to_csv(oof_path, index=False)
    figures = write_figures(result.oof, out, labels=labels) if len(result.oof) else []
    captions = _dump(out / "figures.json", figures)
    write_manifest(
        out,
        "evaluate",
        files={
            "metrics": metrics_path,
            "oof_predictions": oof_path,
            "figures": [f["path"] for f in figures],
            "captions": captions,
        },
        params={"spec": str(spec_path or ""), **result.settings},
        results={"metrics": strict_json(result.metrics), "fitted": strict_json(result.fitted)},
    )
    return {"metrics": metrics_path, "oof_predictions": oof_path, "captions": captions}
