"""Applicability domain: about 5 % of in-distribution rows outside, far rows far outside."""

from __future__ import annotations

import numpy as np

from psplab.models.domain import KNNDomain


def test_about_five_percent_of_new_in_distribution_rows_are_flagged():
    # The threshold is a conformal quantile: the share of new rows beyond it is 5 % on average
    # over training sets. Over these 30 draws (200 rows, 4 inputs) the share per draw spread
    # 0.02-0.10 (sd ~0.02); their mean, which is what is asserted, moves by ~0.004.
    rng = np.random.default_rng(0)
    shares = []
    for _ in range(30):
        domain = KNNDomain.fit(rng.normal(size=(200, 4)))
        shares.append(np.mean(domain.score(rng.normal(size=(1000, 4))) > 1.0))
    assert 0.035 <= np.mean(shares) <= 0.07


def test_far_rows_score_far_above_one_and_round_trip():
    rng = np.random.default_rng(1)
    domain = KNNDomain.fit(rng.normal(size=(100, 3)))
    far = domain.score(np.array([[8.0, 0.0, 0.0], [0.0, 0.0, 30.0]]))
    assert far[0] > 2.0 and far[1] > far[0]
    again = KNNDomain.from_arrays(domain.to_arrays())
    X = rng.normal(size=(20, 3))
    np.testing.assert_array_equal(again.score(X), domain.score(X))


def test_degenerate_training_sets():
    same = KNNDomain.fit(np.ones((5, 2)))
    assert same.score(np.ones((1, 2)))[0] == 0.0 and same.score(np.zeros((1, 2)))[0] > 1.0
    two = KNNDomain.fit(np.array([[0.0], [1.0]]))
    assert two.k == 1 and np.isfinite(two.threshold)


def test_repeated_rows_do_not_shrink_the_domain():
    # Replicates (or tiles of one image) would each be their twin's nearest neighbour at
    # distance 0: every new row would fall outside. The domain of 16 copies of each row is the
    # domain of the rows.
    rng = np.random.default_rng(2)
    rows = rng.normal(size=(150, 3))
    once = KNNDomain.fit(rows)
    repeated = KNNDomain.fit(np.repeat(rows, 16, axis=0))
    new = rng.normal(size=(500, 3))
    np.testing.assert_allclose(repeated.score(new), once.score(new))
    assert np.mean(repeated.score(new) > 1.0) < 0.2
