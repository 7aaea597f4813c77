"""``psplab fit``, ``psplab predict`` and ``psplab evaluate``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

FIT_INFO = "fit.json"


def _fail(source: Path | str, problems) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for problem in problems:
        err.print(f"{source}: {problem}", markup=False)
    raise typer.Exit(code=2)


def _load(spec: Path):
    from psplab.data.dataset import validate

    dataset, problems = validate(spec)
    if problems:
        _fail(spec, problems)
    return dataset


def _parse_params(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            _fail("--param", [f"expected NAME=VALUE, got {item!r}"])
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _labels(dataset) -> dict[str, str]:
    return {c.name: c.label() for c in dataset.spec.targets}


def fit_command(
    spec: Path = typer.Argument(..., help="Dataset spec (TOML)."),
    model: str = typer.Option("bhn", "--model", "-m", help="bhn, gp, ensemble, dropout or rf."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
    seed: int = typer.Option(0, "--seed", help="Seed of the model."),
    param: list[str] = typer.Option(
        None, "--param", help="Model parameter NAME=VALUE (repeatable)."
    ),
) -> None:
    """Fit a model on every target of a dataset; save model, encoder, spec copy and manifest."""
    import numpy as np

    from psplab.data.dataset import InputEncoder
    from psplab.manifest import write_manifest
    from psplab.models import make_model
    from psplab.models.evaluation import _target_groups

    dataset = _load(spec)
    params = _parse_params(param)
    params.setdefault("seed", seed)
    try:
        make_model(model, **params)
    except (ValueError, TypeError) as exc:
        _fail("--model", [str(exc)])
    targets = dataset.target_names
    if not targets:
        _fail(spec, ["the spec has no numeric structure or property column to predict"])
    encoder = InputEncoder.from_dataset(dataset)
    X = encoder.transform(dataset.inputs())
    Y = dataset.target_matrix(targets)
    out.mkdir(parents=True, exist_ok=True)
    parts, files = [], []
    console = Console(highlight=False)
    for i, cols in enumerate(_target_groups(Y)):
        keep = ~np.isnan(Y[:, cols[0]])
        names = [targets[j] for j in cols]
        with console.status(f"fitting {model} on {', '.join(names)} ({int(keep.sum())} rows)"):
            fitted = make_model(model, **params).fit(X[keep], Y[np.ix_(keep, cols)])
        base = out / f"model_{i}"
        fitted.save(base)
        files += [base.with_suffix(".npz"), base.with_suffix(".json")]
        parts.append({"file": base.name, "targets": names, "rows": int(keep.sum())})
    (out / "encoder.json").write_text(json.dumps(encoder.to_dict(), indent=2))
    dataset.spec.to_toml(out / "spec.toml")
    info = {"model": model, "params": params, "targets": targets, "parts": parts}
    (out / FIT_INFO).write_text(json.dumps(info, indent=2))
    write_manifest(
        out,
        "fit",
        files={
            "models": files,
            "encoder": out / "encoder.json",
            "spec": out / "spec.toml",
            "fit": out / FIT_INFO,
        },
        params={"model": model, "spec": str(spec), **params},
        results={"targets": targets, "rows": dataset.n_rows},
    )
    console.print(
        f"fitted [bold]{model}[/] on {dataset.n_rows} rows, targets {', '.join(targets)} -> {out}"
    )


def predict_command(
    run_dir: Path = typer.Argument(..., help="Directory written by `psplab fit`."),
    input_csv: Path = typer.Argument(..., help="CSV (or Parquet) with the processing columns."),
    out: Path = typer.Option(..., "--out", "-o", help="Prediction CSV to write."),
) -> None:
    """Predict mean, std and the 5%/95% quantiles of every target for new recipes."""
    import numpy as np

    from psplab.data.dataset import InputEncoder, read_table, validate_frame
    from psplab.data.spec import DatasetSpec, Problem, SpecError
    from psplab.models.base import load_model

    info_path = run_dir / FIT_INFO
    if not info_path.is_file():
        _fail(run_dir, [f"no {FIT_INFO}: not a `psplab fit` run directory"])
    info = json.loads(info_path.read_text())
    spec = DatasetSpec.from_toml(run_dir / "spec.toml")
    encoder = InputEncoder.from_dict(json.loads((run_dir / "encoder.json").read_text()))
    try:
        frame = read_table(input_csv)
    except SpecError as exc:
        _fail(input_csv, exc.problems)
    inputs = spec.processing
    missing = [
        Problem("input column missing from the file", column=c.name)
        for c in inputs
        if c.name not in frame.columns
    ]
    if missing:
        _fail(input_csv, missing)
    # Check the inputs exactly as `psplab validate` does; other columns pass through untouched.
    input_spec = replace(spec, columns=tuple(inputs), id=None, source=input_csv)
    typed, problems = validate_frame(input_spec, frame[[c.name for c in inputs]])
    if problems:
        _fail(input_csv, problems)
    try:
        X = encoder.transform(typed)
    except SpecError as exc:
        _fail(input_csv, exc.problems)
    result = frame.copy()
    for part in info["parts"]:
        model = load_model(run_dir / part["file"])
        mean, std = model.predict_dist(X)
        q = model.predict_quantiles(X, [0.05, 0.95])
        mean, std = np.atleast_2d(mean.T).T, np.atleast_2d(std.T).T
        q05, q95 = np.atleast_2d(q[0].T).T, np.atleast_2d(q[1].T).T
        for c, name in enumerate(part["targets"]):
            result[f"{name}_mean"] = mean[:, c]
            result[f"{name}_std"] = std[:, c]
            result[f"{name}_q05"] = q05[:, c]
            result[f"{name}_q95"] = q95[:, c]
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(out, index=False)
    Console(highlight=False).print(
        f"predicted {len(result)} rows x {len(info['targets'])} targets -> {out}"
    )


def evaluate_command(
    spec: Path = typer.Argument(..., help="Dataset spec (TOML)."),
    models: str = typer.Option(
        "bhn,gp,ensemble,dropout,rf", "--models", help="Comma-separated model names."
    ),
    cv: int = typer.Option(10, "--cv", help="Number of folds."),
    group: str = typer.Option(None, "--group", help="Column whose groups stay within one fold."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and the models."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory for figures and manifest."),
    json_out: Path = typer.Option(
        None, "--json", help="Write the metrics JSON here (default OUT/metrics.json)."
    ),
    param: list[str] = typer.Option(
        None, "--param", help="Model parameter MODEL.NAME=VALUE, e.g. bhn.epochs=3000 (repeatable)."
    ),
) -> None:
    """Cross-validate several models on the same folds: table, metrics JSON, parity/calibration plots."""
    from psplab.manifest import dump_json, write_manifest
    from psplab.models import make_model
    from psplab.models.evaluation import cross_validate
    from psplab.models.plots import write_figures

    dataset = _load(spec)
    names = [m.strip() for m in models.split(",") if m.strip()]
    for name in names:
        try:
            make_model(name)
        except ValueError as exc:
            _fail("--models", [str(exc)])
    model_params: dict[str, dict[str, Any]] = {}
    for key, value in _parse_params(param).items():
        name, dot, pname = key.partition(".")
        if not dot or name not in names or not pname:
            _fail("--param", [f"expected MODEL.NAME=VALUE with MODEL in --models, got {key!r}"])
        model_params.setdefault(name, {})[pname] = value
    for name, kwargs in model_params.items():
        try:
            make_model(name, **kwargs)
        except (ValueError, TypeError) as exc:
            _fail("--param", [str(exc)])
    if group is not None:
        # Any column may define the groups (a `group` role column, or e.g. a heat number input).
        if group not in dataset.frame.columns:
            _fail(spec, [f"--group {group!r} is not a column of the spec"])
    try:
        metrics, oof = cross_validate(
            dataset, names, cv=cv, seed=seed, group=group, model_params=model_params
        )
    except ValueError as exc:
        _fail(spec, [str(exc)])
    out.mkdir(parents=True, exist_ok=True)
    json_path = json_out if json_out is not None else out / "metrics.json"
    dump_json(json_path, metrics)
    oof_path = out / "oof_predictions.csv"
    oof.to_csv(oof_path, index=False)
    figures = write_figures(oof, out, labels=_labels(dataset))
    dump_json(out / "figures.json", figures)
    write_manifest(
        out,
        "evaluate",
        files={
            "metrics": json_path,
            "oof_predictions": oof_path,
            "figures": [f["path"] for f in figures],
            "captions": out / "figures.json",
        },
        params={
            "spec": str(spec),
            "models": names,
            "cv": cv,
            "group": group,
            "seed": seed,
            "model_params": model_params,
        },
        results={"metrics": metrics},
    )
    console = Console(highlight=False)
    table = Table(
        "model",
        "target",
        "MAE",
        "RMSE",
        "R²",
        "NLL",
        "CRPS",
        "cov90",
        "width90",
        "fit s",
        title=dataset.spec.name,
    )
    for name, per_target in metrics.items():
        for target, m in per_target.items():
            table.add_row(
                name,
                target,
                f"{m['mae']:.4g}",
                f"{m['rmse']:.4g}",
                f"{m['r2']:.3f}",
                f"{m['nll']:.3f}",
                f"{m['crps']:.4g}",
                f"{m['coverage90']:.2f}",
                f"{m['width90']:.4g}",
                f"{m['fit_seconds']:.2f}",
            )
    console.print(table)
    console.print(f"metrics -> {json_path}; figures and manifest -> {out}")


def register(app: typer.Typer) -> None:
    app.command("fit")(fit_command)
    app.command("predict")(predict_command)
    app.command("evaluate")(evaluate_command)
