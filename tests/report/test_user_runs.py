"""``psplab report`` over a user's own runs, made by the commands themselves: two evaluations,
a causal analysis and a phase-map fit each get a section, and the causal figure draws exactly the
edges of the run's graph.json."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from psplab.cli import app
from psplab.manifest import write_manifest
from psplab.report import build_report, build_sections, discover_runs
from tests.report.conftest import make_dataset_run

PHASEMAP_CONFIG = """
regions = 2
kernel = "rbf"
[[structure]]
source = "xrd.csv"
coords = ["x", "y"]
label = "phase"
[[property]]
source = "prop.csv"
coords = ["x", "y"]
value = "hardness"
[inference]
num_warmup = 50
num_samples = 30
svi_steps = 100
max_inducing = 16
seed = 0
"""


def _invoke(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def _phasemap_inputs(folder) -> None:
    rng = np.random.default_rng(0)
    xs, xp = rng.uniform(0, 1, (40, 2)), rng.uniform(0, 1, (24, 2))
    hardness = np.where(xp[:, 0] > 0.5, 2.0 - xp[:, 1], np.sin(3 * xp[:, 0]))
    phase = (xs[:, 0] > 0.5).astype(int)
    pd.DataFrame({"x": xs[:, 0], "y": xs[:, 1], "phase": phase}).to_csv(folder / "xrd.csv")
    pd.DataFrame({"x": xp[:, 0], "y": xp[:, 1], "hardness": hardness}).to_csv(folder / "prop.csv")
    (folder / "pm.toml").write_text(PHASEMAP_CONFIG)


@pytest.fixture(scope="module")
def user_runs(tmp_path_factory):
    """Runs as a user makes them: evaluate twice, causal, phasemap fit, and a kind with no section."""
    root = tmp_path_factory.mktemp("user")
    spec = make_dataset_run(root / "data") / "toy.toml"
    runs = root / "runs"
    for name, cv in (("eval-a", "3"), ("eval-b", "4")):
        _invoke(["evaluate", str(spec), "--models", "rf", "--cv", cv, "--out", str(runs / name)]
                + ["--param", "rf.n_estimators=20"])  # fmt: skip
    _invoke(["causal", str(spec), "--out", str(runs / "cause"), "--bootstrap", "4", "--jobs", "1"]
            + ["--dose-top", "1", "--model", "rf", "--grid", "5", "--draws", "5", "--alpha", "0.05"])  # fmt: skip
    _phasemap_inputs(root)
    _invoke(["phasemap", "fit", str(root / "pm.toml"), "--out", str(runs / "pmap")])
    write_manifest(runs / "other", "pfhub1", files={}, results={})
    return runs


def _section(html: str, key: str) -> str:
    match = re.search(rf'<section id="{key}">(.*?)</section>', html, re.S)
    assert match, f"no section {key}"
    return match.group(1)


def test_every_run_gets_a_section_or_a_reason(user_runs, tmp_path):
    html = build_report([user_runs], out=tmp_path / "r.html").read_text(encoding="utf-8")
    for key in ("predictions", "predictions-2", "causal", "phasemap"):
        assert '<img src="data:image/png;base64,' in _section(html, key), key
    assert "eval-a/" in _section(html, "predictions") and "eval-b/" in _section(
        html, "predictions-2"
    )
    table = _section(html, "runs")
    rows = dict(re.findall(r"<tr><td>([^<]+)</td><td>[^<]+</td><td>([^<]+)</td></tr>", table))
    assert set(rows) == {"eval-a/", "eval-b/", "cause/", "pmap/", "other/"}
    assert rows["eval-a/"].startswith("Predictions with uncertainty")
    assert rows["eval-b/"].startswith("Predictions with uncertainty (2)")
    assert rows["cause/"] == "Causal influence" and rows["pmap/"] == "Phase map with uncertainty"
    assert rows["other/"].startswith("left out: psplab has no report section for runs of kind")


def test_causal_figure_draws_exactly_the_edges_of_graph_json(user_runs):
    from psplab.causal.plots import edge_of_gid

    graph = json.loads((user_runs / "cause" / "graph.json").read_text())
    expected = {(a, b, True) for a, b in graph["directed_edges"]}
    expected |= {(a, b, False) for a, b in graph["undirected_edges"]}
    assert expected, "the toy data has edges (temperature and strain act on grain size)"
    sections = {s.key: s for s in build_sections(discover_runs([user_runs]))}
    figure = sections["causal"].figures[0]
    drawn = [g for g in figure.artists if g.startswith("edge:")]
    assert len(drawn) == len(expected)  # each edge once
    assert {edge_of_gid(g) for g in drawn} == expected


def test_phase_map_of_a_fit_run_shows_its_figures_and_diagnostics(user_runs, tmp_path):
    html = build_report([user_runs / "pmap"], out=tmp_path / "p.html").read_text(encoding="utf-8")
    section = _section(html, "phasemap")
    manifest = json.loads((user_runs / "pmap" / "manifest.json").read_text())
    assert "phasemap_grid" in manifest["files"]
    assert section.count("<img") == 1  # the map drawn from the run's grid
    rhat = manifest["results"]["diagnostics"]["rhat_max"]
    assert f"{rhat:.4g}" in section
    assert ("have not mixed" in section) is (rhat > 1.01)
