"""The ``psplab mechanics`` pipeline as Python: read label images, run the FFT test, write a run.

>>> grains, phases, pixel_um = read_mechanics_images("micro.npz")         # doctest: +SKIP
>>> run = run_mechanics(grains, phases, pixel_um=0.5, family="al_mg")     # doctest: +SKIP
>>> run.result["yield_strength_mpa"]; run.write("runs/mech")              # doctest: +SKIP
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psplab.errors import InputError, PsplabError

__all__ = ["MechanicsRun", "read_label_images", "read_mechanics_images", "run_mechanics"]


def _npz_arrays(path: Path) -> list[str]:
    """Names of the arrays in an ``.npz`` (nothing is decompressed)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return list(archive.files)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None


def read_label_images(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    """Read grain labels, phase labels and the stored pixel size from an image file.

    A PNG, TIFF or NPY file is one grain-label image. An ``.npz`` (as ``psplab sim recipe``
    writes) gives its ``grain_labels`` (or its only image array), its ``phase_labels`` when
    present, and its ``pixel_um``. Files are read by :func:`psplab.measure.image.
    read_image_with_pixel`, which checks the pixel count from the header before decoding.

    Parameters
    ----------
    path : str or pathlib.Path
        The image file.

    Returns
    -------
    tuple
        ``(grain_labels, phase_labels or None, pixel_um or None)``; the labels as ``int64``.

    Raises
    ------
    psplab.errors.InputError
        For a missing, unreadable, oversized or unsupported file, or one that is not a label
        image.
    """
    from psplab.measure.image import read_image_with_pixel
    from psplab.strength.fft import as_label_image

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        arrays = _npz_arrays(path) if path.suffix.lower() == ".npz" else []
        images = [name for name in arrays if name != "pixel_um"]
        if arrays and "grain_labels" not in arrays and len(images) != 1:
            raise InputError(f"{path}: an .npz needs a 'grain_labels' array (found {arrays})")
        grains, pixel_um = read_image_with_pixel(path, kind="grains")
        phases = None
        if "phase_labels" in arrays:
            phases, _ = read_image_with_pixel(path, array="phase_labels")
            phases = as_label_image(phases, f"{path}[phase_labels]")
        name = f"{path}[grain_labels]" if "grain_labels" in arrays else str(path)
        return as_label_image(grains, name), phases, pixel_um
    except PsplabError:
        raise
    except (OSError, EOFError, ValueError) as exc:
        message = str(exc) if str(path) in str(exc) else f"{path}: cannot read image ({exc})"
        raise InputError(message) from None


def read_mechanics_images(
    image: str | Path, phases: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    """The grain and phase label images of a mechanics run, every problem reported at once.

    Parameters
    ----------
    image : str or pathlib.Path
        Grain-label image, or an ``.npz`` with ``grain_labels`` (and ``phase_labels``).
    phases : str or pathlib.Path, optional
        A separate phase-label image (0 matrix, > 0 precipitate); it replaces any phase
        labels of ``image``.

    Returns
    -------
    tuple
        ``(grain_labels, phase_labels or None, pixel_um or None)``: the pixel size ``image``
        stores, if any.

    Raises
    ------
    psplab.errors.InputError
        With one problem per unreadable file, and a shape mismatch.
    """
    problems: list[str] = []
    grains = phase_img = pixel_um = None
    try:
        grains, phase_img, pixel_um = read_label_images(image)
    except InputError as exc:
        problems.extend(exc.lines)
    if phases is not None:
        try:
            phase_img = read_label_images(phases)[0]
        except InputError as exc:
            problems.extend(exc.lines)
    if grains is not None and phase_img is not None and phase_img.shape != grains.shape:
        problems.append(
            f"{phases or image}: phase image shape {phase_img.shape} differs from the grain "
            f"image {grains.shape}"
        )
    if problems:
        raise InputError(problems)
    return grains, phase_img, pixel_um


@dataclass
class MechanicsRun:
    """Inputs and result of one FFT mechanics run; :meth:`write` makes its run directory.

    Attributes
    ----------
    result : dict
        What :func:`psplab.strength.fft.mechanics_yield_strength` returned.
    params : dict
        The settings it ran with (family, pixel size, solute, steps, sources, ...).
    """

    result: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON-able summary written to ``mechanics.json``.

        Returns
        -------
        dict
            Image, family, pixel size, solute, stiffness, modulus, yield strength and strain,
            the curve and the solver information.
        """
        res = self.result
        return {
            "image": self.params.get("image"),
            "family": self.params.get("family"),
            "pixel_um": self.params.get("pixel_um"),
            "solute_wt_pct": self.params.get("solute_wt_pct"),
            "stiffness_gpa": res["stiffness_gpa"],
            "stiffness_notation": "Voigt [xx, yy, xy(engineering)], plane strain, GPa",
            "youngs_modulus_gpa": res["youngs_modulus_gpa"],
            "yield_strength_mpa": res["yield_strength_mpa"],
            "yield_strain": res["yield_strain"],
            "curve": {"strain": res["curve"]["strain"], "stress_mpa": res["curve"]["stress_mpa"]},
            "info": res["info"],
        }

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`summary` as JSON (NaN as ``null``).

        Parameters
        ----------
        path : str or pathlib.Path
            The file.

        Returns
        -------
        pathlib.Path
        """
        from psplab.manifest import dump_json

        return dump_json(path, self.summary())

    def write(self, out: str | Path) -> dict[str, str]:
        """Write the run directory: curve CSV and PNG, stress field, JSON and ``manifest.json``.

        Parameters
        ----------
        out : str or pathlib.Path
            The run directory, created with its parents if missing.

        Returns
        -------
        dict
            Written files by role, relative to ``out``.
        """
        from psplab.manifest import write_manifest
        from psplab.plotting import save_figure
        from psplab.strength.plots import stress_field, stress_strain_curve

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        res = self.result
        with open(out / "curve.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["strain", "stress_MPa"])
            strain, stress = res["curve"]["strain"], res["curve"]["stress_mpa"]
            writer.writerows(zip(strain.tolist(), stress.tolist(), strict=True))
        files = {"curve_csv": "curve.csv", "curve_png": "curve.png"}
        save_figure(stress_strain_curve(res), out / "curve.png")
        if res["stress_field_at_yield"] is not None:
            field_mpa = np.asarray(res["stress_field_at_yield"])
            np.save(out / "stress_at_yield.npy", field_mpa)
            save_figure(
                stress_field(field_mpa, float(self.params["pixel_um"])), out / "stress_at_yield.png"
            )
            files["stress_field_png"] = "stress_at_yield.png"
            files["stress_field_npy"] = "stress_at_yield.npy"
        self.write_json(out / "mechanics.json")
        files["results_json"] = "mechanics.json"
        results = {k: res[k] for k in ("yield_strength_mpa", "youngs_modulus_gpa", "stiffness_gpa")}
        write_manifest(out, "mechanics", files=files, results=results, params=self.params)
        return files


def run_mechanics(
    grains: np.ndarray,
    phases: np.ndarray | None,
    *,
    pixel_um: float,
    family: str,
    solute_wt_pct: float = 0.0,
    hardening_modulus_mpa: float | None = None,
    steps: int = 40,
    plane_strain: bool = False,
    include_orowan: bool = True,
    sources: dict[str, str | None] | None = None,
) -> MechanicsRun:
    """FFT elasto-plastic test of a label image: stiffness, stress–strain curve, 0.2 % yield.

    Parameters
    ----------
    grains, phases : numpy.ndarray
        Grain labels and phase labels (or None), e.g. from :func:`read_mechanics_images`.
    pixel_um : float
        Pixel size, µm.
    family : str
        Alloy family (``ferritic_steel``, ``al_mg``, ``ti_al``).
    solute_wt_pct : float
        Matrix solute content, wt%.
    hardening_modulus_mpa : float, optional
        Linear hardening modulus, MPa (default: the family's value).
    steps : int
        Number of strain increments.
    plane_strain : bool
        Load in plane strain (``eps_zz = 0``) instead of ``sigma_zz = 0``.
    include_orowan : bool
        Include the Orowan term in the matrix yield stress.
    sources : dict, optional
        Where the images came from (``{"image": ..., "phases": ...}``), kept in the record.

    Returns
    -------
    MechanicsRun

    Raises
    ------
    psplab.errors.InputError
        For a bad setting or image; :class:`psplab.errors.ResourceError` when the image and
        step count need more memory than is available.
    """
    from psplab.strength.fft import mechanics_yield_strength

    res = mechanics_yield_strength(
        grains,
        phases,
        pixel_um,
        family,
        solute_wt_pct=solute_wt_pct,
        include_orowan=include_orowan,
        hardening_modulus_mpa=hardening_modulus_mpa,
        out_of_plane="fixed" if plane_strain else "free",
        n_steps=steps,
    )
    sources = dict(sources or {})
    params = {
        "image": sources.get("image"),
        "phases": sources.get("phases"),
        "pixel_um": pixel_um,
        "family": family,
        "solute_wt_pct": solute_wt_pct,
        "hardening_modulus_mpa": res["info"]["hardening_modulus_mpa"],
        "steps": steps,
        "out_of_plane": res["info"]["out_of_plane"],
        "include_orowan": include_orowan,
    }
    return MechanicsRun(result=res, params=params)
