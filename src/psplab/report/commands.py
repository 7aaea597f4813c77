"""``psplab report`` and ``psplab demo``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console


def report_command(
    run_dir: list[Path] = typer.Argument(
        ..., help="Run directories (each with manifest.json, or holding runs below)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="HTML file to write [default: RUN_DIR/report.html]."
    ),
    title: str = typer.Option("psplab report", "--title", help="Report title."),
) -> None:
    """Build a self-contained HTML report (figures embedded) from run directories."""
    from psplab.report.builder import build_report

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    bad = [d for d in run_dir if not d.is_dir()]
    for d in bad:
        err.print(f"{d}: not a directory", markup=False)
    if bad:
        raise typer.Exit(code=2)
    try:
        path = build_report(run_dir, out=out, title=title)
    except FileNotFoundError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(code=2) from exc
    Console(highlight=False).print(f"report written to {path}")


def demo_command(
    out: Path = typer.Option(
        Path("psplab-demo"), "--out", "-o", help="Output folder (stages are reused when rerun)."
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Tiny sizes (seconds), for tests and a first look."
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for the simulation stage."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice in the demo."),
    force: bool = typer.Option(False, "--force", help="Redo every stage even when finished."),
) -> None:
    """Run the whole pipeline on a simulated alloy and write OUT/report.html."""
    from psplab.report.demo import run_demo

    console = Console(highlight=False)
    path = run_demo(out, quick=quick, workers=workers, seed=seed, force=force, console=console)
    console.print(f"[bold green]report:[/] {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
    app.command("demo")(demo_command)
