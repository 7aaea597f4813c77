"""``psplab phasemap fit | predict | suggest``: the SAGE phase-map model from a TOML config."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from psplab.errors import ConfigError

INFERENCE_KEYS = {
    "num_warmup": int,
    "num_samples": int,
    "num_chains": int,
    "seed": int,
    "svi_steps": int,
    "max_inducing": int,
    "max_tree_depth": int,
    "target_accept_prob": float,
}


def _fail(lines: list[str]) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in lines:
        err.print(line, markup=False)
    raise typer.Exit(code=2)


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a phase-map config; returns the data sources and model parameters.

    Raises :class:`ConfigError` with one line per problem.
    """
    import numpy as np
    import pandas as pd

    from psplab.models.sage import PropertySource, StructureSource

    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"{path}: no such config file"])
    try:
        cfg = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from exc
    problems: list[str] = []
    base = path.parent
    regions = cfg.get("regions")
    if not isinstance(regions, int) or regions < 2:
        problems.append(f"{path}: 'regions' must be an integer >= 2, got {regions!r}")
    kernel = cfg.get("kernel", "rbf")
    if kernel not in ("rbf", "matern52"):
        problems.append(f"{path}: 'kernel' must be 'rbf' or 'matern52', got {kernel!r}")
    phase_model = cfg.get("phase_model", "gp")
    if phase_model not in ("gp", "changepoint"):
        problems.append(f"{path}: 'phase_model' must be 'gp' or 'changepoint', got {phase_model!r}")
    inference = cfg.get("inference", {})
    params: dict[str, Any] = {
        "n_regions": regions,
        "kernel": kernel,
        "phase_model": phase_model,
    }
    for key in ("icm", "shared_trend", "region_noise"):
        value = cfg.get(key, False)
        if not isinstance(value, bool):
            problems.append(f"{path}: {key!r} must be true or false, got {value!r}")
        params[key] = value is True
    if params["shared_trend"] and phase_model == "changepoint":
        problems.append(f"{path}: 'shared_trend' needs phase_model = 'gp'")
    for key, value in inference.items():
        if key not in INFERENCE_KEYS:
            problems.append(
                f"{path}: [inference] unknown key {key!r} (known: {', '.join(INFERENCE_KEYS)})"
            )
            continue
        try:
            params[key] = INFERENCE_KEYS[key](value)
        except (TypeError, ValueError):
            problems.append(f"{path}: [inference] {key} must be a number, got {value!r}")

    coords: list[str] | None = None

    def read_table(block: dict, where: str, key: str = "source"):
        nonlocal coords
        if key not in block:
            problems.append(f"{path}: {where}: missing '{key}'")
            return None
        src = base / block[key]
        if not src.is_file():
            problems.append(f"{path}: {where}: file {src} not found")
            return None
        try:
            return pd.read_csv(src)
        except Exception as exc:  # a malformed CSV: report, do not crash
            problems.append(f"{path}: {where}: cannot read {src}: {exc}")
            return None

    def get_coords(block: dict, df, where: str):
        nonlocal coords
        c = block.get("coords")
        if not isinstance(c, list) or not c:
            problems.append(f"{path}: {where}: 'coords' must be a non-empty list of column names")
            return None
        missing = [name for name in c if name not in df.columns]
        if missing:
            problems.append(f"{path}: {where}: columns {missing} not in {block['source']}")
            return None
        if coords is None:
            coords = list(c)
        elif list(c) != coords:
            problems.append(f"{path}: {where}: coords {c} differ from the first source's {coords}")
            return None
        X = df[c].to_numpy(dtype=float)
        if not np.all(np.isfinite(X)):
            problems.append(f"{path}: {where}: coordinates contain missing or non-numeric values")
            return None
        return X

    structure, properties = [], []
    blocks = cfg.get("structure", [])
    prop_blocks = cfg.get("property", [])
    if not blocks and not prop_blocks:
        problems.append(f"{path}: no [[structure]] or [[property]] blocks")
    for i, block in enumerate(blocks):
        where = f"[[structure]] #{i + 1}"
        df = read_table(block, where)
        if df is None:
            continue
        X = get_coords(block, df, where)
        if X is None:
            continue
        name = block.get("name", f"structure{i}")
        if "label" in block:
            if block["label"] not in df.columns:
                problems.append(
                    f"{path}: {where}: label column {block['label']!r} not in {block['source']}"
                )
                continue
            structure.append(StructureSource(X, labels=df[block["label"]].to_numpy(), name=name))
        elif "patterns" in block:
            pdf = read_table(block, where, key="patterns")
            if pdf is None:
                continue
            if len(pdf) != len(df):
                problems.append(f"{path}: {where}: {len(pdf)} patterns but {len(df)} points")
                continue
            method = block.get("cluster", "nmf")
            if method not in ("nmf", "agglomerative", "spectral"):
                problems.append(f"{path}: {where}: cluster must be nmf, agglomerative or spectral")
                continue
            structure.append(
                StructureSource(X, patterns=pdf.to_numpy(dtype=float), name=name, cluster=method)
            )
        else:
            problems.append(f"{path}: {where}: give 'label' (a column) or 'patterns' (a CSV)")
    for i, block in enumerate(prop_blocks):
        where = f"[[property]] #{i + 1}"
        df = read_table(block, where)
        if df is None:
            continue
        X = get_coords(block, df, where)
        if X is None:
            continue
        value = block.get("value")
        if value not in df.columns:
            problems.append(f"{path}: {where}: value column {value!r} not in {block['source']}")
            continue
        y = df[value].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):
            problems.append(f"{path}: {where}: column {value!r} has missing values")
            continue
        prop = block.get("property", value)
        properties.append(PropertySource(X, y, prop=prop, name=block.get("name", f"{prop}{i}")))
    if problems:
        raise ConfigError(problems)
    return {"params": params, "structure": structure, "property": properties, "coords": coords}


def fit_command(
    config: Path = typer.Argument(..., help="Phase-map config (TOML)."),
    out: Path = typer.Option(..., "--out", help="Run directory to write."),
    cv: int = typer.Option(
        0,
        "--cv",
        help="Also refit K times on K-fold splits of the property readings and compare the "
        "held-out predictions with a plain GP's (cv.csv); 0: skip.",
    ),
) -> None:
    """Fit the SAGE phase-map model; write the model, figures and manifest.json to OUT."""
    import warnings

    import numpy as np

    from psplab.manifest import dump_json, write_manifest
    from psplab.models.sage import PhaseMapModel, SamplingWarning
    from psplab.models.sage_plots import plot_phase_map

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _fail(exc.problems)
    if cv:
        # Checked before the fit, which may take minutes.
        n_readings = sum(len(p.y) for p in cfg["property"])
        if not cfg["property"]:
            _fail([f"{config}: --cv needs property readings ([[property]] blocks)"])
        if not 2 <= cv <= n_readings:
            _fail(
                [f"--cv must be 0 (skip) or in [2, {n_readings}] (the property readings), got {cv}"]
            )
    out.mkdir(parents=True, exist_ok=True)
    console = Console(highlight=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SamplingWarning)
        try:
            model = PhaseMapModel(**cfg["params"]).fit(cfg["structure"], cfg["property"])
        except ValueError as exc:
            _fail([f"{config}: {exc}"])
    for w in caught:
        if issubclass(w.category, SamplingWarning):
            console.print(f"[yellow]warning:[/] {w.message}")
    model_path = model.save(out / "model")
    coords = cfg["coords"]
    dump_json(out / "config.json", {"coords": coords, "params": cfg["params"]})
    X_data = np.concatenate([s.X for s in cfg["structure"]] + [p.X for p in cfg["property"]])
    figures = plot_phase_map(model, out, coords, data_points=X_data)
    ternary = model.n_dim_ == 3 and np.allclose(
        X_data.sum(axis=1), X_data.sum(axis=1).mean(), rtol=0.02
    )
    if ternary:
        figures += plot_phase_map(model, out, coords, data_points=X_data, ternary=True)
    results: dict[str, Any] = {
        "diagnostics": model.diagnostics_,
        "fit_seconds": model.fit_seconds_,
        "regions": [str(c) for c in model.classes_],
        "properties": model.property_names_,
    }
    files: dict[str, Any] = {
        "model": [model_path, model_path.with_suffix(".npz")],
        "config": "config.json",
        "figures": figures,
    }
    check = None
    if cv:
        check = _cv_check(cfg, cv, console)
        check.frame.rename(columns={f"x{j}": c for j, c in enumerate(coords)}).to_csv(
            out / "cv.csv", index=False
        )
        results["cv"] = {"folds": cv, "summary": check.summary().to_dict(orient="records")}
        files["cv"] = "cv.csv"
    write_manifest(
        out,
        "phasemap",
        files=files,
        results=results,
        params={**cfg["params"], "config": str(config)},
    )
    d = model.diagnostics_
    console.print(
        f"[bold]phase map[/]: {len(model.classes_)} regions, properties {model.property_names_}, "
        f"fit {model.fit_seconds_:.1f} s, R-hat max {d['rhat_max']:.3f}, ESS min {d['ess_min']:.0f}, "
        f"{d['divergences']} divergences -> {out}"
    )
    if check is not None:
        _print_check(console, check)


def _cv_check(cfg: dict[str, Any], folds: int, console: Console):
    """K-fold refits of the configured model against a plain GP (psplab.models.sage_check)."""
    from rich.progress import Progress

    from psplab.models.sage_check import check_phase_map

    params = cfg["params"]
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"{folds}-fold check (SAGE refits)", total=folds)
        try:
            return check_phase_map(
                params,
                cfg["structure"],
                cfg["property"],
                n_folds=folds,
                seed=int(params.get("seed", 0)),
                progress=lambda done, _: bar.update(task, completed=done),
            )
        except ValueError as exc:
            _fail([f"--cv {folds}: {exc}"])


def _print_check(console: Console, check: Any) -> None:
    summary = check.summary()
    table = Table(
        "property", "n", "R² SAGE", "R² GP", "cov90 SAGE", "cov90 GP", "NLL SAGE", "NLL GP",
        title=f"{check.n_folds}-fold check of the property predictions (SAGE vs a plain GP)",
    )  # fmt: skip
    for _, r in summary.iterrows():
        table.add_row(
            str(r["property"]),
            str(int(r["n"])),
            f"{r['sage_r2']:.3f}",
            f"{r['gp_r2']:.3f}",
            f"{r['sage_coverage90']:.2f}",
            f"{r['gp_coverage90']:.2f}",
            f"{r['sage_nll']:.3f}",
            f"{r['gp_nll']:.3f}",
        )
    console.print(table)
    for name in check.gp_is_better():
        console.print(
            f"[yellow]warning:[/] {name}: one smooth GP predicts held-out readings better than "
            "the piecewise model: the property may not change where the structure regions do; "
            "prefer the plain GP for its values, or look at where the two disagree (cv.csv)"
        )


def _load_run(run_dir: Path):
    from psplab.models.sage import PhaseMapModel

    if not (run_dir / "model.json").is_file():
        _fail([f"{run_dir}: no model.json (not a 'psplab phasemap fit' directory)"])
    model = PhaseMapModel.load(run_dir / "model")
    coords = json.loads((run_dir / "config.json").read_text())["coords"]
    return model, coords


def _read_points(csv: Path, coords: list[str]):
    import numpy as np
    import pandas as pd

    if not csv.is_file():
        _fail([f"{csv}: no such file"])
    df = pd.read_csv(csv)
    missing = [c for c in coords if c not in df.columns]
    if missing:
        _fail([f"{csv}: missing coordinate columns {missing}"])
    X = df[coords].to_numpy(dtype=float)
    if not np.all(np.isfinite(X)):
        _fail([f"{csv}: coordinate columns contain missing or non-numeric values"])
    return df, X


def predict_command(
    run_dir: Path = typer.Argument(..., help="Directory written by 'psplab phasemap fit'."),
    grid: Path = typer.Argument(..., help="CSV of query points (the config's coords columns)."),
    out: Path = typer.Option(..., "--out", help="CSV to write."),
) -> None:
    """Phase probabilities, entropy, label and property mean/std at each query point."""
    model, coords = _load_run(run_dir)
    _, X = _read_points(grid, coords)
    frame = model.predict(X).to_frame(X, coords)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    Console(highlight=False).print(f"{len(frame)} points -> {out}")


def suggest_command(
    run_dir: Path = typer.Argument(..., help="Directory written by 'psplab phasemap fit'."),
    candidates: Path = typer.Argument(..., help="CSV of candidate points."),
    n: int = typer.Option(4, "--n", help="Batch size."),
    kind: str = typer.Option("combined", "--kind", help="entropy | property_std | combined"),
    out: Path | None = typer.Option(None, "--out", help="CSV for the suggestions."),
) -> None:
    """Suggest the next N measurements (diverse batch) from a candidate set."""
    from psplab.models.sage_acquire import ACQUISITIONS, suggest_batch

    if kind not in ACQUISITIONS:
        _fail([f"--kind must be one of {', '.join(ACQUISITIONS)}, got {kind!r}"])
    if n < 1:
        _fail([f"--n must be >= 1, got {n}"])
    model, coords = _load_run(run_dir)
    df, X = _read_points(candidates, coords)
    idx, scores = suggest_batch(model, X, n=n, kind=kind)
    chosen = df.iloc[idx].copy()
    chosen.insert(0, "candidate_index", idx)
    chosen["score"] = scores
    table = Table("candidate", *coords, "score")
    for _, row in chosen.iterrows():
        table.add_row(
            str(int(row["candidate_index"])),
            *[f"{row[c]:.4g}" for c in coords],
            f"{row['score']:.3f}",
        )
    Console(highlight=False).print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        chosen.to_csv(out, index=False)


def register(app: typer.Typer) -> None:
    phasemap = typer.Typer(
        help="SAGE: joint Bayesian phase map + property model.", no_args_is_help=True
    )
    phasemap.command("fit")(fit_command)
    phasemap.command("predict")(predict_command)
    phasemap.command("suggest")(suggest_command)
    app.add_typer(phasemap, name="phasemap")
