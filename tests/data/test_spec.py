"""Dataset spec and validation: every kind of bad input gets one clear line naming column and row."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psplab.data import DatasetSpec, SpecError, load_dataset, validate

SPEC = """
name = "toy"
source = "data.csv"
id = "sample"
[[column]]
name = "TT"
role = "processing"
unit = "degC"
min = 20
max = 1200
absent = 30
[[column]]
name = "route"
role = "processing"
kind = "categorical"
[[column]]
name = "C"
role = "processing"
unit = "wt%"
min = 0
max = 2
[[column]]
name = "grain_size"
role = "structure"
unit = "um"
[[column]]
name = "HV"
role = "property"
unit = "MPa"
tier = 3
[[column]]
name = "lot"
role = "group"
kind = "categorical"
[[column]]
name = "note"
role = "ignore"
"""

GOOD_CSV = """sample,TT,route,C,grain_size,HV,lot,note
s1,850,A,0.4,12.0,210,L1,ok
s2,30,B,0.5,,220,L1,
s3,900,A,0.6,10.5,,L2,anything goes here
s4,1000,B,0.7,9.0,250,L2,x
"""


def write(tmp_path: Path, csv: str, spec: str = SPEC) -> Path:
    (tmp_path / "data.csv").write_text(textwrap.dedent(csv).lstrip())
    path = tmp_path / "spec.toml"
    path.write_text(spec)
    return path


def problems_of(tmp_path: Path, csv: str, spec: str = SPEC) -> list[str]:
    dataset, problems = validate(write(tmp_path, csv, spec))
    assert dataset is None
    return [str(p) for p in problems]


def test_good_dataset_loads_with_roles_tiers_and_missing_targets(tmp_path):
    ds = load_dataset(write(tmp_path, GOOD_CSV))
    assert ds.n_rows == 4
    assert ds.input_names == ["TT", "route", "C"]
    assert ds.target_names == ["grain_size", "HV"]
    assert ds.spec.tiers() == {"TT": 0, "route": 0, "C": 0, "grain_size": 1, "HV": 3}
    X, y = ds.target("grain_size")
    assert X.shape == (3, 4)  # TT, route=A, route=B, C ; the missing grain size row is dropped
    np.testing.assert_allclose(y, [12.0, 10.5, 9.0])
    summary = ds.summary()
    assert summary["dropped_rows_per_target"] == {"grain_size": 1, "HV": 1}
    tt = next(c for c in summary["columns"] if c["name"] == "TT")
    assert tt["absent"] == 1  # the 30 degC "not applied" sentinel is counted, not rejected
    assert ds.groups().tolist() == ["L1", "L1", "L2", "L2"]


def test_categorical_one_hot_uses_training_levels_and_rejects_unknown(tmp_path):
    ds = load_dataset(write(tmp_path, GOOD_CSV))
    X, names = ds.input_matrix()
    assert names == ["TT", "route=A", "route=B", "C"]
    np.testing.assert_array_equal(X[:, 1] + X[:, 2], 1.0)
    new = pd.DataFrame({"TT": [800.0], "route": ["Z"], "C": [0.3]})
    with pytest.raises(SpecError, match=r"column 'route', row 1: unknown level 'Z'"):
        ds.input_matrix(new)


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        (GOOD_CSV.replace("s3,900", "s3,9x0"), "column 'TT', row 3: '9x0' is not a number"),
        (
            GOOD_CSV.replace("s4,1000,B", "s4,,B"),
            "column 'TT', row 4: missing value in a processing input",
        ),
        (
            GOOD_CSV.replace("s4,1000,B", "s4,1000,"),
            "column 'route', row 4: missing value in a processing input",
        ),
        (GOOD_CSV.replace("s1,850", "s1,1300"), "column 'TT', row 1: 1300 is above max 1200"),
        (GOOD_CSV.replace("s2,30,B,0.5", "s2,30,B,-0.1"), "column 'C', row 2: -0.1 is below min 0"),
        (
            GOOD_CSV.replace("s4,", "s2,"),
            "column 'sample', row 4: duplicate id 's2' (first at row 2)",
        ),
        (GOOD_CSV.replace("210,L1", "2l0,L1"), "column 'HV', row 1: '2l0' is not a number"),
        ("sample,TT,route,C,grain_size,HV,lot,note\n", "has no data rows (empty file)"),
        ("", "has no data rows (empty file)"),
    ],
)
def test_each_bad_value_is_named_by_column_and_row(tmp_path, csv, expected):
    problems = problems_of(tmp_path, csv)
    assert any(expected in p for p in problems), problems
    assert len(problems) == 1, problems


def test_ignore_columns_are_not_checked_and_missing_target_is_not_an_error(tmp_path):
    csv = GOOD_CSV.replace("anything goes here", "%%% not a number 1e999")
    assert load_dataset(write(tmp_path, csv)).n_rows == 4


def test_extra_and_missing_columns(tmp_path):
    csv = GOOD_CSV.replace("lot,note", "lot,note,extra")
    csv = "\n".join(line + ",1" if i else line for i, line in enumerate(csv.splitlines())) + "\n"
    problems = problems_of(tmp_path, csv)
    assert "column 'extra': in the data file but not in the spec" in problems
    csv = "\n".join(line.rsplit(",", 1)[0] for line in GOOD_CSV.strip().splitlines()) + "\n"
    assert problems_of(tmp_path, csv) == ["column 'note': in the spec but not in the data file"]


def test_empty_header_cell_is_named_like_pandas(tmp_path):
    csv = GOOD_CSV.replace("lot,note", "lot,note,").replace("\n", ",7\n")
    csv = csv.replace("lot,note,,7\n", "lot,note,\n")
    problems = problems_of(tmp_path, csv)
    assert problems == ["column 'Unnamed: 8': in the data file but not in the spec"]


def test_trailing_separator_on_header_and_rows_is_an_empty_column_dropped(tmp_path):
    # A spreadsheet export with a separator after the last cell of every line, header included:
    # the empty, nameless last column holds nothing and is dropped; no column shifts.
    csv = GOOD_CSV.replace("\n", ",\n")
    ds = load_dataset(write(tmp_path, csv))
    assert ds.frame["TT"].tolist() == [850.0, 30.0, 900.0, 1000.0]
    assert ds.frame["note"].tolist()[0] == "ok"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'role = "property"\nunit = "MPa"',
            'role = "propperty"\nunit = "MPa"',
            "column 'HV': unknown role 'propperty'",
        ),
        ('unit = "um"', 'unit = "furlongz"', "column 'grain_size': bad unit 'furlongz'"),
        ("min = 20\nmax = 1200", "min = 1200\nmax = 20", "column 'TT': min 1200 is above max 20"),
        (
            'kind = "categorical"\n[[column]]\nname = "C"',
            'kind = "ordinal"\n[[column]]\nname = "C"',
            "column 'route': unknown kind 'ordinal'",
        ),
        ("tier = 3", "tier = -1", "column 'HV': tier must be a non-negative integer"),
    ],
)
def test_spec_errors(tmp_path, old, new, expected):
    assert old in SPEC
    problems = problems_of(tmp_path, GOOD_CSV, SPEC.replace(old, new, 1))
    assert any(p.startswith(expected) for p in problems), problems


def test_spec_toml_round_trip(tmp_path):
    path = write(tmp_path, GOOD_CSV)
    spec = DatasetSpec.from_toml(path)
    out = spec.to_toml(tmp_path / "copy" / "again.toml")
    again = DatasetSpec.from_toml(out)
    assert again.columns == spec.columns
    assert again.id == spec.id
    assert again.source.resolve() == spec.source.resolve()
    assert load_dataset(again).frame.equals(load_dataset(spec).frame)


def test_parquet_source(tmp_path):
    spec_path = write(tmp_path, GOOD_CSV)
    frame = pd.read_csv(tmp_path / "data.csv")
    frame.to_parquet(tmp_path / "data.parquet")
    spec_path.write_text(SPEC.replace('source = "data.csv"', 'source = "data.parquet"'))
    ds = load_dataset(spec_path)
    assert ds.n_rows == 4
    assert ds.frame["HV"].isna().sum() == 1
