"""Causal plots: the graph figure draws exactly the graph's edges, each from its own nodes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from psplab.causal import CausalGraph
from psplab.causal.effects import DoseResponse
from psplab.causal.plots import (
    drawn_edges,
    edge_of_gid,
    edge_weights,
    influence_figure,
    plot_dose_response,
    plot_graph,
)
from psplab.plotting import pyplot


def _graph() -> CausalGraph:
    nodes = ["T", "Ni", "Al", "Mo", "Mn", "Nb", "d", "f", "HV", "UTS"]
    tiers = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2]
    directed = [("Ni", "HV"), ("Al", "HV"), ("Mo", "HV"), ("Mn", "HV"), ("T", "d"), ("d", "f")]
    directed += [("d", "HV"), ("Nb", "UTS")]
    undirected = [("HV", "UTS")]
    return CausalGraph.from_dict(
        {"nodes": nodes, "tiers": tiers, "directed_edges": directed, "undirected_edges": undirected}
    )


def test_graph_figure_draws_each_edge_once_from_its_source_node_to_its_target():
    graph = _graph()
    fig = plot_graph(graph, weights={frozenset(("Ni", "HV")): 0.3})
    expected = {(a, b, True) for a, b in graph.directed_edges}
    expected |= {(a, b, False) for a, b in graph.undirected_edges}
    assert sorted(drawn_edges(fig)) == sorted(expected)
    node_at = {
        t.get_gid()[5:]: t.get_position()
        for t in fig.findobj(lambda a: str(a.get_gid() or "").startswith("node:"))
    }
    assert set(node_at) == set(graph.nodes)
    for ann in fig.findobj(lambda a: str(a.get_gid() or "").startswith("edge:")):
        source, target, _ = edge_of_gid(ann.get_gid())
        # The annotation runs from the source node's centre to the target node's centre.
        assert np.allclose(ann.xyann, node_at[source]) and np.allclose(ann.xy, node_at[target])
    pyplot().close(fig)


def test_plots_draw_into_given_axes_and_return_its_figure():
    plt = pyplot()
    fig, axes = plt.subplots(1, 2)
    assert plot_graph(_graph(), ax=axes[0]) is fig
    grid = np.linspace(0, 1, 5)
    curve = DoseResponse("x", "y", grid, grid, grid - 0.1, grid + 0.1, None)
    assert plot_dose_response(curve, units={"x": "K"}, ax=axes[1]) is fig
    assert axes[1].get_xlabel() == "do(x [K])" and axes[1].get_ylabel() == "E[y [–]]"
    plt.close(fig)


def test_influence_panels_have_one_axis_per_outcome_and_skip_flagged_bars():
    table = pd.DataFrame(
        {
            "outcome": ["HV", "HV", "UTS"],
            "parameter": ["Ni", "Mo", "Ni"],
            "rank": [2, 1, 1],
            "effect_over_range": [2.6e6, 80.0, 150.0],
            "interval_low": [1e6, 70.0, 140.0],
            "interval_high": [4e6, 90.0, 160.0],
            "sign": ["!", "+", "+"],
            "dose_effect_over_range": [-141.0, np.nan, np.nan],
            "flag": ["implausible", "", ""],
        }
    )
    fig = influence_figure(table, units={"HV": "HV", "UTS": "MPa"})
    hv, uts = fig.axes
    assert "[HV]" in hv.get_xlabel() and "[MPa]" in uts.get_xlabel()
    widths = sorted(abs(p.get_width()) for p in hv.patches)
    assert widths == [0.0, 80.0]  # the flagged effect has no bar
    lo, hi = hv.get_xlim()
    assert hi < 1e3  # its millions never set the scale
    pyplot().close(fig)


def test_edge_weights_from_the_stability_table():
    table = pd.DataFrame({"source": ["a"], "target": ["b"], "adjacency": [0.4]})
    assert edge_weights(table) == {frozenset(("a", "b")): 0.4}
    assert edge_weights(None) == {}
