"""``psplab spec init``: a spec drafted from a table's names and values, every guess marked."""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from psplab.cli import app
from psplab.data.dataset import load_dataset
from psplab.data.draft import draft_spec, guess_column, unit_from_name
from psplab.data.units import parse_unit

N_ROWS = 40


def _known(unit: str) -> bool:
    try:
        parse_unit(unit)
    except ValueError:
        return False
    return True


@pytest.fixture()
def steels_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = N_ROWS
    frame = pd.DataFrame(
        {
            "Sl. No.": np.arange(1, n + 1),
            "C": rng.uniform(0.1, 0.6, n),
            "Mn": rng.uniform(0.5, 2, n),
            "Ni_wt_pct": rng.uniform(0, 3, n),
            "Cr (at%)": rng.uniform(0, 5, n),
            "temperature": rng.uniform(400, 900, n),
            "anneal_temp_degC": rng.uniform(400, 900, n),
            "hold_time_h": rng.uniform(0.5, 10, n),
            "cooling_rate_K_per_s": rng.uniform(1, 100, n),
            "hardness_HV": rng.uniform(150, 400, n),
            "yield_strength_MPa": rng.uniform(200, 900, n),
            "UTS": rng.uniform(300, 1200, n),
            "grain_size_um": rng.uniform(1, 50, n),
            "martensite_fraction": rng.uniform(0, 1, n),
            "heat": rng.choice(["H1", "H2", "H3", "H4"], n),
            "route": rng.choice(["WQ", "OQ", "AC"], n),
            "comment": [f"note {i}" for i in range(n)],
            "mystery": rng.normal(size=n),
        }
    )
    frame.loc[3, "hardness_HV"] = np.nan  # a missing target is allowed
    path = tmp_path / "steels.csv"
    frame.to_csv(path, index=False)
    return path


EXPECTED_ROLES = {
    "Sl. No.": "ignore",
    "C": "processing",
    "Mn": "processing",
    "Ni_wt_pct": "processing",
    "Cr (at%)": "processing",
    "temperature": "processing",
    "anneal_temp_degC": "processing",
    "hold_time_h": "processing",
    "cooling_rate_K_per_s": "processing",
    "hardness_HV": "property",
    "yield_strength_MPa": "property",
    "UTS": "property",
    "grain_size_um": "structure",
    "martensite_fraction": "structure",
    "heat": "group",
    "route": "processing",
    "comment": "ignore",
    "mystery": "processing",
}
EXPECTED_UNITS = {
    "C": "wt%",
    "Mn": "wt%",
    "Ni_wt_pct": "wt%",
    "Cr (at%)": "at%",
    "temperature": "degC",
    "anneal_temp_degC": "degC",
    "hold_time_h": "h",
    "cooling_rate_K_per_s": "K/s",
    "yield_strength_MPa": "MPa",
    "grain_size_um": "um",
}


def test_spec_init_drafts_a_spec_that_validates(steels_csv):
    out = steels_csv.with_suffix(".toml")
    result = CliRunner().invoke(app, ["spec", "init", str(steels_csv)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "accepts the table" in result.output
    text = out.read_text()
    spec = tomllib.loads(text)
    assert spec["source"] == "steels.csv" and spec["id"] == "Sl. No."
    columns = {c["name"]: c for c in spec["column"]}
    assert list(columns) == list(EXPECTED_ROLES)  # every column, in the table's order
    assert {n: c["role"] for n, c in columns.items()} == EXPECTED_ROLES
    assert {n: c["unit"] for n, c in columns.items() if "unit" in c} == EXPECTED_UNITS | (
        {"hardness_HV": "HV"} if _known("HV") else {}
    )
    assert {n for n, c in columns.items() if c.get("kind") == "categorical"} == {
        "heat",
        "route",
        "comment",
    }
    # Every guessed role, unit and kind carries a REVIEW comment.
    guessed = [
        line for line in text.splitlines() if line.split(" =")[0] in ("role", "unit", "kind")
    ]
    assert guessed and all("# REVIEW:" in line for line in guessed)
    if not _known("HV"):
        assert '# unit = "HV"  # REVIEW' in text
    assert "no bounds" not in text and "min =" not in text  # bounds are not guessed

    check = CliRunner().invoke(app, ["validate", str(out)])
    assert check.exit_code == 0, check.output
    dataset = load_dataset(out)
    assert [c.name for c in dataset.spec.processing] == [
        n for n, r in EXPECTED_ROLES.items() if r == "processing"
    ]


def test_spec_init_refuses_to_overwrite_and_reports_missing_files(steels_csv, tmp_path):
    runner = CliRunner()
    out = tmp_path / "draft.toml"
    out.write_text("# mine\n")
    result = runner.invoke(app, ["spec", "init", str(steels_csv), "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.strip() == f"{out}: file exists (use --force to replace it)"
    assert out.read_text() == "# mine\n"
    result = runner.invoke(app, ["spec", "init", str(steels_csv), "--out", str(out), "--force"])
    assert result.exit_code == 0 and "[[column]]" in out.read_text()
    result = runner.invoke(app, ["spec", "init", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "not found" in result.output


def test_missing_processing_values_are_flagged_in_the_draft_and_by_validate(tmp_path):
    frame = pd.DataFrame({"Ni": [1.0, None, 2.0, 3.0], "hardness": [200, 210, 220, 230]})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["spec", "init", str(path)])
    assert result.exit_code == 0, result.output
    assert "reports 1 problem(s)" in result.output and "row 2" in result.output
    text = (tmp_path / "t.toml").read_text()
    assert "empty cells in a processing input are errors" in text


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("T [degC]", "degC"),
        ("T (°C)", "degC"),
        ("hold_time_h", "h"),
        ("holdTime_s", "s"),
        ("Ni_wt_pct", "wt%"),
        ("Cr (at%)", "at%"),
        ("Al_wt%", "wt%"),
        ("cooling_rate_K_per_s", "K/s"),
        ("anneal_temp_degC", "degC"),
        ("grain_size_um", "um"),
        ("hardness (HV)", "HV"),
        ("density_per_mm2", "1/mm**2"),
        ("strength", None),
        ("h", None),
        ("grain size", None),
    ],
)
def test_unit_from_name(name, unit):
    assert unit_from_name(name) == unit


def test_text_columns_ids_groups_levels_and_numbers_with_typos():
    n = 30
    ids = guess_column("sample_id", pd.Series([f"S{i:03d}" for i in range(n)]))
    assert ids.role == "ignore" and ids.is_id
    lot = guess_column("lot", pd.Series(["A", "B"] * (n // 2)))
    assert lot.role == "group" and lot.kind == "categorical"
    typo = pd.Series([str(v) for v in np.linspace(1, 2, n)])
    typo[4] = "1.2a"
    guess = guess_column("hold_time_s", typo)
    assert guess.kind == "numeric" and guess.unit == "s"
    assert any("1 cell(s) are not numbers" in r for r in guess.reasons)
    words = guess_column("remarks", pd.Series(["x"] * n).where(np.arange(n) % 2 == 0, "y"))
    assert words.role == "processing" and words.kind == "categorical"  # two levels: a choice
    # An element symbol with values outside 0..100 is not a composition.
    big = guess_column("W", pd.Series(np.linspace(100, 500, n)))
    assert not any("composition" in r for r in big.reasons)


def test_draft_spec_python_api_matches_the_file(steels_csv, tmp_path):
    draft = draft_spec(steels_csv, name="steels-2024")
    assert draft.id == "Sl. No." and draft.name == "steels-2024"
    (tmp_path / "sub").mkdir()
    path = draft.write(tmp_path / "sub" / "spec.toml")
    spec = tomllib.loads(path.read_text())
    assert spec["source"] == "../steels.csv"  # relative to the spec's folder
    assert spec["allow_outside"] is True  # so that the confined reader accepts it
    assert load_dataset(path).frame.shape[0] == N_ROWS
    assert [c["role"] for c in spec["column"]] == [c.role for c in draft.columns]


def test_encoding_and_delimiter_are_used_and_written(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("température;dureté_HV\n450;210\n500;230\n".encode("latin-1"))
    runner = CliRunner()
    r = runner.invoke(app, ["spec", "init", str(path)])
    assert r.exit_code == 2 and "not UTF-8" in r.output
    r = runner.invoke(app, ["spec", "init", str(path), "--encoding", "latin-1", "--delimiter", ";"])
    assert r.exit_code == 0, r.output
    spec = tomllib.loads((tmp_path / "latin.toml").read_text(encoding="utf-8"))
    assert spec["encoding"] == "latin-1" and spec["delimiter"] == ";"
    assert [c["name"] for c in spec["column"]] == ["température", "dureté_HV"]
    assert runner.invoke(app, ["validate", str(tmp_path / "latin.toml")]).exit_code == 0
