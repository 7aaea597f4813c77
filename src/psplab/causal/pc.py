"""PC-stable causal discovery with tier knowledge, tier-consistent by construction.

The skeleton phase is PC-stable (Colombo & Maathuis 2014, JMLR 15): at each conditioning-set
size ``l`` the adjacency sets are frozen, every remaining edge ``i - j`` is tested against all
size-``l`` subsets of ``adj(i) \\ {j}`` and ``adj(j) \\ {i}``, and the edges found independent are
removed together. With the Fisher-z test a whole level is one vectorized computation.

Tier knowledge (processing = 0 -> structure = 1 -> property = 2) enters in three places:

1. *Conditioning sets* are drawn only from nodes in tiers up to ``max(tier(i), tier(j))``: if
   ``i`` and ``j`` are non-adjacent and ``tier(i) <= tier(j)``, ``i`` is a non-descendant of
   ``j``, so ``pa(j)`` (all in earlier-or-equal tiers) separates them. Fewer tests, more power.
2. *Orientation*: every cross-tier edge is oriented from the earlier tier **before** colliders and
   Meek's rules run, and later steps only orient still-undirected edges in permitted directions,
   so no step can ever produce a later -> earlier arrow. Edges inside tier 0 are forbidden unless
   allowed (``forbidden_within_tiers``).
3. *Forbidden edges* given by the user stay in the graph during the adjacency search so that a
   genuine separating set is found for them; a pair removed only because it was forbidden has no
   separating set and therefore never creates a collider. causal-learn removes such pairs before
   testing and then reads the empty set as a separating set, which orients spurious v-structures
   (causal-learn issue #224).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from psplab.causal.citests import CITest, FisherZ, make_test
from psplab.causal.graph import CausalGraph, meek_closure, tier_violations
from psplab.errors import InputError

_BATCH = 200_000  # tests per vectorized call; bounds memory at large conditioning sets


class UnknownVariableError(InputError, KeyError):
    """A column, tier or edge names a variable that is not in the data."""

    def __str__(self) -> str:  # KeyError would quote the message
        return "\n".join(self.lines)


def prepare_data(
    dataset: Any,
    tiers: Mapping[str, int] | Sequence[int | None] | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[str], list[int | None]]:
    """``(X, names, tiers)`` from a psplab ``Dataset``, a DataFrame or an array.

    A ``Dataset`` gives its numeric processing/structure/property columns and the spec's tiers
    (``tiers`` overrides entries). Rows with a missing value in any used column are dropped.
    :func:`psplab.causal.prepare_causal_data` does more for a user's table (categorical columns,
    closed compositions) and says what it did.

    Parameters
    ----------
    dataset : Dataset, DataFrame or numpy.ndarray
        The data.
    tiers : mapping or sequence or None
        Tier per variable (name -> tier, or one per column); None entries mean unknown.
    columns : sequence of str or None
        Subset of columns to use.

    Returns
    -------
    tuple
        ``(X, names, tiers)``: the complete rows as floats, the column names, a tier per column.

    Raises
    ------
    InputError
        Non-numeric data, fewer than 10 complete rows, or a constant column.
    UnknownVariableError
        A column or tier named for a variable not in the data.
    """
    spec_tiers: dict[str, int] = {}
    if hasattr(dataset, "spec") and hasattr(dataset, "frame"):
        spec = dataset.spec
        spec_tiers = spec.tiers()
        numeric = [c.name for c in spec.columns if c.name in spec_tiers and c.is_numeric]
        frame = dataset.frame[numeric]
    elif isinstance(dataset, pd.DataFrame):
        frame = dataset
    else:
        arr = np.asarray(dataset, dtype=float)
        if arr.ndim != 2:
            raise InputError(f"data must be 2-D (rows x variables), got shape {arr.shape}")
        frame = pd.DataFrame(arr, columns=[f"x{k}" for k in range(arr.shape[1])])
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UnknownVariableError(f"columns not in the data: {', '.join(map(str, missing))}")
        frame = frame[list(columns)]
    names = [str(c) for c in frame.columns]
    merged: dict[str, int | None] = {n: spec_tiers.get(n) for n in names}
    if tiers is not None:
        if isinstance(tiers, Mapping):
            unknown = [k for k in tiers if k not in merged]
            if unknown:
                raise UnknownVariableError(
                    f"tiers given for unknown variables: {', '.join(map(str, unknown))}"
                )
            merged.update({k: (None if v is None else int(v)) for k, v in tiers.items()})
        else:
            if len(tiers) != len(names):
                raise InputError(f"{len(tiers)} tiers for {len(names)} variables")
            merged = {n: (None if t is None else int(t)) for n, t in zip(names, tiers, strict=True)}
    try:
        X = frame.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError("causal discovery needs numeric columns only") from exc
    X = X[np.all(np.isfinite(X), axis=1)]
    if X.shape[0] < 10:
        raise InputError(f"only {X.shape[0]} complete rows: too few for causal discovery")
    const = [n for n, s in zip(names, X.std(axis=0), strict=True) if s == 0]
    if const:
        raise InputError(f"constant columns carry no information: {', '.join(const)}")
    return X, names, [merged[n] for n in names]


def edge_indices(
    edges: Iterable[tuple[str, str]] | None, names: list[str], what: str
) -> list[tuple[int, int]]:
    """Index pairs of named directed edges; ``KeyError`` naming an edge with an unknown variable.

    Parameters
    ----------
    edges : iterable of (str, str) or None
        Edges ``(cause, effect)``.
    names : list of str
        Variable names, in matrix order.
    what : str
        What the edges are (``"forbidden"``, ``"required"``), for the message.

    Returns
    -------
    list of (int, int)
        ``(names.index(cause), names.index(effect))`` per edge.
    """
    out = []
    for edge in edges or []:
        a, b = edge
        if a not in names or b not in names:
            raise UnknownVariableError(
                f"{what} edge {a!r} -> {b!r} names a variable not in the data"
            )
        out.append((names.index(a), names.index(b)))
    return out


def data_and_knowledge(
    dataset: Any,
    tiers: Mapping[str, int] | Sequence[int | None] | None,
    columns: Sequence[str] | None,
    forbidden: Iterable[tuple[str, str]] | None,
    required: Iterable[tuple[str, str]] | None,
    forbidden_within_tiers: Iterable[int],
) -> tuple[np.ndarray, list[str], Knowledge]:
    """The data matrix, its column names and the background knowledge of a PC run.

    Parameters
    ----------
    dataset : Dataset, DataFrame or numpy.ndarray
        The data (see :func:`prepare_data`).
    tiers : mapping or sequence or None
        Tier per variable.
    columns : sequence of str or None
        Subset of columns to use.
    forbidden, required : iterable of (str, str) or None
        Directed edges that must not / must appear.
    forbidden_within_tiers : iterable of int
        Tiers inside which no edge is allowed.

    Returns
    -------
    tuple
        ``(X, names, Knowledge)``.
    """
    X, names, tier_list = prepare_data(dataset, tiers, columns)
    knowledge = Knowledge(
        tier_list,
        edge_indices(forbidden, names, "forbidden"),
        edge_indices(required, names, "required"),
        forbidden_within_tiers,
    )
    return X, names, knowledge


class Knowledge:
    """Background knowledge over ``p`` variables: tiers, forbidden and required directed edges."""

    def __init__(
        self,
        tiers: Sequence[int | None],
        forbidden: Iterable[tuple[int, int]] = (),
        required: Iterable[tuple[int, int]] = (),
        forbidden_within_tiers: Iterable[int] = (0,),
    ):
        p = len(tiers)
        self.tiers = list(tiers)
        t = np.array([(-1 if v is None else v) for v in tiers])
        self.t = t
        known = t >= 0
        # forbid_dir[i, j]: orienting i -> j is not allowed.
        self.forbid_dir = known[:, None] & known[None, :] & (t[:, None] > t[None, :])
        for i, j in forbidden:
            self.forbid_dir[i, j] = True
        self.required = np.zeros((p, p), dtype=bool)
        for i, j in required:
            if self.forbid_dir[i, j]:
                raise InputError(
                    f"required edge {i} -> {j} contradicts the tiers or forbidden edges"
                )
            self.required[i, j] = True
        self.within = set(int(x) for x in forbidden_within_tiers)
        tier_block = np.zeros((p, p), dtype=bool)
        for tier in self.within:
            inside = t == tier
            tier_block |= inside[:, None] & inside[None, :]
        np.fill_diagonal(tier_block, False)
        # Pairs the user forbade both ways: kept during the search (for honest sepsets), cut after.
        self.user_forbidden_pair = self.forbid_dir & self.forbid_dir.T & ~tier_block
        np.fill_diagonal(self.user_forbidden_pair, False)
        self.tier_forbidden_pair = tier_block & ~(self.required | self.required.T)
        self.fixed = self.required | self.required.T

    def allowed(self, i: int, j: int) -> bool:
        """Whether orienting ``i -> j`` is permitted.

        Parameters
        ----------
        i, j : int
            Cause and effect, by index.

        Returns
        -------
        bool
            False when the direction is forbidden (by the user or the tiers).
        """
        return not self.forbid_dir[i, j]

    def max_tier(self, i: int, j: int) -> int:
        """The later tier of ``i`` and ``j`` (-1 when one is unknown).

        Parameters
        ----------
        i, j : int
            The pair, by index.

        Returns
        -------
        int
            The tier bounding the conditioning sets of the pair.
        """
        if self.t[i] < 0 or self.t[j] < 0:
            return -1
        return int(max(self.t[i], self.t[j]))


def skeleton(
    test: CITest,
    knowledge: Knowledge,
    alpha: float,
    max_cond_size: int | None = None,
    sepset_rule: str = "maxp",
) -> tuple[np.ndarray, dict[tuple[int, int], tuple[int, ...]], dict[str, Any]]:
    """PC-stable adjacency search.

    Parameters
    ----------
    test : CITest
        The conditional-independence test on the data.
    knowledge : Knowledge
        Tiers and forbidden/required edges.
    alpha : float
        Significance level.
    max_cond_size : int or None
        Largest conditioning set tried.
    sepset_rule : str
        ``maxp`` (largest p-value) or ``first``.

    Returns
    -------
    tuple
        ``(adj, sepsets, stats)``: the adjacency matrix, the separating set of each removed pair
        and the number of tests per level.
    """
    p = test.p
    adj = np.ones((p, p), dtype=bool)
    np.fill_diagonal(adj, False)
    adj &= ~knowledge.tier_forbidden_pair
    t = knowledge.t
    sepsets: dict[tuple[int, int], tuple[int, ...]] = {}
    n_tests = 0
    level = 0
    while max_cond_size is None or level <= max_cond_size:
        frozen = adj.copy()
        nbrs = [np.flatnonzero(frozen[v]).tolist() for v in range(p)]
        tl = t.tolist()
        pairs_i, pairs_j, conds, owner = [], [], [], []
        pair_list: list[tuple[int, int]] = []
        any_room = False
        for i, j in zip(*np.nonzero(np.triu(frozen, 1)), strict=True):
            i, j = int(i), int(j)
            if knowledge.fixed[i, j]:
                continue
            top = knowledge.max_tier(i, j)
            seen: set[tuple[int, ...]] = set()
            for side in (i, j):
                nb = [
                    k
                    for k in nbrs[side]
                    if k != i and k != j and (top < 0 or tl[k] < 0 or tl[k] <= top)
                ]
                if len(nb) < level:
                    continue
                any_room = True
                for S in combinations(nb, level):
                    key = tuple(sorted(S))
                    if key in seen:
                        continue
                    seen.add(key)
                    pairs_i.append(i)
                    pairs_j.append(j)
                    conds.append(key)
                    owner.append(len(pair_list))
            if seen:
                pair_list.append((i, j))
        if not any_room:
            break
        if conds:
            ii = np.asarray(pairs_i)
            jj = np.asarray(pairs_j)
            SS = np.asarray(conds, dtype=np.intp).reshape(len(conds), level)
            pv = np.empty(len(conds))
            for start in range(0, len(conds), _BATCH):
                sl = slice(start, start + _BATCH)
                pv[sl] = test.pvalues(ii[sl], jj[sl], SS[sl])
            n_tests += len(conds)
            own = np.asarray(owner)
            # Group the rows of each pair once (stable sort) instead of scanning per pair.
            order = np.argsort(own, kind="stable")
            bounds = np.searchsorted(own[order], np.arange(len(pair_list) + 1))
            for k, (i, j) in enumerate(pair_list):
                rows = order[bounds[k] : bounds[k + 1]]
                _decide(i, j, rows, pv, SS, alpha, sepset_rule, adj, sepsets)
        level += 1
    # User-forbidden pairs leave now; they have a sepset only if the data gave one.
    adj &= ~knowledge.user_forbidden_pair
    return adj, sepsets, {"n_tests": n_tests, "max_level": level - 1}


def _decide(i, j, rows, pv, SS, alpha, rule, adj, sepsets) -> None:
    p_rows = pv[rows]
    indep = p_rows > alpha
    if not np.any(indep):
        return
    pick = int(np.argmax(p_rows)) if rule == "maxp" else int(np.flatnonzero(indep)[0])
    adj[i, j] = adj[j, i] = False
    sepsets[(i, j)] = tuple(int(s) for s in SS[rows[pick]])


def orient(
    adj: np.ndarray,
    sepsets: Mapping[tuple[int, int], tuple[int, ...]],
    knowledge: Knowledge,
) -> np.ndarray:
    """Knowledge first, then colliders, then Meek's rules.

    Parameters
    ----------
    adj : numpy.ndarray
        The skeleton.
    sepsets : mapping
        Separating set of each removed pair ``(i, j)``, ``i < j``.
    knowledge : Knowledge
        Tiers and forbidden/required edges.

    Returns
    -------
    numpy.ndarray
        The ``arrow`` matrix of the MPDAG.
    """
    p = adj.shape[0]
    t = knowledge.t
    arrow = np.zeros((p, p), dtype=bool)
    known = t >= 0
    arrow |= adj & known[:, None] & known[None, :] & (t[:, None] < t[None, :])
    arrow |= adj & knowledge.required
    # One-way forbidden: the other way is implied.
    arrow |= adj & knowledge.forbid_dir.T & ~knowledge.forbid_dir & ~arrow.T
    arrow &= ~arrow.T  # contradictory knowledge leaves the edge undirected

    # Colliders a -> c <- b for unshielded a - c - b with c outside sepset(a, b). Collected first
    # so the outcome does not depend on the order of triples; conflicting wishes cancel.
    want = np.zeros((p, p), dtype=bool)
    for c in range(p):
        nb = np.flatnonzero(adj[c])
        for ia, a in enumerate(nb):
            for b in nb[ia + 1 :]:
                if adj[a, b]:
                    continue
                key = (int(min(a, b)), int(max(a, b)))
                if key not in sepsets or c in sepsets[key]:
                    continue
                arms_ok = all(not arrow[c, x] and knowledge.allowed(int(x), c) for x in (a, b))
                if arms_ok:
                    want[a, c] = want[b, c] = True
    want &= ~want.T
    arrow |= want & ~arrow.T
    return meek_closure(adj, arrow, knowledge.allowed)


def discover(
    dataset: Any,
    tiers: Mapping[str, int] | Sequence[int | None] | None = None,
    forbidden: Iterable[tuple[str, str]] | None = None,
    required: Iterable[tuple[str, str]] | None = None,
    alpha: float = 0.01,
    test: str | CITest = "fisherz",
    *,
    columns: Sequence[str] | None = None,
    forbidden_within_tiers: Iterable[int] = (0,),
    max_cond_size: int | None = None,
    sepset_rule: str = "maxp",
    seed: int = 0,
) -> CausalGraph:
    """Learn an MPDAG with PC-stable and tier knowledge.

    Parameters
    ----------
    dataset : Dataset, DataFrame or numpy.ndarray
        A :class:`psplab.data.Dataset` (numeric processing/structure/property columns, tiers from
        the spec), a DataFrame or an ``(n, p)`` array.
    tiers : mapping or sequence or None
        Tier per variable (mapping name -> tier, or a sequence); overrides the spec's tiers.
        ``None`` entries mean "unknown" (no tier constraint).
    forbidden : iterable of (str, str) or None
        Directed edges ``(cause, effect)`` that must not appear; give both directions to forbid
        the adjacency.
    required : iterable of (str, str) or None
        Directed edges that must appear (never tested, always oriented as given).
    alpha : float
        Significance level of the CI tests.
    test : str or CITest
        ``"fisherz"`` (linear-Gaussian, vectorized), ``"rcot"`` (nonlinear, randomized
        conditional correlation test), ``"kci"`` (causal-learn's kernel test, slow), or a
        :class:`~psplab.causal.citests.CITest` built on the same data.
    columns : sequence of str or None
        Subset of columns to use.
    forbidden_within_tiers : iterable of int
        Tiers inside which no edge is allowed (default: tier 0, the processing knobs, which are
        set by the experimenter and cannot cause each other). Pass ``()`` to allow them.
    max_cond_size : int or None
        Largest conditioning set tried (None: until no edge has enough neighbours).
    sepset_rule : str
        ``"maxp"`` keeps the separating set with the largest p-value, ``"first"`` the first found.
    seed : int
        Seed of randomized tests.

    Returns
    -------
    CausalGraph
        The MPDAG; ``info`` holds the test, alpha, number of tests and seconds.
    """
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    if sepset_rule not in ("maxp", "first"):
        raise InputError(f"sepset_rule must be 'maxp' or 'first', got {sepset_rule!r}")
    X, names, knowledge = data_and_knowledge(
        dataset, tiers, columns, forbidden, required, forbidden_within_tiers
    )
    return discover_array(X, names, knowledge, alpha, test, max_cond_size, sepset_rule, seed)


def discover_array(
    X: np.ndarray,
    names: list[str],
    knowledge: Knowledge,
    alpha: float = 0.01,
    test: str | CITest = "fisherz",
    max_cond_size: int | None = None,
    sepset_rule: str = "maxp",
    seed: int = 0,
    corr: np.ndarray | None = None,
) -> CausalGraph:
    """:func:`discover` on a prepared matrix and :class:`Knowledge` (used by the bootstrap).

    Parameters
    ----------
    X : numpy.ndarray
        ``(n, p)`` complete rows.
    names : list of str
        Column names.
    knowledge : Knowledge
        Tiers and forbidden/required edges.
    alpha : float
        Significance level.
    test : str or CITest
        The test, by name or built.
    max_cond_size : int or None
        Largest conditioning set tried.
    sepset_rule : str
        ``maxp`` or ``first``.
    seed : int
        Seed of randomized tests.
    corr : numpy.ndarray or None
        The correlation matrix of ``X`` when already known (Fisher-z).

    Returns
    -------
    CausalGraph
        The MPDAG.
    """
    # One BLAS thread: the work is many tiny products, where OpenBLAS threads only spin
    # (and the bootstrap runs several of these side by side).
    with threadpool_limits(limits=1, user_api="blas"):
        return _discover_array(
            X, names, knowledge, alpha, test, max_cond_size, sepset_rule, seed, corr
        )


def _discover_array(X, names, knowledge, alpha, test, max_cond_size, sepset_rule, seed, corr):
    start = time.perf_counter()
    if isinstance(test, CITest):
        ci, test_name = test, type(test).__name__.lower()
    elif test == "fisherz" and corr is not None:
        ci, test_name = FisherZ(corr=corr, n=X.shape[0]), "fisherz"
    else:
        ci, test_name = make_test(test, X, seed=seed), test
    adj, sepsets, stats = skeleton(ci, knowledge, alpha, max_cond_size, sepset_rule)
    arrow = orient(adj, sepsets, knowledge)
    graph = CausalGraph(
        list(names),
        adj,
        arrow,
        tiers=list(knowledge.tiers),
        sepsets=dict(sepsets),
        info={
            "test": test_name,
            "alpha": alpha,
            "n_samples": int(X.shape[0]),
            "seconds": time.perf_counter() - start,
            "forbidden_within_tiers": sorted(knowledge.within),
            **stats,
        },
    )
    # By construction this is zero; checked because the guarantee is the point of the module.
    bad = tier_violations(adj, arrow, knowledge.tiers, knowledge.within)
    if bad:  # pragma: no cover - would be a bug in orient()
        raise AssertionError(f"internal error: {bad} tier violations")
    return graph
