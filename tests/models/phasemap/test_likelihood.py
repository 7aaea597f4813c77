"""The likelihood: per-draw property predictions are the exact Gaussian conditional."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("trend, region_noise", [(False, False), (True, False), (False, True)])
def test_property_prediction_is_the_exact_gp_conditional(trend, region_noise):
    """Per-draw predictions equal the Gaussian conditional of the joint covariance."""
    from psplab.models.phasemap import likelihood as lk
    from psplab.models.phasemap.gp import x64

    rng = np.random.default_rng(1)
    n, n_pad, nq, M, K, T = 12, 3, 5, 6, 3, 2
    spec = lk.ModelSpec(
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
        Pq, mean, var = (np.asarray(a) for a in lk.predict_draw(p, data, Xq, spec))
        # Joint covariance of the data and the noise-free functions at every (query, property).
        aug = dict(data)
        aug["Xp"] = np.concatenate([data["Xp"]] + [Xq] * T)
        aug["wp"] = np.r_[wp, np.ones(nq * T)]
        aug["p_prop"] = np.r_[data["p_prop"], np.repeat(np.arange(T), nq)].astype(np.int32)
        aug["p_src"] = np.r_[data["p_src"], np.zeros(nq * T, int)].astype(np.int32)
        P = np.asarray(lk.phase_probs(p, aug["Xp"], data["Z"], spec)) * aug["wp"][:, None]
        J = np.array(lk.property_cov(p, aug, spec, P))
        noise_var = np.asarray(lk.noise_variance(p, aug, spec, P, aug["wp"]))
    m = n + n_pad
    J[np.arange(m, len(J)), np.arange(m, len(J))] -= noise_var[m:]
    Cpp, Jqp = J[:m, :m], J[m:, :m]
    want_mean = (Jqp @ np.linalg.solve(Cpp, data["yp"])).reshape(T, nq).T
    want_var = np.diag(J[m:, m:]) - np.sum(Jqp * np.linalg.solve(Cpp, Jqp.T).T, axis=1)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(var, want_var.reshape(T, nq).T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(Pq.sum(axis=1), 1.0)
