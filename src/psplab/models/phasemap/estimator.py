"""The phase-map estimator: one Bayesian model of the phase regions and the piecewise properties.

After Kusne et al., "Scientific AI with Gaussian processes and Embedded physics" (SAGE,
arXiv:2311.06228): structure measurements (phase labels, soft labels or clustered XRD patterns)
and property measurements (e.g. magnetization) taken at *different* points of a synthesis space
are explained jointly by

* a phase map ``p(x) = softmax(f_1(x), ..., f_K(x))`` with one latent GP per region (or, in 1-D,
  step change points with a posterior on their location; with two regions the location is
  marginalized exactly on a fine grid), observed through a categorical likelihood with a
  per-source label-noise rate;
* property functions ``y_t(x) = sum_k p_k(x) g_kt(x)`` with a stationary ARD kernel per region
  (RBF or Matern 5/2), shared by several properties (optionally with an intrinsic
  coregionalization (ICM) correlation between properties) and a noise level per source.

Inference: MAP (Adam) then NUTS from the MAP point (:mod:`psplab.models.phasemap.inference`).

Example
-------
>>> lib = synthetic_library(n_points=40, seed=0)                        # doctest: +SKIP
>>> model = PhaseMapModel(n_regions=3, num_warmup=200, num_samples=200)  # doctest: +SKIP
>>> model.fit([lib.structure_source()], [lib.property_source()])         # doctest: +SKIP
>>> pred = model.predict(lib.grid(21))                                  # doctest: +SKIP
>>> pred.probs.shape, pred.entropy.shape, pred.mean.shape               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from psplab.errors import InputError, ModelFileError
from psplab.limits import require_at_most
from psplab.models.phasemap.design import (
    changepoint_grid,
    pad_rows,
    region_classes,
    require_fit_memory,
    soft_labels,
    source_index,
)
from psplab.models.phasemap.gp import KERNELS, choose_inducing
from psplab.models.phasemap.likelihood import PHASE_MODELS, ModelSpec, bucket_size, sites
from psplab.models.phasemap.prediction import PhaseMapPrediction, entropy
from psplab.models.phasemap.sources import (
    PropertySource,
    StructureSource,
    as_points,
    coerce_property,
    coerce_structure,
    independent_columns,
)

__all__ = [
    "FORMAT_VERSION",
    "ChangePointModel",
    "PhaseMapModel",
    "SamplingWarning",
    "load_phase_map",
]

# Version of the saved-model format (``model.json`` + ``model.npz``); a file of another
# version is refused with a clear message.
FORMAT_VERSION = 1

# Upper bounds on the size options, checked before any work (each is far above what a phase
# map of a materials library needs; beyond them a fit runs for hours or exhausts memory).
SIZE_LIMITS = {
    "num_warmup": 100_000,
    "num_samples": 100_000,
    "num_chains": 64,
    "max_inducing": 1024,
    "max_tree_depth": 12,
    "svi_steps": 1_000_000,
    "max_stored_draws": 1_000_000,
    "n_grid": 100_000,
}


class SamplingWarning(UserWarning):
    """NUTS diagnostics are bad (R-hat, effective sample size or divergences)."""


class PhaseMapModel(BaseEstimator):
    """Joint Bayesian phase map + piecewise property model (SAGE), fitted by MAP then NUTS.

    Parameters
    ----------
    n_regions : int
        Number of phase regions ``K``.
    kernel : str
        ``"rbf"`` or ``"matern52"`` (stationary, ARD lengthscales per input dimension).
    phase_model : str or None
        ``"gp"``: one latent GP per region -> softmax (any dimension); ``"changepoint"``:
        1-D ordered boundaries with a posterior on their locations. None: the class's default
        (``"gp"``; ``"changepoint"`` for :class:`ChangePointModel`).
    icm : bool
        Correlate the properties within each region through an LKJ-distributed ICM matrix.
    num_warmup, num_samples, num_chains : int
        NUTS settings.
    svi_steps : int
        Adam steps of the MAP search that initializes NUTS.
    svi_lr : float
        Its learning rate.
    max_inducing : int
        Inducing points for the whitened latent GPs: all distinct inputs when there are at most
        this many, else k-means centres.
    phase_kernel : str
        ``"map"``: the phase GPs' lengthscales and amplitude are fixed at their MAP values
        (empirical Bayes) and NUTS samples the latent functions, offsets and property
        hyperparameters (sampling the kernel too leaves a funnel between amplitude and weights
        that NUTS does not mix on); ``"sample"``: sample them too.
    max_tree_depth : int or None
        NUTS tree depth (None: 5, at most 31 leapfrog steps per draw).
    target_accept_prob : float
        NUTS step-size adaptation target.
    max_stored_draws : int
        Posterior draws kept (thinned evenly) for prediction and saving.
    boundary_width : float
        Width of the sigmoid change points (change-point model) as a fraction of the input
        range, used at prediction.
    n_grid : int
        Change-point model with two regions: the boundary is summed out exactly over this many
        equal cells of the observed range (uniform prior); each draw's boundary is then drawn
        from its exact conditional. More regions use ordered Dirichlet gaps sampled by NUTS.
    chain_method : str
        ``"sequential"``: chains run one after another inside the same compiled program;
        ``"vectorized"``: chains batched with ``vmap`` (faster per step on an accelerator, but
        about ten times the compile time on the CPU).
    shared_trend : bool
        Add a property GP shared by all regions, ``y = g_0 + sum_k p_k g_k`` (GP phase model
        only), for properties that vary smoothly across some boundaries and jump at others.
    region_noise : bool
        A noise level per property source *and region*, for properties whose scatter differs
        between phases.
    seed : int
        Seeds the MAP start, NUTS and the inducing-point k-means.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Region names (the structure labels, then ``region<k>`` for unlabelled regions).
    posterior_ : dict
        Stored posterior draws by site.
    diagnostics_ : dict
        ``rhat_max``, ``ess_min``, ``divergences``, ... (:func:`sampling_diagnostics`).
    input_columns_ : numpy.ndarray
        The input columns modelled (see :func:`independent_columns`).
    n_dim_ : int
        Input columns ``predict`` expects.

    Notes
    -----
    Inputs bound by a linear constraint (compositions that sum to 100 %) are modelled on their
    independent columns, ``input_columns_``; ``predict`` still takes every column.
    """

    default_phase_model = "gp"

    def __init__(
        self,
        n_regions: int = 2,
        kernel: str = "rbf",
        phase_model: str | None = None,
        icm: bool = False,
        # sampler
        num_warmup: int = 200,
        num_samples: int = 200,
        num_chains: int = 1,
        svi_steps: int = 1500,
        svi_lr: float = 0.02,
        # phase GPs
        max_inducing: int = 64,
        phase_kernel: str = "map",
        # sampler details
        max_tree_depth: int | None = None,
        target_accept_prob: float = 0.85,
        max_stored_draws: int = 400,
        # change points
        boundary_width: float = 0.001,
        n_grid: int = 400,
        chain_method: str = "sequential",
        # property model
        shared_trend: bool = False,
        region_noise: bool = False,
        seed: int = 0,
    ) -> None:
        # scikit-learn convention: store the parameters as given; fit checks them.
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
    @property
    def phase_model_(self) -> str:
        """The phase model in use: ``phase_model``, or the class's default when it is None."""
        return self.phase_model or self.default_phase_model

    def check_params(self) -> None:
        """Check every parameter before any work, with one line per problem.

        Raises
        ------
        InputError
            A value out of its domain (every problem listed).
        ResourceError
            A size option above its bound (:data:`SIZE_LIMITS`).
        """
        problems = []
        choices = {
            "kernel": (self.kernel, KERNELS),
            "phase_model": (self.phase_model_, PHASE_MODELS),
            "phase_kernel": (self.phase_kernel, ("map", "sample")),
            "chain_method": (self.chain_method, ("sequential", "vectorized")),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                problems.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if type(self) is not PhaseMapModel and self.phase_model_ != self.default_phase_model:
            problems.append(f"{type(self).__name__} needs phase_model={self.default_phase_model!r}")
        if self.shared_trend and self.phase_model_ == "changepoint":
            problems.append(
                "shared_trend needs phase_model='gp' (the change-point likelihood "
                "factorizes over regions)"
            )
        sizes = dict(self._sizes(), n_regions=self.n_regions)
        for name, value in sizes.items():
            low = 2 if name == "n_regions" else 0 if name in ("num_warmup", "svi_steps") else 1
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                problems.append(f"{name} must be an integer >= {low}, got {value!r}")
        if not 0.0 < float(self.target_accept_prob) < 1.0:
            problems.append(f"target_accept_prob must be in (0, 1), got {self.target_accept_prob}")
        if problems:
            raise InputError(problems)
        for name, value in self._sizes().items():
            require_at_most(name, value, SIZE_LIMITS[name])

    def _sizes(self) -> dict[str, Any]:
        """The size options (those in :data:`SIZE_LIMITS`), tree depth None read as 5."""
        sizes = {name: getattr(self, name) for name in SIZE_LIMITS}
        if sizes["max_tree_depth"] is None:
            sizes["max_tree_depth"] = 5
        return sizes

    def sampler_settings(self):
        """The MAP and NUTS settings of this model.

        Returns
        -------
        settings : psplab.models.phasemap.inference.SamplerSettings
        """
        from psplab.models.phasemap.inference import SamplerSettings

        return SamplerSettings(
            num_warmup=int(self.num_warmup),
            num_samples=int(self.num_samples),
            num_chains=int(self.num_chains),
            max_tree_depth=int(5 if self.max_tree_depth is None else self.max_tree_depth),
            target_accept_prob=float(self.target_accept_prob),
            svi_steps=int(self.svi_steps),
            svi_lr=float(self.svi_lr),
            vectorized=self.chain_method == "vectorized",
        )

    # --- fitting -------------------------------------------------------------------------
    def fit(
        self,
        structure_sources: Sequence[StructureSource] | StructureSource | None = None,
        property_sources: Sequence[PropertySource] | PropertySource | None = None,
    ) -> PhaseMapModel:
        """Fit to any number of structure and property sources.

        Parameters
        ----------
        structure_sources : StructureSource or sequence, optional
            Phase labels, soft labels or diffraction patterns at points.
        property_sources : PropertySource or sequence, optional
            Property values at points (sources with the same ``prop`` share one property).

        Returns
        -------
        self : PhaseMapModel
            Fitted.

        Raises
        ------
        InputError
            Bad parameters or sources (one line per problem); ``ResourceError`` when a size
            option or the estimated memory is above its bound.
        """
        self.check_params()
        S = coerce_structure(structure_sources)
        P = coerce_property(property_sources)
        if not S and not P:
            raise InputError("fit needs at least one structure or property source")
        dims = {s.X.shape[1] for s in S} | {s.X.shape[1] for s in P}
        if len(dims) != 1:
            raise InputError(f"all sources must have the same input dimension, got {sorted(dims)}")
        if self.phase_model_ == "changepoint" and dims != {1}:
            raise InputError(
                f"phase_model='changepoint' needs 1-D inputs, got dimension {dims.pop()}"
            )
        self.classes_ = region_classes(S, int(self.n_regions), self.phase_model_)
        X_all = np.concatenate([s.X for s in S] + [s.X for s in P], axis=0)
        self.n_dim_ = X_all.shape[1]
        self._fit_scaling(X_all)
        self._fit_property_scaling(P)
        d, K = len(self.input_columns_), int(self.n_regions)
        n_grid = int(self.n_grid) if self.phase_model_ == "changepoint" and K == 2 else 0
        n_inducing = min(int(self.max_inducing), 24 if d == 1 else len(X_all))
        self.spec_ = self._model_spec(S, P, n_inducing, n_grid)
        n_rows = [bucket_size(sum(len(s.X) for s in sources)) for sources in (S, P)]
        require_fit_memory(self.spec_, self.sampler_settings(), *n_rows)
        Qs = soft_labels(S, self.classes_, seed=self.seed)
        self.structure_names_ = [s.name for s in S]
        if d == 1:
            # 1-D: an even grid over the observed range is enough for the smooth per-region
            # functions, and its size does not depend on the data (one compiled program).
            Z = np.linspace(0.0, 1.0, n_inducing)[:, None]
        else:
            Z = choose_inducing(self.scale_inputs(X_all), int(self.max_inducing), seed=self.seed)
            self.spec_ = dataclasses.replace(self.spec_, n_inducing=len(Z))
        data = self._pack_data(S, P, Qs, Z)
        self.Z_ = Z
        # The property data (normalized, padded) are part of the fitted model: predictions
        # condition the integrated-out property functions on them.
        self.train_ = {k: data[k] for k in ("Xp", "yp", "wp", "p_prop", "p_src")}
        t0 = time.perf_counter()
        self._sample(data)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _fit_scaling(self, X_all: np.ndarray) -> None:
        """Input range, independent columns and the [0, 1] scaling of those columns."""
        self.input_min_, self.input_max_ = X_all.min(axis=0), X_all.max(axis=0)
        self.input_columns_ = independent_columns(X_all)
        cols = self.input_columns_
        self.x_lo_ = X_all[:, cols].min(axis=0)
        span = X_all[:, cols].max(axis=0) - self.x_lo_
        self.x_scale_ = np.where(span > 0, span, 1.0)

    def _fit_property_scaling(self, P: list[PropertySource]) -> None:
        """Property names, each property's mean and std, and each source's property index."""
        self.property_names_ = list(dict.fromkeys(s.prop for s in P))
        T = max(len(self.property_names_), 1)
        self.y_mean_, self.y_std_ = np.zeros(T), np.ones(T)
        for t, name in enumerate(self.property_names_):
            y = np.concatenate([s.y for s in P if s.prop == name])
            self.y_mean_[t] = y.mean()
            self.y_std_[t] = y.std() if y.std() > 0 else 1.0
        self.property_source_names_ = [s.name for s in P]
        self.property_source_prop_ = [self.property_names_.index(s.prop) for s in P]

    def _pack_data(
        self, S: list[StructureSource], P: list[PropertySource], Qs: list[np.ndarray], Z: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Normalized data padded to bucket sizes (padding leaves the likelihood unchanged)."""
        d, K = len(self.input_columns_), int(self.n_regions)
        Xs = self.scale_inputs(np.concatenate([s.X for s in S])) if S else np.zeros((0, d))
        Xp = self.scale_inputs(np.concatenate([s.X for s in P])) if P else np.zeros((0, d))
        t_of = self.property_source_prop_
        yp = [(s.y - self.y_mean_[t]) / self.y_std_[t] for s, t in zip(P, t_of, strict=True)]
        ns, npp = bucket_size(len(Xs)), bucket_size(len(Xp))
        # Padded structure rows have all-zero soft labels, padded property rows zero weight.
        data = {
            "Z": Z,
            "Xs": pad_rows(Xs, ns, 0.5),
            "Qs": pad_rows(np.concatenate(Qs) if S else np.zeros((0, K)), ns),
            "s_src": pad_rows(source_index([len(s.X) for s in S]), ns),
            "Xp": pad_rows(Xp, npp, 0.5),
            "yp": pad_rows(np.concatenate(yp) if P else np.zeros(0), npp),
            "wp": pad_rows(np.ones(len(Xp)), npp),
            "p_prop": pad_rows(source_index([len(s.y) for s in P], t_of), npp),
            "p_src": pad_rows(source_index([len(s.y) for s in P]), npp),
        }
        if self.phase_model_ == "changepoint" and K == 2:
            data.update(changepoint_grid(data["Xs"][:, 0], Xp[:, 0], npp, int(self.n_grid)))
        return data

    def _model_spec(
        self, S: list[StructureSource], P: list[PropertySource], n_inducing: int, n_grid: int
    ) -> ModelSpec:
        from psplab.models.phasemap.inference import PHASE_KERNEL_SITES

        T = max(len(self.property_names_), 1)
        # Fixing the property kernel too was tried: same tree depth, worse R-hat.
        gp_map = self.phase_model_ == "gp" and self.phase_kernel == "map"
        return ModelSpec(
            phase=self.phase_model_,
            kernel=self.kernel,
            n_regions=int(self.n_regions),
            n_props=T,
            n_struct_sources=len(S),
            n_prop_sources=len(P),
            icm=bool(self.icm) and T > 1,
            dim=len(self.input_columns_),
            n_inducing=n_inducing,
            boundary_width=float(self.boundary_width),
            n_grid=n_grid,
            fixed_sites=PHASE_KERNEL_SITES if gp_map else (),
            trend=bool(self.shared_trend) and bool(P),
            region_noise=bool(self.region_noise) and bool(P),
        )

    def _sample(self, data: dict[str, np.ndarray]) -> None:
        """Run inference; keep the diagnostics and an evenly thinned set of draws."""
        from psplab.models.phasemap.inference import run_inference, sampling_diagnostics

        settings = self.sampler_settings()
        result = run_inference(self.spec_, data, settings, int(self.seed))
        self.svi_loss_ = result.map_loss
        self.diagnostics_ = sampling_diagnostics(result, self.spec_, settings)
        _warn_if_bad(self.diagnostics_)
        flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in result.draws.items()}
        n_draws = next(iter(flat.values())).shape[0]
        keep = np.unique(
            np.linspace(0, n_draws - 1, min(n_draws, int(self.max_stored_draws))).astype(int)
        )
        self.posterior_ = {k: v[keep] for k, v in flat.items()}

    # --- prediction ----------------------------------------------------------------------
    def scale_inputs(self, X: Any) -> np.ndarray:
        """Points as the model sees them: the independent columns scaled to the unit cube.

        Parameters
        ----------
        X : array-like
            Points ``(n, n_dim_)`` in input units.

        Returns
        -------
        Xn : numpy.ndarray
            ``(n, len(input_columns_))``.
        """
        X = as_points(X, "points")
        if hasattr(self, "n_dim_") and X.shape[1] != self.n_dim_:
            raise InputError(f"predict: expected {self.n_dim_} input columns, got {X.shape[1]}")
        return (X[:, self.input_columns_] - self.x_lo_) / self.x_scale_

    def predict(self, X: Any, batch_size: int = 2048) -> PhaseMapPrediction:
        """Phase probabilities, entropy, labels and property mean/std at points ``X``.

        Parameters
        ----------
        X : array-like
            Query points ``(n, n_dim_)`` in input units.
        batch_size : int
            Query points per call of the compiled prediction program.

        Returns
        -------
        prediction : PhaseMapPrediction

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit` (or :meth:`load`).
        """
        from psplab.models.phasemap.inference import posterior_summary

        check_is_fitted(self, "posterior_")
        Xn = self.scale_inputs(X)
        train = dict(self.train_, Z=self.Z_)
        probs, mean, std = posterior_summary(
            self.spec_, self.posterior_, train, Xn, self._source_weight(), int(batch_size)
        )
        return PhaseMapPrediction(
            probs=probs,
            entropy=entropy(probs),
            labels=self.classes_[np.argmax(probs, axis=1)],
            mean=mean * self.y_std_ + self.y_mean_,
            std=std * self.y_std_,
            property_names=list(self.property_names_),
            region_names=[str(c) for c in self.classes_],
        )

    def _source_weight(self) -> np.ndarray:
        """``(sources, T)``: a property's noise is the mean variance of the sources measuring it."""
        spec = self.spec_
        weight = np.zeros((max(spec.n_prop_sources, 1), spec.n_props))
        if spec.n_prop_sources:
            prop_of_src = np.asarray(self.property_source_prop_)
            weight[np.arange(len(prop_of_src)), prop_of_src] = 1.0
            weight /= weight.sum(axis=0, keepdims=True)
        return weight

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior-mean region probabilities (``predict(X).probs``).

        Parameters
        ----------
        X : array-like
            ``(n, n_dim_)`` points in input units.

        Returns
        -------
        probs : numpy.ndarray
            ``(n, K)``, rows summing to 1.
        """
        return self.predict(X).probs

    def predict_labels(self, X: Any) -> np.ndarray:
        """Most probable region at each point (``predict(X).labels``).

        Parameters
        ----------
        X : array-like
            Where to label, ``(n, n_dim_)``.

        Returns
        -------
        labels : numpy.ndarray
            ``(n,)``, named as the structure sources' labels.
        """
        return self.predict(X).labels

    def boundary_samples(self) -> np.ndarray:
        """Posterior draws of the change points in input units (change-point model).

        Returns
        -------
        draws : numpy.ndarray
            ``(draws, K - 1)``.
        """
        check_is_fitted(self, "posterior_")
        if self.phase_model_ != "changepoint":
            raise InputError("boundary_samples needs phase_model='changepoint'")
        return self.posterior_["boundary"] * self.x_scale_[0] + self.x_lo_[0]

    def boundary_interval(self, level: float = 0.9) -> np.ndarray:
        """Equal-tailed credible interval of each change point (change-point model).

        Parameters
        ----------
        level : float
            Probability inside the interval.

        Returns
        -------
        interval : numpy.ndarray
            ``(K - 1, 2)``: lower and upper end.
        """
        b = self.boundary_samples()
        a = (1.0 - level) / 2.0
        return np.stack([np.quantile(b, a, axis=0), np.quantile(b, 1 - a, axis=0)], axis=1)

    # --- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``path.npz`` (draws, inducing points, scalings, data) and ``path.json``.

        Parameters
        ----------
        path : str or Path
            File name without suffix.

        Returns
        -------
        json_path : Path
            The ``.json`` file written (no pickle anywhere).
        """
        check_is_fitted(self, "posterior_")
        base = Path(path)
        base.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"post__{k}": v for k, v in self.posterior_.items()}
        arrays.update({f"train__{k}": v for k, v in self.train_.items()})
        for name in _SAVED_ARRAYS:
            arrays[name] = getattr(self, name + "_")
        np.savez(base.with_suffix(".npz"), **arrays)
        meta = {
            "model": "phase_map",
            "format_version": FORMAT_VERSION,
            "params": {**self.get_params(), "phase_model": self.phase_model_},
            "state": {
                "classes": self.classes_.tolist(),
                "classes_kind": self.classes_.dtype.kind,
                "property_names": self.property_names_,
                "property_source_names": self.property_source_names_,
                "property_source_prop": self.property_source_prop_,
                "structure_names": self.structure_names_,
                "spec": {**self.spec_.__dict__, "fixed_sites": list(self.spec_.fixed_sites)},
                "n_dim": self.n_dim_,
                "diagnostics": self.diagnostics_,
                "fit_seconds": self.fit_seconds_,
                "svi_loss": self.svi_loss_,
            },
        }
        base.with_suffix(".json").write_text(json.dumps(meta, indent=2))
        return base.with_suffix(".json")

    @classmethod
    def load(cls, path: str | Path) -> PhaseMapModel:
        """Rebuild a model written by :meth:`save` (no pickle involved).

        Parameters
        ----------
        path : str or Path
            File name with or without suffix.

        Returns
        -------
        model : PhaseMapModel
            Fitted.

        Raises
        ------
        ModelFileError
            Missing, damaged or of another format version.
        """
        base = Path(path)
        json_path, npz_path = base.with_suffix(".json"), base.with_suffix(".npz")
        try:
            meta = json.loads(json_path.read_text())
            if not isinstance(meta, dict) or meta.get("model") != "phase_map":
                raise ModelFileError(f"{json_path}: not a saved phase-map model")
            if meta.get("format_version") != FORMAT_VERSION:
                raise ModelFileError(
                    f"{json_path}: format version {meta.get('format_version')!r}, this psplab "
                    f"reads version {FORMAT_VERSION}; refit the model"
                )
            with np.load(npz_path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            model = PhaseMapModel(**meta["params"])
            model._set_state(arrays, meta["state"])
        except ModelFileError:
            raise
        except FileNotFoundError as exc:
            raise ModelFileError(
                f"{exc.filename}: no such file (not a saved phase-map model)"
            ) from exc
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise ModelFileError(
                f"{base}: damaged phase-map model ({type(exc).__name__}: {exc})"
            ) from exc
        return model

    def _set_state(self, arrays: dict[str, np.ndarray], st: dict[str, Any]) -> None:
        self.posterior_ = {k[6:]: v for k, v in arrays.items() if k.startswith("post__")}
        self.train_ = {k[7:]: v for k, v in arrays.items() if k.startswith("train__")}
        for name in _SAVED_ARRAYS:
            setattr(self, name + "_", arrays[name])
        kind = st["classes_kind"]
        self.classes_ = np.asarray(st["classes"], dtype=None if kind in "US" else kind)
        self.property_names_ = list(st["property_names"])
        self.property_source_names_ = list(st["property_source_names"])
        self.property_source_prop_ = [int(t) for t in st["property_source_prop"]]
        self.structure_names_ = list(st["structure_names"])
        self.spec_ = ModelSpec(**{**st["spec"], "fixed_sites": tuple(st["spec"]["fixed_sites"])})
        self.n_dim_ = int(st["n_dim"])
        self.diagnostics_ = dict(st["diagnostics"])
        self.fit_seconds_ = float(st["fit_seconds"])
        self.svi_loss_ = float(st["svi_loss"])
        if not self.posterior_ or set(self.posterior_) < set(sites(self.spec_)):
            raise ModelFileError("posterior draws missing from the .npz")


class ChangePointModel(PhaseMapModel):
    """The 1-D variant: ordered change points with a posterior on their locations.

    Takes the parameters of :class:`PhaseMapModel`; ``phase_model`` is ``"changepoint"``.
    """

    default_phase_model = "changepoint"


def load_phase_map(path: str | Path) -> PhaseMapModel:
    """Load a saved :class:`PhaseMapModel` (or :class:`ChangePointModel`).

    Parameters
    ----------
    path : str or Path
        Where :meth:`PhaseMapModel.save` wrote ``.json`` and ``.npz``.

    Returns
    -------
    model : PhaseMapModel
        Fitted; a change-point model keeps ``phase_model="changepoint"``.
    """
    return PhaseMapModel.load(path)


# Fitted arrays saved under their name without the trailing underscore.
_SAVED_ARRAYS = (
    "Z",
    "x_lo",
    "x_scale",
    "input_columns",
    "input_min",
    "input_max",
    "y_mean",
    "y_std",
)


def _warn_if_bad(d: dict[str, Any]) -> None:
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
            stacklevel=4,
        )
