"""Training fields of view from an image table: whole periodic images or tiles, and their descriptors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psplab.data.images import ImageDataset
from psplab.errors import InputError
from psplab.models.generator.descriptors import DescriptorLayout, data_descriptors, layout_for

DEFAULT_TRAIN_GRID = 64
MAX_TILES_PER_IMAGE = 16


@dataclass
class TrainingFields:
    """The descriptors the generator is fitted to.

    Attributes
    ----------
    field : numpy.ndarray
        ``(n,)`` index (into ``dataset.fields``) of the field each row comes from.
    descriptors : numpy.ndarray
        ``(n, layout.size)`` descriptors in pixel units.
    layout : DescriptorLayout
        What the descriptors are.
    grid : int
        Training image size.
    grains, particles : bool
        Which heads the data call for.
    """

    field: np.ndarray
    descriptors: np.ndarray
    layout: DescriptorLayout
    grid: int
    grains: bool
    particles: bool


def _kinds(dataset: ImageDataset) -> tuple[bool, str | None]:
    kinds = dataset.kinds
    grains = "grains" in kinds
    particle_kind = (
        "phases" if "phases" in kinds else ("particles" if "particles" in kinds else None)
    )
    if not grains and particle_kind is None:
        raise InputError(
            "the image table has no kind present in every field (grains, phases or particles)"
        )
    return grains, particle_kind


def choose_grid(shapes: list[tuple[int, ...]], periodic: bool, train_grid: int | None) -> int:
    """The training image size: ``train_grid``, or the images' own size when usable."""
    if train_grid is not None:
        if int(train_grid) != train_grid or train_grid < 16 or train_grid % 8:
            raise InputError(
                f"train_grid must be a multiple of 8 and at least 16, got {train_grid!r}"
            )
        grid = int(train_grid)
    elif (
        periodic
        and len(set(shapes)) == 1
        and shapes[0][0] == shapes[0][1]
        and shapes[0][0] % 8 == 0
    ):
        grid = int(shapes[0][0])
    else:
        grid = DEFAULT_TRAIN_GRID
    small = [s for s in shapes if min(s) < grid]
    if small:
        raise InputError(f"an image of shape {small[0]} is smaller than the training size {grid}")
    return grid


def _tiles(shape: tuple[int, ...], grid: int) -> list[tuple[int, int]]:
    """Top-left corners of non-overlapping ``grid`` tiles, at most :data:`MAX_TILES_PER_IMAGE`."""
    corners = [
        (r, c)
        for r in range(0, shape[0] - grid + 1, grid)
        for c in range(0, shape[1] - grid + 1, grid)
    ]
    if len(corners) > MAX_TILES_PER_IMAGE:
        pick = np.linspace(0, len(corners) - 1, MAX_TILES_PER_IMAGE).round().astype(int)
        corners = [corners[i] for i in pick]
    return corners


def training_fields(dataset: ImageDataset, train_grid: int | None = None) -> TrainingFields:
    """Read every field, cut it into training tiles and measure each tile's descriptors.

    Periodic images of exactly the training size are used whole and measured as periodic
    domains; anything else is cut into non-overlapping tiles measured as non-periodic images
    (edge grains by Jeffries' rule, unbiased two-point estimator).

    Parameters
    ----------
    dataset : ImageDataset
        The validated image table.
    train_grid : int or None
        Training size (see :class:`~psplab.models.generator.MicrostructureGenerator`).

    Returns
    -------
    TrainingFields
    """
    from psplab.measure import read_image

    grains, particle_kind = _kinds(dataset)
    wanted = (["grains"] if grains else []) + ([particle_kind] if particle_kind else [])
    images = []
    for f in dataset.fields:
        try:
            imgs = {k: read_image(f.paths[k]) for k in wanted}
        except (OSError, ValueError) as exc:
            raise InputError(f"field {f.name!r}: {exc}") from exc
        shapes = {v.shape for v in imgs.values()}
        if len(shapes) > 1:
            raise InputError(f"field {f.name!r}: its images differ in shape ({sorted(shapes)})")
        images.append(imgs)
    shapes = [next(iter(imgs.values())).shape for imgs in images]
    grid = choose_grid(shapes, dataset.periodic, train_grid)
    layout = layout_for(grid, grains, particle_kind is not None)
    rows, desc = [], []
    for i, (imgs, shape) in enumerate(zip(images, shapes, strict=True)):
        whole = dataset.periodic and shape == (grid, grid)
        for r, c in [(0, 0)] if whole else _tiles(shape, grid):
            tile = {k: v[r : r + grid, c : c + grid] for k, v in imgs.items()}
            desc.append(data_descriptors(tile, layout, periodic=whole))
            rows.append(i)
    return TrainingFields(
        np.asarray(rows), np.stack(desc), layout, grid, grains, particle_kind is not None
    )
