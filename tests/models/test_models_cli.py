"""CLI round trip: fit -> predict on a tiny spec; bad prediction input; evaluate JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from psplab.cli import app
from psplab.models.metrics import METRIC_NAMES

SPEC = """name = "tiny"
source = "data.csv"
[[column]]
name = "T_C"
role = "processing"
unit = "degC"
min = 300
max = 800
[[column]]
name = "route"
role = "processing"
kind = "categorical"
[[column]]
name = "hardness"
role = "property"
unit = "HV"
[[column]]
name = "ys"
role = "property"
unit = "MPa"
"""


def _write(tmp_path, n=40):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"T_C": rng.uniform(400, 700, n), "route": rng.choice(["a", "b"], n)})
    df["hardness"] = 150 + 0.2 * df["T_C"] + 10 * (df["route"] == "a") + rng.normal(0, 2, n)
    df["ys"] = 3 * df["hardness"] + rng.normal(0, 5, n)
    df.loc[5, "ys"] = np.nan
    df.to_csv(tmp_path / "data.csv", index=False)
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace('unit = "HV"\n', ""))
    return spec, df


def test_fit_then_predict_round_trip(tmp_path):
    spec, df = _write(tmp_path)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "fit",
            str(spec),
            "--model",
            "rf",
            "--out",
            str(tmp_path / "run"),
            "--param",
            "n_estimators=30",
        ],
    )
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    for name in (
        "manifest.json",
        "encoder.json",
        "spec.toml",
        "fit.json",
        "model_0.npz",
        "model_0.json",
    ):
        assert (run / name).is_file()
    assert json.loads((run / "manifest.json").read_text())["kind"] == "fit"
    new = df[["T_C", "route"]].head(6)
    new.to_csv(tmp_path / "new.csv", index=False)
    res = runner.invoke(
        app, ["predict", str(run), str(tmp_path / "new.csv"), "--out", str(tmp_path / "pred.csv")]
    )
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(tmp_path / "pred.csv")
    for t in ("hardness", "ys"):
        for s in ("mean", "std", "q05", "q95"):
            assert f"{t}_{s}" in pred.columns
        assert (pred[f"{t}_q05"] < pred[f"{t}_mean"]).all() and (
            pred[f"{t}_mean"] < pred[f"{t}_q95"]
        ).all()
    # A forest predicts its training rows closely.
    assert np.abs(pred["hardness_mean"] - df["hardness"].head(6)).max() < 8


def test_predict_reports_bad_rows_like_validate(tmp_path):
    spec, _ = _write(tmp_path)
    runner = CliRunner()
    assert (
        runner.invoke(
            app,
            [
                "fit",
                str(spec),
                "--model",
                "rf",
                "--out",
                str(tmp_path / "run"),
                "--param",
                "n_estimators=10",
            ],
        ).exit_code
        == 0
    )
    (tmp_path / "bad.csv").write_text("T_C,route\n500,a\n900,b\nhot,a\n")
    res = runner.invoke(
        app,
        [
            "predict",
            str(tmp_path / "run"),
            str(tmp_path / "bad.csv"),
            "--out",
            str(tmp_path / "p.csv"),
        ],
    )
    assert res.exit_code == 2
    assert "column 'T_C', row 2: 900 is above max 800" in res.output
    assert "column 'T_C', row 3: 'hot' is not a number" in res.output
    (tmp_path / "bad2.csv").write_text("route\na\n")
    res = runner.invoke(
        app,
        [
            "predict",
            str(tmp_path / "run"),
            str(tmp_path / "bad2.csv"),
            "--out",
            str(tmp_path / "p.csv"),
        ],
    )
    assert res.exit_code == 2 and "column 'T_C': input column missing" in res.output


def test_evaluate_writes_json_figures_and_manifest(tmp_path):
    spec, _ = _write(tmp_path)
    out = tmp_path / "eval"
    res = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(spec),
            "--models",
            "rf,gp",
            "--cv",
            "3",
            "--seed",
            "0",
            "--out",
            str(out),
            "--json",
            str(tmp_path / "m.json"),
            "--param",
            "rf.n_estimators=20",
            "--param",
            "gp.n_restarts=0",
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert set(metrics) == {"rf", "gp"}
    for per_target in metrics.values():
        assert set(per_target) == {"hardness", "ys"}
        for m in per_target.values():
            # Today's keys, plus the raw coverage, the domain split and the largest prediction.
            assert set(m) == set(METRIC_NAMES)
            assert {"mae", "rmse", "r2", "nll", "crps", "coverage90", "width90", "fit_seconds",
                    "coverage90_raw", "n_out_of_domain", "coverage90_in_domain",
                    "coverage90_out_of_domain", "max_abs_prediction"} <= set(m)  # fmt: skip
    assert (out / "parity_hardness.png").is_file() and (out / "calibration_ys.png").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "evaluate" and "figures" in manifest["files"]
    assert manifest["params"]["model_params"] == {
        "rf": {"n_estimators": 20},
        "gp": {"n_restarts": 0},
    }
    assert "ys" in res.output


def test_evaluate_rejects_a_parameter_for_a_model_not_evaluated(tmp_path):
    spec, _ = _write(tmp_path)
    res = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(spec),
            "--models",
            "rf",
            "--out",
            str(tmp_path / "e"),
            "--param",
            "gp.n_restarts=0",
        ],
    )
    assert res.exit_code == 2 and "gp.n_restarts" in res.output


def test_unknown_model_is_one_clear_line(tmp_path):
    spec, _ = _write(tmp_path)
    res = CliRunner().invoke(
        app, ["fit", str(spec), "--model", "svm", "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2 and "unknown model 'svm'" in res.output


FORMULA_SPEC = """name = "hea"
source = "hea.csv"
[[column]]
name = "alloy"
role = "processing"
kind = "formula"
[[column]]
name = "anneal_C"
role = "processing"
unit = "degC"
[[column]]
name = "hardness"
role = "property"
unit = "HV"
min = 0
"""


def test_formula_compositions_fit_predict_and_a_pure_element_is_flagged(tmp_path):
    # Al_x CoCrFeNi high-entropy alloys (fractions sum to 1 in every row), hardness rising with
    # Al; then pure Al, an element present in training only as an addition: outside the domain,
    # with a warning naming the row, and a prediction that stays within the envelope.
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 1.0, 60)
    anneal = rng.uniform(800, 1100, 60)
    alloys = [f"Al{a:.3f}CoCrFeNi" for a in x]
    hv = 150 + 350 * x / (4 + x) * 5 - 0.05 * (anneal - 800) + rng.normal(0, 8, 60)
    pd.DataFrame({"alloy": alloys, "anneal_C": anneal, "hardness": hv}).to_csv(
        tmp_path / "hea.csv", index=False
    )
    (tmp_path / "hea.toml").write_text(FORMULA_SPEC)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "fit",
            str(tmp_path / "hea.toml"),
            "--model",
            "gp",
            "--fast",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert res.exit_code == 0, res.output
    pd.DataFrame({"alloy": ["Al0.5CoCrFeNi", "Al"], "anneal_C": [900.0, 900.0]}).to_csv(
        tmp_path / "new.csv", index=False
    )
    res = runner.invoke(
        app,
        [
            "predict",
            str(tmp_path / "run"),
            str(tmp_path / "new.csv"),
            "--out",
            str(tmp_path / "p.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "outside the training data's applicability domain (rows 2)" in res.output
    pred = pd.read_csv(tmp_path / "p.csv")
    assert pred["in_domain"].tolist() == [True, False]
    assert pred["hardness_domain"][1] > 2.0
    assert np.all(np.isfinite(pred[["hardness_mean", "hardness_q05", "hardness_q95"]].to_numpy()))
    # The envelope: the training range widened by half of it (log scale), and the spec's min 0.
    lo, hi = hv.min() * (hv.min() / hv.max()) ** 0.5, hv.max() * (hv.max() / hv.min()) ** 0.5
    assert np.all(pred[["hardness_q05", "hardness_q95"]].to_numpy() >= lo * (1 - 1e-9))
    assert np.all(pred[["hardness_q05", "hardness_q95"]].to_numpy() <= hi * (1 + 1e-9))
    assert abs(pred["hardness_mean"][0] - (150 + 350 * 0.5 / 4.5 * 5 - 5)) < 40
