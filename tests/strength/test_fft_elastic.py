"""FFT homogenization, elastic bars of issue 8: laminates, HS bounds, Eshelby, single phase."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from psplab.strength import fft, spectral

E_SOFT, NU_SOFT, E_HARD, NU_HARD = 70.0, 0.30, 700.0, 0.20
MODULI = {0: E_SOFT, 1: E_HARD}
POISSON = {0: NU_SOFT, 1: NU_HARD}


def _lame(e, nu):
    lam, mu = fft.lame_from_youngs(np.asarray(e, float), np.asarray(nu, float))
    return lam, mu


def _bulk_shear(c):
    """In-plane bulk k and the two shear measures of a 3×3 plane-strain stiffness."""
    k = (c[0, 0] + c[1, 1]) / 4 + c[0, 1] / 2
    return k, (c[0, 0] + c[1, 1]) / 4 - c[0, 1] / 2, c[2, 2]


def test_projection_is_orthogonal_projector_onto_compatible_strains():
    rng = np.random.default_rng(0)
    dirs = spectral.gradient_directions((8, 8), "rotated")
    nx, ny, _ = dirs
    mask = np.array([0.0, 1.0, 1.0, 1.0])

    def proj(t):
        return spectral.project_hat(t, dirs, mask, xp=np)

    t = rng.standard_normal((4, 8, 5)) + 1j * rng.standard_normal((4, 8, 5))
    np.testing.assert_allclose(proj(proj(t)), proj(t), atol=1e-12)
    # A compatible field sym(u ⊗ n) (zero mean) is left unchanged and has no zz part.
    u = rng.standard_normal((2, 8, 5))
    comp = np.stack([u[0] * nx, u[1] * ny, 0 * nx, 0.5 * (u[0] * ny + u[1] * nx)])
    comp[:, 0, 0] = 0.0
    np.testing.assert_allclose(proj(comp), comp, atol=1e-12)
    # Self-adjoint in the tensor inner product (weight 2 on the shear component).
    s, r = rng.standard_normal((2, 4, 8, 5))
    w = np.array([1, 1, 1, 2.0])[:, None, None]
    assert np.sum(w * proj(s) * r) == pytest.approx(np.sum(w * s * proj(r)), rel=1e-10)
    # The zero frequency keeps exactly the stress-controlled components.
    np.testing.assert_allclose(proj(t)[:, 0, 0], t[:, 0, 0] * mask)


@pytest.mark.parametrize("method", ["cg", "basic"])
def test_laminate_gives_exact_series_and_parallel_stiffness(method):
    lab = np.zeros((32, 32), dtype=int)
    lab[:, :12] = 1  # layers normal to x (vary along columns)
    c = fft.effective_stiffness(lab, MODULI, POISSON, method=method)
    frac = np.array([1 - 12 / 32, 12 / 32])
    lam, mu = _lame([E_SOFT, E_HARD], [NU_SOFT, NU_HARD])
    # Normal to the layers: series (Reuss) average of the P-wave modulus and the shear modulus.
    assert c[0, 0] == pytest.approx(1 / np.sum(frac / (lam + 2 * mu)), rel=1e-7)
    assert c[2, 2] == pytest.approx(1 / np.sum(frac / mu), rel=1e-7)
    # Along the layers at zero normal stress: parallel (Voigt) average of E/(1 - nu^2).
    plane_modulus = np.array([E_SOFT / (1 - NU_SOFT**2), E_HARD / (1 - NU_HARD**2)])
    assert c[1, 1] - c[0, 1] ** 2 / c[0, 0] == pytest.approx(np.sum(frac * plane_modulus), rel=1e-7)
    # Rotating the laminate swaps the directions.
    c_rot = fft.effective_stiffness(lab.T, MODULI, POISSON, method=method)
    assert c_rot[1, 1] == pytest.approx(c[0, 0], rel=1e-7)
    assert c_rot[0, 0] == pytest.approx(c[1, 1], rel=1e-7)


@pytest.mark.parametrize("method", ["cg", "basic"])
def test_single_phase_returns_input_stiffness(method):
    lab = np.zeros((32, 32), dtype=int)
    c = fft.effective_stiffness(lab, 210.0, 0.29, method=method)
    np.testing.assert_allclose(c, fft.isotropic_plane_strain_stiffness(210.0, 0.29), atol=1e-9)
    lam, mu = _lame(210.0, 0.29)
    assert c[0, 0] == pytest.approx(lam + 2 * mu) and c[2, 2] == pytest.approx(mu)


@pytest.mark.parametrize("target_fraction", [0.3, 0.55])
def test_random_two_phase_media_fall_inside_hashin_shtrikman_bounds(target_fraction):
    rng = np.random.default_rng(7)
    noise = ndimage.gaussian_filter(rng.standard_normal((64, 64)), 2.0, mode="wrap")
    lab = (noise > np.quantile(noise, 1 - target_fraction)).astype(int)
    c, info = fft.effective_stiffness(lab, MODULI, POISSON, return_info=True)
    assert max(info["residuals"]) < 1e-8
    f_hard = lab.mean()
    lam, mu = _lame([E_SOFT, E_HARD], [NU_SOFT, NU_HARD])
    bounds = fft.hashin_shtrikman_bounds(lam + mu, mu, [1 - f_hard, f_hard])
    k, g_a, g_b = _bulk_shear(c)
    lo, hi = bounds["bulk"]
    assert lo < k < hi
    lo, hi = bounds["shear"]
    assert lo < g_a < hi and lo < g_b < hi
    # The bounds are not vacuous: they are much tighter than Voigt–Reuss.
    assert hi - lo < (f_hard * mu[1] + (1 - f_hard) * mu[0]) - 1 / (
        f_hard / mu[1] + (1 - f_hard) / mu[0]
    )


def test_basic_and_cg_agree_and_cg_needs_fewer_iterations():
    rng = np.random.default_rng(3)
    noise = ndimage.gaussian_filter(rng.standard_normal((64, 64)), 2.0, mode="wrap")
    lab = (noise > 0).astype(int)
    c_cg, info_cg = fft.effective_stiffness(lab, MODULI, POISSON, method="cg", return_info=True)
    c_b, info_b = fft.effective_stiffness(lab, MODULI, POISSON, method="basic", return_info=True)
    np.testing.assert_allclose(c_cg, c_b, rtol=1e-6, atol=1e-6)
    assert sum(info_cg["iterations"]) < sum(info_b["iterations"])


def test_circular_inclusion_refinement_converges_to_dilute_eshelby():
    e1, nu1, e2, nu2 = 70.0, 0.30, 350.0, 0.25
    lam, mu = _lame([e1, e2], [nu1, nu2])
    k = lam + mu
    errors_k, errors_g = [], []
    for n in (64, 128, 256):
        y, x = np.mgrid[:n, :n] + 0.5
        lab = ((x - n / 2) ** 2 + (y - n / 2) ** 2 < (0.07 * n) ** 2).astype(int)
        f = lab.mean()  # the pixelated fraction (~1.5 %)
        c = fft.effective_stiffness(lab, {0: e1, 1: e2}, {0: nu1, 1: nu2}, tol=1e-8)
        k_eff, g_a, g_b = _bulk_shear(c)
        k_dil, g_dil = fft.dilute_circular_inclusion(k[0], mu[0], k[1], mu[1], f)
        # Compare the perturbation of the matrix moduli (first order in f).
        errors_k.append(abs((k_eff - k[0]) / (k_dil - k[0]) - 1))
        errors_g.append(abs((0.5 * (g_a + g_b) - mu[0]) / (g_dil - mu[0]) - 1))
    assert errors_k[0] > errors_k[1] > errors_k[2]
    assert errors_g[0] > errors_g[1] > errors_g[2]
    # What remains at 256² is the O(f) interaction of the periodic array (Mori–Tanaka).
    assert errors_k[2] < 0.02 and errors_g[2] < 0.02


def test_hashin_shtrikman_bounds_reduce_to_phase_values_and_order():
    b = fft.hashin_shtrikman_bounds([10.0, 10.0], [5.0, 5.0], [0.4, 0.6])
    assert b["bulk"] == (10.0, 10.0) and b["shear"] == (5.0, 5.0)
    b = fft.hashin_shtrikman_bounds([10.0, 100.0], [5.0, 50.0], [0.5, 0.5])
    assert 10 < b["bulk"][0] < b["bulk"][1] < 100
    with pytest.raises(ValueError, match="sum to 1"):
        fft.hashin_shtrikman_bounds([1, 2], [1, 2], [0.5, 0.6])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": np.zeros(5, int)}, "2-D image"),
        ({"labels": np.full((4, 4), -1)}, "non-negative"),
        ({"youngs_modulus_gpa": {0: 70.0}}, r"no value for label\(s\) \[1\]"),
        ({"poisson_ratio": 0.5}, "poisson_ratio"),
        ({"method": "newton"}, "method must be"),
        ({"discretization": "staggered"}, "discretization must be"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, message):
    args = {
        "labels": np.eye(4, dtype=int),
        "youngs_modulus_gpa": MODULI,
        "poisson_ratio": POISSON,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fft.effective_stiffness(
            args.pop("labels"), args.pop("youngs_modulus_gpa"), args.pop("poisson_ratio"), **args
        )


def test_float64_is_enabled_only_inside_the_solver():
    import jax
    import jax.numpy as jnp

    before = bool(jax.config.jax_enable_x64)
    c, info = fft.effective_stiffness(np.zeros((32, 32), int), 100.0, 0.3, return_info=True)
    assert bool(jax.config.jax_enable_x64) == before
    if not before:
        assert jnp.zeros(1).dtype == jnp.float32
    # The solve itself ran in float64: the equilibrium residual is far below float32 eps.
    lab = np.zeros((32, 32), int)
    lab[8:20, 5:17] = 1
    _, info = fft.effective_stiffness(lab, MODULI, POISSON, tol=1e-11, return_info=True)
    assert max(info["residuals"]) < 1e-11
