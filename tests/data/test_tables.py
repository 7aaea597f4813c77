"""The table reader and the spec's source checks: each malformed input is one clear problem."""

from __future__ import annotations

import codecs
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from psplab.data import SpecError, load_dataset, read_table, validate

SPEC = """
name = "t"
source = "d.csv"
[[column]]
name = "T"
role = "processing"
unit = "degC"
[[column]]
name = "time"
role = "processing"
unit = "h"
[[column]]
name = "HV"
role = "property"
unit = "HV"
"""
GOOD = "T,time,HV\n407.1,9.55,322.1\n410,9.6,325\n390,1,301\n"


def write_case(tmp_path: Path, data: bytes | str, spec: str = SPEC, name: str = "d.csv") -> Path:
    raw = data.encode() if isinstance(data, str) else data
    (tmp_path / name).write_bytes(raw)
    path = tmp_path / "spec.toml"
    path.write_text(textwrap.dedent(spec))
    return path


def problems(tmp_path: Path, data: bytes | str, spec: str = SPEC, name: str = "d.csv") -> list[str]:
    dataset, found = validate(write_case(tmp_path, data, spec, name))
    assert dataset is None
    return [str(p) for p in found]


def test_good_table_reads_every_cell_in_its_column(tmp_path):
    ds = load_dataset(write_case(tmp_path, GOOD))
    assert ds.frame["T"].tolist() == [407.1, 410.0, 390.0]
    assert ds.frame["HV"].tolist() == [322.1, 325.0, 301.0]


def test_trailing_comma_on_every_data_row_is_an_error_not_a_column_shift(tmp_path):
    # pandas takes the first column as the index here and shifts every column by one.
    data = "T,time,HV\n" + "".join(line + ",\n" for line in GOOD.splitlines()[1:])
    found = problems(tmp_path, data)
    assert len(found) == 1
    assert "every data row has 4 fields but the header has 3" in found[0]
    assert "trailing ','" in found[0]


@pytest.mark.parametrize(
    ("row", "fields"), [("410,9.6,325,1", 4), ("410,9.6", 2)], ids=["more", "fewer"]
)
def test_a_row_with_more_or_fewer_fields_is_named_by_row_and_line(tmp_path, row, fields):
    data = GOOD.replace("410,9.6,325", row)
    assert problems(tmp_path, data) == [
        f"data file 'd.csv', row 2 (line 3): {fields} fields where the header has 3"
    ]


def test_many_bad_rows_are_capped_with_a_count(tmp_path):
    data = "T,time,HV\n" + "1,2\n" * 500
    found = problems(tmp_path, data)
    assert len(found) == 21
    assert found[-1].endswith("... and 480 more rows with the wrong number of fields")


def test_duplicate_header_names_are_refused_never_renamed(tmp_path):
    found = problems(tmp_path, "T,time,T\n1,2,3\n")
    assert found == [
        "data file 'd.csv': column name 'T' appears twice in the header (fields 1 and 3); "
        "names must be unique"
    ]


def test_latin1_file_is_a_clear_error_and_reads_with_the_named_encoding(tmp_path):
    data = "T,time,HV,note\n407,9.55,322,20 °C\n".encode("latin-1")
    spec = SPEC + '[[column]]\nname = "note"\nrole = "ignore"\n'
    found = problems(tmp_path, data, spec)
    assert found == [
        "data file 'd.csv': is not UTF-8 text (byte 0xb0 on line 2); save it as UTF-8, or name "
        'its encoding in the spec (e.g. encoding = "latin-1")'
    ]
    ds = load_dataset(write_case(tmp_path, data, 'encoding = "latin-1"\n' + spec))
    assert ds.frame["note"].tolist() == ["20 °C"]


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),  # with its byte-order mark
    ],
    ids=["utf8-bom", "utf16"],
)
def test_byte_order_marks_are_honoured(tmp_path, encode):
    ds = load_dataset(write_case(tmp_path, encode(GOOD)))
    assert ds.frame["T"].tolist() == [407.1, 410.0, 390.0]


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"PAR1\x00\x00garbage", "is a Parquet file"),
        (b"PK\x03\x04\x14\x00", "Excel .xlsx workbook"),
        (b"\x1f\x8b\x08\x00", "gzip-compressed"),
        (b"SQLite format 3\x00\x10\x00", "an SQLite database"),
        (bytes(range(256)) * 4, "binary file (it holds NUL bytes)"),
    ],
)
def test_binary_files_are_named_for_what_they_are(tmp_path, data, what):
    (found,) = problems(tmp_path, data)
    assert what in found


def test_unterminated_quote_names_the_line_it_starts_on(tmp_path):
    data = 'T,time,HV\n407,9.55,322\n410,"9.6,325\n390,1,301\n'
    assert problems(tmp_path, data) == [
        "data file 'd.csv': line 3: cannot read the row: a quoted field is never closed "
        "(unterminated quote)"
    ]


def test_quoted_fields_with_separators_and_newlines_stay_one_cell(tmp_path):
    spec = SPEC + '[[column]]\nname = "note"\nrole = "ignore"\n'
    data = 'T,time,HV,note\n407,9.55,322,"a, b\nc ""q"""\n'
    ds = load_dataset(write_case(tmp_path, data, spec))
    assert ds.frame["note"].tolist() == ['a, b\nc "q"']


def test_semicolon_separated_file_gets_a_hint_and_reads_with_the_delimiter(tmp_path):
    data = GOOD.replace(",", ";")
    (found,) = problems(tmp_path, data)
    assert "delimiter = ';'" in found
    ds = load_dataset(write_case(tmp_path, data, 'delimiter = ";"\n' + SPEC))
    assert ds.frame["HV"].tolist() == [322.1, 325.0, 301.0]


@pytest.mark.parametrize("data", [b"", b"T,time,HV\n"], ids=["empty", "header-only"])
def test_a_file_without_rows_is_one_problem(tmp_path, data):
    assert problems(tmp_path, data) == ["'d.csv' has no data rows (empty file)"]


def test_garbage_and_truncated_parquet_are_clear_errors(tmp_path):
    frame = pd.DataFrame({"T": [1.0, 2.0], "time": [1.0, 2.0], "HV": [3.0, 4.0]})
    frame.to_parquet(tmp_path / "good.parquet")
    whole = (tmp_path / "good.parquet").read_bytes()
    spec = SPEC.replace('"d.csv"', '"d.parquet"')
    for data in (
        b"not parquet at all",
        whole[: len(whole) // 2],
        whole[:4] + b"x" * 40 + whole[-4:],
    ):
        (found,) = problems(tmp_path, data, spec, name="d.parquet")
        assert found.startswith("data file 'd.parquet': ")
        assert "Parquet" in found


def test_duplicate_parquet_columns_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table([pa.array([1.0]), pa.array([2.0]), pa.array([3.0])], names=["T", "T", "HV"])
    pq.write_table(table, tmp_path / "d.parquet")
    with pytest.raises(SpecError, match="column name 'T' appears twice"):
        read_table(tmp_path / "d.parquet")


def test_twenty_thousand_unknown_columns_give_a_capped_list(tmp_path):
    names = [f"x{i}" for i in range(20000)]
    data = ",".join(["T", "time", "HV", *names]) + "\n" + ",".join(["1"] * 20003) + "\n"
    found = problems(tmp_path, data)
    assert len(found) == 21
    assert found[-1] == "... and 19980 more columns only in the data file"


def test_a_name_with_spaces_around_it_gets_a_hint(tmp_path):
    found = problems(tmp_path, GOOD.replace("HV", " HV"))
    assert "column 'HV': the data file has ' HV' (spaces around the name?)" in found


def test_source_outside_the_spec_folder_is_refused_without_reading_it(tmp_path):
    secret = tmp_path / "private" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("T,time,HV\nTOPSECRET,1,2\n")
    project = tmp_path / "project"
    project.mkdir()
    spec = SPEC.replace('"d.csv"', '"../private/secret.csv"')
    found = problems(project, GOOD, spec)
    assert len(found) == 1
    assert "lies outside the spec's folder" in found[0]
    assert "allow_outside = true" in found[0]
    assert "TOPSECRET" not in " ".join(found)
    # Said on purpose, the file is read (and its bad cell named).
    found = problems(project, GOOD, "allow_outside = true\n" + spec)
    assert found == ["column 'T', row 1: 'TOPSECRET' is not a number"]


def test_a_symlink_out_of_the_folder_is_outside_too(tmp_path):
    (tmp_path / "elsewhere.csv").write_text(GOOD)
    project = tmp_path / "project"
    project.mkdir()
    (project / "d.csv").symlink_to(tmp_path / "elsewhere.csv")
    (project / "spec.toml").write_text(SPEC)
    _, found = validate(project / "spec.toml")
    assert "lies outside the spec's folder" in str(found[0])


def test_a_source_in_a_subfolder_is_inside(tmp_path):
    (tmp_path / "data").mkdir()
    ds = load_dataset(
        write_case(tmp_path, GOOD, SPEC.replace('"d.csv"', '"data/d.csv"'), "data/d.csv")
    )
    assert ds.n_rows == 3


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('source = "d.csv"', "source = 5"),
            "source must be the path of a table file (text), got 5",
        ),
        (
            ('unit = "h"', 'unit = "h"\nabsent = "none"'),
            "column 'time': absent must be a finite number",
        ),
        (
            ('name = "t"', 'name = "t"\nallow_outside = "yes"'),
            "allow_outside must be true or false",
        ),
        (
            ('name = "t"', 'name = "t"\nencoding = "klingon-8"'),
            "encoding 'klingon-8' is not a known",
        ),
        (('name = "t"', 'name = "t"\ndelimiter = ";;"'), "delimiter must be one character"),
        (
            ('unit = "degC"', 'unit = "C"'),
            "column 'T': bad unit 'C': 'C' is the coulomb; write degC",
        ),
        (('unit = "degC"', "min = true"), "column 'T': min must be a finite number, got True"),
        (('unit = "h"', 'unit = "h"\nbasis = "mass"'), "column 'time': basis only applies to"),
    ],
)
def test_spec_value_errors_are_one_line_each(tmp_path, change, expected):
    old, new = change
    assert old in SPEC
    found = problems(tmp_path, GOOD, SPEC.replace(old, new, 1))
    assert any(p.startswith(expected) for p in found), found


def test_the_docs_hardness_example_loads(tmp_path):
    ds = load_dataset(write_case(tmp_path, GOOD))
    assert ds.spec.column("HV").unit == "HV"


def test_decimal_commas_get_a_hint(tmp_path):
    data = "T;time;HV\n407,1;9,55;322,1\n"
    found = problems(tmp_path, data, 'delimiter = ";"\n' + SPEC)
    assert "column 'T', row 1: '407,1' is not a number (a decimal comma? write 0.5)" in found


def test_bounds_on_a_categorical_column_are_refused(tmp_path):
    spec = SPEC + '[[column]]\nname = "route"\nrole = "processing"\nkind = "categorical"\nmin = 1\n'
    found = problems(tmp_path, GOOD, spec)
    assert "column 'route': min does not apply to a categorical column" in found


def test_a_group_column_holds_labels_whatever_they_look_like(tmp_path):
    # A group column is named the way labs name steels and heats; no `kind` needed.
    (tmp_path / "d.csv").write_text("T,steel,HV\n500,S-12,200\n520,S-12,210\n480,7,190\n")
    spec = (
        'name = "g"\nsource = "d.csv"\n'
        '[[column]]\nname = "T"\nrole = "processing"\nunit = "degC"\n'
        '[[column]]\nname = "steel"\nrole = "group"\n'
        '[[column]]\nname = "HV"\nrole = "property"\nunit = "HV"\n'
    )
    (tmp_path / "g.toml").write_text(spec)
    ds = load_dataset(tmp_path / "g.toml")
    assert ds.frame["steel"].tolist() == ["S-12", "S-12", "7"]
    steel = next(c for c in ds.summary()["columns"] if c["name"] == "steel")
    assert steel["levels"] == ["7", "S-12"]
