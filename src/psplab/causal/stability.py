"""Edge stability: how often each adjacency and each orientation reappears over bootstrap resamples.

Each resample draws ``n`` rows with replacement and reruns :func:`psplab.causal.discover` with
the same knowledge; the frequencies are the fraction of resamples in which ``i - j`` is adjacent,
oriented ``i -> j``, left undirected, and in which ``i`` is a possible ancestor of ``j`` (a path of
edges that are directed forward or undirected). Resamples run in parallel: local processes
(joblib/loky) by default, threads, or a Dask cluster through
:func:`psplab.distributed.get_client`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psplab.causal.pc import Knowledge, data_and_knowledge, discover_array
from psplab.errors import InputError


@dataclass
class EdgeStability:
    """Bootstrap frequencies over ``n_resamples`` runs (all ``(p, p)`` arrays in ``[0, 1]``)."""

    nodes: list[str]
    adjacency: np.ndarray
    directed: np.ndarray  # directed[i, j]: fraction with i -> j
    undirected: np.ndarray
    ancestor: np.ndarray  # ancestor[i, j]: fraction with i a possible ancestor of j
    n_resamples: int
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    def index(self, name: str) -> int:
        """Row and column of a variable in the frequency matrices.

        Parameters
        ----------
        name : str
            A variable of the bootstrapped graphs.

        Returns
        -------
        int
            Index into :attr:`adjacency`, :attr:`directed`, ...
        """
        return self.nodes.index(name)

    def edge(self, a: str, b: str) -> dict[str, float]:
        """Frequencies for the pair ``(a, b)``.

        Parameters
        ----------
        a, b : str
            The two nodes.

        Returns
        -------
        dict
            ``adjacency``, ``forward`` (``a -> b``), ``backward`` (``b -> a``) and ``undirected``.
        """
        i, j = self.index(a), self.index(b)
        return {
            "adjacency": float(self.adjacency[i, j]),
            "forward": float(self.directed[i, j]),
            "backward": float(self.directed[j, i]),
            "undirected": float(self.undirected[i, j]),
        }

    def table(self, min_frequency: float = 0.0) -> pd.DataFrame:
        """One row per pair seen adjacent more often than ``min_frequency``, most stable first.

        Parameters
        ----------
        min_frequency : float
            Pairs at or below this adjacency frequency are left out.

        Returns
        -------
        DataFrame
            ``source``, ``target``, ``adjacency``, ``forward``, ``backward``, ``undirected`` (what
            ``psplab causal`` writes to ``edge_stability.csv``).
        """
        rows = []
        p = len(self.nodes)
        for i in range(p):
            for j in range(i + 1, p):
                f = self.adjacency[i, j]
                if f <= min_frequency:
                    continue
                rows.append(
                    {
                        "source": self.nodes[i],
                        "target": self.nodes[j],
                        "adjacency": f,
                        "forward": self.directed[i, j],
                        "backward": self.directed[j, i],
                        "undirected": self.undirected[i, j],
                    }
                )
        cols = ["source", "target", "adjacency", "forward", "backward", "undirected"]
        frame = pd.DataFrame(rows, columns=cols)
        return frame.sort_values("adjacency", ascending=False, ignore_index=True)


def _possible_ancestors(adj: np.ndarray, arrow: np.ndarray) -> np.ndarray:
    """Boolean closure of the 'directed forward or undirected' relation."""
    step = (arrow | (adj & ~arrow.T)).astype(np.int64)
    p = step.shape[0]
    reach = step.copy()
    for _ in range(int(np.ceil(np.log2(max(p, 2)))) + 1):
        reach = ((reach + reach @ reach) > 0).astype(np.int64)
    return reach.astype(bool)


def _run_chunk(
    X: np.ndarray,
    names: list[str],
    knowledge: Knowledge,
    seeds: Sequence[int],
    kwargs: Mapping[str, Any],
) -> np.ndarray:
    """Run the resamples of ``seeds``; returns ``(len(seeds), 3, p, p)`` bool: adj, arrow, anc."""
    n, p = X.shape
    out = np.zeros((len(seeds), 3, p, p), dtype=bool)
    for k, s in enumerate(seeds):
        rng = np.random.default_rng(s)
        Xb = X[rng.integers(0, n, n)]
        sd = Xb.std(axis=0)
        if np.any(sd == 0):  # a resample made a column constant: its edges are not seen
            keep = sd > 0
            Xb = Xb.copy()
            Xb[:, ~keep] = rng.standard_normal((n, int((~keep).sum())))
        g = discover_array(Xb, names, knowledge, seed=int(s), **kwargs)
        out[k, 0], out[k, 1] = g.adj, g.arrow
        out[k, 2] = _possible_ancestors(g.adj, g.arrow)
    return out


def _run_dask(client: Any, X, names, knowledge, chunks, kwargs) -> list[np.ndarray]:
    Xf = client.scatter(X, broadcast=True)
    futures = [
        client.submit(_run_chunk, Xf, names, knowledge, c, kwargs, pure=False) for c in chunks
    ]
    return client.gather(futures)


def bootstrap_edges(
    dataset: Any,
    n_resamples: int = 100,
    *,
    tiers: Mapping[str, int] | Sequence[int | None] | None = None,
    forbidden: Iterable[tuple[str, str]] | None = None,
    required: Iterable[tuple[str, str]] | None = None,
    alpha: float = 0.01,
    test: str = "fisherz",
    columns: Sequence[str] | None = None,
    forbidden_within_tiers: Iterable[int] = (0,),
    max_cond_size: int | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
    backend: str = "loky",
    client: Any = None,
    scheduler: str | None = None,
) -> EdgeStability:
    """Edge frequencies over ``n_resamples`` bootstrap resamples of :func:`discover`.

    Parameters
    ----------
    dataset, tiers, forbidden, required, alpha, test, columns, forbidden_within_tiers, max_cond_size : see :func:`psplab.causal.discover`
        As for :func:`psplab.causal.discover`.
    n_resamples : int
        Number of bootstrap resamples ``B``.
    seed : int
        Resample ``b`` uses seed ``(seed, b)``; results do not depend on the backend or ``n_jobs``.
    n_jobs : int or None
        Parallel workers (None: all cores).
    backend : str
        ``"loky"`` (local processes), ``"threading"``, ``"serial"`` or ``"dask"``.
    client : dask.distributed.Client or None
        A ``dask.distributed.Client`` to use with ``backend="dask"``; without one a cluster is
        started (or ``scheduler`` joined) through :func:`psplab.distributed.get_client`.
    scheduler : str or None
        Address of a running Dask scheduler (``backend="dask"``).
    """
    if n_resamples < 1:
        raise InputError(f"n_resamples must be at least 1, got {n_resamples}")
    if backend not in ("loky", "threading", "serial", "dask"):
        raise InputError(f"unknown backend {backend!r} (loky, threading, serial or dask)")
    X, names, knowledge = data_and_knowledge(
        dataset, tiers, columns, forbidden, required, forbidden_within_tiers
    )
    kwargs = {"alpha": alpha, "test": test, "max_cond_size": max_cond_size}
    seeds = [
        int(np.random.SeedSequence([seed, b]).generate_state(1)[0]) for b in range(n_resamples)
    ]
    start = time.perf_counter()
    import os

    workers = n_jobs or os.cpu_count() or 1
    n_chunks = min(n_resamples, max(1, workers * 4)) if backend != "serial" else 1
    chunks = [list(c) for c in np.array_split(np.asarray(seeds), n_chunks) if len(c)]
    if backend == "serial" or workers == 1:
        results = [_run_chunk(X, names, knowledge, c, kwargs) for c in chunks]
    elif backend == "dask":
        if client is not None:
            results = _run_dask(client, X, names, knowledge, chunks, kwargs)
        else:
            from psplab.distributed import get_client

            with get_client(workers=n_jobs, scheduler=scheduler) as own:
                results = _run_dask(own, X, names, knowledge, chunks, kwargs)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=workers, backend=backend)(
            delayed(_run_chunk)(X, names, knowledge, c, kwargs) for c in chunks
        )
    stack = np.concatenate(results, axis=0)
    freq = stack.mean(axis=0)
    adj, arrow, anc = freq[0], freq[1], freq[2]
    und_each = stack[:, 0] & ~stack[:, 1] & ~np.transpose(stack[:, 1], (0, 2, 1))
    return EdgeStability(
        nodes=names,
        adjacency=adj,
        directed=arrow,
        undirected=und_each.mean(axis=0),
        ancestor=anc,
        n_resamples=n_resamples,
        seconds=time.perf_counter() - start,
        info={"alpha": alpha, "test": test, "backend": backend, "n_jobs": workers, "seed": seed},
    )
