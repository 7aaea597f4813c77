"""Synthetic process-structure-property datasets: recipe -> simulation -> measurement -> strength.

Every row of a generated dataset is one processing recipe of an alloy family:

* processing (tier 0): the recipe parameters :data:`psplab.sim.RECIPE_PARAMS`;
* structure (tier 1), measured on the simulated images with :mod:`psplab.measure` exactly as
  on a micrograph: ``grain_size_um`` (mean equivalent-circle diameter of the grains),
  ``astm_g`` (ASTM E112 G by lineal intercepts), ``precipitate_fraction`` (area fraction),
  ``precipitate_mean_diameter_um`` (mean equivalent-circle diameter; 0 when there are no
  precipitates) and ``precipitate_number_density_per_mm2``;
* property (tier 2): ``yield_strength_MPa`` from :func:`psplab.strength.yield_strength_mpa`
  with the measured grain size, the recipe's solute, the measured precipitate fraction and
  radius (half the mean diameter).

Bookkeeping columns: ``recipe_index`` (the row id), ``family`` and ``error`` (empty unless
the recipe failed; then the structure and property cells are missing).

Determinism: recipes are simulated in fixed chunks of ``chunk_size`` consecutive indices;
the chunk starting at index ``c`` is simulated with ``simulate_batch(..., seed=seed + c)``.
So a dataset depends on (recipes, grid, seed, chunk_size) only -- not on the number of
workers, their order, or on interruptions and resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.data.spec import ColumnSpec, DatasetSpec

# Kept in sync with psplab.sim.RECIPE_PARAMS / RECIPE_UNITS; duplicated so that sampling and
# specs do not import JAX (psplab.sim pulls it in).
RECIPE_PARAMS: tuple[str, ...] = (
    "solute_wt_pct",
    "deformation_strain",
    "hold_temperature_C",
    "hold_time_s",
    "cooling_rate_K_per_s",
)
_PARAM_UNITS = {
    "solute_wt_pct": "wt%",
    "deformation_strain": "dimensionless",
    "hold_temperature_C": "degC",
    "hold_time_s": "s",
    "cooling_rate_K_per_s": "K/s",
}
# Times and rates span decades within the bounds: sampled uniformly in their logarithm.
LOG_PARAMS: tuple[str, ...] = ("hold_time_s", "cooling_rate_K_per_s")

ID_COLUMN = "recipe_index"
STRUCTURE_COLUMNS: dict[str, tuple[str | None, float | None, float | None, str]] = {
    "grain_size_um": ("um", 0.0, None, "mean equivalent-circle grain diameter"),
    "astm_g": (None, None, None, "ASTM E112 grain size number (lineal intercept)"),
    "precipitate_fraction": ("dimensionless", 0.0, 1.0, "precipitate area fraction"),
    "precipitate_mean_diameter_um": (
        "um",
        0.0,
        None,
        "mean equivalent-circle precipitate diameter (0: none)",
    ),
    "precipitate_number_density_per_mm2": ("1/mm^2", 0.0, None, "precipitates per mm^2"),
}
PROPERTY_COLUMNS: dict[str, tuple[str | None, float | None, float | None, str]] = {
    "yield_strength_MPa": ("MPa", 0.0, None, "yield strength (superposition model)"),
}
DESIGNS = ("lhs", "random")
DEFAULT_CHUNK_SIZE = 8

Simulator = Callable[[list[Any], int, int], list[Any]]


# --- families and bounds ---------------------------------------------------------------------
def _family(name: str):
    from psplab.sim.families import get_family

    return get_family(name)


def family_bounds(
    family: str, bounds: Mapping[str, Sequence[float]] | None = None
) -> dict[str, tuple[float, float]]:
    """The family's recipe bounds with ``bounds`` overriding some of them.

    Raises
    ------
    ValueError
        For an unknown parameter, a low bound above the high one, or an override outside the
        family's bounds (the simulator rejects such recipes).
    """
    fam = _family(family)
    out = {k: (float(lo), float(hi)) for k, (lo, hi) in fam.bounds.items()}
    problems = []
    for name, value in (bounds or {}).items():
        if name not in RECIPE_PARAMS:
            problems.append(
                f"unknown recipe parameter {name!r} (expected {', '.join(RECIPE_PARAMS)})"
            )
            continue
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            problems.append(f"{name}: bounds must be [low, high], got {value!r}")
            continue
        flo, fhi = out[name]
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            problems.append(f"{name}: low {lo:g} is above high {hi:g}")
        elif lo < flo or hi > fhi:
            problems.append(
                f"{name}: [{lo:g}, {hi:g}] is outside the {family} bounds [{flo:g}, {fhi:g}]"
            )
        else:
            out[name] = (lo, hi)
    if problems:
        raise ValueError("; ".join(problems))
    return out


def load_design_config(path: str | Path) -> tuple[str | None, dict[str, tuple[float, float]]]:
    """Read a design-bounds TOML: optional ``family = "..."`` and ``[bounds]`` ``name = [lo, hi]``.

    Parameters may also be given at the top level (``hold_time_s = [60, 600]``).
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: design config not found")
    try:
        raw = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML: {exc}") from exc
    family = raw.pop("family", None)
    bounds = dict(raw.pop("bounds", {}))
    for key in list(raw):
        if key in RECIPE_PARAMS:
            bounds[key] = raw.pop(key)
    if raw:
        raise ValueError(f"{p}: unknown keys {', '.join(sorted(raw))} (expected family, [bounds])")
    return (None if family is None else str(family)), bounds


def sample_recipes(
    family: str,
    n: int,
    design: str = "lhs",
    seed: int = 0,
    bounds: Mapping[str, Sequence[float]] | None = None,
) -> list:
    """Draw ``n`` recipes of ``family`` within its bounds.

    Parameters
    ----------
    family
        Alloy family name (``ferritic_steel``, ``al_mg``, ``ti_al``).
    n
        Number of recipes.
    design
        ``"lhs"`` (Latin hypercube: each parameter's range cut into ``n`` strata, each stratum
        sampled once; McKay, Beckman & Conover, Technometrics 21 (1979) 239) or ``"random"``.
    seed
        Seed of the design.
    bounds
        ``{param: (low, high)}`` overriding (narrowing) the family's bounds; ``low == high``
        fixes a parameter.

    Returns
    -------
    list of psplab.sim.Recipe
        :data:`LOG_PARAMS` are sampled uniformly in their logarithm.
    """
    from scipy.stats import qmc

    from psplab.sim.families import Recipe

    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r} (expected one of {', '.join(DESIGNS)})")
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    b = family_bounds(family, bounds)
    d = len(RECIPE_PARAMS)
    if design == "lhs":
        u = qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed)).random(int(n))
    else:
        u = np.random.default_rng(seed).random((int(n), d))
    recipes = []
    for row in u:
        values = {}
        for j, name in enumerate(RECIPE_PARAMS):
            lo, hi = b[name]
            if name in LOG_PARAMS and lo > 0:
                v = math.exp(math.log(lo) + row[j] * (math.log(hi) - math.log(lo)))
            else:
                v = lo + row[j] * (hi - lo)
            values[name] = float(min(max(v, lo), hi))
        recipes.append(Recipe(family=family, **values))
    return recipes


# --- evaluation ------------------------------------------------------------------------------
def default_simulator(recipes: list, grid: int, seed: int) -> list:
    """:func:`psplab.sim.simulate_batch` (the real phase-field simulator)."""
    from psplab.sim import simulate_batch

    return simulate_batch(recipes, grid=grid, seed=seed)


def _as_recipe(r: Any):
    from psplab.sim.families import Recipe

    if isinstance(r, Recipe):
        return r
    if isinstance(r, Mapping):
        return Recipe.from_dict(dict(r))
    raise TypeError(f"expected a Recipe or a dict, got {type(r).__name__}")


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 2000 else text[:1997] + "..."


def measure_result(result: Any) -> dict[str, float]:
    """Structure and property columns of one simulated microstructure (periodic domain)."""
    from psplab.measure import measure_grains, measure_particles
    from psplab.strength import yield_strength_mpa

    recipe = result.recipe
    grains = measure_grains(result.grain_labels, result.pixel_um, periodic=True)
    parts = measure_particles(np.asarray(result.phase_labels) == 1, result.pixel_um, periodic=True)
    fraction = float(parts["area_fraction"])
    diameter = float(parts["mean_eq_diameter_um"]) if parts["count"] > 0 else 0.0
    grain_size = float(grains["mean_diameter_um"])
    strength = yield_strength_mpa(
        recipe.family,
        grain_size,
        solute_wt_pct=recipe.solute_wt_pct,
        precipitate_fraction=fraction,
        precipitate_radius_um=diameter / 2 if diameter > 0 else 0.01,
    )
    return {
        "grain_size_um": grain_size,
        "astm_g": float(grains["astm_g_intercept"]),
        "precipitate_fraction": fraction,
        "precipitate_mean_diameter_um": diameter,
        "precipitate_number_density_per_mm2": float(parts["number_density_per_mm2"]),
        "yield_strength_MPa": float(strength),
    }


def _row(index: int, recipe: Any, values: Mapping[str, float] | None, error: str | None) -> dict:
    row: dict[str, Any] = {ID_COLUMN: int(index), "family": recipe.family}
    for name in RECIPE_PARAMS:
        row[name] = float(getattr(recipe, name))
    for name in (*STRUCTURE_COLUMNS, *PROPERTY_COLUMNS):
        row[name] = float(values[name]) if values is not None else float("nan")
    row["error"] = error
    return row


def evaluate_chunk(
    task: tuple[int, list[dict]],
    *,
    grid: int,
    seed: int,
    simulator: Simulator | None = None,
    return_images: bool = False,
) -> tuple[pd.DataFrame, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Simulate, measure and rate one chunk ``(start, recipe_dicts)``; never raises for a recipe.

    The chunk is simulated as one batch with seed ``seed + start``. If the batch raises, each
    recipe is simulated alone (seed ``seed + index``) so that only the failing ones are lost.
    A recipe whose simulation or measurement raises gets a row with its ``error``.
    """
    start, dicts = task
    sim = simulator or default_simulator
    rows: list[dict] = []
    images: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    recipes: list[Any] = []
    for i, d in enumerate(dicts):
        try:
            recipes.append(_as_recipe(d))
        except Exception as exc:  # a malformed recipe is one failed row, not a failed run
            recipes.append(None)
            rows.append(_row_bad(start + i, d, _error_text(exc)))
    good = [(start + i, r) for i, r in enumerate(recipes) if r is not None]
    results: list[tuple[int, Any, Any, str | None]] = []
    try:
        batch = sim([r for _, r in good], int(grid), int(seed) + int(start)) if good else []
        if len(batch) != len(good):
            raise RuntimeError(f"simulator returned {len(batch)} results for {len(good)} recipes")
        results = [(idx, r, res, None) for (idx, r), res in zip(good, batch, strict=True)]
    except Exception:
        for idx, r in good:
            try:
                results.append((idx, r, sim([r], int(grid), int(seed) + idx)[0], None))
            except Exception as exc:
                results.append((idx, r, None, _error_text(exc)))
    for idx, r, res, err in results:
        if err is not None:
            rows.append(_row(idx, r, None, err))
            continue
        try:
            rows.append(_row(idx, r, measure_result(res), None))
            if return_images:
                images[idx] = (
                    np.asarray(res.grain_labels, dtype=np.int32),
                    np.asarray(res.phase_labels, dtype=np.int32),
                )
        except Exception as exc:
            rows.append(_row(idx, r, None, _error_text(exc)))
    frame = pd.DataFrame(rows, columns=_columns()).sort_values(ID_COLUMN, kind="stable")
    return frame.reset_index(drop=True), images


def _row_bad(index: int, d: Any, error: str) -> dict:
    row: dict[str, Any] = {ID_COLUMN: int(index), "family": None}
    src = d if isinstance(d, Mapping) else {}
    row["family"] = str(src.get("family")) if src.get("family") is not None else None
    for name in RECIPE_PARAMS:
        try:
            row[name] = float(src.get(name, float("nan")))
        except (TypeError, ValueError):
            row[name] = float("nan")
    for name in (*STRUCTURE_COLUMNS, *PROPERTY_COLUMNS):
        row[name] = float("nan")
    row["error"] = error
    return row


def _columns() -> list[str]:
    return [ID_COLUMN, "family", *RECIPE_PARAMS, *STRUCTURE_COLUMNS, *PROPERTY_COLUMNS, "error"]


def _chunks(recipes: Sequence[Any], chunk_size: int) -> list[tuple[int, list[dict]]]:
    dicts = [_as_recipe(r).to_dict() if not isinstance(r, Mapping) else dict(r) for r in recipes]
    return [(s, dicts[s : s + chunk_size]) for s in range(0, len(dicts), chunk_size)]


def evaluate_recipes(
    recipes: Iterable[Any],
    grid: int = 64,
    seed: int = 0,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    simulator: Simulator | None = None,
) -> pd.DataFrame:
    """Simulate, measure and rate recipes in this process: one row per recipe.

    Parameters
    ----------
    recipes
        :class:`psplab.sim.Recipe` objects (or their ``to_dict()``).
    grid
        Simulation grid (pixels per side).
    seed
        Base seed (see the module docstring for how chunks derive theirs).
    chunk_size
        Recipes simulated per batch.
    simulator
        ``f(recipes, grid, seed) -> list of SimResult``; default :func:`default_simulator`.

    Returns
    -------
    pandas.DataFrame
        Columns ``recipe_index``, ``family``, the processing parameters, the structure and
        property columns and ``error``, in recipe order. A failed recipe has its error text
        and missing structure/property values; it does not stop the others.
    """
    recipes = list(recipes)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    frames = [
        evaluate_chunk(task, grid=grid, seed=seed, simulator=simulator)[0]
        for task in _chunks(recipes, chunk_size)
    ]
    if not frames:
        return pd.DataFrame(columns=_columns())
    return pd.concat(frames, ignore_index=True)


# --- spec and ground truth -------------------------------------------------------------------
def dataset_spec_for(
    family: str | Sequence[str],
    *,
    bounds: Mapping[str, Sequence[float]] | None = None,
    source: str | Path | None = None,
    name: str | None = None,
) -> DatasetSpec:
    """The dataset spec of generated data: roles, units, bounds and tiers of every column.

    Processing bounds are the family's (with ``bounds`` overrides); with several families the
    union of their bounds, and ``family`` becomes a categorical processing input.
    """
    families = [family] if isinstance(family, str) else list(family)
    if not families:
        raise ValueError("no family given")
    per_family = [family_bounds(f, bounds if len(families) == 1 else None) for f in families]
    cols: list[ColumnSpec] = []
    cols.append(
        ColumnSpec(
            name="family",
            role="processing" if len(families) > 1 else "ignore",
            kind="categorical",
            description="alloy family",
        )
    )
    for p in RECIPE_PARAMS:
        lo = min(b[p][0] for b in per_family)
        hi = max(b[p][1] for b in per_family)
        cols.append(
            ColumnSpec(name=p, role="processing", unit=_PARAM_UNITS[p], min=lo, max=hi, tier=0)
        )
    for col, (unit, lo, hi, desc) in STRUCTURE_COLUMNS.items():
        cols.append(
            ColumnSpec(col, "structure", unit=unit, min=lo, max=hi, tier=1, description=desc)
        )
    for col, (unit, lo, hi, desc) in PROPERTY_COLUMNS.items():
        cols.append(
            ColumnSpec(col, "property", unit=unit, min=lo, max=hi, tier=2, description=desc)
        )
    cols.append(
        ColumnSpec(name="error", role="ignore", kind="categorical", description="failure, if any")
    )
    cols.append(ColumnSpec(name=ID_COLUMN, role="ignore", kind="categorical"))
    return DatasetSpec(
        name=name or ("synthetic-" + "-".join(families)),
        source=None if source is None else Path(source),
        columns=tuple(cols),
        id=ID_COLUMN,
        description="psplab synthetic PSP data: phase-field simulation, measured structure, "
        "superposition strength model",
    )


def true_causal_edges(family: str) -> list[tuple[str, str]]:
    """The simulator's ground-truth DAG over the dataset's column names.

    Processing -> structure edges follow :mod:`psplab.sim.core` (Zener pinning off, the
    default): grain size is set by the deformation strain (recrystallized size) and grows with
    the Arrhenius-integrated heat-hold-cool history; the precipitate fraction is the lever-rule
    fraction at the freeze-in temperature (solute, cooling rate); the precipitate size grows
    with the diffusion integral while supersaturated (solute via the solvus, cooling rate,
    hold temperature and time). Measured derived quantities hang off what they are computed
    from: ``astm_g`` off the grain size, the number density off precipitate fraction and size
    (N_A ~ f / d^2). The property follows the strength model's inputs: grain size (Hall-Petch),
    solute (solid solution), precipitate fraction and size (Orowan).
    """
    _family(family)  # KeyError naming the known families
    return [
        ("deformation_strain", "grain_size_um"),
        ("hold_temperature_C", "grain_size_um"),
        ("hold_time_s", "grain_size_um"),
        ("cooling_rate_K_per_s", "grain_size_um"),
        ("solute_wt_pct", "precipitate_fraction"),
        ("cooling_rate_K_per_s", "precipitate_fraction"),
        ("solute_wt_pct", "precipitate_mean_diameter_um"),
        ("hold_temperature_C", "precipitate_mean_diameter_um"),
        ("hold_time_s", "precipitate_mean_diameter_um"),
        ("cooling_rate_K_per_s", "precipitate_mean_diameter_um"),
        ("grain_size_um", "astm_g"),
        ("precipitate_fraction", "precipitate_number_density_per_mm2"),
        ("precipitate_mean_diameter_um", "precipitate_number_density_per_mm2"),
        ("grain_size_um", "yield_strength_MPa"),
        ("solute_wt_pct", "yield_strength_MPa"),
        ("precipitate_fraction", "yield_strength_MPa"),
        ("precipitate_mean_diameter_um", "yield_strength_MPa"),
    ]


# --- resumable, distributed generation -------------------------------------------------------
def parts_dir_for(out_parquet: str | Path) -> Path:
    """Folder holding the finished chunks of an unfinished run: ``<out>.parts/``."""
    out = Path(out_parquet)
    return out.with_name(out.name + ".parts")


def _fingerprint(
    chunks: list[tuple[int, list[dict]]], grid: int, seed: int, chunk_size: int
) -> str:
    payload = json.dumps(
        {"chunks": chunks, "grid": int(grid), "seed": int(seed), "chunk_size": int(chunk_size)},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _part_path(parts: Path, start: int) -> Path:
    return parts / f"chunk-{start:08d}.parquet"


def _image_paths(images_dir: Path, index: int) -> tuple[Path, Path]:
    return (
        images_dir / f"recipe_{index:06d}_grains.npy",
        images_dir / f"recipe_{index:06d}_phases.npy",
    )


def _chunk_done(parts: Path, task: tuple[int, list[dict]], images_dir: Path | None) -> bool:
    start, dicts = task
    path = _part_path(parts, start)
    if not path.is_file():
        return False
    try:
        frame = pd.read_parquet(path)
    except Exception:  # a part cut short by a crash: redo the chunk
        path.unlink(missing_ok=True)
        return False
    expected = list(range(start, start + len(dicts)))
    if sorted(frame[ID_COLUMN].astype(int).tolist()) != expected:
        path.unlink(missing_ok=True)
        return False
    if images_dir is not None:
        ok = frame.loc[frame["error"].isna(), ID_COLUMN].astype(int)
        if not all(p.is_file() for i in ok for p in _image_paths(images_dir, i)):
            return False
    return True


def _write_atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)  # a reader never sees half a file


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
) -> Path:
    """Generate a dataset on Dask, resumably; write Parquet + spec TOML; return the Parquet path.

    Parameters
    ----------
    recipes
        Recipes (e.g. from :func:`sample_recipes`).
    out_parquet
        Output table; its spec is written beside it as ``<stem>.toml`` and failed recipes
        (if any) are also listed in ``<stem>.failures.json``.
    grid, seed
        Simulation grid and base seed.
    images_dir
        If given, the label images are saved there as ``recipe_NNNNNN_grains.npy`` and
        ``recipe_NNNNNN_phases.npy``.
    workers, scheduler
        Dask: ``workers`` processes on a LocalCluster (default: CPU count; ``0``: run here,
        without Dask) or an existing scheduler's address.
    chunk_size
        Recipes per task (one simulated batch, one part file).
    bounds
        Bound overrides the recipes were sampled with (go into the spec).
    simulator
        Replaces the phase-field simulator (``f(recipes, grid, seed)``; must be importable
        for Dask workers).
    name
        Dataset name in the spec (default: the Parquet's stem).
    progress
        Show a progress bar (when attached to a terminal).

    Notes
    -----
    Each finished chunk is written at once to ``<out>.parts/chunk-<start>.parquet``. Running
    the same call again after an interruption skips the chunks already there; a parts folder
    from a different run (other recipes, grid, seed or chunk size) is refused. When all chunks
    are done the table is assembled (every recipe exactly once, in order) and the parts
    folder is removed.
    """
    from psplab.distributed import map_as_completed
    from psplab.progress import stage

    recipes = [_as_recipe(r) for r in recipes]
    if not recipes:
        raise ValueError("no recipes to simulate")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    out = Path(out_parquet)
    out.parent.mkdir(parents=True, exist_ok=True)
    img_dir = None if images_dir is None else Path(images_dir)
    if img_dir is not None:
        img_dir.mkdir(parents=True, exist_ok=True)
    tasks = _chunks(recipes, chunk_size)
    fingerprint = _fingerprint(tasks, grid, seed, chunk_size)
    parts = parts_dir_for(out)
    run_file = parts / "run.json"
    if parts.is_dir() and run_file.is_file():
        previous = json.loads(run_file.read_text()).get("fingerprint")
        if previous != fingerprint:
            raise ValueError(
                f"{parts} holds chunks of a different run (other recipes, grid, seed or chunk "
                "size); delete it or write to another --out"
            )
    parts.mkdir(parents=True, exist_ok=True)
    run_file.write_text(
        json.dumps(
            {"fingerprint": fingerprint, "n_recipes": len(recipes), "grid": grid, "seed": seed}
        )
    )
    todo = [t for t in tasks if not _chunk_done(parts, t, img_dir)]
    n_done = len(recipes) - sum(len(d) for _, d in todo)

    with stage("simulate", total=len(recipes)) if progress else _null_stage() as (bar, task_id):
        if bar is not None:
            bar.advance(task_id, n_done)
        if todo:
            for i, (frame, images) in map_as_completed(
                evaluate_chunk,
                todo,
                workers=workers,
                scheduler=scheduler,
                grid=grid,
                seed=seed,
                simulator=simulator,
                return_images=img_dir is not None,
            ):
                if img_dir is not None:
                    for idx, (g, ph) in images.items():
                        gp, pp = _image_paths(img_dir, idx)
                        np.save(gp, g)
                        np.save(pp, ph)
                # Images first, part last: a part on disk means the chunk is wholly done.
                _write_atomic_parquet(frame, _part_path(parts, todo[i][0]))
                if bar is not None:
                    bar.advance(task_id, len(todo[i][1]))

    frames = [pd.read_parquet(_part_path(parts, start)) for start, _ in tasks]
    table = pd.concat(frames, ignore_index=True).sort_values(ID_COLUMN, kind="stable")
    table = table.reset_index(drop=True)
    indices = table[ID_COLUMN].astype(int).to_numpy()
    if not np.array_equal(indices, np.arange(len(recipes))):
        raise RuntimeError(f"assembled table does not hold every recipe exactly once ({parts})")
    table["error"] = table["error"].astype(object).where(table["error"].notna(), None)
    _write_atomic_parquet(table, out)
    families = sorted({r.family for r in recipes})
    spec = dataset_spec_for(
        families[0] if len(families) == 1 else families,
        bounds=bounds,
        source=out.resolve(),
        name=name or out.stem,
    )
    spec.to_toml(spec_path_for(out))
    failures = failures_path_for(out)
    failed = table[table["error"].notna()]
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
    return out


def spec_path_for(out_parquet: str | Path) -> Path:
    """``<stem>.toml`` beside the Parquet file."""
    return Path(out_parquet).with_suffix(".toml")


def failures_path_for(out_parquet: str | Path) -> Path:
    """``<stem>.failures.json`` beside the Parquet file (only written when a recipe failed)."""
    out = Path(out_parquet)
    return out.with_name(out.stem + ".failures.json")


class _null_stage:
    def __enter__(self):
        return None, None

    def __exit__(self, *exc):
        return False
