"""Predictors with uncertainty: the Bayesian hypernetwork, baselines and the SAGE phase-map model.

Use :func:`make_model` to build a regressor by its CLI name (``bhn``, ``gp``, ``ensemble``,
``dropout``, ``rf``); every one follows :class:`psplab.models.base.ProbabilisticRegressor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psplab._lazy import lazy_attributes

if TYPE_CHECKING:
    from psplab.models.base import ProbabilisticRegressor, load_model
    from psplab.models.phasemap import ChangePointModel, PhaseMapModel

MODEL_NAMES = ("bhn", "gp", "ensemble", "dropout", "rf")


def _import_models() -> None:
    # Importing the modules registers their classes; kept lazy so `import psplab.models` is cheap.
    import psplab.models.baselines  # noqa: F401
    import psplab.models.bhn  # noqa: F401


def make_model(name: str, **params: Any) -> ProbabilisticRegressor:
    """A new, unfitted regressor by name, e.g. ``make_model("gp")`` or ``make_model("bhn", seed=1)``."""
    from psplab.models.base import MODEL_REGISTRY

    if name not in MODEL_REGISTRY:
        _import_models()
    if name not in MODEL_REGISTRY:
        raise ValueError(
            f"unknown model {name!r} (expected one of {', '.join(sorted(MODEL_REGISTRY))})"
        )
    return MODEL_REGISTRY[name](**params)


# PEP 562: the estimator base (NumPy) loads on first use, so the CLI starts fast.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "MODEL_REGISTRY": "base",
        "ProbabilisticRegressor": "base",
        "load_model": "base",
        "ChangePointModel": "phasemap",
        "PhaseMapModel": "phasemap",
    },
)


__all__ = [
    "MODEL_NAMES",
    "ChangePointModel",
    "PhaseMapModel",
    "ProbabilisticRegressor",
    "load_model",
    "make_model",
]
