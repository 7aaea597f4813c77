"""Partially directed graphs (CPDAG / MPDAG): representation, Meek rules, DAG extension, metrics.

A graph over ``p`` nodes is stored as two boolean matrices: ``adj`` (symmetric: the nodes are
adjacent) and ``arrow`` (``arrow[i, j]``: the edge is oriented ``i -> j``). An adjacent pair with
no arrow either way is undirected ``i - j``. Invariant: ``arrow[i, j]`` implies ``adj[i, j]`` and
not ``arrow[j, i]``.

References
----------
Meek, C. (1995). Causal inference and causal explanation with background knowledge. UAI.
Dor, D. & Tarsi, M. (1992). A simple algorithm to construct a consistent extension of a
partially oriented graph. Technical report R-185, UCLA.
Perković, E., Kalisch, M. & Maathuis, M. H. (2017). Interpreting and using CPDAGs with
background knowledge. UAI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

AllowFn = Callable[[int, int], bool]


def _always(i: int, j: int) -> bool:
    return True


def meek_closure(adj: np.ndarray, arrow: np.ndarray, allowed: AllowFn = _always) -> np.ndarray:
    """Apply Meek's rules R1-R4 until nothing changes.

    ``allowed(i, j)`` says whether orienting ``i -> j`` is permitted by background knowledge;
    a rule that would orient a forbidden direction is skipped, so knowledge is never overridden.
    Already directed edges are never touched.

    Parameters
    ----------
    adj : numpy.ndarray
        The skeleton, ``(p, p)`` symmetric boolean.
    arrow : numpy.ndarray
        Current orientations, ``arrow[i, j]`` for ``i -> j``.
    allowed : callable
        ``allowed(i, j) -> bool`` (default: everything allowed).

    Returns
    -------
    numpy.ndarray
        The new ``arrow`` matrix.
    """
    arrow = arrow.copy()
    p = adj.shape[0]
    changed = True
    while changed:
        changed = False
        und = adj & ~arrow & ~arrow.T
        for a, b in zip(*np.nonzero(np.triu(und)), strict=True):
            for x, y in ((a, b), (b, a)):
                if not (und[x, y] and allowed(x, y)):
                    continue
                if _meek_orients(adj, arrow, und, x, y, p):
                    arrow[x, y] = True
                    und[x, y] = und[y, x] = False
                    changed = True
                    break
    return arrow


def _meek_orients(
    adj: np.ndarray, arrow: np.ndarray, und: np.ndarray, x: int, y: int, p: int
) -> bool:
    """Whether one of R1-R4 orients the undirected edge ``x - y`` as ``x -> y``."""
    # R1: c -> x - y with c, y nonadjacent.
    parents_x = np.flatnonzero(arrow[:, x])
    if np.any(~adj[parents_x, y]):
        return True
    # R2: x -> c -> y.
    if np.any(arrow[x, :] & arrow[:, y]):
        return True
    und_x = np.flatnonzero(und[x])
    # R3: x - c -> y and x - d -> y with c, d nonadjacent.
    cands = [c for c in und_x if arrow[c, y]]
    for i_c, c in enumerate(cands):
        for d in cands[i_c + 1 :]:
            if not adj[c, d]:
                return True
    # R4: x - d, d -> c -> y, x adjacent to c, d and y nonadjacent.
    for d in und_x:
        if adj[d, y]:
            continue
        for c in np.flatnonzero(arrow[d] & arrow[:, y]):
            if adj[x, c]:
                return True
    return False


def consistent_extension(adj: np.ndarray, arrow: np.ndarray) -> np.ndarray | None:
    """A DAG extending the PDAG without new v-structures (Dor & Tarsi 1992).

    Repeatedly removes a sink ``x`` (no outgoing directed edge) whose undirected neighbours are
    adjacent to all of ``x``'s other neighbours, orienting its undirected edges into it.

    Parameters
    ----------
    adj : numpy.ndarray
        Adjacencies of the PDAG.
    arrow : numpy.ndarray
        Its directed edges (``arrow[i, j]``: ``i -> j``).

    Returns
    -------
    numpy.ndarray or None
        The DAG's ``arrow`` matrix, or None when the PDAG has no consistent extension.
    """
    p = adj.shape[0]
    out = arrow.copy()
    alive = np.ones(p, dtype=bool)
    a = adj.copy()
    d = arrow.copy()
    for _ in range(p):
        found = False
        for x in np.flatnonzero(alive):
            if np.any(d[x] & alive):
                continue
            nbrs = np.flatnonzero(a[x] & alive)
            und_nbrs = [y for y in nbrs if not d[y, x]]
            ok = True
            for y in und_nbrs:
                others = [z for z in nbrs if z != y]
                if others and not np.all(a[y, others]):
                    ok = False
                    break
            if not ok:
                continue
            for y in und_nbrs:
                out[y, x] = True
            alive[x] = False
            found = True
            break
        if not found:
            return None
    return out


def dag_to_cpdag(dag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CPDAG of a DAG.

    Parameters
    ----------
    dag : numpy.ndarray
        ``(p, p)`` boolean, ``dag[i, j]``: edge ``i -> j``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(adj, arrow)`` of the CPDAG (v-structures oriented, then Meek's rules).
    """
    dag = np.asarray(dag, dtype=bool)
    adj = dag | dag.T
    arrow = np.zeros_like(dag)
    p = dag.shape[0]
    for y in range(p):
        pa = np.flatnonzero(dag[:, y])
        for i, a in enumerate(pa):
            for b in pa[i + 1 :]:
                if not adj[a, b]:
                    arrow[a, y] = arrow[b, y] = True
    return adj, meek_closure(adj, arrow)


def tier_allowed(tiers: Sequence[int | None]) -> AllowFn:
    """The orientation rule of tier knowledge.

    Parameters
    ----------
    tiers : sequence of int or None
        Tier of each node (None: unknown, no constraint).

    Returns
    -------
    callable
        ``allowed(i, j)``: orienting ``i -> j`` never points from a later tier to an earlier one.
    """
    t = [(-1 if v is None else int(v)) for v in tiers]

    def allowed(i: int, j: int) -> bool:
        if t[i] < 0 or t[j] < 0:
            return True
        return t[i] <= t[j]

    return allowed


def true_mpdag(
    dag: np.ndarray, tiers: Sequence[int | None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The maximally oriented PDAG of a DAG given tier knowledge.

    Parameters
    ----------
    dag : numpy.ndarray
        ``(p, p)`` boolean, ``dag[i, j]``: edge ``i -> j``.
    tiers : sequence of int or None
        Tier of each node; None gives the CPDAG.

    Returns
    -------
    tuple of numpy.ndarray
        ``(adj, arrow)``: cross-tier edges oriented forward, then Meek's rules within the tiers.
    """
    adj, arrow = dag_to_cpdag(dag)
    if tiers is None:
        return adj, arrow
    t = np.array([(-1 if v is None else v) for v in tiers])
    for i, j in zip(*np.nonzero(adj), strict=True):
        if t[i] >= 0 and t[j] >= 0 and t[i] < t[j]:
            arrow[i, j] = True
    return adj, meek_closure(adj, arrow, tier_allowed(list(tiers)))


@dataclass
class CausalGraph:
    """A CPDAG / MPDAG over named variables.

    Attributes
    ----------
    nodes : list of str
        Variable names, in matrix order.
    adj : numpy.ndarray
        ``(p, p)`` symmetric boolean adjacency matrix.
    arrow : numpy.ndarray
        ``(p, p)`` boolean, ``arrow[i, j]`` means ``i -> j``.
    tiers : list of int or None
        Tier of each node (``None`` where unknown).
    sepsets : dict
        Separating set found for each removed pair ``(i, j)`` with ``i < j`` (indices).
    info : dict
        Run details: test, alpha, number of tests, seconds, ...
    """

    nodes: list[str]
    adj: np.ndarray
    arrow: np.ndarray
    tiers: list[int | None] = field(default_factory=list)
    sepsets: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.adj = np.asarray(self.adj, dtype=bool)
        self.arrow = np.asarray(self.arrow, dtype=bool) & self.adj
        if not self.tiers:
            self.tiers = [None] * len(self.nodes)

    # --- access ---------------------------------------------------------------------------
    @property
    def adjacency(self) -> np.ndarray:
        """Symmetric boolean adjacency matrix."""
        return self.adj

    def index(self, name: str) -> int:
        """Row and column of a node in :attr:`adj` and :attr:`arrow`.

        Parameters
        ----------
        name : str
            A node of the graph.

        Returns
        -------
        int
            Its position in :attr:`nodes`.

        Raises
        ------
        KeyError
            Not a node of the graph.
        """
        try:
            return self.nodes.index(name)
        except ValueError:
            raise KeyError(f"{name!r} is not a node of the graph") from None

    @property
    def directed_edges(self) -> list[tuple[str, str]]:
        """Oriented edges ``(cause, effect)``."""
        return [
            (self.nodes[i], self.nodes[j]) for i, j in zip(*np.nonzero(self.arrow), strict=True)
        ]

    @property
    def undirected_edges(self) -> list[tuple[str, str]]:
        """Unoriented edges, each once, in node order."""
        und = np.triu(self.adj & ~self.arrow & ~self.arrow.T)
        return [(self.nodes[i], self.nodes[j]) for i, j in zip(*np.nonzero(und), strict=True)]

    @property
    def n_edges(self) -> int:
        """Number of adjacencies (oriented or not)."""
        return int(np.triu(self.adj).sum())

    def parents(self, name: str) -> list[str]:
        """Directed parents of a node.

        Parameters
        ----------
        name : str
            A node (:class:`KeyError` if the graph has none of that name).

        Returns
        -------
        list of str
            Nodes ``u`` with ``u -> name``.
        """
        j = self.index(name)
        return [self.nodes[i] for i in np.flatnonzero(self.arrow[:, j])]

    def children(self, name: str) -> list[str]:
        """Directed children of a node: the nodes ``v`` with ``name -> v``.

        Parameters
        ----------
        name : str
            The node the listed edges leave.

        Returns
        -------
        list of str
            In node order.
        """
        return [self.nodes[j] for j in np.flatnonzero(self.arrow[self.index(name)])]

    def siblings(self, name: str) -> list[str]:
        """Nodes joined to ``name`` by an undirected edge.

        Parameters
        ----------
        name : str
            A node; its undirected neighbours are listed.

        Returns
        -------
        list of str
            In node order.
        """
        i = self.index(name)
        und = self.adj[i] & ~self.arrow[i] & ~self.arrow[:, i]
        return [self.nodes[j] for j in np.flatnonzero(und)]

    def possible_descendants(self, name: str) -> list[str]:
        """Nodes reachable from ``name`` along edges that are directed away or undirected.

        Parameters
        ----------
        name : str
            The starting node.

        Returns
        -------
        list of str
            Its possible descendants, in node order.
        """
        start = self.index(name)
        step = self.arrow | (self.adj & ~self.arrow.T)
        seen = {start}
        stack = [start]
        while stack:
            v = stack.pop()
            for w in np.flatnonzero(step[v]):
                if w not in seen:
                    seen.add(int(w))
                    stack.append(int(w))
        seen.discard(start)
        return [self.nodes[k] for k in sorted(seen)]

    def tier_violations(self, forbidden_within_tiers: Iterable[int] = (0,)) -> int:
        """Edges oriented from a later tier into an earlier one, plus edges inside forbidden tiers.

        Parameters
        ----------
        forbidden_within_tiers : iterable of int
            Tiers inside which no edge may stand (each such edge counts once).

        Returns
        -------
        int
            The count.
        """
        return tier_violations(self.adj, self.arrow, self.tiers, forbidden_within_tiers)

    def to_networkx(self):
        """A ``networkx.DiGraph``: directed edges once (``kind="directed"``), undirected edges in
        both directions (``kind="undirected"``); nodes carry their ``tier``."""
        import networkx as nx

        g = nx.DiGraph()
        for name, tier in zip(self.nodes, self.tiers, strict=True):
            g.add_node(name, tier=tier)
        for a, b in self.directed_edges:
            g.add_edge(a, b, kind="directed")
        for a, b in self.undirected_edges:
            g.add_edge(a, b, kind="undirected")
            g.add_edge(b, a, kind="undirected")
        return g

    def to_dict(self) -> dict[str, Any]:
        """The graph as plain JSON-able data (what ``graph.json`` holds).

        Returns
        -------
        dict
            ``nodes``, ``tiers``, ``directed_edges``, ``undirected_edges`` and ``info``.
        """
        return {
            "nodes": list(self.nodes),
            "tiers": list(self.tiers),
            "directed_edges": [list(e) for e in self.directed_edges],
            "undirected_edges": [list(e) for e in self.undirected_edges],
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CausalGraph:
        """A graph from :meth:`to_dict`'s data.

        Parameters
        ----------
        d : mapping
            ``nodes``, ``directed_edges``, ``undirected_edges`` and optionally ``tiers`` and ``info``.

        Returns
        -------
        CausalGraph
            The graph.
        """
        nodes = list(d["nodes"])
        p = len(nodes)
        adj = np.zeros((p, p), dtype=bool)
        arrow = np.zeros((p, p), dtype=bool)
        for a, b in d.get("directed_edges", []):
            i, j = nodes.index(a), nodes.index(b)
            adj[i, j] = adj[j, i] = arrow[i, j] = True
        for a, b in d.get("undirected_edges", []):
            i, j = nodes.index(a), nodes.index(b)
            adj[i, j] = adj[j, i] = True
        return cls(nodes, adj, arrow, tiers=list(d.get("tiers", [])), info=dict(d.get("info", {})))

    def __repr__(self) -> str:
        return (
            f"CausalGraph({len(self.nodes)} nodes, {len(self.directed_edges)} directed, "
            f"{len(self.undirected_edges)} undirected edges)"
        )


def tier_violations(
    adj: np.ndarray,
    arrow: np.ndarray,
    tiers: Sequence[int | None],
    forbidden_within_tiers: Iterable[int] = (0,),
) -> int:
    """Count later-to-earlier orientations and adjacencies inside tiers that forbid them.

    Parameters
    ----------
    adj : numpy.ndarray
        Adjacency of the graph checked.
    arrow : numpy.ndarray
        Its orientations.
    tiers : sequence of int or None
        Tier of each node (None: unknown).
    forbidden_within_tiers : iterable of int
        Tiers inside which no edge is allowed.

    Returns
    -------
    int
        The number of violations (0 for every graph psplab learns).
    """
    t = np.array([(-1 if v is None else v) for v in tiers])
    known = t >= 0
    back = arrow & known[:, None] & known[None, :] & (t[:, None] > t[None, :])
    count = int(back.sum())
    for tier in forbidden_within_tiers:
        inside = (t == tier)[:, None] & (t == tier)[None, :]
        count += int(np.triu(adj & inside, 1).sum())
    return count


def compare_graphs(
    adj: np.ndarray,
    arrow: np.ndarray,
    true_dag: np.ndarray,
    true_adj: np.ndarray | None = None,
    true_arrow: np.ndarray | None = None,
) -> dict[str, float]:
    """Structural Hamming distance and adjacency / arrowhead precision and recall.

    Arrowheads are scored against the true DAG (a predicted ``i -> j`` is right when the DAG has
    ``i -> j``); SHD is counted against the reference PDAG ``(true_adj, true_arrow)`` (the true
    CPDAG/MPDAG; the DAG itself when not given): one per missing or extra adjacency and one per
    shared adjacency whose marks differ.

    Parameters
    ----------
    adj : numpy.ndarray
        Adjacency of the learned graph.
    arrow : numpy.ndarray
        Its arrowheads.
    true_dag : numpy.ndarray
        The true DAG, ``true_dag[i, j]``: ``i -> j``.
    true_adj, true_arrow : numpy.ndarray or None
        The reference PDAG for the SHD.

    Returns
    -------
    dict
        ``shd``, ``adjacency_precision``, ``adjacency_recall``, ``arrowhead_precision``,
        ``arrowhead_recall`` (NaN when undefined) and the edge counts.
    """
    dag = np.asarray(true_dag, dtype=bool)
    if true_adj is None or true_arrow is None:
        true_adj, true_arrow = dag | dag.T, dag
    pa = np.triu(adj, 1)
    ta = np.triu(true_adj, 1)
    tp_adj = int((pa & ta).sum())
    n_pred_adj, n_true_adj = int(pa.sum()), int(ta.sum())
    tp_arrow = int((arrow & dag).sum())
    n_pred_arrow, n_true_arrow = int(arrow.sum()), int(dag.sum())
    shd = int((pa ^ ta).sum())
    both = np.triu(adj & true_adj, 1)
    for i, j in zip(*np.nonzero(both), strict=True):
        if (arrow[i, j], arrow[j, i]) != (true_arrow[i, j], true_arrow[j, i]):
            shd += 1

    def ratio(a: int, b: int) -> float:
        return float(a / b) if b else float("nan")

    return {
        "shd": shd,
        "adjacency_precision": ratio(tp_adj, n_pred_adj),
        "adjacency_recall": ratio(tp_adj, n_true_adj),
        "arrowhead_precision": ratio(tp_arrow, n_pred_arrow),
        "arrowhead_recall": ratio(tp_arrow, n_true_arrow),
        "n_edges": n_pred_adj,
        "n_true_edges": n_true_adj,
        "n_arrowheads": n_pred_arrow,
    }
