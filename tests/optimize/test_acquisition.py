"""Acquisition functions and Pareto utilities against closed forms and Monte Carlo."""

from __future__ import annotations

import numpy as np

from psplab.optimize.acquisition import (
    expected_improvement,
    hypervolume_2d,
    local_penalty,
    parego_scalarize,
    pareto_mask,
    upper_confidence_bound,
)


def test_expected_improvement_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mean = np.array([0.0, 1.0, -2.0, 0.5])
    std = np.array([1.0, 0.3, 2.0, 1e-9])
    best = 0.4
    draws = mean + std * rng.standard_normal((400_000, 4))
    mc = np.maximum(draws - best, 0).mean(0)
    np.testing.assert_allclose(expected_improvement(mean, std, best), mc, rtol=0.02, atol=1e-3)
    # no uncertainty: improvement is deterministic
    assert expected_improvement(np.array([1.0, -1.0]), np.zeros(2), 0.0).tolist() == [1.0, 0.0]
    # EI grows with uncertainty at a fixed mean below the best
    e = expected_improvement(np.full(3, -1.0), np.array([0.1, 1.0, 3.0]), 0.0)
    assert np.all(np.diff(e) > 0)


def test_ucb_and_local_penalty():
    assert upper_confidence_bound(np.array([1.0]), np.array([0.5]), beta=2.0)[0] == 2.0
    F = np.array([[0.0, 0.0], [0.01, 0.0], [0.5, 0.5], [1.0, 1.0]])
    p = local_penalty(F, centre=np.zeros(2), mean_c=1.0, std_c=0.1, lipschitz=10.0, best=1.0)
    assert p[0] < 0.51 and p[1] < p[2] <= p[3]  # penalized near the chosen point only
    assert p[3] > 0.999


def test_pareto_mask_and_hypervolume():
    Y = np.array([[1.0, 5.0], [2.0, 4.0], [3.0, 1.0], [1.5, 3.0], [2.0, 4.0 - 1e-9], [np.nan, 9.0]])
    mask = pareto_mask(Y, (True, True))
    assert mask.tolist() == [True, True, True, False, False, False]
    # staircase area above reference (0, 0): 1*5 + 1*4 + 1*1 = 1*(5-4)... computed by hand
    hv = hypervolume_2d(Y[:3], reference=(0.0, 0.0))
    assert np.isclose(hv, 3 * 1 + 2 * 3 + 1 * 1)
    # minimizing the second objective mirrors it
    Ym = Y[:3] * np.array([1.0, -1.0])
    assert np.isclose(hypervolume_2d(Ym, reference=(0.0, 0.0), maximize=(True, False)), hv)
    assert pareto_mask(Ym, (True, False)).tolist() == [True, True, True]


def test_parego_prefers_the_weighted_objective():
    Y = np.array([[10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
    s1 = parego_scalarize(Y, np.array([1.0, 0.0]))
    s2 = parego_scalarize(Y, np.array([0.0, 1.0]))
    assert np.argmax(s1) == 0 and np.argmax(s2) == 1
    s_mid = parego_scalarize(Y, np.array([0.5, 0.5]))
    assert np.argmax(s_mid) == 2  # the balanced point wins under equal weights (Chebyshev)
