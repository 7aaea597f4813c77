"""``psplab demo --quick`` end to end: every stage runs, every report section is filled, reruns reuse."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from psplab.cli import app
from psplab.report.demo import STAGES, stage_finished

SECTIONS = (
    "dataset",
    "micrographs",
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


def test_rerun_reuses_finished_stages_and_redoes_an_interrupted_one(quick_demo):
    last = STAGES[-1]
    # An interrupted stage has no manifest (it is written last, atomically).
    (quick_demo / last.directory / "manifest.json").unlink()
    result = CliRunner().invoke(app, ["demo", "--out", str(quick_demo), "--quick"])
    assert result.exit_code == 0, result.output
    states = _states(quick_demo)
    assert states[last.name] == "done"
    assert all(states[s.name] == "reused" for s in STAGES[:-1])


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
