"""Bad input to fit, evaluate and predict: one clear line each, exit status 2, no traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from psplab.cli import app

SPEC = """name = "tiny"
source = "data.csv"
[[column]]
name = "T_C"
role = "processing"
unit = "degC"
[[column]]
name = "ys"
role = "property"
unit = "MPa"
"""


def _spec(tmp_path, n=12, ys=None):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"T_C": rng.uniform(400, 700, n)})
    df["ys"] = 3 * df["T_C"] + rng.normal(0, 5, n) if ys is None else ys
    df.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "spec.toml").write_text(SPEC)
    return str(tmp_path / "spec.toml")


def _run(*args):
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    return res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", ","], "--models lists no model"),
        (["--models", "rf,svm,knn"], "unknown model 'svm'"),
        (["--models", "rf", "--param", "rf.n_estimators=10000000"], "rf.n_estimators"),
        (["--models", "bhn", "--param", "bhn.epochs=0"], "bhn.epochs must be a positive"),
        (["--models", "bhn", "--param", "bhn.epochs=100000000"], "bhn.epochs"),
        (["--models", "gp", "--param", "gp.n_inducing=1000000"], "gp.n_inducing"),
        (["--models", "rf", "--param", "rf.colour=3"], "colour"),
        (["--models", "rf", "--cv", "1"], "--cv must be at least 2"),
        (["--models", "rf", "--group", "heat"], "'heat' is not a column"),
    ],
)
def test_evaluate_rejects_bad_options_in_one_line(tmp_path, args, message):
    spec = _spec(tmp_path)
    assert message in _run("evaluate", spec, "--out", str(tmp_path / "e"), *args)
    assert not (tmp_path / "e").exists()  # nothing ran, nothing written


def test_fit_on_one_row_and_on_an_all_missing_target(tmp_path):
    one = _spec(tmp_path, n=1)
    out = _run("fit", one, "--model", "rf", "--out", str(tmp_path / "r"))
    assert "1 row(s) with a value; a fit needs at least 2" in out
    empty = _spec(tmp_path, n=10, ys=[np.nan] * 10)
    assert "target ys has 0 row(s)" in _run("fit", empty, "--model", "rf", "--out", str(tmp_path / "r"))
    few = _spec(tmp_path, n=3)
    assert "--no-calibrate" in _run("fit", few, "--model", "rf", "--out", str(tmp_path / "r"))


def test_predict_rejects_a_directory_that_is_not_a_fit(tmp_path):
    (tmp_path / "new.csv").write_text("T_C\n500\n")
    out = _run("predict", str(tmp_path), str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv"))
    assert "not a `psplab fit` run directory" in out
