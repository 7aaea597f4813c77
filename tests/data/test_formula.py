"""Composition columns: formula and balance notation expanded into element fractions."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from psplab.data import DatasetSpec, load_dataset, validate, validate_frame
from psplab.data.formula import (
    ATOMIC_WEIGHTS,
    FormulaError,
    composition_fractions,
    convert_fractions,
    parse_composition,
)


def test_formula_amounts_are_atomic_proportions():
    x = composition_fractions("Al0.5CoCrFeNi")
    assert x == pytest.approx(
        {"Al": 0.5 / 4.5, "Co": 1 / 4.5, "Cr": 1 / 4.5, "Fe": 1 / 4.5, "Ni": 1 / 4.5}
    )


def test_a_group_shares_its_amount_in_its_own_proportions():
    x = composition_fractions("(CoCrFeNi)90Al10")
    assert x == pytest.approx({"Co": 0.225, "Cr": 0.225, "Fe": 0.225, "Ni": 0.225, "Al": 0.1})


def test_balance_notation_is_mass_percent_with_the_first_element_as_balance():
    amounts, basis = parse_composition("Fe-18Cr-8Ni")
    assert basis == "mass"
    assert amounts == pytest.approx({"Fe": 74.0, "Cr": 18.0, "Ni": 8.0})
    w = composition_fractions("Fe-18Cr-8Ni", fractions="mass")
    assert w == pytest.approx({"Fe": 0.74, "Cr": 0.18, "Ni": 0.08})


def test_equiatomic_niti_is_55_wt_percent_nickel():
    # Nitinol: 50 at% Ni is 55.1 wt% Ni (58.693 / (58.693 + 47.867)).
    w = composition_fractions("Ni50Ti50", fractions="mass")
    assert w["Ni"] == pytest.approx(0.5508, abs=1e-4)
    x = composition_fractions("Ni-44.92Ti")  # the same alloy in wt%, read as atomic fractions
    assert x["Ni"] == pytest.approx(0.5, abs=1e-3)


def test_the_spec_basis_overrides_the_notation():
    assert composition_fractions("Ni-50Ti", basis="atomic") == pytest.approx({"Ni": 0.5, "Ti": 0.5})


@pytest.mark.parametrize("source", ["atomic", "mass"])
def test_mass_atomic_round_trip(source):
    rng = np.random.default_rng(3)
    elements = rng.choice(list(ATOMIC_WEIGHTS), size=6, replace=False)
    fractions = dict(zip(elements, rng.dirichlet(np.ones(6)), strict=True))
    other = "mass" if source == "atomic" else "atomic"
    back = convert_fractions(convert_fractions(fractions, source, other), other, source)
    assert back == pytest.approx(fractions, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Al0.5CoXx", "'Xx' in 'Al0.5CoXx' is not an element symbol"),
        ("Fe-60Cr-50Ni", "sum to 110 %, leaving nothing for the balance Fe"),
        ("Fe-18Cr-2Fe", "lists the balance element Fe again"),
        ("al0.5co", "cannot read"),
        ("(CoCrFeNi", "unbalanced '\\('"),
        ("(CoCr)Fe", "needs its amount"),
        ("3Fe", "does not follow an element"),
        ("Fe--Cr", "balance notation is"),
        ("", "empty composition"),
        ("Fe" * 200, "too long"),
        ("Al0", "no positive amount"),
    ],
)
def test_unreadable_compositions_say_why(text, match):
    with pytest.raises(FormulaError, match=match):
        composition_fractions(text)


SPEC = """
name = "hea"
source = "d.csv"
[[column]]
name = "alloy"
role = "processing"
kind = "formula"
{extra}
[[column]]
name = "anneal"
role = "processing"
unit = "degC"
[[column]]
name = "hardness"
role = "property"
unit = "HV"
"""
DATA = """alloy,anneal,hardness
Al0.5CoCrFeNi,900,210
CoCrFeNi,900,160
Fe-18Cr-8Ni,1000,180
"""


def write(tmp_path, data=DATA, extra=""):
    (tmp_path / "d.csv").write_text(textwrap.dedent(data))
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(extra=extra))
    return path


def test_formula_column_expands_into_atomic_fraction_inputs(tmp_path):
    ds = load_dataset(write(tmp_path))
    names = ["alloy_Al", "alloy_Cr", "alloy_Fe", "alloy_Co", "alloy_Ni"]
    assert ds.input_names == [*names, "anneal"]  # elements in order of atomic number
    assert ds.spec.column("alloy").elements == ("Al", "Cr", "Fe", "Co", "Ni")
    X, features = ds.input_matrix()
    assert features == [*names, "anneal"]
    np.testing.assert_allclose(X[:, :5].sum(axis=1), 1.0)
    assert X[0, 0] == pytest.approx(0.5 / 4.5)
    # Fe-18Cr-8Ni (wt%) read as atomic fractions: no Al or Co, and Cr a little above 18 %.
    assert X[2, 0] == 0 and X[2, 3] == 0
    assert 0.18 < X[2, 1] < 0.20
    units = {c["name"]: c["unit"] for c in ds.summary()["columns"]}
    assert units["alloy_Fe"] == "atom_fraction"


def test_fractions_key_gives_mass_fractions(tmp_path):
    ds = load_dataset(write(tmp_path, extra='fractions = "mass"'))
    assert ds.frame["alloy_Fe"][2] == pytest.approx(0.74)
    assert ds.spec.input_columns[0].unit == "mass_fraction"


def test_unreadable_cell_is_named_by_column_row_and_text(tmp_path):
    data = DATA.replace("\nCoCrFeNi,900", "\nCoCrFeNiQq,900")
    _, found = validate(write(tmp_path, data))
    assert [str(p) for p in found] == [
        "column 'alloy', row 2: cannot read 'CoCrFeNiQq' as a composition: "
        "'Qq' in 'CoCrFeNiQq' is not an element symbol"
    ]


def test_a_fitted_spec_fixes_the_elements_for_new_rows(tmp_path):
    ds = load_dataset(write(tmp_path))
    saved = ds.spec.to_toml(tmp_path / "run" / "spec.toml")
    spec = DatasetSpec.from_toml(saved)
    assert spec.column("alloy").elements == ("Al", "Cr", "Fe", "Co", "Ni")
    import pandas as pd

    new = pd.DataFrame({"alloy": ["CoCrNi", "CoCrFeNiTi0.2"], "anneal": ["900", "950"]})
    inputs = spec.processing
    sub = DatasetSpec(name="x", source=None, columns=tuple(inputs))
    typed, found = validate_frame(sub, new)
    assert [str(p) for p in found] == [
        "column 'alloy', row 2: element(s) Ti not among Al, Cr, Fe, Co, Ni"
    ]
    assert typed.loc[0, "alloy_Fe"] == 0.0 and typed.loc[0, "alloy_Co"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('unit = "at%"', "column 'alloy': unit does not apply to a formula column"),
        ('basis = "molar"', "column 'alloy': basis must be one of atomic, mass"),
        ('elements = ["Fe", "Qq"]', "column 'alloy': not element symbols: ['Qq']"),
        ("min = 0", "column 'alloy': min does not apply to a formula column"),
    ],
)
def test_formula_spec_errors(tmp_path, extra, expected):
    _, found = validate(write(tmp_path, extra=extra))
    assert any(str(p).startswith(expected) for p in found), found


def test_validate_cli_lists_the_element_columns(tmp_path):
    from typer.testing import CliRunner

    from psplab.cli import app

    result = CliRunner().invoke(app, ["validate", str(write(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "alloy_Ni" in result.output and "atom_fraction" in result.output
