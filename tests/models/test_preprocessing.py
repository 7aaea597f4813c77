"""Shared preprocessing: unit-free, sparse columns bounded, redundant columns out, envelope."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.errors import InputError
from psplab.models.preprocessing import MAX_TRAIN_Z, Preprocessor


def _table(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = np.c_[rng.uniform(400, 900, n), rng.lognormal(0, 1.5, n), np.zeros(n)]
    X[[3, 17, 41], 2] = [0.02, 0.05, 0.03]  # a trace element in three rows
    y = 300 + 0.5 * X[:, 0] + rng.normal(0, 10, n)
    return X, y[:, None]


def test_any_unit_gives_the_same_model_inputs_and_targets():
    X, Y = _table()
    base = Preprocessor.fit(X, Y, input_transform="log")
    for factor in (1e-15, 1e6):
        scaled = Preprocessor.fit(X * factor, Y * factor, input_transform="log")
        np.testing.assert_allclose(
            scaled.model_inputs(X * factor), base.model_inputs(X), rtol=1e-9, atol=1e-9
        )
        np.testing.assert_allclose(
            scaled.domain_inputs(X * factor), base.domain_inputs(X), rtol=1e-9, atol=1e-9
        )
        np.testing.assert_allclose(
            scaled.targets_to_model(Y * factor), base.targets_to_model(Y), atol=1e-9
        )
        lo, hi = scaled.envelope()
        np.testing.assert_allclose(np.r_[lo, hi] / factor, np.r_[base.envelope()], rtol=1e-9)


def test_sparse_columns_stay_within_a_few_units():
    X, Y = _table()
    prep = Preprocessor.fit(X, Y)
    Z = prep.model_inputs(X)
    # Plain standardization would put the three trace-element rows ~5-8 sd out.
    plain = (X[:, 2] - X[:, 2].mean()) / X[:, 2].std()
    assert np.abs(plain).max() > 5.0
    assert np.abs(Z).max() <= MAX_TRAIN_Z + 1e-9
    # An ordinary column keeps its standard deviation as the scale.
    np.testing.assert_allclose(prep.x_scale[0], X[:, 0].std())


def test_a_closed_composition_loses_its_balance_element_only():
    rng = np.random.default_rng(1)
    minor = rng.dirichlet(np.ones(3), 60) * rng.uniform(0.05, 0.3, (60, 1))
    X = np.c_[1.0 - minor.sum(axis=1), minor, rng.uniform(0, 1, 60)]  # Fe balance, 3 additions
    prep = Preprocessor.fit(X, rng.normal(size=(60, 1)))
    assert prep.redundant.tolist() == [True, False, False, False, False]
    # A row off the composition simplex is far away in the domain space, which keeps it.
    off = X[:1].copy()
    off[0, 0] += 0.3
    assert np.abs(prep.domain_inputs(off)[0, 0] - prep.domain_inputs(X[:1])[0, 0]) > 2.0


def test_one_hot_block_and_constant_column():
    rng = np.random.default_rng(2)
    level = rng.integers(0, 3, 90)
    X = np.c_[np.eye(3)[level], np.full(90, 7.0), rng.normal(size=90)]
    prep = Preprocessor.fit(X, rng.normal(size=(90, 1)))
    assert prep.constant.tolist() == [False, False, False, True, False]
    assert prep.redundant[:3].sum() == 1 and not prep.redundant[3:].any()
    assert prep.model_inputs(X).shape == (90, 3)
    moved = X[:2].copy()
    moved[1, 3] = 7.5  # the constant column takes a new value: outside in the domain space
    d = prep.domain_inputs(moved)
    assert d[0, 3] == 0.0 and d[1, 3] >= 10.0


def test_targets_log_scale_envelope_and_bounds():
    X, Y = _table()
    prep = Preprocessor.fit(X, Y)
    assert prep.log_targets.tolist() == [False]  # 500-800 MPa spans less than a factor 2
    wide = np.exp(np.random.default_rng(3).normal(3, 1, (80, 1)))
    prep = Preprocessor.fit(X, wide, target_bounds=[(0.0, 100.0)])
    assert prep.log_targets.tolist() == [True]
    lo, hi = prep.envelope()
    assert 0.0 < lo[0] < wide.min() and hi[0] == pytest.approx(100.0)
    T = prep.targets_to_model(wide)
    np.testing.assert_allclose(prep.targets_from_model(T), np.minimum(wide, 100.0), rtol=1e-6)
    # Far beyond the envelope in model units: clipped, finite, positive.
    out = prep.targets_from_model(np.array([[-1e6], [1e6]]))
    assert np.all(np.isfinite(out)) and out[0, 0] == pytest.approx(lo[0]) and out[1, 0] == 100.0
    with pytest.raises(InputError, match="positive"):
        Preprocessor.fit(X, Y - 1000.0, target_transform="log")
    with pytest.raises(InputError, match="exclude"):
        Preprocessor.fit(X, Y, target_bounds=[(2000.0, None)])
