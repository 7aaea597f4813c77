"""``psplab phasemap fit | predict | suggest``: parse, call :mod:`psplab.models.phasemap.runs`, print.

Errors are :class:`psplab.errors.PsplabError` raised below; ``psplab``'s runner prints one line
per problem and exits with status 2.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import typer

from psplab._cli import out_console


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
    """Fit the phase-map model; write the model, figures and manifest.json to OUT."""
    from rich.progress import Progress

    from psplab.models.phasemap.config import load_config
    from psplab.models.phasemap.runs import check_folds, fit_run

    cfg = load_config(config)
    check_folds(cfg, cv)  # problems are reported before the progress bar and the fit
    console = out_console()
    bar = Progress(console=console, transient=True) if cv else None
    with bar or contextlib.nullcontext():
        task = bar.add_task(f"{cv}-fold check (refits)", total=cv, visible=False) if bar else 0

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, visible=True)

        run = fit_run(cfg, out, cv_folds=cv, progress=progress if bar else None)
    for message in run.warnings:
        console.print(f"[yellow]warning:[/] {message}")
    model, d = run.model, run.model.diagnostics_
    console.print(
        f"[bold]phase map[/]: {len(model.classes_)} regions, properties {model.property_names_}, "
        f"fit {model.fit_seconds_:.1f} s, R-hat max {d['rhat_max']:.3f}, ESS min {d['ess_min']:.0f}, "
        f"{d['divergences']} divergences -> {out}"
    )
    if run.check is not None:
        _print_check(console, run.check)


def _print_check(console: Any, check: Any) -> None:
    from rich.table import Table

    table = Table(
        "property", "n", "R² SAGE", "R² GP", "cov90 SAGE", "cov90 GP", "NLL SAGE", "NLL GP",
        title=f"{check.n_folds}-fold check of the property predictions (SAGE vs a plain GP)",
    )  # fmt: skip
    for r in check.summary().to_dict(orient="records"):
        table.add_row(
            str(r["property"]), str(int(r["n"])),
            *(f"{r[f'{m}_r2']:.3f}" for m in ("sage", "gp")),
            *(f"{r[f'{m}_coverage90']:.2f}" for m in ("sage", "gp")),
            *(f"{r[f'{m}_nll']:.3f}" for m in ("sage", "gp")),
        )  # fmt: skip
    console.print(table)
    for name in check.gp_is_better():
        console.print(
            f"[yellow]warning:[/] {name}: one smooth GP predicts held-out readings better than "
            "the piecewise model: the property may not change where the structure regions do; "
            "prefer the plain GP for its values, or look at where the two disagree (cv.csv)"
        )


def predict_command(
    run_dir: Path = typer.Argument(..., help="Directory written by 'psplab phasemap fit'."),
    grid: Path = typer.Argument(..., help="CSV of query points (the config's coords columns)."),
    out: Path = typer.Option(..., "--out", help="CSV to write."),
) -> None:
    """Phase probabilities, entropy, label and property mean/std at each query point."""
    from psplab.models.phasemap.runs import predict_run

    frame = predict_run(run_dir, grid)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    out_console().print(f"{len(frame)} points -> {out}")


def suggest_command(
    run_dir: Path = typer.Argument(..., help="Directory written by 'psplab phasemap fit'."),
    candidates: Path = typer.Argument(..., help="CSV of candidate points."),
    n: int = typer.Option(4, "--n", help="Batch size."),
    kind: str = typer.Option("combined", "--kind", help="entropy | property_std | combined"),
    out: Path | None = typer.Option(None, "--out", help="CSV for the suggestions."),
) -> None:
    """Suggest the next N measurements (diverse batch) from a candidate set."""
    from rich.table import Table

    from psplab.models.phasemap.runs import suggest_run

    chosen = suggest_run(run_dir, candidates, n=n, kind=kind)
    table = Table(*[str(c) for c in chosen.columns])
    for row in chosen.itertuples(index=False):
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    out_console().print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        chosen.to_csv(out, index=False)


def register(app: typer.Typer) -> None:
    """Add the ``phasemap`` command group to ``app``.

    Parameters
    ----------
    app : typer.Typer
        The ``psplab`` application.
    """
    phasemap = typer.Typer(
        help="SAGE: joint Bayesian phase map + property model.", no_args_is_help=True
    )
    phasemap.command("fit")(fit_command)
    phasemap.command("predict")(predict_command)
    phasemap.command("suggest")(suggest_command)
    app.add_typer(phasemap, name="phasemap")
