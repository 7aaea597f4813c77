r"""The generator's scalar heads: per-image numbers the recipe sets, by Gaussian-process regression.

Two things about an image are single numbers that the processing decides almost exactly and
that a decoder learns poorly from a few hundred images: its **pixel size** (a simulator, or a
microscopist, picks the magnification to suit the grains it expects) and its **particle area
fraction** (set by the alloy and the heat treatment -- a lever rule). The generator predicts
each with its own regression on the recipe and lets the decoder draw the arrangement at that
scale and fraction (the particle field is cut at the level that gives the fraction: a
level-cut random field).

Each head is a :class:`~psplab.models.gp.GaussianProcess` on the generator's standardized
features (the same robust preprocessing, envelope and applicability domain as psplab's
property models). Its value for image ``j`` drawn with network ``k`` is

.. math::

    y_{jk}(P) = m(P) + s_e(P)\, z_k + s_n\, \varepsilon_j, \qquad
    s_e^2 = \max\big(s^2(P) - s_n^2, 0\big),

with ``m, s`` the GP's predictive mean and standard deviation (which widens away from the
training recipes), ``s_n`` its noise standard deviation (the image-to-image scatter of the
number), ``z_k`` the network's own standard normal (so one network is one smooth function of
the recipe) and ``eps_j`` the image's. The pixel size is modelled as its logarithm (a
magnification is a factor); the fraction as it is, cut to ``[0, 1]`` (a lever rule is linear,
and a recipe above the solvus, with no particles, stays a neighbour of those with few). One
row per image: tiles of one image share its pixel and its fraction. A head whose training
values do not vary is that constant; the fixed-weights baseline (no processing input) draws
its heads from their training mean and standard deviation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PIXEL = "log_pixel_um"  # the main fields: grains, or particles when there are no grains
PARTICLE_PIXEL = "particle_log_pixel_um"
FRACTION = "particle_fraction"


@dataclass
class ScalarHead:
    """One per-image scalar of the generated images as a function of the recipe.

    Attributes
    ----------
    name : str
        What it is: ``log_pixel_um`` (the grain fields', or the only fields'),
        ``particle_log_pixel_um`` (particle fields of their own), ``particle_fraction``.
    mean, std : float
        Training values' mean and standard deviation (the unconditional head's distribution).
    conditional : bool
        Whether the value follows the recipe (a GP) or is drawn from ``mean, std``.
    bounds : tuple of float
        The values' physical range (``[0, 1]`` for a fraction); draws are cut to it.
    gp : GaussianProcess or None
        The regression, when conditional and the values vary.
    """

    name: str
    mean: float
    std: float
    conditional: bool
    bounds: tuple[float, float] = (-math.inf, math.inf)
    gp: Any = field(default=None, repr=False)

    @classmethod
    def fit(
        cls,
        name: str,
        X: np.ndarray,
        y: np.ndarray,
        conditional: bool,
        seed: int,
        bounds: tuple[float, float] = (-math.inf, math.inf),
    ) -> ScalarHead:
        """Fit a head to rows ``X (n, d)`` (standardized features) and values ``y (n,)`` in ``bounds``."""
        from psplab.models.gp import GaussianProcess

        y = np.asarray(y, float)
        head = cls(name, float(y.mean()), float(y.std()), bool(conditional), tuple(bounds))
        if conditional and np.ptp(y) > 1e-9 * max(1.0, float(np.abs(y).max())):
            # Inputs are the generator's standardized features already (logs taken there);
            # the head's scale (log or linear) is chosen by the head.
            finite = [None if not math.isfinite(b) else float(b) for b in bounds]
            head.gp = GaussianProcess(
                input_transform="none",
                target_transform="none",
                target_bounds=None if finite == [None, None] else [finite],
                seed=int(seed),
            ).fit(X, y)
        return head

    def draw(self, X: np.ndarray, z: np.ndarray, eps: np.ndarray) -> np.ndarray:
        """Values ``(R, n)`` for recipes ``X (R, d)``, network normals ``z (n,)``, image normals ``eps (n,)``."""
        R = X.shape[0]
        if self.gp is None:
            if self.conditional:
                values = np.full((R, z.size), self.mean)
            else:
                values = np.broadcast_to(self.mean + self.std * z, (R, z.size)).copy()
        else:
            mean, std = self.gp.predict_dist(X)
            noise = float(self.gp.noise_std_[0])
            epistemic = np.sqrt(np.maximum(std**2 - noise**2, 0.0))
            values = mean[:, None] + epistemic[:, None] * z[None, :] + noise * eps[None, :]
        return np.clip(values, *self.bounds)

    def to_state(self, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays (keys starting with ``prefix``) and JSON metadata to save the head."""
        meta: dict[str, Any] = {
            "name": self.name,
            "mean": self.mean,
            "std": self.std,
            "conditional": self.conditional,
            "bounds": [float(b) if math.isfinite(b) else None for b in self.bounds],
            "gp": None,
        }
        arrays: dict[str, np.ndarray] = {}
        if self.gp is not None:
            from psplab.models.registry import estimator_to_dict

            gp_arrays, gp_meta = self.gp._get_state()
            arrays = {f"{prefix}{k}": v for k, v in gp_arrays.items()}
            meta["gp"] = {**estimator_to_dict(self.gp), "state": gp_meta}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], prefix: str):
        """Rebuild a head from :meth:`to_state`'s output."""
        bounds = tuple(
            (-math.inf, math.inf)[i] if b is None else float(b)
            for i, b in enumerate(meta["bounds"])
        )
        if len(bounds) != 2:
            raise ValueError(f"head {meta['name']!r}: bounds must be a pair")
        head = cls(
            str(meta["name"]),
            float(meta["mean"]),
            float(meta["std"]),
            bool(meta["conditional"]),
            bounds,
        )
        if not (math.isfinite(head.mean) and math.isfinite(head.std)):
            raise ValueError(f"head {head.name!r}: non-finite mean or std")
        if meta.get("gp") is not None:
            from psplab.models.registry import estimator_from_dict

            head.gp = estimator_from_dict(meta["gp"])
            part = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            head.gp._set_state(part, meta["gp"]["state"])
        return head


def network_normals(seed: int, n: int, n_networks: int, n_heads: int) -> np.ndarray:
    """Each head's standard normal per image ``(n_heads, n)``: one per network, in turn."""
    z = np.random.default_rng((int(seed), 3)).standard_normal((n_heads, n_networks))
    return z[:, np.arange(n) % n_networks]


def image_normals(seed: int, n: int, n_heads: int) -> np.ndarray:
    """Each head's standard normal per image ``(n_heads, n)`` (image ``j`` the same for every call)."""
    return (
        np.stack(
            [np.random.default_rng((int(seed), 4, j)).standard_normal(n_heads) for j in range(n)],
            axis=1,
        )
        if n_heads
        else np.zeros((0, n))
    )
