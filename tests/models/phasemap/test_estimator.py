"""The phase-map estimator: fits on small data and the SAGE challenges, save/load, inputs, contract."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from psplab.models.phasemap import (
    ChangePointModel,
    PhaseMapModel,
    PropertySource,
    SamplingWarning,
    StructureSource,
    independent_columns,
)

from .data import TINY, line_points, tiny_data


def test_tiny_fit_predicts_regions_property_and_std(tiny_model):
    x = line_points(41)
    pred = tiny_model.predict(x)
    truth = (x[:, 0] > 0.5).astype(int)
    far = np.abs(x[:, 0] - 0.5) > 0.1
    assert np.mean(pred.labels[far] == truth[far]) == 1.0
    np.testing.assert_allclose(pred.probs.sum(axis=1), 1.0, atol=1e-9)
    # Entropy is highest near the boundary.
    assert pred.entropy[np.argmin(np.abs(x[:, 0] - 0.5))] > pred.entropy[0]
    # The std includes the noise: never below the smallest posterior noise level.
    noise = tiny_model.posterior_["noise"].min() * tiny_model.y_std_[0]
    assert np.all(pred.std[:, 0] >= noise * 0.999)
    assert pred.mean.shape == (41, 1) and pred.property_names == ["hardness"]
    d = tiny_model.diagnostics_
    assert {"rhat_max", "ess_min", "divergences"} <= set(d)


def test_save_load_round_trip(tiny_model, tmp_path):
    path = tiny_model.save(tmp_path / "m")
    assert path.suffix == ".json" and (tmp_path / "m.npz").is_file()
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:  # no pickled objects inside
        assert "post__v_phase" in npz.files
    loaded = PhaseMapModel.load(tmp_path / "m")
    x = line_points(7)
    a, b = tiny_model.predict(x), loaded.predict(x)
    np.testing.assert_allclose(a.probs, b.probs, rtol=1e-12)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-12)
    np.testing.assert_array_equal(a.labels, b.labels)


def _ternary(X2: np.ndarray) -> np.ndarray:
    """Three-component compositions (fractions read to 4 decimals) spanned by 2-D points."""
    a, b = 0.1 + 0.4 * X2[:, 0], 0.1 + 0.4 * X2[:, 1]
    return np.round(np.stack([a, b, 1.0 - a - b], axis=1), 4)


def test_independent_columns_drops_only_a_composition_constraint():
    rng = np.random.default_rng(0)
    X2 = rng.uniform(size=(60, 2))
    assert independent_columns(_ternary(X2)).tolist() == [0, 1]
    assert independent_columns(rng.uniform(size=(60, 3))).tolist() == [0, 1, 2]
    # A column with little spread is not a constraint (columns are compared after scaling).
    X = np.column_stack([X2, 1e-4 * rng.uniform(size=60)])
    assert independent_columns(X).tolist() == [0, 1, 2]
    # An element held fixed (5 %) neither hides nor is taken for the constraint among the rest.
    held = np.column_stack([0.95 * _ternary(X2), np.full(60, 0.05)])
    assert independent_columns(held).tolist() == [0, 1, 3]


def test_compositions_are_modelled_on_their_independent_columns(tiny_model, tmp_path):
    """A fit on (a, b, 1 - a - b) equals a fit on (a, b): the implied column adds nothing."""
    xs, ls, xp, yp = tiny_data()
    fits = []
    for cols in ([0, 1, 2], [0, 1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)
            model = PhaseMapModel(n_regions=2, **TINY).fit(
                [StructureSource(_ternary(xs)[:, cols], labels=ls)],
                [PropertySource(_ternary(xp)[:, cols], yp, prop="hardness")],
            )
        fits.append(model)
    three, two = fits
    assert three.input_columns_.tolist() == [0, 1] and three.n_dim_ == 3
    q = _ternary(line_points(9))
    a, b = three.predict(q), two.predict(q[:, :2])
    np.testing.assert_allclose(a.probs, b.probs, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-9)
    loaded = PhaseMapModel.load(three.save(tmp_path / "ternary"))
    np.testing.assert_allclose(loaded.predict(q).std, a.std, rtol=1e-12)
    with pytest.raises(ValueError, match="expected 3 input columns"):
        three.predict(q[:, :2])


def test_input_validation():
    with pytest.raises(ValueError, match="exactly one of labels, probs, patterns"):
        PhaseMapModel().fit([StructureSource(np.zeros((3, 1)))], [])
    with pytest.raises(ValueError, match="3 points but 2 values"):
        PhaseMapModel().fit([], [PropertySource(np.zeros((3, 1)), np.zeros(2))])
    with pytest.raises(ValueError, match="needs 1-D inputs"):
        ChangePointModel().fit([StructureSource(np.zeros((3, 2)), labels=[0, 1, 1])], [])
    with pytest.raises(ValueError, match="kernel must be one of"):
        PhaseMapModel(kernel="linear").fit([StructureSource(np.zeros((3, 1)), labels=[0, 1, 1])])
    with pytest.raises(NotFittedError, match="not fitted"):
        PhaseMapModel().predict(np.zeros((2, 1)))
    with pytest.raises(ValueError, match="shared_trend needs phase_model='gp'"):
        ChangePointModel(shared_trend=True).fit(
            [StructureSource(np.zeros((3, 1)), labels=[0, 1, 1])]
        )


def test_1d_challenge_bars(shared_data):
    """SAGE 1-D challenge 2 (property jump locates the boundary): the issue's three bars."""
    d = np.load(shared_data / "sage_challenges" / "data_1D_challenges.npz")
    full = np.load(shared_data / "sage_challenges" / "data_1D_challenges_full.npz")
    model = ChangePointModel(num_warmup=150, num_samples=100, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        model.fit(
            [StructureSource(d["xst2"], labels=d["yst2"].ravel())],
            [PropertySource(d["xfp2"], d["yfp2"].ravel())],
        )
    x = full["xfull"]
    pred = model.predict(x)
    acc = np.mean(pred.labels.astype(bool) == (x[:, 0] > 0.7))
    lo, hi = model.boundary_interval(0.9)[0]
    outside = (x[:, 0] <= 0.5) | (x[:, 0] >= 0.8)
    y = full["yffull"].ravel()[outside]
    r2 = 1 - np.sum((pred.mean[outside, 0] - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert acc >= 0.98
    assert lo <= 0.70 <= hi
    assert r2 >= 0.95


def test_2d_challenge_small_run(shared_data):
    """Challenge 2a on a small run: most of the 41 x 41 grid is classified right (truth r < 1)."""
    d = np.load(shared_data / "sage_challenges" / "2D_challenges_data.npz")
    model = PhaseMapModel(n_regions=2, **TINY)  # same compiled program as the tiny fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        model.fit(
            [StructureSource(d["xs_2a"], labels=d["ys_2a"])],
            [PropertySource(d["xf_2a"], d["yf_2a"].ravel())],
        )
    g = np.linspace(-2, 2, 41)
    G = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    pred = model.predict(G)
    acc = np.mean(pred.labels == (np.hypot(G[:, 0], G[:, 1]) < 1).astype(float))
    assert acc >= 0.97


def test_sampled_phase_kernel_starts_nuts_from_the_map_gradient():
    """``phase_kernel="sample"``: NUTS samples the MAP's own potential, started from the MAP
    loop's last potential and gradient; the kernel hyperparameters are then draws, not
    constants, and the map still separates the regions away from the boundary."""
    xs, ls, xp, yp = tiny_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        model = PhaseMapModel(
            n_regions=2, phase_kernel="sample", num_warmup=60, num_samples=40, svi_steps=200,
            max_inducing=36, seed=1,
        ).fit([StructureSource(xs, labels=ls)], [PropertySource(xp, yp)])  # fmt: skip
    assert model.spec_.fixed_sites == ()
    draws = model.posterior_["ls_phase"]
    assert np.all(np.isfinite(draws)) and np.all(np.std(draws, axis=0) > 0)
    assert np.isfinite(model.diagnostics_["rhat_max"]) and np.isfinite(model.svi_loss_)
    x = line_points(41)
    far = np.abs(x[:, 0] - 0.5) > 0.15
    assert np.mean(model.predict(x).labels[far] == (x[far, 0] > 0.5)) >= 0.95


def test_region_noise_recovers_scatter_that_differs_between_phases():
    """``region_noise=True``: each region gets its own noise level, and the predictive std
    follows the region a query point lies in (quiet left phase, scattered right phase)."""
    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(0.0, 1.0, 60))
    right = x > 0.5
    sd_true = np.where(right, 0.5, 0.05)
    y = np.where(right, 3.0 + x, np.sin(3 * x)) + sd_true * rng.standard_normal(60)
    S = [StructureSource(x[:, None], labels=right.astype(int))]
    P = [PropertySource(x[:, None], y, prop="remanence")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        model = ChangePointModel(region_noise=True, num_warmup=150, num_samples=150, seed=0)
        model.fit(S, P)
    noise = model.posterior_["noise"]
    assert noise.shape[1:] == (1, 2)  # (draws, sources, regions)
    sd_fit = np.median(noise[:, 0, :], axis=0) * model.y_std_[0]
    np.testing.assert_allclose(sd_fit, [0.05, 0.5], rtol=0.5)
    std = model.predict(np.array([[0.2], [0.8]])).std[:, 0]
    assert std[1] > 4 * std[0]


def test_estimator_contract(tiny_model):
    """scikit-learn's contract: parameters round-trip, clone, fitted state ends in ``_``."""
    from sklearn.base import clone

    params = tiny_model.get_params()
    assert params["n_regions"] == 2 and params["num_samples"] == TINY["num_samples"]
    fresh = clone(tiny_model)
    assert fresh.get_params() == params and not hasattr(fresh, "posterior_")
    assert fresh.set_params(seed=7) is fresh and fresh.seed == 7 and tiny_model.seed == 0
    fitted = set(vars(tiny_model)) - set(params)
    assert fitted and all(name.endswith("_") for name in fitted), sorted(fitted)
    for call in (
        lambda m: m.predict([[0.5, 0.5]]),
        lambda m: m.save("x"),
        ChangePointModel.boundary_samples,
    ):
        with pytest.raises(NotFittedError):
            call(fresh)
    cp = ChangePointModel(num_samples=10)
    assert clone(cp).phase_model_ == "changepoint" and clone(cp).num_samples == 10


def test_parameter_problems_are_listed_before_any_work():
    from psplab.errors import InputError, ResourceError

    with pytest.raises(InputError) as info:
        PhaseMapModel(n_regions=1, kernel="linear", num_chains=0, target_accept_prob=1.5).fit()
    assert len(info.value.lines) == 4, info.value.lines
    with pytest.raises(InputError, match="ChangePointModel needs phase_model='changepoint'"):
        ChangePointModel(phase_model="gp").check_params()
    with pytest.raises(ResourceError, match="num_chains 1000 is above the limit of 64"):
        PhaseMapModel(num_chains=1000).check_params()
    # 100 000 property readings: the covariances alone would need ~2.6 TB, so the fit is
    # refused before it compiles anything.
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(100_000, 2))
    with pytest.raises(ResourceError, match="100000 property rows"):
        PhaseMapModel().fit([], [PropertySource(X, X[:, 0])])


def test_damaged_model_files_are_refused_with_one_line(tiny_model, tmp_path):
    from psplab.errors import ModelFileError

    path = tiny_model.save(tmp_path / "m")
    npz = tmp_path / "m.npz"
    good = npz.read_bytes()
    npz.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(ModelFileError, match="damaged phase-map model"):
        PhaseMapModel.load(tmp_path / "m")
    npz.write_bytes(good)
    meta = path.read_text()
    path.write_text(meta.replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(ModelFileError, match="format version 99"):
        PhaseMapModel.load(tmp_path / "m")
    path.write_text(meta[:-20])  # broken JSON
    with pytest.raises(ModelFileError, match="damaged phase-map model"):
        PhaseMapModel.load(tmp_path / "m")
    with pytest.raises(ModelFileError, match="no such file"):
        PhaseMapModel.load(tmp_path / "nothing")
