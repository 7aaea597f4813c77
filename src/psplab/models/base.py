"""The interface every psplab predictor shares (BHN, GP, deep ensemble, MC dropout, RF, SAGE).

Contract (scikit-learn style, with uncertainty):

* ``__init__`` only stores parameters; learned attributes end in ``_``.
* ``fit(X, y)`` takes ``X`` of shape ``(n, d)`` and ``y`` of shape ``(n,)`` or ``(n, t)`` and
  returns ``self``. Targets are standardized internally; outputs are in the targets' units.
* ``predict(X)`` returns the predictive mean, ``(n,)`` or ``(n, t)`` as ``y`` was given.
* ``predict_dist(X)`` returns ``(mean, std)``: the std of the posterior predictive, i.e. model
  (epistemic) spread plus the noise.
* ``predict_quantiles(X, q)`` returns an array ``(len(q), n[, t])``.
* ``sample(X, n_samples, seed)`` returns joint posterior-predictive draws ``(n_samples, n[, t])``;
  draws of the latent function (no noise) with ``include_noise=False``.
* ``save(path)`` writes ``path.npz`` + ``path.json`` (never pickle); ``load_model(path)`` reads.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

MODEL_REGISTRY: dict[str, type[ProbabilisticRegressor]] = {}


def register_model(name: str):
    """Class decorator: make a model available by name (CLI ``--model NAME``, ``load_model``)."""

    def wrap(cls: type[ProbabilisticRegressor]) -> type[ProbabilisticRegressor]:
        cls.model_name = name
        MODEL_REGISTRY[name] = cls
        return cls

    return wrap


class ProbabilisticRegressor(ABC):
    """Base class for regressors that say how sure they are."""

    model_name: ClassVar[str] = "base"

    # --- to implement -------------------------------------------------------------------
    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> ProbabilisticRegressor: ...

    @abstractmethod
    def predict_dist(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def sample(
        self, X: np.ndarray, n_samples: int = 100, seed: int = 0, include_noise: bool = True
    ) -> np.ndarray: ...

    @abstractmethod
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays (for .npz) and JSON metadata that rebuild the fitted model."""

    @abstractmethod
    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None: ...

    # --- shared -------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (scikit-learn convention: attributes without trailing ``_``)."""
        import inspect

        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self" and hasattr(self, k)}

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_dist(X)[0]

    def predict_quantiles(self, X: np.ndarray, q: np.ndarray | list[float]) -> np.ndarray:
        """Gaussian quantiles of the predictive by default; sample-based models override."""
        mean, std = self.predict_dist(X)
        from scipy import stats  # here, not at import: keeps `psplab --help` fast

        z = stats.norm.ppf(np.asarray(q, dtype=float))
        return mean[None, ...] + z.reshape((-1,) + (1,) * mean.ndim) * std[None, ...]

    def save(self, path: str | Path) -> Path:
        """Write ``path.npz`` (arrays) and ``path.json`` (parameters, metadata)."""
        base = Path(path)
        base.parent.mkdir(parents=True, exist_ok=True)
        arrays, meta = self._get_state()
        np.savez(base.with_suffix(".npz"), **arrays)
        payload = {"model": self.model_name, "params": self.get_params(), "state": meta}
        base.with_suffix(".json").write_text(json.dumps(payload, indent=2, default=_json_default))
        return base.with_suffix(".json")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialize {type(obj).__name__}")


def load_model(path: str | Path) -> ProbabilisticRegressor:
    """Rebuild a model saved with :meth:`ProbabilisticRegressor.save`."""
    base = Path(path)
    meta_path = base.with_suffix(".json")
    payload = json.loads(meta_path.read_text())
    name = payload["model"]
    if name not in MODEL_REGISTRY:
        # Models register on import; import the modules that define them.
        from psplab.models import _import_models

        _import_models()
    if name not in MODEL_REGISTRY:
        raise ValueError(f"{meta_path}: unknown model {name!r}")
    cls = MODEL_REGISTRY[name]
    model = cls(**payload["params"])
    with np.load(base.with_suffix(".npz")) as npz:
        arrays = {k: npz[k] for k in npz.files}
    model._set_state(arrays, payload["state"])
    return model


def as_2d_targets(y: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return ``y`` as ``(n, t)`` and whether the caller gave a 1-D vector."""
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        return y[:, None], True
    if y.ndim == 2:
        return y, False
    raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
