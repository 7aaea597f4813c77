"""Reading micrographs/label images and measuring them in one call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from psplab.measure._components import PIXEL_UM_RANGE, as_label_array, check_pixel_um
from psplab.measure.grains import measure_grains
from psplab.measure.particles import measure_particles
from psplab.measure.phases import measure_phases
from psplab.measure.twopoint import radial_profile, two_point_statistics

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageError",
    "KINDS",
    "MAX_IMAGE_PIXELS",
    "PIXEL_UM_RANGE",
    "check_pixel_count",
    "check_pixel_um",
    "guess_kind",
    "measure_image",
    "read_image",
    "read_image_with_pixel",
]


class ImageError(ValueError):
    """An image psplab refuses to measure; the message names the file and the reason."""


KINDS = ("grains", "phases", "particles")
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".npy", ".npz")
# Largest image measured: 10 000 x 10 000 pixels. Checked from the file's header, before the
# pixels are decoded, so a small file that decodes to gigabytes (a "decompression bomb") is
# refused at once.
MAX_IMAGE_PIXELS = 100_000_000
# Peak memory per pixel of a measurement (int64 labels, components, distance-transform indices).
_BYTES_PER_PIXEL = 80
# Array names `psplab sim recipe` writes, by the kind of measurement they serve.
_NPZ_ARRAYS = {"grains": "grain_labels", "phases": "phase_labels", "particles": "phase_labels"}


def check_pixel_count(shape: tuple[int, ...], name: str) -> None:
    """Refuse an image whose pixel count (from its header) is above the bound or the memory.

    Parameters
    ----------
    shape : tuple of int
        The image's shape, as its file header states it.
    name : str
        The file name, for the message.

    Raises
    ------
    ImageError
        Naming the size and the limit.
    """
    from psplab.limits import require_memory

    n = int(np.prod([int(d) for d in shape], dtype=object))
    size = " x ".join(str(int(d)) for d in shape)
    if n > MAX_IMAGE_PIXELS:
        raise ImageError(
            f"{name}: image is {size} = {n:,} pixels, above the limit of {MAX_IMAGE_PIXELS:,} "
            "(crop or downsample it)"
        )
    try:
        require_memory(n * _BYTES_PER_PIXEL, f"measuring {name} ({size} pixels)", "crop it")
    except ValueError as exc:  # ResourceError
        raise ImageError(str(exc)) from exc


def _read_png(p: Path) -> np.ndarray:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the bound is ours (checked below from the header)
    try:
        with Image.open(p) as img:
            check_pixel_count((img.height, img.width), p.name)
            mode = img.mode
            if mode in ("P", "PA"):
                img = img.convert("P") if mode == "PA" else img
            elif mode == "LA":
                img = img.getchannel("L")
            elif mode not in ("1", "L", "I", "I;16", "I;16B", "I;16L", "F", "RGB", "RGBA"):
                raise ImageError(f"{p}: {mode} image; measurement needs a label or binary image")
            arr = np.asarray(img)
    except (OSError, SyntaxError) as exc:
        raise ImageError(f"{p}: not a readable PNG image ({exc})") from exc
    if arr.ndim == 3:
        arr = _grey_from_rgb(arr, p)
    return arr


def _grey_from_rgb(arr: np.ndarray, p: Path) -> np.ndarray:
    """The one channel of a grey RGB(A) picture; a colour picture is refused."""
    rgb = arr[..., :3]
    same = np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
    if not same:
        raise ImageError(f"{p}: colour image; measurement needs a label or binary image")
    return rgb[..., 0]


def _read_tiff(p: Path) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(p) as tif:
            series = tif.series[0]
            check_pixel_count(tuple(series.shape), p.name)
            arr = series.asarray()
            axes = series.axes
    except (tifffile.TiffFileError, OSError, IndexError, KeyError) as exc:
        raise ImageError(f"{p}: not a readable TIFF image ({exc})") from exc
    arr = np.squeeze(arr)
    if arr.ndim == 3 and axes.endswith("S") and arr.shape[-1] in (3, 4):
        arr = _grey_from_rgb(arr, p)
    return arr


def _check_array(arr: np.ndarray, p: Path, what: str) -> np.ndarray:
    arr = np.squeeze(arr)
    if arr.ndim != 2:
        raise ImageError(f"{p}: {what} has shape {arr.shape}; measurement needs a 2-D image")
    if arr.dtype == object:
        raise ImageError(f"{p}: {what} holds Python objects, not pixel values")
    return arr


def _read_npy(p: Path) -> np.ndarray:
    try:
        header = np.load(p, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise ImageError(f"{p}: not a readable .npy array ({exc})") from exc
    check_pixel_count(header.shape, p.name)
    return _check_array(np.array(header), p, "the array")


def _npz_member_shape(archive: Any, name: str) -> tuple[int, ...]:
    """Shape of one array of an ``.npz`` from its header alone (nothing decompressed)."""
    with archive.zip.open(name + ".npy") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, _ = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, _ = np.lib.format.read_array_header_2_0(fh)
    return tuple(shape)


def _read_npz(p: Path, kind: str | None, array: str | None) -> tuple[np.ndarray, float | None]:
    """The label array of an ``.npz`` and its ``pixel_um`` (``psplab sim recipe`` writes both)."""
    import zipfile

    try:
        archive = np.load(p, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ImageError(f"{p}: not a readable .npz archive ({exc})") from exc
    with archive:
        names = list(archive.files)
        images = [n for n in names if n != "pixel_um"]
        if array is None and kind == "particles" and "precipitate_labels" in names:
            array = "precipitate_labels"  # a sim run's precipitates, at their own pixel
        if array is None:
            preferred = _NPZ_ARRAYS.get(kind or "grains")
            array = preferred if preferred in names else (images[0] if len(images) == 1 else None)
        if array is None or array not in names:
            raise ImageError(
                f"{p}: choose the array to measure with --array (it holds {', '.join(names)})"
            )
        check_pixel_count(_npz_member_shape(archive, array), p.name)
        try:
            arr = archive[array]
            own = "precipitate_pixel_um" if array == "precipitate_labels" else "pixel_um"
            pixel = archive[own] if own in names else None
        except ValueError as exc:  # e.g. an object array (never unpickled)
            raise ImageError(f"{p}: array {array!r} cannot be read ({exc})") from exc
    check_pixel_count(arr.shape, p.name)
    pixel_um = None if pixel is None or np.size(pixel) != 1 else float(np.asarray(pixel).ravel()[0])
    return _check_array(arr, p, f"array {array!r}"), pixel_um


def read_image(path: str | Path) -> np.ndarray:
    """Read a PNG, TIFF, NPY or NPZ file as a 2-D array (grey RGB images are reduced to one channel).

    Parameters
    ----------
    path : str or Path
        The image; an ``.npz`` gives its ``grain_labels`` (or its only array).

    Returns
    -------
    numpy.ndarray
        The 2-D image.

    Raises
    ------
    FileNotFoundError, ValueError
        With the path in the message: a missing file, an unsupported extension, an image that
        is not 2-D (a (2, 3, 4) array is not an RGBA picture), a colour picture, or more pixels
        than :data:`MAX_IMAGE_PIXELS` (checked from the header, before decoding).
    """
    return read_image_with_pixel(path)[0]


def read_image_with_pixel(
    path: str | Path, kind: str | None = None, array: str | None = None
) -> tuple[np.ndarray, float | None]:
    """Like :func:`read_image`, also returning the pixel size an ``.npz`` stores (else None).

    Parameters
    ----------
    path : str or Path
        The image file.
    kind : str, optional
        The measurement, which picks the array of a ``psplab sim recipe`` ``.npz``
        (``grain_labels`` for grains, ``phase_labels`` for phases and particles).
    array : str, optional
        The array of an ``.npz`` to read, by name.

    Returns
    -------
    image : numpy.ndarray
    pixel_um : float or None
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: file not found")
    suffix = p.suffix.lower()
    readers = {".npy": _read_npy, ".png": _read_png, ".tif": _read_tiff, ".tiff": _read_tiff}
    if suffix not in readers and suffix != ".npz":
        raise ImageError(
            f"{p}: unsupported extension {suffix!r} (expected {', '.join(IMAGE_SUFFIXES)})"
        )
    try:
        if suffix == ".npz":
            return _read_npz(p, kind, array)
        arr = np.squeeze(readers[suffix](p))
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - image libraries raise many types on damaged files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImageError(f"{p}: not a readable {suffix[1:].upper()} file ({reason})") from exc
    if arr.ndim != 2:
        raise ImageError(f"{p}: expected a 2-D image, got shape {arr.shape}")
    return arr, None


def guess_kind(image: np.ndarray, background: int | None = None) -> str:
    """``particles`` for two-valued images, ``grains`` for other label images.

    Parameters
    ----------
    image : numpy.ndarray
    background : int, optional
        A value left out of the count.

    Returns
    -------
    str
    """
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
        raise ImageError(
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
    image : numpy.ndarray
        2-D label or binary image.
    pixel_um : float
        Pixel size in micrometres (see :data:`PIXEL_UM_RANGE`).
    kind : str, optional
        ``"grains"``, ``"phases"`` or ``"particles"``; ``None`` guesses (two values:
        particles, more: grains).
    background : int, optional
        Label value to exclude (scale bar, unlabelled area).
    periodic : bool
        Whether the image is a periodic domain (simulations).
    phase : int, optional
        For particles in a label image: the particle label.

    Returns
    -------
    dict
        Always the keys ``kind``, ``shape``, ``pixel_um``, ``grain_count``,
        ``astm_g_intercept``, ``astm_g_planimetric``, ``mean_diameter_um``,
        ``phase_fractions`` and ``particles`` (``None`` where the kind does not measure it),
        plus ``grains`` (the full grain result) or ``two_point`` (radial S2 of the particle
        phase) by kind, and ``warnings`` when the result needs a second look.

    Raises
    ------
    ValueError
        For a bad pixel size, an image that is not a 2-D label image, too many pixels, or
        grains asked of an image holding one value (no grains).
    """
    pixel_um = check_pixel_um(pixel_um)
    values = as_label_array(image, "image")
    check_pixel_count(values.shape, "image")
    if kind is None:
        kind = guess_kind(values, background)
    if kind not in KINDS:
        raise ImageError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
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
        if background is None and np.unique(values).size == 2:
            out["warnings"] = [
                "a two-valued image measured as grains: every region of each value is a grain; "
                "if one value marks the boundaries, pass it as background"
            ]
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
