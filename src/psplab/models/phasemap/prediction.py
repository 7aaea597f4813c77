"""What a fitted phase map predicts at query points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["PhaseMapPrediction", "entropy"]


@dataclass
class PhaseMapPrediction:
    """What :meth:`PhaseMapModel.predict` returns (arrays over the query points).

    Attributes
    ----------
    probs : numpy.ndarray
        ``(n, K)`` posterior-mean region probabilities.
    entropy : numpy.ndarray
        ``(n,)`` entropy of ``probs`` in nats.
    labels : numpy.ndarray
        ``(n,)`` most probable region, named as the structure sources' labels.
    mean : numpy.ndarray
        ``(n, T)`` property posterior-predictive mean (property units).
    std : numpy.ndarray
        ``(n, T)`` posterior spread + conditional GP variance + noise, as a standard deviation.
    property_names : list of str
        The ``T`` properties.
    region_names : list of str
        The ``K`` regions.
    """

    probs: np.ndarray
    entropy: np.ndarray
    labels: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    property_names: list[str] = field(default_factory=list)
    region_names: list[str] = field(default_factory=list)

    def to_frame(self, X: np.ndarray | None = None, coords: Sequence[str] | None = None):
        """The prediction as a table, one row per query point.

        Parameters
        ----------
        X : numpy.ndarray, optional
            The query points, written first.
        coords : sequence of str, optional
            Names of the columns of ``X`` (default ``x0, x1, ...``).

        Returns
        -------
        frame : pandas.DataFrame
            Coordinates, ``p_<region>``, ``entropy``, ``label``, ``<prop>_mean``, ``<prop>_std``.
        """
        import pandas as pd

        cols: dict[str, Any] = {}
        if X is not None:
            X = np.asarray(X, dtype=float).reshape(len(self.entropy), -1)
            names = list(coords) if coords is not None else [f"x{i}" for i in range(X.shape[1])]
            for i, name in enumerate(names):
                cols[name] = X[:, i]
        for k, name in enumerate(self.region_names):
            cols[f"p_{name}"] = self.probs[:, k]
        cols["entropy"] = self.entropy
        cols["label"] = self.labels
        for t, name in enumerate(self.property_names):
            cols[f"{name}_mean"] = self.mean[:, t]
            cols[f"{name}_std"] = self.std[:, t]
        return pd.DataFrame(cols)


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of ``probs``.

    Parameters
    ----------
    probs : numpy.ndarray
        ``(..., K)`` probabilities.

    Returns
    -------
    entropy : numpy.ndarray
        ``(...)``.
    """
    p = np.clip(np.asarray(probs, dtype=float), 1e-300, 1.0)
    return -np.sum(p * np.log(p), axis=-1)
