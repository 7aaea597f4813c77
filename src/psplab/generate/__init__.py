"""Synthetic process-structure-property datasets: recipe -> simulation -> measurement -> strength.

Every row of a generated dataset is one processing recipe of an alloy family:

* processing (tier 0): the recipe parameters :data:`psplab.sim.RECIPE_PARAMS`;
* structure (tier 1), measured on the simulated images with :mod:`psplab.measure` exactly as
  on a micrograph, each image at its own pixel: ``grain_size_um`` (mean equivalent-circle
  diameter of the grains), ``astm_g`` (ASTM E112 G by lineal intercepts) from the grain image;
  ``precipitate_fraction`` (area fraction), ``precipitate_mean_diameter_um`` (mean
  equivalent-circle diameter; 0 when there are no precipitates) and
  ``precipitate_number_density_per_mm2`` from the precipitate image;
* property (tier 2): ``yield_strength_MPa`` from :func:`psplab.strength.yield_strength_mpa`
  with the measured grain size, the recipe's solute, the measured precipitate fraction and
  radius (half the mean diameter).

Bookkeeping columns: ``recipe_index`` (the row id), ``family``, ``pixel_um`` and
``precipitate_pixel_um`` (the pixels the simulator chose for the row's images) and ``error``
(empty unless the recipe failed; then the structure and property cells are missing).

Determinism: recipes are simulated in fixed chunks of ``chunk_size`` consecutive indices;
the chunk starting at index ``c`` is simulated with ``simulate_batch(..., seed=seed + c)``.
So a dataset depends on (recipes, grid, seed, chunk_size, pixel) only -- not on the number of
workers, their order, or on interruptions and resumes.

Modules: :mod:`~psplab.generate.columns` (columns, spec, causal ground truth),
:mod:`~psplab.generate.evaluate` (simulate, measure, rate), :mod:`~psplab.generate.dataset`
(resumable generation on Dask, ``psplab simulate``), :mod:`~psplab.generate.store` (files of
a run).
"""

from __future__ import annotations

from psplab.generate.columns import (
    PIXEL_COLUMNS,
    PROPERTY_COLUMNS,
    STRUCTURE_COLUMNS,
    dataset_spec_for,
    true_causal_edges,
)
from psplab.generate.dataset import (
    MAX_RECIPES,
    check_generation_request,
    generate_dataset,
    simulate_dataset,
    write_simulated_image_table,
)
from psplab.generate.evaluate import (
    DEFAULT_CHUNK_SIZE,
    default_simulator,
    evaluate_chunk,
    evaluate_recipes,
    measure_result,
)
from psplab.generate.store import (
    ID_COLUMN,
    IMAGE_KINDS,
    failures_path_for,
    image_paths,
    parts_dir_for,
    spec_path_for,
)
from psplab.sim.design import DESIGNS, LOG_PARAMS, family_bounds, load_design_config, sample_recipes
from psplab.sim.families import RECIPE_PARAMS

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DESIGNS",
    "ID_COLUMN",
    "IMAGE_KINDS",
    "LOG_PARAMS",
    "MAX_RECIPES",
    "PIXEL_COLUMNS",
    "PROPERTY_COLUMNS",
    "RECIPE_PARAMS",
    "STRUCTURE_COLUMNS",
    "check_generation_request",
    "dataset_spec_for",
    "default_simulator",
    "evaluate_chunk",
    "evaluate_recipes",
    "failures_path_for",
    "family_bounds",
    "generate_dataset",
    "image_paths",
    "load_design_config",
    "measure_result",
    "parts_dir_for",
    "sample_recipes",
    "simulate_dataset",
    "spec_path_for",
    "true_causal_edges",
    "write_simulated_image_table",
]
