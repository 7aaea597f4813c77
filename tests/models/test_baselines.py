"""Baselines: GP recovers a smooth function, RF intervals cover, networks fit, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from psplab.models import MODEL_NAMES, load_estimator, make_model
from psplab.models.base import mixture_quantiles
from psplab.models.baselines import DeepEnsemble, MCDropout, RandomForest
from psplab.models.gp import GaussianProcess


def _smooth(n, seed, noise=0.05):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 3, (n, 1))
    return X, np.sin(2 * X[:, 0]) + noise * rng.standard_normal(n)


def test_make_model_builds_every_name_and_rejects_unknown():
    for name in MODEL_NAMES:
        assert make_model(name).model_name == name
    assert isinstance(make_model("gp"), GaussianProcess)
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        make_model("svm")


def test_gp_recovers_a_smooth_function_with_honest_noise():
    X, y = _smooth(40, seed=0)
    gp = GaussianProcess().fit(X, y)
    grid = np.linspace(0.1, 2.9, 60)[:, None]
    mean, std = gp.predict_dist(grid)
    assert np.max(np.abs(mean - np.sin(2 * grid[:, 0]))) < 0.08
    assert 0.025 < gp.noise_std_[0] < 0.1  # truth 0.05
    # sin(2x): correlation length ~0.5, i.e. ~0.6 standard deviations of x ~ U(0, 3).
    assert 0.2 < gp.length_scales_[0, 0] < 2.0
    # Far from the data the GP falls back to its prior: much wider.
    _, std_far = gp.predict_dist(np.array([[10.0]]))
    assert std_far[0] > 5 * std.mean()


def test_gp_joint_samples_and_round_trip(tmp_path):
    X, y = _smooth(30, seed=1)
    Y = np.c_[y, 10 * y + 3]
    gp = GaussianProcess().fit(X, Y)
    grid = np.linspace(0, 3, 7)[:, None]
    draws = gp.sample(grid, 3000, seed=0, include_noise=False)
    assert draws.shape == (3000, 7, 2)
    mean, std = gp.predict_dist(grid)
    np.testing.assert_allclose(draws.mean(0), mean, atol=5 * std.max() / np.sqrt(3000))
    gp.save(tmp_path / "gp")
    loaded = load_estimator(tmp_path / "gp")
    np.testing.assert_array_equal(loaded.predict_dist(grid)[1], std)


def test_rf_intervals_cover_held_out_points(tmp_path):
    rng = np.random.default_rng(2)

    def f(X):
        return 3 * X[:, 0] + np.where(X[:, 1] > 0.5, 2.0, 0.0)

    X = rng.uniform(0, 1, (300, 2))
    y = f(X) + 0.3 * rng.standard_normal(300)
    Xt = rng.uniform(0, 1, (400, 2))
    yt = f(Xt) + 0.3 * rng.standard_normal(400)
    rf = RandomForest(n_estimators=100).fit(X, y)
    q05, q95 = rf.predict_quantiles(Xt, [0.05, 0.95])
    assert 0.85 <= np.mean((yt >= q05) & (yt <= q95)) <= 0.98
    assert 0.15 < rf.noise_std_[0] < 0.45  # out-of-bag estimate of the 0.3 noise
    # The flat-array tree walk reproduces scikit-learn exactly; save/load keeps it.
    Z = rf.prep_.model_inputs(Xt)
    np.testing.assert_allclose(
        rf.tree_predictions(Z).mean(0)[:, 0], rf.forest_.predict(Z), rtol=1e-12
    )
    rf.save(tmp_path / "rf")
    np.testing.assert_array_equal(
        load_estimator(tmp_path / "rf").predict_quantiles(Xt, [0.05]),
        rf.predict_quantiles(Xt, [0.05]),
    )


@pytest.mark.parametrize("cls", [DeepEnsemble, MCDropout])
def test_networks_fit_and_round_trip(cls, tmp_path):
    X, y = _smooth(80, seed=3, noise=0.1)
    model = cls(hidden=(32, 32), epochs=600, seed=1).fit(X, np.c_[y, 2 * y])
    grid = np.linspace(0.2, 2.8, 30)[:, None]
    mean, std = model.predict_dist(grid)
    assert mean.shape == std.shape == (30, 2)
    assert np.sqrt(np.mean((mean[:, 0] - np.sin(2 * grid[:, 0])) ** 2)) < 0.12
    assert np.all(std[:, 1] > std[:, 0])  # the doubled target is twice as uncertain
    assert model.sample(grid, 6, seed=0).shape == (6, 30, 2)
    model.save(tmp_path / "m")
    loaded = load_estimator(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_dist(grid)[0], mean)


def test_mixture_quantiles_of_one_gaussian_are_gaussian_quantiles():
    q = mixture_quantiles(np.array([[1.0, -2.0]]), np.array([[2.0, 0.5]]), [0.05, 0.5, 0.9])
    expected = np.array([1.0, -2.0]) + stats.norm.ppf([0.05, 0.5, 0.9])[:, None] * np.array(
        [2.0, 0.5]
    )
    np.testing.assert_allclose(q, expected, atol=1e-8)


def test_sparse_gp_matches_the_exact_one_beyond_its_row_limit(tmp_path):
    # 400 rows with max_exact_rows=100: the sparse GP (64 inducing inputs) must recover the same
    # smooth function and noise as the exact GP on the same rows.
    X, y = _smooth(400, seed=4)
    exact = GaussianProcess(n_restarts=0).fit(X, y)
    sparse = GaussianProcess(n_restarts=0, max_exact_rows=100, n_inducing=64).fit(X, y)
    assert sparse.sparse_ and not exact.sparse_
    grid = np.linspace(0.1, 2.9, 40)[:, None]
    mean, std = sparse.predict_dist(grid)
    assert np.max(np.abs(mean - np.sin(2 * grid[:, 0]))) < 0.08
    np.testing.assert_allclose(std, exact.predict_dist(grid)[1], rtol=0.25)
    assert 0.03 < sparse.noise_std_[0] < 0.08  # truth 0.05
    draws = sparse.sample(grid, 2000, seed=1)
    np.testing.assert_allclose(draws.std(0), std, rtol=0.15)
    sparse.save(tmp_path / "sgp")
    np.testing.assert_array_equal(load_estimator(tmp_path / "sgp").predict_dist(grid)[0], mean)
