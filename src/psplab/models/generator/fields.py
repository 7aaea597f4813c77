"""Training fields of view from an image table: whole periodic images or tiles, and their descriptors.

Fields may hold different kinds. A field with a ``grains`` image trains the grain head. The
particle head learns from particle images (kind ``phases``: label 1 is the particle phase;
kind ``particles``: non-zero is particle): from fields of their own when the table has any
(e.g. a simulator that images precipitates at their own, finer pixel), otherwise from the
particle images that share a field with the grains. Each group -- grain fields, particle fields
-- has its own pixel size, which the model learns as a function of the processing when it
varies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psplab.data.images import ImageDataset
from psplab.errors import InputError
from psplab.models.generator.descriptors import DescriptorLayout, data_descriptors, layout_for

DEFAULT_TRAIN_GRID = 64
MAX_TILES_PER_IMAGE = 16
PARTICLE_KINDS = ("phases", "particles")


@dataclass
class TrainingFields:
    """The descriptors the generator is fitted to, one row per training tile.

    Attributes
    ----------
    field : numpy.ndarray
        ``(n,)`` index (into ``dataset.fields``) of the field each row comes from.
    descriptors : numpy.ndarray
        ``(n, layout.size)`` descriptors in pixel units; NaN in the blocks a row lacks.
    present : numpy.ndarray
        ``(n, layout.size)`` bool: which entries a row has.
    head : numpy.ndarray
        ``(n,)`` pixel-size head of each row: 0 for grain fields, 1 for particle fields of
        their own (when there are two heads).
    layout : DescriptorLayout
        What the descriptors are.
    grid : int
        Training image size.
    separate_particles : bool
        Whether particle images form fields of their own (and so their own pixel head).
    """

    field: np.ndarray
    descriptors: np.ndarray
    present: np.ndarray
    head: np.ndarray
    layout: DescriptorLayout
    grid: int
    separate_particles: bool

    @property
    def n_heads(self) -> int:
        """Pixel-size heads: two when grain and particle fields have their own pixels."""
        return 2 if self.separate_particles and self.layout.grains else 1


def _particle_kind(kinds: dict[str, object]) -> str | None:
    return next((k for k in PARTICLE_KINDS if k in kinds), None)


def choose_grid(shapes: list[tuple[int, ...]], periodic: bool, train_grid: int | None) -> int:
    """The training image size: ``train_grid``, or the images' own size when usable."""
    if train_grid is not None:
        if not isinstance(train_grid, int) or train_grid < 16 or train_grid % 8:
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


def _read_fields(dataset: ImageDataset) -> tuple[list[dict[str, np.ndarray]], bool]:
    """Each field's images (the kinds the model uses) and whether particles have own fields."""
    from psplab.measure import read_image

    separate = any(
        "grains" not in f.paths and _particle_kind(f.paths) is not None for f in dataset.fields
    )
    out = []
    for f in dataset.fields:
        kinds = []
        if "grains" in f.paths:
            kinds.append("grains")
        pk = _particle_kind(f.paths)
        if pk is not None and not (separate and "grains" in f.paths):
            kinds.append(pk)
        try:
            imgs = {k: read_image(f.paths[k]) for k in kinds}
        except (OSError, ValueError) as exc:
            raise InputError(f"field {f.name!r}: {exc}") from exc
        if len({v.shape for v in imgs.values()}) > 1:
            raise InputError(f"field {f.name!r}: its images differ in shape")
        out.append(imgs)
    if not any(out):
        raise InputError("the image table has no grains, phases or particles images")
    return out, separate


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
    images, separate = _read_fields(dataset)
    shapes = [next(iter(imgs.values())).shape for imgs in images if imgs]
    grid = choose_grid(shapes, dataset.periodic, train_grid)
    grains = any("grains" in imgs for imgs in images)
    particles = any(_particle_kind(imgs) for imgs in images)
    layout = layout_for(grid, grains, particles)
    rows, desc, present, head = [], [], [], []
    for i, imgs in enumerate(images):
        if not imgs:
            continue
        shape = next(iter(imgs.values())).shape
        sub = DescriptorLayout(
            "grains" in imgs,
            _particle_kind(imgs) is not None,
            layout.radius,
            layout.particle_radius,
        )
        mask = _block_mask(layout, sub)
        whole = dataset.periodic and shape == (grid, grid)
        for r, c in [(0, 0)] if whole else _tiles(shape, grid):
            tile = {k: v[r : r + grid, c : c + grid] for k, v in imgs.items()}
            full = np.full(layout.size, np.nan)
            full[mask] = data_descriptors(tile, sub, periodic=whole)
            desc.append(full)
            present.append(mask)
            rows.append(i)
            head.append(1 if separate and grains and "grains" not in imgs else 0)
    return TrainingFields(
        np.asarray(rows),
        np.stack(desc),
        np.stack(present),
        np.asarray(head),
        layout,
        grid,
        separate,
    )


def _block_mask(layout: DescriptorLayout, sub: DescriptorLayout) -> np.ndarray:
    """Entries of ``layout``'s vector that a field with ``sub``'s kinds has."""
    wanted = {name for name, _ in sub.blocks()}
    return np.concatenate([np.full(n, name in wanted) for name, n in layout.blocks()])
