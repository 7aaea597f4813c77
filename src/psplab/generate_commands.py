"""``psplab simulate``: sample recipes, simulate, measure, rate; write a dataset + spec."""

from __future__ import annotations

from pathlib import Path

import typer


def simulate_command(
    out: Path = typer.Option(..., "--out", help="Output dataset (Parquet); spec beside it."),
    family: str = typer.Option(None, "--family", help="ferritic_steel (default), al_mg, ti_al."),
    design_config: Path = typer.Option(None, "--design-config", help="TOML: family, [bounds]."),
    design: str = typer.Option("lhs", "--design", help="lhs | random."),
    n: int = typer.Option(32, "--n", help="Number of recipes."),
    grid: int = typer.Option(128, "--grid", help="Grain image pixels per side."),
    seed: int = typer.Option(0, "--seed", help="Seed of the design and the simulations."),
    images: Path = typer.Option(None, "--images", help="Save label images (.npy) here."),
    workers: int = typer.Option(None, "--workers", help="Dask workers (default: cores; 0: none)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Address of a Dask scheduler."),
    chunk_size: int = typer.Option(8, "--chunk-size", help="Recipes per task / batch."),
    pixel_um: float = typer.Option(None, "--pixel-um", help="Force the grain pixel (µm)."),
) -> None:
    """Generate a synthetic process-structure-property dataset (resumable: rerun to resume)."""
    from psplab._cli import err_console, fail, out_console
    from psplab.errors import PsplabError
    from psplab.generate import failures_path_for, parts_dir_for, simulate_dataset, spec_path_for

    where = (
        f"scheduler {scheduler}"
        if scheduler
        else f"{workers if workers is not None else 'all'} workers"
    )
    err_console().print(f"simulating {n} recipes on a {grid}x{grid} grid ({where})")
    try:
        res = simulate_dataset(
            out,
            family=family,
            design_config=design_config,
            design=design,
            n=n,
            grid=grid,
            seed=seed,
            images_dir=images,
            workers=workers,
            scheduler=scheduler,
            chunk_size=chunk_size,
            pixel_um=pixel_um,
        )
    except KeyboardInterrupt:
        fail(f"interrupted; finished chunks are kept in {parts_dir_for(out)}: rerun to resume")
    except PsplabError as exc:
        fail(exc.lines)
    path = res["path"]
    console = out_console()
    console.print(
        f"wrote {path} ({res['n_recipes']} {res['family']} recipes, {res['n_failed']} failed) "
        f"and {spec_path_for(path)} in {res['elapsed_s']:.1f} s"
    )
    if res["n_failed"]:
        console.print(f"failed recipes and their errors: {failures_path_for(path)}")


def register(app: typer.Typer) -> None:
    """Add ``psplab simulate`` to ``app``.

    Parameters
    ----------
    app : typer.Typer
        The ``psplab`` application.
    """
    app.command("simulate")(simulate_command)
