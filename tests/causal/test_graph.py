"""Graph machinery: CPDAGs, Meek rules, DAG extensions, metrics, networkx export."""

from __future__ import annotations

import numpy as np

from psplab.causal.graph import (
    CausalGraph,
    compare_graphs,
    consistent_extension,
    dag_to_cpdag,
    true_mpdag,
)


def _dag(p, edges):
    d = np.zeros((p, p), dtype=bool)
    for a, b in edges:
        d[a, b] = True
    return d


def test_cpdag_of_collider_and_chain():
    # 0 -> 2 <- 1 is a v-structure (compelled); 2 -> 3 then follows by Meek R1.
    adj, arrow = dag_to_cpdag(_dag(4, [(0, 2), (1, 2), (2, 3)]))
    assert arrow[0, 2] and arrow[1, 2] and arrow[2, 3]
    # A chain has no v-structure: everything stays undirected.
    adj, arrow = dag_to_cpdag(_dag(3, [(0, 1), (1, 2)]))
    assert adj[0, 1] and adj[1, 2] and not arrow.any()


def test_tiers_orient_a_chain():
    # With tiers 0 < 1 < 2 the chain is fully oriented (an MPDAG, not the CPDAG).
    adj, arrow = true_mpdag(_dag(3, [(0, 1), (1, 2)]), tiers=[0, 1, 2])
    assert arrow[0, 1] and arrow[1, 2] and arrow.sum() == 2


def test_meek_r2_and_extension_is_a_member_of_the_class():
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = 7
        dag = np.triu(rng.random((p, p)) < 0.4, 1)
        adj, arrow = dag_to_cpdag(dag)
        ext = consistent_extension(adj, arrow)
        assert ext is not None
        # The extension has the CPDAG's skeleton and v-structures: its own CPDAG is identical.
        adj2, arrow2 = dag_to_cpdag(ext)
        assert np.array_equal(adj, adj2) and np.array_equal(arrow, arrow2)


def test_compare_graphs_counts():
    dag = _dag(3, [(0, 1), (1, 2)])
    adj = dag | dag.T
    arrow = np.zeros_like(dag)
    arrow[2, 1] = True  # one wrong arrowhead
    m = compare_graphs(adj, arrow, dag)
    assert m["adjacency_precision"] == 1.0 and m["adjacency_recall"] == 1.0
    assert m["arrowhead_precision"] == 0.0 and m["arrowhead_recall"] == 0.0
    assert m["shd"] == 2  # both edges' marks differ from the DAG


def test_networkx_export_and_roundtrip():
    adj, arrow = dag_to_cpdag(_dag(4, [(0, 2), (1, 2), (2, 3), (0, 1)]))
    g = CausalGraph(["a", "b", "c", "d"], adj, arrow, tiers=[0, 0, 1, 2])
    nxg = g.to_networkx()
    assert nxg.nodes["c"]["tier"] == 1
    for a, b in g.directed_edges:
        assert nxg.edges[a, b]["kind"] == "directed" and not nxg.has_edge(b, a)
    for a, b in g.undirected_edges:
        assert nxg.edges[a, b]["kind"] == "undirected" and nxg.has_edge(b, a)
    back = CausalGraph.from_dict(g.to_dict())
    assert np.array_equal(back.adj, g.adj) and np.array_equal(back.arrow, g.arrow)
