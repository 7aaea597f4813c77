"""The "Generated microstructures" section: held-out images beside generated ones, sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from psplab.manifest import write_manifest
from psplab.measure import measure_grains
from psplab.report import build_report, discover_runs
from psplab.report.builder import build_sections
from psplab.report.section_generator import generator_section

from .conftest import voronoi_labels


def _fit_run(root, holdout: bool = True):
    """A generator-fit run directory laid out as ``fit_run`` writes it (Voronoi stand-ins)."""
    run = root / "gen-fit"
    run.mkdir()
    files = {}
    if holdout:
        arrays = {}
        for r, grains in enumerate((6, 20)):
            for j in range(2):
                arrays[f"data_grains_{r}_{j}"] = voronoi_labels(grains, 32, seed=10 * r + j)
                arrays[f"data_grain_pixel_um_{r}_{j}"] = np.asarray(0.5)
        arrays["generated_grains"] = np.stack(
            [[voronoi_labels(g, 32, seed=100 + 10 * r + j) for j in range(4)] for r, g in
             enumerate((6, 20))]
        )  # fmt: skip
        arrays["generated_pixel_um"] = np.full((2, 4), 0.5)
        np.savez_compressed(run / "holdout.npz", **arrays)
        pd.DataFrame(
            {"hold_temperature_C": [700.0, 900.0], "grain_size_um_data": [7.0, 4.0]}
        ).to_csv(run / "holdout.csv", index=False)
        files = {"holdout": run / "holdout.csv", "holdout_images": run / "holdout.npz"}
    write_manifest(run, "generator-fit", files=files, results={"periodic": True})
    return run


def test_fit_run_shows_held_out_beside_generated_and_size_distributions(tmp_path):
    run = discover_runs([_fit_run(tmp_path)])[0]
    sec = generator_section(run, {})
    # Two held-out recipes: a montage and a size distribution each.
    assert len(sec.figures) == 4
    html = "".join(b if isinstance(b, str) else "" for b in sec.blocks)
    assert "hold_temperature_C = 700" in html and "hold_temperature_C = 900" in html
    assert "grain_size_um_data" not in html  # measured columns are not recipe values
    assert all(f.png.startswith(b"\x89PNG") for f in sec.figures)


def test_report_places_the_section_and_a_fit_without_holdout_says_why(tmp_path):
    with_holdout = _fit_run(tmp_path)
    page = build_report([with_holdout], out=tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="generated-microstructures"' in page and "Generated microstructures" in page

    (tmp_path / "bare").mkdir()
    bare = _fit_run(tmp_path / "bare", holdout=False)
    sections = build_sections(discover_runs([bare]))
    runs_table = sections[0].blocks[0]
    assert "--holdout" in runs_table.rows[0][2]
    assert not any(s.key.startswith("generated") for s in sections)


def test_sizes_come_from_psplab_measure(tmp_path):
    from psplab.report.section_generator import grain_diameters_um

    labels = voronoi_labels(9, 32, seed=3)
    got = grain_diameters_um([labels], [0.25], periodic=True)
    want = measure_grains(labels, 0.25, periodic=True)["eq_diameters_um"]
    assert np.allclose(np.sort(got), np.sort(want))
