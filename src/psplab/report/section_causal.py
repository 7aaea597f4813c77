"""The report section of a ``psplab causal`` run: graph, influence ranking, dose-response.

Every figure is drawn by :mod:`psplab.causal.plots` from the files the run wrote: the graph from
``graph.json`` exactly (with the bootstrap frequencies of ``edge_stability.csv``), the ranking
from ``influence.csv`` and the curves from ``dose_response/*.csv``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from psplab.report.figures import render
from psplab.report.html import Section, Table, paragraph
from psplab.report.runs import LeftOut, Run, read_table

__all__ = ["causal_section", "read_causal_graph", "read_dose_responses"]

# Columns of the influence table shown in the report, in order, with their headers.
INFLUENCE_SHOWN = {
    "outcome": "outcome",
    "parameter": "parameter",
    "rank": "rank",
    "effect_over_range": "effect over range",
    "interval_low": "90% low",
    "interval_high": "90% high",
    "sign": "sign",
    "effect_per_unit": "effect per unit",
    "dose_effect_over_range": "dose-response over range",
    "edge_stability": "edge stability",
    "ancestor_stability": "path stability",
    "flag": "flag",
}


def read_causal_graph(run: Run):
    """The run's graph (``graph.json``, :meth:`CausalGraph.to_dict` layout) and edge weights.

    Parameters
    ----------
    run : Run
        A causal run.

    Returns
    -------
    tuple
        ``(CausalGraph, weights)``; weights are bootstrap adjacency frequencies by pair (empty
        without ``edge_stability.csv``).

    Raises
    ------
    LeftOut
        No ``graph.json``, or one that cannot be read.
    """
    from psplab.causal.graph import CausalGraph
    from psplab.causal.plots import edge_weights

    path = run.file("graph")
    if path is None or path.suffix != ".json":
        raise LeftOut("no graph.json")
    try:
        graph = CausalGraph.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LeftOut(f"{path.name} cannot be read ({exc})") from None
    stab = run.file("edge_stability")
    return graph, edge_weights(read_table(stab) if stab is not None else None)


def read_dose_responses(run: Run, outcomes: Sequence[str]) -> list:
    """The run's dose-response curves (``dose_response/<X>__<Y>.csv``).

    Parameters
    ----------
    run : Run
        A causal run.
    outcomes : sequence of str
        Outcome names, to map the file names' outcome part back to a name.

    Returns
    -------
    list of DoseResponse
        One curve per readable file.
    """
    from psplab.causal.effects import DoseResponse
    from psplab.causal.pipeline import slug

    by_slug = {slug(o): o for o in outcomes}
    curves = []
    for path in run.file_list("dose_response"):
        if path.suffix != ".csv" or "__" not in path.stem:
            continue
        outcome = by_slug.get(path.stem.split("__", 1)[1], path.stem.split("__", 1)[1])
        try:
            curves.append(DoseResponse.from_frame(read_table(path), outcome))
        except (ValueError, KeyError):
            continue
    return curves


def causal_section(run: Run, units: dict[str, str]) -> Section:
    """Graph, notes, influence ranking and dose-response curves of one causal run.

    Parameters
    ----------
    run : Run
        A ``psplab causal`` run directory.
    units : dict
        Column units, for the influence and dose-response axes.

    Returns
    -------
    Section
        Notes on the table, the graph, the ranking (figure and table) and the curves.

    Raises
    ------
    LeftOut
        When there is no readable ``graph.json``.
    """
    from psplab.causal.plots import dose_response_grid, influence_figure, plot_graph

    graph, weights = read_causal_graph(run)
    boot = run.params.get("bootstrap") or None
    sec = Section(
        "causal",
        "Causal influence",
        "Causal discovery with processing → structure → property tiers, bootstrap edge "
        f"stability, and interventional effects (from {run.name}).",
    )
    _add_notes(sec, run)
    sec.add(
        render(
            plot_graph(graph, weights=weights, n_resamples=boot),
            "Causal graph found by tiered PC-stable, drawn from the run's graph.json: processing "
            "parameters (left) → structure → properties (right). Arrows are oriented edges, "
            "dashed grey lines unoriented ones; "
            + (
                f"line width is the share of {boot} bootstrap resamples that found the edge."
                if boot
                else "no bootstrap was run."
            ),
        )
    )
    _add_truth(sec, run, graph)
    infl_path = run.file("influence")
    if infl_path is not None:
        table = read_table(infl_path)
        flags = table["flag"] if "flag" in table.columns else None
        table["flag"] = "" if flags is None else flags.astype(object).where(flags.notna(), "")
        sec.add(render(influence_figure(table, units), _INFLUENCE_CAPTION))
        sec.add(_influence_table(table))
    curves = read_dose_responses(run, list(dict.fromkeys(graph.nodes)))
    if curves:
        sec.add(render(dose_response_grid(curves[:9], units=units), _DOSE_CAPTION))
    return sec


_INFLUENCE_CAPTION = (
    "Influence ranking, one panel (and one unit) per outcome: the change in the outcome's "
    "expected value when a processing parameter is set, do(X = x), from the low to the high end "
    "of its range (5th to 95th percentile; 0 to 1 for an indicator of a categorical level). "
    "Bars: linear effect (optimal adjustment set where the graph identifies it, else IDA), red "
    "raising the outcome, blue lowering it, grey unresolved or no causal path; whiskers: 90% "
    "intervals; diamonds: the nonlinear dose-response where computed. Flagged effects are "
    "listed without a bar."
)
_DOSE_CAPTION = (
    "Dose-response curves: expected outcome when the parameter is set to x, E[Y | do(X = x)], "
    "simulated through the fitted structural causal model (one regressor per node), with its "
    "90% band over model draws."
)


def _add_notes(sec: Section, run: Run) -> None:
    """What the analysis did to the table (rows used, columns left out), as the run recorded."""
    rows = run.results.get("rows") or {}
    notes = [str(n) for n in run.results.get("notes") or []]
    if rows:
        sec.add(paragraph(f"Rows analysed: {rows.get('used')} of {rows.get('total')}."))
    if notes:
        sec.add("<ul>" + "".join(f"<li>{paragraph(n)[3:-4]}</li>" for n in notes) + "</ul>")


def _add_truth(sec: Section, run: Run, graph: Any) -> None:
    truth = run.results.get("true_edges")
    if not truth:
        return
    found = set(graph.directed_edges)
    und = {frozenset(e) for e in graph.undirected_edges}
    hit = sum(1 for s, t in truth if (s, t) in found)
    half = sum(1 for s, t in truth if frozenset((s, t)) in und)
    sec.add(
        paragraph(
            f"The simulator's true causal graph has {len(truth)} edges among these columns: {hit} "
            f"are found with the right orientation, {half} more as unoriented edges; "
            f"{len(found) - hit} oriented edges are not in the truth."
        )
    )


def _influence_table(table: pd.DataFrame) -> Table:
    cols = [(c, title) for c, title in INFLUENCE_SHOWN.items() if c in table.columns]
    order = table.sort_values(["outcome", "rank"]) if "rank" in table.columns else table
    return Table(
        [title for _, title in cols],
        order[[c for c, _ in cols]]
        .astype(object)
        .where(order[[c for c, _ in cols]].notna(), None)
        .values.tolist(),
        caption="Influence table: effect over the parameter's range with its 90% interval "
        "(outcome units), effect per unit of the parameter, the dose-response effect where "
        "computed, and the bootstrap stability of the direct edge and of a causal path. A row "
        "with a flag is not a result: the flag says why (sign '!').",
    )
