"""``psplab generator fit | sample``: parse, call :mod:`psplab.models.generator.runs`, print.

Errors are :class:`psplab.errors.PsplabError` raised below; ``psplab``'s runner prints one line
per problem and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from psplab._cli import one_line_errors, out_console


@one_line_errors
def fit_command(
    image_spec: Path = typer.Argument(..., help="Image table spec (TOML with an [images] table)."),
    out: Path = typer.Option(..., "--out", help="Run directory to write."),
    steps: int = typer.Option(800, "--steps", help="Adam steps."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fit (initialization, draws)."),
    grain_channels: int = typer.Option(8, "--grain-channels", help="Decoder runs per image."),
    train_grid: int = typer.Option(None, "--train-grid", help="Training image size (pixels)."),
    holdout: int = typer.Option(
        0, "--holdout", help="Recipes left out and compared with generated images after the fit."
    ),
) -> None:
    """Fit the microstructure generator to an image table; write the model and manifest.json."""
    from psplab.models.generator.runs import fit_run
    from psplab.progress import stage

    with stage("fit generator", total=steps) as (bar, task):
        run = fit_run(
            image_spec,
            out,
            holdout=holdout,
            progress=lambda done, total: bar.update(task, completed=done),
            steps=steps,
            seed=seed,
            grain_channels=grain_channels,
            train_grid=train_grid,
        )
    console = out_console()
    m = run.model
    console.print(
        f"generator fitted on {m.n_fields_} fields ({m.train_grid_}x{m.train_grid_} px) in "
        f"{run.elapsed_s:.0f} s -> {run.model_path}"
    )
    if run.holdout is not None:
        console.print(f"held-out recipes (data vs generated means): {out / 'holdout.csv'}")
        console.print(run.holdout.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


@one_line_errors
def sample_command(
    run_dir: Path = typer.Argument(..., help="Run directory of 'psplab generator fit'."),
    recipes: Path = typer.Argument(
        ..., help="Recipes table (CSV/Parquet) with the processing columns."
    ),
    out: Path = typer.Option(..., "--out", help="Run directory to write."),
    n: int = typer.Option(16, "--n", help="Images per recipe."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws."),
    grid: int = typer.Option(None, "--grid", help="Image size in pixels (default: training size)."),
) -> None:
    """Generate label images for each recipe; write images, PNGs, measured features, manifest.json."""
    from psplab.models.generator.runs import sample_run

    run = sample_run(run_dir, recipes, out, n=n, seed=seed, grid=grid)
    console = out_console()
    for line in run.outside_range:
        console.print(f"note: {line} (extrapolating; compare the spread between networks)")
    console.print(f"{len(run.summary)} recipes x {n} images -> {run.out_dir}")
    console.print(run.summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def register(app: typer.Typer) -> None:
    """Add the ``generator`` command group to ``app``.

    Parameters
    ----------
    app : typer.Typer
        The ``psplab`` application.
    """
    group = typer.Typer(
        help="Generate microstructure images from processing (Bayesian hypernetwork).",
        no_args_is_help=True,
    )
    group.command("fit")(fit_command)
    group.command("sample")(sample_command)
    app.add_typer(group, name="generator")
