"""``psplab mechanics``: FFT elasto-plastic homogenization of a label image."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import numpy as np

_IMAGE_SUFFIXES = (".npy", ".npz", ".png", ".tif", ".tiff")


def _fail(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)
    raise typer.Exit(code=2)


def _as_label_image(arr: np.ndarray, source: str) -> np.ndarray:
    """Validate a 2-D integer label image (a grey RGB(A) image is accepted as its channel)."""
    import numpy as np

    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        rgb = arr[..., :3]
        if not (np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 0] == rgb[..., 2])):
            raise ValueError(f"{source}: a colour image is not a label image (use grey levels)")
        arr = rgb[..., 0]
    if arr.ndim != 2:
        raise ValueError(f"{source}: expected a 2-D label image, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if arr.dtype == bool:
            arr = arr.astype(np.int32)
        elif np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{source}: pixel values must be integer labels")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{source}: labels must be >= 0, found {int(arr.min())}")
    return arr.astype(np.int64)


def read_label_images(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``(grain_labels, phase_labels or None)`` from PNG/TIFF/NPY, or NPZ with both.

    An ``.npz`` file may hold ``grain_labels`` and ``phase_labels`` arrays (as written by
    ``numpy.savez`` from a :class:`psplab.sim.SimResult`); any other file is one grain-label
    image.
    """
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in _IMAGE_SUFFIXES:
        raise ValueError(f"{path}: unsupported image type {suffix!r} (use PNG, TIFF, NPY or NPZ)")
    try:
        if suffix == ".npy":
            return _as_label_image(np.load(path, allow_pickle=False), str(path)), None
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                if "grain_labels" in data:
                    grains = _as_label_image(data["grain_labels"], f"{path}[grain_labels]")
                    phases = (
                        _as_label_image(data["phase_labels"], f"{path}[phase_labels]")
                        if "phase_labels" in data
                        else None
                    )
                    return grains, phases
                if len(data.files) != 1:
                    raise ValueError(
                        f"{path}: an .npz needs a 'grain_labels' array (found {data.files})"
                    )
                return _as_label_image(data[data.files[0]], str(path)), None
        from skimage import io

        return _as_label_image(io.imread(path), str(path)), None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read image ({exc})") from None


def _write_outputs(out: Path, res: dict[str, Any], summary: dict[str, Any]) -> dict[str, str]:
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from psplab.manifest import dump_json

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    strain = res["curve"]["strain"]
    stress = res["curve"]["stress_mpa"]
    with open(out / "curve.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["strain", "stress_MPa"])
        writer.writerows(zip(strain.tolist(), stress.tolist(), strict=True))
    files["curve_csv"] = "curve.csv"

    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.plot(strain * 100, stress, "o-", ms=3, label="FFT J2 (macroscopic)")
    e_mpa = res["youngs_modulus_gpa"] * 1e3
    sy = res["yield_strength_mpa"]
    if math.isfinite(sy):
        x = np.linspace(0.002, res["yield_strain"] * 1.05, 2)
        ax.plot(x * 100, e_mpa * (x - 0.002), "--", color="grey", label="0.2 % offset line")
        ax.plot([res["yield_strain"] * 100], [sy], "r*", ms=10, label=f"yield {sy:.0f} MPa")
    ax.set_xlabel("axial strain ε_xx (%)")
    ax.set_ylabel("axial stress σ_xx (MPa)")
    ax.set_title("Uniaxial stress–strain curve")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "curve.png")
    plt.close(fig)
    files["curve_png"] = "curve.png"

    if res["stress_field_at_yield"] is not None:
        field = np.asarray(res["stress_field_at_yield"])
        np.save(out / "stress_at_yield.npy", field)
        fig, ax = plt.subplots(figsize=(5, 4.2), dpi=120)
        h, w = field.shape
        px = summary["pixel_um"]
        im = ax.imshow(field, cmap="inferno", extent=(0, w * px, h * px, 0))
        fig.colorbar(im, ax=ax, label="von Mises stress (MPa)")
        ax.set_xlabel("x (µm)  — loading direction")
        ax.set_ylabel("y (µm)")
        ax.set_title("Stress field at the 0.2 % offset yield point")
        fig.tight_layout()
        fig.savefig(out / "stress_at_yield.png")
        plt.close(fig)
        files["stress_field_png"] = "stress_at_yield.png"
        files["stress_field_npy"] = "stress_at_yield.npy"
    dump_json(out / "mechanics.json", summary)
    files["results_json"] = "mechanics.json"
    return files


def mechanics_command(
    image: Path = typer.Argument(
        ..., help="Grain-label image (PNG, TIFF, NPY) or NPZ with grain_labels/phase_labels."
    ),
    pixel_um: float = typer.Option(..., "--pixel-um", help="Pixel size in micrometres."),
    family: str = typer.Option(
        ..., "--family", help="Alloy family: ferritic_steel | al_mg | ti_al."
    ),
    phases: Path = typer.Option(
        None, "--phases", help="Phase-label image (0 matrix, >0 precipitate), same shape."
    ),
    solute_wt_pct: float = typer.Option(0.0, "--solute", help="Matrix solute content, wt%."),
    hardening_mpa: float = typer.Option(
        None, "--hardening-mpa", help="Linear hardening modulus, MPa (default: family value)."
    ),
    steps: int = typer.Option(40, "--steps", help="Number of strain increments."),
    plane_strain: bool = typer.Option(
        False, "--plane-strain", help="Load in plane strain (eps_zz = 0) instead of sigma_zz = 0."
    ),
    no_orowan: bool = typer.Option(
        False, "--no-orowan", help="Leave the Orowan term out of the matrix yield stress."
    ),
    json_out: Path = typer.Option(None, "--json", help="Write the results to this JSON file."),
    out: Path = typer.Option(
        None, "--out", help="Run directory: curve CSV/PNG, stress field, manifest.json."
    ),
) -> None:
    """FFT homogenization of a microstructure: stiffness, stress–strain curve, 0.2 % yield."""
    import numpy as np

    from psplab.manifest import dump_json, write_manifest
    from psplab.strength import FAMILY_CONSTANTS

    problems = []
    if not (math.isfinite(pixel_um) and pixel_um > 0):
        problems.append(f"--pixel-um must be a positive number, got {pixel_um}")
    if family not in FAMILY_CONSTANTS:
        problems.append(f"--family {family!r} is not one of {', '.join(sorted(FAMILY_CONSTANTS))}")
    if not (math.isfinite(solute_wt_pct) and solute_wt_pct >= 0):
        problems.append(f"--solute must be >= 0 wt%, got {solute_wt_pct}")
    if hardening_mpa is not None and not (math.isfinite(hardening_mpa) and hardening_mpa >= 0):
        problems.append(f"--hardening-mpa must be >= 0, got {hardening_mpa}")
    if steps < 4:
        problems.append(f"--steps must be at least 4, got {steps}")
    grains = phase_img = None
    try:
        grains, phase_img = read_label_images(image)
    except ValueError as exc:
        problems.append(str(exc))
    if phases is not None:
        try:
            phase_img = read_label_images(phases)[0]
        except ValueError as exc:
            problems.append(str(exc))
    if grains is not None and phase_img is not None and phase_img.shape != grains.shape:
        problems.append(
            f"{phases or image}: phase image shape {phase_img.shape} differs from the grain "
            f"image {grains.shape}"
        )
    if problems:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        for p in problems:
            err.print(p, markup=False)
        raise typer.Exit(code=2)

    from psplab.strength.fft import mechanics_yield_strength

    try:
        res = mechanics_yield_strength(
            grains,
            phase_img,
            pixel_um,
            family,
            solute_wt_pct=solute_wt_pct,
            include_orowan=not no_orowan,
            hardening_modulus_mpa=hardening_mpa,
            out_of_plane="fixed" if plane_strain else "free",
            n_steps=steps,
        )
    except ValueError as exc:
        _fail(f"{image}: {exc}")

    summary: dict[str, Any] = {
        "image": str(image),
        "family": family,
        "pixel_um": pixel_um,
        "solute_wt_pct": solute_wt_pct,
        "stiffness_gpa": res["stiffness_gpa"],
        "stiffness_notation": "Voigt [xx, yy, xy(engineering)], plane strain, GPa",
        "youngs_modulus_gpa": res["youngs_modulus_gpa"],
        "yield_strength_mpa": res["yield_strength_mpa"],
        "yield_strain": res["yield_strain"],
        "curve": {"strain": res["curve"]["strain"], "stress_mpa": res["curve"]["stress_mpa"]},
        "info": res["info"],
    }
    if json_out is not None:
        dump_json(json_out, summary)
    if out is not None:
        files = _write_outputs(out, res, summary)
        write_manifest(
            out,
            "mechanics",
            files=files,
            results={
                "yield_strength_mpa": res["yield_strength_mpa"],
                "youngs_modulus_gpa": res["youngs_modulus_gpa"],
                "stiffness_gpa": res["stiffness_gpa"],
            },
            params={
                "image": str(image),
                "phases": None if phases is None else str(phases),
                "pixel_um": pixel_um,
                "family": family,
                "solute_wt_pct": solute_wt_pct,
                "hardening_modulus_mpa": res["info"]["hardening_modulus_mpa"],
                "steps": steps,
                "out_of_plane": res["info"]["out_of_plane"],
                "include_orowan": not no_orowan,
            },
        )

    console = Console(highlight=False)
    c = np.asarray(res["stiffness_gpa"])
    table = Table("C (GPa)", "xx", "yy", "xy", title=f"{image}: plane-strain stiffness (Voigt)")
    for name, row in zip(("xx", "yy", "xy"), c, strict=True):
        table.add_row(name, *(f"{v:.2f}" for v in row))
    console.print(table)
    i = res["info"]
    console.print(
        f"grid {i['grid'][0]}×{i['grid'][1]}, {i['n_grains']} grains "
        f"(mean {i['mean_grain_diameter_um']:.3g} µm), precipitates "
        f"{100 * i['precipitate_fraction']:.2f} %"
    )
    console.print(f"initial axial modulus: {res['youngs_modulus_gpa']:.1f} GPa")
    sy = res["yield_strength_mpa"]
    if math.isfinite(sy):
        console.print(f"[bold]0.2 % offset yield strength: {sy:.1f} MPa[/]")
    else:
        console.print("[yellow]the curve did not reach the 0.2 % offset line[/]")
    if out is not None:
        console.print(f"wrote {out}/ (curve.csv, curve.png, stress_at_yield.png, manifest.json)")


def register(app: typer.Typer) -> None:
    app.command("mechanics")(mechanics_command)
