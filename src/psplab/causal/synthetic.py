"""Random causal graphs and data with known truth, for tests and benchmarks.

* :func:`random_psp_dag` — a tiered processing -> structure -> property DAG (default 6 -> 8 -> 4):
  every structure variable has 1-3 processing parents, every property 2-3 structure parents;
  a few edges inside the structure and property tiers and a few direct processing -> property
  edges make the orientation problem non-trivial.
* :func:`random_er_dag` — Erdős–Rényi DAG with a given expected degree (ER2: 2 edges per node).
* :func:`simulate_linear` — linear-Gaussian SEM; the true total effects follow from
  :func:`linear_total_effects`.
* :func:`simulate_nonlinear` — additive-noise SEM with random smooth nonlinear edge functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SyntheticSEM:
    """A DAG with edge weights (linear) or edge functions (nonlinear) and node names/tiers."""

    dag: np.ndarray  # (p, p) bool, dag[i, j] = i -> j; nodes in topological order
    weights: np.ndarray  # (p, p) float
    names: list[str]
    tiers: list[int | None]
    noise_std: np.ndarray
    kinds: np.ndarray | None = None  # (p, p) int: nonlinear function id per edge

    def standardized(self) -> SyntheticSEM:
        """The same linear SEM rescaled so every node has unit population variance."""
        p = self.dag.shape[0]
        inv = np.linalg.inv(np.eye(p) - self.weights)
        cov = inv.T @ np.diag(self.noise_std**2) @ inv
        sd = np.sqrt(np.diag(cov))
        w = self.weights * sd[:, None] / sd[None, :]
        return SyntheticSEM(self.dag, w, self.names, self.tiers, self.noise_std / sd, self.kinds)

    @property
    def tier_map(self) -> dict[str, int | None]:
        """Tier of each node by name."""
        return dict(zip(self.names, self.tiers, strict=True))


def random_psp_dag(
    n_processing: int = 6,
    n_structure: int = 8,
    n_property: int = 4,
    seed: int = 0,
    p_within: float = 0.12,
    p_direct: float = 0.08,
) -> tuple[np.ndarray, list[str], list[int]]:
    """A random tiered processing -> structure -> property DAG, nodes in topological order.

    Parameters
    ----------
    n_processing, n_structure, n_property : int
        Nodes per tier.
    seed : int
        Seed.
    p_within : float
        Probability of each edge inside the structure and property tiers.
    p_direct : float
        Probability of each direct processing -> property edge.

    Returns
    -------
    tuple
        ``(dag, names, tiers)``: the ``(p, p)`` boolean DAG (``dag[i, j]``: ``i -> j``), the names
        ``proc0.., struct0.., prop0..`` and a tier (0, 1, 2) per node.
    """
    rng = np.random.default_rng(seed)
    P, S, Q = n_processing, n_structure, n_property
    p = P + S + Q
    dag = np.zeros((p, p), dtype=bool)
    proc = np.arange(P)
    struc = np.arange(P, P + S)
    prop = np.arange(P + S, p)
    for s in struc:
        for a in rng.choice(proc, size=rng.integers(1, 4), replace=False):
            dag[a, s] = True
        for s0 in struc[struc < s]:
            if rng.random() < p_within:
                dag[s0, s] = True
    for q in prop:
        for a in rng.choice(struc, size=rng.integers(2, 4), replace=False):
            dag[a, q] = True
        for a in proc:
            if rng.random() < p_direct:
                dag[a, q] = True
        for q0 in prop[prop < q]:
            if rng.random() < p_within:
                dag[q0, q] = True
    names = (
        [f"proc{k}" for k in range(P)]
        + [f"struct{k}" for k in range(S)]
        + [f"prop{k}" for k in range(Q)]
    )
    tiers = [0] * P + [1] * S + [2] * Q
    return dag, names, tiers


def random_er_dag(p: int = 50, expected_degree: float = 2.0, seed: int = 0) -> np.ndarray:
    """Erdős–Rényi DAG (upper-triangular: nodes in topological order).

    Parameters
    ----------
    p : int
        Nodes.
    expected_degree : float
        Expected number of edges per node.
    seed : int
        Seed.

    Returns
    -------
    numpy.ndarray
        ``(p, p)`` boolean, ``dag[i, j]``: ``i -> j``.
    """
    rng = np.random.default_rng(seed)
    prob = expected_degree / (p - 1)  # expected edges = prob * p(p-1)/2 = degree * p / 2
    upper = np.triu(rng.random((p, p)) < prob, 1)
    return upper


def make_sem(
    dag: np.ndarray,
    names: list[str] | None = None,
    tiers: list[int | None] | None = None,
    seed: int = 0,
    weight_range: tuple[float, float] = (0.5, 1.0),
    nonlinear: bool = False,
) -> SyntheticSEM:
    """Random edge weights (sign random, magnitude in ``weight_range``) and unit noise.

    Parameters
    ----------
    dag : numpy.ndarray
        ``(p, p)`` boolean DAG, nodes in topological order.
    names : list of str or None
        Node names (default ``x0, x1, ...``).
    tiers : list of int or None
        Node tiers (default unknown).
    seed : int
        Seed of the weights (and edge functions).
    weight_range : tuple of float
        Range of the weights' magnitudes.
    nonlinear : bool
        Also draw a nonlinear function per edge (for :func:`simulate_nonlinear`).

    Returns
    -------
    SyntheticSEM
        The structural equation model.
    """
    rng = np.random.default_rng(seed + 10_000)
    p = dag.shape[0]
    w = rng.uniform(*weight_range, size=(p, p)) * rng.choice([-1.0, 1.0], size=(p, p)) * dag
    kinds = rng.integers(0, 4, size=(p, p)) * dag if nonlinear else None
    return SyntheticSEM(
        dag=np.asarray(dag, dtype=bool),
        weights=w,
        names=names or [f"x{k}" for k in range(p)],
        tiers=tiers or [None] * p,
        noise_std=np.full(p, 1.0),
        kinds=kinds,
    )


def simulate_linear(
    sem: SyntheticSEM, n: int, seed: int = 0, standardize: bool = False
) -> np.ndarray:
    """Draw rows of the linear-Gaussian SEM (nodes are in topological order).

    Parameters
    ----------
    sem : SyntheticSEM
        The model.
    n : int
        Rows.
    seed : int
        Seed of the noise.
    standardize : bool
        Rescale each node to unit sample variance as it is drawn.

    Returns
    -------
    numpy.ndarray
        ``(n, p)`` data.
    """
    rng = np.random.default_rng(seed)
    p = sem.dag.shape[0]
    X = np.zeros((n, p))
    for j in range(p):
        X[:, j] = X @ sem.weights[:, j] + sem.noise_std[j] * rng.standard_normal(n)
        if standardize:
            X[:, j] /= X[:, j].std()
    return X


def _edge_fn(kind: int, x: np.ndarray) -> np.ndarray:
    # Smooth, bounded-growth functions; monotone and non-monotone ones mixed.
    if kind == 0:
        return np.tanh(1.5 * x)
    if kind == 1:
        return np.sin(1.5 * x)
    if kind == 2:
        return x**2 / 2.0 - 0.5
    return x


def simulate_nonlinear(sem: SyntheticSEM, n: int, seed: int = 0) -> np.ndarray:
    """Draw rows of ``x_j = sum_i w_ij f_ij(x_i) + noise``, each node standardized.

    Parameters
    ----------
    sem : SyntheticSEM
        A model made with ``nonlinear=True``.
    n : int
        Rows.
    seed : int
        Seed of the noise.

    Returns
    -------
    numpy.ndarray
        ``(n, p)`` data.
    """
    if sem.kinds is None:
        raise ValueError("this SEM has no nonlinear edge functions (make_sem(..., nonlinear=True))")
    rng = np.random.default_rng(seed)
    p = sem.dag.shape[0]
    X = np.zeros((n, p))
    for j in range(p):
        value = 0.5 * sem.noise_std[j] * rng.standard_normal(n)
        for i in np.flatnonzero(sem.dag[:, j]):
            value = value + 1.5 * sem.weights[i, j] * _edge_fn(int(sem.kinds[i, j]), X[:, i])
        X[:, j] = (value - value.mean()) / value.std()
    return X


def linear_total_effects(weights: np.ndarray) -> np.ndarray:
    """Total causal effects in a linear SEM, ``(I - W)^-1 - I``.

    Parameters
    ----------
    weights : numpy.ndarray
        ``(p, p)`` edge weights, ``W[i, j]`` on ``i -> j``.

    Returns
    -------
    numpy.ndarray
        ``T[i, j]``: total effect of ``x_i`` on ``x_j``.
    """
    p = weights.shape[0]
    return np.linalg.inv(np.eye(p) - weights) - np.eye(p)
