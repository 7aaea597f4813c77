"""SAGE: one Bayesian model of the phase map and the piecewise property functions.

After Kusne et al., "Scientific AI with Gaussian processes and Embedded physics" (SAGE,
arXiv:2311.06228): structure measurements (phase labels, soft labels or clustered XRD patterns)
and property measurements (e.g. magnetization) taken at *different* points of a synthesis space
are explained jointly by

* a phase map ``p(x) = softmax(f_1(x), ..., f_K(x))`` with one latent GP per region (or, in 1-D,
  step change points with a posterior on their location; with two regions the location is
  marginalized exactly on a fine grid), observed through a
  categorical likelihood with a per-source label-noise rate;
* property functions ``y_t(x) = sum_k p_k(x) g_kt(x)`` with a stationary ARD kernel per region
  (RBF or Matern 5/2), shared by several properties (optionally with an intrinsic
  coregionalization (ICM) correlation between properties) and a noise level per source.

Inference: MAP (Adam on the unconstrained space), then NUTS started from the MAP point with
vectorized chains in float64, all in one jitted program that is cached per static configuration
(data are arguments, padded to bucket sizes), so repeated fits do not compile again. The
per-region property functions are integrated out analytically (given the segmentation the
property data are exactly Gaussian), so NUTS samples only the segmentation and the
hyperparameters; phase latent GPs are whitened on inducing points.

Example
-------
>>> lib = synthetic_library(n_points=40, seed=0)                        # doctest: +SKIP
>>> model = PhaseMapModel(n_regions=3, num_warmup=200, num_samples=200)  # doctest: +SKIP
>>> model.fit([lib.structure_source()], [lib.property_source()])         # doctest: +SKIP
>>> pred = model.predict(lib.grid(21))                                  # doctest: +SKIP
>>> pred.probs.shape, pred.entropy.shape, pred.mean.shape               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psplab._blas import one_blas_thread
from psplab.models.sage_gp import (
    KERNELS,
    choose_inducing,
    gaussian_log_density,
    kernel_matrix,
    kernels_from_squared_differences,
    squared_differences,
    whitened_projection,
    x64,
)

PHASE_MODELS = ("gp", "changepoint")


class SamplingWarning(UserWarning):
    """NUTS diagnostics are bad (R-hat, effective sample size or divergences)."""


# --------------------------------------------------------------------------------------------
# Data sources
# --------------------------------------------------------------------------------------------
@dataclass
class StructureSource:
    """Structure measurements at points ``X``: hard ``labels``, soft ``probs`` or raw ``patterns``.

    Raw patterns (e.g. XRD intensities, one row per point) are clustered into soft labels with
    :func:`psplab.models.xrd.cluster_patterns` when the model is fitted.
    """

    X: np.ndarray
    labels: np.ndarray | None = None
    probs: np.ndarray | None = None
    patterns: np.ndarray | None = None
    name: str = "structure"
    cluster: str = "nmf"


@dataclass
class PropertySource:
    """Property values ``y`` measured at points ``X``; sources with the same ``prop`` share it."""

    X: np.ndarray
    y: np.ndarray
    prop: str = "property"
    name: str = ""


def _as_points(X: Any, what: str) -> np.ndarray:
    arr = np.asarray(X, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{what}: points must be a non-empty (n, d) array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: points contain NaN or inf")
    return arr


# Relative singular value below which a direction of the [0, 1]-scaled inputs counts as a
# linear constraint (compositions read with 4 decimals that sum to 1: ~2e-4).
CONSTRAINT_TOL = 1e-3


def independent_columns(X: np.ndarray, tol: float = CONSTRAINT_TOL) -> np.ndarray:
    """Indices of the input columns to model, dropping those implied by a linear constraint.

    Compositions that sum to 100 % lie on a hyperplane: one coordinate is a function of the
    others. An ARD kernel over all of them has a lengthscale along a direction with no data
    (its posterior is the prior) that still shortens distances on the simplex; a GP on the
    independent coordinates does not (Fe-Ga-Pd: sklearn's ARD GP pushes the redundant
    lengthscale to its upper bound). Each null direction of the [0, 1]-scaled, centred inputs
    drops the column with the largest weight in it; the others keep their per-column
    lengthscales.
    """
    X = np.asarray(X, dtype=float)
    if X.shape[1] < 2 or X.shape[0] <= X.shape[1]:
        return np.arange(X.shape[1])
    # A constant column (an element held fixed) is left to the scaling and kept; the
    # constraint search runs on the others, where e.g. Fe + Ga + Pd = 95 % still holds.
    constant = [j for j in range(X.shape[1]) if np.ptp(X[:, j]) == 0]
    keep = [j for j in range(X.shape[1]) if j not in constant]
    while len(keep) > 1:
        sub = X[:, keep]
        scaled = (sub - sub.mean(axis=0)) / np.ptp(sub, axis=0)
        _, sv, vt = np.linalg.svd(scaled, full_matrices=False)
        if sv[-1] >= tol * sv[0]:
            break
        keep.pop(int(np.argmax(np.abs(vt[-1]))))
    return np.asarray(sorted(keep + constant))


def _coerce_structure(sources: Any) -> list[StructureSource]:
    if sources is None:
        return []
    if isinstance(sources, StructureSource | tuple | dict):
        sources = [sources]
    out = []
    for i, s in enumerate(sources):
        if isinstance(s, tuple):
            s = StructureSource(X=s[0], labels=s[1], name=f"structure{i}")
        elif isinstance(s, dict):
            s = StructureSource(**s)
        if not isinstance(s, StructureSource):
            raise TypeError(f"structure source {i}: expected StructureSource, (X, labels) or dict")
        X = _as_points(s.X, f"structure source {s.name!r}")
        given = [v is not None for v in (s.labels, s.probs, s.patterns)]
        if sum(given) != 1:
            raise ValueError(
                f"structure source {s.name!r}: give exactly one of labels, probs, patterns"
            )
        for attr in ("labels", "probs", "patterns"):
            val = getattr(s, attr)
            if val is not None and len(val) != len(X):
                raise ValueError(
                    f"structure source {s.name!r}: {len(X)} points but {len(val)} {attr}"
                )
        out.append(
            StructureSource(
                X=X,
                labels=None if s.labels is None else np.asarray(s.labels).reshape(-1),
                probs=None if s.probs is None else np.asarray(s.probs, dtype=float),
                patterns=None if s.patterns is None else np.asarray(s.patterns, dtype=float),
                name=s.name or f"structure{i}",
                cluster=s.cluster,
            )
        )
    return out


def _coerce_property(sources: Any) -> list[PropertySource]:
    if sources is None:
        return []
    if isinstance(sources, PropertySource | tuple | dict):
        sources = [sources]
    out = []
    for i, s in enumerate(sources):
        if isinstance(s, tuple):
            s = PropertySource(X=s[0], y=s[1], name=f"property{i}")
        elif isinstance(s, dict):
            s = PropertySource(**s)
        if not isinstance(s, PropertySource):
            raise TypeError(f"property source {i}: expected PropertySource, (X, y) or dict")
        X = _as_points(s.X, f"property source {s.name or i!r}")
        y = np.asarray(s.y, dtype=float).reshape(-1)
        if len(y) != len(X):
            raise ValueError(
                f"property source {s.name or i!r}: {len(X)} points but {len(y)} values"
            )
        if not np.all(np.isfinite(y)):
            raise ValueError(f"property source {s.name or i!r}: values contain NaN or inf")
        out.append(PropertySource(X=X, y=y, prop=s.prop, name=s.name or f"property{i}"))
    return out


# --------------------------------------------------------------------------------------------
# The probabilistic model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    """Static (hashable) shape information of one fitted problem.

    Compiled programs are cached per spec (plus the sampler settings), and the data enter them
    as arguments padded to a few bucket sizes, so re-fits and fits of similar problems reuse
    them instead of compiling again.
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
        return "ls_phase" in self.fixed_sites


def _bucket(n: int) -> int:
    """Padded size for ``n`` rows: 0; 8; a multiple of 16 up to 128; then a multiple of 32.

    Few distinct shapes (so few compiled programs) without much padding: the property
    likelihood's Cholesky factorization, run at every leapfrog step, grows with the cube of
    this size (44 property points padded to 64 instead of 48 cost 2.4x the flops).
    """
    n = int(n)
    if n == 0:
        return 0
    if n <= 8:
        return 8
    if n <= 128:
        return -(-n // 16) * 16
    return -(-n // 32) * 32


def _cp_probs(X, bounds, width: float, n_regions: int):
    """Ordered sigmoid change points ``bounds`` (K - 1,) -> region probabilities ``(n, K)``."""
    import jax
    import jax.numpy as jnp

    c = jax.nn.sigmoid((X[:, :1] - bounds[None, :]) / width)
    n = X.shape[0]
    ge = jnp.concatenate([jnp.ones((n, 1)), c, jnp.zeros((n, 1))], axis=1)
    probs = jnp.clip(ge[:, :-1] - ge[:, 1:], 1e-12, 1.0)
    return probs / jnp.sum(probs, axis=1, keepdims=True)


def _phase_probs(params: dict, X, Z, spec: _Spec, step: bool = False):
    """Region probabilities ``(n, K)`` at normalized points ``X``.

    ``step=True`` (change-point model with a sampled boundary): exact 0/1 regions, as in the
    grid-marginalized likelihood, instead of the narrow sigmoid used for smooth maps.
    """
    import jax
    import jax.numpy as jnp

    if spec.phase == "changepoint":
        if "boundary" in params:
            bounds = jnp.reshape(params["boundary"], (spec.n_regions - 1,))
        else:
            bounds = jnp.cumsum(params["gaps"])[: spec.n_regions - 1]
        if step:
            region = jnp.sum(X[:, :1] >= bounds[None, :], axis=1)
            return jax.nn.one_hot(region, spec.n_regions, dtype=X.dtype)
        return _cp_probs(X, bounds, spec.boundary_width, spec.n_regions)
    A, _ = whitened_projection(X, Z, params["ls_phase"], params["amp_phase"], spec.kernel)
    return _softmax_ref(A, params)


def _softmax_ref(A, params: dict):
    """Region probabilities from ``K - 1`` latent functions ``A v + b``; the last region's is 0.

    Pinning one logit (a reference region) removes the softmax's shift invariance, which would
    otherwise leave a flat direction in the posterior for NUTS to wander along.
    """
    import jax
    import jax.numpy as jnp

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


def _noise(p: dict):
    """Effective property noise per source ``(S,)``, or per source and region ``(S, K)``.

    The sampled noise with a floor added in quadrature.
    """
    import jax.numpy as jnp

    return jnp.sqrt(p["noise"] ** 2 + NOISE_FLOOR**2)


def _gather(values, idx):
    """``values[idx]`` along the first axis as a one-hot product.

    Its gradient is a matrix product; that of an indexed gather is a scatter-add, which on the
    CPU cost more than the rest of the property likelihood's gradient.
    """
    import jax

    return jax.nn.one_hot(idx, values.shape[0], dtype=values.dtype) @ values


def _property_coupling(p: dict, spec: _Spec, t_rows, t_cols):
    """Cross-property factor ``B[t_i, t_j]`` of the covariance: ICM correlation or identity."""
    import jax.numpy as jnp

    if spec.icm:
        L = p["corr_chol"]
        return _gather(_gather(L @ L.T, t_rows).T, t_cols).T
    return (t_rows[:, None] == t_cols[None, :]).astype(jnp.result_type(float))


def _region_kernels(p: dict, X1, X2, spec: _Spec):
    """Unit-amplitude kernel of each region's property GP ``(K, n1, n2)``."""
    import jax
    import jax.numpy as jnp

    kern = jax.vmap(kernel_matrix, in_axes=(None, None, 0, None, None))
    return kern(X1, X2, p["ls_prop"], jnp.asarray(1.0), spec.kernel)


def _property_cov(p: dict, data: dict, spec: _Spec, P):
    """Marginal covariance of the property data given region probabilities ``P (n_p, K)``.

    ``y = sum_k P_k g_k + e`` with independent ``g_k ~ GP(m_k, a_k^2 k_k)`` and
    ``m_k ~ N(0, MEAN_PRIOR_SD^2)`` is exactly Gaussian with covariance
    ``sum_k (P_k P_k^T) o (a_k a_k^T o B o K_k + MEAN_PRIOR_SD^2 D) + diag(noise^2)``
    (``o``: elementwise; ``B``: cross-property coupling, ``D``: same-property indicator).
    With a shared trend ``y = g_0 + sum_k P_k g_k + e``, ``g_0 ~ GP(0, a_0^2 k_0)`` adds
    ``a_0 a_0^T o B o K_0``.
    Padded rows have ``P = 0`` and unit variance, so they add only a constant.
    """
    import jax.numpy as jnp

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
    return C + jnp.diag(_noise_variance(p, data, spec, P, wp))


def _noise_variance(p: dict, data: dict, spec: _Spec, P, wp):
    """Noise variance of each property point; 1 on padded rows (``wp = 0``).

    With a noise level per region, a point's noise is the mixture ``sum_k P_k sigma_k^2`` of
    the regions it may belong to (``P`` is zero on padded rows).
    """
    import jax.numpy as jnp

    nv = _gather(_noise(p) ** 2, data["p_src"])  # (n,) or (n, K)
    if spec.region_noise:
        return jnp.sum(P * nv, axis=1) + (1.0 - wp)
    return wp * nv + (1.0 - wp)


def _property_log_likelihood(p: dict, data: dict, spec: _Spec, P):
    """``log N(y | 0, C(P))`` with the property functions integrated out (see ``_property_cov``)."""
    import jax.numpy as jnp

    P = P * data["wp"][:, None]
    C = _property_cov(p, data, spec, P)
    n_real = jnp.sum(data["wp"])
    # Padded rows (unit variance, zero residual) add nothing to the quadratic or log-det term.
    return gaussian_log_density(C, data["yp"] * data["wp"]) - 0.5 * n_real * jnp.log(2.0 * jnp.pi)


def _structure_log_likelihood(p: dict, data: dict, spec: _Spec, probs_s):
    """Categorical (soft-label) likelihood with a per-source label-noise rate."""
    import jax.numpy as jnp

    e = _gather(p["label_noise"], data["s_src"])[:, None]
    p_obs = (1.0 - e) * probs_s + e / spec.n_regions
    # Soft labels q enter as sum_k q_k log p_k (one-hot q gives the categorical likelihood);
    # padded rows have q = 0.
    return jnp.sum(data["Qs"] * jnp.log(p_obs))


def _boundary_grid(spec: _Spec):
    import jax.numpy as jnp

    return (jnp.arange(spec.n_grid) + 0.5) / spec.n_grid


def _prefix_property_ll(p: dict, data: dict, spec: _Spec, k: int, order: str):
    """Log marginal likelihood of the first ``j`` property points (in ``order``) in region ``k``.

    Returns ``(n + 1,)`` values for ``j = 0..n``. The Cholesky factor of a leading block is the
    leading block of the full factor, and forward substitution is sequential, so one
    factorization gives every prefix: a step boundary puts a prefix of the points sorted by
    ``x`` in region 0 and a prefix of the points sorted by ``-x`` in region 1.
    Padded rows come last in both orders and are never part of a used prefix.
    """
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular

    idx = data[order]
    t = data["p_prop"][idx]
    w = data["wp"][idx]
    X = data["Xp"][idx]
    Kk = _region_kernels({"ls_prop": p["ls_prop"][k : k + 1]}, X, X, spec)[0]
    a = _gather(p["amp_prop"][k], t) * w
    B = _property_coupling(p, spec, t, t)
    D = (t[:, None] == t[None, :]).astype(X.dtype)
    C = (a[:, None] * a[None, :]) * B * Kk + MEAN_PRIOR_SD**2 * (w[:, None] * w[None, :]) * D
    nv = _gather(_noise(p) ** 2, data["p_src"][idx])
    C = C + jnp.diag(w * (nv[:, k] if spec.region_noise else nv) + (1.0 - w))
    L = jnp.linalg.cholesky(C)
    z = solve_triangular(L, data["yp"][idx] * w, lower=True)
    terms = -0.5 * z * z - jnp.log(jnp.diag(L)) - 0.5 * jnp.log(2.0 * jnp.pi)
    return jnp.concatenate([jnp.zeros(1), jnp.cumsum(terms)])


def _grid_log_likelihood(p: dict, data: dict, spec: _Spec):
    """Log-likelihood ``(n_grid,)`` with the (single) change point at each grid-cell centre.

    Structure: with a step boundary a point is in region 1 exactly when it lies right of the
    boundary, so ``ll(b) = sum_i ll_i(0) + sum_i [x_i >= b] (ll_i(1) - ll_i(0))``, one product
    with the fixed indicator matrix ``Ms``. Properties: the regions are independent given the
    boundary, region 0 holds the ``cell_part`` leftmost property points and region 1 the
    ``cell_part_rev`` rightmost ones; every prefix likelihood comes from one Cholesky
    factorization per region (``_prefix_property_ll``).
    """
    import jax.numpy as jnp

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


def _sites(spec: _Spec) -> dict[str, tuple[str, tuple[int, ...], tuple[float, float]]]:
    """Latent sites: ``name -> (prior kind, constrained shape, prior parameters)``.

    Kinds: ``lognormal`` (``exp`` of an unconstrained normal), ``normal``, ``beta`` (label noise,
    Beta(a, b) through a sigmoid), ``simplex`` (Dirichlet(1) change-point gaps, stick-breaking),
    ``lkj`` (LKJ(eta) Cholesky factor of the ICM correlation). The property functions and their
    constant levels are not sites: they are integrated out analytically.
    """
    K, T, d, M = spec.n_regions, spec.n_props, spec.dim, spec.n_inducing
    sites: dict[str, tuple[str, tuple[int, ...], tuple[float, float]]] = {}
    if spec.phase == "changepoint":
        if not spec.n_grid:
            # Dirichlet(1) gaps = uniform prior on ordered change points in the data range.
            sites["gaps"] = ("simplex", (K,), (1.0, 0.0))
    else:
        sites["ls_phase"] = ("lognormal", (d,), (float(np.log(0.25)), 0.5))
        sites["amp_phase"] = ("lognormal", (), (float(np.log(3.0)), 0.5))
        sites["bias_phase"] = ("normal", (K - 1,), (0.0, 1.0))
        sites["v_phase"] = ("normal", (M, K - 1), (0.0, 1.0))
    if spec.n_struct_sources:
        sites["label_noise"] = ("beta", (spec.n_struct_sources,), (1.0, 50.0))
    if spec.n_prop_sources:
        sites["ls_prop"] = ("lognormal", (K, d), (float(np.log(0.3)), 0.5))
        sites["amp_prop"] = ("lognormal", (K, T), (0.0, 0.5))
        if spec.trend:
            sites["ls_trend"] = ("lognormal", (1, d), (float(np.log(0.3)), 0.5))
            sites["amp_trend"] = ("lognormal", (T,), (0.0, 0.5))
        if spec.icm:
            sites["corr_chol"] = ("lkj", (T, T), (2.0, 0.0))
        noise_shape = (spec.n_prop_sources, K) if spec.region_noise else (spec.n_prop_sources,)
        sites["noise"] = ("lognormal", noise_shape, (float(np.log(0.05)), 0.7))
    return {name: site for name, site in sites.items() if name not in spec.fixed_sites}


def _log_likelihood(p: dict, data: dict, spec: _Spec):
    """Log-likelihood of all structure and property data given the constrained parameters."""
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    if spec.phase == "changepoint" and spec.n_grid:
        # The change point is summed out exactly over a fine grid with a uniform prior over the
        # observed range: NUTS never has to cross the flat-with-cliffs likelihood between
        # measured points, and the location's posterior given the other parameters is exact.
        return logsumexp(_grid_log_likelihood(p, data, spec)) - jnp.log(spec.n_grid)
    ll = jnp.zeros(())

    def probs(which: str):
        if spec.phase_kernel_fixed:
            return _softmax_ref(data["A" + which], p)  # projection precomputed at the MAP
        return _phase_probs(p, data["X" + which], data["Z"], spec)

    if spec.n_struct_sources:
        ll = ll + _structure_log_likelihood(p, data, spec, probs("s"))
    if spec.n_prop_sources:
        ll = ll + _property_log_likelihood(p, data, spec, probs("p"))
    return ll


# Sites that phase_kernel="map" holds at their MAP values.
_PHASE_KERNEL_SITES = ("ls_phase", "amp_phase")

# Start of the label-noise rate (logit): e = 0.018, near the Beta(1, 50) prior's median.
_PRIOR_MEDIANS = {"label_noise": -4.0}


@functools.lru_cache(maxsize=32)
def _potential(spec: _Spec):
    """Potential ``(u, data) -> -log p`` on the unconstrained space, the map back, a start point.

    Written directly in JAX rather than through NumPyro's model tracing: the log-normal scale
    priors are normals in ``u = log(scale)``, so the potential is a few ops, and the compiled
    NUTS program, which holds several copies of its gradient, is smaller.
    """
    import jax
    import jax.numpy as jnp
    import numpyro.distributions as dist
    from numpyro.distributions.transforms import CorrCholeskyTransform, StickBreakingTransform

    sites = _sites(spec)
    half_log_2pi = 0.5 * math.log(2.0 * math.pi)

    def constrain(u: dict) -> dict:
        params = {}
        for name, (kind, _, _) in sites.items():
            if kind == "lognormal":
                params[name] = jnp.exp(u[name])
            elif kind == "normal":
                params[name] = u[name]
            elif kind == "beta":
                params[name] = jax.nn.sigmoid(u[name])
            elif kind == "simplex":
                params[name] = StickBreakingTransform()(u[name])
            else:
                params[name] = CorrCholeskyTransform()(u[name])
        if spec.phase == "changepoint" and not spec.n_grid:
            params["boundary"] = jnp.cumsum(params["gaps"])[: spec.n_regions - 1]
        return params

    def log_prior(u: dict, params: dict):
        lp = jnp.zeros(())
        for name, (kind, _, (a, b)) in sites.items():
            x = u[name]
            if kind in ("lognormal", "normal"):
                # A log-normal scale is a normal in u = log(scale), Jacobian included.
                lp = lp + jnp.sum(-0.5 * ((x - a) / b) ** 2 - math.log(b) - half_log_2pi)
            elif kind == "beta":
                # Beta(a, b) density times the sigmoid's Jacobian e (1 - e).
                log_norm = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
                lp = lp + jnp.sum(a * jax.nn.log_sigmoid(x) + b * jax.nn.log_sigmoid(-x) - log_norm)
            elif kind == "simplex":
                # Dirichlet(1) density on the K-simplex is Gamma(K).
                jac = StickBreakingTransform().log_abs_det_jacobian(x, params[name])
                lp = lp + jac + math.lgamma(x.shape[0] + 1)
            else:
                jac = CorrCholeskyTransform().log_abs_det_jacobian(x, params[name])
                lp = lp + dist.LKJCholesky(spec.n_props, a).log_prob(params[name]) + jac
        return lp

    def potential(u: dict, data: dict):
        # Sites fixed at their MAP values enter as data.
        params = {**data.get("fixed", {}), **constrain(u)}
        return -(log_prior(u, params) + _log_likelihood(params, data, spec))

    # Start at the prior's centre: whitened latents at 0, scales at their prior medians.
    init_u = {}
    for name, (kind, shape, (a, _)) in sites.items():
        if kind == "simplex":
            ushape: tuple[int, ...] = (shape[0] - 1,)
        elif kind == "lkj":
            ushape = (shape[0] * (shape[0] - 1) // 2,)
        else:
            ushape = shape
        start = a if kind in ("lognormal", "normal") else _PRIOR_MEDIANS.get(name, 0.0)
        init_u[name] = np.full(ushape, start)
    return potential, constrain, init_u


def _one_blas_thread(n_rows: int) -> contextlib.AbstractContextManager:
    """One BLAS thread for LAPACK (JAX's CPU Cholesky and triangular solves) at SAGE's sizes.

    A fit factorizes an ``n x n`` covariance thousands of times at ``n`` of 8-288, where
    OpenBLAS's second thread mostly waits (2-D challenge 2b, 128 rows, 2 cores, warm fit:
    37.8 -> 21.7 s wall, 76.7 -> 36.5 s CPU; 1d_2, 32 rows: 2.3-2.5 -> 2.0-2.1 s, half the
    CPU). See :mod:`psplab._blas`.
    """
    import jax

    if jax.default_backend() != "cpu":
        return contextlib.nullcontext()
    return one_blas_thread(n_rows)


def _compiler_options(fit: bool, full_opt: bool = True) -> dict:
    """XLA options for the SAGE programs.

    Compiling, not sampling, is most of a small fit's time on the CPU. The programs are loops
    of many tiny ops, and XLA's newer CPU fusion emitters cost about a third more compile time
    on them than the classic ones (1-D challenge: 5.2 -> 3.2 s), so those are turned off. A fit
    program gets LLVM optimization (level 2 on the CPU) when ``full_opt``
    (:func:`_full_optimization`); the prediction program, run once per batch of query points,
    uses the cheap code generation unless ``PSPLAB_SAGE_FULL_OPT=1``.
    """
    import jax

    options: dict = {"xla_cpu_use_fusion_emitters": False}
    if os.environ.get("PSPLAB_SAGE_FULL_OPT") or (fit and full_opt):
        if jax.default_backend() == "cpu":
            # LLVM's level 2 instead of 3: the same time per gradient, ~1.5 s less compile
            # (2-D challenge 2a, two runs each: cold fit 14.3 / 14.8 s vs 15.6 / 16.8 s,
            # warm 5.6 / 5.6 s vs 5.6 / 6.1 s; 2b warm 35.4 / 32.4 s vs 37.0 / 32.7 s).
            options["xla_backend_optimization_level"] = 2
        return options
    options.update(xla_backend_optimization_level=0, xla_llvm_disable_expensive_passes=True)
    return options


def _full_optimization(spec: _Spec) -> bool:
    """Whether the fit program gets full LLVM optimization (see :func:`_compiler_options`).

    Full optimization costs 2-3 s more compile and halves the time per gradient. A GP phase
    map samples thousands of gradients of an ``n x n`` covariance (2-D challenge 2b: ~9000 at
    128 property rows, 2-3 ms each), so it pays; a 1-D change-point fit takes ~4000 gradients
    of well under a millisecond, so it does not (1d_2: 8.5 s instead of 9.3 s cold, one run
    each on the idle build machine). ``PSPLAB_SAGE_FAST_COMPILE=1`` / ``PSPLAB_SAGE_FULL_OPT=1``
    force either choice.
    """
    if os.environ.get("PSPLAB_SAGE_FULL_OPT"):
        return True
    if os.environ.get("PSPLAB_SAGE_FAST_COMPILE"):
        return False
    return spec.phase != "changepoint"


@functools.lru_cache(maxsize=32)
def _fit_program(
    spec: _Spec,
    num_warmup: int,
    num_samples: int,
    num_chains: int,
    max_tree_depth: int,
    target_accept_prob: float,
    svi_steps: int,
    svi_lr: float,
    vectorized: bool = False,
    full_opt: bool = False,
):
    """One jitted program: MAP (Adam) -> NUTS chains -> constrained draws.

    Built once per static configuration; data, start point and key are arguments, so a re-fit
    (or a fit of another data set padded to the same bucket sizes) reuses the compiled program,
    in memory, and across processes through JAX's persistent compilation cache when the user
    sets one (``jax_compilation_cache_dir``; psplab does not turn it on).
    """
    import jax
    import jax.numpy as jnp
    import optax
    from numpyro.infer.hmc import hmc
    from numpyro.infer.util import ParamInfo

    # The MAP search runs on every site; NUTS on the sites left when the phase-GP kernel
    # hyperparameters are fixed at their MAP values.
    map_potential, map_constrain, _ = _potential(dataclasses.replace(spec, fixed_sites=()))
    potential, constrain, sample_init = _potential(spec)
    init_kernel, sample_kernel = hmc(
        potential_fn_gen=lambda data: lambda u: potential(u, data), algo="NUTS"
    )

    def program(data, init_u, key):
        k_mcmc, k_cp = jax.random.split(key)
        if spec.n_prop_sources and spec.phase != "changepoint":
            data = dict(data, D2p=squared_differences(data["Xp"], data["Xp"]))
        opt = optax.adam(svi_lr)
        value_and_grad = jax.value_and_grad(map_potential)

        def adam(carry, i):
            u, st, _, _, first = carry
            loss, g = value_and_grad(u, data)
            if spec.phase_kernel_fixed:
                # The amplitude stays at its prior median: jointly with the whitened weights v
                # the MAP would inflate it (a large amplitude lets v shrink towards its prior
                # mode; 20 instead of 3 on challenge 2a), leaving NUTS a stiff, saturated
                # softmax to sample.
                g_step = dict(g, amp_phase=jnp.zeros_like(g["amp_phase"]))
            else:
                g_step = g
            updates, st_new = opt.update(g_step, st, u)
            # The last pass only evaluates: the carry then holds the potential and gradient
            # at the returned point, and the first pass's values stay as the fallback's.
            move = i < svi_steps
            u_new = jax.tree_util.tree_map(
                lambda a, b: jnp.where(move, a, b), optax.apply_updates(u, updates), u
            )
            st_new = jax.tree_util.tree_map(lambda a, b: jnp.where(move, a, b), st_new, st)
            first = jax.tree_util.tree_map(lambda a, b: jnp.where(i == 0, a, b), (loss, g), first)
            return (u_new, st_new, loss, g, first), None

        zero_g = jax.tree_util.tree_map(jnp.zeros_like, init_u)
        zero = jnp.zeros((), dtype=jnp.result_type(float))
        carry = (init_u, opt.init(init_u), zero, zero_g, (zero, zero_g))
        (u_map, _, last, g_map, (loss0, g0)), _ = jax.lax.scan(
            adam, carry, jnp.arange(svi_steps + 1)
        )
        ok = jnp.isfinite(last)
        # A failed MAP falls back to the prior-median start rather than NaNs.
        pick = lambda a, b: jnp.where(ok, a, b)  # noqa: E731
        u0 = jax.tree_util.tree_map(pick, u_map, init_u)
        p_map = map_constrain(u0)
        data = dict(data, fixed={name: p_map[name] for name in spec.fixed_sites})
        if spec.phase_kernel_fixed:
            for which in ("s", "p"):
                X = data["X" + which]
                data["A" + which] = whitened_projection(
                    X, data["Z"], p_map["ls_phase"], p_map["amp_phase"], spec.kernel
                )[0]
        u0 = {name: u0[name] for name in sample_init}
        if not spec.fixed_sites:
            # NUTS samples the MAP's potential: start it from the potential and gradient the
            # MAP loop already computed instead of compiling another copy of the gradient.
            u0 = ParamInfo(u0, pick(last, loss0), jax.tree_util.tree_map(pick, g_map, g0))

        def chain(k):
            state = init_kernel(
                u0,
                num_warmup,
                target_accept_prob=target_accept_prob,
                max_tree_depth=max_tree_depth,
                model_args=(data,),
                rng_key=k,
            )

            # One scan over warmup + sampling: a single copy of the NUTS kernel to compile.
            def step(s, _):
                s = sample_kernel(s, model_args=(data,))
                return s, (s.z, (s.diverging, s.num_steps))

            _, (zs, div) = jax.lax.scan(step, state, None, length=num_warmup + num_samples)
            take = lambda a: a[num_warmup:]  # noqa: E731
            return jax.tree_util.tree_map(take, zs), jax.tree_util.tree_map(take, div)

        keys = jax.random.split(k_mcmc, num_chains)
        if vectorized:
            zs, div = jax.vmap(chain)(keys)
        else:
            # Chains one after another in one loop: batching NUTS's nested while loops and
            # conds (vmap) multiplies trace + compile time about tenfold on the CPU.
            zs, div = jax.lax.map(chain, keys)
        post = jax.vmap(jax.vmap(constrain))(zs)
        for name in spec.fixed_sites:
            value = p_map[name]
            post[name] = jnp.broadcast_to(value, (num_chains, num_samples) + value.shape)
        if spec.phase == "changepoint" and spec.n_grid:
            # Draw the change point from its exact conditional given each draw's parameters:
            # a grid cell, then uniformly inside it.
            flat = jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:]), post)
            ll = jax.lax.map(lambda p: _grid_log_likelihood(p, data, spec), flat)
            k1, k2 = jax.random.split(k_cp)
            cell = jax.random.categorical(k1, ll, axis=-1)
            jitter = jax.random.uniform(k2, cell.shape, minval=-0.5, maxval=0.5)
            b = (cell + 0.5 + jitter) / spec.n_grid
            post["boundary"] = b.reshape(num_chains, num_samples, 1)
        return post, div, last

    return jax.jit(program, compiler_options=_compiler_options(fit=True, full_opt=full_opt))


def _predict_draw(p: dict, data: dict, Xq, spec: _Spec):
    """One posterior draw's region probabilities and property mean / variance at ``Xq``.

    The property at ``x`` is ``f(x) = sum_k p_k(x) g_k(x)``; given the draw's segmentation and
    hyperparameters, ``f`` and the data are jointly Gaussian, so its conditional mean and
    variance (noise excluded) follow from the same covariance as the likelihood.
    """
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular

    step = spec.phase == "changepoint" and spec.n_grid > 0
    Pq = _phase_probs(p, Xq, data["Z"], spec)
    T = spec.n_props
    if not spec.n_prop_sources:
        zeros = jnp.zeros((Xq.shape[0], T))
        return Pq, zeros, zeros
    t = data["p_prop"]
    Pp = _phase_probs(p, data["Xp"], data["Z"], spec, step=step) * data["wp"][:, None]
    C = _property_cov(p, data, spec, Pp)
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


@functools.lru_cache(maxsize=32)
def _predict_program(spec: _Spec, has_prop: bool):
    """Jitted posterior-predictive summary over draws (cached per spec; data as arguments)."""
    import jax
    import jax.numpy as jnp

    def run(post, data, Xb, src_weight):
        def one(p):
            probs, mu, cond = _predict_draw(p, data, Xb, spec)
            if not has_prop:
                return probs, mu, cond, jnp.zeros_like(mu)
            nv = _noise(p) ** 2  # (S,) or (S, K)
            if spec.region_noise:
                # The query point's noise: its regions' noise levels, mixed by its probabilities.
                noise_var = probs @ (nv.T @ src_weight)  # (nq, T)
            else:
                noise_var = jnp.broadcast_to(nv @ src_weight, mu.shape)
            return probs, mu, cond, noise_var

        probs, mu, cond, noise_var = jax.lax.map(one, post)
        var = jnp.var(mu, axis=0) + jnp.mean(cond, axis=0) + jnp.mean(noise_var, axis=0)
        if not has_prop:
            var = jnp.zeros_like(var)
        return jnp.mean(probs, axis=0), jnp.mean(mu, axis=0), jnp.sqrt(var)

    return jax.jit(run, compiler_options=_compiler_options(fit=False))


# --------------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------------
@dataclass
class PhaseMapPrediction:
    """What :meth:`PhaseMapModel.predict` returns (arrays over the query points)."""

    probs: np.ndarray  # (n, K) posterior-mean region probabilities
    entropy: np.ndarray  # (n,) entropy of ``probs`` in nats
    labels: np.ndarray  # (n,) most probable region, as the structure sources' labels
    mean: np.ndarray  # (n, T) property posterior-predictive mean (property units)
    std: np.ndarray  # (n, T) posterior spread + conditional GP variance + noise
    property_names: list[str] = field(default_factory=list)
    region_names: list[str] = field(default_factory=list)

    def to_frame(self, X: np.ndarray | None = None, coords: Sequence[str] | None = None):
        """A pandas DataFrame: coordinates, ``p_<region>``, ``entropy``, ``label``, ``<prop>_mean/std``."""
        import pandas as pd

        cols: dict[str, Any] = {}
        if X is not None:
            X = np.asarray(X, dtype=float).reshape(len(self.entropy), -1)
            names = list(coords) if coords is not None else [f"x{i}" for i in range(X.shape[1])]
            for i, name in enumerate(names):
                cols[name] = X[:, i]
        for k, name in enumerate(self.region_names):
            cols[f"p_{name}"] = self.probs[:, k]
        cols["entropy"] = self.entropy
        cols["label"] = self.labels
        for t, name in enumerate(self.property_names):
            cols[f"{name}_mean"] = self.mean[:, t]
            cols[f"{name}_std"] = self.std[:, t]
        return pd.DataFrame(cols)


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of ``probs``."""
    p = np.clip(np.asarray(probs, dtype=float), 1e-300, 1.0)
    return -np.sum(p * np.log(p), axis=-1)


# --------------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------------
class PhaseMapModel:
    """Joint Bayesian phase map + piecewise property model (SAGE), fitted by SVI then NUTS.

    Parameters
    ----------
    n_regions
        Number of phase regions ``K``.
    kernel
        ``"rbf"`` or ``"matern52"`` (stationary, ARD lengthscales per input dimension).
    phase_model
        ``"gp"``: one latent GP per region -> softmax (any dimension); ``"changepoint"``:
        1-D ordered sigmoid boundaries with a posterior on their locations.
    icm
        Correlate the properties within each region through an LKJ-distributed ICM matrix.
    num_warmup, num_samples, num_chains
        NUTS settings.
    chain_method
        ``"sequential"`` (default): chains run one after another inside the same compiled
        program; ``"vectorized"``: chains batched with ``vmap`` (faster per step on an
        accelerator, but about ten times the trace/compile time on the CPU).
    svi_steps, svi_lr
        MAP optimization that initializes NUTS.
    max_inducing
        Inducing points for the whitened latent GPs: all distinct inputs when there are at most
        this many, else k-means centres.
    phase_kernel
        ``"map"`` (default): the phase GPs' lengthscales and amplitude are fixed at their MAP
        values (type-II / empirical Bayes) and NUTS samples the latent functions, offsets and
        property hyperparameters: the latent functions are then a fixed linear map of
        ``N(0, I)`` weights, a posterior NUTS mixes on (sampling the kernel too leaves a funnel
        between amplitude and weights: R-hat 3-4 on the 2-D challenges) and each step costs a
        matrix product instead of a Cholesky factorization. ``"sample"``: sample them too.
    max_tree_depth, target_accept_prob
        NUTS settings (tree depth 5 by default: at most 31 leapfrog steps per draw).
    max_stored_draws
        Posterior draws kept (thinned evenly) for prediction and saving.
    boundary_width
        Width of the sigmoid change points (``phase_model="changepoint"``) as a fraction of the
        input range, used at prediction (a step between measured points).
    n_grid
        Change-point model with two regions: the boundary is summed out exactly over this many
        equal cells of the observed range (uniform prior); NUTS samples the other parameters and
        each draw's boundary is then drawn from its exact conditional. More regions use ordered
        Dirichlet gaps sampled by NUTS.
    shared_trend
        Add a property GP shared by all regions, ``y = g_0 + sum_k p_k g_k`` (GP phase model
        only): for properties that vary smoothly across some phase boundaries and jump at
        others, the regions then model only the deviations from a common trend instead of
        each refitting it from its own points.
    region_noise
        A noise level per property source *and region* instead of per source: for properties
        whose scatter differs between phases (a magnetic phase's remanence scatters more than
        a paramagnetic one's). A point's noise variance is its regions' variances mixed by its
        region probabilities.
    seed
        Seeds SVI, NUTS and the inducing-point k-means.

    Notes
    -----
    Inputs bound by a linear constraint (compositions that sum to 100 %) are modelled on their
    independent columns, ``input_columns_`` (see :func:`independent_columns`); ``predict``
    still takes every column.
    """

    def __init__(
        self,
        n_regions: int = 2,
        kernel: str = "rbf",
        phase_model: str = "gp",
        icm: bool = False,
        num_warmup: int = 200,
        num_samples: int = 200,
        num_chains: int = 1,
        svi_steps: int = 1500,
        svi_lr: float = 0.02,
        max_inducing: int = 64,
        phase_kernel: str = "map",
        max_tree_depth: int | None = None,
        target_accept_prob: float = 0.85,
        max_stored_draws: int = 400,
        boundary_width: float = 0.001,
        n_grid: int = 400,
        chain_method: str = "sequential",
        shared_trend: bool = False,
        region_noise: bool = False,
        seed: int = 0,
    ) -> None:
        self.n_regions = n_regions
        self.kernel = kernel
        self.phase_model = phase_model
        self.icm = icm
        self.num_warmup = num_warmup
        self.num_samples = num_samples
        self.num_chains = num_chains
        self.svi_steps = svi_steps
        self.svi_lr = svi_lr
        self.max_inducing = max_inducing
        self.phase_kernel = phase_kernel
        self.max_tree_depth = max_tree_depth
        self.target_accept_prob = target_accept_prob
        self.max_stored_draws = max_stored_draws
        self.boundary_width = boundary_width
        self.n_grid = n_grid
        self.chain_method = chain_method
        self.shared_trend = shared_trend
        self.region_noise = region_noise
        self.seed = seed

    # --- parameters ----------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        import inspect

        sig = inspect.signature(PhaseMapModel.__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    def _check_params(self) -> None:
        if int(self.n_regions) < 2:
            raise ValueError(f"n_regions must be >= 2, got {self.n_regions}")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {self.kernel!r}")
        if self.phase_model not in PHASE_MODELS:
            raise ValueError(
                f"phase_model must be one of {', '.join(PHASE_MODELS)}, got {self.phase_model!r}"
            )
        if self.phase_kernel not in ("map", "sample"):
            raise ValueError(f"phase_kernel must be 'map' or 'sample', got {self.phase_kernel!r}")
        if self.chain_method not in ("sequential", "vectorized"):
            raise ValueError(
                f"chain_method must be 'sequential' or 'vectorized', got {self.chain_method!r}"
            )
        if self.shared_trend and self.phase_model == "changepoint":
            raise ValueError(
                "shared_trend needs phase_model='gp' (the change-point likelihood "
                "factorizes over regions)"
            )
        for name in ("num_samples", "num_chains", "max_inducing"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    # --- fitting -------------------------------------------------------------------------
    def fit(
        self,
        structure_sources: Sequence[StructureSource] | StructureSource | None = None,
        property_sources: Sequence[PropertySource] | PropertySource | None = None,
    ) -> PhaseMapModel:
        """Fit to any number of structure and property sources (at least one of each kind)."""
        self._check_params()
        S = _coerce_structure(structure_sources)
        P = _coerce_property(property_sources)
        if not S and not P:
            raise ValueError("fit needs at least one structure or property source")
        dims = {s.X.shape[1] for s in S} | {s.X.shape[1] for s in P}
        if len(dims) != 1:
            raise ValueError(f"all sources must have the same input dimension, got {sorted(dims)}")
        d = dims.pop()
        if self.phase_model == "changepoint" and d != 1:
            raise ValueError(f"phase_model='changepoint' needs 1-D inputs, got dimension {d}")
        K = int(self.n_regions)

        # Regions from hard labels (shared label space over sources); soft/pattern sources map
        # columns to regions directly.
        hard = [s.labels for s in S if s.labels is not None]
        classes = np.unique(np.concatenate(hard)) if hard else np.array([], dtype=int)
        if classes.dtype == bool:
            classes = classes.astype(int)
        if len(classes) > K:
            raise ValueError(f"{len(classes)} distinct labels but n_regions={K}")
        if self.phase_model == "changepoint" and len(classes):
            # Regions are ordered left to right, so order the labels by where they were seen.
            xs = np.concatenate([s.X[:, 0] for s in S if s.labels is not None])
            lab = np.concatenate([np.asarray(s.labels) for s in S if s.labels is not None])
            if lab.dtype == bool:
                lab = lab.astype(int)
            centre = [np.mean(xs[lab == c]) for c in classes]
            classes = classes[np.argsort(centre)]
        self.classes_ = _extend_classes(classes, K)

        X_all = np.concatenate([s.X for s in S] + [s.X for s in P], axis=0)
        self.input_min_, self.input_max_ = X_all.min(axis=0), X_all.max(axis=0)
        self.input_columns_ = independent_columns(X_all)
        cols = self.input_columns_
        d = len(cols)
        self.x_lo_ = X_all[:, cols].min(axis=0)
        span = X_all[:, cols].max(axis=0) - self.x_lo_
        self.x_scale_ = np.where(span > 0, span, 1.0)

        def norm(X: np.ndarray) -> np.ndarray:
            return (X[:, cols] - self.x_lo_) / self.x_scale_

        Qs_list, s_src = [], []
        self.structure_names_ = []
        for i, s in enumerate(S):
            if s.labels is not None:
                lab = np.asarray(s.labels)
                if lab.dtype == bool:
                    lab = lab.astype(int)
                idx = np.array([np.flatnonzero(self.classes_ == v)[0] for v in lab])
                Q = np.eye(K)[idx]
            else:
                if s.probs is not None:
                    Q = np.asarray(s.probs, dtype=float)
                else:
                    from psplab.models.xrd import cluster_patterns

                    _, Q = cluster_patterns(
                        s.patterns, K, method=s.cluster, soft=True, seed=self.seed
                    )
                if Q.shape != (len(s.X), K):
                    raise ValueError(
                        f"structure source {s.name!r}: soft labels must be (n, {K}), got {Q.shape}"
                    )
                if np.any(Q < 0) or not np.allclose(Q.sum(axis=1), 1.0, atol=1e-6):
                    raise ValueError(
                        f"structure source {s.name!r}: soft labels must be rows of probabilities"
                    )
            Qs_list.append(Q)
            s_src.append(np.full(len(s.X), i))
            self.structure_names_.append(s.name)

        self.property_names_ = []
        for s in P:
            if s.prop not in self.property_names_:
                self.property_names_.append(s.prop)
        T = max(len(self.property_names_), 1)
        self.y_mean_ = np.zeros(T)
        self.y_std_ = np.ones(T)
        for t, name in enumerate(self.property_names_):
            y = np.concatenate([s.y for s in P if s.prop == name])
            self.y_mean_[t] = y.mean()
            self.y_std_[t] = y.std() if y.std() > 0 else 1.0
        self.property_source_names_ = [s.name for s in P]
        self.property_source_prop_ = [self.property_names_.index(s.prop) for s in P]

        if d == 1:
            # 1-D: an even grid over the observed range is enough for the smooth per-region
            # functions, and its size does not depend on the data (one compiled program).
            Z = np.linspace(0.0, 1.0, min(int(self.max_inducing), 24))[:, None]
        else:
            Z = choose_inducing(norm(X_all), int(self.max_inducing), seed=self.seed)
        Xs = norm(np.concatenate([s.X for s in S])) if S else np.zeros((0, d))
        Qs = np.concatenate(Qs_list) if S else np.zeros((0, K))
        s_src_all = np.concatenate(s_src).astype(np.int32) if S else np.zeros(0, np.int32)
        Xp = norm(np.concatenate([s.X for s in P])) if P else np.zeros((0, d))
        yp = (
            np.concatenate(
                [
                    (s.y - self.y_mean_[t]) / self.y_std_[t]
                    for s, t in zip(P, self.property_source_prop_, strict=True)
                ]
            )
            if P
            else np.zeros(0)
        )
        p_prop = (
            np.concatenate(
                [np.full(len(s.y), t) for s, t in zip(P, self.property_source_prop_, strict=True)]
            ).astype(np.int32)
            if P
            else np.zeros(0, np.int32)
        )
        p_src = (
            np.concatenate([np.full(len(s.y), i) for i, s in enumerate(P)]).astype(np.int32)
            if P
            else np.zeros(0, np.int32)
        )

        def pad(a: np.ndarray, n: int, value: float = 0.0) -> np.ndarray:
            extra = n - len(a)
            return np.concatenate([a, np.full((extra,) + a.shape[1:], value, dtype=a.dtype)])

        # Rows are padded to bucket sizes: padded structure rows have all-zero soft labels and
        # padded property rows zero weight, so they leave the likelihood unchanged.
        ns, npp = _bucket(len(Xs)), _bucket(len(Xp))
        data_np = {
            "Z": Z,
            "Xs": pad(Xs, ns, 0.5),
            "Qs": pad(Qs, ns),
            "s_src": pad(s_src_all, ns),
            "Xp": pad(Xp, npp, 0.5),
            "yp": pad(yp, npp),
            "wp": pad(np.ones(len(yp)), npp),
            "p_prop": pad(p_prop, npp),
            "p_src": pad(p_src, npp),
        }
        n_grid = int(self.n_grid) if self.phase_model == "changepoint" and K == 2 else 0
        if n_grid:
            # Which structure points lie right of each grid cell's centre (region 1 of a step
            # boundary), and which of the n_p + 1 partitions of the property points each cell
            # induces (partition j: the j leftmost property points in region 0).
            centres = (np.arange(n_grid) + 0.5) / n_grid
            data_np["Ms"] = (data_np["Xs"][None, :, 0] >= centres[:, None]).astype(float)
            xp_real = Xp[:, 0]
            n_real = len(xp_real)
            pad_idx = np.arange(n_real, npp)
            data_np["ord_asc"] = np.concatenate(
                [np.argsort(xp_real, kind="stable"), pad_idx]
            ).astype(np.int32)
            data_np["ord_desc"] = np.concatenate(
                [np.argsort(-xp_real, kind="stable"), pad_idx]
            ).astype(np.int32)
            part = np.searchsorted(np.sort(xp_real), centres, side="left")
            data_np["cell_part"] = part.astype(np.int32)
            data_np["cell_part_rev"] = (n_real - part).astype(np.int32)
        self.spec_ = _Spec(
            phase=self.phase_model,
            kernel=self.kernel,
            n_regions=K,
            n_props=T,
            n_struct_sources=len(S),
            n_prop_sources=len(P),
            icm=bool(self.icm) and T > 1,
            dim=d,
            n_inducing=len(Z),
            boundary_width=float(self.boundary_width),
            n_grid=n_grid,
            fixed_sites=self._fixed_sites(),
            trend=bool(self.shared_trend) and bool(P),
            region_noise=bool(self.region_noise) and bool(P),
        )
        self.Z_ = Z
        self.n_dim_ = X_all.shape[1]
        # The property data (normalized, padded) are part of the fitted model: predictions
        # condition the integrated-out property functions on them.
        self.train_ = {k: data_np[k] for k in ("Xp", "yp", "wp", "p_prop", "p_src")}
        t0 = time.perf_counter()
        with x64():
            self._run_inference(data_np)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _fixed_sites(self) -> tuple[str, ...]:
        """Sites held at their MAP values during NUTS (``phase_kernel="map"``)."""
        # Fixing the property kernel too was tried: same tree depth, worse R-hat (2d_a: 2.1).
        if self.phase_model == "gp" and self.phase_kernel == "map":
            return _PHASE_KERNEL_SITES
        return ()

    def _run_inference(self, data_np: dict[str, np.ndarray]) -> None:
        import jax
        import jax.numpy as jnp
        from numpyro.diagnostics import summary

        spec = self.spec_
        data = {k: jnp.asarray(v) for k, v in data_np.items()}
        depth = self.max_tree_depth or 5
        program = _fit_program(
            spec,
            int(self.num_warmup),
            int(self.num_samples),
            int(self.num_chains),
            int(depth),
            float(self.target_accept_prob),
            int(self.svi_steps),
            float(self.svi_lr),
            self.chain_method == "vectorized",
            _full_optimization(spec),
        )
        _, _, init_u = _potential(dataclasses.replace(spec, fixed_sites=()))
        init_u = {k: jnp.asarray(v) for k, v in init_u.items()}
        rows = max(data_np["Xp"].shape[0], data_np["Z"].shape[0])
        with _one_blas_thread(rows):
            post, (div, steps), loss = program(data, init_u, jax.random.PRNGKey(int(self.seed)))
            self.svi_loss_ = float(loss)
            by_chain = {k: np.asarray(v) for k, v in post.items()}
            diverging = np.asarray(div)
            steps = np.asarray(steps)

        # R-hat/ESS over every parameter, the change point included when it is sampled by NUTS
        # (Dirichlet gaps) or drawn from its exact conditional (marginalized on a grid).
        # Sites held at their MAP value are constants, not draws: no R-hat/ESS for them.
        sampled = {k: v for k, v in by_chain.items() if k not in spec.fixed_sites}
        stats = summary(sampled, group_by_chain=True)
        rhat = np.concatenate([np.ravel(s["r_hat"]) for s in stats.values()])
        ess = np.concatenate([np.ravel(s["n_eff"]) for s in stats.values()])
        self.diagnostics_ = {
            "rhat_max": float(np.nanmax(rhat)) if np.any(np.isfinite(rhat)) else float("nan"),
            "ess_min": float(np.nanmin(ess)) if np.any(np.isfinite(ess)) else float("nan"),
            "divergences": int(diverging.sum()),
            "num_samples": int(self.num_samples),
            "num_chains": int(self.num_chains),
            "svi_loss": self.svi_loss_,
            "mean_leapfrog_steps": float(np.mean(steps)),
            "max_tree_depth": int(self.max_tree_depth or 5),
        }
        self._warn_if_bad()

        flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in by_chain.items()}
        n_draws = next(iter(flat.values())).shape[0]
        keep = np.unique(
            np.linspace(0, n_draws - 1, min(n_draws, int(self.max_stored_draws))).astype(int)
        )
        self.posterior_ = {k: v[keep] for k, v in flat.items()}

    def _warn_if_bad(self) -> None:
        d = self.diagnostics_
        total = d["num_samples"] * d["num_chains"]
        problems = []
        if np.isfinite(d["rhat_max"]) and d["rhat_max"] > 1.05:
            problems.append(f"max R-hat {d['rhat_max']:.3f} > 1.05")
        if np.isfinite(d["ess_min"]) and d["ess_min"] < min(50.0, 0.1 * total):
            problems.append(f"min ESS {d['ess_min']:.0f}")
        if d["divergences"] > 0.01 * total:
            problems.append(f"{d['divergences']} divergent transitions")
        if problems:
            warnings.warn(
                "NUTS diagnostics are poor (" + "; ".join(problems) + "): run longer chains, "
                "more warmup or a higher target_accept_prob before trusting the uncertainties",
                SamplingWarning,
                stacklevel=3,
            )

    # --- prediction ----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "posterior_"):
            raise RuntimeError("PhaseMapModel is not fitted: call fit() or load() first")

    def _normalize(self, X: Any) -> np.ndarray:
        X = _as_points(X, "predict")
        if X.shape[1] != self.n_dim_:
            raise ValueError(f"predict: expected {self.n_dim_} input columns, got {X.shape[1]}")
        return (X[:, self.input_columns_] - self.x_lo_) / self.x_scale_

    def predict(self, X: Any, batch_size: int = 2048) -> PhaseMapPrediction:
        """Phase probabilities, entropy, labels and property mean/std at points ``X`` ``(n, d)``."""
        self._check_fitted()
        Xn = self._normalize(X)
        probs_parts, mean_parts, std_parts = [], [], []
        rows = max(len(self.train_["Xp"]), len(self.Z_))
        with x64(), _one_blas_thread(rows):
            fn = self._predict_fn()
            for start in range(0, len(Xn), batch_size):
                pr, mu, sd = fn(Xn[start : start + batch_size])
                probs_parts.append(pr)
                mean_parts.append(mu)
                std_parts.append(sd)
        probs = np.concatenate(probs_parts)
        mean = np.concatenate(mean_parts) * self.y_std_ + self.y_mean_
        std = np.concatenate(std_parts) * self.y_std_
        return PhaseMapPrediction(
            probs=probs,
            entropy=entropy(probs),
            labels=self.classes_[np.argmax(probs, axis=1)],
            mean=mean,
            std=std,
            property_names=list(self.property_names_),
            region_names=[str(c) for c in self.classes_],
        )

    def _predict_fn(self) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        import jax.numpy as jnp

        spec = self.spec_
        post = {k: jnp.asarray(v) for k, v in self.posterior_.items()}
        data = {k: jnp.asarray(v) for k, v in self.train_.items()}
        data["Z"] = jnp.asarray(self.Z_)
        has_prop = spec.n_prop_sources > 0
        src_weight = np.zeros((max(spec.n_prop_sources, 1), spec.n_props))
        if has_prop:
            prop_of_src = np.asarray(self.property_source_prop_)
            # The noise of a property: the mean variance over the sources that measured it.
            src_weight[np.arange(len(prop_of_src)), prop_of_src] = 1.0
            src_weight /= src_weight.sum(axis=0, keepdims=True)
        src_weight = jnp.asarray(src_weight)
        run = _predict_program(spec, has_prop)

        def call(Xb: np.ndarray):
            n = len(Xb)
            # Pad to a bucket size so that query sets of similar size share one compiled program.
            pad = _bucket(n) - n
            Xp = np.concatenate([Xb, np.full((pad, Xb.shape[1]), 0.5)]) if pad else Xb
            out = run(post, data, jnp.asarray(Xp), src_weight)
            return tuple(np.asarray(o)[:n] for o in out)

        return call

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior-mean region probabilities ``(n, K)``."""
        return self.predict(X).probs

    def predict_labels(self, X: Any) -> np.ndarray:
        """Most probable region at each point, as the structure sources' labels."""
        return self.predict(X).labels

    def boundary_samples(self) -> np.ndarray:
        """Posterior draws of the change points ``(draws, K - 1)`` in input units (1-D model)."""
        self._check_fitted()
        if self.phase_model != "changepoint":
            raise ValueError("boundary_samples needs phase_model='changepoint'")
        return self.posterior_["boundary"] * self.x_scale_[0] + self.x_lo_[0]

    def boundary_interval(self, level: float = 0.9) -> np.ndarray:
        """Equal-tailed credible interval ``(K - 1, 2)`` of each change point."""
        b = self.boundary_samples()
        a = (1.0 - level) / 2.0
        return np.stack([np.quantile(b, a, axis=0), np.quantile(b, 1 - a, axis=0)], axis=1)

    # --- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``path.npz`` (posterior draws, inducing points, scalings) and ``path.json``."""
        self._check_fitted()
        base = Path(path)
        base.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"post__{k}": v for k, v in self.posterior_.items()}
        arrays.update({f"train__{k}": v for k, v in self.train_.items()})
        arrays.update(
            Z=self.Z_,
            x_lo=self.x_lo_,
            x_scale=self.x_scale_,
            input_columns=self.input_columns_,
            input_min=self.input_min_,
            input_max=self.input_max_,
            y_mean=self.y_mean_,
            y_std=self.y_std_,
        )
        np.savez(base.with_suffix(".npz"), **arrays)
        classes = self.classes_
        meta = {
            "model": "sage_phase_map",
            "params": self.get_params(),
            "state": {
                "classes": [c.item() if hasattr(c, "item") else c for c in classes],
                "classes_kind": classes.dtype.kind,
                "property_names": self.property_names_,
                "property_source_names": self.property_source_names_,
                "property_source_prop": self.property_source_prop_,
                "structure_names": self.structure_names_,
                "spec": self.spec_.__dict__,
                "n_dim": self.n_dim_,
                "diagnostics": self.diagnostics_,
                "fit_seconds": self.fit_seconds_,
            },
        }
        base.with_suffix(".json").write_text(json.dumps(meta, indent=2))
        return base.with_suffix(".json")

    @classmethod
    def load(cls, path: str | Path) -> PhaseMapModel:
        """Rebuild a model written by :meth:`save` (no pickle involved)."""
        base = Path(path)
        meta = json.loads(base.with_suffix(".json").read_text())
        if meta.get("model") != "sage_phase_map":
            raise ValueError(f"{base.with_suffix('.json')}: not a saved PhaseMapModel")
        model = cls(**meta["params"])
        st = meta["state"]
        with np.load(base.with_suffix(".npz"), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        if "train__Xp" not in arrays:
            raise ValueError(
                f"{base.with_suffix('.npz')}: saved by an older psplab (no property data); refit"
            )
        model.posterior_ = {k[6:]: v for k, v in arrays.items() if k.startswith("post__")}
        model.train_ = {k[7:]: v for k, v in arrays.items() if k.startswith("train__")}
        model.Z_ = arrays["Z"]
        model.x_lo_, model.x_scale_ = arrays["x_lo"], arrays["x_scale"]
        # Files from before redundant-column handling model every column.
        model.input_columns_ = arrays.get("input_columns", np.arange(len(model.x_lo_)))
        model.input_min_ = arrays.get("input_min", model.x_lo_)
        model.input_max_ = arrays.get("input_max", model.x_lo_ + model.x_scale_)
        model.y_mean_, model.y_std_ = arrays["y_mean"], arrays["y_std"]
        kind = st["classes_kind"]
        model.classes_ = np.asarray(st["classes"], dtype=None if kind in "US" else kind)
        model.property_names_ = st["property_names"]
        model.property_source_names_ = st["property_source_names"]
        model.property_source_prop_ = st["property_source_prop"]
        model.structure_names_ = st["structure_names"]
        spec = dict(st["spec"])
        spec["fixed_sites"] = tuple(spec.get("fixed_sites", ()))  # JSON stores a list
        model.spec_ = _Spec(**spec)
        model.n_dim_ = st["n_dim"]
        model.diagnostics_ = st["diagnostics"]
        model.fit_seconds_ = st["fit_seconds"]
        return model


class ChangePointModel(PhaseMapModel):
    """The 1-D variant: ordered sigmoid change points with a posterior on their locations."""

    def __init__(self, n_regions: int = 2, kernel: str = "rbf", **kwargs: Any) -> None:
        kwargs.pop("phase_model", None)
        super().__init__(n_regions=n_regions, kernel=kernel, phase_model="changepoint", **kwargs)


def load_phase_map(path: str | Path) -> PhaseMapModel:
    """Load a saved :class:`PhaseMapModel` (or :class:`ChangePointModel`)."""
    return PhaseMapModel.load(path)


def _extend_classes(classes: np.ndarray, K: int) -> np.ndarray:
    """Region names: the observed labels, then names for regions no source labelled."""
    n_missing = K - len(classes)
    if n_missing <= 0:
        return classes
    if len(classes) == 0:
        return np.arange(K)
    if classes.dtype.kind in "iu":
        start = int(classes.max()) + 1
        return np.concatenate([classes, np.arange(start, start + n_missing)])
    return np.concatenate(
        [classes.astype(str), np.array([f"region{k}" for k in range(len(classes), K)])]
    )


def kernel(
    X: np.ndarray, Z: np.ndarray, lengthscale: Any, amplitude: float = 1.0, kind: str = "rbf"
) -> np.ndarray:
    """Evaluate a SAGE kernel in float64 (NumPy in, NumPy out), e.g. for checks and plots."""
    import jax.numpy as jnp

    with x64():
        out = kernel_matrix(
            jnp.asarray(_as_points(X, "X")),
            jnp.asarray(_as_points(Z, "Z")),
            jnp.asarray(
                np.broadcast_to(np.asarray(lengthscale, float), (np.shape(_as_points(X, "X"))[1],))
            ),
            jnp.asarray(float(amplitude)),
            kind,
        )
        return np.asarray(out)


# --------------------------------------------------------------------------------------------
# Synthetic library (for demos and tests)
# --------------------------------------------------------------------------------------------
@dataclass
class SyntheticLibrary:
    """A synthetic 2-D composition library with known regions (see :func:`synthetic_library`)."""

    structure_X: np.ndarray  # (n_s, 2) points where the phase label was measured
    structure_labels: np.ndarray  # (n_s,) integer region labels 0..K-1
    property_X: np.ndarray  # (n_p, 2) points where the property was measured
    property_y: np.ndarray  # (n_p,) noisy property values
    label_fn: Callable[[np.ndarray], np.ndarray]  # true region of any (n, 2) points
    property_fn: Callable[[np.ndarray], np.ndarray]  # noise-free property of any points
    n_regions: int = 3
    coords: tuple[str, str] = ("x_A", "x_B")
    property_name: str = "hardness_GPa"

    def structure_source(self) -> StructureSource:
        return StructureSource(self.structure_X, labels=self.structure_labels, name="phase")

    def property_source(self) -> PropertySource:
        return PropertySource(
            self.property_X, self.property_y, prop=self.property_name, name="property"
        )

    def grid(self, n: int = 31) -> np.ndarray:
        """An ``n x n`` grid over the unit square, ``(n*n, 2)``."""
        g = np.linspace(0.0, 1.0, n)
        return np.stack(np.meshgrid(g, g, indexing="xy"), axis=-1).reshape(-1, 2)


def _synthetic_labels(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float).reshape(-1, 2)
    lab = np.ones(len(X), dtype=int)  # region 1: the matrix phase
    lab[X[:, 0] + 0.5 * X[:, 1] > 1.0] = 2  # region 2: beyond a straight boundary
    lab[np.hypot(X[:, 0] - 0.3, X[:, 1] - 0.35) < 0.22] = 0  # region 0: a disk
    return lab


def _synthetic_property(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float).reshape(-1, 2)
    lab = _synthetic_labels(X)
    g = np.stack(
        [
            3.0 + 0.5 * np.sin(4.0 * X[:, 0]),  # hard disk phase
            1.0 + 0.8 * X[:, 1],  # soft matrix, rising with x_B
            2.0 - 0.6 * X[:, 0] * X[:, 1],  # intermediate phase
        ],
        axis=1,
    )
    return g[np.arange(len(X)), lab]


def synthetic_library(
    n_points: int = 60, seed: int = 0, n_property_points: int | None = None, noise: float = 0.05
) -> SyntheticLibrary:
    """A 2-D library on the unit square with K = 3 regions (a disk, a matrix, a half-plane).

    Structure labels are measured at ``n_points`` uniform random points and the property
    (``hardness_GPa``, piecewise smooth with jumps at the boundaries, Gaussian noise ``noise``)
    at ``n_property_points`` (default ``n_points``) other random points. ``label_fn`` and
    ``property_fn`` give the ground truth anywhere.
    """
    rng = np.random.default_rng(seed)
    n_prop = n_points if n_property_points is None else n_property_points
    Xs = rng.uniform(0.0, 1.0, size=(n_points, 2))
    Xp = rng.uniform(0.0, 1.0, size=(n_prop, 2))
    yp = _synthetic_property(Xp) + noise * rng.standard_normal(n_prop)
    return SyntheticLibrary(
        structure_X=Xs,
        structure_labels=_synthetic_labels(Xs),
        property_X=Xp,
        property_y=yp,
        label_fn=_synthetic_labels,
        property_fn=_synthetic_property,
    )


def fit_phase_map_demo(
    n_points: int = 60, seed: int = 0, **model_params: Any
) -> tuple[PhaseMapModel, SyntheticLibrary]:
    """Fit a small :class:`PhaseMapModel` on :func:`synthetic_library` (for demos)."""
    lib = synthetic_library(n_points=n_points, seed=seed)
    params = {"n_regions": 3, "num_warmup": 150, "num_samples": 150, "seed": seed}
    params.update(model_params)
    model = PhaseMapModel(**params).fit([lib.structure_source()], [lib.property_source()])
    return model, lib
