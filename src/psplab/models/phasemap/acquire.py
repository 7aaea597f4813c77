"""Active learning on a fitted phase map: where to measure next.

Scores over a candidate set: ``entropy`` (phase-boundary uncertainty, the entropy of the
posterior-mean region probabilities, normalized by ``log K``), ``property_std`` (predictive std of
the properties, each divided by its maximum over the candidates and averaged), and ``combined``
(``w * entropy + (1 - w) * property_std``). Batches are chosen greedily with a distance penalty
so that one batch does not pile up on a single boundary point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psplab.errors import InputError
from psplab.limits import require_at_most

__all__ = ["ACQUISITIONS", "MAX_BATCH", "acquisition_scores", "suggest_batch"]

ACQUISITIONS = ("entropy", "property_std", "combined")

# Largest batch: each pick rescans every candidate.
MAX_BATCH = 10_000


def acquisition_scores(
    model: Any, X_candidates: np.ndarray, kind: str = "combined", weight: float = 0.5
) -> np.ndarray:
    """Acquisition score of each candidate (higher = more informative), in ``[0, 1]``.

    Parameters
    ----------
    model : PhaseMapModel
        Fitted.
    X_candidates : numpy.ndarray
        Candidate points ``(n, n_dim_)``.
    kind : str
        ``"entropy"``, ``"property_std"`` or ``"combined"``.
    weight : float
        Weight of the entropy in ``"combined"``.

    Returns
    -------
    scores : numpy.ndarray
        ``(n,)``.
    """
    if kind not in ACQUISITIONS:
        raise InputError(f"kind must be one of {', '.join(ACQUISITIONS)}, got {kind!r}")
    pred = model.predict(X_candidates)
    ent = pred.entropy / np.log(pred.probs.shape[1])
    if pred.std.size and np.any(pred.std > 0):
        s = pred.std / np.maximum(pred.std.max(axis=0, keepdims=True), 1e-300)
        pstd = s.mean(axis=1)
    else:
        pstd = np.zeros(len(ent))
    if kind == "entropy":
        return ent
    if kind == "property_std":
        return pstd
    return float(weight) * ent + (1.0 - float(weight)) * pstd


def suggest_batch(
    model: Any,
    X_candidates: np.ndarray,
    n: int = 4,
    kind: str = "combined",
    weight: float = 0.5,
    min_distance: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``n`` diverse high-scoring candidates and their scores.

    After each pick, scores are multiplied by ``1 - exp(-d^2 / (2 r^2))`` where ``d`` is the
    distance (in the model's normalized coordinates) to the picked point and ``r`` is
    ``min_distance`` (default: 5 % of the input range); a local-penalization batch rule.

    Parameters
    ----------
    model : PhaseMapModel
        The fitted model whose uncertainty guides the choice.
    X_candidates : numpy.ndarray
        Where a measurement could be made, ``(m, n_dim_)``.
    n : int
        Batch size (at most the number of candidates).
    kind : str
        Score (:data:`ACQUISITIONS`).
    weight : float
        Weight of the entropy in ``"combined"``.
    min_distance : float, optional
        Penalty radius in normalized coordinates.

    Returns
    -------
    indices : numpy.ndarray
        ``(n,)`` candidate indices in the order picked.
    scores : numpy.ndarray
        Their scores before the penalty.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"n must be an integer >= 1, got {n!r}")
    require_at_most("n", n, MAX_BATCH)
    X = np.asarray(X_candidates, dtype=float).reshape(len(X_candidates), -1)
    n = min(int(n), len(X))
    scores = acquisition_scores(model, X, kind=kind, weight=weight)
    Xn = model.scale_inputs(X)
    r = 0.05 * np.sqrt(X.shape[1]) if min_distance is None else float(min_distance)
    work = scores.copy()
    picked: list[int] = []
    for _ in range(n):
        i = int(np.argmax(np.where(np.isin(np.arange(len(X)), picked), -np.inf, work)))
        picked.append(i)
        d2 = np.sum((Xn - Xn[i]) ** 2, axis=1)
        work = work * (1.0 - np.exp(-d2 / (2.0 * r * r)))
    idx = np.array(picked, dtype=int)
    return idx, scores[idx]
