"""``psplab generator fit | sample``: run directories, outputs, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from psplab.cli import app
from psplab.measure import measure_grains

runner = CliRunner()


def _fit_args(spec, out, steps: int) -> list[str]:
    return ["generator", "fit", str(spec), "--out", str(out), "--steps", str(steps)]


def test_fit_then_sample_round_trip(synthetic_table, tiny_generator, tmp_path):
    # The fit itself is checked elsewhere; here the command's files (a short fit).
    run = tmp_path / "fit"
    result = runner.invoke(app, _fit_args(synthetic_table, run, 25) + ["--holdout", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["kind"] == "generator-fit"
    assert (run / "generator.npz").is_file() and (run / "generator.json").is_file()
    held = pd.read_csv(run / "holdout.csv")
    assert len(held) == 1 and {"grain_size_um_data", "grain_size_um_generated"} <= set(held)

    # Sampling uses the well-trained session model saved into a run directory.
    tiny_generator.save(run / "generator")
    pd.DataFrame({"x": [0.0, 1.0], "note": ["a", "b"]}).to_csv(
        tmp_path / "recipes.csv", index=False
    )
    out = tmp_path / "samples"
    result = runner.invoke(
        app,
        [
            "generator",
            "sample",
            str(run),
            str(tmp_path / "recipes.csv"),
            "--n",
            "4",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv")
    assert summary["x"].tolist() == [0.0, 1.0]
    for stat in ("mean", "q05", "q95"):
        assert f"grain_size_um_{stat}" in summary and f"particle_fraction_{stat}" in summary
    assert (summary.grain_size_um_q05 <= summary.grain_size_um_mean).all()
    # Every saved image is a label image psplab.measure reads, at the pixel the table says.
    images = pd.read_csv(out / "images.csv")
    assert len(images) == 2 * 4 * 2  # recipes x images x kinds
    first = images[images.kind == "grains"].iloc[0]
    labels = np.load(out / first.path)
    features = pd.read_csv(out / "features.csv")
    measured = measure_grains(labels, first.pixel_um, periodic=True)["mean_diameter_um"]
    assert measured == features.grain_size_um.iloc[0]
    assert (out / "recipe_000.png").stat().st_size > 0
    assert json.loads((out / "manifest.json").read_text())["kind"] == "generator-sample"


def test_bad_input_is_one_line_and_exit_2(synthetic_table, tiny_generator, tmp_path):
    missing = runner.invoke(
        app, ["generator", "fit", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")]
    )
    assert missing.exit_code == 2
    assert "not found" in missing.output and "Traceback" not in missing.output

    run = tmp_path / "run"
    tiny_generator.save(run / "generator")
    pd.DataFrame({"y": [1.0]}).to_csv(tmp_path / "bad.csv", index=False)
    bad = runner.invoke(
        app,
        ["generator", "sample", str(run), str(tmp_path / "bad.csv"), "--out", str(tmp_path / "s")],
    )
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines()[-1] == "recipe column 'x' is missing"

    not_a_run = runner.invoke(
        app,
        [
            "generator",
            "sample",
            str(tmp_path / "nowhere"),
            str(tmp_path / "bad.csv"),
            "--out",
            str(tmp_path / "s"),
        ],
    )
    assert not_a_run.exit_code == 2 and "not a directory" in not_a_run.output


def test_help_lists_both_commands():
    result = runner.invoke(app, ["generator", "--help"])
    assert result.exit_code == 0
    assert "fit" in result.output and "sample" in result.output
