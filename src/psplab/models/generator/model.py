r"""The image-level Bayesian hypernetwork: a conditional generator of label images.

:class:`MicrostructureGenerator` learns, from an image table (:mod:`psplab.data.images`), to
draw label images for a processing recipe ``P``:

.. math::

    z \sim \mathcal N(0, I),\quad g = h(z),\quad \varepsilon \sim \mathcal N(0, I),\quad
    M = D_w\big(\varepsilon;\, c(P; g)\big),

where ``h`` is the hypernetwork, ``c(.; g)`` the conditioning network whose unit scales are
``g`` (so each ``z`` is one network), ``D_w`` the periodic convolutional decoder modulated by
FiLM and ``epsilon`` the spatial noise that gives the microstructure's own randomness: two
draws of ``epsilon`` for the same ``z`` are two arrangements with the same statistics; two
draws of ``z`` are two plausible networks, which disagree more the farther ``P`` lies from the
training recipes. The architecture is in :mod:`~psplab.models.generator.network`, the
objective (an ELBO over ``g`` with a synthetic likelihood on microstructure descriptors) in
:mod:`~psplab.models.generator.training`.

Outputs are label images that :mod:`psplab.measure` measures directly: grain ids (periodic
connected components of the winning decoder channel) and a particle mask, at a pixel size
that the model also predicts when the training images' pixel sizes vary with the recipe. The
pixel size and the particle area fraction of an image are the generator's scalar heads
(:mod:`~psplab.models.generator.heads`): Gaussian-process regressions on the recipe whose
spread, like the networks', grows away from the training recipes.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from psplab.errors import InputError, ModelFileError
from psplab.models.generator import heads
from psplab.models.generator import network as net
from psplab.models.generator.descriptors import DescriptorLayout
from psplab.models.generator.features import FeatureMap
from psplab.models.generator.heads import ScalarHead

MODEL_NAME = "microstructure_generator"
FORMAT_VERSION = 2
CHUNK_STEPS = 25  # Adam steps between progress reports


@dataclass(frozen=True)
class GeneratedImages:
    """Images drawn for a set of recipes.

    Attributes
    ----------
    grains : numpy.ndarray or None
        ``(n_recipes, n, G, G)`` int32 grain ids ``1..N`` per image (None without grains).
    particles : numpy.ndarray or None
        ``(n_recipes, n, G, G)`` uint8, 1 in particles (None without particles).
    pixel_um : numpy.ndarray
        ``(n_recipes, n)`` pixel size of each grain image in µm (of the particle image when
        the model has no grains).
    particle_pixel_um : numpy.ndarray
        ``(n_recipes, n)`` pixel size of each particle image in µm: the grain image's when the
        training images showed both in one field, else the particle fields' own.
    network : numpy.ndarray
        ``(n_recipes, n)`` index of the network draw ``z`` behind each image.
    periodic : bool
        Whether the images are periodic domains.
    """

    grains: np.ndarray | None
    particles: np.ndarray | None
    pixel_um: np.ndarray
    particle_pixel_um: np.ndarray
    network: np.ndarray
    periodic: bool


class MicrostructureGenerator(BaseEstimator):
    """Conditional generator of label images given processing parameters (Bayesian hypernetwork).

    Parameters
    ----------
    grain_channels : int
        ``K``: decoder runs (label channels) per image. A pixel takes the channel whose field
        is highest and grains are its connected regions, so ``K`` need only exceed the number
        of grains that meet at a point by a margin (two neighbouring grains that draw the same
        channel merge; with ``K = 8`` that is rare).
    hidden : int
        Width of the conditioning network's two hidden layers.
    widths : tuple of int
        Decoder channels at 1/8, 1/4 and 1/2 of the output grid.
    noise_channels : int
        Channels of the decoder's base noise.
    rank : int
        Rank of the correlated part of the hypernetwork (0: independent unit scales). With a
        low-rank factor the ELBO's entropy term widens the posterior along a few shared
        directions until the networks disagree about as much on the training recipes as away
        from them; the independent posterior's spread follows the activations, which grow
        away from the data.
    flow_steps : int
        Steps of curvature flow (MBO thresholding at a one-pixel width) applied to the
        decoder's partition: it removes slivers and one-pixel corners, as a little grain
        growth would (0: none).
    mix_runs : bool
        Let the decoder's runs for one image see each other (a permutation-equivariant
        layer): grain channels can then compete, which spaces grains more evenly.
    prior_std : float
        Prior standard deviation of the conditioning network's unit scales.
    kl_weight : float
        Final weight of the KL term (1: the plain ELBO).
    steps : int
        Adam steps.
    batch_size : int
        Fields per step.
    n_aleatoric : int
        Images per field and step behind the expected descriptors.
    learning_rate : float
        Adam's initial learning rate (cosine decay to 10 %).
    train_grid : int or None
        Size of the training images (multiple of 8). ``None``: the images' own size when they
        are square, all the same size and a multiple of 8; otherwise 64-pixel crops.
    conditional : bool
        ``False`` gives the fixed-weights baseline: the same decoder with learned constant
        FiLM parameters, no processing input and no hypernetwork.
    seed : int
        The only source of randomness in fitting (initialization, minibatches, noise draws).
    """

    def __init__(
        self,
        grain_channels: int = 8,
        hidden: int = 32,
        widths: tuple[int, int, int] = (16, 16, 8),
        noise_channels: int = 8,
        rank: int = 0,
        flow_steps: int = 2,
        mix_runs: bool = False,
        prior_std: float = 1.0,
        kl_weight: float = 1.0,
        steps: int = 800,
        batch_size: int = 16,
        n_aleatoric: int = 2,
        learning_rate: float = 3e-3,
        train_grid: int | None = None,
        conditional: bool = True,
        seed: int = 0,
    ):
        self.grain_channels = grain_channels
        self.hidden = hidden
        self.widths = widths
        self.noise_channels = noise_channels
        self.rank = rank
        self.flow_steps = flow_steps
        self.mix_runs = mix_runs
        self.prior_std = prior_std
        self.kl_weight = kl_weight
        self.steps = steps
        self.batch_size = batch_size
        self.n_aleatoric = n_aleatoric
        self.learning_rate = learning_rate
        self.train_grid = train_grid
        self.conditional = conditional
        self.seed = seed

    # ------------------------------------------------------------------ fitting
    def _architecture(self, n_inputs: int, grains: bool, particles: bool):
        widths = tuple(int(w) for w in self.widths)
        if len(widths) != 3 or min(widths) < 1:
            raise InputError(f"widths must be three positive channel counts, got {self.widths!r}")
        k = int(self.grain_channels)
        if grains and k < 2:
            raise InputError(f"grain_channels must be at least 2, got {self.grain_channels!r}")
        return net.Architecture(
            n_inputs=n_inputs,
            grain_channels=k if grains else 0,
            particles=particles,
            hidden=int(self.hidden),
            widths=widths,
            noise_channels=int(self.noise_channels),
            rank=int(self.rank),
            flow_steps=int(self.flow_steps),
            mix_runs=bool(self.mix_runs),
            conditional=bool(self.conditional),
        )

    def _check_params(self) -> None:
        checks = {
            "steps": (self.steps, 1),
            "batch_size": (self.batch_size, 1),
            "n_aleatoric": (self.n_aleatoric, 1),
            "hidden": (self.hidden, 1),
            "noise_channels": (self.noise_channels, 1),
            "rank": (self.rank, 0),
            "flow_steps": (self.flow_steps, 0),
        }
        bad = [
            f"{k} must be an integer >= {lo}, got {v!r}"
            for k, (v, lo) in checks.items()
            if not (isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= lo)
        ]
        for k in ("prior_std", "learning_rate"):
            v = getattr(self, k)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                bad.append(f"{k} must be a positive number, got {v!r}")
        if not (
            isinstance(self.kl_weight, int | float)
            and math.isfinite(self.kl_weight)
            and self.kl_weight >= 0
        ):
            bad.append(f"kl_weight must be a non-negative number, got {self.kl_weight!r}")
        if bad:
            raise InputError(bad)

    def fit(self, data: Any, progress: Any = None) -> MicrostructureGenerator:
        """Fit to an image table.

        Parameters
        ----------
        data : ImageDataset or str or Path
            The image table (:func:`psplab.data.images.load_image_dataset`) or its spec file.
        progress : callable, optional
            Called as ``progress(steps_done, steps_total)`` during training.

        Returns
        -------
        MicrostructureGenerator
            ``self``, fitted.
        """
        from psplab.data.images import ImageDataset, load_image_dataset
        from psplab.models.generator.fields import training_fields
        from psplab.models.generator.training import init_training_params, train

        self._check_params()
        dataset = data if isinstance(data, ImageDataset) else load_image_dataset(data)
        tf = training_fields(dataset, self.train_grid)
        frame = dataset.processing_frame()
        categorical = [c.name for c in dataset.dataset.spec.processing if not c.is_numeric]
        self.features_ = FeatureMap.fit(frame, categorical)
        self.processing_columns_ = [c.to_dict() for c in dataset.dataset.spec.processing]
        X = self.features_.transform(frame)[tf.field]
        log_px = np.log(dataset.pixel_sizes_um())[tf.field]
        fraction, likelihood_mask = _particle_fractions(tf)
        self.heads_ = self._fit_heads(X, log_px, tf, fraction)
        self.desc_mean_, self.desc_scale_ = _standardization(tf.descriptors, tf.layout)
        S = np.where(tf.present, (tf.descriptors - self.desc_mean_) / self.desc_scale_, 0.0)
        cfg, schedule = self._train_config(X.shape[1], tf)
        params = init_training_params(np.random.default_rng([int(self.seed), 1]), cfg)
        report = None if progress is None else (lambda done: progress(done, schedule.n_steps))
        self.params_, self.loss_curve_ = train(
            params,
            cfg,
            schedule,
            (X, S, likelihood_mask.astype(float), fraction),
            self.desc_mean_,
            self.desc_scale_,
            int(self.seed),
            report,
        )
        self.architecture_, self.layout_, self.train_grid_ = cfg.arch, tf.layout, tf.grid
        self.periodic_ = bool(dataset.periodic)
        kinds = {k for f in dataset.fields for k in f.paths}
        self.particle_kind_ = (
            "phases" if "phases" in kinds or "particles" not in kinds else "particles"
        )
        self.n_fields_ = len(dataset.fields)
        self.training_descriptors_ = tf.descriptors
        return self

    def _fit_heads(
        self, X: np.ndarray, log_px: np.ndarray, tf: Any, fraction: np.ndarray
    ) -> dict[str, ScalarHead]:
        """The scalar heads: log pixel size per group of fields, particle fraction; one row per field."""
        names = [heads.PIXEL, heads.PARTICLE_PIXEL][: tf.n_heads]
        wanted = {name: (tf.head == h, log_px, None) for h, name in enumerate(names)}
        if tf.layout.particles:
            has = tf.present[:, tf.layout.start("particle_fraction")]
            wanted[heads.FRACTION] = (has, fraction, (0.0, 1.0))
        out = {}
        for i, (name, (rows, values, bounds)) in enumerate(wanted.items()):
            # Tiles of one image share its pixel and fraction: one row per field.
            fields, first = np.unique(tf.field[rows], return_index=True)
            per_field = np.array([values[rows][tf.field[rows] == f].mean() for f in fields])
            out[name] = ScalarHead.fit(
                name,
                X[rows][first],
                per_field,
                bool(self.conditional),
                int(self.seed) + i,
                bounds or (-math.inf, math.inf),
            )
        return out

    def _train_config(self, n_inputs: int, tf: Any) -> tuple[Any, Any]:
        from psplab.models.generator.training import Schedule, TrainConfig

        arch = self._architecture(n_inputs, tf.layout.grains, tf.layout.particles)
        n = int(tf.descriptors.shape[0])
        cfg = TrainConfig(
            arch=arch,
            layout=tf.layout,
            grid=tf.grid,
            batch=int(min(self.batch_size, n)),
            n_aleatoric=int(self.n_aleatoric),
            chunk=CHUNK_STEPS,
            prior_std=float(self.prior_std),
        )
        schedule = Schedule(
            n_steps=int(self.steps),
            n_fields=n,
            learning_rate=float(self.learning_rate),
            kl_weight=float(self.kl_weight),
        )
        return cfg, schedule

    # ------------------------------------------------------------------ sampling
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                "this MicrostructureGenerator is not fitted yet; call fit(image_table) first"
            )

    def sample(
        self,
        P: Any,
        n: int = 16,
        seed: int = 0,
        *,
        grid: int | None = None,
        n_networks: int | None = None,
    ) -> GeneratedImages:
        """Draw ``n`` label images for each recipe.

        Parameters
        ----------
        P : pandas.DataFrame, mapping or array
            Recipes: a table with the processing columns, one recipe as a mapping, or an
            array ``(n_recipes, n_columns)`` in the order of ``features_.names``. Recipes
            outside the training range are allowed (the spread between networks shows how
            far to trust them; :meth:`outside_training_range` lists them).
        n : int
            Images per recipe.
        seed : int
            Seeds every draw; image ``j`` uses the same noise for every recipe.
        grid : int, optional
            Output size in pixels (a multiple of 8); default the training size.
        n_networks : int, optional
            Distinct network draws ``z``, shared out in turn (image ``j`` uses network
            ``j mod n_networks``); default ``n`` (every image its own network: the posterior
            predictive). Fewer networks with several images each separate the spread between
            networks (epistemic) from that within one (the microstructure's own).

        Returns
        -------
        GeneratedImages
        """
        from psplab.models.generator.sampling import generate

        self._check_fitted()
        X = self.features_.transform(P)
        size = self.train_grid_ if grid is None else grid
        if not (isinstance(size, int | np.integer) and size >= 16 and size % 8 == 0):
            raise InputError(f"grid must be a multiple of 8 and at least 16, got {grid!r}")
        if not (isinstance(n, int | np.integer) and n >= 1):
            raise InputError(f"n must be a positive integer, got {n!r}")
        k = int(n if n_networks is None else n_networks)
        if not 1 <= k <= n:
            raise InputError(f"n_networks must lie in 1..n ({n}), got {n_networks!r}")
        values = self._draw_heads(X, int(n), int(seed), k)
        fraction = values.get(heads.FRACTION)
        images = generate(
            _jax_params(self.params_),
            self.architecture_,
            X,
            int(n),
            int(seed),
            int(size),
            k,
            self.periodic_,
            fraction,
        )
        pixel_um = np.exp(values[heads.PIXEL])
        particle_pixel_um = np.exp(values.get(heads.PARTICLE_PIXEL, values[heads.PIXEL]))
        network = np.broadcast_to(np.arange(int(n)) % k, pixel_um.shape).copy()
        return GeneratedImages(
            images.get("grains"),
            images.get("particles"),
            pixel_um,
            particle_pixel_um,
            network,
            self.periodic_,
        )

    def _draw_heads(self, X: np.ndarray, n: int, seed: int, n_networks: int) -> dict:
        """Each scalar head's values ``(R, n)``: network ``j mod n_networks``, image ``j``."""
        z = heads.network_normals(seed, n, n_networks, len(self.heads_))
        eps = heads.image_normals(seed, n, len(self.heads_))
        return {
            name: head.draw(X, z[i], eps[i]) for i, (name, head) in enumerate(self.heads_.items())
        }

    def outside_training_range(self, P: Any) -> list[str]:
        """One line per processing column where some recipe lies outside the training range."""
        self._check_fitted()
        return self.features_.outside_training_range(P)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write ``path.npz`` (arrays) and ``path.json`` (parameters, metadata); never pickle.

        Returns
        -------
        Path
            The JSON file.
        """
        self._check_fitted()
        base = Path(path)
        base.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"p_{k}": np.asarray(v) for k, v in self.params_.items()}
        arrays.update(
            desc_mean=self.desc_mean_,
            desc_scale=self.desc_scale_,
            loss_curve=self.loss_curve_,
            training_descriptors=self.training_descriptors_,
        )
        head_meta = []
        for i, head in enumerate(self.heads_.values()):
            head_arrays, meta = head.to_state(f"h{i}__")
            arrays.update(head_arrays)
            head_meta.append(meta)
        np.savez(base.with_suffix(".npz"), **arrays)
        state = {
            "architecture": asdict(self.architecture_),
            "layout": asdict(self.layout_),
            "features": self.features_.to_dict(),
            "processing_columns": self.processing_columns_,
            "train_grid": int(self.train_grid_),
            "periodic": self.periodic_,
            "heads": head_meta,
            "particle_kind": self.particle_kind_,
            "n_fields": int(self.n_fields_),
        }
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        payload = {"model": MODEL_NAME, "format": FORMAT_VERSION, "params": params, "state": state}
        out = base.with_suffix(".json")
        out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path) -> MicrostructureGenerator:
        """Rebuild a generator saved with :meth:`save`.

        Raises
        ------
        ModelFileError
            For a missing, damaged or foreign file, naming it.
        """
        base = Path(path)
        meta_path, npz_path = base.with_suffix(".json"), base.with_suffix(".npz")
        for p in (meta_path, npz_path):
            if not p.is_file():
                raise ModelFileError(f"{p}: file not found")
        try:
            payload = json.loads(meta_path.read_text(encoding="utf-8"))
            if payload.get("model") != MODEL_NAME:
                raise ModelFileError(
                    f"{meta_path}: not a microstructure generator ({payload.get('model')!r})"
                )
            if payload.get("format") != FORMAT_VERSION:
                raise ModelFileError(
                    f"{meta_path}: format {payload.get('format')!r}, expected {FORMAT_VERSION}"
                )
            params = dict(payload["params"])
            params["widths"] = tuple(params["widths"])
            model = cls(**params)
            with np.load(npz_path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            model._set_state(arrays, payload["state"])
        except ModelFileError:
            raise
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise ModelFileError(
                f"{base}: damaged generator files ({type(exc).__name__}: {exc})"
            ) from exc
        return model

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        arch = dict(state["architecture"])
        arch["widths"] = tuple(arch["widths"])
        self.architecture_ = net.Architecture(**arch)
        self.layout_ = DescriptorLayout(**state["layout"])
        self.features_ = FeatureMap.from_dict(state["features"])
        self.processing_columns_ = [dict(c) for c in state["processing_columns"]]
        self.train_grid_ = int(state["train_grid"])
        self.periodic_ = bool(state["periodic"])
        self.heads_ = {
            meta["name"]: ScalarHead.from_state(arrays, meta, f"h{i}__")
            for i, meta in enumerate(state["heads"])
        }
        if heads.PIXEL not in self.heads_:
            raise ValueError("the pixel-size head is missing")
        self.particle_kind_ = str(state["particle_kind"])
        self.n_fields_ = int(state["n_fields"])
        expected = {
            k: v.shape
            for k, v in net.init_params(np.random.default_rng(0), self.architecture_).items()
        }
        params = {k[2:]: v for k, v in arrays.items() if k.startswith("p_")}
        for k, shape in expected.items():
            if k not in params or params[k].shape != shape:
                raise ValueError(f"parameter {k!r} missing or of the wrong shape")
        if not all(np.all(np.isfinite(v)) for v in params.values()):
            raise ValueError("non-finite parameters")
        self.params_ = params
        self.desc_mean_ = arrays["desc_mean"]
        self.desc_scale_ = arrays["desc_scale"]
        self.loss_curve_ = arrays["loss_curve"]
        self.training_descriptors_ = arrays["training_descriptors"]


def load_generator(path: str | Path) -> MicrostructureGenerator:
    """Read a generator saved with :meth:`MicrostructureGenerator.save` (``path`` with or without suffix)."""
    return MicrostructureGenerator.load(path)


def _jax_params(params: dict[str, np.ndarray]) -> dict[str, Any]:
    import jax.numpy as jnp

    return {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}


def _standardization(S: np.ndarray, layout: DescriptorLayout) -> tuple[np.ndarray, np.ndarray]:
    """Mean per descriptor and one scale per block (over the fields that have it; NaN = absent).

    Each block (:meth:`DescriptorLayout.blocks`) is scaled by the spread of its first entry
    over the training fields, so that a two-point profile is compared as a whole and its
    near-constant tail does not dominate.
    """
    mean = np.nan_to_num(np.nanmean(S, axis=0))
    scales, start = [], 0
    for _, size in layout.blocks():
        col = S[:, start][np.isfinite(S[:, start])]
        sd = float(col.std()) if col.size else 0.0
        floor = 1e-3 * max(float(np.abs(col).mean()) if col.size else 0.0, 1e-3)
        scales.append(np.full(size, max(sd, floor)))
        start += size
    return mean, np.concatenate(scales)


def _particle_fractions(tf: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each training row's particle area fraction (0 without particles) and likelihood mask.

    The fraction descriptor leaves the likelihood: the particle field is cut at the fraction
    of the field it is fitted to, so the generated fraction equals the data's by construction
    (the fraction head learns it).
    """
    mask = tf.present.copy()
    if not tf.layout.particles:
        return np.zeros(len(mask)), mask
    col = tf.layout.start("particle_fraction")
    fraction = np.where(tf.present[:, col], np.nan_to_num(tf.descriptors[:, col]), 0.0)
    mask[:, col] = False
    return fraction, mask
