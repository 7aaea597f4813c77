"""Measuring generated (or simulated) label images with :mod:`psplab.measure`, and summaries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from psplab.models.generator.descriptors import boundary_mask

FEATURES = ("grain_size_um", "grain_count", "particle_fraction", "particle_diameter_um")
QUANTILES = (0.05, 0.95)


def measure_labels(
    grains: np.ndarray | None,
    particles: np.ndarray | None,
    pixel_um: float,
    periodic: bool,
    *,
    with_s2: bool = False,
) -> dict[str, Any]:
    """Measure one field: grain size and count, particle fraction and size (optionally S2).

    Parameters
    ----------
    grains : numpy.ndarray or None
        Grain label image.
    particles : numpy.ndarray or None
        Particle indicator (non-zero = particle), e.g. phase labels with precipitates at 1.
    pixel_um : float
        Pixel size in µm.
    periodic : bool
        Whether the field is a periodic domain.
    with_s2 : bool
        Also return ``s2_boundary``: the radial two-point correlation of the grain-boundary
        indicator (:func:`~psplab.models.generator.descriptors.boundary_mask`), offsets
        ``0 .. min(H, W) // 2`` pixels.

    Returns
    -------
    dict
        ``grain_size_um`` (mean equivalent-circle diameter; for an image that is one grain,
        the image's equivalent diameter, a lower bound), ``grain_count``,
        ``particle_fraction``, ``particle_diameter_um`` (mean equivalent-circle diameter, 0
        without particles); NaN for what the field lacks.
    """
    from psplab.measure import (
        measure_grains,
        measure_particles,
        radial_profile,
        two_point_statistics,
    )

    out: dict[str, Any] = dict.fromkeys(FEATURES, float("nan"))
    if grains is not None and np.unique(grains).size == 1:
        # One grain fills the image (a generator far outside its training range can do this):
        # no boundary to measure, so the image's own equivalent diameter, a lower bound.
        out["grain_size_um"] = float(np.sqrt(4.0 * np.size(grains) / np.pi) * pixel_um)
        out["grain_count"] = 1.0
    elif grains is not None:
        g = measure_grains(grains, float(pixel_um), periodic=periodic)
        out["grain_size_um"] = float(g["mean_diameter_um"])
        out["grain_count"] = float(g["grain_count"])
    if grains is not None and with_s2:
        s2 = two_point_statistics(boundary_mask(grains, periodic), periodic=periodic)
        out["s2_boundary"] = radial_profile(s2)[1]
    if particles is not None:
        mask = np.asarray(particles) != 0
        p = measure_particles(mask, float(pixel_um), periodic=periodic)
        out["particle_fraction"] = float(mask.mean())
        out["particle_diameter_um"] = float(p["mean_eq_diameter_um"]) if p["count"] else 0.0
    return out


def measure_generated(images: Any, *, with_s2: bool = False) -> pd.DataFrame:
    """One row per generated image: ``recipe``, ``image``, ``network``, ``pixel_um`` and features.

    Parameters
    ----------
    images : GeneratedImages
        What :meth:`MicrostructureGenerator.sample` returned.
    with_s2 : bool
        Add the ``s2_boundary`` profile of each image (an object column of arrays).

    Returns
    -------
    pandas.DataFrame
    """
    R, n = images.pixel_um.shape
    rows = []
    for r in range(R):
        for j in range(n):
            row = {"recipe": r, "image": j, "network": int(images.network[r, j])}
            row["pixel_um"] = float(images.pixel_um[r, j])
            row["particle_pixel_um"] = float(images.particle_pixel_um[r, j])
            if images.grains is not None:
                g = measure_labels(
                    images.grains[r, j], None, row["pixel_um"], images.periodic, with_s2=with_s2
                )
                row.update({k: v for k, v in g.items() if not k.startswith("particle")})
            if images.particles is not None:
                q = measure_labels(
                    None, images.particles[r, j], row["particle_pixel_um"], images.periodic
                )
                row.update({k: v for k, v in q.items() if k.startswith("particle")})
            rows.append(row)
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame, features: tuple[str, ...] = FEATURES) -> pd.DataFrame:
    """Per recipe: the mean and the 5 % and 95 % quantiles of each feature over its images.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`measure_generated`'s table.
    features : tuple of str
        Columns to summarize (those absent or all-NaN are left out).

    Returns
    -------
    pandas.DataFrame
        One row per recipe; columns ``<feature>_mean``, ``<feature>_q05``, ``<feature>_q95``.
    """
    cols = [f for f in features if f in table and table[f].notna().any()]
    out = []
    for recipe, sub in table.groupby("recipe", sort=True):
        row: dict[str, Any] = {"recipe": int(recipe), "n_images": len(sub)}
        for f in cols:
            v = sub[f].to_numpy(dtype=float)
            row[f"{f}_mean"] = float(np.nanmean(v))
            lo, hi = np.nanquantile(v, QUANTILES)
            row[f"{f}_q05"], row[f"{f}_q95"] = float(lo), float(hi)
        out.append(row)
    return pd.DataFrame(out)
