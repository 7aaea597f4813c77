"""Bayesian hypernetwork: calibrated intervals, wider far from the data, round trips, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from psplab.models import TunedRegressor, load_estimator, make_model
from psplab.models.bhn import BayesianHypernetwork

# Small, fast settings (a 2-coupling flow compiles in half the time of the default 4); the shapes,
# and so the compiled training and prediction programs, are shared by the tests below.
PARAMS = dict(
    hidden=(32, 32), n_couplings=2, coupling_hidden=32, epochs=1000, n_predict_samples=100, seed=3
)
NOISE = 0.15


def _truth(x):
    return np.sin(2.0 * x) + 0.3 * x


def _data(n, seed, lo=-2.0, hi=2.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, n)
    return x[:, None], _truth(x) + NOISE * rng.standard_normal(n)


@pytest.fixture(scope="module")
def fitted():
    X, y = _data(100, seed=0)
    return BayesianHypernetwork(**PARAMS).fit(X, y)


def test_held_out_coverage_and_accuracy():
    # One fit's held-out numbers move with the training seed (and, like a seed change, with a
    # CPU's rounding: the same seed gave RMSE 0.0948 here and on AMD). Over 40 seeds (data and
    # model seed varied together) one fit's 90% coverage spread 0.735-0.983 (sd 0.056) and its
    # RMSE/noise 0.26-0.70 (sd 0.10); the means over 5 fits spread 0.872-0.924 and 0.33-0.55
    # (sd ~0.025 and ~0.046). So the assertions are on the mean of five fits, with bounds more
    # than three of those sds from every observed mean.
    coverages, rmses = [], []
    for k in range(5):
        X, y = _data(100, seed=10 * k)
        model = BayesianHypernetwork(**{**PARAMS, "seed": 3 + k}).fit(X, y)
        Xt, yt = _data(400, seed=10 * k + 1)
        q05, q95 = model.predict_quantiles(Xt, [0.05, 0.95])
        coverages.append(np.mean((yt >= q05) & (yt <= q95)))
        rmses.append(np.sqrt(np.mean((model.predict(Xt) - _truth(Xt[:, 0])) ** 2)))
    assert 0.80 <= np.mean(coverages) <= 0.97
    # Close to the truth: error well below the noise level it has to infer.
    assert np.mean(rmses) < 0.65 * NOISE


def test_uncertainty_grows_far_from_the_data(fitted):
    _, std_in = fitted.predict_dist(np.linspace(-1.8, 1.8, 50)[:, None])
    _, std_far = fitted.predict_dist(np.array([[-10.0], [10.0]]))
    assert np.all(std_far >= 2.0 * std_in.mean())


def test_save_load_gives_identical_predictions(fitted, tmp_path):
    X = np.linspace(-3, 3, 25)[:, None]
    fitted.save(tmp_path / "bhn")
    loaded = load_estimator(tmp_path / "bhn")
    assert isinstance(loaded, BayesianHypernetwork)
    for a, b in zip(fitted.predict_dist(X), loaded.predict_dist(X), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fitted.sample(X, 5, seed=2), loaded.sample(X, 5, seed=2))


def test_same_seed_same_result_other_seed_differs(fitted):
    X, y = _data(100, seed=0)
    again = make_model("bhn", **PARAMS).fit(X, y)
    grid = np.linspace(-2, 2, 11)[:, None]
    np.testing.assert_array_equal(fitted.predict_dist(grid)[1], again.predict_dist(grid)[1])
    np.testing.assert_array_equal(fitted.loss_curve_, again.loss_curve_)
    other = make_model("bhn", **{**PARAMS, "seed": 4}).fit(X, y)
    assert not np.allclose(fitted.predict(grid), other.predict(grid))


def test_joint_samples_match_the_predictive(fitted):
    X = np.linspace(-2, 2, 9)[:, None]
    draws = fitted.sample(X, n_samples=2000, seed=0)
    assert draws.shape == (2000, 9)
    mean, std = fitted.predict_dist(X)
    np.testing.assert_allclose(draws.mean(0), mean, atol=4 * std.max() / np.sqrt(2000) + 0.02)
    np.testing.assert_allclose(draws.std(0), std, rtol=0.15)
    latent = fitted.sample(X, n_samples=200, seed=0, include_noise=False)
    assert latent.std(0).mean() < draws.std(0).mean()  # noise-free draws are narrower


def test_multi_target_shapes_and_ordered_quantiles():
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (60, 3))
    Y = np.c_[X[:, 0] + X[:, 1], 100.0 * X[:, 2] ** 2 + 500.0] + 0.05 * rng.standard_normal((60, 2))
    model = BayesianHypernetwork(
        hidden=(16,),
        n_couplings=1,
        coupling_hidden=16,
        epochs=300,
        n_predict_samples=50,
        noise="heteroscedastic",
        calibration="train",
    ).fit(X, Y)
    mean, std = model.predict_dist(X[:7])
    assert mean.shape == std.shape == (7, 2)
    assert np.all(std > 0)
    # Outputs come back in each target's own units.
    assert abs(mean[:, 1].mean() - 530.0) < 40.0
    q = model.predict_quantiles(X[:7], [0.05, 0.5, 0.95])
    assert q.shape == (3, 7, 2)
    assert np.all(q[0] < q[1]) and np.all(q[1] < q[2])
    assert model.sample(X[:7], 4, seed=1).shape == (4, 7, 2)


def test_bad_inputs_are_rejected(fitted):
    with pytest.raises(ValueError, match="non-finite"):
        BayesianHypernetwork().fit(np.array([[0.0], [np.nan], [1.0]]), np.zeros(3))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="noise"):
        BayesianHypernetwork(noise="loud").fit(np.zeros((4, 1)), np.arange(4.0))
    with pytest.raises(NotFittedError, match="not fitted"):
        BayesianHypernetwork().predict(np.zeros((2, 1)))


def test_log_target_for_positive_wide_targets(tmp_path):
    # Multiplicative noise: the log of y is the sine problem above, so "auto" must model log y;
    # intervals then stay positive, cover held-out points and survive a save/load.
    X, z = _data(100, seed=0)
    model = make_model("bhn", **PARAMS).fit(X, np.exp(z))
    assert model.prep_.log_targets.tolist() == [True]
    Xt, zt = _data(400, seed=1)
    q05, q95 = model.predict_quantiles(Xt, [0.05, 0.95])
    assert np.all(q05 > 0)
    assert 0.8 <= np.mean((np.exp(zt) >= q05) & (np.exp(zt) <= q95)) <= 0.97
    mean, std = model.predict_dist(Xt)
    # The log-normal mixture's mean lies above its median (the exponentiated log-space median).
    assert np.all(mean > model.predict_quantiles(Xt, [0.5])[0])
    model.save(tmp_path / "bhn_log")
    np.testing.assert_array_equal(load_estimator(tmp_path / "bhn_log").predict_dist(Xt)[1], std)
    with pytest.raises(ValueError, match="positive"):
        make_model("bhn", **{**PARAMS, "target_transform": "log"}).fit(X, z)


def test_tuning_picks_the_log_input_for_a_log_scale_law(tmp_path):
    # y depends on log x and x is log-normal (heavy right tail, like times and minor additions):
    # the inner folds must prefer the log input, and the refit must use it. With x spread over
    # e^+-4 the robust scaling alone cannot resolve the bulk of x; over seeds 7-9 the inner NLL
    # of the log input was lower by 0.6-1.0 (nats per row).
    rng = np.random.default_rng(7)
    x = np.exp(2.0 * rng.standard_normal(100))
    y = np.sin(np.log(x)) + 0.1 * rng.standard_normal(100)
    grid = [{"input_transform": "none"}, {"input_transform": "log"}]
    model = TunedRegressor(make_model("bhn", **PARAMS), grid=grid, cv=2).fit(x[:, None], y)
    assert model.best_params_ == {"input_transform": "log"}
    assert model.best_estimator_.prep_.log_inputs.tolist() == [True]
    scores = [t["score"] for t in model.tuning_]
    assert scores[1] < scores[0] and np.all(np.isfinite(scores))
    model.save(tmp_path / "tuned")
    loaded = load_estimator(tmp_path / "tuned")
    assert loaded.best_params_ == {"input_transform": "log"}
    xt = np.exp(2.0 * np.random.default_rng(8).standard_normal(50))[:, None]
    np.testing.assert_array_equal(loaded.predict_dist(xt)[0], model.predict_dist(xt)[0])
    with pytest.raises(ValueError, match="grid"):
        TunedRegressor(make_model("bhn"), grid="grid").fit(x[:, None], y)


def test_mixture_of_members_calibrated_and_round_trips(fitted, tmp_path):
    X, y = _data(100, seed=0)
    mix = BayesianHypernetwork(**{**PARAMS, "n_members": 3}).fit(X, y)
    assert len(mix.params_) == 3 and mix.noise_factor_.shape == (3, 1)
    # Member 0 is trained exactly as the one-member model; the others start elsewhere.
    for k, v in fitted.params_[0].items():
        np.testing.assert_array_equal(mix.params_[0][k], v)
    assert not np.allclose(mix.params_[1]["V0"], mix.params_[0]["V0"])
    Xt, yt = _data(400, seed=1)
    q05, q95 = mix.predict_quantiles(Xt, [0.05, 0.95])
    assert 0.8 <= np.mean((yt >= q05) & (yt <= q95)) <= 0.97
    assert np.sqrt(np.mean((mix.predict(Xt) - _truth(Xt[:, 0])) ** 2)) < 0.6 * NOISE
    mix.save(tmp_path / "mix")
    loaded = load_estimator(tmp_path / "mix")
    grid = np.linspace(-3, 3, 13)[:, None]
    for a, b in zip(mix.predict_dist(grid), loaded.predict_dist(grid), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mix.sample(grid, 7, seed=1), loaded.sample(grid, 7, seed=1))


def test_mixture_needs_a_member():
    X, y = _data(40, seed=0)
    with pytest.raises(ValueError, match="n_members"):
        BayesianHypernetwork(**{**PARAMS, "n_members": 0}).fit(X, y)
