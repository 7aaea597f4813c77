"""Phase maps: one Bayesian model of the phase regions and the piecewise property functions.

Fit structure measurements (phase labels, soft labels, diffraction patterns) and property
measurements taken at different points of a composition or processing space together, and get
region probabilities, boundary uncertainty and property predictions with uncertainty
(SAGE, Kusne et al., arXiv:2311.06228). See ``docs/sage.md``.

* :class:`PhaseMapModel` (and the 1-D :class:`ChangePointModel`) — the estimator;
  :class:`StructureSource` / :class:`PropertySource` — its data.
* :func:`load_config` / :func:`fit_run` — a phase map from a TOML config, written as a run
  directory (``psplab phasemap fit``).
* :func:`suggest_batch` — where to measure next; :func:`check_phase_map` — a held-out check
  against one plain GP.
* :func:`plot_phase_map` and friends — figures from a model's grid or a run directory.
* :func:`cluster_patterns` — XRD patterns to soft labels; :class:`CameoBaseline` — the
  sequential baseline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
    from psplab.models.phasemap.acquire import ACQUISITIONS, acquisition_scores, suggest_batch
    from psplab.models.phasemap.cameo import CameoBaseline
    from psplab.models.phasemap.check import PhaseMapCheck, check_phase_map
    from psplab.models.phasemap.config import PhaseMapConfig, load_config
    from psplab.models.phasemap.estimator import (
        ChangePointModel,
        PhaseMapModel,
        SamplingWarning,
        load_phase_map,
    )
    from psplab.models.phasemap.gp import kernel
    from psplab.models.phasemap.grid import PhaseMapGrid, predict_grid, read_phase_map_grid
    from psplab.models.phasemap.plots import (
        plot_entropy_map,
        plot_phase_map,
        plot_property_map,
        plot_region_map,
    )
    from psplab.models.phasemap.prediction import PhaseMapPrediction, entropy
    from psplab.models.phasemap.runs import (
        PhaseMapRun,
        check_folds,
        fit_run,
        load_run,
        predict_run,
        suggest_run,
    )
    from psplab.models.phasemap.sources import PropertySource, StructureSource, independent_columns
    from psplab.models.phasemap.synthetic import (
        DEMO_MODEL_PARAMS,
        PhaseMapDemo,
        SyntheticLibrary,
        fit_phase_map_demo,
        synthetic_library,
    )
    from psplab.models.phasemap.xrd import cluster_patterns, fowlkes_mallows, match_labels

# Lazy attributes (PEP 562): `psplab --help` imports the commands module of this package, which
# must not load JAX, scikit-learn or matplotlib.
_EXPORTS = {
    "ACQUISITIONS": "acquire",
    "acquisition_scores": "acquire",
    "suggest_batch": "acquire",
    "CameoBaseline": "cameo",
    "PhaseMapCheck": "check",
    "check_phase_map": "check",
    "PhaseMapConfig": "config",
    "load_config": "config",
    "ChangePointModel": "estimator",
    "PhaseMapModel": "estimator",
    "PhaseMapPrediction": "prediction",
    "SamplingWarning": "estimator",
    "entropy": "prediction",
    "load_phase_map": "estimator",
    "kernel": "gp",
    "PhaseMapGrid": "grid",
    "predict_grid": "grid",
    "read_phase_map_grid": "grid",
    "plot_entropy_map": "plots",
    "plot_phase_map": "plots",
    "plot_property_map": "plots",
    "plot_region_map": "plots",
    "PhaseMapRun": "runs",
    "check_folds": "runs",
    "fit_run": "runs",
    "load_run": "runs",
    "predict_run": "runs",
    "suggest_run": "runs",
    "PropertySource": "sources",
    "StructureSource": "sources",
    "independent_columns": "sources",
    "DEMO_MODEL_PARAMS": "synthetic",
    "PhaseMapDemo": "synthetic",
    "SyntheticLibrary": "synthetic",
    "fit_phase_map_demo": "synthetic",
    "synthetic_library": "synthetic",
    "cluster_patterns": "xrd",
    "fowlkes_mallows": "xrd",
    "match_labels": "xrd",
}

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = [
    "ACQUISITIONS",
    "CameoBaseline",
    "ChangePointModel",
    "DEMO_MODEL_PARAMS",
    "PhaseMapCheck",
    "PhaseMapConfig",
    "PhaseMapDemo",
    "PhaseMapGrid",
    "PhaseMapModel",
    "PhaseMapPrediction",
    "PhaseMapRun",
    "PropertySource",
    "SamplingWarning",
    "StructureSource",
    "SyntheticLibrary",
    "acquisition_scores",
    "check_folds",
    "check_phase_map",
    "cluster_patterns",
    "entropy",
    "fit_phase_map_demo",
    "fit_run",
    "fowlkes_mallows",
    "independent_columns",
    "kernel",
    "load_config",
    "load_phase_map",
    "load_run",
    "match_labels",
    "plot_entropy_map",
    "plot_phase_map",
    "plot_property_map",
    "plot_region_map",
    "predict_grid",
    "predict_run",
    "read_phase_map_grid",
    "suggest_batch",
    "suggest_run",
    "synthetic_library",
]
