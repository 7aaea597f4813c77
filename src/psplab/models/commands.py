"""``psplab fit``, ``psplab predict`` and ``psplab evaluate``: parse, call, print."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from psplab.errors import InputError, PsplabError

_MAX_ROWS_LISTED = 20

# Options shared by `fit` and `evaluate`.
_GROUP = typer.Option(
    None,
    "--group",
    help="Column of groups (alloy, heat, lab): held out whole; intervals for new groups.",
)
_SPEC = typer.Argument(..., help="Dataset spec (TOML).")
_FAST = typer.Option(False, "--fast", help="The models' cheap configuration.")
_CALIBRATE = typer.Option(True, "--calibrate/--no-calibrate", help="Conformal (CV+) intervals.")
# The models `evaluate` compares unless told otherwise.
_MODELS = typer.Option(
    "bhn,gp,ensemble,dropout,rf", "--models", help="Comma-separated model names."
)


def _one_line_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Print a :class:`PsplabError` as its lines and exit 2, also when called without run_app."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from psplab._cli import fail

        try:
            command(*args, **kwargs)
        except PsplabError as exc:
            fail(exc.lines)

    return wrapper


def _parse_params(items: list[str] | None, option: str = "--param") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InputError(f"{option}: expected NAME=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _model_names(models: str) -> list[str]:
    from psplab.models.registry import MODEL_NAMES

    names = [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise InputError(f"--models lists no model (give some of {', '.join(MODEL_NAMES)})")
    unknown = [m for m in names if m not in MODEL_NAMES]
    if unknown:
        raise InputError(
            [f"unknown model {m!r} (expected one of {', '.join(MODEL_NAMES)})" for m in unknown]
        )
    return names


def _per_model(params: dict[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    per: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        name, dot, pname = key.partition(".")
        if not dot or name not in names or not pname:
            raise InputError(
                f"--param: expected MODEL.NAME=VALUE with MODEL in --models, got {key!r}"
            )
        per.setdefault(name, {})[pname] = value
    return per


def _load(spec: Path):
    from psplab.data.dataset import load_dataset

    return load_dataset(spec)


def fit_command(
    spec: Path = _SPEC,
    model: str = typer.Option("bhn", "--model", "-m", help="bhn, gp, ensemble, dropout or rf."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
    seed: int = typer.Option(0, "--seed", help="Seed of the model and the calibration folds."),
    group: str = _GROUP,
    fast: bool = _FAST,
    calibrate: bool = _CALIBRATE,
    param: list[str] = typer.Option(
        None, "--param", help="Model parameter NAME=VALUE (repeatable)."
    ),
) -> None:
    """Fit a model on every target of a dataset; save models, encoder, spec copy and manifest.

    \f
    Parameters
    ----------
    spec : pathlib.Path
        Dataset spec.
    model : str
        Model name.
    out : pathlib.Path
        Run directory.
    seed : int
        Seed of the model and the calibration folds.
    group : str
        Column of group labels (calibration for new groups).
    fast : bool
        The cheap configuration.
    calibrate : bool
        Conformal calibration on or off.
    param : list of str
        ``NAME=VALUE`` model parameters.
    """
    from psplab._cli import out_console
    from psplab.models.pipeline import fit_dataset
    from psplab.models.rundir import write_fit_run

    name = _model_names(model)[0]
    dataset = _load(spec)
    fitted = fit_dataset(
        dataset, name, _parse_params(param), seed=seed, group=group, fast=fast, calibrate=calibrate
    )
    write_fit_run(fitted, out, spec)
    kind = "calibrated " if calibrate else ""
    out_console().print(
        f"fitted {kind}{name} on {dataset.n_rows} rows, targets {', '.join(fitted.targets)} -> {out}"
    )


def predict_command(
    run_dir: Path = typer.Argument(..., help="Directory written by `psplab fit`."),
    input_csv: Path = typer.Argument(..., help="CSV (or Parquet) with the processing columns."),
    out: Path = typer.Option(..., "--out", "-o", help="Prediction CSV to write."),
) -> None:
    """Predict mean, std, 90 % interval and applicability domain of every target for new rows.

    \f
    Parameters
    ----------
    run_dir : pathlib.Path
        Directory written by ``psplab fit``.
    input_csv : pathlib.Path
        Table of new rows.
    out : pathlib.Path
        Prediction CSV to write.
    """
    from psplab._cli import err_console, out_console
    from psplab.data.dataset import read_table
    from psplab.models.pipeline import load_model

    fitted = load_model(run_dir)
    result = fitted.predict_table(read_table(input_csv))
    out.parent.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(out, index=False)
    rows = result.out_of_domain_rows
    if rows:
        listed = ", ".join(str(r) for r in rows[:_MAX_ROWS_LISTED])
        more = f" and {len(rows) - _MAX_ROWS_LISTED} more" if len(rows) > _MAX_ROWS_LISTED else ""
        err_console().print(
            f"warning: {len(rows)} row(s) outside the training data's applicability domain "
            f"(rows {listed}{more}): their intervals are widened; treat them as extrapolation"
        )
    out_console().print(
        f"predicted {len(result.table)} rows x {len(fitted.targets)} targets -> {out}"
    )


def _metrics_table(metrics: dict, title: str):
    from rich.table import Table

    table = Table(title=title)
    for head in ("model", "target", "MAE", "R²", "NLL", "cov90 (raw)", "out", "cov90 in|out",
                 "MAE in|out", "fit s"):  # fmt: skip
        table.add_column(head, no_wrap=True)

    def fmt(value: float, spec: str) -> str:
        return "–" if value is None or value != value else format(value, spec)

    for name, per_target in metrics.items():
        for target, m in per_target.items():
            table.add_row(
                name, target, fmt(m["mae"], ".4g"), fmt(m["r2"], ".3f"), fmt(m["nll"], ".3f"),
                f"{fmt(m['coverage90'], '.2f')} ({fmt(m['coverage90_raw'], '.2f')})",
                str(m["n_out_of_domain"]),
                f"{fmt(m['coverage90_in_domain'], '.2f')}|{fmt(m['coverage90_out_of_domain'], '.2f')}",
                f"{fmt(m['mae_in_domain'], '.3g')}|{fmt(m['mae_out_of_domain'], '.3g')}",
                fmt(m["fit_seconds"], ".1f"),
            )  # fmt: skip
    return table


def evaluate_command(
    spec: Path = _SPEC,
    models: str = _MODELS,
    cv: int = typer.Option(10, "--cv", help="Number of folds."),
    group: str = _GROUP,
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and the models."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory for figures and manifest."),
    json_out: Path = typer.Option(
        None, "--json", help="Write the metrics JSON here (default OUT/metrics.json)."
    ),
    fast: bool = _FAST,
    calibrate: bool = _CALIBRATE,
    param: list[str] = typer.Option(
        None, "--param", help="Model parameter MODEL.NAME=VALUE, e.g. bhn.epochs=3000 (repeatable)."
    ),
) -> None:
    """Cross-validate models on the same folds: table, metrics JSON, parity/calibration plots.

    Every model sees the same training and test rows, so their scores compare directly.

    \f
    Parameters
    ----------
    spec : pathlib.Path
        Dataset spec.
    models : str
        Comma-separated model names.
    cv : int
        Number of folds.
    group : str
        Column whose groups stay within one fold.
    seed : int
        Seed of the folds and the models.
    out : pathlib.Path
        Run directory.
    json_out : pathlib.Path
        Where the metrics JSON goes.
    fast : bool
        The cheap configurations.
    calibrate : bool
        Conformal calibration on or off.
    param : list of str
        ``MODEL.NAME=VALUE`` model parameters.
    """
    from psplab._cli import out_console
    from psplab.models.evaluation import evaluate_dataset
    from psplab.models.rundir import write_evaluation_run

    names = _model_names(models)
    params = _per_model(_parse_params(param), names)
    dataset = _load(spec)
    result = evaluate_dataset(
        dataset, names, cv=cv, seed=seed, group=group, params=params, fast=fast, calibrate=calibrate
    )
    labels = {c.name: c.label() for c in dataset.spec.targets}
    files = write_evaluation_run(result, out, json_out, labels, spec)
    console = out_console()
    console.print(_metrics_table(result.metrics, dataset.spec.name))
    console.print(f"metrics -> {files['metrics']}; figures and manifest -> {out}")


def register(app: typer.Typer) -> None:
    """Add ``fit``, ``predict`` and ``evaluate`` to the ``psplab`` app.

    Parameters
    ----------
    app : typer.Typer
        The application.
    """
    app.command("fit")(_one_line_errors(fit_command))
    app.command("predict")(_one_line_errors(predict_command))
    app.command("evaluate")(_one_line_errors(evaluate_command))
