"""Applicability domain: how far a row lies from the data a model was trained on.

The score of a row is its mean Euclidean distance to its ``k`` nearest training rows in the
model's scaled input space (:meth:`psplab.models.preprocessing.Preprocessor.domain_inputs`),
divided by a threshold. The threshold is a conformal quantile of the same distance measured
for every training row against the *other* training rows (leave-one-out): the
``ceil(0.95 (n + 1))``-th smallest of those ``n`` values. A new row drawn like the training rows
then exceeds it (score > 1, ``in_domain`` False) with probability about 5 %; a row from
elsewhere (a new alloy family, a value beyond the training range, a composition the training
never had) scores well above 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DOMAIN_LEVEL", "KNNDomain"]

#: Share of in-distribution rows that the threshold keeps inside the domain.
DOMAIN_LEVEL = 0.95
_K = 5


@dataclass
class KNNDomain:
    """k-nearest-neighbour applicability domain; build with :meth:`fit`.

    A row's score is its mean distance to its ``k`` nearest training rows over ``threshold``.

    Parameters
    ----------
    points : numpy.ndarray
        Training rows ``(n, d)`` in the scaled input space.
    threshold : float
        Distance at which the score is 1.
    k : int
        Neighbours averaged.
    """

    points: np.ndarray
    threshold: float
    k: int
    _tree: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def fit(cls, Z: np.ndarray, k: int = _K, level: float = DOMAIN_LEVEL) -> KNNDomain:
        """Calibrate the threshold on the training rows ``Z (n, d)``.

        Parameters
        ----------
        Z : numpy.ndarray
            Scaled training inputs.
        k : int
            Neighbours averaged (at most ``n - 1``).
        level : float
            Share of in-distribution rows to keep inside.

        Returns
        -------
        domain : KNNDomain
            The fitted domain.
        """
        # Repeated rows (replicates, tiles of one image) add no coverage; kept, each would be
        # its twin's nearest neighbour at distance 0 and shrink the threshold towards 0.
        Z = np.unique(np.asarray(Z, dtype=float), axis=0)
        n = Z.shape[0]
        k = max(1, min(int(k), n - 1))
        domain = cls(points=Z, threshold=1.0, k=k)
        if n < 2:  # one distinct row: any other row is outside
            domain.threshold = 1e-9
            return domain
        # Each row's own zero distance comes first; the next k are its leave-one-out neighbours.
        dist = domain._neighbours(Z, k + 1)[:, 1:].mean(axis=1)
        rank = min(n, math.ceil(level * (n + 1)))
        threshold = float(np.sort(dist)[rank - 1])
        domain.threshold = threshold if threshold > 0 else 1e-9
        return domain

    def _neighbours(self, Z: np.ndarray, k: int) -> np.ndarray:
        if self._tree is None:
            from sklearn.neighbors import NearestNeighbors

            self._tree = NearestNeighbors(n_neighbors=k).fit(self.points)
        dist, _ = self._tree.kneighbors(np.asarray(Z, dtype=float), n_neighbors=k)
        return dist

    def score(self, Z: np.ndarray) -> np.ndarray:
        """Domain score ``(n,)`` of rows ``Z``: 1 at the threshold, larger farther out.

        Parameters
        ----------
        Z : numpy.ndarray
            Scaled inputs of the rows, as the training rows were scaled.

        Returns
        -------
        score : numpy.ndarray
            Mean distance to the ``k`` nearest training rows over the threshold.
        """
        if Z.shape[1] == 0:
            return np.zeros(Z.shape[0])
        return self._neighbours(Z, self.k).mean(axis=1) / self.threshold

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for ``.npz``."""
        return {
            "points": self.points,
            "threshold": np.asarray(self.threshold),
            "k": np.asarray(self.k),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> KNNDomain:
        """Rebuild from :meth:`to_arrays`.

        Parameters
        ----------
        arrays : dict
            As written by :meth:`to_arrays`.

        Returns
        -------
        domain : KNNDomain
            The same domain.
        """
        return cls(
            points=np.asarray(arrays["points"], dtype=float),
            threshold=float(arrays["threshold"]),
            k=int(arrays["k"]),
        )
