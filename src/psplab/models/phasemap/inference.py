"""Inference for the phase-map model: MAP (Adam) then NUTS, in one jitted program per problem shape.

The potential is written directly in JAX from :func:`psplab.models.phasemap.likelihood.sites`
(rather than traced from a NumPyro model): log-normal scale priors are normals in
``u = log(scale)``, so the potential is a few ops and the compiled NUTS program, which holds
several copies of its gradient, stays small. A fit is one call of a program that runs the MAP
search, starts NUTS from the MAP point and returns constrained draws; programs are cached per
static configuration (:class:`~psplab.models.phasemap.likelihood.ModelSpec` plus the sampler
settings) and the data enter as arguments padded to bucket sizes, so re-fits do not compile
again.

Layout: the traced kernels (``_potential``, ``_map_search``, ``_nuts_chains``,
``_draw_change_points``, ``_fit_program``, ``_predict_program``) are pure JAX; the drivers
:func:`run_inference`, :func:`sampling_diagnostics` and :func:`posterior_summary` take and
return NumPy arrays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from psplab._blas import one_blas_thread
from psplab.models.phasemap.gp import squared_differences, whitened_projection, x64
from psplab.models.phasemap.likelihood import (
    ModelSpec,
    bucket_size,
    grid_log_likelihood,
    log_likelihood,
    noise_sd,
    predict_draw,
    sites,
)

__all__ = [
    "PHASE_KERNEL_SITES",
    "InferenceResult",
    "SamplerSettings",
    "blas_threads_for",
    "posterior_summary",
    "run_inference",
    "sampling_diagnostics",
]

# Sites that phase_kernel="map" holds at their MAP values.
PHASE_KERNEL_SITES = ("ls_phase", "amp_phase")

# Start of the label-noise rate (logit): e = 0.018, near the Beta(1, 50) prior's median.
_PRIOR_MEDIANS = {"label_noise": -4.0}


@dataclass(frozen=True)
class SamplerSettings:
    """Settings of the MAP search and of NUTS (hashable: compiled programs are cached by them).

    Attributes
    ----------
    num_warmup, num_samples, num_chains : int
        NUTS warm-up steps, kept draws per chain, chains.
    max_tree_depth : int
        NUTS tree depth (at most ``2**depth - 1`` leapfrog steps per draw).
    target_accept_prob : float
        Step-size adaptation target.
    svi_steps : int
        Adam steps of the MAP search that starts NUTS.
    svi_lr : float
        Adam learning rate.
    vectorized : bool
        Chains batched with ``vmap`` instead of run one after another.
    """

    num_warmup: int
    num_samples: int
    num_chains: int
    max_tree_depth: int
    target_accept_prob: float
    svi_steps: int
    svi_lr: float
    vectorized: bool = False


@dataclass
class InferenceResult:
    """What :func:`run_inference` returns (NumPy arrays).

    Attributes
    ----------
    draws : dict
        Constrained draws by site, ``(chains, samples, ...)``; fixed sites repeat their MAP value.
    diverging : numpy.ndarray
        Divergent transitions ``(chains, samples)``.
    num_steps : numpy.ndarray
        Leapfrog steps per draw ``(chains, samples)``.
    map_loss : float
        Potential at the end of the MAP search (NaN/inf when it failed).
    """

    draws: dict[str, np.ndarray]
    diverging: np.ndarray
    num_steps: np.ndarray
    map_loss: float


def blas_threads_for(n_rows: int) -> contextlib.AbstractContextManager:
    """One BLAS thread for LAPACK (JAX's CPU Cholesky and triangular solves) at small sizes.

    A fit factorizes an ``n x n`` covariance thousands of times at ``n`` of 8-288, where
    OpenBLAS's second thread mostly waits (about half the wall time and CPU at 128 rows on two
    cores). See :mod:`psplab._blas`.

    Parameters
    ----------
    n_rows : int
        Rows of the largest matrix factorized.

    Returns
    -------
    context : contextlib.AbstractContextManager
        Limits BLAS threads on the CPU backend; does nothing on an accelerator.
    """
    if jax.default_backend() != "cpu":
        return contextlib.nullcontext()
    return one_blas_thread(n_rows)


def _compiler_options(optimize: bool) -> dict[str, Any]:
    """XLA options for the phase-map programs.

    Compiling, not sampling, is most of a small fit's time on the CPU. The programs are loops
    of many tiny ops, and XLA's newer CPU fusion emitters cost about a third more compile time
    on them than the classic ones, so those are turned off. ``optimize``: LLVM optimization
    level 2 (the same time per gradient as level 3, ~1.5 s less compile); otherwise the cheap
    code generation.
    """
    options: dict[str, Any] = {"xla_cpu_use_fusion_emitters": False}
    if optimize:
        if jax.default_backend() == "cpu":
            options["xla_backend_optimization_level"] = 2
        return options
    options.update(xla_backend_optimization_level=0, xla_llvm_disable_expensive_passes=True)
    return options


def _optimize_fit_program(spec: ModelSpec) -> bool:
    """Whether a fit program is worth full LLVM optimization.

    It costs 2-3 s more compile and halves the time per gradient. A GP phase map samples
    thousands of gradients of an ``n x n`` covariance (~9000 at 128 property rows, 2-3 ms
    each), so it pays; a 1-D change-point fit takes ~4000 gradients of well under a millisecond,
    so it does not. (The prediction program runs once per batch of query points: never.)
    """
    return spec.phase != "changepoint"


@functools.lru_cache(maxsize=32)
def _potential(spec: ModelSpec) -> tuple[Callable, Callable, dict[str, np.ndarray]]:
    """Potential ``(u, data) -> -log p`` on the unconstrained space, the map back, a start point."""
    import numpyro.distributions as dist
    from numpyro.distributions.transforms import CorrCholeskyTransform, StickBreakingTransform

    site_priors = sites(spec)
    half_log_2pi = 0.5 * math.log(2.0 * math.pi)

    def constrain(u: dict) -> dict:
        params = {}
        for name, (kind, _, _) in site_priors.items():
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
        for name, (kind, _, (a, b)) in site_priors.items():
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
        return -(log_prior(u, params) + log_likelihood(params, data, spec))

    # Start at the prior's centre: whitened latents at 0, scales at their prior medians.
    init_u = {}
    for name, (kind, shape, (a, _)) in site_priors.items():
        if kind == "simplex":
            ushape: tuple[int, ...] = (shape[0] - 1,)
        elif kind == "lkj":
            ushape = (shape[0] * (shape[0] - 1) // 2,)
        else:
            ushape = shape
        start = a if kind in ("lognormal", "normal") else _PRIOR_MEDIANS.get(name, 0.0)
        init_u[name] = np.full(ushape, start)
    return potential, constrain, init_u


def _map_search(
    map_potential: Callable, init_u: dict, data: dict, spec: ModelSpec, s: SamplerSettings
):
    """Adam on the unconstrained space; returns ``(u, loss, grad, first_loss, first_grad)``.

    The last pass only evaluates, so the returned loss and gradient are those at the returned
    point, and the first pass's values are kept as the fallback's.
    """
    import optax

    opt = optax.adam(s.svi_lr)
    value_and_grad = jax.value_and_grad(map_potential)

    def adam(carry, i):
        u, st, _, _, first = carry
        loss, g = value_and_grad(u, data)
        if spec.phase_kernel_fixed:
            # The amplitude stays at its prior median: jointly with the whitened weights v the
            # MAP would inflate it (a large amplitude lets v shrink towards its prior mode),
            # leaving NUTS a stiff, saturated softmax to sample.
            g = dict(g, amp_phase=jnp.zeros_like(g["amp_phase"]))
        updates, st_new = opt.update(g, st, u)
        move = i < s.svi_steps
        keep = lambda a, b: jnp.where(move, a, b)  # noqa: E731
        u_new = jax.tree_util.tree_map(keep, optax.apply_updates(u, updates), u)
        st_new = jax.tree_util.tree_map(keep, st_new, st)
        first = jax.tree_util.tree_map(lambda a, b: jnp.where(i == 0, a, b), (loss, g), first)
        return (u_new, st_new, loss, g, first), None

    zero_g = jax.tree_util.tree_map(jnp.zeros_like, init_u)
    zero = jnp.zeros((), dtype=jnp.result_type(float))
    carry = (init_u, opt.init(init_u), zero, zero_g, (zero, zero_g))
    (u_map, _, last, g_map, (loss0, g0)), _ = jax.lax.scan(adam, carry, jnp.arange(s.svi_steps + 1))
    return u_map, last, g_map, loss0, g0


def _nuts_chains(potential: Callable, u0: Any, data: dict, key: jax.Array, s: SamplerSettings):
    """NUTS chains from ``u0``: ``(draws, (diverging, num_steps))``, each ``(chains, samples, ...)``."""
    from numpyro.infer.hmc import hmc

    init_kernel, sample_kernel = hmc(
        potential_fn_gen=lambda d: lambda u: potential(u, d), algo="NUTS"
    )

    def chain(k):
        state = init_kernel(
            u0,
            s.num_warmup,
            target_accept_prob=s.target_accept_prob,
            max_tree_depth=s.max_tree_depth,
            model_args=(data,),
            rng_key=k,
        )

        # One scan over warmup + sampling: a single copy of the NUTS kernel to compile.
        def step(st, _):
            st = sample_kernel(st, model_args=(data,))
            return st, (st.z, (st.diverging, st.num_steps))

        _, (zs, div) = jax.lax.scan(step, state, None, length=s.num_warmup + s.num_samples)
        take = lambda a: a[s.num_warmup :]  # noqa: E731
        return jax.tree_util.tree_map(take, zs), jax.tree_util.tree_map(take, div)

    keys = jax.random.split(key, s.num_chains)
    if s.vectorized:
        return jax.vmap(chain)(keys)
    # Chains one after another in one loop: batching NUTS's nested while loops and conds
    # (vmap) multiplies trace + compile time about tenfold on the CPU.
    return jax.lax.map(chain, keys)


def _draw_change_points(post: dict, data: dict, spec: ModelSpec, key: jax.Array) -> jax.Array:
    """Each draw's change point from its exact conditional: a grid cell, then uniformly inside it."""
    chains, samples = next(iter(post.values())).shape[:2]
    flat = jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:]), post)
    ll = jax.lax.map(lambda p: grid_log_likelihood(p, data, spec), flat)
    k1, k2 = jax.random.split(key)
    cell = jax.random.categorical(k1, ll, axis=-1)
    jitter = jax.random.uniform(k2, cell.shape, minval=-0.5, maxval=0.5)
    return ((cell + 0.5 + jitter) / spec.n_grid).reshape(chains, samples, 1)


@functools.lru_cache(maxsize=32)
def _fit_program(spec: ModelSpec, s: SamplerSettings) -> Callable:
    """One jitted program ``(data, init_u, key) -> (draws, (diverging, steps), map_loss)``.

    Built once per static configuration; data, start point and key are arguments, so a re-fit
    (or a fit of another data set padded to the same bucket sizes) reuses the compiled program,
    in memory, and across processes through JAX's persistent compilation cache when the user
    sets one (``jax_compilation_cache_dir``; psplab does not turn it on).
    """
    from numpyro.infer.util import ParamInfo

    # The MAP search runs on every site; NUTS on the sites left when the phase-GP kernel
    # hyperparameters are fixed at their MAP values.
    map_potential, map_constrain, _ = _potential(dataclasses.replace(spec, fixed_sites=()))
    potential, constrain, sample_init = _potential(spec)

    def program(data, init_u, key):
        k_mcmc, k_cp = jax.random.split(key)
        if spec.n_prop_sources and spec.phase != "changepoint":
            data = dict(data, D2p=squared_differences(data["Xp"], data["Xp"]))
        u_map, last, g_map, loss0, g0 = _map_search(map_potential, init_u, data, spec, s)
        ok = jnp.isfinite(last)
        # A failed MAP falls back to the prior-median start rather than NaNs.
        pick = lambda a, b: jnp.where(ok, a, b)  # noqa: E731
        u0 = jax.tree_util.tree_map(pick, u_map, init_u)
        p_map = map_constrain(u0)
        data = dict(data, fixed={name: p_map[name] for name in spec.fixed_sites})
        if spec.phase_kernel_fixed:
            for which in ("s", "p"):
                data["A" + which] = whitened_projection(
                    data["X" + which], data["Z"], p_map["ls_phase"], p_map["amp_phase"], spec.kernel
                )[0]
        u0 = {name: u0[name] for name in sample_init}
        if not spec.fixed_sites:
            # NUTS samples the MAP's potential: start it from the potential and gradient the
            # MAP loop already computed instead of compiling another copy of the gradient.
            u0 = ParamInfo(u0, pick(last, loss0), jax.tree_util.tree_map(pick, g_map, g0))
        zs, div = _nuts_chains(potential, u0, data, k_mcmc, s)
        post = jax.vmap(jax.vmap(constrain))(zs)
        for name in spec.fixed_sites:
            value = p_map[name]
            post[name] = jnp.broadcast_to(value, (s.num_chains, s.num_samples) + value.shape)
        if spec.phase == "changepoint" and spec.n_grid:
            post["boundary"] = _draw_change_points(post, data, spec, k_cp)
        return post, div, last

    return jax.jit(program, compiler_options=_compiler_options(_optimize_fit_program(spec)))


def run_inference(
    spec: ModelSpec, data: dict[str, np.ndarray], settings: SamplerSettings, seed: int
) -> InferenceResult:
    """MAP search, then NUTS from the MAP point, for one padded problem (float64).

    Parameters
    ----------
    spec : ModelSpec
        The problem's static description.
    data : dict
        Padded data arrays (see :mod:`psplab.models.phasemap.likelihood`).
    settings : SamplerSettings
        MAP and NUTS settings.
    seed : int
        Seeds NUTS (and the change-point draws).

    Returns
    -------
    result : InferenceResult
        Constrained draws by chain, divergences, tree sizes and the MAP loss.
    """
    with x64():
        program = _fit_program(spec, settings)
        _, _, init_u = _potential(dataclasses.replace(spec, fixed_sites=()))
        init = {k: jnp.asarray(v) for k, v in init_u.items()}
        args = {k: jnp.asarray(v) for k, v in data.items()}
        rows = max(data["Xp"].shape[0], data["Z"].shape[0])
        with blas_threads_for(rows):
            post, (div, steps), loss = program(args, init, jax.random.PRNGKey(int(seed)))
            return InferenceResult(
                draws={k: np.asarray(v) for k, v in post.items()},
                diverging=np.asarray(div),
                num_steps=np.asarray(steps),
                map_loss=float(loss),
            )


def sampling_diagnostics(
    result: InferenceResult, spec: ModelSpec, settings: SamplerSettings
) -> dict[str, Any]:
    """R-hat, effective sample size and divergences of a run.

    R-hat/ESS cover every sampled parameter, the change point included when it is sampled by
    NUTS (Dirichlet gaps) or drawn from its exact conditional (marginalized on a grid); sites
    held at their MAP value are constants, not draws, and are left out. With one chain R-hat
    is the split-chain R-hat.

    Parameters
    ----------
    result : InferenceResult
        A run's draws.
    spec : ModelSpec
        The problem's static description.
    settings : SamplerSettings
        The run's settings.

    Returns
    -------
    diagnostics : dict
        ``rhat_max``, ``ess_min``, ``divergences``, ``num_samples``, ``num_chains``,
        ``svi_loss``, ``mean_leapfrog_steps``, ``max_tree_depth``.
    """
    from numpyro.diagnostics import summary

    sampled = {k: v for k, v in result.draws.items() if k not in spec.fixed_sites}
    stats = summary(sampled, group_by_chain=True)
    rhat = np.concatenate([np.ravel(st["r_hat"]) for st in stats.values()])
    ess = np.concatenate([np.ravel(st["n_eff"]) for st in stats.values()])
    return {
        "rhat_max": float(np.nanmax(rhat)) if np.any(np.isfinite(rhat)) else float("nan"),
        "ess_min": float(np.nanmin(ess)) if np.any(np.isfinite(ess)) else float("nan"),
        "divergences": int(result.diverging.sum()),
        "num_samples": int(settings.num_samples),
        "num_chains": int(settings.num_chains),
        "svi_loss": result.map_loss,
        "mean_leapfrog_steps": float(np.mean(result.num_steps)),
        "max_tree_depth": int(settings.max_tree_depth),
    }


@functools.lru_cache(maxsize=32)
def _predict_program(spec: ModelSpec, has_prop: bool) -> Callable:
    """Jitted posterior-predictive summary over draws (cached per spec; data as arguments)."""

    def run(post, data, Xb, src_weight):
        def one(p):
            probs, mu, cond = predict_draw(p, data, Xb, spec)
            if not has_prop:
                return probs, mu, cond, jnp.zeros_like(mu)
            nv = noise_sd(p) ** 2  # (S,) or (S, K)
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

    return jax.jit(run, compiler_options=_compiler_options(False))


def posterior_summary(
    spec: ModelSpec,
    posterior: dict[str, np.ndarray],
    train: dict[str, np.ndarray],
    Xn: np.ndarray,
    source_weight: np.ndarray,
    batch_size: int = 2048,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior-mean region probabilities and the property predictive mean / std at ``Xn``.

    The std combines the spread of the draws' means, the mean conditional variance and the mean
    noise variance (law of total variance).

    Parameters
    ----------
    spec : ModelSpec
        The problem's static description.
    posterior : dict
        Stored draws by site, ``(draws, ...)``.
    train : dict
        Padded training data (``Z``, ``Xp``, ``yp``, ``wp``, ``p_prop``, ``p_src``).
    Xn : numpy.ndarray
        Normalized query points ``(n, d)``.
    source_weight : numpy.ndarray
        ``(sources, T)``: how each property's noise mixes its sources' noise levels.
    batch_size : int
        Query points per call of the compiled program.

    Returns
    -------
    probs : numpy.ndarray
        ``(n, K)``.
    mean : numpy.ndarray
        ``(n, T)`` in standardized units.
    std : numpy.ndarray
        ``(n, T)`` in standardized units.
    """
    parts: list[tuple[np.ndarray, ...]] = []
    rows = max(len(train["Xp"]), len(train["Z"]))
    with x64(), blas_threads_for(rows):
        post = {k: jnp.asarray(v) for k, v in posterior.items()}
        data = {k: jnp.asarray(v) for k, v in train.items()}
        run = _predict_program(spec, spec.n_prop_sources > 0)
        weight = jnp.asarray(source_weight)
        for start in range(0, len(Xn), batch_size):
            Xb = Xn[start : start + batch_size]
            n = len(Xb)
            # Pad to a bucket size so that query sets of similar size share one program.
            pad = bucket_size(n) - n
            Xp = np.concatenate([Xb, np.full((pad, Xb.shape[1]), 0.5)]) if pad else Xb
            out = run(post, data, jnp.asarray(Xp), weight)
            parts.append(tuple(np.asarray(o)[:n] for o in out))
    probs, mean, std = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return probs, mean, std
