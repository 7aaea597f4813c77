"""``psplab campaign ...`` and ``psplab optimize`` end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from psplab.cli import app
from psplab.manifest import read_manifest
from psplab.optimize.store import read_export

SPEC_TOML = """
name = "furnace-trials"
[[column]]
name = "Mg_wt_pct"
role = "processing"
unit = "wt%"
min = 1.0
max = 8.0
[[column]]
name = "Si_wt_pct"
role = "processing"
unit = "wt%"
min = 0.0
max = 4.0
[[column]]
name = "hold_temperature_C"
role = "processing"
unit = "degC"
min = 300
max = 500
[[column]]
name = "yield_strength_MPa"
role = "property"
unit = "MPa"
min = 0
"""


def _strength(mg, si, t):
    return 120 + 25 * mg + 30 * si - 0.002 * (t - 420) ** 2


def test_campaign_cli_round_trip(tmp_path):
    runner = CliRunner()
    spec = tmp_path / "trials.toml"
    spec.write_text(SPEC_TOML)
    db = tmp_path / "c.db"
    r = runner.invoke(
        app,
        ["campaign", "init", str(spec), "--db", str(db), "--objective", "yield_strength_MPa",
         "--model", "gp", "--constraint", "Mg_wt_pct + Si_wt_pct <= 9"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    # the same database is never initialized twice
    r = runner.invoke(
        app, ["campaign", "init", str(spec), "--db", str(db), "--objective", "yield_strength_MPa"]
    )
    assert r.exit_code == 2 and "file exists" in r.output

    rows = []
    for _ in range(3):  # three rounds: suggest, "measure", observe
        js = tmp_path / "s.json"
        r = runner.invoke(
            app, ["campaign", "suggest", "--db", str(db), "--n", "2", "--json", str(js)]
        )
        assert r.exit_code == 0, r.output
        batch = json.loads(js.read_text())
        for s in batch:
            p = s["params"]
            assert p["Mg_wt_pct"] + p["Si_wt_pct"] <= 9 + 1e-6
            rows.append({**p, "yield_strength_MPa": _strength(p["Mg_wt_pct"], p["Si_wt_pct"], p["hold_temperature_C"]),
                         "suggestion_id": s["suggestion_id"]})  # fmt: skip
        res = tmp_path / f"results{len(rows)}.csv"
        pd.DataFrame(rows[-2:]).to_csv(res, index=False)
        r = runner.invoke(app, ["campaign", "observe", str(res), "--db", str(db)])
        assert r.exit_code == 0, r.output
        assert "stored 2 observation(s)" in r.output

    # a bad row is named and rejected; the good one is stored
    bad = tmp_path / "bad.csv"
    pd.DataFrame(
        [
            {
                "Mg_wt_pct": 9.5,
                "Si_wt_pct": 1.0,
                "hold_temperature_C": 400,
                "yield_strength_MPa": 300,
            },
            {
                "Mg_wt_pct": 2.0,
                "Si_wt_pct": 1.0,
                "hold_temperature_C": 400,
                "yield_strength_MPa": 301.25,
            },
        ]
    ).to_csv(bad, index=False)
    r = runner.invoke(app, ["campaign", "observe", str(bad), "--db", str(db)])
    assert r.exit_code == 2
    assert "column 'Mg_wt_pct', row 1: 9.5 is above max 8" in r.output
    assert "stored 1 observation(s)" in r.output

    r = runner.invoke(app, ["campaign", "status", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    st = json.loads(r.output)
    assert st["observations"] == 7 and st["suggestions"] == 6 and st["pending"] == 0
    assert st["best"]["yield_strength_MPa"] == max(
        max(x["yield_strength_MPa"] for x in rows), 301.25
    )

    for ext in ("csv", "parquet"):
        out = tmp_path / f"export.{ext}"
        r = runner.invoke(app, ["campaign", "export", "--db", str(db), "--out", str(out)])
        assert r.exit_code == 0, r.output
        back = read_export(out)
        assert len(back) == 7
        np.testing.assert_array_equal(
            back["yield_strength_MPa"].to_numpy()[:6], [x["yield_strength_MPa"] for x in rows]
        )
    r = runner.invoke(
        app, ["campaign", "export", "--db", str(db), "--out", str(tmp_path / "x.xlsx")]
    )
    assert r.exit_code == 2 and ".csv or .parquet" in r.output
    r = runner.invoke(app, ["campaign", "status", "--db", str(tmp_path / "missing.db")])
    assert r.exit_code == 2 and "no campaign database" in r.output


def test_optimize_refuses_bad_options(tmp_path):
    r = CliRunner().invoke(
        app, ["optimize", "--out", str(tmp_path), "--family", "brass", "--budget", "1"]
    )
    assert r.exit_code == 2
    assert "needs --simulate" in r.output
    assert "--family 'brass'" in r.output and "--budget must be >= 2" in r.output


@pytest.mark.slow
def test_simulator_in_the_loop_smoke(tmp_path):
    """Tiny run of the real loop: simulator + measurement + strength model as the experiment."""
    from psplab.optimize.simloop import baseline_params, run_simulated

    res = run_simulated(tmp_path, family="al_mg", budget=3, seed=0, grid=32, compare_random=False)
    man = read_manifest(tmp_path)
    assert man["kind"] == "optimize"
    for role in ("trace", "best_so_far", "suggested_recipes"):
        assert (tmp_path / man["files"][role]).is_file()
    trace = pd.read_csv(tmp_path / "trace.csv")
    assert set(trace["method"]) == {"psplab"}
    bo = trace[trace["method"] == "psplab"]
    assert len(bo) == 3
    # the first evaluation is the family's baseline recipe (centre of its bounds)
    for k, v in baseline_params("al_mg").items():
        assert bo[k].iloc[0] == pytest.approx(v)
    assert res["best_objective"] == pytest.approx(bo["objective"].max())
    assert res["best_objective"] >= res["baseline_objective"] > 0
