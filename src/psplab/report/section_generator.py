"""Report section of generator runs: generated microstructures beside the images they imitate.

A ``psplab generator fit`` run with held-out recipes (``--holdout``) is shown recipe by recipe:
a held-out (simulated or measured) image beside four generated ones, and the grain-size
distributions of the held-out and the generated images. A ``psplab generator sample`` run is
shown with four generated images per recipe and their grain-size distributions. The figures
come from :mod:`psplab.models.generator.plots`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from psplab.report.figures import render
from psplab.report.html import Section, paragraph
from psplab.report.runs import LeftOut, Run

__all__ = ["GENERATOR_RUN_KINDS", "generator_section", "grain_diameters_um"]

GENERATOR_RUN_KINDS = ("generator-fit", "generator-sample")
SHOWN_IMAGES = 4  # generated images beside each recipe's reference
MAX_RECIPES = 4  # recipes shown per run


def grain_diameters_um(
    images: list[np.ndarray], pixel_um: list[float], periodic: bool
) -> np.ndarray:
    """Equivalent-circle diameters of every grain of the images, pooled.

    Parameters
    ----------
    images : list of numpy.ndarray
        Grain label images (an image of one grain only is skipped).
    pixel_um : list of float
        Each image's pixel size in µm.
    periodic : bool
        Whether the images are periodic domains.

    Returns
    -------
    numpy.ndarray
        Diameters in µm, as :func:`psplab.measure.measure_grains` gives them.
    """
    from psplab.measure import measure_grains

    out = [
        np.asarray(measure_grains(g, float(p), periodic=periodic)["eq_diameters_um"], float)
        for g, p in zip(images, pixel_um, strict=True)
        if np.unique(g).size > 1
    ]
    return np.concatenate(out) if out else np.zeros(0)


def _recipe_text(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in values.items()
    )


def _holdout_panels(run: Run) -> list[dict[str, Any]]:
    """Per held-out recipe: its values, reference and generated images and pixel sizes."""
    table_p, npz_p = run.file("holdout"), run.file("holdout_images")
    if table_p is None or npz_p is None:
        raise LeftOut("the fit held out no recipes (run 'psplab generator fit --holdout N')")
    table = pd.read_csv(table_p)
    periodic = bool(run.results.get("periodic", True))
    with np.load(npz_p, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if "generated_grains" not in arrays:
        raise LeftOut("the model generates no grain images")
    names = [c for c in table.columns if not re.search(r"_(data|generated)$", c)]
    panels = []
    for r in range(min(len(table), MAX_RECIPES)):
        keys = sorted(k for k in arrays if re.fullmatch(rf"data_grains_{r}(_\d+)?", k))
        if not keys:
            continue
        reference = [arrays[k] for k in keys]
        ref_px = [float(arrays[k.replace("data_grains", "data_grain_pixel_um")]) for k in keys]
        panels.append(
            {
                "recipe": {c: table.iloc[r][c] for c in names},
                "reference": reference,
                "reference_pixel_um": ref_px,
                "generated": list(arrays["generated_grains"][r]),
                "generated_pixel_um": [float(v) for v in arrays["generated_pixel_um"][r]],
                "periodic": periodic,
            }
        )
    if not panels:
        raise LeftOut("no held-out grain images were saved")
    return panels


def _sample_panels(run: Run) -> list[dict[str, Any]]:
    """Per sampled recipe: its values and generated grain images (no reference)."""
    table_p, summary_p = run.file("image_table"), run.file("summary")
    if table_p is None or summary_p is None:
        raise LeftOut("no image table or summary of the generated images")
    images = pd.read_csv(table_p.with_suffix(".csv"))
    summary = pd.read_csv(summary_p)
    grains = images[images["kind"] == "grains"]
    if grains.empty:
        raise LeftOut("the model generates no grain images")
    names = [
        c for c in summary.columns if c != "n_images" and not re.search(r"_(mean|q05|q95)$", c)
    ]
    panels = []
    for r in range(min(len(summary), MAX_RECIPES)):
        rows = grains[grains["sample"].str.startswith(f"r{r:03d}_")]
        paths = [table_p.parent / p for p in rows["path"]]
        panels.append(
            {
                "recipe": {c: summary.iloc[r][c] for c in names},
                "reference": [],
                "reference_pixel_um": [],
                "generated": [np.load(p) for p in paths],
                "generated_pixel_um": rows["pixel_um"].astype(float).tolist(),
                "periodic": True,
            }
        )
    return panels


def generator_section(run: Run, units: dict[str, str]) -> Section:
    """Generated microstructures of a generator run, beside held-out images when it has them.

    Parameters
    ----------
    run : Run
        A ``psplab generator fit`` run with held-out recipes, or a ``psplab generator sample``
        run.
    units : dict
        Not used (every section maker takes it).

    Returns
    -------
    Section
        Per recipe (at most four): a montage of the reference image (fit runs) and four
        generated ones, and the grain-size distributions.

    Raises
    ------
    LeftOut
        For a fit run without held-out recipes, or a run without grain images.
    """
    from psplab.models.generator.plots import label_montage, size_distribution_plot

    fit = run.kind == "generator-fit"
    panels = _holdout_panels(run) if fit else _sample_panels(run)
    intro = (
        f"Microstructures drawn by the generator of {run.name} for recipes it was not trained "
        "on, beside a held-out image of the same recipe, and the grain sizes of both. Each "
        "generated image uses its own network draw: their differences show both the "
        "microstructure's own randomness and the model's uncertainty."
        if fit
        else f"Microstructures drawn by the generator for the recipes of {run.name}."
    )
    sec = Section("generated-microstructures", "Generated microstructures", intro)
    for panel in panels:
        gen = panel["generated"][:SHOWN_IMAGES]
        gen_px = panel["generated_pixel_um"][:SHOWN_IMAGES]
        images = panel["reference"][:1] + gen
        pixels = panel["reference_pixel_um"][:1] + gen_px
        titles = ["held out"] * len(panel["reference"][:1]) + [
            f"generated {j + 1}" for j in range(len(gen))
        ]
        recipe = _recipe_text(panel["recipe"])
        sec.add(paragraph(f"Recipe: {recipe}."))
        sec.add(
            render(
                label_montage(images, None, pixels, titles=titles),
                "Grain-label images at their physical size (one scale bar in µm): "
                + ("the held-out image first, then " if panel["reference"] else "")
                + f"{len(gen)} generated images; each grain in its own colour, boundaries dark.",
                alt=f"generated microstructures, {recipe}",
            )
        )
        groups = {
            "generated": grain_diameters_um(
                panel["generated"], panel["generated_pixel_um"], panel["periodic"]
            )
        }
        if panel["reference"]:
            groups = {
                "held out": grain_diameters_um(
                    panel["reference"], panel["reference_pixel_um"], panel["periodic"]
                ),
                **groups,
            }
        if sum(v.size for v in groups.values()):
            sec.add(
                render(
                    size_distribution_plot(groups),
                    "Equivalent-circle grain diameters pooled over the images of each group "
                    "(step histograms, log axis; the legend gives the medians).",
                    alt=f"grain-size distributions, {recipe}",
                )
            )
    return sec
