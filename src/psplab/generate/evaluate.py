"""Simulate, measure and rate recipes: one dataset row per recipe, failures recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from psplab.errors import InputError
from psplab.generate.columns import PIXEL_COLUMNS, PROPERTY_COLUMNS, STRUCTURE_COLUMNS
from psplab.generate.store import ID_COLUMN
from psplab.sim.families import RECIPE_PARAMS

DEFAULT_CHUNK_SIZE = 8

Simulator = Callable[[list[Any], int, int], list[Any]]


def default_simulator(recipes: list, grid: int, seed: int, pixel_um: float | None = None) -> list:
    """:func:`psplab.sim.simulate_batch` (the real phase-field simulator).

    Parameters
    ----------
    recipes : list of Recipe
        The batch.
    grid : int
        Pixels per side of the grain image.
    seed : int
        Seed of the batch.
    pixel_um : float, optional
        Force the grain pixel (µm); default: each recipe's own (final grain size / 12).

    Returns
    -------
    list of SimResult
    """
    from psplab.sim import simulate_batch

    return simulate_batch(recipes, grid=grid, seed=seed, pixel_um=pixel_um)


def as_recipe(r: Any):
    """A :class:`~psplab.sim.Recipe` from a recipe or its ``to_dict()``; ``TypeError`` otherwise.

    Parameters
    ----------
    r : Recipe or mapping
        A recipe or its dict.

    Returns
    -------
    Recipe
    """
    from psplab.sim.families import Recipe

    if isinstance(r, Recipe):
        return r
    if isinstance(r, Mapping):
        return Recipe.from_dict(dict(r))
    raise TypeError(f"expected a Recipe or a dict, got {type(r).__name__}")


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 2000 else text[:1997] + "..."


def _precipitate_image(result: Any) -> tuple[np.ndarray, float]:
    """The precipitate image and its pixel (older simulators give only ``phase_labels``)."""
    labels = getattr(result, "precipitate_labels", None)
    if labels is None:
        return np.asarray(result.phase_labels), float(result.pixel_um)
    return np.asarray(labels), float(result.precipitate_pixel_um)


def measure_result(result: Any) -> dict[str, float]:
    """Structure, property and pixel columns of one simulated microstructure (periodic).

    Grains are measured on the grain image at its pixel, precipitates on the precipitate image
    at its own pixel, both as :mod:`psplab.measure` measures a micrograph.

    Parameters
    ----------
    result : SimResult
        A simulation.

    Returns
    -------
    dict
        The :data:`STRUCTURE_COLUMNS`, :data:`PROPERTY_COLUMNS` and :data:`PIXEL_COLUMNS`.
    """
    from psplab.measure import measure_grains, measure_particles
    from psplab.strength import yield_strength_mpa

    recipe = result.recipe
    grains = measure_grains(result.grain_labels, result.pixel_um, periodic=True)
    precipitates, precipitate_px = _precipitate_image(result)
    parts = measure_particles(precipitates == 1, precipitate_px, periodic=True)
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
        "pixel_um": float(result.pixel_um),
        "precipitate_pixel_um": precipitate_px,
    }


def _value_columns() -> tuple[str, ...]:
    return (*STRUCTURE_COLUMNS, *PROPERTY_COLUMNS, *PIXEL_COLUMNS)


def _row(index: int, recipe: Any, values: Mapping[str, float] | None, error: str | None) -> dict:
    row: dict[str, Any] = {ID_COLUMN: int(index), "family": recipe.family}
    for name in RECIPE_PARAMS:
        row[name] = float(getattr(recipe, name))
    for name in _value_columns():
        row[name] = float(values[name]) if values is not None else float("nan")
    row["error"] = error
    return row


def _simulate_chunk(sim: Simulator, good: list, grid: int, seed: int, start: int) -> list[tuple]:
    """``(index, recipe, result, error)`` per recipe: the batch (seed ``seed + start``), or one
    by one (seed ``seed + index``) if it raises."""
    try:
        batch = sim([r for _, r in good], int(grid), int(seed) + start) if good else []
        if len(batch) != len(good):
            raise RuntimeError(f"simulator returned {len(batch)} results for {len(good)} recipes")
        return [(idx, r, res, None) for (idx, r), res in zip(good, batch, strict=True)]
    except Exception:  # noqa: BLE001 - isolate the failing recipes, keep the others
        results = []
        for idx, r in good:
            try:
                results.append((idx, r, sim([r], int(grid), int(seed) + idx)[0], None))
            except Exception as exc:  # noqa: BLE001 - one failed row, not a failed run
                results.append((idx, r, None, _error_text(exc)))
        return results


def _images(res: Any) -> dict[str, np.ndarray]:
    precipitates, _ = _precipitate_image(res)
    return {
        "grains": np.asarray(res.grain_labels, dtype=np.int32),
        "phases": np.asarray(res.phase_labels, dtype=np.int32),
        "precipitates": precipitates.astype(np.uint8),
    }


def evaluate_chunk(
    task: tuple[int, list[dict]],
    *,
    grid: int,
    seed: int,
    simulator: Simulator | None = None,
    return_images: bool = False,
) -> tuple[pd.DataFrame, dict[int, dict[str, np.ndarray]]]:
    """Simulate, measure and rate one chunk ``(start, recipe_dicts)``; never raises for a recipe.

    The chunk is simulated as one batch with seed ``seed + start``. If the batch raises, each
    recipe is simulated alone (seed ``seed + index``) so that only the failing ones are lost.
    A recipe whose simulation or measurement raises gets a row with its ``error``.

    Parameters
    ----------
    task : tuple
        ``(start, recipe_dicts)``: index of the first recipe and the recipes.
    grid, seed : int
        Simulation grid and base seed.
    simulator : callable, optional
        ``f(recipes, grid, seed)``; default :func:`default_simulator`.
    return_images : bool
        Also return each good recipe's images.

    Returns
    -------
    frame : pandas.DataFrame
        One row per recipe, in index order.
    images : dict
        ``{index: {"grains", "phases", "precipitates"}}`` (empty unless ``return_images``).
    """
    start, dicts = task
    rows: list[dict] = []
    good = []
    for i, d in enumerate(dicts):
        try:
            good.append((start + i, as_recipe(d)))
        except Exception as exc:  # noqa: BLE001 - a malformed recipe is one failed row
            rows.append(_row_bad(start + i, d, _error_text(exc)))
    images: dict[int, dict[str, np.ndarray]] = {}
    simulated = _simulate_chunk(simulator or default_simulator, good, grid, int(seed), start)
    for idx, r, res, err in simulated:
        if err is not None:
            rows.append(_row(idx, r, None, err))
            continue
        try:
            rows.append(_row(idx, r, measure_result(res), None))
            if return_images:
                images[idx] = _images(res)
        except Exception as exc:  # noqa: BLE001 - a failed measurement is one failed row
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
    for name in _value_columns():
        row[name] = float("nan")
    row["error"] = error
    return row


def _columns() -> list[str]:
    return [ID_COLUMN, "family", *RECIPE_PARAMS, *_value_columns(), "error"]


def recipe_chunks(recipes: Sequence[Any], chunk_size: int) -> list[tuple[int, list[dict]]]:
    """Consecutive ``(start, recipe_dicts)`` chunks of at most ``chunk_size`` recipes.

    Parameters
    ----------
    recipes : sequence
        Recipes or their dicts.
    chunk_size : int
        Recipes per chunk.

    Returns
    -------
    list of (int, list of dict)
    """
    dicts = [as_recipe(r).to_dict() if not isinstance(r, Mapping) else dict(r) for r in recipes]
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
    recipes : iterable
        :class:`psplab.sim.Recipe` objects (or their ``to_dict()``).
    grid : int
        Simulation grid (pixels per side).
    seed : int
        Base seed (see the module docstring for how chunks derive theirs).
    chunk_size : int
        Recipes simulated per batch.
    simulator : callable, optional
        ``f(recipes, grid, seed) -> list of SimResult``; default :func:`default_simulator`.

    Returns
    -------
    pandas.DataFrame
        Columns ``recipe_index``, ``family``, the processing parameters, the structure,
        property and pixel columns and ``error``, in recipe order. A failed recipe has its
        error text and missing values; it does not stop the others.
    """
    recipes = list(recipes)
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    frames = [
        evaluate_chunk(task, grid=grid, seed=seed, simulator=simulator)[0]
        for task in recipe_chunks(recipes, chunk_size)
    ]
    if not frames:
        return pd.DataFrame(columns=_columns())
    return pd.concat(frames, ignore_index=True)
