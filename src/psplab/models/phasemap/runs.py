"""Phase-map run directories: fit from a config and write a run; predict and suggest from one.

These are the pipelines under ``psplab phasemap fit | predict | suggest``; the commands only
parse options, call them and print. A run directory holds the model (``model.json`` +
``model.npz``), ``config.json`` (coordinates and parameters), the grid the figures are drawn
from (``phasemap_grid.npz``, see :mod:`psplab.models.phasemap.grid`), the figures, optionally
the K-fold check (``cv.csv``) and ``manifest.json``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psplab.errors import InputError, ModelFileError
from psplab.models.phasemap.config import PhaseMapConfig, load_config, table_points
from psplab.models.phasemap.design import plain_labels
from psplab.models.phasemap.estimator import PhaseMapModel, SamplingWarning

__all__ = [
    "PhaseMapRun",
    "check_folds",
    "fit_run",
    "load_run",
    "predict_run",
    "suggest_run",
]


@dataclass
class PhaseMapRun:
    """What :func:`fit_run` returns.

    Attributes
    ----------
    out : Path
        The run directory.
    config : PhaseMapConfig
        The checked config.
    model : PhaseMapModel
        The fitted model.
    figures : list of Path
        Figures written.
    check : PhaseMapCheck or None
        The K-fold check (``cv_folds > 0``).
    warnings : list of str
        Sampling warnings of the fit.
    """

    out: Path
    config: PhaseMapConfig
    model: PhaseMapModel
    figures: list[Path] = field(default_factory=list)
    check: Any = None
    warnings: list[str] = field(default_factory=list)


def check_folds(config: PhaseMapConfig, cv_folds: int) -> None:
    """Refuse a fold count that cannot work, before the fit (which may take minutes).

    Parameters
    ----------
    config : PhaseMapConfig
        The checked config.
    cv_folds : int
        0 (no check) or the number of folds.

    Raises
    ------
    InputError
        No property readings to split, or a count outside ``[2, readings]``.
    """
    if cv_folds == 0:
        return
    if not config.properties:
        raise InputError(f"{config.path}: --cv needs property readings ([[property]] blocks)")
    n_readings = sum(len(p.y) for p in config.properties)
    if not 2 <= cv_folds <= n_readings:
        raise InputError(
            f"--cv must be 0 (skip) or in [2, {n_readings}] (the property readings), got {cv_folds}"
        )


def _grid_points(config: PhaseMapConfig, model: PhaseMapModel) -> tuple[np.ndarray, Any]:
    """Measured points to mark on the maps, with region indices when every label is hard."""
    if config.structure and all(s.labels is not None for s in config.structure):
        lookup = {v: k for k, v in enumerate(model.classes_.tolist())}
        X = np.concatenate([s.X for s in config.structure])
        labels = np.concatenate([plain_labels(s.labels) for s in config.structure])
        return X, np.array([lookup[v] for v in labels.tolist()])
    return np.concatenate([s.X for s in config.structure] + [p.X for p in config.properties]), None


def _write_figures(
    out: Path, config: PhaseMapConfig, model: PhaseMapModel
) -> tuple[Path, list[Path]]:
    """Save the grid and draw ``phase_map.png`` (and a ternary map for 3-part compositions)."""
    from psplab.models.phasemap.grid import predict_grid
    from psplab.models.phasemap.plots import plot_phase_map
    from psplab.plotting import save_figure

    points, labels = _grid_points(config, model)
    marks = {"data_points": points, "point_labels": labels, "units": config.units}
    marks["property_units"] = config.property_units
    grid = predict_grid(model, config.coords, **marks)
    grid_path = grid.save(out / "phasemap_grid.npz")
    figures = [save_figure(plot_phase_map(grid), out / "phase_map.png", dpi=110)]
    sums = points.sum(axis=1)
    if model.n_dim_ == 3 and np.allclose(sums, sums.mean(), rtol=0.02):
        ternary = predict_grid(model, config.coords, ternary=True, **marks)
        figures.append(save_figure(plot_phase_map(ternary), out / "ternary_phase_map.png", dpi=110))
    return grid_path, figures


def fit_run(
    config: PhaseMapConfig | str | Path,
    out: str | Path,
    cv_folds: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> PhaseMapRun:
    """Fit a phase map from a config and write a run directory.

    Parameters
    ----------
    config : PhaseMapConfig, str or Path
        A checked config, or the TOML file.
    out : str or Path
        Run directory to write (created).
    cv_folds : int
        0: no check; else refit this many times on K-fold splits of the property readings and
        compare the held-out predictions with a plain GP's (``cv.csv``).
    progress : callable, optional
        Called as ``progress(done, cv_folds)`` after each fold of the check.

    Returns
    -------
    run : PhaseMapRun

    Raises
    ------
    ConfigError
        A bad config; ``InputError`` for a bad fold count or data the model refuses.
    """
    from psplab.manifest import dump_json, write_manifest

    config = config if isinstance(config, PhaseMapConfig) else load_config(config)
    check_folds(config, int(cv_folds))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SamplingWarning)
        model = config.model().fit(config.structure, config.properties)
    run = PhaseMapRun(out=out, config=config, model=model)
    run.warnings = [str(w.message) for w in caught if issubclass(w.category, SamplingWarning)]
    model_path = model.save(out / "model")
    dump_json(
        out / "config.json",
        {
            "coords": config.coords,
            "units": config.units,
            "property_units": config.property_units,
            "params": config.params,
        },  # fmt: skip
    )
    grid_path, run.figures = _write_figures(out, config, model)
    files: dict[str, Any] = {
        "model": [model_path, model_path.with_suffix(".npz")],
        "config": "config.json",
        "phasemap_grid": grid_path,
        "figures": run.figures,
    }
    d = model.diagnostics_
    results: dict[str, Any] = {
        "diagnostics": d, "fit_seconds": model.fit_seconds_, "rhat_max": d["rhat_max"],
        "num_samples": d["num_samples"] * d["num_chains"],
        "regions": [str(c) for c in model.classes_], "properties": model.property_names_,
    }  # fmt: skip
    if cv_folds:
        from psplab.models.phasemap.check import check_phase_map

        run.check = check_phase_map(
            model, config.structure, config.properties, n_folds=int(cv_folds),
            seed=int(config.params.get("seed", 0)), progress=progress,
        )  # fmt: skip
        renamed = {f"x{j}": c for j, c in enumerate(config.coords)}
        run.check.frame.rename(columns=renamed).to_csv(out / "cv.csv", index=False)
        summary = run.check.summary().to_dict(orient="records")
        results["cv"] = {"folds": int(cv_folds), "summary": summary}
        files["cv"] = "cv.csv"
    params = {**config.params, "config": str(config.path)}
    write_manifest(out, "phasemap", files=files, results=results, params=params)
    return run


def load_run(run_dir: str | Path) -> tuple[PhaseMapModel, list[str]]:
    """The model and coordinate names of a ``psplab phasemap fit`` run directory.

    Parameters
    ----------
    run_dir : str or Path
        The run directory.

    Returns
    -------
    model : PhaseMapModel
    coords : list of str

    Raises
    ------
    ModelFileError
        Not a phase-map run directory, or a damaged model.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "model.json").is_file():
        raise ModelFileError(f"{run_dir}: no model.json (not a 'psplab phasemap fit' directory)")
    model = PhaseMapModel.load(run_dir / "model")
    try:
        coords = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["coords"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{run_dir / 'config.json'}: missing or damaged ({exc})") from exc
    if not isinstance(coords, list) or len(coords) != model.n_dim_:
        raise ModelFileError(f"{run_dir / 'config.json'}: coords do not match the model")
    return model, [str(c) for c in coords]


def _read_points(csv_path: str | Path, coords: list[str]) -> tuple[Any, np.ndarray]:
    from psplab.data.tables import read_table

    table = read_table(csv_path)
    return table, table_points(table, coords, str(csv_path))


def predict_run(run_dir: str | Path, points_csv: str | Path):
    """Predictions of a run's model at the points of a CSV table.

    Parameters
    ----------
    run_dir : str or Path
        A ``psplab phasemap fit`` run directory.
    points_csv : str or Path
        CSV with the run's coordinate columns.

    Returns
    -------
    table : pandas.DataFrame
        Coordinates, ``p_<region>``, ``entropy``, ``label``, ``<prop>_mean``, ``<prop>_std``.
    """
    model, coords = load_run(run_dir)
    _, X = _read_points(points_csv, coords)
    return model.predict(X).to_frame(X, coords)


def suggest_run(
    run_dir: str | Path, candidates_csv: str | Path, n: int = 4, kind: str = "combined"
):
    """A diverse batch of the most informative candidates for the next measurements.

    Parameters
    ----------
    run_dir : str or Path
        A ``psplab phasemap fit`` run directory.
    candidates_csv : str or Path
        CSV with the run's coordinate columns (other columns are kept).
    n : int
        Batch size.
    kind : str
        ``"entropy"``, ``"property_std"`` or ``"combined"``.

    Returns
    -------
    chosen : pandas.DataFrame
        The chosen rows in the order picked, with ``candidate_index`` first and ``score`` last.
    """
    from psplab.models.phasemap.acquire import ACQUISITIONS, suggest_batch

    if kind not in ACQUISITIONS:
        raise InputError(f"--kind must be one of {', '.join(ACQUISITIONS)}, got {kind!r}")
    model, coords = load_run(run_dir)
    table, X = _read_points(candidates_csv, coords)
    idx, scores = suggest_batch(model, X, n=n, kind=kind)
    chosen = table.iloc[idx].copy()
    chosen.insert(0, "candidate_index", idx)
    chosen["score"] = scores
    return chosen
