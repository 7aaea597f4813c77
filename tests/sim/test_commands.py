"""``psplab sim`` commands: run directories with manifests, one clear line per bad input."""

from __future__ import annotations

import json

import numpy as np
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


def test_recipe_command_and_bad_inputs(tmp_path):
    out = tmp_path / "r"
    res = runner.invoke(
        app,
        ["sim", "recipe", "--family", "ferritic_steel", "--out", str(out), "--grid", "32"]
        + ["--pin-fraction", "0.2", "--pin-radius-um", "2"],
    )
    assert res.exit_code == 0, res.output
    with np.load(out / "microstructure.npz") as z:
        assert z["grain_labels"].shape == (32, 32) and z["grain_labels"].min() == 1
        assert abs(z["pinning_particles"].mean() - 0.2) <= 0.5 * 13 / 32**2  # half a disc
    assert json.loads((out / "manifest.json").read_text())["kind"] == "simulate"

    bad = runner.invoke(
        app,
        ["sim", "recipe", "--family", "al_mg", "--out", str(out), "--hold-temperature-C", "999"],
    )
    assert bad.exit_code == 2
    assert "hold_temperature_C=999 outside" in bad.output
    bad = runner.invoke(app, ["sim", "recipe", "--family", "brass", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown family 'brass'" in bad.output
    bad = runner.invoke(
        app,
        ["sim", "recipe", "--family", "al_mg", "--out", str(out), "--pin-fraction", "0.9"],
    )
    assert bad.exit_code == 2 and "go together" in bad.output
    bad = runner.invoke(
        app,
        ["sim", "recipe", "--family", "al_mg", "--out", str(out)]
        + ["--pin-fraction", "0.9", "--pin-radius-um", "0.5"],
    )
    assert bad.exit_code == 2
    assert "--pin-fraction must lie in [0, 0.4], got 0.9" in bad.output
    assert "at least one pixel (2 µm), got 0.5" in bad.output
    bad = runner.invoke(app, ["sim", "pfhub1", "--out", str(out), "--dt", "-1"])
    assert bad.exit_code == 2 and "dt" in bad.output
