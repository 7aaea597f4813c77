"""``psplab report`` and ``psplab demo``: parse the options, call the report/demo function, print."""

from __future__ import annotations

from pathlib import Path

import typer

from psplab._cli import fail, one_line_errors, out_console

_RUN_DIRS = typer.Argument(
    ..., help="Run directories (each with manifest.json, or holding runs below)."
)
_REPORT_OUT = typer.Option(
    None, "--out", "-o", help="HTML file to write [default: RUN_DIR/report.html]."
)
_TITLE = typer.Option("psplab report", "--title", help="Report title.")
_DEMO_OUT = typer.Option(
    Path("psplab-demo"), "--out", "-o", help="Output folder (stages are reused when rerun)."
)
_QUICK = typer.Option(False, "--quick", help="Tiny sizes (seconds), for tests and a first look.")
_WORKERS = typer.Option(2, "--workers", min=1, help="Processes for the simulation stage.")
_SEED = typer.Option(0, "--seed", help="Seed of every random choice in the demo.")
_FORCE = typer.Option(False, "--force", help="Redo every stage even when finished.")


def report_command(
    run_dir: list[Path] = _RUN_DIRS, out: Path | None = _REPORT_OUT, title: str = _TITLE
) -> None:
    """Build a self-contained HTML report (figures embedded) from run directories."""
    from psplab.report.builder import build_report

    bad = [f"{d}: not a directory" for d in run_dir if not d.is_dir()]
    if bad:
        fail(bad)
    path = build_report(run_dir, out=out, title=title)
    out_console().print(f"report written to {path}")


def demo_command(
    out: Path = _DEMO_OUT,
    quick: bool = _QUICK,
    workers: int = _WORKERS,
    seed: int = _SEED,
    force: bool = _FORCE,
) -> None:
    """Run the whole pipeline on a simulated alloy and write OUT/report.html."""
    from psplab.report.demo import run_demo

    if out.exists() and not out.is_dir():
        fail(f"--out {out}: is a file, not a folder for the demo's runs")
    console = out_console()
    path = run_demo(out, quick=quick, workers=workers, seed=seed, force=force, console=console)
    console.print(f"report: {path}")


def register(app: typer.Typer) -> None:
    """Add ``psplab report`` and ``psplab demo`` to ``app``."""
    app.command("report")(one_line_errors(report_command))
    app.command("demo")(one_line_errors(demo_command))
