"""Causal effects from a learned MPDAG: IDA linear total effects and nonlinear dose-response.

IDA (Maathuis, Kalisch & Bühlmann 2009, Ann. Stat. 37:3133): in a CPDAG the parents of ``X``
are known only up to the *valid parent sets*: the directed parents plus any subset ``S`` of the
siblings (undirected neighbours) whose orientation ``S -> X -> (sib \\ S)`` is consistent with
the graph. Each valid set ``P`` gives one total effect, the coefficient of ``X`` in the OLS
regression of ``Y`` on ``X`` and ``P`` (zero when ``Y`` is in ``P``). For an MPDAG (a CPDAG
refined by background knowledge, Perković et al. 2017; Fang & He 2020, IDA with background
knowledge) validity is decided here exactly: ``S`` must create no new collider at ``X``, and the
graph with ``S -> X -> (sib \\ S)`` closed under Meek's rules (respecting the tiers) must still
have a consistent DAG extension (Dor & Tarsi 1992). The effect is *identified* when all valid
sets give the same value.

Tier-0 variables (processing knobs) cannot cause each other when edges inside tier 0 are
forbidden; their observed correlations are then design correlations or common upstream causes,
so for a tier-0 ``X`` the other tier-0 variables are added to every adjustment set (they are
non-descendants of ``X`` and block any path through them).

Dose-response: :class:`StructuralCausalModel` fits one probabilistic regressor per node on its
parents in a DAG extension of the MPDAG and computes ``E[Y | do(X = x)]`` on a grid by
simulation: non-descendants of ``X`` keep their observed joint values (rows of the data), ``X``
is set to ``x``, and descendants are drawn in topological order from their regressors'
posterior predictive (function draws shared across rows within one draw, plus noise). The band
is the spread of the row-averaged response over function draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from psplab.causal.graph import CausalGraph, consistent_extension, meek_closure, tier_allowed
from psplab.errors import InputError

# Smallest eigenvalue of the regressors' correlation matrix below which an adjustment is
# singular: the regressors are (to rounding) linearly dependent, e.g. a closed composition, and
# the coefficient is not determined by the data. Such an effect is reported as NaN, never as a
# number.
SINGULAR_EIGENVALUE = 1e-10


def _z(level: float) -> float:
    """Two-sided normal quantile (scipy.special, not scipy.stats: a much lighter import)."""
    from scipy.special import ndtri

    return float(ndtri(0.5 + level / 2))


_MAX_SIBLINGS = 12  # 2^12 subsets; beyond that the graph is too undirected for IDA to be useful


@dataclass
class IDAResult:
    """Possible total effects of ``treatment`` on ``outcome`` (one per valid parent set)."""

    treatment: str
    outcome: str
    effects: np.ndarray
    std_errors: np.ndarray
    parent_sets: list[tuple[str, ...]]

    @property
    def identified(self) -> bool:
        """All valid parent sets give the same effect (up to rounding)."""
        if self.effects.size == 0 or np.isnan(self.effects).any():
            return False
        scale = max(float(np.max(np.abs(self.effects))), 1e-12)
        return bool(np.ptp(self.effects) <= 1e-9 * scale) or len(self.effects) == 1

    @property
    def effect(self) -> float:
        """The effect when identified, else the one of smallest magnitude (IDA's lower bound).

        NaN when any valid parent set gives no estimate (a singular adjustment).
        """
        if self.effects.size == 0 or np.isnan(self.effects).any():
            return float("nan")
        return (
            float(self.effects[np.argmin(np.abs(self.effects))])
            if not self.identified
            else float(self.effects[0])
        )

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        """Union over parent sets of the OLS normal intervals.

        Parameters
        ----------
        level : float
            Coverage of each normal interval.

        Returns
        -------
        tuple of float
            ``(low, high)``; NaN when a parent set gave no estimate.
        """
        z = _z(level)
        lo = self.effects - z * self.std_errors
        hi = self.effects + z * self.std_errors
        return float(np.min(lo)), float(np.max(hi))


def valid_parent_sets(graph: CausalGraph, treatment: str) -> list[tuple[str, ...]]:
    """Parent sets of ``treatment`` over the DAGs the MPDAG represents (see module docstring).

    Parameters
    ----------
    graph : CausalGraph
        The MPDAG (closed under Meek's rules here if it is not yet).
    treatment : str
        The node.

    Returns
    -------
    list of tuple of str
        Each valid parent set, names sorted by node order.

    Raises
    ------
    InputError
        More than 12 undirected neighbours (4096 candidate sets).
    """
    x = graph.index(treatment)
    allowed = tier_allowed(graph.tiers)
    adj = graph.adj
    arrow = meek_closure(adj, graph.arrow, allowed)  # a hand-made graph may not be closed yet
    pa = list(np.flatnonzero(arrow[:, x]))
    sib = list(np.flatnonzero(adj[x] & ~arrow[x] & ~arrow[:, x]))
    if len(sib) > _MAX_SIBLINGS:
        raise InputError(f"{treatment!r} has {len(sib)} undirected neighbours: too many for IDA")
    out: list[tuple[str, ...]] = []
    for r in range(len(sib) + 1):
        for S in combinations(sib, r):
            # No new collider at x: S must be a clique, and each s adjacent to every parent.
            if any(not adj[a, b] for a, b in combinations(S, 2)):
                continue
            if any(not adj[s, q] for s in S for q in pa):
                continue
            # Nor at a child: x -> c with a parent of c not adjacent to x.
            if any(not adj[q, x] for c in sib if c not in S for q in np.flatnonzero(arrow[:, c])):
                continue
            if any(not allowed(int(s), x) for s in S) or any(
                not allowed(x, int(c)) for c in sib if c not in S
            ):
                continue
            trial = arrow.copy()
            for s in S:
                trial[s, x] = True
            for c in sib:
                if c not in S:
                    trial[x, c] = True
            trial = meek_closure(adj, trial, allowed)
            if consistent_extension(adj, trial) is None:
                continue
            out.append(tuple(graph.nodes[k] for k in sorted([*pa, *S])))
    return out


class LinearStats:
    """Sample covariance of the graph's variables: every IDA regression comes from it."""

    def __init__(self, data: pd.DataFrame, nodes: Sequence[str]):
        X = data[list(nodes)].to_numpy(dtype=float)
        X = X[~np.isnan(X).any(axis=1)]  # complete rows (cheaper than DataFrame.dropna)
        self.n = X.shape[0]
        Xc = X - X.mean(axis=0)
        self.cov = np.einsum("ni,nj->ij", Xc, Xc) / max(self.n - 1, 1)
        self.index = {n: k for k, n in enumerate(nodes)}

    def coef(self, outcome: str, regressors: Sequence[str]) -> tuple[float, float]:
        """OLS coefficient of the first regressor (with intercept) and its standard error.

        Parameters
        ----------
        outcome : str
            The regressed variable.
        regressors : sequence of str
            The treatment first, then the adjustment set.

        Returns
        -------
        tuple of float
            ``(coefficient, standard error)``; ``(nan, nan)`` when the regressors are linearly
            dependent (see :data:`SINGULAR_EIGENVALUE`): such a coefficient is not determined
            by the data and is never reported as a number.
        """
        a = [self.index[r] for r in regressors]
        y = self.index[outcome]
        caa = self.cov[np.ix_(a, a)]
        cay = self.cov[a, y]
        if self.singular(regressors):
            return float("nan"), float("nan")
        inv = np.linalg.pinv(caa)
        beta = inv @ cay
        dof = max(self.n - len(a) - 1, 1)
        sigma2 = max(float(self.cov[y, y] - cay @ beta), 0.0) * (self.n - 1) / dof
        se = np.sqrt(max(sigma2 * inv[0, 0] / (self.n - 1), 0.0))
        return float(beta[0]), float(se)

    def singular(self, regressors: Sequence[str]) -> bool:
        """True when ``regressors`` are linearly dependent (or one is constant) in the data.

        Parameters
        ----------
        regressors : sequence of str
            Variable names.

        Returns
        -------
        bool
            Whether the smallest eigenvalue of their correlation matrix is below
            :data:`SINGULAR_EIGENVALUE`.
        """
        a = [self.index[r] for r in regressors]
        caa = self.cov[np.ix_(a, a)]
        scale = np.sqrt(np.diag(caa))
        if self.n <= len(a) or np.any(scale <= 0):
            return True
        corr = caa / np.outer(scale, scale)
        return bool(np.linalg.eigvalsh(corr)[0] < SINGULAR_EIGENVALUE)


def ida(
    graph: CausalGraph,
    data: pd.DataFrame,
    treatment: str,
    outcome: str,
    adjust_exogenous: bool = True,
    stats: LinearStats | None = None,
) -> IDAResult:
    """IDA total effects of ``treatment`` on ``outcome`` (per unit of ``treatment``).

    Parameters
    ----------
    graph : CausalGraph
        The MPDAG.
    data : DataFrame
        The data (columns named as the graph's nodes).
    treatment, outcome : str
        The pair.
    adjust_exogenous : bool
        For a treatment in a tier whose internal edges are forbidden, add the other nodes of that
        tier to every adjustment set.
    stats : LinearStats or None
        The covariance of ``data`` when many pairs are evaluated on the same data.

    Returns
    -------
    IDAResult
        One effect and standard error per valid parent set.
    """
    if outcome == treatment:
        raise InputError("treatment and outcome must differ")
    sets = valid_parent_sets(graph, treatment)
    extra = _exogenous_peers(graph, treatment) if adjust_exogenous else []
    stats = stats or LinearStats(data, graph.nodes)
    effects, ses, used = [], [], []
    for P in sets:
        adjust = sorted(set(P) | set(extra))
        used.append(tuple(P))
        if outcome in adjust:
            effects.append(0.0)
            ses.append(0.0)
            continue
        c, se = stats.coef(outcome, [treatment, *adjust])
        effects.append(c)
        ses.append(se)
    return IDAResult(treatment, outcome, np.asarray(effects), np.asarray(ses), used)


# --- identified effects: the optimal adjustment set ---------------------------------------


def _reach(step: np.ndarray, sources: Sequence[int], blocked: Sequence[int] = ()) -> set[int]:
    """Nodes reachable from ``sources`` along ``step[u, v]`` moves (sources included), never
    entering a ``blocked`` node."""
    seen = set(int(s) for s in sources)
    stack = list(seen)
    stop = set(int(b) for b in blocked)
    while stack:
        v = stack.pop()
        for w in np.flatnonzero(step[v]):
            w = int(w)
            if w not in seen and w not in stop:
                seen.add(w)
                stack.append(w)
    return seen


@dataclass
class AdjustmentResult:
    """Graphical identification of the total effect of ``treatment`` on ``outcome``.

    ``identified`` is True when the MPDAG is *amenable* for the pair (every proper possibly
    causal path from the treatment to the outcome starts with an edge directed out of the
    treatment) or when the outcome is not a possible descendant of the treatment (effect zero).
    ``adjustment_set`` is then the optimal adjustment set (O-set), else None.
    """

    treatment: str
    outcome: str
    identified: bool
    adjustment_set: tuple[str, ...] | None
    causal_nodes: tuple[str, ...]
    reason: str


def optimal_adjustment_set(graph: CausalGraph, treatment: str, outcome: str) -> AdjustmentResult:
    """The optimal adjustment set of Henckel, Perković & Maathuis (2022) in a CPDAG/MPDAG.

    ``O = pa(cn) \\ forb`` with ``cn`` the causal nodes (possible descendants of ``X`` that
    are possible ancestors of ``Y`` along paths avoiding ``X``, ``Y`` included), ``forb`` the
    possible descendants of ``cn`` together with ``X``, and ``pa`` the directed parents. Among
    all valid adjustment sets it gives the OLS estimator of smallest asymptotic variance.
    Identification (amenability, Perković et al. 2017; Perković 2020) is checked first.

    Possibly causal paths are taken edge by edge (no edge on the path points back towards
    ``X``). In an MPDAG this is a superset of Perković's b-possibly causal paths, so the check
    can only declare a pair non-identified that is in fact identified, never the reverse.

    Parameters
    ----------
    graph : CausalGraph
        The MPDAG.
    treatment, outcome : str
        The pair.

    Returns
    -------
    AdjustmentResult
        Whether the effect is identified, the O-set and the causal nodes, and why.
    """
    if outcome == treatment:
        raise InputError("treatment and outcome must differ")
    x, y = graph.index(treatment), graph.index(outcome)
    arrow = graph.arrow
    und = graph.adj & ~arrow & ~arrow.T
    forward = arrow | und  # a move u -> v or u - v: not against the path's direction
    de_x = _reach(forward, [x])
    if y not in de_x:
        return AdjustmentResult(treatment, outcome, True, (), (), "not a possible descendant")
    an_y = _reach(forward.T, [y], blocked=[x])
    sib = [int(s) for s in np.flatnonzero(und[x])]
    bad = [graph.nodes[s] for s in sib if s in an_y]
    if bad:
        return AdjustmentResult(
            treatment,
            outcome,
            False,
            None,
            (),
            "not amenable: a possibly causal path starts with the undirected edge "
            + ", ".join(f"{treatment} - {b}" for b in bad),
        )
    cn = (de_x & an_y) - {x}
    forb = _reach(forward, cn) | {x}
    pa_cn = {int(u) for v in cn for u in np.flatnonzero(arrow[:, v])}
    oset = sorted(pa_cn - forb)
    return AdjustmentResult(
        treatment,
        outcome,
        True,
        tuple(graph.nodes[k] for k in oset),
        tuple(graph.nodes[k] for k in sorted(cn)),
        "amenable",
    )


@dataclass
class TotalEffect:
    """Linear total effect of ``treatment`` on ``outcome`` by covariate adjustment.

    ``effect`` and ``std_error`` are NaN when the effect is not identified in the graph; zero
    (exactly) when the outcome is not a possible descendant of the treatment.
    """

    treatment: str
    outcome: str
    effect: float
    std_error: float
    identified: bool
    adjustment_set: tuple[str, ...] | None
    reason: str

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        """Normal interval of the OLS coefficient.

        Parameters
        ----------
        level : float
            Coverage.

        Returns
        -------
        tuple of float
            ``(low, high)``.
        """
        z = _z(level)
        return self.effect - z * self.std_error, self.effect + z * self.std_error


def total_effect(
    graph: CausalGraph,
    data: pd.DataFrame,
    treatment: str,
    outcome: str,
    stats: LinearStats | None = None,
    adjust_exogenous: bool = True,
) -> TotalEffect:
    """Total effect (per unit of ``treatment``) with the optimal adjustment set when identified.

    The estimate is the coefficient of ``treatment`` in the OLS regression of ``outcome`` on
    ``treatment`` and the O-set (:func:`optimal_adjustment_set`); among valid adjustment sets
    this has the smallest asymptotic variance (Henckel, Perković & Maathuis 2022, JRSS-B 84:579),
    unlike the parent set IDA uses, which contains no outcome predictors and can hold variables
    that only move the treatment. When the effect is not identified, use :func:`ida`.

    Parameters
    ----------
    graph : CausalGraph
        The learned MPDAG (identification and the O-set come from it).
    data : DataFrame
        Observations, one column per node.
    treatment, outcome : str
        Cause and effect.
    stats : LinearStats or None
        Precomputed covariance of ``data`` (saves recomputing it for many pairs).
    adjust_exogenous : bool
        For a treatment in a tier whose internal edges are forbidden (the processing knobs), the
        other variables of that tier join the O-set, as in :func:`ida`. They are non-descendants
        of the treatment and cannot be colliders (nothing in a later tier causes them), so the set
        stays valid; and it stays valid when the learned graph misses an edge from a knob that is
        correlated with the treatment by design (steel grades fix composition and heat treatment
        together), where the O-set alone would be confounded.

    Returns
    -------
    TotalEffect
        NaN effect when not identified (or the adjustment is singular); exactly 0 when the
        outcome is not a possible descendant of the treatment.
    """
    adj = optimal_adjustment_set(graph, treatment, outcome)
    if not adj.identified:
        nan = float("nan")
        return TotalEffect(treatment, outcome, nan, nan, False, None, adj.reason)
    if not adj.causal_nodes:
        return TotalEffect(treatment, outcome, 0.0, 0.0, True, (), adj.reason)
    stats = stats or LinearStats(data, graph.nodes)
    assert adj.adjustment_set is not None
    peers = _exogenous_peers(graph, treatment) if adjust_exogenous else []
    adjust = (*adj.adjustment_set, *[v for v in peers if v not in adj.adjustment_set])
    c, se = stats.coef(outcome, [treatment, *adjust])
    return TotalEffect(treatment, outcome, c, se, True, adjust, adj.reason)


def _exogenous_peers(graph: CausalGraph, treatment: str) -> list[str]:
    """The other nodes of the treatment's tier when edges inside that tier are forbidden."""
    tx = graph.tiers[graph.index(treatment)]
    within = graph.info.get("forbidden_within_tiers", [0])
    if tx is None or tx not in within:
        return []
    return [n for n, t in zip(graph.nodes, graph.tiers, strict=True) if t == tx and n != treatment]


# --- nonlinear: structural causal model with probabilistic node equations ------------------


def make_node_model(name: str, seed: int = 0, **params: Any):
    """A regressor for one node equation: ``psplab.models.make_model(name)``.

    For ``"gp"`` the hyperparameter search defaults to a single start (``n_restarts=0``): an SCM
    fits one GP per node and the simulation, not the last digit of the likelihood, dominates.

    Parameters
    ----------
    name : str
        A registered model name.
    seed : int
        Seed of the model.
    **params
        Further constructor parameters.

    Returns
    -------
    ProbabilisticRegressor
        An unfitted regressor.
    """
    from psplab.models import make_model

    if name == "gp":
        params = {"n_restarts": 0, "seed": seed, **params}
    elif name in ("bhn", "ensemble", "dropout", "rf"):
        params = {"seed": seed, **params}
    return make_model(name, **params)


def dag_extension(graph: CausalGraph) -> np.ndarray:
    """One DAG in the MPDAG's class (Dor-Tarsi); falls back to a tier/name order if none exists.

    Parameters
    ----------
    graph : CausalGraph
        The MPDAG.

    Returns
    -------
    numpy.ndarray
        ``(p, p)`` boolean, ``dag[i, j]``: ``i -> j``.
    """
    ext = consistent_extension(graph.adj, graph.arrow)
    if ext is not None:
        return ext
    # Sample errors can leave an MPDAG without a consistent extension; keep its arrows and
    # orient the rest along a topological order of (tier, directed part).
    order = _topo_order(graph.arrow, graph.tiers)
    rank = {v: k for k, v in enumerate(order)}
    out = graph.arrow.copy()
    for i, j in zip(*np.nonzero(np.triu(graph.adj & ~graph.arrow & ~graph.arrow.T)), strict=True):
        if rank[i] < rank[j]:
            out[i, j] = True
        else:
            out[j, i] = True
    return out


def _topo_order(arrow: np.ndarray, tiers: Sequence[int | None]) -> list[int]:
    p = arrow.shape[0]
    indeg = arrow.sum(axis=0).astype(int)
    ready = [v for v in range(p) if indeg[v] == 0]
    order: list[int] = []
    while ready:
        ready.sort(key=lambda v: ((tiers[v] if tiers[v] is not None else 0), v))
        v = ready.pop(0)
        order.append(v)
        for w in np.flatnonzero(arrow[v]):
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(int(w))
    if len(order) != p:
        raise ValueError("the directed part of the graph has a cycle")
    return order


@dataclass
class DoseResponse:
    """``E[outcome | do(treatment = x)]`` on ``grid`` with a band at ``level``.

    ``draws`` (``(n_draws, len(grid))``) is None for a curve read back from its CSV.
    """

    treatment: str
    outcome: str
    grid: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    draws: np.ndarray | None
    level: float = 0.9

    @property
    def range_effect(self) -> tuple[float, float, float]:
        """``E[do(grid[-1])] - E[do(grid[0])]``: mean and band over draws (NaN band without
        draws)."""
        if self.draws is None:
            return float(self.mean[-1] - self.mean[0]), float("nan"), float("nan")
        d = self.draws[:, -1] - self.draws[:, 0]
        a = (1 - self.level) / 2
        return float(d.mean()), float(np.quantile(d, a)), float(np.quantile(d, 1 - a))

    def to_frame(self) -> pd.DataFrame:
        """The curve as a table: the treatment's grid, ``mean``, ``lower``, ``upper``.

        Returns
        -------
        DataFrame
            One row per grid point (what ``psplab causal`` writes to ``dose_response/*.csv``).
        """
        return pd.DataFrame(
            {self.treatment: self.grid, "mean": self.mean, "lower": self.lower, "upper": self.upper}
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, outcome: str, level: float = 0.9) -> DoseResponse:
        """Read a curve back from :meth:`to_frame`'s table.

        Parameters
        ----------
        frame : DataFrame
            First column the treatment's grid, then ``mean``, ``lower``, ``upper``.
        outcome : str
            The outcome's name (not stored in the table).
        level : float
            Level of the band.

        Returns
        -------
        DoseResponse
            The curve, without draws.
        """
        missing = {"mean", "lower", "upper"} - set(frame.columns)
        if missing:
            raise InputError(f"dose-response table lacks column(s) {', '.join(sorted(missing))}")
        treatment = str(frame.columns[0])
        values = {k: frame[k].to_numpy(dtype=float) for k in ("mean", "lower", "upper")}
        return cls(
            treatment,
            outcome,
            frame[treatment].to_numpy(dtype=float),
            draws=None,
            level=level,
            **values,
        )


@dataclass
class StructuralCausalModel:
    """SCM over a causal graph with a probabilistic regressor per non-root node.

    :meth:`fit` learns one regressor per node from its parents' columns; :meth:`dose_response`
    then simulates an intervention through them in topological order.

    Parameters
    ----------
    graph : CausalGraph
        The learned MPDAG; a DAG extension of it fixes the parent sets.
    model : str
        Regressor name for :func:`make_node_model` (``"gp"``, ``"bhn"``, ...).
    model_params : dict
        Extra constructor parameters of the regressor.
    seed : int
        Seed of the fits and of the simulation.
    """

    graph: CausalGraph
    model: str = "gp"
    model_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def fit(self, data: pd.DataFrame) -> StructuralCausalModel:
        """Fit each node's regressor on its parents (rows with missing values dropped).

        Parameters
        ----------
        data : DataFrame
            The data, with a column per node of the graph.

        Returns
        -------
        StructuralCausalModel
            ``self``, with ``data_``, ``dag_``, ``order_`` and ``models_``.
        """
        # Small dense algebra: one BLAS thread is faster than several spinning ones.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(data)

    def _fit(self, data: pd.DataFrame) -> StructuralCausalModel:
        nodes = self.graph.nodes
        missing = [n for n in nodes if n not in data.columns]
        if missing:
            raise KeyError(f"data lacks graph nodes: {', '.join(missing)}")
        self.data_ = data[nodes].dropna().reset_index(drop=True)
        self.dag_ = dag_extension(self.graph)
        self.order_ = _topo_order(self.dag_, self.graph.tiers)
        self.models_: dict[str, Any] = {}
        for v in self.order_:
            pa = [nodes[i] for i in np.flatnonzero(self.dag_[:, v])]
            if not pa:
                continue
            m = make_node_model(self.model, seed=self.seed + v, **self.model_params)
            m.fit(self.data_[pa].to_numpy(dtype=float), self.data_[nodes[v]].to_numpy(dtype=float))
            self.models_[nodes[v]] = (pa, m)
        return self

    def descendants(self, treatment: str) -> list[str]:
        """Descendants of ``treatment`` in the fitted DAG, in topological order.

        Parameters
        ----------
        treatment : str
            The node intervened on, one of :attr:`graph`'s.

        Returns
        -------
        list of str
            Its descendants (empty for a sink).
        """
        x = self.graph.index(treatment)
        reach = {x}
        for v in self.order_:
            if v != x and any(self.dag_[u, v] for u in reach):
                reach.add(v)
        return [self.graph.nodes[v] for v in self.order_ if v in reach and v != x]

    def dose_response(
        self,
        treatment: str,
        outcomes: Sequence[str] | str,
        grid: np.ndarray | None = None,
        n_grid: int = 15,
        n_draws: int = 40,
        n_rows: int = 40,
        level: float = 0.9,
        seed: int | None = None,
    ) -> dict[str, DoseResponse]:
        """``E[Y | do(treatment = x)]`` for each outcome on a grid.

        Parameters
        ----------
        treatment : str
            The node set by the intervention.
        outcomes : str or sequence of str
            The nodes whose interventional mean is wanted.
        grid : numpy.ndarray or None
            Values of the treatment (default: ``n_grid`` points from its 5th to 95th percentile).
        n_grid : int
            Grid points when ``grid`` is None.
        n_draws : int
            Function draws of the regressors (the band's sample).
        n_rows : int
            Data rows averaged per draw (the non-descendants' observed values).
        level : float
            Level of the band.
        seed : int or None
            Seed of the simulation (default: the model's).

        Returns
        -------
        dict
            Outcome -> :class:`DoseResponse`.
        """
        with threadpool_limits(limits=1, user_api="blas"):
            return self._dose_response(
                treatment, outcomes, grid, n_grid, n_draws, n_rows, level, seed
            )

    def _dose_response(self, treatment, outcomes, grid, n_grid, n_draws, n_rows, level, seed):
        if isinstance(outcomes, str):
            outcomes = [outcomes]
        seed = self.seed if seed is None else seed
        rng = np.random.default_rng(seed)
        data = self.data_
        xs = data[treatment].to_numpy(dtype=float)
        if grid is None:
            grid = np.linspace(*np.quantile(xs, [0.05, 0.95]), n_grid)
        grid = np.asarray(grid, dtype=float)
        G = len(grid)
        R = min(n_rows, len(data))
        desc = self.descendants(treatment)
        index = {n: k for k, n in enumerate(self.graph.nodes)}
        has_child = {n: any(self.dag_[index[n], index[c]] for c in desc) for n in desc}
        observed = data.to_numpy(dtype=float)
        # Each draw takes its own rows for the non-descendants, so the band also carries the
        # Monte Carlo error of averaging over R rows instead of the whole data set.
        values = {n: np.empty((n_draws, G * R)) for n in self.graph.nodes}
        for m in range(n_draws):
            rows = observed[rng.choice(len(data), R, replace=False)]
            for n in self.graph.nodes:
                values[n][m] = np.tile(rows[:, index[n]], G)
            values[treatment][m] = np.repeat(grid, R)
            for k, node in enumerate(desc):
                pa, model = self.models_[node]
                Xm = np.column_stack([values[p][m] for p in pa])
                draw = model.sample(
                    Xm, n_samples=1, seed=seed + 7919 * k + m, include_noise=has_child[node]
                )
                values[node][m] = np.asarray(draw).reshape(-1)
        results = {}
        a = (1 - level) / 2
        for y in outcomes:
            # A non-descendant keeps its observed distribution under do(X).
            per = values[y].reshape(n_draws, G, R).mean(axis=2)
            results[y] = DoseResponse(
                treatment=treatment,
                outcome=y,
                grid=grid,
                mean=per.mean(axis=0),
                lower=np.quantile(per, a, axis=0),
                upper=np.quantile(per, 1 - a, axis=0),
                draws=per,
                level=level,
            )
        return results
