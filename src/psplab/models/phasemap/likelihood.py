"""The phase-map model's likelihood: region probabilities, structure and property terms.

Structure measurements see the phase map ``p(x)`` through a categorical likelihood with a
label-noise rate per source. Property measurements are ``y_t(x) = sum_k p_k(x) g_kt(x) + e``
with one Gaussian process ``g_k`` per region; given the region probabilities the property data
are exactly Gaussian, so the functions ``g_k`` and their constant levels are integrated out and
only the hyperparameters are sampled. Everything here is a pure JAX function of a parameter
dict ``p`` (constrained values), a data dict (padded arrays) and the static :class:`ModelSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

from psplab.models.phasemap.gp import (
    gaussian_log_density,
    kernel_matrix,
    kernels_from_squared_differences,
    squared_differences,
    whitened_projection,
)

__all__ = [
    "MEAN_PRIOR_SD",
    "NOISE_FLOOR",
    "PHASE_MODELS",
    "ModelSpec",
    "bucket_size",
    "grid_log_likelihood",
    "log_likelihood",
    "noise_sd",
    "noise_variance",
    "phase_probs",
    "predict_draw",
    "property_cov",
    "sites",
    "softmax_ref",
]

PHASE_MODELS = ("gp", "changepoint")

# Parameter and data dicts: site name -> array (constrained values); data name -> padded array.
Params = dict[str, jax.Array]
Data = dict[str, jax.Array]


@dataclass(frozen=True)
class ModelSpec:
    """Static (hashable) shape information of one fitted problem.

    Compiled programs are cached per spec (plus the sampler settings), and the data enter them
    as arguments padded to a few bucket sizes, so re-fits and fits of similar problems reuse
    them instead of compiling again.

    Attributes
    ----------
    phase : str
        ``"gp"`` (softmax of latent GPs) or ``"changepoint"`` (1-D ordered boundaries).
    kernel : str
        ``"rbf"`` or ``"matern52"``.
    n_regions, n_props, n_struct_sources, n_prop_sources : int
        Regions ``K``, properties ``T`` and the numbers of sources.
    icm : bool
        Properties correlated within a region through an LKJ-distributed matrix.
    dim : int
        Input dimensions modelled (independent columns).
    n_inducing : int
        Inducing points of the phase GPs.
    boundary_width : float
        Width of the sigmoid change points (fraction of the input range).
    n_grid : int
        > 0: the single change point is summed out on this many grid cells.
    fixed_sites : tuple of str
        Sites held at their MAP values during NUTS (empirical Bayes).
    trend : bool
        A property GP shared by all regions under the region-wise ones.
    region_noise : bool
        A noise level per (property source, region).
    """

    phase: str
    kernel: str
    n_regions: int
    n_props: int
    n_struct_sources: int
    n_prop_sources: int
    icm: bool
    dim: int
    n_inducing: int
    boundary_width: float = 0.001
    n_grid: int = 0  # > 0: the change point is marginalized on this many grid cells
    # Sites held at their MAP values during NUTS (empirical Bayes). With the phase-GP kernel
    # ("ls_phase", "amp_phase") fixed, the whitened projections are computed once per fit
    # instead of at every leapfrog step.
    fixed_sites: tuple[str, ...] = ()
    trend: bool = False  # a property GP shared by all regions under the region-wise ones
    region_noise: bool = False  # a noise level per (property source, region)

    @property
    def phase_kernel_fixed(self) -> bool:
        """Whether the phase GPs' kernel is held at its MAP value (projections precomputed)."""
        return "ls_phase" in self.fixed_sites


def bucket_size(n: int) -> int:
    """Padded size for ``n`` rows: 0; 8; a multiple of 16 up to 128; then a multiple of 32.

    Few distinct shapes (so few compiled programs) without much padding: the property
    likelihood's Cholesky factorization, run at every leapfrog step, grows with the cube of
    this size.

    Parameters
    ----------
    n : int
        Rows of data.

    Returns
    -------
    size : int
        Rows after padding (``>= n``).
    """
    n = int(n)
    if n == 0:
        return 0
    if n <= 8:
        return 8
    if n <= 128:
        return -(-n // 16) * 16
    return -(-n // 32) * 32


def _cp_probs(X: jax.Array, bounds: jax.Array, width: float) -> jax.Array:
    """Ordered sigmoid change points ``bounds`` (K - 1,) -> region probabilities ``(n, K)``."""
    c = jax.nn.sigmoid((X[:, :1] - bounds[None, :]) / width)
    n = X.shape[0]
    ge = jnp.concatenate([jnp.ones((n, 1)), c, jnp.zeros((n, 1))], axis=1)
    probs = jnp.clip(ge[:, :-1] - ge[:, 1:], 1e-12, 1.0)
    return probs / jnp.sum(probs, axis=1, keepdims=True)


def phase_probs(
    params: Params, X: jax.Array, Z: jax.Array, spec: ModelSpec, step: bool = False
) -> jax.Array:
    """Region probabilities at normalized points ``X``.

    Parameters
    ----------
    params : dict
        Constrained parameters (``v_phase``, ``bias_phase``, ``ls_phase``, ``amp_phase``; or
        ``boundary``/``gaps`` for the change-point model).
    X : jax.Array
        Normalized points ``(n, d)``.
    Z : jax.Array
        Inducing points ``(m, d)`` (GP phase model).
    spec : ModelSpec
        The problem's static description.
    step : bool
        Change-point model: exact 0/1 regions, as in the grid-marginalized likelihood, instead
        of the narrow sigmoid used for smooth maps.

    Returns
    -------
    probs : jax.Array
        ``(n, K)``, rows summing to 1.
    """
    if spec.phase == "changepoint":
        if "boundary" in params:
            bounds = jnp.reshape(params["boundary"], (spec.n_regions - 1,))
        else:
            bounds = jnp.cumsum(params["gaps"])[: spec.n_regions - 1]
        if step:
            region = jnp.sum(X[:, :1] >= bounds[None, :], axis=1)
            return jax.nn.one_hot(region, spec.n_regions, dtype=X.dtype)
        return _cp_probs(X, bounds, spec.boundary_width)
    A, _ = whitened_projection(X, Z, params["ls_phase"], params["amp_phase"], spec.kernel)
    return softmax_ref(A, params)


def softmax_ref(A: jax.Array, params: Params) -> jax.Array:
    """Region probabilities from ``K - 1`` latent functions ``A v + b``; the last region's is 0.

    Pinning one logit (a reference region) removes the softmax's shift invariance, which would
    otherwise leave a flat direction in the posterior for NUTS to wander along.

    Parameters
    ----------
    A : jax.Array
        Whitened projection ``(n, m)`` (:func:`psplab.models.phasemap.gp.whitened_projection`).
    params : dict
        ``v_phase`` ``(m, K - 1)`` and ``bias_phase`` ``(K - 1,)``.

    Returns
    -------
    probs : jax.Array
        ``(n, K)``.
    """
    F = A @ params["v_phase"] + params["bias_phase"][None, :]
    F = jnp.concatenate([F, jnp.zeros((F.shape[0], 1), F.dtype)], axis=1)
    return jax.nn.softmax(F, axis=1)


# A noise floor (in units of the property's standard deviation): with (nearly) noise-free
# property data the noise posterior would pile up at zero, a funnel in which NUTS's step size
# collapses, and the property covariance would become ill-conditioned.
NOISE_FLOOR = 0.02
# Prior std of each region's constant property level (standardized units); the level is
# integrated out analytically as a constant kernel term.
MEAN_PRIOR_SD = 1.0


def noise_sd(p: Params) -> jax.Array:
    """Effective property noise: the sampled noise with :data:`NOISE_FLOOR` added in quadrature.

    Parameters
    ----------
    p : dict
        Constrained parameters with ``noise``.

    Returns
    -------
    sd : jax.Array
        Per source ``(S,)``, or per source and region ``(S, K)``.
    """
    return jnp.sqrt(p["noise"] ** 2 + NOISE_FLOOR**2)


def _gather(values: jax.Array, idx: jax.Array) -> jax.Array:
    """``values[idx]`` along the first axis as a one-hot product.

    Its gradient is a matrix product; that of an indexed gather is a scatter-add, which on the
    CPU cost more than the rest of the property likelihood's gradient.
    """
    return jax.nn.one_hot(idx, values.shape[0], dtype=values.dtype) @ values


def _property_coupling(p: Params, spec: ModelSpec, t_rows: jax.Array, t_cols: jax.Array):
    """Cross-property factor ``B[t_i, t_j]`` of the covariance: ICM correlation or identity."""
    if spec.icm:
        L = p["corr_chol"]
        return _gather(_gather(L @ L.T, t_rows).T, t_cols).T
    return (t_rows[:, None] == t_cols[None, :]).astype(jnp.result_type(float))


def _region_kernels(p: Params, X1: jax.Array, X2: jax.Array, spec: ModelSpec) -> jax.Array:
    """Unit-amplitude kernel of each region's property GP ``(K, n1, n2)``."""
    kern = jax.vmap(kernel_matrix, in_axes=(None, None, 0, None, None))
    return kern(X1, X2, p["ls_prop"], jnp.asarray(1.0), spec.kernel)


def property_cov(p: Params, data: Data, spec: ModelSpec, P: jax.Array) -> jax.Array:
    """Marginal covariance of the property data given region probabilities ``P (n_p, K)``.

    ``y = sum_k P_k g_k + e`` with independent ``g_k ~ GP(m_k, a_k^2 k_k)`` and
    ``m_k ~ N(0, MEAN_PRIOR_SD^2)`` is exactly Gaussian with covariance
    ``sum_k (P_k P_k^T) o (a_k a_k^T o B o K_k + MEAN_PRIOR_SD^2 D) + diag(noise^2)``
    (``o``: elementwise; ``B``: cross-property coupling, ``D``: same-property indicator).
    With a shared trend ``y = g_0 + sum_k P_k g_k + e``, ``g_0 ~ GP(0, a_0^2 k_0)`` adds
    ``a_0 a_0^T o B o K_0``.
    Padded rows have ``P = 0`` and unit variance, so they add only a constant.

    Parameters
    ----------
    p : dict
        Constrained parameters.
    data : dict
        Padded data: ``Xp``, ``yp``, ``wp`` (1 on real rows), ``p_prop``, ``p_src``; ``D2p``
        (squared differences) when precomputed.
    spec : ModelSpec
        The problem's static description.
    P : jax.Array
        Region probabilities of the property points ``(n_p, K)``, zero on padded rows.

    Returns
    -------
    C : jax.Array
        ``(n_p, n_p)``.
    """
    t = data["p_prop"]
    wp = data["wp"]
    # (K, n, n); the fit program precomputes the squared differences once per fit.
    sqdiff = data["D2p"] if "D2p" in data else squared_differences(data["Xp"], data["Xp"])
    Kk = kernels_from_squared_differences(sqdiff, p["ls_prop"], spec.kernel)
    A = P * _gather(p["amp_prop"].T, t)  # (n, K): P_ik a_{k, t_i}
    B = _property_coupling(p, spec, t, t)
    D = (t[:, None] == t[None, :]).astype(P.dtype)
    C = jnp.einsum("ik,jk,kij->ij", A, A, Kk) * B + MEAN_PRIOR_SD**2 * (P @ P.T) * D
    if spec.trend:
        a0 = _gather(p["amp_trend"], t) * wp
        K0 = kernels_from_squared_differences(sqdiff, p["ls_trend"], spec.kernel)[0]
        C = C + (a0[:, None] * a0[None, :]) * B * K0
    return C + jnp.diag(noise_variance(p, data, spec, P, wp))


def noise_variance(
    p: Params, data: Data, spec: ModelSpec, P: jax.Array, wp: jax.Array
) -> jax.Array:
    """Noise variance of each property point; 1 on padded rows (``wp = 0``).

    With a noise level per region, a point's noise is the mixture ``sum_k P_k sigma_k^2`` of
    the regions it may belong to (``P`` is zero on padded rows).

    Parameters
    ----------
    p : dict
        Constrained parameters.
    data : dict
        Padded data (``p_src``: source of each property point).
    spec : ModelSpec
        The problem's static description.
    P : jax.Array
        Region probabilities ``(n_p, K)``.
    wp : jax.Array
        1 on real rows, 0 on padded ones ``(n_p,)``.

    Returns
    -------
    variance : jax.Array
        ``(n_p,)``.
    """
    nv = _gather(noise_sd(p) ** 2, data["p_src"])  # (n,) or (n, K)
    if spec.region_noise:
        return jnp.sum(P * nv, axis=1) + (1.0 - wp)
    return wp * nv + (1.0 - wp)


def _property_log_likelihood(p: Params, data: Data, spec: ModelSpec, P: jax.Array) -> jax.Array:
    """``log N(y | 0, C(P))`` with the property functions integrated out (see ``property_cov``)."""
    P = P * data["wp"][:, None]
    C = property_cov(p, data, spec, P)
    n_real = jnp.sum(data["wp"])
    # Padded rows (unit variance, zero residual) add nothing to the quadratic or log-det term.
    return gaussian_log_density(C, data["yp"] * data["wp"]) - 0.5 * n_real * jnp.log(2.0 * jnp.pi)


def _structure_log_likelihood(
    p: Params, data: Data, spec: ModelSpec, probs_s: jax.Array
) -> jax.Array:
    """Categorical (soft-label) likelihood with a per-source label-noise rate."""
    e = _gather(p["label_noise"], data["s_src"])[:, None]
    p_obs = (1.0 - e) * probs_s + e / spec.n_regions
    # Soft labels q enter as sum_k q_k log p_k (one-hot q gives the categorical likelihood);
    # padded rows have q = 0.
    return jnp.sum(data["Qs"] * jnp.log(p_obs))


def _prefix_property_ll(p: Params, data: Data, spec: ModelSpec, k: int, order: str) -> jax.Array:
    """Log marginal likelihood of the first ``j`` property points (in ``order``) in region ``k``.

    Returns ``(n + 1,)`` values for ``j = 0..n``. The Cholesky factor of a leading block is the
    leading block of the full factor, and forward substitution is sequential, so one
    factorization gives every prefix: a step boundary puts a prefix of the points sorted by
    ``x`` in region 0 and a prefix of the points sorted by ``-x`` in region 1.
    Padded rows come last in both orders and are never part of a used prefix.
    """
    idx = data[order]
    t = data["p_prop"][idx]
    w = data["wp"][idx]
    X = data["Xp"][idx]
    Kk = _region_kernels({"ls_prop": p["ls_prop"][k : k + 1]}, X, X, spec)[0]
    a = _gather(p["amp_prop"][k], t) * w
    B = _property_coupling(p, spec, t, t)
    D = (t[:, None] == t[None, :]).astype(X.dtype)
    C = (a[:, None] * a[None, :]) * B * Kk + MEAN_PRIOR_SD**2 * (w[:, None] * w[None, :]) * D
    nv = _gather(noise_sd(p) ** 2, data["p_src"][idx])
    C = C + jnp.diag(w * (nv[:, k] if spec.region_noise else nv) + (1.0 - w))
    L = jnp.linalg.cholesky(C)
    z = solve_triangular(L, data["yp"][idx] * w, lower=True)
    terms = -0.5 * z * z - jnp.log(jnp.diag(L)) - 0.5 * jnp.log(2.0 * jnp.pi)
    return jnp.concatenate([jnp.zeros(1), jnp.cumsum(terms)])


def grid_log_likelihood(p: Params, data: Data, spec: ModelSpec) -> jax.Array:
    """Log-likelihood ``(n_grid,)`` with the (single) change point at each grid-cell centre.

    Structure: with a step boundary a point is in region 1 exactly when it lies right of the
    boundary, so ``ll(b) = sum_i ll_i(0) + sum_i [x_i >= b] (ll_i(1) - ll_i(0))``, one product
    with the fixed indicator matrix ``Ms``. Properties: the regions are independent given the
    boundary, region 0 holds the ``cell_part`` leftmost property points and region 1 the
    ``cell_part_rev`` rightmost ones; every prefix likelihood comes from one Cholesky
    factorization per region.

    Parameters
    ----------
    p : dict
        Constrained parameters.
    data : dict
        Padded data with the grid indicators ``Ms``, ``ord_asc``, ``ord_desc``, ``cell_part``,
        ``cell_part_rev``.
    spec : ModelSpec
        The problem's static description (``n_grid > 0``, two regions).

    Returns
    -------
    ll : jax.Array
        ``(n_grid,)``.
    """
    K = spec.n_regions
    ll = jnp.zeros(spec.n_grid)
    if spec.n_struct_sources:
        e = _gather(p["label_noise"], data["s_src"])[:, None, None]
        # log p(observed class k' | region k), (n, K, K'), mixed with the soft labels.
        logp_obs = jnp.log((1.0 - e) * jnp.eye(K)[None] + e / K)
        li = jnp.einsum("nkj,nj->nk", logp_obs, data["Qs"])
        ll = ll + jnp.sum(li[:, 0]) + data["Ms"] @ (li[:, 1] - li[:, 0])
    if spec.n_prop_sources:
        ll = ll + _prefix_property_ll(p, data, spec, 0, "ord_asc")[data["cell_part"]]
        ll = ll + _prefix_property_ll(p, data, spec, 1, "ord_desc")[data["cell_part_rev"]]
    return ll


Site = tuple[str, tuple[int, ...], tuple[float, float]]


def sites(spec: ModelSpec) -> dict[str, Site]:
    """Latent sites and their priors.

    Kinds: ``lognormal`` (``exp`` of an unconstrained normal), ``normal``, ``beta`` (label noise,
    Beta(a, b) through a sigmoid), ``simplex`` (Dirichlet(1) change-point gaps, stick-breaking),
    ``lkj`` (LKJ(eta) Cholesky factor of the ICM correlation). The property functions and their
    constant levels are not sites: they are integrated out analytically.

    Parameters
    ----------
    spec : ModelSpec
        The problem's static description; its ``fixed_sites`` are left out.

    Returns
    -------
    sites : dict
        ``name -> (prior kind, constrained shape, prior parameters)``.
    """
    K, T, d, M = spec.n_regions, spec.n_props, spec.dim, spec.n_inducing
    out: dict[str, tuple[str, tuple[int, ...], tuple[float, float]]] = {}
    if spec.phase == "changepoint":
        if not spec.n_grid:
            # Dirichlet(1) gaps = uniform prior on ordered change points in the data range.
            out["gaps"] = ("simplex", (K,), (1.0, 0.0))
    else:
        out["ls_phase"] = ("lognormal", (d,), (float(np.log(0.25)), 0.5))
        out["amp_phase"] = ("lognormal", (), (float(np.log(3.0)), 0.5))
        out["bias_phase"] = ("normal", (K - 1,), (0.0, 1.0))
        out["v_phase"] = ("normal", (M, K - 1), (0.0, 1.0))
    if spec.n_struct_sources:
        out["label_noise"] = ("beta", (spec.n_struct_sources,), (1.0, 50.0))
    if spec.n_prop_sources:
        out["ls_prop"] = ("lognormal", (K, d), (float(np.log(0.3)), 0.5))
        out["amp_prop"] = ("lognormal", (K, T), (0.0, 0.5))
        if spec.trend:
            out["ls_trend"] = ("lognormal", (1, d), (float(np.log(0.3)), 0.5))
            out["amp_trend"] = ("lognormal", (T,), (0.0, 0.5))
        if spec.icm:
            out["corr_chol"] = ("lkj", (T, T), (2.0, 0.0))
        noise_shape = (spec.n_prop_sources, K) if spec.region_noise else (spec.n_prop_sources,)
        out["noise"] = ("lognormal", noise_shape, (float(np.log(0.05)), 0.7))
    return {name: site for name, site in out.items() if name not in spec.fixed_sites}


def log_likelihood(p: Params, data: Data, spec: ModelSpec) -> jax.Array:
    """Log-likelihood of all structure and property data given the constrained parameters.

    Parameters
    ----------
    p : dict
        Constrained parameters (fixed sites included).
    data : dict
        Padded data; ``As``/``Ap`` (whitened projections) when the phase kernel is fixed.
    spec : ModelSpec
        The problem's static description.

    Returns
    -------
    ll : jax.Array
        Scalar.
    """
    if spec.phase == "changepoint" and spec.n_grid:
        # The change point is summed out exactly over a fine grid with a uniform prior over the
        # observed range: NUTS never has to cross the flat-with-cliffs likelihood between
        # measured points, and the location's posterior given the other parameters is exact.
        return logsumexp(grid_log_likelihood(p, data, spec)) - jnp.log(spec.n_grid)
    ll = jnp.zeros(())

    def probs(which: str):
        if spec.phase_kernel_fixed:
            return softmax_ref(data["A" + which], p)  # projection precomputed at the MAP
        return phase_probs(p, data["X" + which], data["Z"], spec)

    if spec.n_struct_sources:
        ll = ll + _structure_log_likelihood(p, data, spec, probs("s"))
    if spec.n_prop_sources:
        ll = ll + _property_log_likelihood(p, data, spec, probs("p"))
    return ll


def predict_draw(
    p: Params, data: Data, Xq: jax.Array, spec: ModelSpec
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One posterior draw's region probabilities and property mean / variance at ``Xq``.

    The property at ``x`` is ``f(x) = sum_k p_k(x) g_k(x)``; given the draw's segmentation and
    hyperparameters, ``f`` and the data are jointly Gaussian, so its conditional mean and
    variance (noise excluded) follow from the same covariance as the likelihood.

    Parameters
    ----------
    p : dict
        One draw's constrained parameters.
    data : dict
        Padded training data (``Z``, ``Xp``, ``yp``, ``wp``, ``p_prop``, ``p_src``).
    Xq : jax.Array
        Normalized query points ``(n_q, d)``.
    spec : ModelSpec
        The problem's static description.

    Returns
    -------
    probs : jax.Array
        Region probabilities ``(n_q, K)``.
    mean : jax.Array
        Conditional property mean ``(n_q, T)`` (standardized units).
    variance : jax.Array
        Conditional property variance ``(n_q, T)``, noise excluded.
    """
    step = spec.phase == "changepoint" and spec.n_grid > 0
    Pq = phase_probs(p, Xq, data["Z"], spec)
    T = spec.n_props
    if not spec.n_prop_sources:
        zeros = jnp.zeros((Xq.shape[0], T))
        return Pq, zeros, zeros
    t = data["p_prop"]
    Pp = phase_probs(p, data["Xp"], data["Z"], spec, step=step) * data["wp"][:, None]
    C = property_cov(p, data, spec, Pp)
    L = jnp.linalg.cholesky(C)
    r = data["yp"] * data["wp"]
    amp = p["amp_prop"]  # (K, T)
    Kq = _region_kernels(p, Xq, data["Xp"], spec)  # (K, nq, np)
    Ap = Pp * amp[:, t].T  # (np, K)
    tq = jnp.arange(T)
    B = _property_coupling(p, spec, tq, t)  # (T, np)
    D = (tq[:, None] == t[None, :]).astype(Pq.dtype)
    cross = jnp.einsum("qk,kt,ik,kqi->tqi", Pq, amp, Ap, Kq) * B[:, None, :]
    cross = cross + MEAN_PRIOR_SD**2 * (Pq @ Pp.T)[None] * D[:, None, :]  # (T, nq, np)
    prior = Pq**2 @ (amp**2 + MEAN_PRIOR_SD**2)  # (nq, T)
    if spec.trend:
        a0 = p["amp_trend"]  # (T,)
        K0 = kernel_matrix(Xq, data["Xp"], p["ls_trend"][0], 1.0, spec.kernel)  # (nq, np)
        a0p = _gather(a0, t) * data["wp"]
        cross = cross + a0[:, None, None] * a0p[None, None, :] * B[:, None, :] * K0[None]
        prior = prior + (a0**2)[None, :]
    alpha = solve_triangular(L.T, solve_triangular(L, r, lower=True), lower=False)
    mean = jnp.einsum("tqi,i->qt", cross, alpha)
    V = solve_triangular(L, cross.reshape(-1, cross.shape[-1]).T, lower=True)  # (np, T*nq)
    explained = jnp.sum(V * V, axis=0).reshape(T, -1).T  # (nq, T)
    return Pq, mean, jnp.clip(prior - explained, 0.0, None)
