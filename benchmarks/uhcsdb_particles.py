"""Particle statistics of the 24 UHCSDB cementite masks (DeCost et al. 2019; hdl:11256/940).

The masks carry no pixel size, so lengths are in pixels and densities per 10^6 px^2
(``measure_particles`` with ``pixel_um=1``: um read as px, mm^2 as 10^6 px^2).

Usage::

    python benchmarks/uhcsdb_particles.py [--data ../shared/data/uhcsdb] [--json OUT] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from psplab.manifest import dump_json, machine_info
from psplab.measure import measure_particles, read_image

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "uhcsdb"
_NAME = re.compile(r"(?P<T>\d+)C-(?P<t>\d+)(?P<unit>[HM])-(?P<cool>[A-Z]+)-(?P<rep>\d+)")


def anneal_hours(name: str) -> float:
    m = _NAME.fullmatch(name)
    if m is None:
        return float("nan")
    t = float(m["t"])
    return t if m["unit"] == "H" else t / 60.0


def measure_all(data: Path) -> list[dict]:
    rows = []
    for path in sorted((data / "segment_labels" / "spheroidite").glob("*.tif")):
        mask = read_image(path)
        r = measure_particles(mask, pixel_um=1.0)
        m = _NAME.fullmatch(path.stem)
        rows.append(
            {
                "mask": path.stem,
                "anneal_T_C": float(m["T"]) if m else float("nan"),
                "anneal_h": anneal_hours(path.stem),
                "count": r["count"],
                "count_edge": r["count_edge"],
                "area_fraction": r["area_fraction"],
                "mean_eq_diameter_px": r["mean_eq_diameter_um"],
                "median_eq_diameter_px": r["median_eq_diameter_um"],
                "mean_aspect_ratio": r["mean_aspect_ratio"],
                "mean_nn_distance_px": r["mean_nn_distance_um"],
                "number_density_per_Mpx2": r["number_density_per_mm2"],
                "clark_evans_ratio": r["clark_evans_ratio"],
            }
        )
    return rows


def group_summary(rows: list[dict]) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["mask"].rsplit("-", 1)[0], []).append(row)
    out = []
    for key, members in sorted(
        groups.items(), key=lambda kv: (kv[1][0]["anneal_T_C"], kv[1][0]["anneal_h"])
    ):
        out.append(
            {
                "condition": key,
                "n_masks": len(members),
                "anneal_h": members[0]["anneal_h"],
                "median_eq_diameter_px": float(
                    np.mean([m["median_eq_diameter_px"] for m in members])
                ),
                "number_density_per_Mpx2": float(
                    np.mean([m["number_density_per_Mpx2"] for m in members])
                ),
                "area_fraction": float(np.mean([m["area_fraction"] for m in members])),
            }
        )
    return out


def markdown(rows: list[dict], keys: list[str]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = []
        for k in keys:
            v = row[k]
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args(argv)
    if not (args.data / "segment_labels" / "spheroidite").is_dir():
        print(f"{args.data}: no segment_labels/spheroidite folder", file=sys.stderr)
        return 2
    print(
        "command:",
        " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
    )
    print("machine:", json.dumps(machine_info()))
    t0 = time.perf_counter()
    rows = measure_all(args.data)
    elapsed = time.perf_counter() - t0
    summary = group_summary(rows)
    keys = [
        "mask",
        "count",
        "count_edge",
        "area_fraction",
        "mean_eq_diameter_px",
        "median_eq_diameter_px",
        "mean_aspect_ratio",
        "mean_nn_distance_px",
        "number_density_per_Mpx2",
        "clark_evans_ratio",
    ]
    skeys = [
        "condition",
        "n_masks",
        "anneal_h",
        "median_eq_diameter_px",
        "number_density_per_Mpx2",
        "area_fraction",
    ]
    if args.markdown:
        print(markdown(rows, keys))
        print()
        print(markdown(summary, skeys))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*keys, title=f"UHCSDB cementite masks ({len(rows)}), lengths in px")
        for row in rows:
            table.add_row(
                *(f"{row[k]:.4g}" if isinstance(row[k], float) else str(row[k]) for k in keys)
            )
        Console().print(table)
        table = Table(*skeys, title="by condition (mean over replicate masks)")
        for row in summary:
            table.add_row(
                *(f"{row[k]:.4g}" if isinstance(row[k], float) else str(row[k]) for k in skeys)
            )
        Console().print(table)
    print(f"measured {len(rows)} masks in {elapsed:.2f} s")
    if args.json:
        dump_json(
            args.json,
            {
                "machine": machine_info(),
                "elapsed_s": elapsed,
                "masks": rows,
                "by_condition": summary,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
