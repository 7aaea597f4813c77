"""Reading tables (CSV, TSV, Parquet) strictly: a malformed file is an error naming the row.

Every psplab command that reads a table reads it here. What it guarantees:

* **Field counts are checked**: a row with more or fewer fields than the header is an error
  naming the row and the line; a trailing comma on every row is reported as such (pandas would
  silently take the first column as the index and shift every column by one).
* **Header names are unique**: two columns named ``T`` are an error (never renamed ``T.1``); an
  empty header cell is named ``Unnamed: N`` (N counts from 0), as pandas names it. A trailing
  column with no name and no value in any row (a spreadsheet's trailing separator) is dropped.
* **Text is UTF-8** (with or without a byte-order mark; UTF-16 with a byte-order mark is read
  too) unless the spec names another ``encoding``; anything else is an error naming the line.
* **Binary files are named**: a Parquet, Excel, zip, gzip, SQLite, PDF or image file given as a
  text table, or any file with NUL bytes, is refused with what it looks like.
* **Quotes are strict**: an unterminated quoted field is an error naming the line it starts on.
* Cells are kept as text (empty cells as missing) so that validation can name a cell that is
  not a number; Parquet columns keep their types.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from psplab.data.spec import Problem
from psplab.errors import SpecError
from psplab.limits import require_memory

__all__ = ["MAX_TABLE_PROBLEMS", "TABLE_SUFFIXES", "read_table"]

TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".parquet", ".pq")
MAX_TABLE_PROBLEMS = 20  # rows reported one by one before a count of the rest
# Peak memory of a text table held as Python strings, per byte of file (measured: ~6-10x).
_TEXT_BYTES_FACTOR = 12
_MAGIC = (
    (b"PAR1", "a Parquet file (name it .parquet)"),
    (b"PK\x03\x04", "a zip archive, e.g. an Excel .xlsx workbook (export it as CSV)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook (export it as CSV)"),
    (b"\x1f\x8b", "gzip-compressed (decompress it first)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x93NUMPY", "a NumPy .npy array"),
)


def _fail(path: Path, message: str) -> SpecError:
    return SpecError([Problem(f"data file {path.name!r}: {message}")])


def read_table(
    path: str | Path, *, encoding: str | None = None, delimiter: str | None = None
) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table, strictly.

    Parameters
    ----------
    path : str or Path
        The file; the format is chosen by extension (``.csv``/``.txt`` comma-separated,
        ``.tsv`` tab-separated, ``.parquet``/``.pq``).
    encoding : str, optional
        Text encoding of a CSV/TSV file; default UTF-8 (a byte-order mark is honoured).
    delimiter : str, optional
        Field separator of a text file, overriding the one the extension implies.

    Returns
    -------
    pandas.DataFrame
        One column per header cell; text cells as ``str`` (missing cells as ``None``), Parquet
        columns as stored. A file with a header and no rows gives a frame with no rows.

    Raises
    ------
    SpecError
        One problem per malformed row (capped at :data:`MAX_TABLE_PROBLEMS` and a count), or
        one for a missing, binary, undecodable or unsupported file.
    """
    p = Path(path)
    if p.is_dir():
        raise _fail(p, "is a folder, not a table file")
    if not p.is_file():
        raise SpecError([Problem(f"data file {str(p)!r} not found")])
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _read_parquet(p)
    if suffix not in (".csv", ".txt", ".tsv"):
        raise _fail(
            p, f"unsupported extension {suffix!r} (expected one of {', '.join(TABLE_SUFFIXES)})"
        )
    sep = delimiter or ("\t" if suffix == ".tsv" else ",")
    require_memory(
        p.stat().st_size * _TEXT_BYTES_FACTOR, f"reading {p.name}", "split the table into parts"
    )
    text = _decode(p, p.read_bytes(), encoding)
    records = _parse(p, text, sep)
    return _frame(p, records, sep)


def _looks_binary(p: Path, data: bytes) -> None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise _fail(p, f"is {what}, not a text table")
    head = data[:65536]
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if b"\x00" in head and not utf16:
        raise _fail(p, "is a binary file (it holds NUL bytes), not a text table")


def _decode(p: Path, data: bytes, encoding: str | None) -> str:
    """Bytes to text: the given encoding, else UTF-8/UTF-16 by byte-order mark, else UTF-8."""
    _looks_binary(p, data)
    if encoding is None:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            encoding = "utf-8-sig"  # UTF-8, dropping a byte-order mark if there is one
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise _fail(p, f"unknown encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start : exc.start + 1].hex()
        name = "UTF-8" if encoding == "utf-8-sig" else encoding
        hint = (
            'save it as UTF-8, or name its encoding in the spec (e.g. encoding = "latin-1")'
            if name == "UTF-8"
            else "check the spec's encoding"
        )
        raise _fail(p, f"is not {name} text (byte 0x{byte} on line {line}); {hint}") from exc


def _parse(p: Path, text: str, sep: str) -> list[tuple[int, list[str]]]:
    """``(line, fields)`` per non-blank record; a quoting error names the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    records: list[tuple[int, list[str]]] = []
    end = 0  # last line of the previous record: a record starts on the line after it
    try:
        for fields in reader:
            if fields:  # blank lines are skipped, as pandas does
                records.append((end + 1, fields))
            end = reader.line_num
    except csv.Error as exc:
        reason = str(exc)
        if "unexpected end of data" in reason or "EOF" in reason:
            reason = "a quoted field is never closed (unterminated quote)"
        elif "field larger than field limit" in reason:
            reason = f"a field is longer than {csv.field_size_limit()} characters"
        raise _fail(p, f"line {end + 1}: cannot read the row: {reason}") from exc
    return records


def _header(p: Path, fields: list[str]) -> list[str]:
    names = [f if f != "" else f"Unnamed: {i}" for i, f in enumerate(fields)]
    first: dict[str, int] = {}
    problems = []
    for i, name in enumerate(names):
        if name in first:
            problems.append(
                Problem(
                    f"data file {p.name!r}: column name {name!r} appears twice in the header "
                    f"(fields {first[name] + 1} and {i + 1}); names must be unique"
                )
            )
        first.setdefault(name, i)
    if problems:
        raise SpecError(problems)
    return names


def _frame(p: Path, records: list[tuple[int, list[str]]], sep: str) -> pd.DataFrame:
    if not records:
        return pd.DataFrame()
    names = _header(p, records[0][1])
    rows = records[1:]
    width = len(names)
    if names and names[-1] == f"Unnamed: {width - 1}" and width > 1:
        # A trailing separator on the header and every row: an empty last column, dropped.
        if all(len(f) == width and f[-1] == "" for _, f in rows):
            names, width = names[:-1], width - 1
            rows = [(line, f[:-1]) for line, f in rows]
    _check_widths(p, names, rows, sep)
    if not rows:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in names})
    columns = zip(*(fields for _, fields in rows), strict=True)
    return pd.DataFrame(
        {
            name: pd.Series([cell if cell != "" else None for cell in cells], dtype=object)
            for name, cells in zip(names, columns, strict=True)
        }
    )


def _check_widths(
    p: Path, names: Sequence[str], rows: Sequence[tuple[int, list[str]]], sep: str
) -> None:
    width = len(names)
    bad = [(row, line, len(f)) for row, (line, f) in enumerate(rows, start=1) if len(f) != width]
    if not bad:
        if width == 1 and rows and any(s in names[0] for s in ";\t|" if s != sep):
            other = next(s for s in ";\t|" if s in names[0])
            raise _fail(
                p,
                f"the header is one field holding {other!r}: a file separated by {other!r}? "
                f"name the separator in the spec (delimiter = {other!r})",
            )
        return
    if len(bad) == len(rows) and all(
        n == width + 1 and rows[r - 1][1][-1] == "" for r, _, n in bad
    ):
        raise _fail(
            p,
            f"every data row has {width + 1} fields but the header has {width}: a trailing "
            f"{sep!r} at the end of each row? Remove it, or name the extra column in the header",
        )
    problems = [
        Problem(
            f"data file {p.name!r}, row {row} (line {line}): {n} fields where the header has {width}"
        )
        for row, line, n in bad[:MAX_TABLE_PROBLEMS]
    ]
    if len(bad) > MAX_TABLE_PROBLEMS:
        problems.append(
            Problem(
                f"data file {p.name!r}: ... and {len(bad) - MAX_TABLE_PROBLEMS} more rows "
                "with the wrong number of fields"
            )
        )
    raise SpecError(problems)


def _read_parquet(p: Path) -> pd.DataFrame:
    """A Parquet file, after its magic bytes, size and column names are checked."""
    with p.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(size - 4, 0))
        tail = fh.read(4)
    if size < 12 or head != b"PAR1" or tail != b"PAR1":
        raise _fail(p, "is not a Parquet file (damaged, truncated or another format)")
    try:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(p).metadata
        n_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        names = [str(n) for n in pq.read_schema(p).names]
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        raise _fail(p, f"cannot read the Parquet metadata ({_first_line(exc)})") from exc
    require_memory(3 * n_bytes, f"reading {p.name}", "read fewer columns or rows")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise _fail(p, f"column name {name!r} appears twice; names must be unique")
        seen.add(name)
    try:
        frame = pd.read_parquet(p)
    except Exception as exc:  # noqa: BLE001 - damaged pages surface only when read
        raise _fail(p, f"cannot read the Parquet data ({_first_line(exc)})") from exc
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()  # a named index (e.g. a sample id) is a column of the table
    frame.columns = [str(c) for c in frame.columns]
    return frame.reset_index(drop=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
