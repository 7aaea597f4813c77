"""``psplab causal`` end to end on a small synthetic dataset."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from psplab.cli import app


def _write_dataset(tmp_path, n=150):
    rng = np.random.default_rng(0)
    temper = rng.uniform(500, 700, n)
    carbon = rng.uniform(0.2, 0.6, n)
    hardness = 600 - 0.5 * temper + 300 * carbon + 10 * rng.standard_normal(n)
    fatigue = 0.9 * hardness + 15 * rng.standard_normal(n)
    pd.DataFrame(
        {"temper_C": temper, "C_wt_pct": carbon, "hardness_HV": hardness, "fatigue_MPa": fatigue}
    ).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "d.toml").write_text(
        'name = "toy"\nsource = "d.csv"\n'
        '[[column]]\nname = "temper_C"\nrole = "processing"\nunit = "degC"\n'
        '[[column]]\nname = "C_wt_pct"\nrole = "processing"\nunit = "percent"\n'
        '[[column]]\nname = "hardness_HV"\nrole = "property"\ntier = 1\n'
        '[[column]]\nname = "fatigue_MPa"\nrole = "property"\nunit = "MPa"\ntier = 2\n'
    )
    return tmp_path / "d.toml"


def test_cli_writes_graph_influence_dose_and_manifest(tmp_path):
    spec = _write_dataset(tmp_path)
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        [
            "causal",
            str(spec),
            "--out",
            str(out),
            "--bootstrap",
            "4",
            "--jobs",
            "1",
            "--dose-top",
            "1",
            "--grid",
            "4",
            "--draws",
            "4",
            "--json",
            str(tmp_path / "s.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    for name in (
        "graph.png",
        "graph.json",
        "influence.csv",
        "influence.png",
        "edge_stability.csv",
        "manifest.json",
    ):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "causal"
    assert manifest["results"]["tier_violations"] == 0
    dose = manifest["files"]["dose_response"]
    assert any(f.endswith(".png") for f in dose) and all((out / f).is_file() for f in dose)
    table = pd.read_csv(out / "influence.csv")
    assert set(table["outcome"]) == {"hardness_HV", "fatigue_MPa"}
    row = table[table["outcome"] == "fatigue_MPa"].set_index("parameter").loc["temper_C"]
    assert row["sign"] == "-" and row["effect_per_unit"] < 0  # tempering softens
    summary = json.loads((tmp_path / "s.json").read_text())
    assert ["temper_C", "hardness_HV"] in summary["directed_edges"]


def test_cli_bad_input_exits_2_with_one_line_each(tmp_path):
    spec = _write_dataset(tmp_path)
    res = CliRunner().invoke(
        app,
        ["causal", str(spec), "--out", str(tmp_path / "r"), "--alpha", "2", "--test", "xx"]
        + ["--estimator", "ols"],
    )
    assert res.exit_code == 2
    assert "--alpha" in res.output and "--test" in res.output and "--estimator" in res.output
    res = CliRunner().invoke(
        app, ["causal", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2 and "not found" in res.output


def test_cli_exclude_leaves_columns_out_and_names_unknown_ones(tmp_path):
    spec = _write_dataset(tmp_path)
    out = tmp_path / "r"
    res = CliRunner().invoke(
        app,
        ["causal", str(spec), "--out", str(out), "--bootstrap", "0", "--dose-top", "0"]
        + ["--exclude", "hardness_HV", "--json", str(tmp_path / "s.json")],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "s.json").read_text())
    assert "hardness_HV" not in summary["nodes"]
    assert set(summary["nodes"]) == {"temper_C", "C_wt_pct", "fatigue_MPa"}
    # Without the mediator both processing knobs act on fatigue directly.
    parents = {s for s, t in summary["directed_edges"] if t == "fatigue_MPa"}
    assert parents == {"temper_C", "C_wt_pct"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["params"]["exclude"] == ["hardness_HV"]
    res = CliRunner().invoke(
        app, ["causal", str(spec), "--out", str(out), "--exclude", "nope", "--bootstrap", "0"]
    )
    assert res.exit_code == 2 and "--exclude: 'nope'" in res.output
