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

from psplab._lazy import lazy_package

# Names resolve on first use: `psplab --help` imports this package's commands module, which
# must not load JAX, scikit-learn or matplotlib.
__getattr__, __dir__, __all__ = lazy_package(
    __name__,
    {
        "acquire": ("ACQUISITIONS", "acquisition_scores", "suggest_batch"),
        "cameo": ("CameoBaseline",),
        "check": ("PhaseMapCheck", "check_phase_map"),
        "config": ("PhaseMapConfig", "load_config"),
        "estimator": ("ChangePointModel", "PhaseMapModel", "SamplingWarning", "load_phase_map"),
        "gp": ("kernel",),
        "grid": ("PhaseMapGrid", "predict_grid", "read_phase_map_grid"),
        "plots": ("plot_entropy_map", "plot_phase_map", "plot_property_map", "plot_region_map"),
        "prediction": ("PhaseMapPrediction", "entropy"),
        "runs": ("PhaseMapRun", "check_folds", "fit_run", "load_run", "predict_run", "suggest_run"),
        "sources": ("PropertySource", "StructureSource", "independent_columns"),
        "synthetic": (
            "DEMO_MODEL_PARAMS", "PhaseMapDemo", "SyntheticLibrary", "fit_phase_map_demo",
            "synthetic_library",
        ),
        "xrd": ("cluster_patterns", "fowlkes_mallows", "match_labels"),
    },
)  # fmt: skip
