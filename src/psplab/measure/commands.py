"""``psplab measure``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def _fail(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)
    raise typer.Exit(code=2)


def measure_command(
    image: Path = typer.Argument(..., help="Label or binary image (PNG, TIFF or NPY)."),
    pixel_um: float = typer.Option(..., "--pixel-um", help="Pixel size in micrometres."),
    kind: str = typer.Option(
        None, "--kind", help="grains | phases | particles (default: guessed from the values)."
    ),
    background: int = typer.Option(
        None, "--background", help="Label value to exclude (scale bar, unlabelled)."
    ),
    phase: int = typer.Option(
        None, "--phase", help="For --kind particles on a label image: the particle label."
    ),
    periodic: bool = typer.Option(False, "--periodic", help="The image is a periodic domain."),
    json_out: Path = typer.Option(None, "--json", help="Write all measurements to this file."),
) -> None:
    """Measure grains, phase fractions or particles of a segmented micrograph."""
    import math

    from psplab.manifest import dump_json
    from psplab.measure.image import KINDS, measure_image, read_image

    if not (math.isfinite(pixel_um) and pixel_um > 0):
        _fail(f"--pixel-um must be a positive number, got {pixel_um}")
    if kind is not None and kind not in KINDS:
        _fail(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    try:
        arr = read_image(image)
        result = measure_image(
            arr, pixel_um, kind=kind, background=background, periodic=periodic, phase=phase
        )
    except (OSError, ValueError) as exc:
        _fail(f"{image}: {exc}" if str(image) not in str(exc) else str(exc))
    result["image"] = str(image)
    if json_out is not None:
        dump_json(json_out, result)

    console = Console(highlight=False)
    table = Table("measurement", "value", title=f"{image} ({result['kind']})")

    def row(name: str, value) -> None:
        if value is None:
            return
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))

    if result["kind"] == "grains":
        g = result["grains"]
        for key in (
            "grain_count",
            "grain_count_effective",
            "astm_g_planimetric",
            "astm_g_intercept",
            "mean_intercept_um",
            "mean_diameter_um",
            "median_diameter_um",
        ):
            row(key, g[key])
        row("lognormal sigma_ln", g["diameter_lognormal"]["sigma_ln"])
    elif result["kind"] == "phases":
        for label, frac in result["phase_fractions"].items():
            row(f"fraction of {label}", frac)
    else:
        p = result["particles"]
        for key in (
            "count",
            "area_fraction",
            "number_density_per_mm2",
            "mean_eq_diameter_um",
            "median_eq_diameter_um",
            "mean_aspect_ratio",
            "mean_nn_distance_um",
        ):
            row(key, p[key])
    console.print(table)
    if json_out is not None:
        console.print(f"wrote {json_out}")


def register(app: typer.Typer) -> None:
    app.command("measure")(measure_command)
