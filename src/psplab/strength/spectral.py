"""Spectral (FFT) kernels of the periodic cell problem, shared by the elastic and plastic solvers.

Tensors are stored as four components ``[xx, yy, zz, xy]`` (tensorial shear) on a ``(4, H, W)``
grid; their Fourier transforms have shape ``(4, H, W // 2 + 1)`` (real FFT along the columns).
The kernels take and return JAX arrays and are meant to be traced inside :func:`jitted`
functions; :mod:`psplab.strength.fft` explains the schemes and holds the public solvers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "TENSOR_WEIGHTS",
    "VOIGT_UNIT_STRAINS",
    "conjugate_gradient",
    "elastic_stress",
    "gradient_directions",
    "inner",
    "irfft2",
    "jax_modules",
    "jitted",
    "project_hat",
    "rfft2",
    "stiffness_from_fields",
]

# Weights of the tensor inner product A:B in the [xx, yy, zz, xy] storage.
TENSOR_WEIGHTS = np.array([1.0, 1.0, 1.0, 2.0])
VOIGT_UNIT_STRAINS = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5]]
)  # eps_xx = 1, eps_yy = 1, gamma_xy = 1


def jax_modules() -> tuple[Any, Any]:
    """``(jax, jax.numpy)``, imported on first use so that importing this module stays cheap.

    Returns
    -------
    tuple
        The ``jax`` module and ``jax.numpy``.
    """
    import jax
    import jax.numpy as jnp

    return jax, jnp


def gradient_directions(
    shape: tuple[int, int], discretization: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit gradient directions ``(n_x, n_y)`` on the rfft grid, and the Nyquist mask.

    Directions are zero where undefined (k = 0; the rotated scheme's checkerboard mode). The
    mask is 1 at the Nyquist frequencies of even sizes in the continuous scheme, where the
    derivative is ill-defined: there the strain is left free, so the solution has zero stress
    in those modes (Moulinec & Suquet 1998 replace Gamma0 by the reference compliance).

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)`` of the image.
    discretization : str
        ``"rotated"`` (Willot 2015) or ``"fourier"`` (continuous frequencies).

    Returns
    -------
    tuple of numpy.ndarray
        ``(n_x, n_y, nyquist_mask)``, each of shape ``(H, W // 2 + 1)``.
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


def project_hat(
    t_hat: Any,
    dirs: tuple[Any, Any, Any],
    mean_mask: Any,
    lam0: Any = 0.0,
    mu0: Any = 0.5,
    xp: Any = None,
) -> Any:
    """Apply the Green operator of an isotropic reference ``(lam0, mu0)`` per frequency.

    ``t_hat`` has shape ``(4, H, W//2+1)``; ``dirs = (n_x, n_y, nyquist_mask)``. The default
    reference ``lam0 = 0, mu0 = 1/2`` (stiffness = identity) gives the orthogonal projection
    onto compatible strains ``P(t) = n⊗(t n) + (t n)⊗n - (n·t·n) n⊗n``; in general the
    coefficients are ``c1 = 1/(2 mu0)`` and ``c2 = (lam0 + mu0)/(mu0 (lam0 + 2 mu0))``
    (Moulinec & Suquet's ``Gamma0``). At k = 0 the components where ``mean_mask`` is 1 are
    kept (mixed control: their macroscopic stress is driven to zero), the others dropped.

    Parameters
    ----------
    t_hat : array
        Fourier transform of a tensor field, shape ``(4, H, W // 2 + 1)``.
    dirs : tuple
        ``(n_x, n_y, nyquist_mask)`` from :func:`gradient_directions`.
    mean_mask : array
        ``(4,)``: 1 for the components whose mean is kept, 0 for those dropped.
    lam0, mu0 : float
        Lamé constants of the reference medium.
    xp : module, optional
        Array module: ``jax.numpy`` (default) or ``numpy`` (for checks).

    Returns
    -------
    array
        The projected field, shape of ``t_hat``.
    """
    if xp is None:
        _, xp = jax_modules()
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


def rfft2(x: Any) -> Any:
    """Real 2-D FFT over the last two axes.

    Parameters
    ----------
    x : jax.Array
        Real field of shape ``(..., H, W)``.

    Returns
    -------
    jax.Array
        Complex array of shape ``(..., H, W // 2 + 1)``.
    """
    _, jnp = jax_modules()
    return jnp.fft.rfft2(x, axes=(-2, -1))


def irfft2(x: Any, shape: tuple[int, int]) -> Any:
    """Inverse of :func:`rfft2`.

    Parameters
    ----------
    x : jax.Array
        Complex array of shape ``(..., H, W // 2 + 1)``.
    shape : tuple of int
        ``(H, W)`` of the real field.

    Returns
    -------
    jax.Array
        Real field of shape ``(..., H, W)``.
    """
    _, jnp = jax_modules()
    return jnp.fft.irfft2(x, s=shape, axes=(-2, -1))


def inner(a: Any, b: Any, axis: int | None = None) -> Any:
    """Double contraction ``A:B`` of two tensor fields (the shear component counts twice).

    Parameters
    ----------
    a, b : jax.Array
        Tensor fields of shape ``(4, H, W)``.
    axis : int, optional
        ``None`` sums over components and pixels (a scalar); ``0`` sums over the components
        only (a field of shape ``(H, W)``).

    Returns
    -------
    jax.Array
        Scalar or ``(H, W)`` field.
    """
    _, jnp = jax_modules()
    w = jnp.asarray(TENSOR_WEIGHTS, dtype=a.dtype)[:, None, None]
    return jnp.sum(w * a * b, axis=axis)


def elastic_stress(eps: Any, lam: Any, mu: Any) -> Any:
    """Isotropic Hooke's law ``sigma = lam tr(eps) I + 2 mu eps`` per pixel.

    Parameters
    ----------
    eps : jax.Array
        Strain field ``(4, H, W)``.
    lam, mu : jax.Array
        Lamé fields ``(H, W)``.

    Returns
    -------
    jax.Array
        Stress field ``(4, H, W)`` in the units of ``lam`` and ``mu``.
    """
    _, jnp = jax_modules()
    tr = eps[0] + eps[1] + eps[2]
    eye = jnp.asarray([1.0, 1.0, 1.0, 0.0], dtype=eps.dtype)[:, None, None]
    return lam * tr * eye + 2.0 * mu * eps


def _solve_elastic_cg(
    lam: Any, mu: Any, macro_strain: Any, dirs: tuple[Any, Any, Any], tol: Any, max_iter: Any
) -> tuple[Any, Any, Any]:
    """Galerkin conjugate gradients for strain-controlled linear elasticity.

    Parameters
    ----------
    lam, mu : jax.Array
        Lamé fields ``(H, W)``.
    macro_strain : jax.Array
        Prescribed mean strain ``(4,)``.
    dirs : tuple
        ``(n_x, n_y, nyquist_mask)`` from :func:`gradient_directions`.
    tol : float
        Relative equilibrium tolerance ``||G[sigma]|| / ||<sigma>||``.
    max_iter : int
        Iteration cap.

    Returns
    -------
    tuple
        ``(eps, iterations, relative_residual)``; ``eps`` has shape ``(4, H, W)``.
    """
    jax, jnp = jax_modules()
    shape = lam.shape
    zero_mask = jnp.zeros(4, dtype=lam.dtype)

    def proj(t):
        return irfft2(project_hat(rfft2(t), dirs, zero_mask), shape)

    e_bar = macro_strain[:, None, None] * jnp.ones((1, *shape), dtype=lam.dtype)
    sig_bar = elastic_stress(e_bar, lam, mu)
    b = -proj(sig_bar)
    x0 = jnp.zeros_like(b)
    cx0 = jnp.zeros_like(b)
    r0 = b
    rr0 = inner(r0, r0)

    def mean_norm(cx):
        m = jnp.mean(sig_bar + cx, axis=(1, 2))
        return jnp.sqrt(
            jnp.sum(jnp.asarray(TENSOR_WEIGHTS, dtype=m.dtype) * m * m) * shape[0] * shape[1]
        )

    def cond(s):
        x, cx, r, p, rr, it = s
        return (jnp.sqrt(rr) > tol * mean_norm(cx)) & (it < max_iter)

    def body(s):
        x, cx, r, p, rr, it = s
        cp = elastic_stress(p, lam, mu)
        ap = proj(cp)
        alpha = rr / inner(p, ap)
        x = x + alpha * p
        cx = cx + alpha * cp
        r = r - alpha * ap
        rr_new = inner(r, r)
        p = r + (rr_new / rr) * p
        return x, cx, r, p, rr_new, it + 1

    x, cx, r, p, rr, it = jax.lax.while_loop(cond, body, (x0, cx0, r0, r0, rr0, 0))
    return e_bar + x, it, jnp.sqrt(rr) / mean_norm(cx)


def conjugate_gradient(
    apply: Callable[[Any], Any], b: Any, tol: Any, max_iter: Any
) -> tuple[Any, Any]:
    """Solve ``A x = b`` by conjugate gradients from ``x = 0`` (``A`` symmetric positive
    definite on the fields it is applied to), inside a ``lax.while_loop``.

    Parameters
    ----------
    apply : callable
        ``v -> A v`` on tensor fields ``(4, H, W)``.
    b : jax.Array
        Right-hand side ``(4, H, W)``.
    tol : float
        Stop when ``||r|| <= tol * ||b||``.
    max_iter : int
        Iteration cap.

    Returns
    -------
    tuple
        ``(x, iterations)``.
    """
    jax, jnp = jax_modules()
    bn = jnp.sqrt(inner(b, b))

    def cond(s):
        x, r, p, rr, it = s
        return (jnp.sqrt(rr) > tol * bn) & (it < max_iter)

    def body(s):
        x, r, p, rr, it = s
        ap = apply(p)
        alpha = rr / inner(p, ap)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = inner(r, r)
        p = r + (rr_new / rr) * p
        return x, r, p, rr_new, it + 1

    x0 = jnp.zeros_like(b)
    x, _, _, _, it = jax.lax.while_loop(cond, body, (x0, b, b, inner(b, b), 0))
    return x, it


def _solve_elastic_basic(
    lam: Any, mu: Any, macro_strain: Any, dirs: tuple[Any, Any, Any], tol: Any, max_iter: Any
) -> tuple[Any, Any, Any]:
    """Moulinec–Suquet fixed point: takes and returns the same as :func:`_solve_elastic_cg`.

    The reference medium is halfway between the extreme phases (Moulinec & Suquet's optimal
    choice).
    """
    jax, jnp = jax_modules()
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
    w_comp = jnp.asarray(TENSOR_WEIGHTS, dtype=lam.dtype)[:, None, None]

    def fourier_norm(t_hat):
        return jnp.sqrt(jnp.sum(w_comp * w_cols * jnp.abs(t_hat) ** 2) / n_pix)

    eps0 = macro_strain[:, None, None] * jnp.ones((1, *shape), dtype=lam.dtype)

    def residual(sig_hat):
        eq = fourier_norm(project_hat(sig_hat, dirs, zero_mask))
        mean = jnp.real(sig_hat[:, 0, 0]) / n_pix
        return eq / jnp.sqrt(jnp.sum(w_comp[:, 0, 0] * mean * mean) * n_pix)

    def cond(s):
        eps, res, it = s
        return (res > tol) & (it < max_iter)

    def body(s):
        eps, res, it = s
        sig_hat = rfft2(elastic_stress(eps, lam, mu))
        eps = eps - irfft2(project_hat(sig_hat, dirs, zero_mask, lam0, mu0), shape)
        res = residual(rfft2(elastic_stress(eps, lam, mu)))
        return eps, res, it + 1

    res0 = residual(rfft2(elastic_stress(eps0, lam, mu)))
    eps, res, it = jax.lax.while_loop(cond, body, (eps0, res0, 0))
    return eps, it, res


_JITTED: dict[Callable, Callable] = {}


def jitted(fn: Callable) -> Callable:
    """``jax.jit(fn)``, made once per function and kept (XLA compiles once per shape and dtype).

    Parameters
    ----------
    fn : callable
        A solver kernel, e.g. :func:`psplab.strength.plasticity.plastic_step`.

    Returns
    -------
    callable
        The jitted function.
    """
    if fn not in _JITTED:
        jax, _ = jax_modules()
        _JITTED[fn] = jax.jit(fn)
    return _JITTED[fn]


def stiffness_from_fields(
    lam: np.ndarray,
    mu: np.ndarray,
    *,
    method: str,
    discretization: str,
    tol: float,
    max_iter: int,
    return_info: bool,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Effective 3×3 Voigt plane-strain stiffness from Lamé fields (three unit load cases).

    Parameters
    ----------
    lam, mu : numpy.ndarray
        Lamé fields ``(H, W)``; the stiffness comes out in their units.
    method : str
        ``"cg"`` or ``"basic"``.
    discretization : str
        ``"rotated"`` or ``"fourier"``.
    tol : float
        Relative equilibrium tolerance of each solve.
    max_iter : int
        Iteration cap per load case.
    return_info : bool
        Also return ``{"iterations", "residuals", "method"}``.

    Returns
    -------
    numpy.ndarray or tuple
        The symmetric stiffness, and the solver information when ``return_info``.
    """
    jax, jnp = jax_modules()
    dirs = gradient_directions(lam.shape, discretization)
    iters, residuals = [], []
    stiff = np.zeros((3, 3))
    with jax.enable_x64(True):
        solver = jitted({"cg": _solve_elastic_cg, "basic": _solve_elastic_basic}[method])
        lam_j = jnp.asarray(lam, dtype=jnp.float64)
        mu_j = jnp.asarray(mu, dtype=jnp.float64)
        dirs_j = tuple(jnp.asarray(d, dtype=jnp.float64) for d in dirs)
        for col, unit in enumerate(VOIGT_UNIT_STRAINS):
            eps, it, res = solver(
                lam_j,
                mu_j,
                jnp.asarray(unit, dtype=jnp.float64),
                dirs_j,
                jnp.float64(tol),
                jnp.int32(max_iter),
            )
            sig = np.asarray(jnp.mean(elastic_stress(eps, lam_j, mu_j), axis=(1, 2)))
            stiff[:, col] = [sig[0], sig[1], sig[3]]
            iters.append(int(it))
            residuals.append(float(res))
    stiff = 0.5 * (stiff + stiff.T)  # symmetric up to the solver tolerance
    if return_info:
        return stiff, {"iterations": iters, "residuals": residuals, "method": method}
    return stiff
