"""CV+ calibration: the intervals are the order statistics of Barber et al., round trip, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from psplab.errors import InputError
from psplab.models import ConformalRegressor, load_estimator
from psplab.models.base import PreprocessedRegressor
from psplab.models.selection import inner_folds


class Constant(PreprocessedRegressor):
    """Predicts the training mean with a unit std (standardized): residuals are known by hand."""

    model_name = "constant"

    def __init__(self, input_transform="none", target_transform="none", target_bounds=None):
        self.input_transform = input_transform
        self.target_transform = target_transform
        self.target_bounds = target_bounds

    def _fit_standardized(self, Z, T):
        self.mean_ = T.mean(axis=0)

    def _mixture(self, Z):
        shape = (1, len(Z), len(self.mean_))
        return np.broadcast_to(self.mean_, shape).copy(), np.ones(shape)

    def _model_state(self):
        return {"mean": self.mean_}, {}

    def _load_model_state(self, arrays, meta):
        self.mean_ = arrays["mean"]


def _by_hand(y, folds, alpha):
    lower, upper = [], []
    for tr, va in folds:
        mu, sd = y[tr].mean(), y[tr].std()
        r = np.abs(y[va] - mu) / sd
        lower += list(mu - r * sd)
        upper += list(mu + r * sd)
    n = len(y)
    lo = np.sort(lower)[math.floor(alpha * (n + 1)) - 1]
    hi = np.sort(upper)[math.ceil((1 - alpha) * (n + 1)) - 1]
    return lo, hi


def test_plus_intervals_are_the_cv_plus_order_statistics():
    rng = np.random.default_rng(0)
    y = rng.gamma(2.0, 1.0, 57)
    X = np.zeros((57, 1))
    model = ConformalRegressor(Constant(), cv=4, seed=3).fit(X, y)
    folds = inner_folds(57, 4, 3)
    for alpha in (0.1, 0.3):
        q = model.predict_quantiles(np.zeros((2, 1)), [alpha / 2, 1 - alpha / 2])
        lo, hi = _by_hand(y, folds, alpha)
        # The model sees its targets on the float32 grid: agreement to ~1e-7.
        np.testing.assert_allclose(q[:, 0], [lo, hi], rtol=1e-6)
    summary = model.predict_summary(np.zeros((1, 1)))
    # The raw interval is the full model's own Gaussian one, reported beside the calibrated one.
    half = 1.6448536269514722 * y.std()
    np.testing.assert_allclose([summary.lo_raw[0, 0], summary.hi_raw[0, 0]],
                               [y.mean() - half, y.mean() + half], rtol=1e-6)  # fmt: skip
    assert summary.mean[0, 0] == pytest.approx(y.mean(), rel=1e-6)


def test_base_method_uses_the_full_model_and_the_residual_quantile():
    rng = np.random.default_rng(1)
    y = rng.normal(5.0, 2.0, 40)
    model = ConformalRegressor(Constant(), cv=5, method="base", seed=0).fit(np.zeros((40, 1)), y)
    assert model.folds_ == []
    r = np.sort(model.scores_[:, 0])
    q = r[math.ceil(0.9 * 41) - 1]
    lo, hi = model.predict_quantiles(np.zeros((1, 1)), [0.05, 0.95])[:, 0]
    np.testing.assert_allclose([lo, hi], [y.mean() - q * y.std(), y.mean() + q * y.std()], rtol=1e-6)


def test_round_trip_and_calibrated_std(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 3, (60, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] + 0.2 * rng.standard_normal(60)
    model = ConformalRegressor(Constant(), cv=3).fit(X, y)
    s = model.predict_summary(X[:5])
    # The calibrated std is that of the Gaussian whose 90 % interval is the calibrated one.
    np.testing.assert_allclose(s.std, (s.hi - s.lo) / (2 * 1.6448536269514722))
    from psplab.models import registry

    registry.MODELS["constant"] = f"{__name__}:Constant"
    try:
        model.save(tmp_path / "c")
        loaded = load_estimator(tmp_path / "c")
    finally:
        del registry.MODELS["constant"]
    np.testing.assert_array_equal(
        loaded.predict_quantiles(X, [0.1, 0.9]), model.predict_quantiles(X, [0.1, 0.9])
    )


def test_clear_errors():
    X, y = np.zeros((3, 1)), np.arange(3.0)
    with pytest.raises(InputError, match="too few"):
        ConformalRegressor(Constant()).fit(X, y)
    with pytest.raises(InputError, match="method"):
        ConformalRegressor(Constant(), method="minmax").fit(np.zeros((10, 1)), np.arange(10.0))
    with pytest.raises(InputError, match="2 groups"):
        ConformalRegressor(Constant()).fit(np.zeros((10, 1)), np.arange(10.0), groups=["a"] * 10)
