"""SAGE: one Bayesian model of the phase map and the piecewise property functions.

After Kusne et al., "Scientific AI with Gaussian processes and Embedded physics" (SAGE,
arXiv:2311.06228): structure measurements (phase labels, soft labels or clustered XRD patterns)
and property measurements (e.g. magnetization) taken at *different* points of a synthesis space
are explained jointly by

* a phase map ``p(x) = softmax(f_1(x), ..., f_K(x))`` with one latent GP per region (or, in 1-D,
  ordered sigmoid change points with a posterior on their location), observed through a
  categorical likelihood with a per-source label-noise rate;
* property functions ``y_t(x) = sum_k p_k(x) g_kt(x)`` with a stationary ARD kernel per region
  (RBF or Matern 5/2), shared by several properties (optionally with an intrinsic
  coregionalization (ICM) correlation between properties) and a noise level per source.

Inference: MAP by SVI (AutoDelta), then NUTS started from the MAP point (``init_to_value``) with
vectorized chains in float64. Latent GPs are whitened on inducing points so that NUTS mixes fast.

Example
-------
>>> lib = synthetic_library(n_points=40, seed=0)                        # doctest: +SKIP
>>> model = PhaseMapModel(n_regions=3, num_warmup=200, num_samples=200)  # doctest: +SKIP
>>> model.fit([lib.structure_source()], [lib.property_source()])         # doctest: +SKIP
>>> pred = model.predict(lib.grid(21))                                  # doctest: +SKIP
>>> pred.probs.shape, pred.entropy.shape, pred.mean.shape               # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psplab.models.sage_gp import KERNELS, choose_inducing, kernel_matrix, whitened_projection, x64

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
    """Static (hashable) shape information of one fitted problem."""

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


def _phase_probs(params: dict, X, Z, spec: _Spec):
    """Region probabilities ``(n, K)`` at normalized points ``X``."""
    import jax
    import jax.numpy as jnp

    if spec.phase == "changepoint":
        bounds = jnp.cumsum(params["gaps"])[: spec.n_regions - 1]
        c = jax.nn.sigmoid((X[:, :1] - bounds[None, :]) / spec.boundary_width)
        n = X.shape[0]
        ge = jnp.concatenate([jnp.ones((n, 1)), c, jnp.zeros((n, 1))], axis=1)
        probs = jnp.clip(ge[:, :-1] - ge[:, 1:], 1e-12, 1.0)
        return probs / jnp.sum(probs, axis=1, keepdims=True)
    A, _ = whitened_projection(X, Z, params["ls_phase"], params["amp_phase"], spec.kernel)
    F = A @ params["v_phase"] + params["bias_phase"][None, :]
    return jax.nn.softmax(F, axis=1)


def _property_functions(params: dict, X, Z, spec: _Spec):
    """Per-region property functions ``g (n, K, T)`` and their conditional variance ``(n, K, T)``."""
    import jax
    import jax.numpy as jnp

    proj = jax.vmap(whitened_projection, in_axes=(None, None, 0, None, None))
    A, cv = proj(X, Z, params["ls_prop"], jnp.asarray(1.0), spec.kernel)  # (K,n,M), (K,n)
    G = jnp.einsum("knm,kmt->knt", A, params["u_prop"])
    if spec.icm:
        G = jnp.einsum("knt,st->kns", G, params["corr_chol"])
    amp = params["amp_prop"]  # (K, T)
    G = G * amp[:, None, :] + params["mean_prop"][:, None, :]
    var = cv[:, :, None] * amp[:, None, :] ** 2
    return jnp.transpose(G, (1, 0, 2)), jnp.transpose(var, (1, 0, 2))


def _sage_model(data: dict, spec: _Spec) -> None:
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    K, T, d, M = spec.n_regions, spec.n_props, spec.dim, spec.n_inducing
    p: dict[str, Any] = {}
    if spec.phase == "changepoint":
        # Dirichlet(1) gaps = uniform prior on ordered change points in the data range.
        p["gaps"] = numpyro.sample("gaps", dist.Dirichlet(jnp.ones(K)))
        # A fixed, narrow width: sampling it creates a funnel (narrow width = flat likelihood in
        # the boundary between data points with cliffs at them) that NUTS cannot cross.
        p["width"] = spec.boundary_width
        numpyro.deterministic("boundary", jnp.cumsum(p["gaps"])[: K - 1])
    else:
        p["ls_phase"] = numpyro.sample(
            "ls_phase", dist.LogNormal(jnp.log(0.25), 0.5).expand([d]).to_event(1)
        )
        p["amp_phase"] = numpyro.sample("amp_phase", dist.LogNormal(jnp.log(3.0), 0.5))
        p["bias_phase"] = numpyro.sample(
            "bias_phase", dist.Normal(0.0, 1.0).expand([K]).to_event(1)
        )
        p["v_phase"] = numpyro.sample("v_phase", dist.Normal(0.0, 1.0).expand([M, K]).to_event(2))
    Xs, Xp = data["Xs"], data["Xp"]
    n_s = Xs.shape[0]
    X_all = jnp.concatenate([Xs, Xp], axis=0)
    probs = _phase_probs(p, X_all, data["Z"], spec)

    if spec.n_struct_sources:
        eps = numpyro.sample(
            "label_noise", dist.Beta(1.0, 50.0).expand([spec.n_struct_sources]).to_event(1)
        )
        e = eps[data["s_src"]][:, None]
        p_obs = (1.0 - e) * probs[:n_s] + e / K
        # Soft labels q enter as sum_k q_k log p_k (one-hot q gives the categorical likelihood).
        numpyro.factor("structure", jnp.sum(data["Qs"] * jnp.log(p_obs)))

    if spec.n_prop_sources:
        p["ls_prop"] = numpyro.sample(
            "ls_prop", dist.LogNormal(jnp.log(0.3), 0.5).expand([K, d]).to_event(2)
        )
        p["amp_prop"] = numpyro.sample(
            "amp_prop", dist.LogNormal(0.0, 0.5).expand([K, T]).to_event(2)
        )
        p["mean_prop"] = numpyro.sample(
            "mean_prop", dist.Normal(0.0, 1.0).expand([K, T]).to_event(2)
        )
        p["u_prop"] = numpyro.sample("u_prop", dist.Normal(0.0, 1.0).expand([K, M, T]).to_event(3))
        if spec.icm:
            p["corr_chol"] = numpyro.sample("corr_chol", dist.LKJCholesky(T, 2.0))
        sigma = numpyro.sample(
            "noise", dist.LogNormal(jnp.log(0.05), 0.7).expand([spec.n_prop_sources]).to_event(1)
        )
        G, _ = _property_functions(p, Xp, data["Z"], spec)  # (n, K, T)
        g = jnp.take_along_axis(G, data["p_prop"][:, None, None], axis=2)[:, :, 0]
        mu = jnp.sum(probs[n_s:] * g, axis=1)
        numpyro.sample("y", dist.Normal(mu, sigma[data["p_src"]]), obs=data["yp"])


def _potential(data: dict, spec: _Spec, rng_key):
    """Potential energy on the unconstrained space, the map back, and a start point.

    The model is traced once abstractly (``jax.eval_shape``) to read each latent site's support;
    NUTS then works on ``-log p`` plus the log-Jacobians of the bijections, all inside jit.
    """
    import jax
    import jax.numpy as jnp
    from numpyro import handlers
    from numpyro.distributions.transforms import biject_to
    from numpyro.infer.util import log_density

    sites: dict[str, Any] = {}

    def trace_sites(d):
        tr = handlers.trace(handlers.seed(_sage_model, rng_seed=0)).get_trace(d, spec)
        for name, site in tr.items():
            if site["type"] == "sample" and not site["is_observed"]:
                sites[name] = (site["fn"].support, site["value"].shape)
        return jnp.zeros(())

    jax.eval_shape(trace_sites, data)
    transforms = {name: biject_to(support) for name, (support, _) in sites.items()}

    def constrain(u: dict) -> dict:
        params = {k: transforms[k](u[k]) for k in transforms}
        if spec.phase == "changepoint":
            params["boundary"] = jnp.cumsum(params["gaps"])[: spec.n_regions - 1]
        return params

    def potential(u: dict):
        params = {k: transforms[k](u[k]) for k in transforms}
        logp, _ = log_density(_sage_model, (data, spec), {}, params)
        logdet = sum(
            jnp.sum(transforms[k].log_abs_det_jacobian(u[k], params[k])) for k in transforms
        )
        return -(logp + logdet)

    # Start at the prior's centre: whitened latents at 0, scales at their prior medians.
    init_u = {}
    for name, (_support, shape) in sites.items():
        ushape = transforms[name].inverse_shape(shape)
        init_u[name] = jnp.zeros(ushape)
    medians = {
        "ls_phase": np.log(0.25),
        "amp_phase": np.log(3.0),
        "ls_prop": np.log(0.3),
        "noise": np.log(0.05),
        "label_noise": -4.0,
    }
    for name, value in medians.items():
        if name in init_u:
            init_u[name] = jnp.full(init_u[name].shape, value)
    del rng_key  # the start point is deterministic; randomness enters through NUTS
    # jit: NUTS evaluates the potential once outside its compiled loop (initial energy and
    # gradient); un-jitted, that eager call compiled hundreds of single operations.
    return jax.jit(potential), constrain, init_u


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
        NUTS settings; chains run vectorized (``chain_method="vectorized"``).
    svi_steps, svi_lr
        MAP optimization that initializes NUTS.
    max_inducing
        Inducing points for the whitened latent GPs: all distinct inputs when there are at most
        this many, else k-means centres.
    max_tree_depth, target_accept_prob
        NUTS settings; the tree depth defaults to 7 for the change-point model (the boundary must
        travel across a flat likelihood between measured points) and 5 for the GP phase map.
    max_stored_draws
        Posterior draws kept (thinned evenly) for prediction and saving.
    boundary_width
        Width of the sigmoid change points (``phase_model="changepoint"``) as a fraction of the
        input range; small enough to act as a step between measured points.
    seed
        Seeds SVI, NUTS and the inducing-point k-means.
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
        max_tree_depth: int | None = None,
        target_accept_prob: float = 0.85,
        max_stored_draws: int = 400,
        boundary_width: float = 0.001,
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
        self.max_tree_depth = max_tree_depth
        self.target_accept_prob = target_accept_prob
        self.max_stored_draws = max_stored_draws
        self.boundary_width = boundary_width
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
        self.x_lo_ = X_all.min(axis=0)
        span = X_all.max(axis=0) - self.x_lo_
        self.x_scale_ = np.where(span > 0, span, 1.0)

        def norm(X: np.ndarray) -> np.ndarray:
            return (X - self.x_lo_) / self.x_scale_

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

        Z = choose_inducing(norm(X_all), int(self.max_inducing), seed=self.seed)
        data_np = {
            "Z": Z,
            "Xs": norm(np.concatenate([s.X for s in S])) if S else np.zeros((0, d)),
            "Qs": np.concatenate(Qs_list) if S else np.zeros((0, K)),
            "s_src": np.concatenate(s_src).astype(np.int32) if S else np.zeros(0, np.int32),
            "Xp": norm(np.concatenate([s.X for s in P])) if P else np.zeros((0, d)),
            "yp": (
                np.concatenate(
                    [
                        (s.y - self.y_mean_[t]) / self.y_std_[t]
                        for s, t in zip(P, self.property_source_prop_, strict=True)
                    ]
                )
                if P
                else np.zeros(0)
            ),
            "p_prop": (
                np.concatenate(
                    [
                        np.full(len(s.y), t)
                        for s, t in zip(P, self.property_source_prop_, strict=True)
                    ]
                ).astype(np.int32)
                if P
                else np.zeros(0, np.int32)
            ),
            "p_src": (
                np.concatenate([np.full(len(s.y), i) for i, s in enumerate(P)]).astype(np.int32)
                if P
                else np.zeros(0, np.int32)
            ),
        }
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
        )
        self.Z_ = Z
        self.n_dim_ = d
        t0 = time.perf_counter()
        with x64():
            self._run_inference(data_np)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _run_inference(self, data_np: dict[str, np.ndarray]) -> None:
        import jax
        import jax.numpy as jnp
        from numpyro.diagnostics import summary
        from numpyro.infer import MCMC, NUTS

        data = {k: jnp.asarray(v) for k, v in data_np.items()}
        spec = self.spec_
        key = jax.random.PRNGKey(int(self.seed))
        k_init, k_mcmc = jax.random.split(key)
        potential, constrain, init_u = _potential(data, spec, k_init)
        n_steps = int(self.svi_steps)
        lr = float(self.svi_lr)

        # MAP point (SVI with a point-mass guide on the unconstrained space): one jitted
        # program for all Adam steps; eager op-by-op execution used to dominate fit time.
        @jax.jit
        def run_map(u0):
            import optax

            opt = optax.adam(lr)
            state = opt.init(u0)
            value_and_grad = jax.value_and_grad(potential)

            def body(carry, _):
                u, st = carry
                loss, g = value_and_grad(u)
                updates, st = opt.update(g, st, u)
                return (optax.apply_updates(u, updates), st), loss

            (u, _), losses = jax.lax.scan(body, (u0, state), None, length=n_steps)
            return u, losses

        u_map, losses = run_map(init_u)
        self.svi_loss_ = float(losses[-1])
        if not np.isfinite(self.svi_loss_):
            u_map = init_u  # fall back to the prior-median start rather than NaNs

        nuts = NUTS(
            potential_fn=potential,
            max_tree_depth=int(self.max_tree_depth or (7 if spec.phase == "changepoint" else 5)),
            target_accept_prob=float(self.target_accept_prob),
        )
        mcmc = MCMC(
            nuts,
            num_warmup=int(self.num_warmup),
            num_samples=int(self.num_samples),
            num_chains=int(self.num_chains),
            chain_method="vectorized",
            progress_bar=False,
        )
        n_chains = int(self.num_chains)
        init_params = jax.tree_util.tree_map(
            lambda v: jnp.broadcast_to(v, (n_chains,) + v.shape) if n_chains > 1 else v, u_map
        )
        mcmc.run(k_mcmc, init_params=init_params, extra_fields=("diverging",))
        by_chain_u = mcmc.get_samples(group_by_chain=True)
        by_chain = jax.jit(jax.vmap(jax.vmap(constrain)))(by_chain_u)
        by_chain = {k: np.asarray(v) for k, v in by_chain.items()}
        diverging = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"])

        stats = summary({k: v for k, v in by_chain.items() if k != "boundary"}, group_by_chain=True)
        rhat = np.concatenate([np.ravel(s["r_hat"]) for s in stats.values()])
        ess = np.concatenate([np.ravel(s["n_eff"]) for s in stats.values()])
        self.diagnostics_ = {
            "rhat_max": float(np.nanmax(rhat)) if np.any(np.isfinite(rhat)) else float("nan"),
            "ess_min": float(np.nanmin(ess)) if np.any(np.isfinite(ess)) else float("nan"),
            "divergences": int(diverging.sum()),
            "num_samples": int(self.num_samples),
            "num_chains": int(self.num_chains),
            "svi_loss": self.svi_loss_,
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
        return (X - self.x_lo_) / self.x_scale_

    def predict(self, X: Any, batch_size: int = 2048) -> PhaseMapPrediction:
        """Phase probabilities, entropy, labels and property mean/std at points ``X`` ``(n, d)``."""
        self._check_fitted()
        Xn = self._normalize(X)
        probs_parts, mean_parts, std_parts = [], [], []
        with x64():
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
        import jax
        import jax.numpy as jnp

        spec = self.spec_
        post = {k: jnp.asarray(v) for k, v in self.posterior_.items()}
        Z = jnp.asarray(self.Z_)
        has_prop = spec.n_prop_sources > 0
        if has_prop:
            prop_of_src = np.asarray(self.property_source_prop_)
            # The noise of a property: the mean variance over the sources that measured it.
            src_weight = np.zeros((spec.n_prop_sources, spec.n_props))
            src_weight[np.arange(len(prop_of_src)), prop_of_src] = 1.0
            src_weight /= src_weight.sum(axis=0, keepdims=True)
            src_weight = jnp.asarray(src_weight)

        @jax.jit
        def run(Xb):
            def one(p):
                probs = _phase_probs(p, Xb, Z, spec)
                if not has_prop:
                    zeros = jnp.zeros((Xb.shape[0], spec.n_props))
                    return probs, zeros, zeros, jnp.zeros(spec.n_props)
                G, var = _property_functions(p, Xb, Z, spec)
                mu = jnp.einsum("nk,nkt->nt", probs, G)
                cond = jnp.einsum("nk,nkt->nt", probs**2, var)
                noise_var = (p["noise"] ** 2) @ src_weight
                return probs, mu, cond, noise_var

            probs, mu, cond, noise_var = jax.lax.map(one, post)
            var = jnp.var(mu, axis=0) + jnp.mean(cond, axis=0) + jnp.mean(noise_var, axis=0)[None]
            if not has_prop:
                var = jnp.zeros_like(var)
            return jnp.mean(probs, axis=0), jnp.mean(mu, axis=0), jnp.sqrt(var)

        def call(Xb: np.ndarray):
            out = run(jnp.asarray(Xb))
            return tuple(np.asarray(o) for o in out)

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
        arrays.update(
            Z=self.Z_,
            x_lo=self.x_lo_,
            x_scale=self.x_scale_,
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
        model.posterior_ = {k[6:]: v for k, v in arrays.items() if k.startswith("post__")}
        model.Z_ = arrays["Z"]
        model.x_lo_, model.x_scale_ = arrays["x_lo"], arrays["x_scale"]
        model.y_mean_, model.y_std_ = arrays["y_mean"], arrays["y_std"]
        kind = st["classes_kind"]
        model.classes_ = np.asarray(st["classes"], dtype=None if kind in "US" else kind)
        model.property_names_ = st["property_names"]
        model.property_source_names_ = st["property_source_names"]
        model.property_source_prop_ = st["property_source_prop"]
        model.structure_names_ = st["structure_names"]
        model.spec_ = _Spec(**st["spec"])
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
