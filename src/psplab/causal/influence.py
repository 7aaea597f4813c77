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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from psplab.causal.effects import DoseResponse, LinearStats, ida, total_effect
from psplab.causal.graph import CausalGraph
from psplab.causal.stability import EdgeStability

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
]


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
    graph
        Learned MPDAG.
    data
        The data the graph was learned from (column names = graph nodes).
    treatments
        Parameters to rank (default: the tier-0 nodes, or all nodes when no tiers are known).
    outcomes
        Outcomes (default: nodes in the last tier, or every non-treatment node without tiers).
    stability
        Bootstrap frequencies; gives ``edge_stability`` (direct ``X -> Y``) and
        ``ancestor_stability`` (``X`` a possible ancestor of ``Y``).
    dose
        Dose-response curves by ``(treatment, outcome)``; their range effects fill the
        ``dose_*`` columns.
    ranges
        ``(low, high)`` per parameter (default: the 5th and 95th percentiles in ``data``).
    level
        Interval level.
    estimator
        ``"optimal"``: the O-set estimate where the graph identifies the effect, IDA elsewhere;
        ``"ida"``: IDA everywhere (for tier-0 parameters the regression adjusted for the other
        knobs, which does not rely on the learned edges).
    """
    if estimator not in ("optimal", "ida"):
        raise ValueError(f"estimator must be 'optimal' or 'ida', got {estimator!r}")
    tiers = graph.tiers
    known = [t for t in tiers if t is not None]
    if treatments is None:
        if known:
            low = min(known)
            treatments = [n for n, t in zip(graph.nodes, tiers, strict=True) if t == low]
        else:
            treatments = list(graph.nodes)
    if outcomes is None:
        if known:
            high = max(known)
            outcomes = [n for n, t in zip(graph.nodes, tiers, strict=True) if t == high]
        else:
            outcomes = [n for n in graph.nodes if n not in treatments]
    rows = []
    stats = LinearStats(data, graph.nodes)
    for y in outcomes:
        for x in treatments:
            if x == y:
                continue
            res = ida(graph, data, x, y, stats=stats)
            te = total_effect(graph, data, x, y, stats=stats)
            lo_r, hi_r = (ranges or {}).get(x) or tuple(np.quantile(data[x].dropna(), [0.05, 0.95]))
            width = float(hi_r - lo_r)
            use_oset = te.identified and estimator == "optimal"
            if use_oset:
                effect, (il, ih) = te.effect, te.interval(level)
            else:
                effect = res.effect
                il, ih = res.interval(level) if res.effects.size else (np.nan, np.nan)
            row = {
                "outcome": y,
                "parameter": x,
                "effect_per_unit": effect,
                "effect_per_unit_min": float(np.min(res.effects)) if res.effects.size else np.nan,
                "effect_per_unit_max": float(np.max(res.effects)) if res.effects.size else np.nan,
                "identified": te.identified,
                "range_low": float(lo_r),
                "range_high": float(hi_r),
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
    frame["_score"] = np.abs(frame["effect_over_range"])
    frame["rank"] = (
        frame.groupby("outcome")["_score"].rank(ascending=False, method="first").astype(int)
    )
    frame = frame.sort_values(["outcome", "rank"], ignore_index=True).drop(columns="_score")
    return frame[INFLUENCE_COLUMNS]


def top_drivers(
    table: pd.DataFrame, outcome: str, k: int = 3, stable_only: float | None = None
) -> list[str]:
    """The ``k`` highest-ranked parameters for ``outcome`` whose sign is resolved (``+``/``-``);
    with ``stable_only`` also requiring ``ancestor_stability`` at least that value."""
    sub = table[(table["outcome"] == outcome) & table["sign"].isin(["+", "-"])]
    if stable_only is not None and "ancestor_stability" in sub:
        sub = sub[sub["ancestor_stability"].fillna(1.0) >= stable_only]
    return sub.sort_values("rank")["parameter"].head(k).tolist()
