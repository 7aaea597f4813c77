"""evaluate_dataset: shared folds, per-target missing rows, groups; metrics against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from psplab.data import DatasetSpec, load_dataset
from psplab.models.evaluation import evaluate_dataset
from psplab.models.metrics import METRIC_NAMES, gaussian_crps, gaussian_nll, score
from psplab.models.plots import write_figures


def _dataset(n=60, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "T_C": rng.uniform(400, 700, n),
            "t_h": rng.uniform(1, 10, n),
            "heat": np.repeat(np.arange(n // 5), 5).astype(str),
        }
    )
    frame["hardness_HV"] = 150 + 0.2 * frame["T_C"] - 2 * frame["t_h"] + rng.normal(0, 2, n)
    frame["ys_MPa"] = 3 * frame["hardness_HV"] + rng.normal(0, 5, n)
    frame.loc[[3, 10, 11], "ys_MPa"] = np.nan
    spec = DatasetSpec.from_dict(
        {
            "name": "toy",
            "column": [
                {"name": "T_C", "role": "processing", "unit": "degC"},
                {"name": "t_h", "role": "processing", "unit": "h"},
                {"name": "heat", "role": "group", "kind": "categorical"},
                {"name": "hardness_HV", "role": "property"},
                {"name": "ys_MPa", "role": "property", "unit": "MPa"},
            ],
        }
    )
    return load_dataset(spec, frame=frame)


@pytest.fixture(scope="module")
def cv_result():
    result = evaluate_dataset(
        _dataset(),
        ["rf", "gp"],
        cv=4,
        seed=0,
        progress=False,
        params={"rf": {"n_estimators": 50}, "gp": {"n_restarts": 0}},
    )
    return result.metrics, result.oof


def test_every_model_and_target_has_every_metric(cv_result):
    metrics, _ = cv_result
    assert set(metrics) == {"rf", "gp"}
    for per_target in metrics.values():
        assert set(per_target) == {"hardness_HV", "ys_MPa"}
        for m in per_target.values():
            assert set(m) == set(METRIC_NAMES)
            # The in/out-of-domain parts are NaN only when no row falls in them.
            empty = (
                {"coverage90_out_of_domain", "mae_out_of_domain"}
                if m["n_out_of_domain"] == 0
                else set()
            )
            assert np.isfinite([v for k, v in m.items() if k not in empty]).all()
    # A near-linear law: the GP must be close to the 2 HV noise, better than the forest.
    assert metrics["gp"]["hardness_HV"]["mae"] < 3.0
    assert metrics["gp"]["hardness_HV"]["mae"] < metrics["rf"]["hardness_HV"]["mae"]


def test_same_folds_for_every_model_and_missing_rows_dropped_per_target(cv_result):
    _, oof = cv_result
    keys = {
        m: oof[oof.model == m].sort_values(["target", "row"])[["target", "row", "fold"]].to_numpy()
        for m in ("rf", "gp")
    }
    np.testing.assert_array_equal(keys["rf"], keys["gp"])
    per_target = oof[oof.model == "gp"].groupby("target")["row"].agg(list)
    assert sorted(per_target["hardness_HV"]) == list(range(60))
    assert sorted(per_target["ys_MPa"]) == sorted(set(range(60)) - {3, 10, 11})


def test_group_cross_validation_keeps_groups_in_one_fold():
    ds = _dataset()
    fitted = []
    oof = evaluate_dataset(
        ds,
        ["rf"],
        cv=3,
        seed=1,
        group="heat",
        progress=False,
        params={"rf": {"n_estimators": 20}},
        on_fit=lambda name, fold, targets, model: fitted.append(
            (name, fold, model.get_params()["estimator__n_estimators"])
        ),
    ).oof
    # on_fit sees every fitted model, with its fold and its parameters.
    assert sorted({f for _, f, _ in fitted}) == [0, 1, 2]
    assert all(name == "rf" and n == 20 for name, _, n in fitted)
    heat = ds.frame["heat"].to_numpy()
    folds_per_group = (
        pd.Series(oof["fold"].to_numpy()).groupby(heat[oof["row"].to_numpy()]).nunique()
    )
    assert (folds_per_group == 1).all()


def test_gaussian_scores_match_their_definitions():
    y, m, s = 1.3, 0.4, 0.7
    assert gaussian_nll(y, m, s) == pytest.approx(-stats.norm.logpdf(y, m, s))
    # CRPS = integral of (F(x) - 1{x >= y})^2
    left, _ = integrate.quad(lambda x: stats.norm.cdf(x, m, s) ** 2, -np.inf, y)
    right, _ = integrate.quad(lambda x: (1 - stats.norm.cdf(x, m, s)) ** 2, y, np.inf)
    assert gaussian_crps(y, m, s) == pytest.approx(left + right, rel=1e-6)
    out = score(
        np.array([0.0, 2.0]),
        np.array([0.0, 0.0]),
        np.ones(2),
        np.array([-1.0, -1.0]),
        np.array([1.0, 1.0]),
    )
    assert out["mae"] == 1.0 and out["coverage90"] == 0.5 and out["width90"] == 2.0


def test_figures_are_written_with_captions(cv_result, tmp_path):
    _, oof = cv_result
    written = write_figures(oof, tmp_path, labels={"ys_MPa": "yield strength [MPa]"})
    assert {w["kind"] for w in written} == {"parity", "calibration"}
    assert len(written) == 4
    for w in written:
        assert (
            w["path"].endswith(".png")
            and (tmp_path / w["path"].split("/")[-1]).stat().st_size > 1000
        )
    assert any("yield strength [MPa]" in w["caption"] for w in written)
