"""``psplab mechanics``: FFT elasto-plastic homogenization of a label image.

Parses the options, calls :mod:`psplab.strength.pipeline` and prints; the work is done there.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from psplab.strength.pipeline import MechanicsRun

ImageArg = Annotated[
    Path,
    typer.Argument(
        help="Grain-label image (PNG, TIFF, NPY) or NPZ with grain_labels/phase_labels."
    ),
]
PixelOpt = Annotated[
    float | None,
    typer.Option("--pixel-um", help="Pixel size in micrometres (default: what an NPZ stores)."),
]
FamilyOpt = Annotated[
    str, typer.Option("--family", help="Alloy family: ferritic_steel | al_mg | ti_al.")
]
PhasesOpt = Annotated[
    Path | None,
    typer.Option("--phases", help="Phase-label image (0 matrix, >0 precipitate), same shape."),
]
SoluteOpt = Annotated[float, typer.Option("--solute", help="Matrix solute content, wt%.")]
HardeningOpt = Annotated[
    float | None,
    typer.Option("--hardening-mpa", help="Linear hardening modulus, MPa (default: family value)."),
]
StepsOpt = Annotated[int, typer.Option("--steps", help="Number of strain increments.")]
PlaneStrainOpt = Annotated[
    bool,
    typer.Option(
        "--plane-strain", help="Load in plane strain (eps_zz = 0) instead of sigma_zz = 0."
    ),
]
NoOrowanOpt = Annotated[
    bool, typer.Option("--no-orowan", help="Leave the Orowan term out of the matrix yield stress.")
]
JsonOpt = Annotated[
    Path | None, typer.Option("--json", help="Write the results to this JSON file.")
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Run directory: curve CSV/PNG, stress field, manifest.json."),
]


def _path_problems(json_out: Path | None, out: Path | None) -> list[str]:
    """Output paths that cannot be written, found before the solve rather than after it."""
    problems = []
    if out is not None and out.exists() and not out.is_dir():
        problems.append(f"--out {out}: exists and is not a folder")
    if json_out is not None and json_out.is_dir():
        problems.append(f"--json {json_out}: is a folder, not a file")
    return problems


def _option_problems(
    pixel_um: float | None,
    family: str,
    solute_wt_pct: float,
    hardening_mpa: float | None,
    steps: int,
) -> list[str]:
    from psplab.strength.fft import MAX_LOAD_STEPS
    from psplab.strength.model import FAMILY_CONSTANTS

    problems = []
    if pixel_um is not None and not (math.isfinite(pixel_um) and pixel_um > 0):
        problems.append(f"--pixel-um must be a positive number, got {pixel_um}")
    if family not in FAMILY_CONSTANTS:
        problems.append(f"--family {family!r} is not one of {', '.join(sorted(FAMILY_CONSTANTS))}")
    if not (math.isfinite(solute_wt_pct) and solute_wt_pct >= 0):
        problems.append(f"--solute must be >= 0 wt%, got {solute_wt_pct}")
    if hardening_mpa is not None and not (math.isfinite(hardening_mpa) and hardening_mpa >= 0):
        problems.append(f"--hardening-mpa must be >= 0, got {hardening_mpa}")
    if not 4 <= steps <= MAX_LOAD_STEPS:
        problems.append(f"--steps must be between 4 and {MAX_LOAD_STEPS}, got {steps}")
    return problems


def _print_run(run: MechanicsRun, image: Path, out: Path | None) -> None:
    from rich.table import Table

    from psplab._cli import out_console

    console = out_console()
    res, info = run.result, run.result["info"]
    table = Table("C (GPa)", "xx", "yy", "xy", title=f"{image}: plane-strain stiffness (Voigt)")
    for name, row in zip(("xx", "yy", "xy"), res["stiffness_gpa"], strict=True):
        table.add_row(name, *(f"{v:.2f}" for v in row))
    console.print(table)
    console.print(
        f"grid {info['grid'][0]}×{info['grid'][1]}, {info['n_grains']} grains "
        f"(mean {info['mean_grain_diameter_um']:.3g} µm), precipitates "
        f"{100 * info['precipitate_fraction']:.2f} %"
    )
    console.print(f"initial axial modulus: {res['youngs_modulus_gpa']:.1f} GPa")
    sy = res["yield_strength_mpa"]
    if math.isfinite(sy):
        console.print(f"[bold]0.2 % offset yield strength: {sy:.1f} MPa[/]")
    else:
        console.print("[yellow]the curve did not reach the 0.2 % offset line[/]")
    if out is not None:
        console.print(f"wrote {out}/ (curve.csv, curve.png, stress_at_yield.png, manifest.json)")


def mechanics_command(
    image: ImageArg,
    family: FamilyOpt,
    pixel_um: PixelOpt = None,
    phases: PhasesOpt = None,
    solute_wt_pct: SoluteOpt = 0.0,
    hardening_mpa: HardeningOpt = None,
    steps: StepsOpt = 40,
    plane_strain: PlaneStrainOpt = False,
    no_orowan: NoOrowanOpt = False,
    json_out: JsonOpt = None,
    out: OutOpt = None,
) -> None:
    """FFT homogenization of a microstructure: stiffness, stress–strain curve, 0.2 % yield."""
    from psplab._cli import fail
    from psplab.errors import InputError
    from psplab.strength.pipeline import read_mechanics_images, run_mechanics

    problems = _option_problems(pixel_um, family, solute_wt_pct, hardening_mpa, steps)
    problems += _path_problems(json_out, out)
    grains = phase_img = None
    try:
        grains, phase_img, stored_pixel_um = read_mechanics_images(image, phases)
        pixel_um = stored_pixel_um if pixel_um is None else pixel_um
        if pixel_um is None:
            problems.append(f"--pixel-um is needed: {image} does not store its pixel size")
    except InputError as exc:
        problems.extend(exc.lines)
    if problems:
        fail(problems)
    try:
        run = run_mechanics(
            grains,
            phase_img,
            pixel_um=pixel_um,
            family=family,
            solute_wt_pct=solute_wt_pct,
            hardening_modulus_mpa=hardening_mpa,
            steps=steps,
            plane_strain=plane_strain,
            include_orowan=not no_orowan,
            sources={"image": str(image), "phases": None if phases is None else str(phases)},
        )
    except InputError as exc:
        fail([f"{image}: {line}" for line in exc.lines])
    if json_out is not None:
        run.write_json(json_out)
    if out is not None:
        run.write(out)
    _print_run(run, image, out)


def register(app: typer.Typer) -> None:
    """Add ``psplab mechanics`` to the ``psplab`` typer app."""
    app.command("mechanics")(mechanics_command)
