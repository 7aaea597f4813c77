"""Property-based tests of the table reader, the spec and the units (hypothesis)."""

from __future__ import annotations

import codecs
import csv
import io
import math
import string

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from psplab.data import DatasetSpec, SpecError, read_table
from psplab.data.units import UnitError, convert, parse_unit
from psplab.errors import PsplabError

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Any text a cell can hold in a UTF-8 file: separators, quotes, line breaks, accents, emoji.
cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
name = st.text(
    alphabet=string.ascii_letters + string.digits + " _-.%°µ()[]$", min_size=1, max_size=8
)


@st.composite
def tables(draw, min_rows: int = 1):
    names = draw(st.lists(name, min_size=1, max_size=5, unique=True))
    # A header name equal to "Unnamed: N" would collide with the name of an empty header cell.
    assume(all(not n.startswith("Unnamed") for n in names))
    rows = draw(
        st.lists(
            st.lists(cell, min_size=len(names), max_size=len(names)), min_size=min_rows, max_size=8
        )
    )
    # A row whose only field is empty is a blank line in CSV: it carries nothing to read back.
    assume(all(any(c != "" for c in row) or len(row) > 1 for row in rows))
    return names, rows


def write_csv(names, rows, sep=",") -> str:
    buf = io.StringIO()
    # "\r\n" as terminator makes the writer quote a cell holding either character.
    writer = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    writer.writerow(names)
    writer.writerows(rows)
    return buf.getvalue()


@SETTINGS
@given(tables(), st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]), st.sampled_from([",", "\t"]))
def test_any_table_written_as_csv_reads_back_cell_for_cell(tmp_path, table, encoding, sep):
    names, rows = table
    suffix = ".tsv" if sep == "\t" else ".csv"
    path = tmp_path / f"t{suffix}"
    path.write_bytes(write_csv(names, rows, sep).encode(encoding))
    frame = read_table(path)
    assert list(frame.columns) == names
    assert len(frame) == len(rows)
    for i, row in enumerate(rows):
        expected = [c if c != "" else None for c in row]
        assert frame.iloc[i].tolist() == expected


@SETTINGS
@given(tables(min_rows=2), st.data())
def test_one_row_with_a_field_more_or_fewer_is_named(tmp_path, table, data):
    names, rows = table
    k = data.draw(st.integers(0, len(rows) - 1))
    longer = data.draw(st.booleans()) or len(names) == 1
    rows = [list(r) for r in rows]
    rows[k] = rows[k] + ["x"] if longer else rows[k][:-1]
    # One changed row among several: only the "every row" pattern is reported differently.
    assume(not all(len(r) != len(names) for r in rows))
    path = tmp_path / "t.csv"
    path.write_text(write_csv(names, rows), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        read_table(path)
    text = "\n".join(info.value.lines)
    assert f"row {k + 1} (line" in text
    assert f"where the header has {len(names)}" in text


@SETTINGS
@given(st.binary(max_size=3000), st.sampled_from([".csv", ".tsv", ".parquet", ".txt"]))
def test_arbitrary_bytes_give_a_table_or_one_clean_error(tmp_path, data, suffix):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(data)
    try:
        frame = read_table(path)
    except PsplabError as exc:
        assert exc.lines and all(line.strip() for line in exc.lines)
        return
    assert isinstance(frame, pd.DataFrame)


@SETTINGS
@given(tables())
def test_latin1_bytes_are_refused_unless_declared(tmp_path, table):
    names, rows = table
    text = write_csv(names, rows)
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return
    path = tmp_path / "t.csv"
    path.write_bytes(raw)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(SpecError, match="is not UTF-8 text"):
            read_table(path)
        assert read_table(path, encoding="latin-1").shape == (len(rows), len(names))


# --- spec ------------------------------------------------------------------------------------

toml_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=10),
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
column_keys = st.sampled_from(
    [
        "name",
        "role",
        "unit",
        "kind",
        "min",
        "max",
        "absent",
        "tier",
        "basis",
        "fractions",
        "elements",
        "x",
    ]
)
column_values = {
    "role": st.sampled_from(["processing", "property", "structure", "group", "ignore", "nope", 3]),
    "kind": st.sampled_from(["numeric", "categorical", "formula", "ordinal", None]),
    "unit": st.sampled_from(["degC", "C", "HV", "wt%", "at.%", "mm2", "1e3 K", "", 5, "MPa*m^0.5"]),
}


@st.composite
def raw_specs(draw):
    columns = []
    for _ in range(draw(st.integers(0, 4))):
        keys = draw(st.lists(column_keys, unique=True, max_size=6))
        columns.append({k: draw(column_values.get(k, toml_value)) for k in keys})
    raw = {"name": draw(toml_scalar), "column": columns}
    for key in draw(
        st.lists(
            st.sampled_from(["source", "allow_outside", "encoding", "delimiter", "id", "zz"]),
            unique=True,
        )
    ):
        raw[key] = draw(toml_value)
    return raw


@SETTINGS
@given(raw_specs())
def test_any_spec_mapping_builds_or_lists_its_problems(tmp_path, raw):
    try:
        spec = DatasetSpec.from_dict(raw, base_dir=tmp_path)
    except SpecError as exc:
        assert exc.problems
        return
    again = DatasetSpec.from_dict(spec.to_dict(relative_to=tmp_path), base_dir=tmp_path)
    assert again.columns == spec.columns


# --- units -----------------------------------------------------------------------------------

SI = ["m", "s", "g", "Pa", "J", "K", "mol", "N", "W"]
PREFIXES = ["", "k", "M", "G", "m", "u", "n"]


@SETTINGS
@given(st.text(max_size=12))
def test_any_unit_text_parses_or_is_one_unit_error(text):
    try:
        parse_unit(text)
    except UnitError as exc:
        assert str(exc)


@SETTINGS
@given(
    st.sampled_from(SI),
    st.sampled_from(PREFIXES),
    st.sampled_from(PREFIXES),
    st.floats(1e-6, 1e6),
)
def test_prefixed_units_convert_and_back(unit, a, b, value):
    there = convert(value, a + unit, b + unit)
    assert math.isclose(convert(there, b + unit, a + unit), value, rel_tol=1e-12)


@SETTINGS
@given(
    st.sampled_from(["wt%", "at%", "vol%", "HV", "HRC", "%"]),
    st.sampled_from(["wt%", "at%", "vol%", "HV", "HRC", "%"]),
)
def test_different_quantities_never_convert(a, b):
    if a == b:
        assert convert(2.0, a, b) == 2.0
    else:
        with pytest.raises(UnitError, match="different quantities"):
            convert(1.0, a, b)


def test_byte_order_mark_variants_are_the_same_table(tmp_path):
    text = "a,b\n1,2\n"
    frames = []
    for i, raw in enumerate(
        [text.encode(), codecs.BOM_UTF8 + text.encode(), text.encode("utf-16")]
    ):
        (tmp_path / f"{i}.csv").write_bytes(raw)
        frames.append(read_table(tmp_path / f"{i}.csv"))
    assert all(f.equals(frames[0]) for f in frames)
