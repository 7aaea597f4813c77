"""``psplab causal`` on tables as users have them: compositions that sum to 100, missing and
constant columns, categorical processing columns, and effects that must not be shown."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from psplab.causal import CausalGraph, discover, influence_table, run_causal, top_drivers
from psplab.causal.effects import DoseResponse
from psplab.causal.influence import MAX_RANGE_RATIO
from psplab.cli import app
from psplab.data.dataset import load_dataset
from psplab.errors import InputError, ResourceError

ELEMENTS = ["Fe", "Ni", "Cr", "Mo", "Mn", "Si", "Al", "Ti", "Nb", "V", "W", "Co", "Cu", "C", "N"]
# True effects in HV per at%, each element added in place of Fe (the balance).
TRUE_PER_AT_PCT = {"Ni": -20.0, "Cr": 12.0, "Mo": 25.0}
ROUTE_OFFSET_HV = {"cast": 0.0, "forged": 30.0, "rolled": 15.0}


def composition_table(
    tmp_path,
    n=300,
    seed=0,
    *,
    missing_uts=0.0,
    constant=None,
    categorical=True,
    balance_rounded_alone=True,
):
    """15 at% columns summing to 100 (Fe the balance), an anneal temperature, a route, HV, UTS.

    ``balance_rounded_alone``: Fe is 100 minus the other (rounded) contents, so rows sum to 100
    exactly; otherwise every content is rounded on its own and rows sum to 100 +- 0.05.
    """
    rng = np.random.default_rng(seed)
    others = {e: rng.uniform(0, 4, n) for e in ELEMENTS[1:]}
    contents = {e: np.round(v, 2) for e, v in others.items()}
    free = contents if balance_rounded_alone else others
    contents = {"Fe": np.round(100 - sum(free.values()), 2), **contents}
    anneal = rng.uniform(800, 1100, n)
    route = rng.choice(list(ROUTE_OFFSET_HV), n, p=[0.5, 0.3, 0.2])
    hv = (
        300
        + sum(k * others[e] for e, k in TRUE_PER_AT_PCT.items())
        - 0.1 * (anneal - 900)
        + np.array([ROUTE_OFFSET_HV[r] for r in route])
        + 5 * rng.standard_normal(n)
    )
    frame = pd.DataFrame({f"{e}_at_pct": v for e, v in contents.items()})
    frame["anneal_C"] = anneal
    frame["route"] = route
    frame["HV"] = hv
    frame["UTS_MPa"] = 3.2 * hv + 20 * rng.standard_normal(n)
    if constant:
        frame[f"{constant}_at_pct"] = 0.0
    if missing_uts:
        frame.loc[rng.random(n) < missing_uts, "UTS_MPa"] = np.nan
    frame.to_csv(tmp_path / "alloys.csv", index=False)
    columns = [(f"{e}_at_pct", "processing", 'unit = "percent"') for e in ELEMENTS]
    columns += [("anneal_C", "processing", 'unit = "degC"')]
    if categorical:
        columns += [("route", "processing", 'kind = "categorical"')]
    else:
        frame.drop(columns="route").to_csv(tmp_path / "alloys.csv", index=False)
    columns += [("HV", "property", ""), ("UTS_MPa", "property", 'unit = "MPa"\ntier = 3')]
    text = "".join(
        f'[[column]]\nname = "{name}"\nrole = "{role}"\n{extra}\n' for name, role, extra in columns
    )
    (tmp_path / "alloys.toml").write_text(f'name = "alloys"\nsource = "alloys.csv"\n{text}')
    return tmp_path / "alloys.toml"


FAST = {"bootstrap": 0, "dose_top": 0}


@pytest.mark.parametrize("balance_rounded_alone", [True, False])
def test_closed_composition_leaves_the_balance_out_and_recovers_the_effects(
    tmp_path, balance_rounded_alone
):
    spec = composition_table(tmp_path, balance_rounded_alone=balance_rounded_alone)
    result = run_causal(load_dataset(spec), **FAST, outcomes=["HV"])
    assert "Fe_at_pct" not in result.data.names
    assert "balance of a closed composition" in result.data.left_out["Fe_at_pct"]
    assert any("closed composition" in n and "in place of Fe_at_pct" in n for n in result.notes)
    table = result.influence.set_index("parameter")
    assert np.isfinite(table["effect_per_unit"]).all() and (table["flag"] == "").all()
    # Each element's effect is the one of adding it in place of Fe. Standard errors are about
    # 0.5 HV/at% at n = 300 (noise 5 HV); 2 HV/at% is four of them. The graph found every
    # true edge at seeds 0-4.
    for element, truth in TRUE_PER_AT_PCT.items():
        row = table.loc[f"{element}_at_pct"]
        assert row["sign"] == ("+" if truth > 0 else "-")
        assert row["effect_per_unit"] == pytest.approx(truth, abs=2.0)


def test_closure_is_found_beside_another_column_of_the_same_unit(tmp_path):
    spec = composition_table(tmp_path, categorical=False)
    frame = pd.read_csv(tmp_path / "alloys.csv")
    frame["porosity_pct"] = np.random.default_rng(3).uniform(0, 2, len(frame))
    frame.to_csv(tmp_path / "alloys.csv", index=False)
    spec.write_text(
        spec.read_text()
        + '[[column]]\nname = "porosity_pct"\nrole = "processing"\nunit = "percent"\n'
    )
    result = run_causal(load_dataset(spec), **FAST, outcomes=["HV"])
    assert "Fe_at_pct" in result.data.left_out and "porosity_pct" in result.data.names
    (note,) = [n for n in result.notes if "closed composition" in n]
    assert "15 columns in percent" in note and "porosity_pct" not in note


def test_categorical_processing_column_is_encoded_against_its_most_common_level(tmp_path):
    spec = composition_table(tmp_path)
    result = run_causal(load_dataset(spec), **FAST, outcomes=["HV"])
    assert result.data.indicators == {"route": ["route=forged", "route=rolled"]}
    assert any("route: categorical, encoded" in n and "'cast'" in n for n in result.notes)
    table = result.influence.set_index("parameter")
    # Switching cast -> forged adds 30 HV (noise 5 HV, ~90 forged rows: standard error < 1.5).
    assert table.loc["route=forged", "effect_over_range"] == pytest.approx(30.0, abs=6.0)
    assert (
        table.loc["route=forged", "range_low"] == 0 and table.loc["route=forged", "range_high"] == 1
    )


def test_rows_dropped_for_missing_values_are_counted_and_explained(tmp_path):
    spec = composition_table(tmp_path, missing_uts=0.6)
    dataset = load_dataset(spec)
    complete = int(dataset.frame["UTS_MPa"].notna().sum())
    result = run_causal(dataset, **FAST)
    assert result.data.n_rows_used == complete and result.data.n_rows_total == 300
    assert result.data.missing_by_column == {"UTS_MPa": 300 - complete}
    assert any(f"uses {complete} of 300 rows" in n and "UTS_MPa" in n for n in result.notes)
    assert result.summary()["rows"] == {
        "total": 300,
        "used": complete,
        "dropped": 300 - complete,
        "missing_by_column": {"UTS_MPa": 300 - complete},
    }


def test_constant_column_is_left_out_with_a_message_also_with_exclude(tmp_path):
    spec = composition_table(tmp_path, constant="Si", categorical=False)
    out = tmp_path / "run"
    args = ["causal", str(spec), "--out", str(out), "--bootstrap", "0", "--dose-top", "0"]
    for extra in ([], ["--exclude", "anneal_C"]):
        res = CliRunner().invoke(app, [*args, *extra])
        assert res.exit_code == 0, res.output
        assert "Si_at_pct: constant (0)" in res.output
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["results"]["left_out"]["Si_at_pct"] == "constant in the rows used"
        assert "Si_at_pct" not in json.loads((out / "graph.json").read_text())["nodes"]
    assert manifest["results"]["left_out"]["anneal_C"] == "excluded by the user"


def test_column_names_that_look_like_mathtext_are_drawn_literally(tmp_path):
    rng = np.random.default_rng(0)
    price = rng.uniform(0, 1, 120)
    frame = pd.DataFrame({"price $\\foo{$": price, "_temp": rng.uniform(0, 1, 120)})
    frame["y $x^2$"] = 3 * price + 0.1 * rng.standard_normal(120)
    frame.to_csv(tmp_path / "t.csv", index=False)
    names = list(frame.columns)
    cols = "".join(
        f'[[column]]\nname = "{n}"\nrole = "{r}"\n'
        for n, r in zip(names, ["processing", "processing", "property"], strict=True)
    ).replace("\\", "\\\\")
    (tmp_path / "t.toml").write_text(f'name = "t"\nsource = "t.csv"\n{cols}')
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app, ["causal", str(tmp_path / "t.toml"), "--out", str(out), "--bootstrap", "2"]
        + ["--jobs", "1", "--dose-top", "1", "--model", "rf", "--grid", "4", "--draws", "3"]
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (out / "graph.png").is_file() and (out / "influence.png").is_file()
    res = CliRunner().invoke(app, ["report", str(out), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "left out" not in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_singular_adjustment_gives_no_number():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 200)
    frame = pd.DataFrame({"a": a, "b": 1 - a, "y": 3 * a + 0.1 * rng.standard_normal(200)})
    graph = discover(frame, tiers={"a": 0, "b": 0, "y": 1})
    table = influence_table(graph, frame, outcomes=["y"]).set_index("parameter")
    for knob in ("a", "b"):  # each adjusted for the other: exactly collinear
        assert np.isnan(table.loc[knob, "effect_per_unit"])
        assert table.loc[knob, "sign"] == "!" and "singular" in table.loc[knob, "flag"]
    assert top_drivers(table.reset_index(), "y") == []


def test_effect_far_beyond_the_outcome_range_is_flagged_not_ranked():
    # Two knobs equal up to 1e-5 noise, both causes of y: the adjustment of one for the other is
    # not exactly singular, but its coefficient is the noise amplified ~10^5 times (over seeds
    # 0-9 the effects over the range were 60-2900x the outcome's range, never below 10x).
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, 200)
    frame = pd.DataFrame({"a": a, "b": a + 1e-5 * rng.standard_normal(200)})
    frame["y"] = frame["a"] + 0.5 * rng.standard_normal(200)
    arrow = np.array([[0, 0, 1], [0, 0, 1], [0, 0, 0]], bool)
    graph = CausalGraph(["a", "b", "y"], arrow | arrow.T, arrow, tiers=[0, 0, 1])
    table = influence_table(graph, frame, outcomes=["y"])
    assert (table["flag"].str.startswith("implausible")).all()
    assert (table["sign"] == "!").all() and top_drivers(table, "y") == []
    # The same pair adjusted only for what it needs (b left out) is a result, about +1 per unit.
    kept = frame.drop(columns="b")
    single = CausalGraph(["a", "y"], arrow[::2, ::2] | arrow[::2, ::2].T, arrow[::2, ::2], [0, 1])
    row = influence_table(single, kept, outcomes=["y"]).iloc[0]
    assert row["flag"] == "" and row["sign"] == "+"
    assert abs(row["effect_over_range"]) <= MAX_RANGE_RATIO * np.ptp(frame["y"])


def test_sign_contradicting_the_dose_response_is_flagged():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, 300)
    frame = pd.DataFrame({"x": x, "y": 10 * x + rng.standard_normal(300)})
    graph = discover(frame, tiers={"x": 0, "y": 1})
    grid = np.linspace(0.05, 0.95, 5)
    draws = -50 * grid[None, :] + rng.normal(0, 1, (20, 1))  # falls by 45 over the range
    curve = DoseResponse("x", "y", grid, draws.mean(0), draws.min(0), draws.max(0), draws, 0.9)
    table = influence_table(graph, frame, dose={("x", "y"): curve})
    (row,) = table.itertuples()
    assert row.effect_over_range > 0 and row.dose_effect_over_range < 0
    assert row.sign == "!" and row.flag.startswith("sign disagrees with the dose-response")
    agreeing = DoseResponse("x", "y", grid, -draws.mean(0), -draws.max(0), -draws.min(0), -draws)
    table = influence_table(graph, frame, dose={("x", "y"): agreeing})
    assert table["flag"].iloc[0] == "" and table["sign"].iloc[0] == "+"


def test_too_few_complete_rows_and_unknown_columns_are_input_errors(tmp_path):
    spec = composition_table(tmp_path, n=40, missing_uts=0.9)
    dataset = load_dataset(spec)
    with pytest.raises(InputError, match=r"rows have every analysed column filled.*UTS_MPa"):
        run_causal(dataset, **FAST)
    with pytest.raises(InputError, match="--exclude: 'nope'"):
        run_causal(dataset, **FAST, exclude=["nope"])
    with pytest.raises(InputError, match="--outcomes: 'Fe_at_pct'"):
        run_causal(dataset, **FAST, exclude=["UTS_MPa"], outcomes=["Fe_at_pct"])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--bootstrap", "1000000000", "--bootstrap"),
        ("--grid", "1000000", "--grid"),
        ("--draws", "0", "--draws must be >= 2"),
        ("--model", "nonsense", "--model: unknown model 'nonsense'"),
        ("--jobs", "0", "--jobs must be >= 1"),
    ],
)
def test_bad_sizes_are_refused_up_front_with_one_line(tmp_path, option, value, message):
    spec = composition_table(tmp_path, n=30)
    res = CliRunner().invoke(
        app, ["causal", str(spec), "--out", str(tmp_path / "r"), option, value]
    )
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], res.output
    assert "Traceback" not in res.output and not (tmp_path / "r").exists()


def test_resource_bounds_raise_resource_error(tmp_path):
    dataset = load_dataset(composition_table(tmp_path, n=30))
    with pytest.raises(ResourceError, match="--bootstrap"):
        run_causal(dataset, bootstrap=10**9)
