"""UHCSDB cementite masks: train the generator without 800 °C / 24 h, generate 24 h, compare.

The 24 masks (DeCost et al. 2019; hdl:11256/940) are named by processing
(``800C-24H-Q-1``: anneal temperature, time, cooling, replicate). Inputs: anneal temperature
(°C) and anneal time (h, taken as its log by the generator's wide-range rule). Masks that are
byte-identical (``800C-24H-Q-1`` and ``-7``) count once. Particle sizes are in pixels (the
masks carry no pixel size); the comparison assumes one magnification for the series, which
:func:`magnification_evidence` checks as far as the data allow.

Used by ``bench_generator.py`` (``--only uhcsdb`` runs this part alone).
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.data.images import write_image_table
from psplab.data.spec import ColumnSpec
from psplab.measure import label_components, read_image
from psplab.models.generator import MicrostructureGenerator

_NAME = re.compile(r"(?P<T>\d+)C-(?P<t>\d+)(?P<unit>[HM])-(?P<cool>[A-Z]+)-(?P<rep>\d+)")
HELD = (800.0, 24.0)
N_IMAGES, GRID = 16, 128


def masks(folder: Path) -> pd.DataFrame:
    """One row per distinct mask: path, condition, temperature (°C), time (h)."""
    rows, seen = [], set()
    for path in sorted((folder / "segment_labels" / "spheroidite").glob("*.tif")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        m = _NAME.fullmatch(path.stem)
        if m is None or digest in seen:
            continue
        seen.add(digest)
        hours = float(m["t"]) / (1.0 if m["unit"] == "H" else 60.0)
        rows.append(
            {
                "path": path,
                "condition": path.stem.rsplit("-", 1)[0],
                "T": float(m["T"]),
                "hours": hours,
            }
        )
    return pd.DataFrame(rows)


def particle_diameters_px(mask: np.ndarray) -> np.ndarray:
    """Equivalent-circle diameters (px) of the particles that do not touch the image edge."""
    fg = np.asarray(mask) != 0
    comp, n = label_components(fg.astype(np.int64), periodic=False, connectivity=2, exclude=~fg)
    if n == 0:
        return np.zeros(0)
    area = np.bincount(comp.ravel(), minlength=n + 1)[1:]
    edge = np.unique(np.concatenate([comp[0], comp[-1], comp[:, 0], comp[:, -1]]))
    keep = np.ones(n, bool)
    keep[edge[edge > 0] - 1] = False
    return np.sqrt(4.0 * area[keep] / math.pi)


def magnification_evidence(table: pd.DataFrame, folder: Path) -> dict[str, Any]:
    """What the data say about one magnification for the series (no pixel sizes are given).

    The masks carry no micrograph id or scale, so the check is indirect: (1) every mask has
    the same image size (one SEM frame setting); (2) the UHCSDB metadata lists, for each of the
    five conditions, micrographs at the magnifications given; a shared magnification is only
    possible if one is common to all. The 800 °C particle sizes are also listed in time order
    (coarsening at one magnification makes them grow with time).
    """
    shapes = sorted({read_image(p).shape for p in table.path})
    meta = pd.read_csv(folder / "uhcs-metadata.csv")
    per_condition = {}
    for cond in sorted(table.condition.unique()):
        t, time, _ = cond.split("-")
        label = meta["label"].fillna("")
        sel = label.str.contains(f"{t} {time} Q", regex=False) & ~label.str.contains(
            "WQ", regex=False
        )
        per_condition[cond] = sorted(
            meta.loc[sel, "magnification"].dropna().str.upper().unique().tolist()
        )
    common = set.intersection(*(set(v) for v in per_condition.values())) if per_condition else set()
    return {
        "mask_shapes": [list(s) for s in shapes],
        "magnifications_in_metadata": per_condition,
        "magnifications_common_to_all_conditions": sorted(common),
    }


# The generator's modules that decide what a fit produces (not sampling, plots, commands, runs).
FIT_MODULES = (
    "descriptors",
    "features",
    "fields",
    "heads",
    "labels",
    "model",
    "network",
    "training",
)


def generator_code_hash() -> str:
    """Digest of the generator's fitting code: a cached model is reused only by the code that made it."""
    h = hashlib.sha256()
    folder = Path(__file__).resolve().parents[1] / "src" / "psplab" / "models" / "generator"
    for name in FIT_MODULES:
        h.update((folder / f"{name}.py").read_bytes())
    return h.hexdigest()[:12]


def coarsening_check(folder: Path, cache: Path, steps: int) -> dict[str, Any]:
    """Train without 800 °C / 24 h, generate it, compare particle sizes (px); JSON-ready."""
    from scipy.stats import ks_2samp

    table = masks(folder)
    work = cache / "uhcsdb"
    work.mkdir(parents=True, exist_ok=True)
    train = table[~((table["T"] == HELD[0]) & (table.hours == HELD[1]))]
    rows = [
        {"T": r["T"], "hours": r["hours"], "path": r["path"], "kind": "particles", "pixel_um": 1.0}
        for r in train.to_dict("records")
    ]
    spec = write_image_table(
        pd.DataFrame(rows),
        work / "train.toml",
        [ColumnSpec("T", "processing", unit="degC"), ColumnSpec("hours", "processing", unit="h")],
        periodic=False,
        allow_outside=True,
    )
    path = work / f"model-s{steps}-{generator_code_hash()}" / "generator"
    if path.with_suffix(".json").is_file():
        model = MicrostructureGenerator.load(path)
    else:
        model = MicrostructureGenerator(steps=steps, seed=0).fit(spec)
        model.save(path)
    gen = model.sample({"T": HELD[0], "hours": HELD[1]}, n=N_IMAGES, seed=5, grid=GRID)
    generated = np.concatenate([particle_diameters_px(m) for m in gen.particles[0]])
    held = table[(table["T"] == HELD[0]) & (table.hours == HELD[1])]
    truth = np.concatenate([particle_diameters_px(read_image(p)) for p in held.path])
    X = model.features_.transform(train[["T", "hours"]])
    q = model.features_.transform({"T": HELD[0], "hours": HELD[1]})[0]
    nearest = train.iloc[int(np.argmin(((X - q) ** 2).sum(axis=1)))].condition
    near = np.concatenate(
        [particle_diameters_px(read_image(p)) for p in train[train.condition == nearest].path]
    )

    def stats(d: np.ndarray, area_px: float) -> dict[str, float]:
        return {
            "n_particles": int(d.size),
            "median_px": float(np.median(d)),
            "mean_px": float(d.mean()),
            "q90_px": float(np.quantile(d, 0.9)),
            "per_1e4_px2": float(d.size / area_px * 1e4),
        }

    held_area = sum(read_image(p).size for p in held.path)
    near_area = sum(read_image(p).size for p in train[train.condition == nearest].path)
    return {
        "held_out": "800C-24H-Q",
        "nearest_condition": nearest,
        "generated": stats(generated, gen.particles[0].size),
        "held_out_masks": stats(truth, held_area),
        "nearest_masks": stats(near, near_area),
        "ks_generated_vs_held_out": float(ks_2samp(generated, truth).statistic),
        "ks_nearest_vs_held_out": float(ks_2samp(near, truth).statistic),
        "conditions_800C_median_px": {
            c: float(
                np.median(
                    np.concatenate(
                        [
                            particle_diameters_px(read_image(p))
                            for p in table[table.condition == c].path
                        ]
                    )
                )
            )
            for c in sorted(
                table[table["T"] == 800.0].condition.unique(),
                key=lambda c: float(c.split("-")[1][:-1]),
            )
        },
        "magnification": magnification_evidence(table, folder),
    }
