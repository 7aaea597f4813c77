"""Run directories of the generator: ``psplab generator fit`` and ``psplab generator sample``.

``fit_run`` writes ``DIR/generator.npz`` + ``DIR/generator.json`` (the model), optionally a
held-out check (``holdout.csv`` and ``holdout.npz``: for each held-out recipe its measured
images beside generated ones) and ``manifest.json``. ``sample_run`` writes, per recipe,
``recipe_NNN/image_JJ_<kind>.npy`` label images and ``recipe_NNN.png`` (a montage with a scale
bar), ``features.csv`` (each image measured with :mod:`psplab.measure`), ``summary.csv`` (per
recipe: mean, 5 % and 95 % quantiles), ``images.toml`` + ``images.csv`` (an image table of
the generated images, which ``psplab generator fit`` and other tools read like any other) and
``manifest.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.data.images import ImageDataset, load_image_dataset, write_image_table
from psplab.errors import InputError, ModelFileError
from psplab.models.generator.evaluation import measure_generated, measure_labels, summarize
from psplab.models.generator.model import GeneratedImages, MicrostructureGenerator

MODEL_STEM = "generator"
MONTAGE_IMAGES = 8  # images per recipe in its PNG
HOLDOUT_IMAGES = 4  # generated images per held-out recipe


@dataclass
class FitRun:
    """What :func:`fit_run` did.

    Attributes
    ----------
    model : MicrostructureGenerator
        The fitted model.
    model_path : Path
        Its JSON file (the ``.npz`` lies beside it).
    holdout : pandas.DataFrame or None
        Per held-out recipe: measured (data) against generated means.
    elapsed_s : float
        Wall time of the fit.
    """

    model: MicrostructureGenerator
    model_path: Path
    holdout: pd.DataFrame | None
    elapsed_s: float


@dataclass
class SampleRun:
    """What :func:`sample_run` wrote.

    Attributes
    ----------
    summary : pandas.DataFrame
        Per recipe: its processing values and the features' mean, q05 and q95.
    out_dir : Path
        The run directory.
    outside_range : list of str
        Processing columns where some recipe lay outside the training range.
    """

    summary: pd.DataFrame
    out_dir: Path
    outside_range: list[str]


def model_path(run_dir: str | Path) -> Path:
    """The model file of a ``generator fit`` run directory (``DIR/generator``)."""
    return Path(run_dir) / MODEL_STEM


def _split_recipes(
    dataset: ImageDataset, n_holdout: int, seed: int
) -> tuple[ImageDataset, list[list[int]]]:
    """Training fields, and the held-out recipes (each a list of field indices)."""
    frame = dataset.processing_frame()
    keys = [tuple(row) for row in frame.astype(str).itertuples(index=False)]
    recipes: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        recipes.setdefault(key, []).append(i)
    groups = list(recipes.values())
    # At least one recipe must remain to train on.
    if n_holdout < 0 or n_holdout > len(groups) - 1:
        raise InputError(
            f"--holdout must lie in 0..{max(len(groups) - 1, 0)} "
            f"(the table has {len(groups)} recipes), got {n_holdout}"
        )
    pick = np.random.default_rng((seed, 3)).permutation(len(groups))[:n_holdout]
    held = [groups[i] for i in sorted(pick)]
    out = {i for g in held for i in g}
    train = ImageDataset(
        dataset.dataset, [f for i, f in enumerate(dataset.fields) if i not in out], dataset.periodic
    )
    return train, held


def fit_run(
    image_spec: str | Path,
    out_dir: str | Path,
    *,
    holdout: int = 0,
    progress: Callable[[int, int], None] | None = None,
    **params: Any,
) -> FitRun:
    """Fit a generator to an image table and write its run directory.

    Parameters
    ----------
    image_spec : str or Path
        The image table's spec (:mod:`psplab.data.images`).
    out_dir : str or Path
        The run directory (created).
    holdout : int
        Recipes (distinct processing values) left out of the fit and compared, image against
        generated image, after it.
    progress : callable, optional
        ``progress(steps_done, steps_total)``.
    **params
        :class:`MicrostructureGenerator` parameters (``steps``, ``seed``, ...).

    Returns
    -------
    FitRun
    """
    from psplab.manifest import write_manifest

    out = Path(out_dir)
    model = MicrostructureGenerator(**params)
    dataset = load_image_dataset(image_spec)
    train, held = _split_recipes(dataset, int(holdout), int(model.seed))
    t0 = time.perf_counter()
    model.fit(train, progress=progress)
    elapsed = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    path = model.save(model_path(out))
    files: dict[str, Any] = {"model": path, "arrays": path.with_suffix(".npz")}
    table = None
    if held:
        table = _holdout_check(model, dataset, held, out)
        files.update(holdout=out / "holdout.csv", holdout_images=out / "holdout.npz")
    write_manifest(
        out,
        "generator-fit",
        files=files,
        params={"image_spec": str(image_spec), "holdout": int(holdout), **model.get_params()},
        results={
            "n_fields": model.n_fields_,
            "train_grid": model.train_grid_,
            "periodic": model.periodic_,
            "final_loss": float(np.mean(model.loss_curve_[-25:, 0])),
            "elapsed_s": elapsed,
        },
    )
    return FitRun(model, path, table, elapsed)


def _holdout_check(
    model: MicrostructureGenerator, dataset: ImageDataset, held: list[list[int]], out: Path
) -> pd.DataFrame:
    """Generate for each held-out recipe, measure both, write ``holdout.csv`` and ``.npz``."""
    from psplab.measure import read_image

    frame = dataset.processing_frame()
    recipes = frame.iloc[[g[0] for g in held]].reset_index(drop=True)
    gen = model.sample(recipes, n=HOLDOUT_IMAGES, seed=int(model.seed))
    measured = measure_generated(gen)
    rows, arrays = [], {}
    for r, group in enumerate(held):
        data: dict[str, list[float]] = {}
        for j, i in enumerate(group):
            f = dataset.fields[i]
            g = read_image(f.paths["grains"]) if "grains" in f.paths else None
            kind = next((k for k in ("phases", "particles") if k in f.paths), None)
            q = None if kind is None else read_image(f.paths[kind])
            q = None if q is None else (q == 1 if kind == "phases" else q != 0)
            m = measure_labels(g, q, f.pixel_um, dataset.periodic)
            for k, v in m.items():
                if np.isfinite(v):
                    data.setdefault(k, []).append(v)
            # Every field of the recipe, as data_<kind>_<recipe>_<field>.
            if g is not None:
                arrays[f"data_grains_{r}_{j}"] = g
                arrays[f"data_grain_pixel_um_{r}_{j}"] = np.asarray(f.pixel_um)
            if q is not None:
                arrays[f"data_particles_{r}_{j}"] = q.astype(np.uint8)
                arrays[f"data_particle_pixel_um_{r}_{j}"] = np.asarray(f.pixel_um)
        sub = measured[measured.recipe == r]
        row = {**recipes.iloc[r].to_dict()}
        for k, v in data.items():
            row[f"{k}_data"] = float(np.mean(v))
            row[f"{k}_generated"] = float(sub[k].mean())
        rows.append(row)
    if gen.grains is not None:
        arrays["generated_grains"] = gen.grains
    if gen.particles is not None:
        arrays["generated_particles"] = gen.particles
    arrays["generated_pixel_um"] = gen.pixel_um
    arrays["generated_particle_pixel_um"] = gen.particle_pixel_um
    np.savez_compressed(out / "holdout.npz", **arrays)
    table = pd.DataFrame(rows)
    table.to_csv(out / "holdout.csv", index=False)
    return table


def load_run_model(run_dir: str | Path) -> MicrostructureGenerator:
    """The model of a ``generator fit`` run directory; :class:`ModelFileError` naming what is wrong."""
    d = Path(run_dir)
    if not d.is_dir():
        raise ModelFileError(
            f"{d}: not a directory (give the --out folder of 'psplab generator fit')"
        )
    return MicrostructureGenerator.load(model_path(d))


def sample_run(
    run_dir: str | Path,
    recipes: str | Path | pd.DataFrame,
    out_dir: str | Path,
    *,
    n: int = 16,
    seed: int = 0,
    grid: int | None = None,
) -> SampleRun:
    """Draw images for every recipe of a table and write them, measured, to a run directory.

    Parameters
    ----------
    run_dir : str or Path
        A ``generator fit`` run directory.
    recipes : str, Path or pandas.DataFrame
        Table (CSV or Parquet) with the model's processing columns, one recipe per row.
    out_dir : str or Path
        The run directory to write (created).
    n : int
        Images per recipe.
    seed : int
        Seed of every draw.
    grid : int, optional
        Output size (default: the training size).

    Returns
    -------
    SampleRun
    """
    from psplab.data.tables import read_table
    from psplab.manifest import write_manifest

    model = load_run_model(run_dir)
    frame = recipes if isinstance(recipes, pd.DataFrame) else read_table(recipes)
    if len(frame) == 0:
        raise InputError(f"{recipes}: no recipes (the table has no rows)")
    outside = model.outside_training_range(frame)
    gen = model.sample(frame, n=n, seed=seed, grid=grid)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table_rows = _write_images(model, frame, gen, out)
    features = measure_generated(gen)
    features.to_csv(out / "features.csv", index=False)
    names = model.features_.names
    summary = frame[names].reset_index(drop=True).join(summarize(features).set_index("recipe"))
    summary.to_csv(out / "summary.csv", index=False)
    columns = [_column(c) for c in model.processing_columns_]
    spec = write_image_table(
        pd.DataFrame(table_rows), out / "images.toml", columns, periodic=gen.periodic
    )
    write_manifest(
        out,
        "generator-sample",
        files={
            "summary": out / "summary.csv",
            "features": out / "features.csv",
            "image_table": spec,
        },
        params={"model": str(model_path(run_dir)), "n": int(n), "seed": int(seed), "grid": grid},
        results={"n_recipes": len(frame), "outside_training_range": outside},
    )
    return SampleRun(summary, out, outside)


def _montage(grains: Any, particles: Any, pixel_um: np.ndarray, path: Path) -> None:
    from psplab.models.generator.plots import label_montage
    from psplab.plotting import save_figure

    stack = grains if grains is not None else particles
    titles = [f"{p * s.shape[1]:.3g} µm wide" for p, s in zip(pixel_um, stack, strict=True)]
    save_figure(label_montage(grains, particles, pixel_um, titles=titles), path)


def _column(d: dict[str, Any]):
    from psplab.data.spec import ColumnSpec

    return ColumnSpec(**{k: v for k, v in d.items() if k in ColumnSpec.__dataclass_fields__})


def _write_images(
    model: MicrostructureGenerator, frame: pd.DataFrame, gen: GeneratedImages, out: Path
) -> list[dict[str, Any]]:
    """Each image as ``.npy``, a montage per recipe; the image-table rows."""
    rows = []
    names = model.features_.names
    R, n = gen.pixel_um.shape
    kinds = [
        ("grains", gen.grains, gen.pixel_um),
        (model.particle_kind_, gen.particles, gen.particle_pixel_um),
    ]
    shared = gen.grains is not None and np.array_equal(gen.pixel_um, gen.particle_pixel_um)
    for r in range(R):
        folder = out / f"recipe_{r:03d}"
        folder.mkdir(exist_ok=True)
        values = {c: frame.iloc[r][c] for c in names}
        for j in range(n):
            for kind, stack, px in kinds:
                if stack is None:
                    continue
                path = folder / f"image_{j:02d}_{kind}.npy"
                np.save(path, stack[r, j])
                sample = f"r{r:03d}_i{j:02d}" + ("" if shared or kind == "grains" else "_p")
                rows.append(
                    {
                        **values,
                        "path": path,
                        "kind": kind,
                        "pixel_um": float(px[r, j]),
                        "sample": sample,
                    }
                )
        k = min(n, MONTAGE_IMAGES)
        if gen.grains is not None:
            parts = gen.particles[r, :k] if shared and gen.particles is not None else None
            _montage(gen.grains[r, :k], parts, gen.pixel_um[r, :k], out / f"recipe_{r:03d}.png")
        if gen.particles is not None and not shared:
            name = f"recipe_{r:03d}{'_particles' if gen.grains is not None else ''}.png"
            _montage(None, gen.particles[r, :k], gen.particle_pixel_um[r, :k], out / name)
    return rows
