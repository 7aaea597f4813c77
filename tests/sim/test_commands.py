"""``psplab sim`` commands: run directories with manifests, one clear line per bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from psplab.cli import app

runner = CliRunner()


def test_pfhub1_command_writes_curve_and_manifest(tmp_path):
    out = tmp_path / "pf"
    res = runner.invoke(
        app, ["sim", "pfhub1", "--out", str(out), "--t-end", "20", "--dt", "1", "--n", "32"]
    )
    assert res.exit_code == 0, res.output
    data = np.loadtxt(out / "free_energy.csv", delimiter=",", skiprows=1)
    assert data.shape[1] == 3 and data[0, 0] == 0.0
    assert np.all(np.diff(data[:, 1]) <= 1e-9 * data[0, 1])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "pfhub1"
    assert manifest["results"]["mass_drift_rel"] < 1e-9


def test_recipe_command_writes_images_pixels_and_the_law(tmp_path):
    out = tmp_path / "r"
    res = runner.invoke(
        app,
        ["sim", "recipe", "--family", "ferritic_steel", "--out", str(out), "--grid", "32"]
        + ["--hold-time-s", "600", "--pin-fraction", "0.2", "--pin-radius-um", "2"],
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "simulate"
    results = manifest["results"]
    law = np.sqrt(results["d0_um"] ** 2 + results["K_gg_um2"])
    assert results["d_final_law_um"] == pytest.approx(law)
    with np.load(out / "microstructure.npz") as z:
        assert z["grain_labels"].shape == (32, 32) and z["grain_labels"].min() == 1
        assert float(z["pixel_um"]) == pytest.approx(law / 12) == results["pixel_um"]
        assert float(z["precipitate_pixel_um"]) > 0
        assert abs(z["precipitate_labels"].mean() - results["precipitate_fraction_eq"]) < 0.003
        disc = np.pi * (2 / float(z["pixel_um"])) ** 2
        assert abs(z["pinning_particles"].mean() - 0.2) <= 0.5 * disc / 32**2 + 1e-3


def test_recipe_command_forced_pixel(tmp_path):
    out = tmp_path / "p"
    res = runner.invoke(
        app, ["sim", "recipe", "--family", "ti_al", "--out", str(out), "--grid", "48",
              "--pixel-um", "1.5"],
    )
    assert res.exit_code == 0, res.output
    with np.load(out / "microstructure.npz") as z:
        assert float(z["pixel_um"]) == 1.5


@pytest.mark.parametrize(
    "args, messages",
    [
        (["--family", "al_mg", "--hold-temperature-C", "999"], ["hold_temperature_C=999 outside"]),
        (["--family", "brass"], ["unknown family 'brass'"]),
        (["--family", "al_mg", "--pin-fraction", "0.9"], ["go together"]),
        (
            ["--family", "al_mg", "--pin-fraction", "0.9", "--pin-radius-um", "-1"],
            ["--pin-fraction must lie in [0, 0.4], got 0.9", "--pin-radius-um must be a positive"],
        ),
        (["--family", "al_mg", "--pixel-um", "1e-300"], ["holds only"]),
        (["--family", "al_mg", "--grid", "100000"], ["--grid 100000 is above the limit"]),
    ],
)
def test_recipe_command_bad_inputs_exit_2_with_one_line_each(tmp_path, args, messages):
    bad = runner.invoke(app, ["sim", "recipe", "--out", str(tmp_path / "x"), *args])
    assert bad.exit_code == 2, bad.output
    for message in messages:
        assert message in bad.output
    assert "Traceback" not in bad.output
    assert not (tmp_path / "x").exists()


def test_recipe_command_refuses_a_grid_beyond_memory_up_front(tmp_path, monkeypatch):
    import psplab.limits

    monkeypatch.setattr(psplab.limits, "available_memory_bytes", lambda: 1024**3)
    bad = runner.invoke(
        app, ["sim", "recipe", "--family", "al_mg", "--out", str(tmp_path / "x"), "--grid", "2048"]
    )
    assert bad.exit_code == 2
    assert "--grid 2048 needs about 960.0 MiB of memory" in bad.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "command", [["sim", "recipe", "--family", "al_mg"], ["simulate", "--n", "1"]]
)
def test_a_grid_above_the_bound_is_refused_with_its_memory_estimate(tmp_path, command):
    from psplab.limits import format_bytes
    from psplab.sim.core import estimate_memory_bytes

    out = tmp_path / "x.parquet"
    bad = runner.invoke(app, [*command, "--out", str(out), "--grid", "100000"])
    assert bad.exit_code == 2, bad.output
    # Refused before anything is allocated, and the line says what the grid would cost.
    estimate = format_bytes(estimate_memory_bytes(100000, 1, "float32"))
    assert "--grid 100000 is above the limit of 4096" in bad.output
    assert f"would need about {estimate} of memory" in bad.output
    assert "TiB" in estimate and not out.exists()


def test_pfhub1_bad_inputs_exit_2(tmp_path):
    bad = runner.invoke(app, ["sim", "pfhub1", "--out", str(tmp_path), "--dt", "-1"])
    assert bad.exit_code == 2 and "dt" in bad.output
    bad = runner.invoke(app, ["sim", "pfhub1", "--out", str(tmp_path), "--n", "100000"])
    assert bad.exit_code == 2 and "--n 100000 is above the limit" in bad.output
