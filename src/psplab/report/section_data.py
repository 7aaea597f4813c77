"""Report sections of a dataset: its summary (columns, ranges, histograms) and micrographs.

Figures are drawn by :mod:`psplab.data.plots` and :mod:`psplab.measure.plots`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from psplab.report.figures import render
from psplab.report.html import Section, Table, paragraph
from psplab.report.runs import LeftOut, Run, label, read_table, spec_of

__all__ = ["dataset_section", "load_gallery", "micrograph_section"]

MAX_GALLERY = 6


def dataset_section(run: Run, units: dict[str, str]) -> Section:
    """Rows, columns, ranges and histograms of the dataset a run used or wrote.

    Parameters
    ----------
    run : Run
        A run with a dataset spec (its ``spec`` file, or ``params.spec``).
    units : dict
        Column units, for the histogram axes.

    Returns
    -------
    Section
        The column table and the histograms.

    Raises
    ------
    LeftOut
        Without a spec, or when its table cannot be loaded.
    """
    from psplab.data.dataset import load_dataset
    from psplab.data.plots import histogram_grid
    from psplab.errors import PsplabError

    spec = spec_of(run)
    if spec is None:
        raise LeftOut("no readable dataset spec")
    data = run.file("dataset", "data", "parquet")
    try:
        dataset = load_dataset(spec, read_table(data) if data is not None else None)
    except (PsplabError, OSError, ValueError) as exc:
        raise LeftOut(f"its dataset cannot be loaded ({str(exc).splitlines()[0]})") from None
    summary = dataset.summary()
    sec = Section(
        "dataset",
        "Dataset summary",
        f"{summary['name']}: {summary['rows']} rows; {summary['n_processing']} processing, "
        f"{summary['n_structure']} structure and {summary['n_property']} property columns "
        f"(from {run.name}).",
    )
    rows = [
        [c["name"], c["role"], c["tier"], c["unit"] or "–", c.get("min"), c.get("max"),
         c.get("mean"), c["missing"]]
        for c in summary["columns"]
    ]  # fmt: skip
    sec.add(
        Table(
            ["column", "role", "tier", "unit", "min", "max", "mean", "missing"],
            rows,
            caption="Columns of the dataset as its spec describes them.",
        )
    )
    failed = run.results.get("failed")
    if failed:
        sec.add(
            paragraph(f"{failed} recipe(s) failed in simulation and are recorded with their error.")
        )
    numeric = [
        c.name
        for c in spec.columns
        if c.role in ("processing", "structure", "property") and c.is_numeric
    ]
    sec.add(
        render(
            histogram_grid(dataset.frame, {n: label(n, units) for n in numeric}),
            "Distribution of every numeric processing parameter, structure feature and property "
            "across the dataset.",
            alt="histograms",
        )
    )
    return sec


def load_gallery(run: Run) -> list[dict[str, Any]]:
    """Up to six label images of a run: its ``gallery`` ``.npz`` or ``images`` files.

    Parameters
    ----------
    run : Run
        A run that lists a gallery ``.npz``, or label images under ``images``/``micrographs``.

    Returns
    -------
    list of dict
        ``grain_labels``, ``pixel_um``, ``phase_labels`` (or None) and ``title`` per image.
    """
    gal = run.file("gallery")
    if gal is not None and gal.suffix == ".npz":
        with np.load(gal, allow_pickle=False) as z:
            grains = z["grain_labels"]
            phases = z["phase_labels"] if "phase_labels" in z.files else [None] * len(grains)
            pixel = np.broadcast_to(np.asarray(z["pixel_um"], dtype=float), (grains.shape[0],))
            titles = [str(t) for t in z["titles"]] if "titles" in z.files else [""] * len(grains)
        return [
            {"grain_labels": g, "phase_labels": ph, "pixel_um": float(px), "title": t}
            for g, ph, px, t in zip(grains, phases, pixel, titles, strict=True)
        ][:MAX_GALLERY]
    pixel_default = run.params.get("pixel_um") or run.results.get("pixel_um")
    items = []
    for p in run.file_list("images", "micrographs"):
        item = _image_item(p, pixel_default)
        if item is not None:
            items.append(item)
        if len(items) >= MAX_GALLERY:
            break
    return items


def _image_item(path: Path, pixel_default: Any) -> dict[str, Any] | None:
    """One label image from a ``.npz`` (``grain_labels``/``grains``/``labels``) or ``.npy``."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            key = next((k for k in ("grain_labels", "grains", "labels") if k in z.files), None)
            if key is None:
                return None
            item = {
                "grain_labels": z[key],
                "phase_labels": z["phase_labels"] if "phase_labels" in z.files else None,
                "pixel_um": float(z["pixel_um"]) if "pixel_um" in z.files else pixel_default,
            }
    elif path.suffix == ".npy":
        item = {"grain_labels": np.load(path, allow_pickle=False), "pixel_um": pixel_default}
    else:
        return None
    item["title"] = path.stem
    if item["pixel_um"] is None or np.asarray(item["grain_labels"]).ndim != 2:
        return None
    return item


def micrograph_section(run: Run, units: dict[str, str]) -> Section:
    """A gallery of the run's label images.

    Parameters
    ----------
    run : Run
        A run with a ``gallery`` or ``images``.
    units : dict
        Not used (every section maker takes it).

    Returns
    -------
    Section
        Up to six micrographs in one figure.

    Raises
    ------
    LeftOut
        Without label images that have a pixel size.
    """
    from psplab.measure.plots import micrograph_gallery

    items = load_gallery(run)
    if not items:
        raise LeftOut("no label images with a pixel size")
    sec = Section(
        "micrographs",
        "Micrograph gallery",
        f"Microstructures from {run.name}.",
    )
    sec.add(
        render(
            micrograph_gallery(items),
            "Grain-label images: each grain in its own colour, grain boundaries dark grey, "
            "precipitates black; axes and scale bar in µm. Panel titles give the recipe.",
            alt="micrograph gallery",
        )
    )
    return sec
