"""Structure from raw diffraction patterns: cluster XRD patterns into hard or soft region labels.

Patterns are made non-negative and unit-norm, optionally compressed by NMF (peaks are additive
and non-negative, so NMF components are phase-like), then clustered on cosine similarity by
average-linkage agglomerative or spectral clustering (Long et al. 2007 Rev. Sci. Instrum.
78:072217; Kusne et al. 2020 Nat. Commun. 11:5966). Soft labels are a softmax of the cosine
similarity of each pattern to the cluster centroids, so they feed :class:`PhaseMapModel`.
"""

from __future__ import annotations

import numpy as np

from psplab.errors import InputError
from psplab.models.phasemap.sources import CLUSTER_METHODS

__all__ = [
    "CLUSTER_METHODS",
    "cluster_patterns",
    "cosine_similarity_matrix",
    "fowlkes_mallows",
    "match_labels",
]


def _prepare(patterns: np.ndarray) -> np.ndarray:
    P = np.asarray(patterns, dtype=float)
    if P.ndim != 2 or P.shape[0] < 2:
        raise InputError(f"patterns must be an (n >= 2, channels) array, got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        rows = np.flatnonzero(~np.all(np.isfinite(P), axis=1))
        raise InputError(f"patterns contain NaN or inf (rows {rows[:5].tolist()})")
    # Subtract each pattern's minimum (a flat background) and scale to unit L2 norm, so cosine
    # similarity compares peak positions and ratios, not film thickness.
    P = P - P.min(axis=1, keepdims=True)
    norm = np.linalg.norm(P, axis=1, keepdims=True)
    return P / np.where(norm > 0, norm, 1.0)


def cosine_similarity_matrix(features: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity of the rows of ``features``.

    Parameters
    ----------
    features : numpy.ndarray
        ``(n, f)``.

    Returns
    -------
    similarity : numpy.ndarray
        ``(n, n)``.
    """
    F = np.asarray(features, dtype=float)
    F = F / np.maximum(np.linalg.norm(F, axis=1, keepdims=True), 1e-300)
    return F @ F.T


def cluster_patterns(
    patterns: np.ndarray,
    n_clusters: int,
    method: str = "nmf",
    n_components: int | None = None,
    soft: bool = False,
    temperature: float = 0.05,
    seed: int = 0,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Cluster patterns into ``n_clusters`` groups.

    Parameters
    ----------
    patterns : numpy.ndarray
        ``(n, channels)`` intensities (e.g. XRD counts over 2-theta).
    n_clusters : int
        Number of clusters (2 to ``n``).
    method : str
        ``"nmf"``: NMF features then agglomerative clustering on cosine distance;
        ``"agglomerative"``: the same on the raw patterns; ``"spectral"``: spectral clustering
        with the (non-negative) cosine similarity as affinity.
    n_components : int, optional
        NMF components (default ``n_clusters + 2``).
    soft : bool
        Also return soft labels ``(n, n_clusters)``.
    temperature : float
        Softmax temperature on cosine similarity to the cluster centroids (smaller = harder).
    seed : int
        Seeds NMF and spectral clustering.

    Returns
    -------
    labels : numpy.ndarray
        Integers ``0..n_clusters-1``, numbered by decreasing cluster size.
    probs : numpy.ndarray
        Soft labels ``(n, n_clusters)``, only when ``soft``.
    """
    if method not in CLUSTER_METHODS:
        raise InputError(f"method must be one of {', '.join(CLUSTER_METHODS)}, got {method!r}")
    P = _prepare(patterns)
    if not 2 <= n_clusters <= len(P):
        raise InputError(f"n_clusters must be in [2, {len(P)}], got {n_clusters}")
    from sklearn.cluster import AgglomerativeClustering, SpectralClustering

    if method == "nmf":
        from sklearn.decomposition import NMF

        k = n_components or n_clusters + 2
        feats = NMF(n_components=k, init="nndsvda", max_iter=500, random_state=seed).fit_transform(
            P
        )
    else:
        feats = P
    if method == "spectral":
        aff = np.clip(cosine_similarity_matrix(feats), 0.0, 1.0)
        labels = SpectralClustering(
            n_clusters=n_clusters, affinity="precomputed", random_state=seed
        ).fit_predict(aff)
    else:
        labels = AgglomerativeClustering(
            n_clusters=n_clusters, metric="cosine", linkage="average"
        ).fit_predict(feats)
    labels = _relabel_by_size(labels)
    if not soft:
        return labels
    F = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-300)
    centroids = np.stack([F[labels == k].mean(axis=0) for k in range(n_clusters)])
    sim = cosine_similarity_matrix(np.vstack([F, centroids]))[: len(F), len(F) :]
    logits = sim / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return labels, probs


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Number clusters by decreasing size, so the output does not depend on the algorithm's order."""
    uniq, counts = np.unique(labels, return_counts=True)
    order = uniq[np.argsort(-counts, kind="stable")]
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping[v] for v in labels], dtype=int)


def match_labels(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, float]:
    """Relabel ``pred`` to best agree with ``truth`` (Hungarian matching).

    Parameters
    ----------
    pred : numpy.ndarray
        Predicted cluster labels ``(n,)``.
    truth : numpy.ndarray
        True labels ``(n,)``.

    Returns
    -------
    relabelled : numpy.ndarray
        ``pred`` in the names of ``truth`` (unmatched clusters get an impossible label).
    accuracy : float
        Share of points whose relabelled prediction is right.
    """
    from scipy.optimize import linear_sum_assignment

    pred = np.asarray(pred)
    truth = np.asarray(truth)
    p_cls, t_cls = np.unique(pred), np.unique(truth)
    C = np.array([[np.sum((pred == p) & (truth == t)) for t in t_cls] for p in p_cls])
    rows, cols = linear_sum_assignment(-C)
    mapping = {p_cls[r]: t_cls[c] for r, c in zip(rows, cols, strict=True)}
    # Unmatched predicted clusters (more clusters than true classes) count as errors.
    out = np.array([mapping.get(v, -(10**9)) for v in pred], dtype=object)
    acc = float(np.mean(out == truth))
    return out, acc


def fowlkes_mallows(pred: np.ndarray, truth: np.ndarray) -> float:
    """Fowlkes-Mallows index of two labelings (invariant to label names).

    Parameters
    ----------
    pred, truth : numpy.ndarray
        Labels ``(n,)``.

    Returns
    -------
    index : float
        In ``[0, 1]``; 1 for identical partitions.
    """
    from sklearn.metrics import fowlkes_mallows_score

    return float(fowlkes_mallows_score(np.asarray(truth).astype(str), np.asarray(pred).astype(str)))
