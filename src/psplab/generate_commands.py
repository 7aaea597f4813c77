"""``psplab simulate``: sample recipes, simulate, measure, rate; write a dataset + spec."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console


def _fail(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)
    raise typer.Exit(code=2)


def simulate_command(
    out: Path = typer.Option(..., "--out", help="Output dataset (Parquet); spec written beside."),
    family: str = typer.Option(
        None,
        "--family",
        help="Alloy family (ferritic_steel, al_mg, ti_al); default ferritic_steel.",
    ),
    design_config: Path = typer.Option(
        None,
        "--design-config",
        help="TOML: optional family, and a bounds table of low/high pairs per parameter.",
    ),
    design: str = typer.Option("lhs", "--design", help="lhs | random."),
    n: int = typer.Option(32, "--n", help="Number of recipes."),
    grid: int = typer.Option(128, "--grid", help="Simulation grid (pixels per side)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the design and the simulations."),
    images: Path = typer.Option(None, "--images", help="Save label images (.npy) here."),
    workers: int = typer.Option(
        None, "--workers", help="Dask LocalCluster worker processes (default: CPU count; 0: none)."
    ),
    scheduler: str = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler."),
    chunk_size: int = typer.Option(8, "--chunk-size", help="Recipes per task / batch."),
) -> None:
    """Generate a synthetic process-structure-property dataset (resumable: rerun to resume)."""
    from psplab.generate import (
        DESIGNS,
        failures_path_for,
        generate_dataset,
        load_design_config,
        parts_dir_for,
        sample_recipes,
        spec_path_for,
    )
    from psplab.manifest import write_manifest
    from psplab.sim.families import FAMILIES

    problems = []
    if workers is not None and scheduler is not None:
        problems.append("give either --workers or --scheduler, not both")
    if workers is not None and workers < 0:
        problems.append(f"--workers must be >= 0, got {workers}")
    if n < 1:
        problems.append(f"--n must be >= 1, got {n}")
    if grid < 16:
        problems.append(f"--grid must be >= 16, got {grid}")
    if chunk_size < 1:
        problems.append(f"--chunk-size must be >= 1, got {chunk_size}")
    if design not in DESIGNS:
        problems.append(f"--design {design!r} is not one of {', '.join(DESIGNS)}")
    if out.suffix.lower() not in (".parquet", ".pq"):
        problems.append(f"--out {out} must end in .parquet")
    bounds: dict = {}
    cfg_family = None
    if design_config is not None:
        try:
            cfg_family, bounds = load_design_config(design_config)
        except ValueError as exc:
            problems.append(str(exc))
    fam = family or cfg_family or "ferritic_steel"
    if fam not in FAMILIES:
        problems.append(f"--family {fam!r} is not one of {', '.join(FAMILIES)}")
    if problems:
        _fail("\n".join(problems))
    try:
        recipes = sample_recipes(fam, n, design=design, seed=seed, bounds=bounds)
    except ValueError as exc:
        _fail(f"{design_config}: {exc}" if design_config else str(exc))

    console = Console(highlight=False, stderr=True)
    resuming = parts_dir_for(out).is_dir()
    where = (
        f"scheduler {scheduler}"
        if scheduler
        else f"{'all' if workers is None else workers} workers"
    )
    console.print(
        f"{'resuming' if resuming else 'simulating'} {n} {fam} recipes on a {grid}x{grid} grid "
        f"({where})"
    )
    t0 = time.perf_counter()
    try:
        path = generate_dataset(
            recipes,
            out,
            grid=grid,
            seed=seed,
            images_dir=images,
            workers=workers,
            scheduler=scheduler,
            chunk_size=chunk_size,
            bounds=bounds,
        )
    except KeyboardInterrupt:
        _fail(f"interrupted; finished chunks are kept in {parts_dir_for(out)}: rerun to resume")
    except ValueError as exc:
        _fail(str(exc))
    elapsed = time.perf_counter() - t0

    import pandas as pd

    table = pd.read_parquet(path)
    n_failed = int(table["error"].notna().sum())
    files = {"dataset": path, "spec": spec_path_for(path)}
    if n_failed:
        files["failures"] = failures_path_for(path)
    if images is not None:
        files["images"] = images
    write_manifest(
        path.parent,
        "simulate",
        files=files,
        params={
            "family": fam,
            "design": design,
            "n": n,
            "grid": grid,
            "seed": seed,
            "bounds": {k: list(v) for k, v in bounds.items()},
            "workers": workers,
            "scheduler": scheduler,
            "chunk_size": chunk_size,
        },
        results={"n_recipes": len(table), "n_failed": n_failed, "elapsed_s": elapsed},
    )
    out_console = Console(highlight=False)
    out_console.print(
        f"wrote {path} ({len(table)} recipes, {n_failed} failed) and {spec_path_for(path)} "
        f"in {elapsed:.1f} s"
    )
    if n_failed:
        out_console.print(f"failed recipes and their errors: {failures_path_for(path)}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
