"""``psplab mechanics`` end to end: inputs, outputs, manifest, and one line per bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from psplab.cli import app
from psplab.strength.fft import mechanics_yield_strength

from ._micro import periodic_discs, periodic_voronoi

N = 32


@pytest.fixture(scope="module")
def micro():
    grains = periodic_voronoi(N, 8, seed=11)
    phases = periodic_discs(N, np.random.default_rng(12).uniform(0, N, (4, 2)), radius=2.0)
    return grains, phases


def test_mechanics_npz_writes_run_directory_and_json(tmp_path, micro):
    grains, phases = micro
    src = tmp_path / "micro.npz"
    np.savez(src, grain_labels=grains, phase_labels=phases)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "mechanics",
            str(src),
            "--pixel-um",
            "0.5",
            "--family",
            "al_mg",
            "--solute",
            "3",
            "--json",
            str(tmp_path / "m.json"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m.json").read_text())
    assert np.asarray(data["stiffness_gpa"]).shape == (3, 3)
    direct = mechanics_yield_strength(grains, phases, 0.5, "al_mg", solute_wt_pct=3.0)
    assert data["yield_strength_mpa"] == pytest.approx(direct["yield_strength_mpa"], rel=1e-9)
    np.testing.assert_allclose(data["stiffness_gpa"], direct["stiffness_gpa"], rtol=1e-9)
    assert "0.2 % offset yield strength" in result.output

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "mechanics"
    for role in ("curve_csv", "curve_png", "stress_field_png", "results_json"):
        assert (out / manifest["files"][role]).is_file()
    assert manifest["results"]["yield_strength_mpa"] == pytest.approx(data["yield_strength_mpa"])
    with open(out / "curve.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["strain", "stress_MPa"]
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], direct["curve"]["stress_mpa"])
    field = np.load(out / "stress_at_yield.npy")
    assert field.shape == (N, N) and np.all(field > 0)


def test_mechanics_png_with_separate_phase_image(tmp_path, micro):
    from skimage import io

    grains, phases = micro
    io.imsave(tmp_path / "grains.png", grains.astype(np.uint8), check_contrast=False)
    np.save(tmp_path / "phases.npy", phases)
    result = CliRunner().invoke(
        app,
        [
            "mechanics",
            str(tmp_path / "grains.png"),
            "--pixel-um",
            "0.5",
            "--family",
            "al_mg",
            "--solute",
            "3",
            "--phases",
            str(tmp_path / "phases.npy"),
            "--json",
            str(tmp_path / "m.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["info"]["precipitate_fraction"] == pytest.approx(phases.mean())
    assert data["info"]["n_grains"] == len(np.unique(grains))


def test_mechanics_bad_inputs_exit_2_with_one_line_each(tmp_path):
    np.save(tmp_path / "rgb.npy", np.random.default_rng(0).random((8, 8)))
    result = CliRunner().invoke(
        app,
        [
            "mechanics",
            str(tmp_path / "rgb.npy"),
            "--pixel-um",
            "0",
            "--family",
            "brass",
            "--phases",
            str(tmp_path / "missing.png"),
        ],
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 4, result.output
    assert any("--pixel-um must be a positive number" in line for line in lines)
    assert any(
        "--family 'brass' is not one of al_mg, ferritic_steel, ti_al" in line for line in lines
    )
    assert any("pixel values must be integer labels" in line for line in lines)
    assert any("missing.png: no such file" in line for line in lines)


def test_mechanics_shape_mismatch_is_reported(tmp_path):
    np.save(tmp_path / "g.npy", np.ones((8, 8), int))
    np.save(tmp_path / "p.npy", np.zeros((8, 9), int))
    result = CliRunner().invoke(
        app,
        [
            "mechanics",
            str(tmp_path / "g.npy"),
            "--pixel-um",
            "1",
            "--family",
            "ti_al",
            "--phases",
            str(tmp_path / "p.npy"),
        ],
    )
    assert result.exit_code == 2
    assert "differs from the grain image" in result.output
