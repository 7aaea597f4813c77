"""Inner-fold hyperparameter selection: picks the known-best candidate, sees only its rows."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.models.selection import BHN_GRID, inner_folds, select_params


class _Shifted:
    """Predicts the training mean plus ``shift``, std ``scale``: a model with a known best grid point."""

    seen: list[np.ndarray] = []

    def __init__(self, shift=0.0, scale=1.0):
        self.shift, self.scale = shift, scale

    def fit(self, X, y):
        _Shifted.seen.append(X[:, 0].copy())
        self.mean_ = np.mean(y, axis=0) + self.shift
        return self

    def predict_dist(self, X):
        m = np.broadcast_to(self.mean_, (len(X),) + np.shape(self.mean_))
        return m, np.full(m.shape, self.scale)


def test_inner_folds_partition_the_rows():
    folds = inner_folds(23, 4, seed=1)
    val = np.concatenate([va for _, va in folds])
    assert sorted(val.tolist()) == list(range(23))
    for tr, va in folds:
        assert not set(tr) & set(va) and len(tr) + len(va) == 23
    assert all(
        np.array_equal(a[1], b[1]) for a, b in zip(folds, inner_folds(23, 4, seed=1), strict=True)
    )
    assert not all(
        np.array_equal(a[1], b[1]) for a, b in zip(folds, inner_folds(23, 4, seed=2), strict=True)
    )


def test_selects_the_true_noise_level_and_the_unbiased_mean():
    rng = np.random.default_rng(0)
    X = np.arange(200.0)[:, None]  # row ids, so the test can see which rows were fitted
    y = 5.0 + 2.0 * rng.standard_normal(200)
    grid = [{"scale": s, "shift": b} for s in (0.5, 2.0, 8.0) for b in (0.0, 3.0)]
    _Shifted.seen = []
    best, table = select_params(lambda p: _Shifted(**p), X[:150], y[:150], grid, cv=3, seed=0)
    # NLL is minimized by the true std (2) and no shift; MAE only sees the shift.
    assert best == {"scale": 2.0, "shift": 0.0}
    assert len(table) == 6 and all(len(t["fold_scores"]) == 3 for t in table)
    # Only the rows it was given: nested cross-validation never touches the outer test rows.
    assert max(s.max() for s in _Shifted.seen) < 150
    best_mae, _ = select_params(
        lambda p: _Shifted(**p), X, y, [{"shift": 3.0}, {"shift": 0.0}], metric="mae"
    )
    assert best_mae == {"shift": 0.0}


def test_rmse_prefers_the_mean_and_mae_the_median():
    # Right-skewed targets: the mean minimizes the squared error, the median the absolute one.
    rng = np.random.default_rng(3)
    X = np.zeros((600, 1))
    y = rng.exponential(1.0, 600)
    to_median = float(np.median(y) - np.mean(y))  # about -0.3
    grid = [{"shift": to_median}, {"shift": 0.0}]
    best_rmse, table = select_params(lambda p: _Shifted(**p), X, y, grid, metric="rmse")
    best_mae, _ = select_params(lambda p: _Shifted(**p), X, y, grid, metric="mae")
    assert best_rmse == {"shift": 0.0} and best_mae == {"shift": to_median}
    # The score is the RMSE in units of the validation targets' standard deviation.
    assert 0.9 < table[1]["score"] < 1.1


def test_bad_arguments_are_rejected():
    X, y = np.zeros((10, 1)), np.zeros(10)
    with pytest.raises(ValueError, match="metric"):
        select_params(lambda p: _Shifted(**p), X, y, [{}], metric="r2")
    with pytest.raises(ValueError, match="empty"):
        select_params(lambda p: _Shifted(**p), X, y, [])
    with pytest.raises(ValueError, match="too few"):
        select_params(lambda p: _Shifted(**p), X[:5], y[:5], [{}], cv=3)
    # Every candidate names the same parameters, and the constructor defaults are among them.
    assert all({"input_transform", "target_transform", "epochs"} == set(g) for g in BHN_GRID)
    assert {"input_transform": "none", "target_transform": "auto", "epochs": 2000} in BHN_GRID
