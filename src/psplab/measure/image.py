"""Reading micrographs/label images and measuring them in one call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from psplab.measure._components import as_label_array
from psplab.measure.grains import measure_grains
from psplab.measure.particles import measure_particles
from psplab.measure.phases import measure_phases
from psplab.measure.twopoint import radial_profile, two_point_statistics

KINDS = ("grains", "phases", "particles")
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".npy")


def read_image(path: str | Path) -> np.ndarray:
    """Read a PNG, TIFF or NPY file as a 2-D array (grey RGB images are reduced to one channel).

    Raises
    ------
    FileNotFoundError, ValueError
        With the path in the message, for a missing file, an unsupported extension or an image
        that is not 2-D.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: file not found")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        arr = np.load(p, allow_pickle=False)
    elif suffix in (".tif", ".tiff"):
        import tifffile

        arr = tifffile.imread(p)
    elif suffix == ".png":
        from PIL import Image

        with Image.open(p) as img:
            arr = np.asarray(img)
    else:
        raise ValueError(
            f"{p}: unsupported extension {suffix!r} (expected {', '.join(IMAGE_SUFFIXES)})"
        )
    arr = np.squeeze(arr)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        rgb = arr[..., :3]
        if not (
            np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
        ):
            raise ValueError(f"{p}: colour image; measurement needs a label or binary image")
        arr = rgb[..., 0]
    if arr.ndim != 2:
        raise ValueError(f"{p}: expected a 2-D image, got shape {arr.shape}")
    return arr


def guess_kind(image: np.ndarray, background: int | None = None) -> str:
    """``particles`` for two-valued images, ``grains`` for other label images."""
    values = as_label_array(image, "image")
    uniq = np.unique(values)
    if background is not None:
        uniq = uniq[uniq != background]
    return "particles" if uniq.size <= 2 else "grains"


def _binary_from(values: np.ndarray, phase: int | None, background: int | None) -> np.ndarray:
    if phase is not None:
        return values == phase
    uniq = np.unique(values if background is None else values[values != background])
    if uniq.size > 2:
        raise ValueError(
            f"image has {uniq.size} values; particles need a binary image or phase=V "
            "naming the particle label"
        )
    # The larger value is the particle phase (1 in 0/1 masks, 255 in 0/255 PNGs).
    return values == uniq.max() if uniq.size == 2 else values == 1


def measure_image(
    image: np.ndarray,
    pixel_um: float,
    kind: str | None = None,
    background: int | None = None,
    *,
    periodic: bool = False,
    phase: int | None = None,
) -> dict[str, Any]:
    """Measure a label or binary image; the result is JSON-ready.

    Parameters
    ----------
    image
        2-D label or binary image.
    pixel_um
        Pixel size in micrometres.
    kind
        ``"grains"``, ``"phases"`` or ``"particles"``; ``None`` guesses (two values:
        particles, more: grains).
    background
        Label value to exclude (scale bar, unlabelled area).
    periodic
        Whether the image is a periodic domain (simulations).
    phase
        For particles in a label image: the particle label.

    Returns
    -------
    dict
        Always the keys ``kind``, ``shape``, ``pixel_um``, ``grain_count``,
        ``astm_g_intercept``, ``astm_g_planimetric``, ``mean_diameter_um``,
        ``phase_fractions`` and ``particles`` (``None`` where the kind does not measure it),
        plus ``grains`` (the full grain result) or ``two_point`` (radial S2 of the particle
        phase) by kind.
    """
    values = as_label_array(image, "image")
    if kind is None:
        kind = guess_kind(values, background)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    out: dict[str, Any] = {
        "kind": kind,
        "shape": list(values.shape),
        "pixel_um": float(pixel_um),
        "periodic": bool(periodic),
        "grain_count": None,
        "astm_g_intercept": None,
        "astm_g_planimetric": None,
        "mean_diameter_um": None,
        "phase_fractions": None,
        "particles": None,
    }
    if kind == "grains":
        grains = measure_grains(values, pixel_um, periodic=periodic, boundary_value=background)
        for key in ("grain_count", "astm_g_intercept", "astm_g_planimetric", "mean_diameter_um"):
            out[key] = grains[key]
        out["grains"] = grains
    elif kind == "phases":
        phases = measure_phases(values, background=background)
        out["phase_fractions"] = phases["phase_fractions"]
        out["phase_pixel_counts"] = phases["phase_pixel_counts"]
        out["n_pixels"] = phases["n_pixels"]
    else:
        mask = None if background is None else values != background
        binary = _binary_from(values, phase, background)
        out["particles"] = measure_particles(binary, pixel_um, periodic=periodic, mask=mask)
        frac = out["particles"]["area_fraction"]
        out["phase_fractions"] = {0: 1.0 - frac, 1: frac}
        s2 = two_point_statistics(binary, periodic=periodic, mask=None if periodic else mask)
        r_um, profile = radial_profile(s2, pixel_um)
        out["two_point"] = {"r_um": r_um.tolist(), "s2": profile.tolist()}
    return out
