"""``psplab measure``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from psplab._cli import fail

_SUMMARY_KEYS = {
    "grains": (
        "grain_count",
        "grain_count_effective",
        "astm_g_planimetric",
        "astm_g_intercept",
        "mean_intercept_um",
        "mean_diameter_um",
        "median_diameter_um",
    ),
    "particles": (
        "count",
        "area_fraction",
        "number_density_per_mm2",
        "mean_eq_diameter_um",
        "median_eq_diameter_um",
        "mean_aspect_ratio",
        "mean_nn_distance_um",
    ),
}


def measure_command(
    image: Path = typer.Argument(..., help="Label or binary image (PNG, TIFF, NPY or NPZ)."),
    pixel_um: float = typer.Option(
        None, "--pixel-um", help="Pixel size in micrometres (default: the one an .npz stores)."
    ),
    kind: str = typer.Option(
        None, "--kind", help="grains | phases | particles (default: guessed from the values)."
    ),
    background: int = typer.Option(
        None, "--background", help="Label value to exclude (scale bar, unlabelled)."
    ),
    phase: int = typer.Option(
        None, "--phase", help="For --kind particles on a label image: the particle label."
    ),
    array: str = typer.Option(None, "--array", help="The array of an .npz file to measure."),
    periodic: bool = typer.Option(False, "--periodic", help="The image is a periodic domain."),
    json_out: Path = typer.Option(None, "--json", help="Write all measurements to this file."),
) -> None:
    """Measure grains, phase fractions or particles of a segmented micrograph."""
    from psplab.manifest import dump_json
    from psplab.measure.image import KINDS, check_pixel_um, measure_image, read_image_with_pixel

    if kind is not None and kind not in KINDS:
        fail(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    try:
        if pixel_um is not None:
            check_pixel_um(pixel_um)
        arr, stored_pixel_um = read_image_with_pixel(image, kind=kind, array=array)
        if pixel_um is None and stored_pixel_um is None:
            fail(f"{image}: give the pixel size with --pixel-um (the file does not store one)")
        result = measure_image(
            arr,
            pixel_um if pixel_um is not None else stored_pixel_um,
            kind=kind,
            background=background,
            periodic=periodic,
            phase=phase,
        )
    except (OSError, ValueError) as exc:
        message = str(exc).replace("pixel_um", "--pixel-um")
        fail(message if str(image) in message else f"{image}: {message}")
    result["image"] = str(image)
    if json_out is not None:
        dump_json(json_out, result)  # NaN (nothing to average) is written as null
    _print_result(image, result)
    if json_out is not None:
        Console(highlight=False).print(f"wrote {escape(str(json_out))}")


def _print_result(image: Path, result: dict) -> None:
    console = Console(highlight=False)
    table = Table("measurement", "value", title=escape(f"{image} ({result['kind']})"))
    if result["kind"] == "phases":
        values = {f"fraction of {k}": v for k, v in result["phase_fractions"].items()}
    else:
        part = result["grains" if result["kind"] == "grains" else "particles"]
        values = {k: part[k] for k in _SUMMARY_KEYS[result["kind"]]}
        if result["kind"] == "grains":
            values["lognormal sigma_ln"] = part["diameter_lognormal"]["sigma_ln"]
    for name, value in values.items():
        if value is not None:
            table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    for warning in result.get("warnings", []):
        Console(stderr=True, highlight=False, markup=False).print(f"{image}: warning: {warning}")


def register(app: typer.Typer) -> None:
    """Add ``psplab measure`` to ``app``."""
    app.command("measure")(measure_command)
