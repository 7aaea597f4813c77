"""J2 elasto-plasticity on the pixel grid: radial return, one Newton–Krylov load step, the curve.

The load step solves ``G[sigma(eps)] = 0`` by Newton iterations with the consistent tangent of
J2 radial return (Simo & Hughes 1998, §3.3), each linearised system by conjugate gradients on
the projected operator (de Geus et al. 2017); the macroscopic loading is mixed (prescribed axial
strain, zero mean transverse, shear and optionally out-of-plane stress) through the projection's
zero frequency (Lucarini & Segurado 2019). :func:`uniaxial_curve` repeats the step to build a
stress–strain curve; :func:`psplab.strength.fft.mechanics_yield_strength` is the public entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psplab.strength.spectral import (
    TENSOR_WEIGHTS,
    conjugate_gradient,
    elastic_stress,
    inner,
    irfft2,
    jax_modules,
    jitted,
    project_hat,
    rfft2,
)

__all__ = [
    "UniaxialCurve",
    "offset_yield",
    "plastic_step",
    "return_map",
    "tangent_apply",
    "uniaxial_curve",
    "von_mises",
]


def return_map(
    eps: Any, eps_p_n: Any, p_n: Any, lam: Any, mu: Any, sy: Any, hard: Any
) -> tuple[Any, Any, Any, tuple[Any, Any, Any]]:
    """Radial return (Simo & Hughes §3.3): stress, new plastic state and tangent data.

    Parameters
    ----------
    eps : jax.Array
        Total strain ``(4, H, W)``.
    eps_p_n, p_n : jax.Array
        Plastic strain ``(4, H, W)`` and equivalent plastic strain ``(H, W)`` of the last
        converged increment.
    lam, mu : jax.Array
        Lamé fields ``(H, W)``, MPa.
    sy : jax.Array
        Initial yield stress per pixel, MPa.
    hard : jax.Array
        Linear isotropic hardening modulus, MPa.

    Returns
    -------
    tuple
        ``(stress, plastic_strain, equivalent_plastic_strain, tangent)``; ``tangent`` is the
        data :func:`tangent_apply` needs.
    """
    _, jnp = jax_modules()
    ee = eps - eps_p_n
    sig_tr = elastic_stress(ee, lam, mu)
    p_tr = (sig_tr[0] + sig_tr[1] + sig_tr[2]) / 3.0
    eye = jnp.asarray([1.0, 1.0, 1.0, 0.0], dtype=eps.dtype)[:, None, None]
    s = sig_tr - p_tr * eye
    s_norm = jnp.sqrt(inner(s, s, axis=0))
    q_tr = jnp.sqrt(1.5) * s_norm
    f = q_tr - (sy + hard * p_n)
    plastic = f > 0
    dp = jnp.where(plastic, f / (3.0 * mu + hard), 0.0)
    n_unit = s / jnp.where(s_norm > 0, s_norm, 1.0)
    flow = jnp.sqrt(1.5) * n_unit  # (3/2) s / q
    sig = sig_tr - 2.0 * mu * dp * flow
    eps_p = eps_p_n + dp * flow
    p = p_n + dp
    theta = 1.0 - 3.0 * mu * dp / jnp.where(q_tr > 0, q_tr, 1.0)
    theta_bar = 3.0 * mu / (3.0 * mu + hard) - (1.0 - theta)
    a1 = jnp.where(plastic, 2.0 * mu * (1.0 - theta), 0.0)
    a2 = jnp.where(plastic, 2.0 * mu * theta_bar, 0.0)
    return sig, eps_p, p, (n_unit, a1, a2)


def tangent_apply(x: Any, lam: Any, mu: Any, tangent: tuple[Any, Any, Any]) -> Any:
    """Consistent tangent ``C - 2mu(1-theta) I_dev - 2mu theta_bar N⊗N`` applied to ``x``.

    Parameters
    ----------
    x : jax.Array
        Strain-like field ``(4, H, W)``.
    lam, mu : jax.Array
        Lamé fields ``(H, W)``.
    tangent : tuple
        ``(N, a1, a2)`` from :func:`return_map`.

    Returns
    -------
    jax.Array
        Stress-like field ``(4, H, W)``.
    """
    _, jnp = jax_modules()
    n_unit, a1, a2 = tangent
    eye = jnp.asarray([1.0, 1.0, 1.0, 0.0], dtype=x.dtype)[:, None, None]
    dev = x - (x[0] + x[1] + x[2]) / 3.0 * eye
    return elastic_stress(x, lam, mu) - a1 * dev - a2 * inner(n_unit, x, axis=0) * n_unit


def plastic_step(
    eps_n: Any,
    d_eps_guess: Any,
    eps_p_n: Any,
    p_n: Any,
    lam: Any,
    mu: Any,
    sy: Any,
    hard: Any,
    mask: Any,
    dirs: tuple[Any, Any, Any],
    tol: Any,
    cg_tol: Any,
    max_newton: Any,
    max_cg: Any,
) -> tuple[Any, ...]:
    """One load increment: Newton on ``G[sigma(eps)] = 0`` with CG for each linear system.

    ``d_eps_guess`` carries the prescribed macroscopic increment (its mean in the
    strain-controlled components is kept exactly); ``mask`` marks the stress-controlled
    components (zero macroscopic stress). Jitted as a whole (:func:`jitted`): the Newton and CG
    loops are ``lax.while_loop`` bodies, so one compile serves every increment.

    Parameters
    ----------
    eps_n, eps_p_n, p_n : jax.Array
        Total strain, plastic strain and equivalent plastic strain of the last increment.
    d_eps_guess : jax.Array
        First guess of the strain increment ``(4, H, W)``.
    lam, mu, sy, hard : jax.Array
        Lamé fields, yield stress field and hardening modulus (MPa).
    mask : jax.Array
        ``(4,)``: 1 for stress-controlled components.
    dirs : tuple
        ``(n_x, n_y, nyquist_mask)`` from :func:`~psplab.strength.spectral.gradient_directions`.
    tol, cg_tol : float
        Relative tolerances of the Newton and CG iterations.
    max_newton, max_cg : int
        Iteration caps.

    Returns
    -------
    tuple
        ``(eps, stress, plastic_strain, equivalent_plastic_strain, relative_residual,
        newton_iterations, cg_iterations)``.
    """
    jax, jnp = jax_modules()
    shape = lam.shape
    n_pix = shape[0] * shape[1]

    def proj(t):
        return irfft2(project_hat(rfft2(t), dirs, mask), shape)

    def stress_scale(sig):
        m = jnp.mean(sig, axis=(1, 2))
        w = jnp.asarray(TENSOR_WEIGHTS, dtype=m.dtype)
        # Relative to the macroscopic stress (floored so a zero load cannot divide by 0).
        return jnp.sqrt(n_pix * jnp.maximum(jnp.sum(w * m * m), (1e-12 * jnp.mean(mu)) ** 2))

    def cg(tangent, b):
        def a_op(v):
            return proj(tangent_apply(v, lam, mu, tangent))

        return conjugate_gradient(a_op, b, cg_tol, max_cg)

    def evaluate(eps):
        sig, eps_p, p, tangent = return_map(eps, eps_p_n, p_n, lam, mu, sy, hard)
        r = proj(sig)
        return sig, eps_p, p, tangent, r, jnp.sqrt(inner(r, r)) / stress_scale(sig)

    # The state carries the evaluated stress/tangent so that each Newton iteration runs the
    # return map and the projection once (fewer inlined copies also compile faster).
    def newton_cond(s):
        return (s[6] > tol) & (s[7] < max_newton)

    def newton_body(s):
        eps, _, _, _, tangent, r, _, it, cg_total = s
        d_eps, n_cg = cg(tangent, -r)
        eps = eps + d_eps
        return (eps, *evaluate(eps), it + 1, cg_total + n_cg)

    eps0 = eps_n + d_eps_guess
    state = jax.lax.while_loop(newton_cond, newton_body, (eps0, *evaluate(eps0), 0, 0))
    eps, sig, eps_p, p, _, _, res, n_newton, n_cg = state
    return eps, sig, eps_p, p, res, n_newton, n_cg


def offset_yield(
    strain: Any, stress: Any, modulus: float, offset: float = 0.002
) -> tuple[float, float]:
    """Intersection of a stress–strain curve with the line ``modulus * (strain - offset)``.

    The curve is linearly interpolated between points.

    Parameters
    ----------
    strain, stress : array_like
        The curve, in consistent units with ``modulus``.
    modulus : float
        Elastic slope of the offset line.
    offset : float
        Plastic strain offset (0.002 for the 0.2 % yield strength).

    Returns
    -------
    tuple of float
        ``(yield_stress, strain_at_yield)``; ``(nan, nan)`` when the curve never crosses the
        offset line.
    """
    e = np.asarray(strain, dtype=float)
    s = np.asarray(stress, dtype=float)
    g = s - modulus * (e - offset)  # > 0 above the offset line
    below = np.nonzero(g <= 0)[0]
    if below.size == 0 or below[0] == 0:
        return float("nan"), float("nan")
    i = below[0]
    t = g[i - 1] / (g[i - 1] - g[i])
    return float(s[i - 1] + t * (s[i] - s[i - 1])), float(e[i - 1] + t * (e[i] - e[i - 1]))


def von_mises(sig: np.ndarray) -> np.ndarray:
    """Von Mises equivalent stress of a ``[xx, yy, zz, xy]`` stress field.

    Parameters
    ----------
    sig : numpy.ndarray
        Stress ``(4, H, W)``.

    Returns
    -------
    numpy.ndarray
        ``(H, W)``, in the units of ``sig``.
    """
    sxx, syy, szz, sxy = sig
    return np.sqrt(0.5 * ((sxx - syy) ** 2 + (syy - szz) ** 2 + (szz - sxx) ** 2) + 3.0 * sxy**2)


@dataclass
class UniaxialCurve:
    """A macroscopic stress–strain curve and the pixel fields along it.

    Attributes
    ----------
    strain, stress_mpa : numpy.ndarray
        Mean axial strain and stress (MPa) at each increment, starting at 0.
    modulus_mpa : float
        Initial axial slope (from a purely elastic probe increment), MPa.
    fields : list of tuple
        ``(von_mises, sigma_xx)`` images (MPa) at each point of the curve.
    newton_iterations, cg_iterations : int
        Totals over the increments.
    max_relative_residual : float
        Worst equilibrium residual of any increment.
    final_macro_stress_mpa : numpy.ndarray
        Mean ``[xx, yy, zz, xy]`` stress at the last increment (shows the mixed control).
    """

    strain: np.ndarray
    stress_mpa: np.ndarray
    modulus_mpa: float
    fields: list[tuple[np.ndarray, np.ndarray]] = field(repr=False)
    newton_iterations: int
    cg_iterations: int
    max_relative_residual: float
    final_macro_stress_mpa: np.ndarray

    def fields_at(self, strain: float) -> tuple[np.ndarray, np.ndarray]:
        """``(von_mises, sigma_xx)`` images linearly interpolated at mean axial ``strain``.

        Parameters
        ----------
        strain : float
            A strain within the curve's range.

        Returns
        -------
        tuple of numpy.ndarray
            Two ``(H, W)`` images, MPa.
        """
        j = int(np.searchsorted(self.strain, strain))
        j = min(max(j, 1), len(self.strain) - 1)
        t = (strain - self.strain[j - 1]) / (self.strain[j] - self.strain[j - 1])
        before, after = self.fields[j - 1], self.fields[j]
        return (1 - t) * before[0] + t * after[0], (1 - t) * before[1] + t * after[1]


def uniaxial_curve(
    lam: np.ndarray,
    mu: np.ndarray,
    sy: np.ndarray,
    hard: float,
    mask: np.ndarray,
    dirs: tuple[np.ndarray, np.ndarray, np.ndarray],
    strain_increment: float,
    n_steps: int,
    tol: float,
) -> UniaxialCurve:
    """Load a periodic cell in axial strain increments until past the 0.2 % offset yield.

    Runs ``n_steps`` increments, and more (up to ``4 * n_steps``) while the curve has not yet
    crossed the 0.2 % offset line: strongly hardening microstructures need a longer test.

    Parameters
    ----------
    lam, mu : numpy.ndarray
        Lamé fields ``(H, W)``, MPa.
    sy : numpy.ndarray
        Initial yield stress per pixel, MPa.
    hard : float
        Linear isotropic hardening modulus, MPa.
    mask : numpy.ndarray
        ``(4,)``: 1 for the stress-controlled components ``[xx, yy, zz, xy]``.
    dirs : tuple of numpy.ndarray
        From :func:`~psplab.strength.spectral.gradient_directions`.
    strain_increment : float
        Axial strain per increment.
    n_steps : int
        Minimum number of increments.
    tol : float
        Relative equilibrium tolerance of each Newton solve.

    Returns
    -------
    UniaxialCurve
    """
    jax, jnp = jax_modules()
    step = jitted(plastic_step)
    shape = lam.shape
    with jax.enable_x64(True):
        f64 = jnp.float64
        lam_j, mu_j = jnp.asarray(lam, f64), jnp.asarray(mu, f64)
        sy_j, hard_j = jnp.asarray(sy, f64), jnp.asarray(hard, f64)
        mask_j = jnp.asarray(mask, f64)
        dirs_j = tuple(jnp.asarray(d, f64) for d in dirs)
        shape4 = (4, *shape)
        eps = jnp.zeros(shape4, f64)
        eps_p = jnp.zeros(shape4, f64)
        p = jnp.zeros(shape, f64)
        unit = jnp.zeros(shape4, f64).at[0].set(1.0)
        guess = strain_increment * unit
        strains, stresses = [0.0], [0.0]
        fields = [(np.zeros(shape), np.zeros(shape))]
        newton_total, cg_total, worst_res = 0, 0, 0.0
        args = (f64(tol), f64(1e-3), jnp.int32(25), jnp.int32(2000))
        # Elastic reference: a tiny first increment with infinite yield stress gives the
        # initial modulus of the curve exactly (no pixel can yield).
        infinite = jnp.full(shape, jnp.inf, f64)
        eps_el, sig_el, *_ = step(
            eps, 1e-6 * unit, eps_p, p, lam_j, mu_j, infinite, hard_j, mask_j, dirs_j, *args
        )
        modulus = float(jnp.mean(sig_el[0]) / jnp.mean(eps_el[0]))
        i = 0
        while True:
            eps_new, sig, eps_p, p, res, n_newton, n_cg = step(
                eps, guess, eps_p, p, lam_j, mu_j, sy_j, hard_j, mask_j, dirs_j, *args
            )
            # Next guess: the same increment field (Newton then only corrects the change).
            guess = eps_new - eps
            eps = eps_new
            i += 1
            newton_total += int(n_newton)
            cg_total += int(n_cg)
            worst_res = max(worst_res, float(res))
            strains.append(float(jnp.mean(eps[0])))
            stresses.append(float(jnp.mean(sig[0])))
            macro_stress = np.asarray(jnp.mean(sig, axis=(1, 2)))
            sig_np = np.asarray(sig)
            fields.append((von_mises(sig_np), sig_np[0]))
            if i >= n_steps:
                found = not np.isnan(offset_yield(strains, stresses, modulus)[0])
                if found or i >= 4 * n_steps:
                    break
    return UniaxialCurve(
        strain=np.asarray(strains),
        stress_mpa=np.asarray(stresses),
        modulus_mpa=modulus,
        fields=fields,
        newton_iterations=newton_total,
        cg_iterations=cg_total,
        max_relative_residual=worst_res,
        final_macro_stress_mpa=macro_stress,
    )
