"""SAGE phase-map model: SAGE-paper challenges, save/load, determinism, CLI round trip."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from psplab.models.sage import (
    ChangePointModel,
    PhaseMapModel,
    PropertySource,
    SamplingWarning,
    StructureSource,
    independent_columns,
    kernel,
    synthetic_library,
)
from psplab.models.sage_acquire import acquisition_scores, suggest_batch

# One static configuration for every GP phase-map fit in this module: the tiny data and SAGE
# challenge 2a pad to the same bucket sizes (structure 96 rows, property 48), so all of them
# (API fit, CLI fit, challenge fit) share one compiled NUTS program.
TINY = dict(num_warmup=100, num_samples=50, svi_steps=300, max_inducing=36, seed=0)


def _tiny_data(seed: int = 0):
    """2-D, two regions (x0 > 0.5), a property that jumps at the boundary."""
    rng = np.random.default_rng(seed)
    xs = rng.uniform(0.0, 1.0, size=(90, 2))
    xp = rng.uniform(0.0, 1.0, size=(44, 2))
    yp = np.where(
        xp[:, 0] > 0.5, 2.0 - xp[:, 1], np.sin(3 * xp[:, 0])
    ) + 0.02 * rng.standard_normal(44)
    return xs, (xs[:, 0] > 0.5).astype(int), xp, yp


def _line(n: int) -> np.ndarray:
    """Points across the boundary: x0 from 0 to 1 at x1 = 0.5."""
    return np.stack([np.linspace(0.0, 1.0, n), np.full(n, 0.5)], axis=1)


@pytest.fixture(scope="module")
def tiny_model():
    xs, ls, xp, yp = _tiny_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        model = PhaseMapModel(n_regions=2, **TINY)
        model.fit([StructureSource(xs, labels=ls)], [PropertySource(xp, yp, prop="hardness")])
    return model


def test_kernels_are_stationary_with_ard_distances():
    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    for kind in ("rbf", "matern52"):
        K1 = kernel(X, X, [0.5, 2.0], 1.5, kind)
        K2 = kernel(X + 10.0, X + 10.0, [0.5, 2.0], 1.5, kind)  # shift invariance
        np.testing.assert_allclose(K1, K2, rtol=1e-12)
        np.testing.assert_allclose(np.diag(K1), 1.5**2)
    # r^2 = (1/0.5)^2 + (2/2)^2 = 5
    np.testing.assert_allclose(kernel(X[:1], X[1:], [0.5, 2.0], 1.0, "rbf"), np.exp(-2.5))
    r = np.sqrt(5.0)
    expected = (1 + np.sqrt(5) * r + 5 / 3 * r**2) * np.exp(-np.sqrt(5) * r)
    np.testing.assert_allclose(kernel(X[:1], X[1:], [0.5, 2.0], 1.0, "matern52"), expected)


def test_kernels_from_squared_differences_match_kernel_matrix():
    import jax.numpy as jnp

    from psplab.models.sage_gp import (
        kernel_matrix,
        kernels_from_squared_differences,
        squared_differences,
        x64,
    )

    rng = np.random.default_rng(1)
    X, Z = rng.uniform(size=(7, 3)), rng.uniform(size=(5, 3))
    ls = np.array([[0.3, 0.5, 1.0], [0.2, 0.2, 0.7]])
    with x64():
        for kind in ("rbf", "matern52"):
            K = kernels_from_squared_differences(squared_differences(X, Z), jnp.asarray(ls), kind)
            for k in range(2):
                np.testing.assert_allclose(K[k], kernel_matrix(X, Z, ls[k], 1.0, kind), rtol=1e-12)


def test_gaussian_log_density_matches_scipy_and_autodiff():
    import jax
    import jax.numpy as jnp
    from scipy.stats import multivariate_normal

    from psplab.models.sage_gp import gaussian_log_density, x64

    rng = np.random.default_rng(3)
    G = rng.standard_normal((6, 6))
    C0, r = G @ G.T + 0.5 * np.eye(6), rng.standard_normal(6)
    expected = multivariate_normal(np.zeros(6), C0).logpdf(r) + 3.0 * np.log(2.0 * np.pi)

    def direct(s, r):
        C = s[0] * C0 + s[1] * jnp.outer(r, r)
        L = jnp.linalg.cholesky(C)
        z = jax.scipy.linalg.solve_triangular(L, r, lower=True)
        return -0.5 * z @ z - jnp.sum(jnp.log(jnp.diag(L)))

    def custom(s, r):
        return gaussian_log_density(s[0] * C0 + s[1] * jnp.outer(r, r), r)

    with x64():
        s = jnp.array([1.0, 0.0])
        np.testing.assert_allclose(float(custom(s, jnp.asarray(r))), expected, rtol=1e-10)
        s = jnp.array([0.7, 0.3])  # C depends on r too: both cotangents are checked
        for argnum in (0, 1):
            g1 = jax.grad(direct, argnum)(s, jnp.asarray(r))
            g2 = jax.grad(custom, argnum)(s, jnp.asarray(r))
            np.testing.assert_allclose(g2, g1, rtol=1e-8)


def test_tiny_fit_predicts_regions_property_and_std(tiny_model):
    x = _line(41)
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
    x = _line(7)
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
    xs, ls, xp, yp = _tiny_data()
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
    q = _ternary(_line(9))
    a, b = three.predict(q), two.predict(q[:, :2])
    np.testing.assert_allclose(a.probs, b.probs, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-9)
    loaded = PhaseMapModel.load(three.save(tmp_path / "ternary"))
    np.testing.assert_allclose(loaded.predict(q).std, a.std, rtol=1e-12)
    with pytest.raises(ValueError, match="expected 3 input columns"):
        three.predict(q[:, :2])


def test_acquisition_targets_the_boundary(tiny_model):
    x = _line(101)
    ent = acquisition_scores(tiny_model, x, kind="entropy")
    assert abs(x[np.argmax(ent), 0] - 0.5) < 0.08
    idx, scores = suggest_batch(tiny_model, x, n=3, kind="combined")
    assert len(set(idx.tolist())) == 3 and np.all(np.diff(scores) <= 1e-12) is not None
    # Diverse batch: picks are at least a few candidate spacings apart.
    picked = np.sort(x[idx, 0])
    assert np.min(np.diff(picked)) > 0.02
    with pytest.raises(ValueError, match="kind must be one of"):
        acquisition_scores(tiny_model, x, kind="bogus")


def test_input_validation():
    with pytest.raises(ValueError, match="exactly one of labels, probs, patterns"):
        PhaseMapModel().fit([StructureSource(np.zeros((3, 1)))], [])
    with pytest.raises(ValueError, match="3 points but 2 values"):
        PhaseMapModel().fit([], [PropertySource(np.zeros((3, 1)), np.zeros(2))])
    with pytest.raises(ValueError, match="needs 1-D inputs"):
        ChangePointModel().fit([StructureSource(np.zeros((3, 2)), labels=[0, 1, 1])], [])
    with pytest.raises(ValueError, match="kernel must be one of"):
        PhaseMapModel(kernel="linear").fit([StructureSource(np.zeros((3, 1)), labels=[0, 1, 1])])
    with pytest.raises(RuntimeError, match="not fitted"):
        PhaseMapModel().predict(np.zeros((2, 1)))
    with pytest.raises(ValueError, match="shared_trend needs phase_model='gp'"):
        ChangePointModel(shared_trend=True).fit(
            [StructureSource(np.zeros((3, 1)), labels=[0, 1, 1])]
        )


def test_synthetic_library_ground_truth():
    lib = synthetic_library(n_points=50, seed=3)
    assert lib.structure_X.shape == (50, 2) and lib.property_X.shape == (50, 2)
    np.testing.assert_array_equal(lib.structure_labels, lib.label_fn(lib.structure_X))
    assert set(np.unique(lib.label_fn(lib.grid(41)))) == {0, 1, 2}
    resid = lib.property_y - lib.property_fn(lib.property_X)
    assert 0.02 < resid.std() < 0.1


@pytest.mark.shared_data
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


@pytest.mark.shared_data
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


def test_cli_round_trip_and_same_seed(tmp_path, tiny_model):
    """fit -> predict -> suggest from a TOML config; the CLI fit equals the API fit (same seed)."""
    import pandas as pd
    from typer.testing import CliRunner

    from psplab.cli import app

    xs, ls, xp, yp = _tiny_data()
    pd.DataFrame({"x": xs[:, 0], "y": xs[:, 1], "phase": ls}).to_csv(
        tmp_path / "xrd_points.csv", index=False
    )
    pd.DataFrame({"x": xp[:, 0], "y": xp[:, 1], "hardness": yp}).to_csv(
        tmp_path / "prop.csv", index=False
    )
    (tmp_path / "pm.toml").write_text(
        """
regions = 2
kernel = "rbf"
[[structure]]
source = "xrd_points.csv"
coords = ["x", "y"]
label = "phase"
[[property]]
source = "prop.csv"
coords = ["x", "y"]
value = "hardness"
[inference]
num_warmup = 100
num_samples = 50
svi_steps = 300
max_inducing = 36
seed = 0
"""
    )
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["phasemap", "fit", str(tmp_path / "pm.toml"), "--out", str(tmp_path / "run"), "--cv", "3"],
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["kind"] == "phasemap" and "figures" in manifest["files"]
    assert (tmp_path / "run" / "phase_map.png").is_file()
    # --cv 3: held-out predictions of every reading by SAGE refits and by a plain GP.
    cv = pd.read_csv(tmp_path / "run" / "cv.csv")
    assert len(cv) == len(yp) and {"x", "y", "fold", "sage_mean", "gp_std"} <= set(cv)
    np.testing.assert_allclose(cv["value"], yp)
    (summary,) = manifest["results"]["cv"]["summary"]
    assert summary["property"] == "hardness" and summary["n"] == len(yp)
    assert "3-fold check of the property predictions" in res.output
    line = _line(11)
    pd.DataFrame({"x": line[:, 0], "y": line[:, 1]}).to_csv(tmp_path / "grid.csv", index=False)
    res = runner.invoke(
        app,
        [
            "phasemap",
            "predict",
            str(tmp_path / "run"),
            str(tmp_path / "grid.csv"),
            "--out",
            str(tmp_path / "pred.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert {"p_0", "p_1", "entropy", "label", "hardness_mean", "hardness_std"} <= set(pred.columns)
    # Same seed, same data: the CLI fit reproduces the API fit exactly.
    api = tiny_model.predict(line)
    np.testing.assert_allclose(pred["hardness_mean"], api.mean[:, 0], rtol=1e-9)
    np.testing.assert_allclose(pred["p_1"], api.probs[:, 1], rtol=1e-9)
    res = runner.invoke(
        app,
        [
            "phasemap",
            "suggest",
            str(tmp_path / "run"),
            str(tmp_path / "grid.csv"),
            "--n",
            "2",
            "--out",
            str(tmp_path / "s.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "s.csv")) == 2
    # A fold count that cannot work fails before the fit.
    res = runner.invoke(
        app,
        ["phasemap", "fit", str(tmp_path / "pm.toml"), "--out", str(tmp_path / "r1"), "--cv", "1"],
    )
    assert res.exit_code == 2 and "--cv must be 0 (skip) or in [2, 44]" in res.output
    assert not (tmp_path / "r1").exists()
    # A bad config: exit 2, one line per problem.
    (tmp_path / "bad.toml").write_text(
        'regions = 1\nregion_noise = "yes"\n'
        '[[property]]\nsource = "nope.csv"\ncoords = ["x"]\nvalue = "y"\n'
    )
    res = runner.invoke(
        app, ["phasemap", "fit", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "r2")]
    )
    assert res.exit_code == 2
    assert "'regions' must be an integer >= 2" in res.output and "nope.csv not found" in res.output
    assert "'region_noise' must be true or false, got 'yes'" in res.output


@pytest.mark.parametrize("trend, region_noise", [(False, False), (True, False), (False, True)])
def test_property_prediction_is_the_exact_gp_conditional(trend, region_noise):
    """Per-draw predictions equal the Gaussian conditional of the joint covariance."""
    from psplab.models import sage as sg
    from psplab.models.sage_gp import x64

    rng = np.random.default_rng(1)
    n, n_pad, nq, M, K, T = 12, 3, 5, 6, 3, 2
    spec = sg._Spec(
        phase="gp", kernel="matern52", n_regions=K, n_props=T, n_struct_sources=0,
        n_prop_sources=2, icm=True, dim=2, n_inducing=M, trend=trend, region_noise=region_noise,
    )  # fmt: skip
    p = {
        "ls_phase": np.array([0.3, 0.5]),
        "amp_phase": np.array(2.0),
        "bias_phase": rng.normal(size=K - 1),
        "v_phase": rng.normal(size=(M, K - 1)),
        "ls_prop": rng.uniform(0.2, 0.6, size=(K, 2)),
        "amp_prop": rng.uniform(0.5, 1.5, size=(K, T)),
        "corr_chol": np.linalg.cholesky(np.array([[1.0, 0.6], [0.6, 1.0]])),
        "noise": rng.uniform(0.1, 0.3, size=(2, K)) if region_noise else np.array([0.1, 0.2]),
        "ls_trend": np.array([[0.4, 0.7]]),
        "amp_trend": np.array([0.8, 1.3]),
    }
    wp = np.r_[np.ones(n), np.zeros(n_pad)]
    data = {
        "Z": rng.uniform(size=(M, 2)),
        "Xp": rng.uniform(size=(n + n_pad, 2)),
        "yp": rng.normal(size=n + n_pad) * wp,
        "wp": wp,
        "p_prop": np.r_[rng.integers(0, T, size=n), np.zeros(n_pad, int)].astype(np.int32),
        "p_src": np.r_[rng.integers(0, 2, size=n), np.zeros(n_pad, int)].astype(np.int32),
    }
    Xq = rng.uniform(size=(nq, 2))
    with x64():
        Pq, mean, var = (np.asarray(a) for a in sg._predict_draw(p, data, Xq, spec))
        # Joint covariance of the data and the noise-free functions at every (query, property).
        aug = dict(data)
        aug["Xp"] = np.concatenate([data["Xp"]] + [Xq] * T)
        aug["wp"] = np.r_[wp, np.ones(nq * T)]
        aug["p_prop"] = np.r_[data["p_prop"], np.repeat(np.arange(T), nq)].astype(np.int32)
        aug["p_src"] = np.r_[data["p_src"], np.zeros(nq * T, int)].astype(np.int32)
        P = np.asarray(sg._phase_probs(p, aug["Xp"], data["Z"], spec)) * aug["wp"][:, None]
        J = np.array(sg._property_cov(p, aug, spec, P))
        noise_var = np.asarray(sg._noise_variance(p, aug, spec, P, aug["wp"]))
    m = n + n_pad
    J[np.arange(m, len(J)), np.arange(m, len(J))] -= noise_var[m:]
    Cpp, Jqp = J[:m, :m], J[m:, :m]
    want_mean = (Jqp @ np.linalg.solve(Cpp, data["yp"])).reshape(T, nq).T
    want_var = np.diag(J[m:, m:]) - np.sum(Jqp * np.linalg.solve(Cpp, Jqp.T).T, axis=1)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(var, want_var.reshape(T, nq).T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(Pq.sum(axis=1), 1.0)


def test_sampled_phase_kernel_starts_nuts_from_the_map_gradient():
    """``phase_kernel="sample"``: NUTS samples the MAP's own potential, started from the MAP
    loop's last potential and gradient; the kernel hyperparameters are then draws, not
    constants, and the map still separates the regions away from the boundary."""
    xs, ls, xp, yp = _tiny_data()
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
    x = _line(41)
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
