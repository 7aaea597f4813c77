"""Bootstrap edge stability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psplab.causal import bootstrap_edges


def _strong_weak(n=600, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    b = rng.standard_normal(n)
    s = 1.0 * a + rng.standard_normal(n)  # strong edge a -> s
    w = 0.08 * b + rng.standard_normal(n)  # edge b -> w too weak to see reliably at n = 600
    q = 1.0 * s + rng.standard_normal(n)
    return pd.DataFrame({"a": a, "b": b, "s": s, "w": w, "q": q}), {
        "a": 0,
        "b": 0,
        "s": 1,
        "w": 1,
        "q": 2,
    }


def test_frequencies_are_probabilities_and_strong_edges_are_stable():
    df, tiers = _strong_weak()
    st = bootstrap_edges(df, 20, tiers=tiers, backend="serial", seed=1)
    for m in (st.adjacency, st.directed, st.undirected, st.ancestor):
        assert m.min() >= 0.0 and m.max() <= 1.0
    # Orientation frequencies never exceed the adjacency frequency.
    assert np.all(st.directed + st.directed.T + st.undirected <= st.adjacency + 1e-12)
    e = st.edge("a", "s")
    assert e["adjacency"] >= 0.95 and e["forward"] >= 0.95 and e["backward"] == 0.0
    assert st.edge("s", "q")["forward"] >= 0.95
    assert st.ancestor[st.index("a"), st.index("q")] >= 0.9
    # The weak edge is seen in only some resamples; tier-0 pairs never.
    assert st.adjacency[st.index("b"), st.index("w")] < 0.9
    assert st.adjacency[st.index("a"), st.index("b")] == 0.0
    table = st.table()
    assert list(table.columns[:3]) == ["source", "target", "adjacency"]
    assert table["adjacency"].is_monotonic_decreasing


def test_parallel_backend_gives_the_same_frequencies():
    df, tiers = _strong_weak(300)
    serial = bootstrap_edges(df, 6, tiers=tiers, backend="serial", seed=3)
    threaded = bootstrap_edges(df, 6, tiers=tiers, backend="threading", n_jobs=2, seed=3)
    assert np.array_equal(serial.adjacency, threaded.adjacency)
    assert np.array_equal(serial.directed, threaded.directed)


def test_bad_arguments():
    df, tiers = _strong_weak(100)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_edges(df, 0)
    with pytest.raises(ValueError, match="backend"):
        bootstrap_edges(df, 2, backend="mpi")


def test_dask_backend_matches_serial():
    from distributed import Client, LocalCluster

    df, tiers = _strong_weak(200)
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        on_dask = bootstrap_edges(df, 4, tiers=tiers, backend="dask", client=client, seed=5)
    serial = bootstrap_edges(df, 4, tiers=tiers, backend="serial", seed=5)
    assert np.array_equal(on_dask.directed, serial.directed)
