"""PC-stable discovery: recovery, tier consistency by construction, causal-learn #224, CI tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psplab.causal import discover, true_mpdag
from psplab.causal.citests import FisherZ, RCoT
from psplab.causal.synthetic import make_sem, random_psp_dag, simulate_linear


def _chain_data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = 0.8 * x + rng.standard_normal(n)
    z = 0.8 * y + rng.standard_normal(n)
    return pd.DataFrame({"X": x, "Y": y, "Z": z})


def test_recovers_cpdag_of_linear_gaussian_dag():
    # 0 -> 2 <- 1, 2 -> 3, 3 -> 4, 1 -> 4: CPDAG fully oriented by the collider at 2.
    p = 5
    dag = np.zeros((p, p), dtype=bool)
    for a, b in [(0, 2), (1, 2), (2, 3), (3, 4), (1, 4)]:
        dag[a, b] = True
    sem = make_sem(dag, seed=1)
    X = simulate_linear(sem, 5000, seed=1)
    g = discover(X, alpha=0.01)
    adj, arrow = true_mpdag(dag)
    assert np.array_equal(g.adj, adj)
    assert np.array_equal(g.arrow, arrow)


def test_issue_224_forbidden_edge_creates_no_spurious_collider():
    # True DAG X -> Y -> Z: its CPDAG is X - Y - Z. Forbidding the (absent) edge X - Z must not
    # turn Y into a collider; causal-learn reads "removed because forbidden" as "separated by
    # the empty set" and orients X -> Y <- Z (causal-learn issue #224).
    df = _chain_data()
    g = discover(df, forbidden=[("X", "Z"), ("Z", "X")])
    assert g.undirected_edges == [("X", "Y"), ("Y", "Z")]
    assert g.directed_edges == []
    # The separating set was actually found from the data.
    assert g.sepsets[(0, 2)] == (1,)


def test_forbidden_dependent_pair_is_cut_without_inventing_a_collider():
    # X -> Z directly and X -> Y -> Z: X, Z dependent given anything. Forbidding X - Z cuts the
    # edge but, with no separating set, the triple X - Y - Z must not be read as a collider.
    rng = np.random.default_rng(1)
    n = 3000
    x = rng.standard_normal(n)
    y = 0.8 * x + rng.standard_normal(n)
    z = 0.8 * y + 0.8 * x + rng.standard_normal(n)
    g = discover(pd.DataFrame({"X": x, "Y": y, "Z": z}), forbidden=[("X", "Z"), ("Z", "X")])
    assert not g.adj[0, 2]
    assert (0, 2) not in g.sepsets
    assert not (g.arrow[0, 1] and g.arrow[2, 1])


def test_tier_consistent_by_construction_even_with_wrong_tiers():
    # Data from DAGs whose edges often run against the declared tiers: the data pull colliders
    # and Meek rules the "wrong" way, yet no later -> earlier arrow and no tier-0 edge appears.
    for seed in range(6):
        dag, names, _ = random_psp_dag(3, 4, 3, seed=seed, p_within=0.3)
        rng = np.random.default_rng(seed)
        tiers = [int(t) for t in rng.integers(0, 3, size=len(names))]
        X = simulate_linear(make_sem(dag, names, tiers, seed=seed), 800, seed=seed)
        g = discover(
            pd.DataFrame(X, columns=names), tiers=dict(zip(names, tiers, strict=True)), alpha=0.05
        )
        t = np.array(tiers)
        assert not np.any(g.arrow & (t[:, None] > t[None, :]))
        assert not np.any(g.adj & (t[:, None] == 0) & (t[None, :] == 0))
        assert g.tier_violations() == 0
        # Every cross-tier adjacency is oriented forward.
        cross = g.adj & (t[:, None] < t[None, :])
        assert np.array_equal(g.arrow & cross, cross)


def test_tier0_edges_allowed_on_request():
    rng = np.random.default_rng(0)
    n = 2000
    a = rng.standard_normal(n)
    b = 0.9 * a + rng.standard_normal(n)  # two correlated processing knobs
    c = a + b + rng.standard_normal(n)
    df = pd.DataFrame({"a": a, "b": b, "c": c})
    tiers = {"a": 0, "b": 0, "c": 1}
    assert not discover(df, tiers=tiers).adj[0, 1]
    assert discover(df, tiers=tiers, forbidden_within_tiers=()).adj[0, 1]


def test_dataset_input_uses_spec_tiers():
    from psplab.data.dataset import load_dataset
    from psplab.data.spec import DatasetSpec

    df = _chain_data(1000)
    spec = DatasetSpec.from_dict(
        {
            "name": "chain",
            "column": [
                {"name": "X", "role": "processing"},
                {"name": "Y", "role": "structure"},
                {"name": "Z", "role": "property"},
            ],
        }
    )
    g = discover(load_dataset(spec, df))
    assert g.tiers == [0, 1, 2]
    assert g.directed_edges == [("X", "Y"), ("Y", "Z")]


def test_bad_inputs_are_named():
    df = _chain_data(200)
    with pytest.raises(KeyError, match="nope"):
        discover(df, tiers={"nope": 0})
    with pytest.raises(ValueError, match="alpha"):
        discover(df, alpha=1.5)
    with pytest.raises(ValueError, match="contradicts"):
        discover(df, tiers={"X": 0, "Y": 1, "Z": 2}, required=[("Z", "X")])
    with pytest.raises(ValueError, match="constant"):
        discover(df.assign(Z=1.0))


def test_fisherz_partial_correlation_matches_regression_residuals():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 4)) @ rng.standard_normal((4, 4))
    fz = FisherZ(X)
    r = fz.partial_correlations(np.array([0]), np.array([1]), np.array([[2, 3]]))[0]
    Z = np.column_stack([X[:, [2, 3]], np.ones(500)])
    res = [X[:, k] - Z @ np.linalg.lstsq(Z, X[:, k], rcond=None)[0] for k in (0, 1)]
    assert r == pytest.approx(np.corrcoef(res[0], res[1])[0, 1], abs=1e-10)


def test_rcot_sees_nonlinear_dependence_and_is_calibrated():
    rng = np.random.default_rng(0)
    n = 800
    x = rng.standard_normal(n)
    y = x**2 + 0.3 * rng.standard_normal(n)  # uncorrelated with x, but dependent
    z = rng.standard_normal(n)
    data = np.column_stack([x, y, z])
    assert FisherZ(data).pvalue(0, 1, ()) > 0.01
    assert RCoT(data).pvalue(0, 1, ()) < 1e-4
    # Conditional independence through a nonlinear mediator: x -> m -> w.
    m = np.sin(2 * x) + 0.2 * rng.standard_normal(n)
    w = np.tanh(2 * m) + 0.2 * rng.standard_normal(n)
    assert RCoT(np.column_stack([x, w, m])).pvalue(0, 1, (2,)) > 0.01
    # Under independence the p-values are roughly uniform.
    pv = [RCoT(rng.standard_normal((300, 2)), seed=s).pvalue(0, 1, ()) for s in range(40)]
    assert np.mean(np.array(pv) < 0.1) <= 0.25
