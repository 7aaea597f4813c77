"""Influence ranking: for each outcome, which processing parameters move it, by how much, how sure.

One row per (outcome, parameter):

* ``effect_per_unit`` — the linear total effect. When the learned MPDAG identifies it (the pair is
  amenable, or the outcome is not a possible descendant of the parameter) this is the OLS
  coefficient with the *optimal adjustment set* (O-set, Henckel, Perković & Maathuis 2022;
  ``estimator = "optimal"``, set in ``adjustment_set``), exactly 0 with sign ``0`` when the graph
  has no possibly causal path. Otherwise the IDA set (Maathuis et al. 2009): its
  smallest-magnitude member (``estimator = "ida"``) with the span in ``effect_per_unit_min/max``.
* ``effect_per_unit_ida`` — the IDA value (parent-set adjustment; for a tier-0 parameter with
  edges inside tier 0 forbidden, the regression adjusted for the other processing parameters,
  which does not depend on the learned edges), kept so a graph error shows as a disagreement.
* the effect over the parameter's range (per-unit effect times the range width), a 90 % interval,
  the sign (``+``/``-`` when the interval excludes zero, ``?`` otherwise, ``0`` for no causal path),
  the bootstrap stability of the direct edge and of the ancestral relation, and the rank within
  the outcome by absolute range effect. The nonlinear dose-response range effect and its band,
  where computed, sit in the ``dose_*`` columns.
* ``flag``: why the row is not a result (empty when it is): no estimate (singular adjustment),
  an effect larger than :data:`MAX_RANGE_RATIO` times the outcome's observed range, or a sign
  that contradicts the row's own dose-response. Flagged rows have sign ``!`` and rank last;
  :func:`top_drivers` never returns them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from psplab.causal.effects import DoseResponse, LinearStats, ida, total_effect
from psplab.causal.graph import CausalGraph
from psplab.causal.stability import EdgeStability
from psplab.errors import InputError

INFLUENCE_COLUMNS = [
    "outcome",
    "parameter",
    "rank",
    "effect_per_unit",
    "effect_per_unit_min",
    "effect_per_unit_max",
    "identified",
    "range_low",
    "range_high",
    "effect_over_range",
    "interval_low",
    "interval_high",
    "sign",
    "dose_effect_over_range",
    "dose_interval_low",
    "dose_interval_high",
    "edge_stability",
    "ancestor_stability",
    "n_parent_sets",
    "estimator",
    "adjustment_set",
    "effect_per_unit_ida",
    "flag",
]

# An effect over a parameter's range larger than this many times the outcome's whole observed
# range is not a result: no change inside the data moves the outcome that far.
MAX_RANGE_RATIO = 10.0


def influence_table(
    graph: CausalGraph,
    data: pd.DataFrame,
    treatments: Sequence[str] | None = None,
    outcomes: Sequence[str] | None = None,
    stability: EdgeStability | None = None,
    dose: Mapping[tuple[str, str], DoseResponse] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    level: float = 0.9,
    estimator: str = "optimal",
) -> pd.DataFrame:
    """The influence table (columns :data:`INFLUENCE_COLUMNS`), ranked within each outcome.

    Parameters
    ----------
    graph : CausalGraph
        Learned MPDAG.
    data : DataFrame
        The data the graph was learned from (column names = graph nodes).
    treatments : sequence of str or None
        Parameters to rank (default: the tier-0 nodes, or all nodes when no tiers are known).
    outcomes : sequence of str or None
        Outcomes (default: nodes in the last tier, or every non-treatment node without tiers).
    stability : EdgeStability or None
        Bootstrap frequencies; gives ``edge_stability`` (direct ``X -> Y``) and
        ``ancestor_stability`` (``X`` a possible ancestor of ``Y``).
    dose : mapping or None
        Dose-response curves by ``(treatment, outcome)``; their range effects fill the
        ``dose_*`` columns.
    ranges : mapping or None
        ``(low, high)`` per parameter (default: the 5th and 95th percentiles in ``data``).
    level : float
        Interval level.
    estimator : str
        ``"optimal"``: the O-set estimate where the graph identifies the effect, IDA elsewhere;
        ``"ida"``: IDA everywhere (for tier-0 parameters the regression adjusted for the other
        knobs, which does not rely on the learned edges).

    Returns
    -------
    DataFrame
        One row per (outcome, parameter). A row whose estimate cannot be trusted (see
        :func:`flag_effects`) carries the reason in ``flag``, sign ``!`` and ranks last.
    """
    if estimator not in ("optimal", "ida"):
        raise InputError(f"estimator must be 'optimal' or 'ida', got {estimator!r}")
    treatments, outcomes = _default_roles(graph, treatments, outcomes)
    stats = LinearStats(data, graph.nodes)
    rows = []
    for y in outcomes:
        for x in treatments:
            if x == y:
                continue
            lo_hi = (ranges or {}).get(x) or tuple(np.quantile(data[x].dropna(), [0.05, 0.95]))
            row = _effect_row(graph, data, stats, x, y, lo_hi, level, estimator)
            if dose is not None and (x, y) in dose:
                m, lo, hi = dose[(x, y)].range_effect
                row.update(dose_effect_over_range=m, dose_interval_low=lo, dose_interval_high=hi)
            if stability is not None:
                i, j = stability.index(x), stability.index(y)
                row["edge_stability"] = float(stability.directed[i, j])
                row["ancestor_stability"] = float(stability.ancestor[i, j])
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=INFLUENCE_COLUMNS)
    # Sign and rank follow the linear effect: it uses every row, while the dose-response
    # band also carries the SCM's function-draw and Monte Carlo spread; both are reported.
    lo, hi = frame["interval_low"], frame["interval_high"]
    frame["sign"] = np.where(lo > 0, "+", np.where(hi < 0, "-", "?"))
    # No possibly causal path in the graph: the effect is zero by the graph, not by the data.
    no_path = (lo == 0) & (hi == 0) & (frame["estimator"] == "optimal")
    frame.loc[no_path, "sign"] = "0"
    spans = {y: float(np.ptp(data[y].dropna())) if data[y].notna().any() else 0.0 for y in outcomes}
    frame["flag"] = flag_effects(frame, spans)
    frame.loc[frame["flag"] != "", "sign"] = "!"
    # Flagged rows rank after every estimate (score -1).
    frame["_score"] = np.where(frame["flag"] == "", np.abs(frame["effect_over_range"]), -1.0)
    frame["_score"] = frame["_score"].fillna(-1.0)
    frame["rank"] = (
        frame.groupby("outcome")["_score"].rank(ascending=False, method="first").astype(int)
    )
    frame = frame.sort_values(["outcome", "rank"], ignore_index=True).drop(columns="_score")
    return frame[INFLUENCE_COLUMNS]


def _default_roles(
    graph: CausalGraph, treatments: Sequence[str] | None, outcomes: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """Treatments: the earliest tier (all nodes without tiers); outcomes: the last tier."""
    tiers = graph.tiers
    known = [t for t in tiers if t is not None]
    if treatments is None:
        low = min(known) if known else None
        treatments = [n for n, t in zip(graph.nodes, tiers, strict=True) if not known or t == low]
    if outcomes is None:
        high = max(known) if known else None
        outcomes = [
            n
            for n, t in zip(graph.nodes, tiers, strict=True)
            if (t == high if known else n not in treatments)
        ]
    return list(treatments), list(outcomes)


def _effect_row(
    graph: CausalGraph,
    data: pd.DataFrame,
    stats: LinearStats,
    x: str,
    y: str,
    lo_hi: tuple[float, float],
    level: float,
    estimator: str,
) -> dict:
    """One influence row before sign, flag and rank: the linear effects of ``x`` on ``y``."""
    res = ida(graph, data, x, y, stats=stats)
    te = total_effect(graph, data, x, y, stats=stats)
    width = float(lo_hi[1] - lo_hi[0])
    use_oset = te.identified and estimator == "optimal"
    if use_oset:
        effect, (il, ih) = te.effect, te.interval(level)
    else:
        effect = res.effect
        il, ih = res.interval(level) if res.effects.size else (np.nan, np.nan)
    finite = res.effects[np.isfinite(res.effects)]
    return {
        "outcome": y,
        "parameter": x,
        "effect_per_unit": effect,
        "effect_per_unit_min": float(np.min(finite)) if finite.size else np.nan,
        "effect_per_unit_max": float(np.max(finite)) if finite.size else np.nan,
        "identified": te.identified,
        "range_low": float(lo_hi[0]),
        "range_high": float(lo_hi[1]),
        "effect_over_range": effect * width,
        "interval_low": il * width,
        "interval_high": ih * width,
        "dose_effect_over_range": np.nan,
        "dose_interval_low": np.nan,
        "dose_interval_high": np.nan,
        "edge_stability": np.nan,
        "ancestor_stability": np.nan,
        "n_parent_sets": len(res.parent_sets),
        "estimator": "optimal" if use_oset else "ida",
        "adjustment_set": "; ".join(te.adjustment_set or ()) if use_oset else "",
        "effect_per_unit_ida": res.effect,
    }


def flag_effects(frame: pd.DataFrame, outcome_spans: Mapping[str, float]) -> list[str]:
    """Why each linear effect of an influence table is not to be read as a result ("" if it is).

    A row is flagged when

    * it has no estimate (NaN): its adjustment set is singular, i.e. linearly dependent columns
      such as a closed composition (:meth:`LinearStats.coef`);
    * its effect over the parameter's range exceeds :data:`MAX_RANGE_RATIO` times the outcome's
      whole observed range (max - min): no change of one parameter inside the data moves the
      outcome that far, so the number comes from (near-)collinear adjustment, not the data;
    * its sign is resolved (interval excludes 0) and the dose-response band excludes 0 with the
      opposite sign: the two estimates of the same effect contradict each other.

    Parameters
    ----------
    frame : DataFrame
        Rows with ``outcome``, ``effect_over_range``, ``sign`` and the ``dose_*`` columns.
    outcome_spans : mapping
        Observed range (max - min) of each outcome.

    Returns
    -------
    list of str
        One reason per row, empty where the row stands.
    """
    flags = []
    for row in frame.itertuples(index=False):
        effect = float(row.effect_over_range)
        span = float(outcome_spans.get(row.outcome, np.nan))
        dose_lo, dose_hi = float(row.dose_interval_low), float(row.dose_interval_high)
        if not np.isfinite(effect) and int(row.n_parent_sets) == 0:
            flags.append("no estimate: the graph leaves no valid parent set")
        elif not np.isfinite(effect):
            flags.append("no estimate: the adjustment set is singular (linearly dependent columns)")
        elif np.isfinite(span) and span > 0 and abs(effect) > MAX_RANGE_RATIO * span:
            flags.append(
                f"implausible: {effect:+.3g} over the range is {abs(effect) / span:.0f}x the "
                f"outcome's observed range ({span:.3g}); collinear adjustment"
            )
        elif (row.sign == "+" and dose_hi < 0) or (row.sign == "-" and dose_lo > 0):
            flags.append(
                f"sign disagrees with the dose-response ({effect:+.3g} linear, "
                f"{float(row.dose_effect_over_range):+.3g} dose-response)"
            )
        else:
            flags.append("")
    return flags


def top_drivers(
    table: pd.DataFrame, outcome: str, k: int = 3, stable_only: float | None = None
) -> list[str]:
    """The ``k`` highest-ranked parameters for ``outcome`` whose sign is resolved (``+``/``-``).

    Parameters
    ----------
    table : DataFrame
        An influence table (:func:`influence_table`).
    outcome : str
        The outcome.
    k : int
        How many parameters at most.
    stable_only : float or None
        Also require ``ancestor_stability`` at least this value.

    Returns
    -------
    list of str
        Parameter names, best first; flagged rows (sign ``!``) are never among them.
    """
    sub = table[(table["outcome"] == outcome) & table["sign"].isin(["+", "-"])]
    if stable_only is not None and "ancestor_stability" in sub:
        sub = sub[sub["ancestor_stability"].fillna(1.0) >= stable_only]
    return sub.sort_values("rank")["parameter"].head(k).tolist()
