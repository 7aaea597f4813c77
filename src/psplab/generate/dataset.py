"""Resumable, distributed dataset generation and the ``psplab simulate`` pipeline."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.errors import InputError
from psplab.generate.columns import dataset_spec_for
from psplab.generate.evaluate import (
    DEFAULT_CHUNK_SIZE,
    Simulator,
    as_recipe,
    default_simulator,
    evaluate_chunk,
    recipe_chunks,
)
from psplab.generate.store import (
    ID_COLUMN,
    IMAGE_KINDS,
    chunk_done,
    failures_path_for,
    image_paths,
    open_parts,
    part_path,
    parts_dir_for,
    spec_path_for,
    write_parquet_atomic,
)
from psplab.sim.design import DESIGNS, load_design_config, sample_recipes
from psplab.sim.families import FAMILIES, RECIPE_PARAMS

MAX_RECIPES = 1_000_000  # a larger design is a different kind of job: split it
# Memory of one Dask worker process besides its simulations (interpreter, JAX, NumPy).
WORKER_BASE_BYTES = 600 * 1024**2


# --- resource bounds -------------------------------------------------------------------------
def check_generation_request(
    n: int,
    grid: int,
    workers: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> None:
    """Refuse, before any work, a generation this machine cannot hold or a bound forbids.

    :func:`generate_dataset` and :func:`simulate_dataset` call it before the first simulation.

    Parameters
    ----------
    n : int
        Number of recipes.
    grid : int
        Pixels per side of the grain image.
    workers : int, optional
        Local Dask worker processes (``None``: one per CPU core; 0: in this process).
    chunk_size : int
        Recipes per batch.

    Raises
    ------
    ResourceError
        With the estimate and the bound, for ``n`` above :data:`MAX_RECIPES`, more workers
        than CPU cores, or more memory than is available.
    """
    from psplab.distributed import default_workers
    from psplab.limits import require_at_most, require_memory
    from psplab.sim.core import estimate_memory_bytes
    from psplab.sim.runs import check_grid

    require_at_most("--n", n, MAX_RECIPES, "split the design into several datasets")
    check_grid(grid, n_recipes=min(n, chunk_size))
    cores = default_workers()
    processes = cores if workers is None else max(int(workers), 1)
    if workers is not None:
        require_at_most(
            "--workers",
            workers,
            cores,
            f"this machine has {cores} CPU cores; more worker "
            "processes than cores only add start-up time and memory",
        )
    per_process = WORKER_BASE_BYTES + estimate_memory_bytes(grid, min(n, chunk_size))
    require_memory(
        processes * per_process,
        f"{processes} worker(s) at --grid {grid}",
        "use fewer workers or a smaller grid",
    )


# --- resumable, distributed generation -------------------------------------------------------
def _run_chunks(
    todo: list,
    parts: Path,
    img_dir: Path | None,
    n_done: int,
    n_total: int,
    progress: bool,
    **evaluate: Any,
) -> None:
    """Evaluate the unfinished chunks (Dask or in-process), writing each as it finishes."""
    from psplab.distributed import map_as_completed
    from psplab.progress import stage

    with stage("simulate", total=n_total) if progress else _null_stage() as (bar, task_id):
        if bar is not None:
            bar.advance(task_id, n_done)
        if not todo:
            return
        for i, (frame, images) in map_as_completed(
            evaluate_chunk, todo, return_images=img_dir is not None, **evaluate
        ):
            for idx, arrays in images.items():
                for kind, path in image_paths(img_dir, idx).items():
                    np.save(path, arrays[kind])
            # Images first, part last: a part on disk means the chunk is wholly done.
            write_parquet_atomic(frame, part_path(parts, todo[i][0]))
            if bar is not None:
                bar.advance(task_id, len(todo[i][1]))


def _assemble(out: Path, parts: Path, tasks: list, recipes: list, spec_args: dict) -> None:
    """Join the parts into the table, write it with its spec and failures, drop the parts."""
    frames = [pd.read_parquet(part_path(parts, start)) for start, _ in tasks]
    table = pd.concat(frames, ignore_index=True).sort_values(ID_COLUMN, kind="stable")
    table = table.reset_index(drop=True)
    if not np.array_equal(table[ID_COLUMN].astype(int).to_numpy(), np.arange(len(recipes))):
        raise RuntimeError(f"assembled table does not hold every recipe exactly once ({parts})")
    table["error"] = table["error"].astype(object).where(table["error"].notna(), None)
    write_parquet_atomic(table, out)
    families = sorted({r.family for r in recipes})
    spec = dataset_spec_for(
        families[0] if len(families) == 1 else families, source=out.resolve(), **spec_args
    )
    spec.to_toml(spec_path_for(out))
    failed = table[table["error"].notna()]
    failures = failures_path_for(out)
    if len(failed):
        records = [
            {
                ID_COLUMN: int(r[ID_COLUMN]),
                "recipe": {k: r[k] for k in ("family", *RECIPE_PARAMS)},
                "error": r["error"],
            }
            for _, r in failed.iterrows()
        ]
        failures.write_text(json.dumps(records, indent=2))
    else:
        failures.unlink(missing_ok=True)
    shutil.rmtree(parts, ignore_errors=True)


def generate_dataset(
    recipes: Sequence[Any],
    out_parquet: str | Path,
    grid: int = 64,
    seed: int = 0,
    images_dir: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    bounds: Mapping[str, Sequence[float]] | None = None,
    simulator: Simulator | None = None,
    name: str | None = None,
    progress: bool = True,
    pixel_um: float | None = None,
) -> Path:
    """Generate a dataset on Dask, resumably; write Parquet + spec TOML; return the Parquet path.

    An interrupted call picks up where it stopped when run again (see the notes).

    Parameters
    ----------
    recipes : sequence
        Recipes (e.g. from :func:`sample_recipes`).
    out_parquet : str or Path
        Output table; its spec is written beside it as ``<stem>.toml`` and failed recipes
        (if any) are also listed in ``<stem>.failures.json``.
    grid, seed : int
        Simulation grid and base seed.
    images_dir : str or Path, optional
        If given, each recipe's images are saved there (:func:`image_paths`); the table's
        ``pixel_um`` and ``precipitate_pixel_um`` give their pixel sizes.
    workers : int, optional
        Dask worker processes of a LocalCluster (default: CPU count; ``0``: run here, without
        Dask).
    scheduler : str, optional
        Address of a running Dask scheduler to use instead.
    chunk_size : int
        Recipes per task (one simulated batch, one part file).
    bounds : mapping, optional
        Bound overrides the recipes were sampled with (go into the spec).
    simulator : callable, optional
        Replaces the phase-field simulator (``f(recipes, grid, seed)``; must be importable
        for Dask workers).
    name : str, optional
        Dataset name in the spec (default: the Parquet's stem).
    progress : bool
        Show a progress bar (when attached to a terminal).
    pixel_um : float, optional
        Force the grain pixel of every recipe (µm); default: each recipe's own.

    Returns
    -------
    Path
        The Parquet file.

    Notes
    -----
    Each finished chunk is written at once to ``<out>.parts/chunk-<start>.parquet``. Running
    the same call again after an interruption skips the chunks already there; a parts folder
    from a different run (other recipes, grid, seed, pixel or chunk size) is refused. When all
    chunks are done the table is assembled (every recipe exactly once, in order) and the parts
    folder is removed.
    """
    recipes = [as_recipe(r) for r in recipes]
    if not recipes:
        raise InputError("no recipes to simulate")
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    if simulator is None:
        check_generation_request(len(recipes), grid, None if scheduler else workers, chunk_size)
        simulator = (
            default_simulator if pixel_um is None else partial(default_simulator, pixel_um=pixel_um)
        )
    out = Path(out_parquet)
    out.parent.mkdir(parents=True, exist_ok=True)
    img_dir = None if images_dir is None else Path(images_dir)
    if img_dir is not None:
        img_dir.mkdir(parents=True, exist_ok=True)
    tasks = recipe_chunks(recipes, chunk_size)
    settings = {
        "grid": int(grid),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
        "pixel_um": pixel_um,
    }
    parts = open_parts(out, tasks, settings, len(recipes))
    todo = [t for t in tasks if not chunk_done(parts, t, img_dir)]
    n_done = len(recipes) - sum(len(d) for _, d in todo)
    _run_chunks(
        todo, parts, img_dir, n_done, len(recipes), progress,
        workers=workers, scheduler=scheduler, grid=grid, seed=seed, simulator=simulator,
    )  # fmt: skip
    _assemble(out, parts, tasks, recipes, {"bounds": bounds, "name": name or out.stem})
    return out


# File key -> (image-table kind, pixel column, field suffix): a recipe's grain and phase labels
# share its grain pixel (one field of view); its precipitate image, at its own much finer pixel,
# is a field of its own.
SIMULATED_IMAGE_LAYOUT = {
    "grains": ("grains", "pixel_um", ""),
    "phases": ("phases", "pixel_um", ""),
    "precipitates": ("phases", "precipitate_pixel_um", "_p"),
}


def write_simulated_image_table(
    dataset_parquet: str | Path,
    images_dir: str | Path,
    kinds: Sequence[str] = IMAGE_KINDS,
) -> Path:
    """Write ``images_dir/images.toml`` + ``images.csv``: the image table of a generated dataset.

    Each recipe that did not fail gives one field of its grain and phase labels (at
    ``pixel_um``) and one field of its precipitate image (at ``precipitate_pixel_um``); the
    processing columns, their units and bounds come from the dataset's spec. The table is what
    :mod:`psplab.data.images` reads (``psplab generator fit``).

    Parameters
    ----------
    dataset_parquet : str or Path
        The table :func:`generate_dataset` wrote (its spec ``<stem>.toml`` lies beside it).
    images_dir : str or Path
        The ``images_dir`` it saved the images in.
    kinds : sequence of str
        Which of each recipe's images to list (:data:`IMAGE_KINDS`).

    Returns
    -------
    Path
        The image table's spec, ``images_dir/images.toml``.
    """
    from psplab.data.images import write_dataset_image_table
    from psplab.data.spec import DatasetSpec

    unknown = sorted(set(kinds) - set(SIMULATED_IMAGE_LAYOUT))
    if unknown or not kinds:
        raise InputError(f"image kinds must be some of {', '.join(IMAGE_KINDS)}, got {kinds!r}")
    parquet, images = Path(dataset_parquet), Path(images_dir)
    processing = DatasetSpec.from_toml(spec_path_for(parquet)).processing
    layout = {k: v for k, v in SIMULATED_IMAGE_LAYOUT.items() if k in kinds}
    return write_dataset_image_table(
        pd.read_parquet(parquet),
        lambda index: image_paths(images, index),
        layout,
        images / "images.toml",
        processing,
        periodic=True,  # the phase-field domains wrap around
        id_column=ID_COLUMN,
    )


def simulate_dataset(
    out: str | Path,
    *,
    family: str | None = None,
    design_config: str | Path | None = None,
    design: str = "lhs",
    n: int = 32,
    grid: int = 128,
    seed: int = 0,
    images_dir: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    pixel_um: float | None = None,
) -> dict[str, Any]:
    """``psplab simulate``: sample a design, generate the dataset, write its manifest.

    Checks every option first, then :func:`~psplab.sim.design.sample_recipes` and
    :func:`generate_dataset` (resumed when a parts folder of the same run is there).

    Parameters
    ----------
    out : str or Path
        Output table (``.parquet``); spec, failures and ``manifest.json`` go beside it.
    family : str, optional
        Alloy family; default the design config's, else ``ferritic_steel``.
    design_config : str or Path, optional
        TOML with an optional ``family`` and a ``[bounds]`` table (:func:`load_design_config`).
    design : str
        ``"lhs"`` or ``"random"``.
    n, grid, seed : int
        Recipes, grain-image pixels per side, seed (of the design and the simulations).
    images_dir : str or Path, optional
        Save each recipe's images there.
    workers : int, optional
        Local Dask worker processes (default one per core; 0: in this process).
    scheduler : str, optional
        Address of a running Dask scheduler instead.
    chunk_size : int
        Recipes per batch.
    pixel_um : float, optional
        Force the grain pixel of every recipe (µm).

    Returns
    -------
    dict
        ``path``, ``family``, ``n_recipes``, ``n_failed``, ``elapsed_s``, ``resumed``.

    Raises
    ------
    InputError
        Every problem with the options at once (``ResourceError`` for sizes beyond a bound or
        this machine's memory), before any work starts.
    """
    import time

    out = Path(out)
    problems = _simulate_option_problems(out, n, grid, workers, scheduler, chunk_size, design)
    bounds: dict = {}
    cfg_family = None
    if design_config is not None:
        try:
            cfg_family, bounds = load_design_config(design_config)
        except InputError as exc:
            problems.extend(exc.lines)
    fam = family or cfg_family or "ferritic_steel"
    if fam not in FAMILIES:
        problems.append(f"--family {fam!r} is not one of {', '.join(FAMILIES)}")
    if problems:
        raise InputError(problems)
    check_generation_request(n, grid, None if scheduler else workers, chunk_size)
    try:
        recipes = sample_recipes(fam, n, design=design, seed=seed, bounds=bounds)
    except InputError as exc:
        raise InputError(
            [f"{design_config}: {line}" if design_config else line for line in exc.lines]
        ) from None
    resumed = parts_dir_for(out).is_dir()
    t0 = time.perf_counter()
    path = generate_dataset(
        recipes, out, grid=grid, seed=seed, images_dir=images_dir, workers=workers,
        scheduler=scheduler, chunk_size=chunk_size, bounds=bounds, pixel_um=pixel_um,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    params = {
        "family": fam, "design": design, "n": n, "grid": grid, "seed": seed,
        "bounds": {k: list(v) for k, v in bounds.items()}, "workers": workers,
        "scheduler": scheduler, "chunk_size": chunk_size, "pixel_um": pixel_um,
    }  # fmt: skip
    summary = _write_simulate_manifest(path, images_dir, params, elapsed)
    return {"path": path, "family": fam, "elapsed_s": elapsed, "resumed": resumed, **summary}


def _write_simulate_manifest(
    path: Path, images_dir: str | Path | None, params: dict[str, Any], elapsed: float
) -> dict[str, int]:
    from psplab.manifest import write_manifest

    table = pd.read_parquet(path)
    n_failed = int(table["error"].notna().sum())
    files = {"dataset": path, "spec": spec_path_for(path)}
    if n_failed:
        files["failures"] = failures_path_for(path)
    if images_dir is not None:
        files["images"] = Path(images_dir)
        if n_failed < len(table):  # an image table of the recipes that gave images
            files["image_table"] = write_simulated_image_table(path, images_dir)
    results = {"n_recipes": len(table), "n_failed": n_failed, "elapsed_s": elapsed}
    write_manifest(path.parent, "simulate", files=files, params=params, results=results)
    return {"n_recipes": len(table), "n_failed": n_failed}


def _simulate_option_problems(
    out: Path,
    n: int,
    grid: int,
    workers: int | None,
    scheduler: str | None,
    chunk_size: int,
    design: str,
) -> list[str]:
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
    return problems


class _null_stage:
    def __enter__(self):
        return None, None

    def __exit__(self, *exc):
        return False
