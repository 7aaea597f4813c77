"""Files of a resumable dataset run: the parts folder, its fingerprint, image and spec paths.

A run writes each finished chunk of recipes to ``<out>.parts/chunk-<start>.parquet`` (its
images first), so an interrupted run resumes where it stopped; a parts folder carries the
fingerprint of its run (recipes, grid, seed, pixel, chunk size) and a different run refuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from psplab.errors import InputError

ID_COLUMN = "recipe_index"
IMAGE_KINDS = ("grains", "phases", "precipitates")


def parts_dir_for(out_parquet: str | Path) -> Path:
    """Folder holding the finished chunks of an unfinished run: ``<out>.parts/``.

    Parameters
    ----------
    out_parquet : str or Path
        Where the finished table will be written.

    Returns
    -------
    Path
        ``<out>.parts`` beside it (present only while a run is unfinished).
    """
    out = Path(out_parquet)
    return out.with_name(out.name + ".parts")


def run_fingerprint(chunks: list[tuple[int, list[dict]]], **settings: Any) -> str:
    """SHA-256 of a run's chunks of recipes and its settings (grid, seed, pixel, chunk size).

    Parameters
    ----------
    chunks : list
        ``(start, recipe_dicts)`` chunks.
    **settings
        JSON-able settings of the run.

    Returns
    -------
    str
    """
    payload = json.dumps({"chunks": chunks, **settings}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def part_path(parts: Path, start: int) -> Path:
    """File of the chunk starting at recipe ``start``.

    Parameters
    ----------
    parts : Path
        The run's parts folder (:func:`parts_dir_for`).
    start : int
        Index of the chunk's first recipe.

    Returns
    -------
    Path
        ``chunk-<start>.parquet`` in ``parts``, the start zero-padded to 8 digits.
    """
    return parts / f"chunk-{start:08d}.parquet"


def image_paths(images_dir: str | Path, index: int) -> dict[str, Path]:
    """Files of recipe ``index``'s images: ``recipe_NNNNNN_{grains,phases,precipitates}.npy``.

    Parameters
    ----------
    images_dir : str or Path
        The ``images_dir`` of :func:`generate_dataset`.
    index : int
        The recipe's ``recipe_index``.

    Returns
    -------
    dict
        ``{"grains", "phases", "precipitates"}`` → path. Grains and phases share the row's
        ``pixel_um``; precipitates have ``precipitate_pixel_um``.
    """
    return {k: Path(images_dir) / f"recipe_{index:06d}_{k}.npy" for k in IMAGE_KINDS}


def chunk_done(parts: Path, task: tuple[int, list[dict]], images_dir: Path | None) -> bool:
    """Whether chunk ``task = (start, recipes)`` is wholly on disk (a damaged part is deleted).

    Parameters
    ----------
    parts : Path
        The parts folder.
    task : tuple
        ``(start, recipe_dicts)``.
    images_dir : Path, optional
        Also require the images of its good rows there.

    Returns
    -------
    bool
    """
    start, dicts = task
    path = part_path(parts, start)
    if not path.is_file():
        return False
    try:
        frame = pd.read_parquet(path)
    except Exception:  # noqa: BLE001 - a part cut short by a crash: redo the chunk
        path.unlink(missing_ok=True)
        return False
    expected = list(range(start, start + len(dicts)))
    if sorted(frame[ID_COLUMN].astype(int).tolist()) != expected:
        path.unlink(missing_ok=True)
        return False
    if images_dir is not None:
        ok = frame.loc[frame["error"].isna(), ID_COLUMN].astype(int)
        if not all(p.is_file() for i in ok for p in image_paths(images_dir, i).values()):
            return False
    return True


def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` through a temporary file and a rename.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    path : Path
        Destination.
    """
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)  # a reader never sees half a file


def open_parts(out: Path, tasks: list, settings: dict[str, Any], n_recipes: int) -> Path:
    """The parts folder of this run, refusing one left by a different run.

    Parameters
    ----------
    out : Path
        The dataset's Parquet file.
    tasks : list
        ``(start, recipe_dicts)`` chunks of the run.
    settings : dict
        Grid, seed, pixel, chunk size.
    n_recipes : int
        Recipes of the run.

    Returns
    -------
    Path
    """
    fingerprint = run_fingerprint(tasks, **settings)
    parts = parts_dir_for(out)
    run_file = parts / "run.json"
    if parts.is_dir() and run_file.is_file():
        if json.loads(run_file.read_text()).get("fingerprint") != fingerprint:
            raise InputError(
                f"{parts} holds chunks of a different run (other recipes, grid, seed, pixel or "
                "chunk size); delete it or write to another --out"
            )
    parts.mkdir(parents=True, exist_ok=True)
    run_file.write_text(
        json.dumps({"fingerprint": fingerprint, "n_recipes": n_recipes, **settings})
    )
    return parts


def spec_path_for(out_parquet: str | Path) -> Path:
    """``<stem>.toml`` beside the Parquet file.

    Parameters
    ----------
    out_parquet : str or Path
        The table.

    Returns
    -------
    Path
        Its dataset spec.
    """
    return Path(out_parquet).with_suffix(".toml")


def failures_path_for(out_parquet: str | Path) -> Path:
    """``<stem>.failures.json`` beside the Parquet file (only written when a recipe failed).

    Parameters
    ----------
    out_parquet : str or Path
        Table whose failed recipes are listed.

    Returns
    -------
    Path
        The JSON list of failures.
    """
    out = Path(out_parquet)
    return out.with_name(out.stem + ".failures.json")
