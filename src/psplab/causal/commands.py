"""``psplab causal``: parse the options, call :func:`psplab.causal.run_causal`, print, write."""

from __future__ import annotations

from pathlib import Path

import typer

from psplab._cli import err_console, fail, one_line_errors, out_console

_SPEC = typer.Argument(..., help="Dataset spec (TOML); tiers come from it.")
_OUT = typer.Option(..., "--out", help="Run directory to write.")
_BOOTSTRAP = typer.Option(
    100, "--bootstrap", help="Bootstrap resamples for edge stability (0: none)."
)
_JSON = typer.Option(None, "--json", help="Also write a JSON summary here.")
_ALPHA = typer.Option(0.01, "--alpha", help="Significance level of the CI tests.")
_TEST = typer.Option("fisherz", "--test", help="CI test: fisherz | rcot | kci.")
_MODEL = typer.Option("gp", "--model", help="Regressor for the SCM node equations (gp, rf, ...).")
_DOSE_TOP = typer.Option(
    3, "--dose-top", help="Dose-response curves for the top K drivers of each outcome (0: none)."
)
_GRID = typer.Option(12, "--grid", help="Grid points of each dose-response curve.")
_DRAWS = typer.Option(30, "--draws", help="Model draws per dose-response curve.")
_OUTCOMES = typer.Option(
    None, "--outcomes", help="Comma-separated outcome columns (default: the property columns)."
)
_TIER0 = typer.Option(
    False, "--allow-tier0-edges", help="Allow edges between tier-0 (processing) variables."
)
_JOBS = typer.Option(None, "--jobs", help="Parallel bootstrap workers (default: all cores).")
_DASK = typer.Option(False, "--dask", help="Run the bootstrap on Dask (psplab.distributed).")
_SCHEDULER = typer.Option(
    None, "--scheduler", help="Address of a running Dask scheduler (implies --dask)."
)
_SEED = typer.Option(0, "--seed", help="Seed of the bootstrap, the tests and the simulations.")
_ESTIMATOR = typer.Option(
    "optimal",
    "--estimator",
    help="Linear effect: optimal (O-set of the graph when identified, else IDA) | ida.",
)
_EXCLUDE = typer.Option(
    None,
    "--exclude",
    help="Comma-separated columns to leave out, e.g. one computed from another column (ASTM G "
    "from the grain size), which breaks faithfulness.",
)


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


def causal_command(
    spec: Path = _SPEC,
    out: Path = _OUT,
    bootstrap: int = _BOOTSTRAP,
    json_out: Path = _JSON,
    alpha: float = _ALPHA,
    test: str = _TEST,
    model: str = _MODEL,
    dose_top: int = _DOSE_TOP,
    grid: int = _GRID,
    draws: int = _DRAWS,
    outcomes: str = _OUTCOMES,
    allow_tier0_edges: bool = _TIER0,
    jobs: int = _JOBS,
    dask: bool = _DASK,
    scheduler: str = _SCHEDULER,
    seed: int = _SEED,
    estimator: str = _ESTIMATOR,
    exclude: str = _EXCLUDE,
) -> None:
    """Learn a tier-consistent causal graph and rank the processing parameters' causal influence."""
    from psplab.causal.pipeline import CausalOptions, run_causal, write_causal_run

    options = CausalOptions(
        bootstrap=bootstrap, alpha=alpha, test=test, model=model, dose_top=dose_top, grid=grid,
        draws=draws, outcomes=None if outcomes is None else tuple(_names(outcomes) or ()),
        exclude=tuple(_names(exclude) or ()), allow_tier0_edges=allow_tier0_edges, jobs=jobs,
        backend="dask" if (dask or scheduler) else "loky", scheduler=scheduler, seed=seed,
        estimator=estimator,
    )  # fmt: skip
    if options.problems():
        fail(options.problems())  # before the table is read: a typo costs nothing
    result = run_causal(_load(spec), options)  # a PsplabError ends in one line per problem
    write_causal_run(result, out, json_out=json_out)
    _print(result, out)


def _load(spec: Path):
    from psplab.data.dataset import load_dataset
    from psplab.errors import SpecError

    try:
        return load_dataset(spec)
    except SpecError as exc:
        raise SpecError([f"{spec}: {p}" for p in exc.lines]) from None


def _print(result, out: Path) -> None:
    from rich.table import Table

    from psplab.causal.pipeline import drivers_frame

    err = err_console()
    for note in result.notes:
        err.print(f"note: {note}")
    for row in result.flagged().itertuples(index=False):
        err.print(f"flagged: {row.parameter} -> {row.outcome}: {row.flag}")
    console = out_console()
    g = result.graph
    console.print(
        f"graph: {g.n_edges} edges ({len(g.directed_edges)} oriented) from "
        f"{g.info.get('n_tests', 0)} CI tests on {result.data.n_rows_used} of "
        f"{result.data.n_rows_total} rows"
    )
    if result.stability is not None:
        console.print(
            f"bootstrap: {result.stability.n_resamples} resamples in "
            f"{result.stability.seconds:.1f} s"
        )
    table = Table("outcome", "top drivers (sign)")
    for row in drivers_frame(result).itertuples(index=False):
        table.add_row(row.outcome, row.drivers)
    console.print(table)
    console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``psplab causal`` to ``app`` (its errors end in one line each, exit 2)."""
    app.command("causal")(one_line_errors(causal_command))
