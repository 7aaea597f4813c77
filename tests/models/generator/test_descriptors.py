"""Labelling and descriptors: the generator's JAX descriptors equal the data's on the same images."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from psplab.measure import label_components
from psplab.models.generator.descriptors import (
    boundary_mask,
    data_descriptors,
    eroded_interiors,
    generated_descriptors,
    layout_for,
    region_density,
)
from psplab.models.generator.labels import periodic_components
from psplab.sim.grain_growth import voronoi_labels


def _random_channels(seed: int, n: int = 6, k: int = 5, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    fields = ndimage.gaussian_filter(
        rng.standard_normal((n, k, size, size)), (0, 0, 2, 2), mode="wrap"
    )
    return np.argmax(fields, axis=1)


@pytest.mark.parametrize("periodic", [True, False])
def test_batched_components_match_psplab_measure(periodic):
    channels = _random_channels(0)
    labels = periodic_components(channels, periodic)
    for b in range(channels.shape[0]):
        ref, n = label_components(channels[b], periodic=periodic, connectivity=1)
        assert labels[b].min() == 1 and labels[b].max() == n
        # The same partition: every (reference, batched) label pair occurs once per region.
        assert len(set(zip(ref.ravel(), labels[b].ravel(), strict=True))) == n


def _one_hot_logits(labels: np.ndarray, particles: np.ndarray) -> np.ndarray:
    k = int(labels.max())
    grains = np.eye(k)[labels - 1] * 10.0
    return np.concatenate([grains, np.where(particles, 5.0, -5.0)[..., None]], axis=-1)


def test_generated_descriptors_equal_data_descriptors_on_the_same_images():
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    layout = layout_for(64, grains=True, particles=True)
    for n_grains in (5, 9):
        labels = voronoi_labels(64, n_grains, rng)
        # Particles of a few pixels, some cut by the periodic edge.
        particles = ndimage.gaussian_filter(rng.standard_normal((64, 64)), 1.5, mode="wrap") > 0.9
        data = data_descriptors({"grains": labels, "phases": particles.astype(int)}, layout, True)
        logits = _one_hot_logits(labels, particles)[None].astype(np.float32)
        generated = np.asarray(
            generated_descriptors(jnp.asarray(logits), layout, int(labels.max()))
        )[0]
        # float32 FFTs: agreement to ~1e-6 of values of order 0.01-1.
        np.testing.assert_allclose(generated, data, atol=2e-6)


def test_boundary_mask_is_one_pixel_wide_and_respects_periodicity():
    labels = np.ones((8, 8), int)
    labels[:, 4:] = 2
    periodic = boundary_mask(labels, periodic=True)
    plain = boundary_mask(labels, periodic=False)
    assert periodic[:, 3].all() and periodic[:, 7].all()  # the seam is a boundary on a torus
    assert periodic.sum() == 16
    assert plain[:, 3].all() and not plain[:, 7].any()
    assert plain.sum() == 8


def test_erosion_keeps_only_grains_with_an_interior():
    labels = np.ones((20, 20), int)
    labels[2:12, 2:12] = 2  # a 10 x 10 grain
    labels[15, 15] = 3  # a one-pixel sliver
    inside = eroded_interiors(labels, 1, periodic=True)
    assert inside[3:11, 3:11].all() and not inside[2, 2]
    assert not inside[14:17, 14:17].any()
    # Grain 2 and the matrix keep an interior, the sliver does not: two regions per 400 px^2.
    assert region_density(inside, periodic=True) == pytest.approx(2 * 1000 / 400)


def test_region_density_counts_edge_regions_by_half_without_periodicity():
    mask = np.zeros((10, 10), bool)
    mask[0:2, 4:6] = True  # touches the top edge
    mask[5:7, 5:7] = True  # interior
    mask[9, 0:2] = True  # touches the bottom edge, in other columns than the top region
    # Jeffries: 1 interior + 2 edge regions x 1/2.
    assert region_density(mask, periodic=False) == pytest.approx(2.0 * 1000 / 100)
    # On a torus nothing is cut and the top and bottom regions do not meet: 3 regions.
    assert region_density(mask, periodic=True) == pytest.approx(3.0 * 1000 / 100)
