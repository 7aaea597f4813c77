"""CAMEO-style sequential baseline: graph label propagation for the phase map, then one GP per region.

Following the CAMEO pipeline (Kusne et al. 2020 Nat. Commun. 11:5966): the phase map is inferred
first from structure labels alone by label spreading on a k-nearest-neighbour graph over all known
points and the query points (transductive), and each property is then fitted by an independent
Gaussian process per region on the property points assigned to that region. Unlike SAGE, property
jumps do not move the phase boundaries and phase uncertainty does not reach the property model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from psplab.errors import InputError
from psplab.models.phasemap.design import plain_labels
from psplab.models.phasemap.sources import coerce_property, coerce_structure

__all__ = ["CameoBaseline", "fit_predict_cameo"]


class CameoBaseline(BaseEstimator):
    """Label propagation (phase map) followed by one GP per region (properties).

    The per-region property models are psplab's regression GP
    (:class:`psplab.models.gp.GaussianProcess`): given the regions, each is a plain
    regression on the points assigned to it.

    Parameters
    ----------
    n_regions : int
        Number of regions ``K``.
    n_neighbors : int
        Neighbours of the kNN graph used by label spreading.
    alpha : float
        Label-spreading clamping factor (0 = keep given labels exactly).
    seed : int
        Seeds the GP optimizer restarts and the pattern clustering.
    """

    def __init__(
        self, n_regions: int = 2, n_neighbors: int = 7, alpha: float = 0.01, seed: int = 0
    ) -> None:
        # scikit-learn convention: store the parameters as given; fit checks them.
        self.n_regions = n_regions
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.seed = seed

    def fit(self, structure_sources: Any, property_sources: Any = None) -> CameoBaseline:
        """Propagate the structure labels, then fit one GP per region and property.

        Parameters
        ----------
        structure_sources : StructureSource or sequence
            At least one (labels, soft labels or patterns).
        property_sources : PropertySource or sequence, optional
            Property readings.

        Returns
        -------
        self : CameoBaseline
        """
        S = coerce_structure(structure_sources)
        P = coerce_property(property_sources)
        if not S:
            raise InputError("CameoBaseline needs at least one structure source with labels")
        X, y = [], []
        for s in S:
            if s.labels is not None:
                lab = plain_labels(s.labels)
            elif s.probs is not None:
                lab = np.argmax(s.probs, axis=1)
            else:
                from psplab.models.phasemap.xrd import cluster_patterns

                lab = cluster_patterns(s.patterns, self.n_regions, seed=self.seed)
            X.append(s.X)
            y.append(lab)
        self.Xs_ = np.concatenate(X)
        labels = np.concatenate(y)
        self.classes_, self.ys_ = np.unique(labels, return_inverse=True)
        all_X = np.concatenate([self.Xs_] + [p.X for p in P])
        self.x_lo_ = all_X.min(axis=0)
        span = all_X.max(axis=0) - self.x_lo_
        self.x_scale_ = np.where(span > 0, span, 1.0)
        self.property_names_ = list(dict.fromkeys(p.prop for p in P))
        self.prop_X_ = {
            t: np.concatenate([p.X for p in P if p.prop == t]) for t in self.property_names_
        }
        self.prop_y_ = {
            t: np.concatenate([p.y for p in P if p.prop == t]) for t in self.property_names_
        }
        # Region of each property point from the structure-only phase map, then one GP each.
        self.gps_: dict[tuple[str, int], Any] = {}
        for t in self.property_names_:
            reg = self._propagate(self.prop_X_[t])
            for k in range(len(self.classes_)):
                mask = reg == k
                if mask.sum() >= 2:
                    self.gps_[(t, k)] = self._fit_gp(self.prop_X_[t][mask], self.prop_y_[t][mask])
            # Regions with fewer than two property points fall back to a GP on all points.
            self.gps_[(t, -1)] = self._fit_gp(self.prop_X_[t], self.prop_y_[t])
        return self

    def _norm(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float).reshape(len(X), -1) - self.x_lo_) / self.x_scale_

    def _propagate(self, Xq: np.ndarray) -> np.ndarray:
        from sklearn.semi_supervised import LabelSpreading

        Xall = np.concatenate([self._norm(self.Xs_), self._norm(Xq)])
        y = np.concatenate([self.ys_, -np.ones(len(Xq), dtype=int)])
        k = int(min(self.n_neighbors, len(Xall) - 1))
        ls = LabelSpreading(kernel="knn", n_neighbors=k, alpha=self.alpha, max_iter=200)
        ls.fit(Xall, y)
        return np.asarray(ls.transduction_[len(self.Xs_) :])

    def _fit_gp(self, X: np.ndarray, y: np.ndarray):
        from psplab.models.gp import GaussianProcess

        # A plain regression of the property on the unit-cube inputs, as the phase map sees them.
        gp = GaussianProcess(
            n_restarts=1, input_transform="none", target_transform="none", seed=self.seed
        )
        return gp.fit(self._norm(X), y)

    def predict_labels(self, X: np.ndarray) -> np.ndarray:
        """Region label of each query point from label propagation (structure data only).

        Parameters
        ----------
        X : numpy.ndarray
            Points to label, ``(n, d)``.

        Returns
        -------
        labels : numpy.ndarray
            One region label per point.
        """
        check_is_fitted(self, "classes_")
        return self.classes_[self._propagate(np.asarray(X, dtype=float).reshape(len(X), -1))]

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Region labels and each property's mean and std at query points.

        Parameters
        ----------
        X : numpy.ndarray
            Query points ``(n, d)``, in the coordinates the model was fitted on.

        Returns
        -------
        labels : numpy.ndarray
            ``(n,)``.
        mean, std : numpy.ndarray
            ``(n, T)`` each; the std includes the noise.
        """
        check_is_fitted(self, "gps_")
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        reg = self._propagate(X)
        T = len(self.property_names_)
        mean = np.zeros((len(X), T))
        std = np.zeros((len(X), T))
        for t, name in enumerate(self.property_names_):
            for k in np.unique(reg):
                mask = reg == k
                gp = self.gps_.get((name, int(k)), self.gps_[(name, -1)])
                m, s = gp.predict_dist(self._norm(X[mask]))
                mean[mask, t], std[mask, t] = np.ravel(m), np.ravel(s)
        return self.classes_[reg], mean, std


def fit_predict_cameo(
    structure_sources: Any,
    property_sources: Any,
    X_query: np.ndarray,
    n_regions: int = 2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit :class:`CameoBaseline` and predict at ``X_query``.

    Parameters
    ----------
    structure_sources, property_sources : sources
        As :meth:`CameoBaseline.fit`.
    X_query : numpy.ndarray
        Query points ``(n, d)``.
    n_regions : int
        Number of regions.
    seed : int
        Seeds the GP restarts.

    Returns
    -------
    labels, mean, std : numpy.ndarray
        As :meth:`CameoBaseline.predict`.
    """
    return (
        CameoBaseline(n_regions=n_regions, seed=seed)
        .fit(structure_sources, property_sources)
        .predict(X_query)
    )
