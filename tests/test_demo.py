"""``psplab demo --quick`` end to end: every stage runs, every report section is filled, reruns reuse."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from psplab.cli import app
from psplab.report.demo import STAGES, demo_config, stage_finished

SECTIONS = (
    "dataset",
    "micrographs",
    "generated-microstructures",
    "predictions",
    "causal",
    "optimization",
    "phasemap",
    "provenance",
)


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    return out


def _states(out):
    return {
        k: v["state"]
        for k, v in json.loads((out / "manifest.json").read_text())["results"]["stages"].items()
    }


def test_every_stage_ran_and_wrote_a_manifest(quick_demo):
    assert _states(quick_demo) == {s.name: "done" for s in STAGES}
    for stage in STAGES:
        manifest = json.loads((quick_demo / stage.directory / "manifest.json").read_text())
        assert manifest["kind"] == stage.kind
        assert manifest["params"]["demo"], stage.name  # the stage's demo parameters
        for path in manifest["files"].values():
            for p in [path] if isinstance(path, str) else path:
                assert (quick_demo / stage.directory / p).exists(), p


def test_report_has_every_section_filled(quick_demo):
    html = (quick_demo / "report.html").read_text(encoding="utf-8")
    for key in SECTIONS:
        match = re.search(rf'<section id="{key}">(.*?)</section>', html, re.S)
        assert match, f"section {key} missing"
        if key != "provenance":
            assert '<img src="data:image/png;base64,' in match.group(1), (
                f"section {key} has no figure"
            )
    assert "psplab demo --out" in html  # the commands that produced it


def test_generator_stage_fits_on_its_simulations_and_checks_held_out_recipes(quick_demo):
    from psplab.data.images import load_image_dataset
    from psplab.models.generator.runs import load_run_model

    cfg = demo_config(quick=True)["generator"]
    stage = quick_demo / "6-generator"
    manifest = json.loads((stage / "manifest.json").read_text())
    assert manifest["kind"] == "generator-fit"
    assert manifest["params"]["holdout"] == cfg["holdout"]
    assert manifest["params"]["steps"] == cfg["model_params"]["steps"]
    assert "psplab generator fit" in manifest["results"]["equivalent_command"]
    # The image table lists one grain image per simulated recipe (the kinds asked for).
    simulated = pd.read_parquet(stage / manifest["files"]["simulations"])
    table = load_image_dataset(stage / manifest["files"]["image_table"])
    assert len(simulated) == len(table.fields) == cfg["n"]
    assert all(set(f.paths) == {"grains"} for f in table.fields)
    # The model was trained on the other recipes only, at the configured grid.
    model = load_run_model(stage)
    assert model.n_fields_ == cfg["n"] - cfg["holdout"]
    assert model.train_grid_ == cfg["model_params"]["train_grid"]
    # Each held-out row is a simulated recipe; its measured grain size is the dataset's own
    # measurement of the same image (psplab.measure on both sides), its generated one is finite.
    holdout = pd.read_csv(stage / manifest["files"]["holdout"])
    assert len(holdout) == cfg["holdout"]
    names = list(model.features_.names)
    for _, row in holdout.iterrows():
        match = np.isclose(simulated[names].to_numpy(float), row[names].to_numpy(float)).all(1)
        assert match.sum() == 1, row[names].to_dict()
        measured = float(simulated.loc[match, "grain_size_um"].iloc[0])
        assert row["grain_size_um_data"] == pytest.approx(measured, rel=1e-9)
    values = holdout.filter(regex="_(data|generated)$")
    assert {"grain_size_um_data", "grain_size_um_generated"} <= set(values.columns)
    assert np.isfinite(values.to_numpy(float)).all() and (values > 0).all().all()
    with np.load(stage / manifest["files"]["holdout_images"]) as arrays:
        grid = cfg["model_params"]["train_grid"]
        assert arrays["generated_grains"].shape == (cfg["holdout"], 4, grid, grid)
        assert (arrays["generated_pixel_um"] > 0).all()
    # The report shows each held-out recipe: a montage and a size distribution.
    html = (quick_demo / "report.html").read_text(encoding="utf-8")
    section = re.search(r'<section id="generated-microstructures">(.*?)</section>', html, re.S)
    assert section.group(1).count("Recipe: ") == cfg["holdout"]
    assert section.group(1).count("<img ") == 2 * cfg["holdout"]


def test_rerun_reuses_finished_stages_and_redoes_an_interrupted_one(quick_demo):
    # The causal stage: no other stage reads it, and it redoes in a second or two.
    (last,) = [s for s in STAGES if s.name == "causal"]
    # An interrupted stage has no manifest (it is written last, atomically).
    (quick_demo / last.directory / "manifest.json").unlink()
    result = CliRunner().invoke(app, ["demo", "--out", str(quick_demo), "--quick"])
    assert result.exit_code == 0, result.output
    states = _states(quick_demo)
    assert states[last.name] == "done"
    assert all(states[s.name] == "reused" for s in STAGES if s is not last)


def test_stage_is_finished_only_with_the_same_params(quick_demo):
    stage = STAGES[0]
    manifest = json.loads((quick_demo / stage.directory / "manifest.json").read_text())
    params = manifest["params"]["demo"]
    assert stage_finished(quick_demo / stage.directory, params)
    changed = dict(params, seed=params["seed"] + 1)
    assert not stage_finished(quick_demo / stage.directory, changed)
    assert not stage_finished(quick_demo / "nowhere", params)


@pytest.mark.browser
def test_demo_report_opens_in_chromium(quick_demo):
    from tests.report.browser import render, require_chromium

    chromium = require_chromium()
    verdict = render(quick_demo / "report.html", chromium)
    assert verdict["images"] >= 9
    assert verdict["broken"] == [] and verdict["errors"] == [] and verdict["console"] == []
