"""``psplab phasemap fit | predict | suggest``: round trip, same seed as the API, errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from .data import line_points, tiny_data


@pytest.fixture
def psplab(monkeypatch, capsys):
    """Run ``psplab ARGS`` as the installed script does (errors -> one line, exit 2).

    Returns ``(exit code, stdout + stderr)``.
    """
    from psplab.cli import main

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["psplab", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
        out = capsys.readouterr()
        return code, out.out + out.err

    return run


def test_cli_round_trip_and_same_seed(tmp_path, tiny_model, psplab):
    """fit -> predict -> suggest from a TOML config; the CLI fit equals the API fit (same seed)."""
    import pandas as pd

    xs, ls, xp, yp = tiny_data()
    pd.DataFrame({"x": xs[:, 0], "y": xs[:, 1], "phase": ls}).to_csv(
        tmp_path / "xrd_points.csv", index=False
    )
    pd.DataFrame({"x": xp[:, 0], "y": xp[:, 1], "hardness": yp}).to_csv(
        tmp_path / "prop.csv", index=False
    )
    (tmp_path / "pm.toml").write_text(
        """
regions = 2
kernel = "rbf"
[[structure]]
source = "xrd_points.csv"
coords = ["x", "y"]
label = "phase"
[[property]]
source = "prop.csv"
coords = ["x", "y"]
value = "hardness"
[inference]
num_warmup = 100
num_samples = 50
svi_steps = 300
max_inducing = 36
seed = 0
"""
    )
    code, output = psplab(
        *[
            "phasemap",
            "fit",
            str(tmp_path / "pm.toml"),
            "--out",
            str(tmp_path / "run"),
            "--cv",
            "3",
        ],
    )
    assert code == 0, output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["kind"] == "phasemap" and "figures" in manifest["files"]
    assert (tmp_path / "run" / "phase_map.png").is_file()
    # --cv 3: held-out predictions of every reading by SAGE refits and by a plain GP.
    cv = pd.read_csv(tmp_path / "run" / "cv.csv")
    assert len(cv) == len(yp) and {"x", "y", "fold", "sage_mean", "gp_std"} <= set(cv)
    np.testing.assert_allclose(cv["value"], yp)
    (summary,) = manifest["results"]["cv"]["summary"]
    assert summary["property"] == "hardness" and summary["n"] == len(yp)
    assert "3-fold check of the property predictions" in output
    line = line_points(11)
    pd.DataFrame({"x": line[:, 0], "y": line[:, 1]}).to_csv(tmp_path / "grid.csv", index=False)
    code, output = psplab(
        *[
            "phasemap",
            "predict",
            str(tmp_path / "run"),
            str(tmp_path / "grid.csv"),
            "--out",
            str(tmp_path / "pred.csv"),
        ],
    )
    assert code == 0, output
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert {"p_0", "p_1", "entropy", "label", "hardness_mean", "hardness_std"} <= set(pred.columns)
    # Same seed, same data: the CLI fit reproduces the API fit exactly.
    api = tiny_model.predict(line)
    np.testing.assert_allclose(pred["hardness_mean"], api.mean[:, 0], rtol=1e-9)
    np.testing.assert_allclose(pred["p_1"], api.probs[:, 1], rtol=1e-9)
    code, output = psplab(
        *[
            "phasemap",
            "suggest",
            str(tmp_path / "run"),
            str(tmp_path / "grid.csv"),
            "--n",
            "2",
            "--out",
            str(tmp_path / "s.csv"),
        ],
    )
    assert code == 0, output
    assert len(pd.read_csv(tmp_path / "s.csv")) == 2
    # A fold count that cannot work fails before the fit.
    code, output = psplab(
        *["phasemap", "fit", str(tmp_path / "pm.toml"), "--out", str(tmp_path / "r1"), "--cv", "1"],
    )
    assert code == 2 and "--cv must be 0 (skip) or in [2, 44]" in output
    assert not (tmp_path / "r1").exists()
    # A bad config: exit 2, one line per problem.
    (tmp_path / "bad.toml").write_text(
        'regions = 1\nregion_noise = "yes"\n'
        '[[property]]\nsource = "nope.csv"\ncoords = ["x"]\nvalue = "y"\n'
    )
    code, output = psplab(
        *["phasemap", "fit", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "r2")]
    )
    assert code == 2
    assert "'regions' must be an integer >= 2" in output and "nope.csv not found" in output
    assert "'region_noise' must be true or false, got 'yes'" in output
