"""FFT homogenization of label images: effective stiffness and J2 stress–strain curves.

The periodic cell problem of small-strain mechanics is solved directly on the pixel grid
(Moulinec & Suquet 1994, 1998). Two solvers are provided for the linear-elastic problem:

``method="basic"``
    The Moulinec–Suquet fixed-point scheme ``eps <- eps - Gamma0 * sigma(eps)`` with an
    isotropic reference medium halfway between the extreme phases (their optimal choice).
    Its iteration count grows linearly with the stiffness contrast.
``method="cg"``
    Conjugate gradients on the Galerkin form of the Lippmann–Schwinger equation
    ``G[C : eps] = 0`` (Zeman et al. 2010; Zeman, de Geus et al. 2017), where ``G`` is the
    reference-free orthogonal projection onto compatible strain fields. The operator is
    symmetric positive definite on compatible fields, so CG applies and the iteration count
    grows only with the square root of the contrast.

The elasto-plastic problem uses the same projection in a Newton–Krylov loop (de Geus et al.
2017): per load increment, Newton iterations on ``G[sigma(eps)] = 0`` with the consistent
tangent of J2 radial return, each linearised system solved by CG. Mixed macroscopic control
(prescribed axial strain, zero transverse and shear macroscopic stress) is built into the
projection at the zero frequency (Lucarini & Segurado 2019).

Discretization: by default the "rotated" finite-difference scheme of Willot (2015), whose
discrete gradient in 2-D has direction ``(sin(θx/2) cos(θy/2), cos(θx/2) sin(θy/2))``; it
removes the Gibbs ringing of the continuous Fourier scheme and converges faster at high
contrast. ``discretization="fourier"`` gives the original continuous-frequency scheme.

Conventions: image rows are ``y``, columns ``x``; tensors are stored as four components
``[xx, yy, zz, xy]`` (tensorial shear) on an ``(4, H, W)`` grid; effective stiffnesses are
returned as 3×3 Voigt matrices ``[[C11, C12, C16], [C12, C22, C26], [C16, C26, C66]]`` acting on
``(eps_xx, eps_yy, gamma_xy = 2 eps_xy)``, plane strain (``eps_zz = 0``), in GPa.

All solves run in float64 (enabled only inside this module's code paths with
``jax.enable_x64``), because tolerances of 1e-8 are below float32 resolution.

References
----------
- H. Moulinec and P. Suquet, C. R. Acad. Sci. Paris II 318 (1994) 1417; Comput. Methods Appl.
  Mech. Eng. 157 (1998) 69–94.
- J. Zeman, J. Vondřejc, J. Novák and I. Marek, J. Comput. Phys. 229 (2010) 8065–8071.
- J. Zeman, T. W. J. de Geus, J. Vondřejc, R. H. J. Peerlings and M. G. D. Geers,
  Int. J. Numer. Methods Eng. 111 (2017) 903–926.
- T. W. J. de Geus, J. Vondřejc, J. Zeman, R. H. J. Peerlings and M. G. D. Geers,
  Comput. Methods Appl. Mech. Eng. 318 (2017) 412–430.
- F. Willot, C. R. Mécanique 343 (2015) 232–245.
- S. Lucarini and J. Segurado, Int. J. Numer. Methods Eng. 119 (2019) 797–805.
- J. C. Simo and T. J. R. Hughes, *Computational Inelasticity*, Springer (1998), §3.3.
- Z. Hashin, J. Mech. Phys. Solids 13 (1965) 119–134 (plane-strain HS bounds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from psplab.strength.model import (
    StrengthConstants,
    get_constants,
    grain_yield_stress_mpa,
    orowan_mpa,
)

__all__ = [
    "dilute_circular_inclusion",
    "effective_stiffness",
    "hashin_shtrikman_bounds",
    "isotropic_plane_strain_stiffness",
    "lame_from_youngs",
    "mechanics_for_sim",
    "mechanics_yield_strength",
    "offset_yield",
]

# Weights of the tensor inner product A:B in the [xx, yy, zz, xy] storage.
_WEIGHTS = np.array([1.0, 1.0, 1.0, 2.0])
_VOIGT_UNIT_STRAINS = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5]]
)  # eps_xx = 1, eps_yy = 1, gamma_xy = 1


# ----------------------------------------------------------------------------- helpers


def lame_from_youngs(youngs: Any, poisson: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lamé ``(lambda, mu)`` from Young's modulus and Poisson ratio (same units as E)."""
    e = np.asarray(youngs, dtype=float)
    nu = np.asarray(poisson, dtype=float)
    lam = e * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    mu = e / (2.0 * (1.0 + nu))
    return lam, mu


def isotropic_plane_strain_stiffness(youngs_modulus_gpa: float, poisson_ratio: float) -> np.ndarray:
    """3×3 Voigt plane-strain stiffness of an isotropic material (GPa)."""
    lam, mu = lame_from_youngs(youngs_modulus_gpa, poisson_ratio)
    lam, mu = float(lam), float(mu)
    return np.array([[lam + 2 * mu, lam, 0.0], [lam, lam + 2 * mu, 0.0], [0.0, 0.0, mu]])


def hashin_shtrikman_bounds(
    bulk: Sequence[float], shear: Sequence[float], fractions: Sequence[float]
) -> dict[str, tuple[float, float]]:
    """Hashin–Shtrikman bounds of a two-phase, statistically isotropic plane-strain medium.

    Parameters
    ----------
    bulk, shear
        Plane-strain (in-plane) bulk moduli ``k = lambda + mu`` and shear moduli of the two
        phases.
    fractions
        Area fractions of the two phases (summing to 1).

    Returns
    -------
    dict
        ``{"bulk": (lower, upper), "shear": (lower, upper)}`` (Hashin 1965, transverse
        moduli of fibre composites, which are the 2-D plane-strain bounds).
    """
    k = np.asarray(bulk, dtype=float)
    g = np.asarray(shear, dtype=float)
    f = np.asarray(fractions, dtype=float)
    if k.shape != (2,) or g.shape != (2,) or f.shape != (2,):
        raise ValueError("hashin_shtrikman_bounds needs two phases")
    if not np.isclose(f.sum(), 1.0):
        raise ValueError(f"fractions must sum to 1, got {f.sum()}")

    def bound(i: int) -> tuple[float, float]:
        j = 1 - i
        if f[j] == 0:
            return float(k[i]), float(g[i])
        kb = k[i] + f[j] / (1.0 / (k[j] - k[i]) + f[i] / (k[i] + g[i])) if k[j] != k[i] else k[i]
        gb = (
            g[i]
            + f[j] / (1.0 / (g[j] - g[i]) + f[i] * (k[i] + 2 * g[i]) / (2 * g[i] * (k[i] + g[i])))
            if g[j] != g[i]
            else g[i]
        )
        return float(kb), float(gb)

    # The bound built on the stiffer (softer) phase as reference is the upper (lower) one.
    lo_k, lo_g = bound(int(np.argmin(g)))
    hi_k, hi_g = bound(int(np.argmax(g)))
    return {"bulk": (min(lo_k, hi_k), max(lo_k, hi_k)), "shear": (min(lo_g, hi_g), max(lo_g, hi_g))}


def dilute_circular_inclusion(
    matrix_bulk: float,
    matrix_shear: float,
    inclusion_bulk: float,
    inclusion_shear: float,
    fraction: float,
) -> tuple[float, float]:
    """Dilute (first order in ``fraction``) Eshelby estimate for circular fibres, plane strain.

    Returns the effective in-plane bulk ``k`` and shear ``mu`` moduli; the strain concentration
    factors are those of an isolated circular inclusion in an infinite matrix.
    """
    k1, g1, k2, g2 = map(float, (matrix_bulk, matrix_shear, inclusion_bulk, inclusion_shear))
    k_eff = k1 + fraction * (k2 - k1) * (k1 + g1) / (k2 + g1)
    beta = (k1 + 2 * g1) / (2 * g1 * (k1 + g1))  # 1/(g1 + g1*) with g1* = g1 k1/(k1 + 2 g1)
    g_eff = g1 + fraction * (g2 - g1) / (1.0 + (g2 - g1) * beta)
    return k_eff, g_eff


def _per_label(values: Any, labels: np.ndarray, name: str) -> np.ndarray:
    """Map a scalar, a {label: value} mapping or a label-indexed sequence onto the image."""
    if np.isscalar(values):
        return np.full(labels.shape, float(values))
    uniq = np.unique(labels)
    if isinstance(values, Mapping):
        missing = [int(u) for u in uniq if int(u) not in values]
        if missing:
            raise ValueError(f"{name}: no value for label(s) {missing}")
        table = {int(k): float(v) for k, v in values.items()}
        lut = np.zeros(int(uniq.max()) + 1 if uniq.size else 1)
        for u in uniq:
            lut[int(u)] = table[int(u)]
        return lut[labels]
    arr = np.asarray(values, dtype=float).ravel()
    if uniq.size and (uniq.min() < 0 or uniq.max() >= arr.size):
        raise ValueError(
            f"{name}: labels range {int(uniq.min())}..{int(uniq.max())} but {arr.size} values given"
        )
    return arr[labels]


def _check_labels(labels: Any, name: str = "labels") -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D image, got shape {arr.shape}")
    if min(arr.shape) < 2:
        raise ValueError(f"{name} must be at least 2×2 pixels, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer labels")
        arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(f"{name} must hold non-negative labels, got min {arr.min()}")
    return arr.astype(np.int64)


# ------------------------------------------------------------------ JAX core (float64)


def _jax():
    import jax
    import jax.numpy as jnp

    return jax, jnp


def _directions(
    shape: tuple[int, int], discretization: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit gradient directions ``(n_x, n_y)`` on the rfft grid, and the Nyquist mask.

    Directions are zero where undefined (k = 0; the rotated scheme's checkerboard mode). The
    mask is 1 at the Nyquist frequencies of even sizes in the continuous scheme, where the
    derivative is ill-defined: there the strain is left free, so the solution has zero stress
    in those modes (Moulinec & Suquet 1998 replace Gamma0 by the reference compliance).
    """
    h, w = shape
    ky = np.fft.fftfreq(h) * h
    kx = np.fft.rfftfreq(w) * w
    ty = 2 * np.pi * ky[:, None] / h
    tx = 2 * np.pi * kx[None, :] / w
    nyq = np.zeros((h, kx.size))
    if discretization == "rotated":
        xi_x = np.sin(tx / 2) * np.cos(ty / 2)
        xi_y = np.cos(tx / 2) * np.sin(ty / 2)
    elif discretization == "fourier":
        xi_x = np.broadcast_to(kx[None, :], (h, kx.size)).astype(float).copy()
        xi_y = np.broadcast_to(ky[:, None], (h, kx.size)).astype(float).copy()
        if w % 2 == 0:
            nyq[:, -1] = 1.0
        if h % 2 == 0:
            nyq[h // 2, :] = 1.0
        xi_x[nyq > 0] = 0.0
        xi_y[nyq > 0] = 0.0
    else:
        raise ValueError(f"discretization must be 'rotated' or 'fourier', got {discretization!r}")
    norm = np.hypot(xi_x, xi_y)
    safe = np.where(norm > 1e-14, norm, 1.0)
    nx = np.where(norm > 1e-14, xi_x / safe, 0.0)
    ny = np.where(norm > 1e-14, xi_y / safe, 0.0)
    return nx, ny, nyq


def _project_hat(t_hat, dirs, mean_mask, lam0=0.0, mu0=0.5, xp=None):
    """Apply the Green operator of an isotropic reference ``(lam0, mu0)`` per frequency.

    ``t_hat`` has shape ``(4, H, W//2+1)``; ``dirs = (n_x, n_y, nyquist_mask)``. The default
    reference ``lam0 = 0, mu0 = 1/2`` (stiffness = identity) gives the orthogonal projection
    onto compatible strains ``P(t) = n⊗(t n) + (t n)⊗n - (n·t·n) n⊗n``; in general the
    coefficients are ``c1 = 1/(2 mu0)`` and ``c2 = (lam0 + mu0)/(mu0 (lam0 + 2 mu0))``
    (Moulinec & Suquet's ``Gamma0``). At k = 0 the components where ``mean_mask`` is 1 are
    kept (mixed control: their macroscopic stress is driven to zero), the others dropped.
    ``xp`` is the array module (``jax.numpy`` by default, ``numpy`` for checks).
    """
    if xp is None:
        _, xp = _jax()
    nx, ny, nyq = dirs
    c1 = 1.0 / (2.0 * mu0)
    c2 = (lam0 + mu0) / (mu0 * (lam0 + 2.0 * mu0))
    txx, tyy, txy = t_hat[0], t_hat[1], t_hat[3]
    v1 = txx * nx + txy * ny
    v2 = txy * nx + tyy * ny
    a = v1 * nx + v2 * ny
    # Nyquist modes (continuous scheme, even sizes): the in-plane reference compliance.
    det = 4.0 * mu0 * (lam0 + mu0)
    pxx = c1 * 2 * nx * v1 - c2 * nx * nx * a + nyq * ((lam0 + 2 * mu0) * txx - lam0 * tyy) / det
    pyy = c1 * 2 * ny * v2 - c2 * ny * ny * a + nyq * ((lam0 + 2 * mu0) * tyy - lam0 * txx) / det
    pxy = c1 * (ny * v1 + nx * v2) - c2 * nx * ny * a + nyq * txy / (2.0 * mu0)
    out = xp.stack([pxx, pyy, xp.zeros_like(pxx), pxy])
    mean = t_hat[:, 0, 0] * mean_mask
    if xp is np:
        out[:, 0, 0] = mean
        return out
    return out.at[:, 0, 0].set(mean)


def _fft(x):
    _, jnp = _jax()
    return jnp.fft.rfft2(x, axes=(-2, -1))


def _ifft(x, shape):
    _, jnp = _jax()
    return jnp.fft.irfft2(x, s=shape, axes=(-2, -1))


def _dot(a, b):
    _, jnp = _jax()
    w = jnp.asarray(_WEIGHTS, dtype=a.dtype)[:, None, None]
    return jnp.sum(w * a * b)


def _elastic_stress(eps, lam, mu):
    _, jnp = _jax()
    tr = eps[0] + eps[1] + eps[2]
    eye = jnp.asarray([1.0, 1.0, 1.0, 0.0], dtype=eps.dtype)[:, None, None]
    return lam * tr * eye + 2.0 * mu * eps


def _solve_elastic_cg(lam, mu, macro_strain, dirs, tol, max_iter):
    """Galerkin CG for strain-controlled linear elasticity; returns (eps, iters, rel_res)."""
    jax, jnp = _jax()
    shape = lam.shape
    zero_mask = jnp.zeros(4, dtype=lam.dtype)

    def proj(t):
        return _ifft(_project_hat(_fft(t), dirs, zero_mask), shape)

    e_bar = macro_strain[:, None, None] * jnp.ones((1, *shape), dtype=lam.dtype)
    sig_bar = _elastic_stress(e_bar, lam, mu)
    b = -proj(sig_bar)
    x0 = jnp.zeros_like(b)
    cx0 = jnp.zeros_like(b)
    r0 = b
    rr0 = _dot(r0, r0)

    def mean_norm(cx):
        m = jnp.mean(sig_bar + cx, axis=(1, 2))
        return jnp.sqrt(jnp.sum(jnp.asarray(_WEIGHTS, dtype=m.dtype) * m * m) * shape[0] * shape[1])

    def cond(s):
        x, cx, r, p, rr, it = s
        return (jnp.sqrt(rr) > tol * mean_norm(cx)) & (it < max_iter)

    def body(s):
        x, cx, r, p, rr, it = s
        cp = _elastic_stress(p, lam, mu)
        ap = proj(cp)
        alpha = rr / _dot(p, ap)
        x = x + alpha * p
        cx = cx + alpha * cp
        r = r - alpha * ap
        rr_new = _dot(r, r)
        p = r + (rr_new / rr) * p
        return x, cx, r, p, rr_new, it + 1

    x, cx, r, p, rr, it = jax.lax.while_loop(cond, body, (x0, cx0, r0, r0, rr0, 0))
    return e_bar + x, it, jnp.sqrt(rr) / mean_norm(cx)


def _solve_elastic_basic(lam, mu, macro_strain, dirs, tol, max_iter):
    """Moulinec–Suquet fixed point for strain-controlled elasticity."""
    jax, jnp = _jax()
    shape = lam.shape
    lam0 = 0.5 * (jnp.min(lam) + jnp.max(lam))
    mu0 = 0.5 * (jnp.min(mu) + jnp.max(mu))
    zero_mask = jnp.zeros(4, dtype=lam.dtype)
    n_pix = shape[0] * shape[1]
    # rfft Parseval weights: interior columns stand for two conjugate frequencies.
    w_cols = np.full(shape[1] // 2 + 1, 2.0)
    w_cols[0] = 1.0
    if shape[1] % 2 == 0:
        w_cols[-1] = 1.0
    w_cols = jnp.asarray(w_cols, dtype=lam.dtype)[None, None, :]
    w_comp = jnp.asarray(_WEIGHTS, dtype=lam.dtype)[:, None, None]

    def fourier_norm(t_hat):
        return jnp.sqrt(jnp.sum(w_comp * w_cols * jnp.abs(t_hat) ** 2) / n_pix)

    eps0 = macro_strain[:, None, None] * jnp.ones((1, *shape), dtype=lam.dtype)

    def residual(sig_hat):
        eq = fourier_norm(_project_hat(sig_hat, dirs, zero_mask))
        mean = jnp.real(sig_hat[:, 0, 0]) / n_pix
        return eq / jnp.sqrt(jnp.sum(w_comp[:, 0, 0] * mean * mean) * n_pix)

    def cond(s):
        eps, res, it = s
        return (res > tol) & (it < max_iter)

    def body(s):
        eps, res, it = s
        sig_hat = _fft(_elastic_stress(eps, lam, mu))
        eps = eps - _ifft(_project_hat(sig_hat, dirs, zero_mask, lam0, mu0), shape)
        res = residual(_fft(_elastic_stress(eps, lam, mu)))
        return eps, res, it + 1

    res0 = residual(_fft(_elastic_stress(eps0, lam, mu)))
    eps, res, it = jax.lax.while_loop(cond, body, (eps0, res0, 0))
    return eps, it, res


def _compiled(name: str):
    """Lazily jitted solvers (one compile per grid shape and dtype)."""
    jax, _ = _jax()
    cache = _compiled.__dict__.setdefault("cache", {})
    if name not in cache:
        fn = {
            "cg": _solve_elastic_cg,
            "basic": _solve_elastic_basic,
            "plastic_step": _plastic_step,
        }[name]
        cache[name] = jax.jit(fn)
    return cache[name]


def effective_stiffness(
    labels: Any,
    youngs_modulus_gpa: Any,
    poisson_ratio: Any,
    *,
    method: str = "cg",
    discretization: str = "rotated",
    tol: float = 1e-8,
    max_iter: int = 5000,
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Effective plane-strain stiffness (3×3 Voigt, GPa) of a periodic label image.

    Parameters
    ----------
    labels
        2-D integer image (rows ``y``, columns ``x``), periodic.
    youngs_modulus_gpa, poisson_ratio
        Per-label isotropic constants: a scalar, a ``{label: value}`` mapping, or a sequence
        indexed by label.
    method
        ``"cg"`` (conjugate gradients, default) or ``"basic"`` (Moulinec–Suquet fixed point).
    discretization
        ``"rotated"`` (Willot 2015, default) or ``"fourier"`` (continuous frequencies).
    tol
        Relative equilibrium tolerance ``||G[sigma]|| / ||<sigma>||`` (same criterion for
        both methods, so their iteration counts compare).
    max_iter
        Iteration cap per load case.
    return_info
        Also return ``{"iterations": [..3..], "residuals": [...], "method": ...}``.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, dict)
    """
    lab = _check_labels(labels)
    if method not in ("cg", "basic"):
        raise ValueError(f"method must be 'cg' or 'basic', got {method!r}")
    e = _per_label(youngs_modulus_gpa, lab, "youngs_modulus_gpa")
    nu = _per_label(poisson_ratio, lab, "poisson_ratio")
    if np.any(e <= 0):
        raise ValueError("youngs_modulus_gpa must be > 0 for every label")
    if np.any((nu <= -1) | (nu >= 0.5)):
        raise ValueError("poisson_ratio must lie in (-1, 0.5) for every label")
    lam, mu = lame_from_youngs(e, nu)
    return _stiffness_from_fields(
        lam,
        mu,
        method=method,
        discretization=discretization,
        tol=tol,
        max_iter=max_iter,
        return_info=return_info,
    )


def _stiffness_from_fields(lam, mu, *, method, discretization, tol, max_iter, return_info):
    jax, jnp = _jax()
    dirs = _directions(lam.shape, discretization)
    iters, residuals = [], []
    stiff = np.zeros((3, 3))
    with jax.enable_x64(True):
        solver = _compiled(method)
        lam_j = jnp.asarray(lam, dtype=jnp.float64)
        mu_j = jnp.asarray(mu, dtype=jnp.float64)
        dirs_j = tuple(jnp.asarray(d, dtype=jnp.float64) for d in dirs)
        for col, unit in enumerate(_VOIGT_UNIT_STRAINS):
            eps, it, res = solver(
                lam_j,
                mu_j,
                jnp.asarray(unit, dtype=jnp.float64),
                dirs_j,
                jnp.float64(tol),
                jnp.int32(max_iter),
            )
            sig = np.asarray(jnp.mean(_elastic_stress(eps, lam_j, mu_j), axis=(1, 2)))
            stiff[:, col] = [sig[0], sig[1], sig[3]]
            iters.append(int(it))
            residuals.append(float(res))
    stiff = 0.5 * (stiff + stiff.T)  # symmetric up to the solver tolerance
    if return_info:
        return stiff, {"iterations": iters, "residuals": residuals, "method": method}
    return stiff


# --------------------------------------------------------------- J2 elasto-plasticity


def _return_map(eps, eps_p_n, p_n, lam, mu, sy, hard):
    """Radial return (Simo & Hughes §3.3): stress, new plastic state and tangent data."""
    _, jnp = _jax()
    ee = eps - eps_p_n
    sig_tr = _elastic_stress(ee, lam, mu)
    p_tr = (sig_tr[0] + sig_tr[1] + sig_tr[2]) / 3.0
    eye = jnp.asarray([1.0, 1.0, 1.0, 0.0], dtype=eps.dtype)[:, None, None]
    s = sig_tr - p_tr * eye
    s_norm = jnp.sqrt(_dot_field(s, s))
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


def _dot_field(a, b):
    _, jnp = _jax()
    w = jnp.asarray(_WEIGHTS, dtype=a.dtype)[:, None, None]
    return jnp.sum(w * a * b, axis=0)


def _tangent_apply(x, lam, mu, tangent):
    """Consistent tangent ``C - 2mu(1-theta) I_dev - 2mu theta_bar N⊗N`` applied to ``x``."""
    _, jnp = _jax()
    n_unit, a1, a2 = tangent
    eye = jnp.asarray([1.0, 1.0, 1.0, 0.0], dtype=x.dtype)[:, None, None]
    dev = x - (x[0] + x[1] + x[2]) / 3.0 * eye
    return _elastic_stress(x, lam, mu) - a1 * dev - a2 * _dot_field(n_unit, x) * n_unit


def _plastic_step(
    eps_n,
    d_eps_guess,
    eps_p_n,
    p_n,
    lam,
    mu,
    sy,
    hard,
    mask,
    dirs,
    tol,
    cg_tol,
    max_newton,
    max_cg,
):
    """One load increment: Newton on ``G[sigma(eps)] = 0`` with CG for each linear system.

    ``d_eps_guess`` carries the prescribed macroscopic increment (its mean in the
    strain-controlled components is kept exactly); ``mask`` marks the stress-controlled
    components (zero macroscopic stress).
    """
    jax, jnp = _jax()
    shape = lam.shape
    n_pix = shape[0] * shape[1]

    def proj(t):
        return _ifft(_project_hat(_fft(t), dirs, mask), shape)

    def stress_scale(sig):
        m = jnp.mean(sig, axis=(1, 2))
        w = jnp.asarray(_WEIGHTS, dtype=m.dtype)
        # Relative to the macroscopic stress (floored so a zero load cannot divide by 0).
        return jnp.sqrt(n_pix * jnp.maximum(jnp.sum(w * m * m), (1e-12 * jnp.mean(mu)) ** 2))

    def cg(tangent, b):
        def a_op(v):
            return proj(_tangent_apply(v, lam, mu, tangent))

        bn = jnp.sqrt(_dot(b, b))

        def cond(s):
            x, r, p, rr, it = s
            return (jnp.sqrt(rr) > cg_tol * bn) & (it < max_cg)

        def body(s):
            x, r, p, rr, it = s
            ap = a_op(p)
            alpha = rr / _dot(p, ap)
            x = x + alpha * p
            r = r - alpha * ap
            rr_new = _dot(r, r)
            p = r + (rr_new / rr) * p
            return x, r, p, rr_new, it + 1

        x0 = jnp.zeros_like(b)
        x, _, _, _, it = jax.lax.while_loop(cond, body, (x0, b, b, _dot(b, b), 0))
        return x, it

    def evaluate(eps):
        sig, eps_p, p, tangent = _return_map(eps, eps_p_n, p_n, lam, mu, sy, hard)
        r = proj(sig)
        return sig, eps_p, p, tangent, r, jnp.sqrt(_dot(r, r)) / stress_scale(sig)

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

    Returns ``(yield_stress, strain_at_yield)``; ``(nan, nan)`` when the curve never
    crosses the offset line. The curve is linearly interpolated between points.
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


def _grain_diameters_um(grain_labels: np.ndarray, pixel_um: float) -> np.ndarray:
    """Equivalent-circle diameter of every grain id (indexed by id; periodic ids assumed)."""
    counts = np.bincount(grain_labels.ravel())
    area = counts * pixel_um**2
    return np.sqrt(4.0 * area / np.pi)


def _particle_radius_um(precip: np.ndarray, pixel_um: float) -> float:
    """Mean equivalent-circle radius of the precipitate particles (periodic wrap merged)."""
    from scipy import ndimage

    lab, n = ndimage.label(precip)
    if n == 0:
        return 0.0
    # Merge components that touch across the periodic boundary.
    parent = np.arange(n + 1)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a_edge, b_edge in ((lab[0, :], lab[-1, :]), (lab[:, 0], lab[:, -1])):
        for a, b in zip(a_edge, b_edge, strict=True):
            if a and b:
                ra, rb = find(int(a)), find(int(b))
                if ra != rb:
                    parent[ra] = rb
    roots = np.array([find(i) for i in range(1, n + 1)])
    areas = np.bincount(roots, weights=np.bincount(lab.ravel())[1:], minlength=n + 1)
    areas = areas[areas > 0] * pixel_um**2
    return float(np.mean(np.sqrt(areas / np.pi)))


def mechanics_yield_strength(
    grain_labels: Any,
    phase_labels: Any,
    pixel_um: float,
    family: str | StrengthConstants,
    *,
    solute_wt_pct: float = 0.0,
    include_orowan: bool = True,
    hardening_modulus_mpa: float | None = None,
    out_of_plane: str = "free",
    n_steps: int = 40,
    max_strain: float | None = None,
    tol: float = 1e-6,
    discretization: str = "rotated",
    compute_stiffness: bool = True,
    yield_stress_mpa: Any = None,
) -> dict[str, Any]:
    """FFT J2 elasto-plastic uniaxial test of a microstructure → 0.2 % offset yield strength.

    Every matrix pixel gets the yield stress of the strength model for its own grain
    (friction + solid solution + Hall–Petch with that grain's equivalent-circle diameter,
    plus the Orowan term of the image's precipitates when ``include_orowan``); precipitate
    pixels (``phase_labels > 0``) get the family's precipitate elastic constants and
    yield stress. Loading: macroscopic axial strain ``eps_xx`` in increments, all other
    macroscopic stresses zero (mixed control).

    Parameters
    ----------
    grain_labels
        2-D integer grain ids (periodic: equal ids across the border are one grain).
    phase_labels
        2-D integer phases (0 matrix, > 0 precipitate) of the same shape, or ``None``.
    pixel_um
        Pixel size, µm.
    family
        Alloy family (``"ferritic_steel"``, ``"al_mg"``, ``"ti_al"``) or constants.
    solute_wt_pct
        Solute content of the matrix (wt%), for the solid-solution term.
    include_orowan
        Add the Ashby–Orowan increment of the image's precipitates (area fraction, mean
        equivalent radius) to the matrix yield stress.
    hardening_modulus_mpa
        Linear isotropic hardening of all phases; defaults to the family's value.
    out_of_plane
        ``"free"``: generalized plane strain with zero macroscopic ``sigma_zz`` (a true
        uniaxial-stress test, default); ``"fixed"``: plane strain (``eps_zz = 0``).
    n_steps
        Number of strain increments up to ``max_strain``.
    max_strain
        Final axial strain; default ``1.6 * mean_yield / E + 0.004`` (past the offset point).
    tol
        Relative equilibrium tolerance of each Newton solve.
    discretization
        ``"rotated"`` or ``"fourier"`` (see module docstring).
    compute_stiffness
        Also compute the 3×3 plane-strain elastic stiffness.
    yield_stress_mpa
        Override: per-pixel yield stress image (MPa) instead of the strength model.

    Returns
    -------
    dict
        ``yield_strength_mpa`` (0.2 % offset, MPa), ``youngs_modulus_gpa`` (initial slope of
        the curve), ``stiffness_gpa`` (3×3 or ``None``), ``curve`` (``{"strain": ...,
        "stress_mpa": ...}``), ``stress_field_at_yield`` (von Mises stress image at the yield
        point, MPa), ``axial_stress_field_at_yield`` (``sigma_xx``, MPa),
        ``yield_stress_field_mpa`` (the pixel yield stresses), and ``info`` (solver counts,
        settings, microstructure summary, ``final_macro_stress_mpa`` — the mean stress
        components at the last increment, showing the mixed control).
    """
    jax, jnp = _jax()
    c = get_constants(family)
    grains = _check_labels(grain_labels, "grain_labels")
    if phase_labels is None:
        phases = np.zeros_like(grains)
    else:
        phases = _check_labels(phase_labels, "phase_labels")
        if phases.shape != grains.shape:
            raise ValueError(
                f"phase_labels shape {phases.shape} differs from grain_labels {grains.shape}"
            )
    if not (np.isfinite(pixel_um) and pixel_um > 0):
        raise ValueError(f"pixel_um must be > 0, got {pixel_um!r}")
    if out_of_plane not in ("free", "fixed"):
        raise ValueError(f"out_of_plane must be 'free' or 'fixed', got {out_of_plane!r}")
    if n_steps < 4:
        raise ValueError(f"n_steps must be >= 4, got {n_steps}")

    precip = phases > 0
    frac = float(precip.mean())
    radius_um = _particle_radius_um(precip, pixel_um) if frac > 0 else 0.0
    d_grain = _grain_diameters_um(grains, pixel_um)
    orowan = float(orowan_mpa(c, frac, radius_um)) if include_orowan and frac > 0 else 0.0
    if yield_stress_mpa is None:
        grain_sy = grain_yield_stress_mpa(c, np.maximum(d_grain, 1e-12), solute_wt_pct)
        sy = grain_sy[grains] + orowan
        sy = np.where(precip, c.precipitate_yield_mpa, sy)
    else:
        sy = np.broadcast_to(np.asarray(yield_stress_mpa, dtype=float), grains.shape).copy()
        if np.any(sy <= 0):
            raise ValueError("yield_stress_mpa must be > 0")
    e_mpa = np.where(precip, c.precipitate_youngs_modulus_gpa, c.youngs_modulus_gpa) * 1e3
    nu = np.where(precip, c.precipitate_poisson_ratio, c.poisson_ratio)
    lam, mu = lame_from_youngs(e_mpa, nu)
    hard = float(
        c.hardening_modulus_mpa if hardening_modulus_mpa is None else hardening_modulus_mpa
    )
    if hard < 0:
        raise ValueError("hardening_modulus_mpa must be >= 0")

    stiffness = None
    if compute_stiffness:
        stiffness = _stiffness_from_fields(
            lam / 1e3,
            mu / 1e3,
            method="cg",
            discretization=discretization,
            tol=1e-8,
            max_iter=5000,
            return_info=False,
        )

    # Stress-controlled components: yy, xy (and zz when out-of-plane is free).
    mask = np.array([0.0, 1.0, 1.0 if out_of_plane == "free" else 0.0, 1.0])
    dirs = _directions(grains.shape, discretization)
    matrix_sy = float(np.mean(sy[~precip])) if np.any(~precip) else float(np.mean(sy))
    e_matrix = float(np.mean(e_mpa))
    if max_strain is None:
        max_strain = 1.6 * matrix_sy / e_matrix + 0.004
    d_e = max_strain / n_steps

    step = _compiled("plastic_step")
    with jax.enable_x64(True):
        f64 = jnp.float64
        lam_j, mu_j = jnp.asarray(lam, f64), jnp.asarray(mu, f64)
        sy_j, hard_j = jnp.asarray(sy, f64), jnp.asarray(hard, f64)
        mask_j = jnp.asarray(mask, f64)
        dirs_j = tuple(jnp.asarray(d, f64) for d in dirs)
        shape4 = (4, *grains.shape)
        eps = jnp.zeros(shape4, f64)
        eps_p = jnp.zeros(shape4, f64)
        p = jnp.zeros(grains.shape, f64)
        unit = jnp.zeros(shape4, f64).at[0].set(1.0)
        guess = d_e * unit
        strains, stresses = [0.0], [0.0]
        fields = [(np.zeros(grains.shape), np.zeros(grains.shape))]
        newton_total, cg_total, worst_res = 0, 0, 0.0
        args = (f64(tol), f64(1e-3), jnp.int32(25), jnp.int32(2000))
        # Elastic reference: a tiny first increment with infinite yield stress gives the
        # initial modulus of the curve exactly (no pixel can yield).
        eps_el, sig_el, *_ = step(
            eps,
            1e-6 * unit,
            eps_p,
            p,
            lam_j,
            mu_j,
            jnp.full(grains.shape, jnp.inf, f64),
            hard_j,
            mask_j,
            dirs_j,
            *args,
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
            fields.append((_von_mises(sig_np), sig_np[0]))
            if i >= n_steps:
                found = not np.isnan(offset_yield(strains, stresses, modulus)[0])
                # Strongly hardening microstructures may need a longer test.
                if found or i >= 4 * n_steps:
                    break
    strains_a, stresses_a = np.asarray(strains), np.asarray(stresses)
    sy_val, e_val = offset_yield(strains_a, stresses_a, modulus)
    vm_field = axial_field = None
    if not np.isnan(e_val):
        j = int(np.searchsorted(strains_a, e_val))
        j = min(max(j, 1), len(strains_a) - 1)
        t = (e_val - strains_a[j - 1]) / (strains_a[j] - strains_a[j - 1])
        vm_field = (1 - t) * fields[j - 1][0] + t * fields[j][0]
        axial_field = (1 - t) * fields[j - 1][1] + t * fields[j][1]
    return {
        "yield_strength_mpa": sy_val,
        "yield_strain": e_val,
        "youngs_modulus_gpa": modulus / 1e3,
        "stiffness_gpa": stiffness,
        "curve": {"strain": strains_a, "stress_mpa": stresses_a},
        "stress_field_at_yield": vm_field,
        "axial_stress_field_at_yield": axial_field,
        "yield_stress_field_mpa": sy,
        "info": {
            "family": family if isinstance(family, str) else "custom",
            "grid": list(grains.shape),
            "pixel_um": float(pixel_um),
            "n_steps": len(strains_a) - 1,
            "newton_iterations": newton_total,
            "cg_iterations": cg_total,
            "max_relative_residual": worst_res,
            "final_macro_stress_mpa": dict(
                zip(("xx", "yy", "zz", "xy"), macro_stress.tolist(), strict=True)
            ),
            "precipitate_fraction": frac,
            "precipitate_mean_radius_um": radius_um,
            "orowan_mpa": orowan,
            "n_grains": int(np.count_nonzero(np.bincount(grains.ravel()))),
            "mean_grain_diameter_um": float(np.mean(d_grain[np.bincount(grains.ravel()) > 0])),
            "matrix_mean_yield_mpa": matrix_sy,
            "hardening_modulus_mpa": hard,
            "out_of_plane": out_of_plane,
            "discretization": discretization,
        },
    }


def _von_mises(sig: np.ndarray) -> np.ndarray:
    sxx, syy, szz, sxy = sig
    return np.sqrt(0.5 * ((sxx - syy) ** 2 + (syy - szz) ** 2 + (szz - sxx) ** 2) + 3.0 * sxy**2)


def mechanics_for_sim(sim_result: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`mechanics_yield_strength` of a :class:`psplab.sim.SimResult`.

    The family and the matrix solute content come from ``sim_result.recipe``; other keyword
    arguments are passed on.
    """
    recipe = sim_result.recipe
    kwargs.setdefault("solute_wt_pct", float(recipe.solute_wt_pct))
    return mechanics_yield_strength(
        sim_result.grain_labels,
        sim_result.phase_labels,
        sim_result.pixel_um,
        recipe.family,
        **kwargs,
    )
