"""Dataset spec: a TOML file naming each column's role, unit, kind, bounds and causal tier.

Example
-------
.. code-block:: toml

    name = "nims-fatigue"
    source = "data.csv"        # CSV or Parquet, relative to the spec file
    id = "Sl. No."             # optional
    [[column]]
    name = "TT"
    role = "processing"        # processing | structure | property | group | ignore
    unit = "degC"
    min = 20
    max = 1200
    absent = 30                # value meaning "this step was not applied"
    tier = 0                   # causal tier; default processing 0, structure 1, property 2

The full list of keys and every check is in ``docs/spec.md``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from psplab.data.formula import BASES, ELEMENTS
from psplab.data.units import parse_unit
from psplab.errors import SpecError

__all__ = ["KINDS", "ROLES", "ColumnSpec", "DatasetSpec", "Problem", "SpecError", "dumps_toml"]

ROLES = ("processing", "structure", "property", "group", "ignore")
KINDS = ("numeric", "categorical", "formula")
DEFAULT_TIERS = {"processing": 0, "structure": 1, "property": 2}
_FORMULA_KEYS = {"basis", "fractions", "elements"}
_COLUMN_KEYS = {
    "name", "role", "unit", "kind", "min", "max", "absent", "tier", "description", *_FORMULA_KEYS
}  # fmt: skip
_TOP_KEYS = {
    "name", "source", "id", "description", "column", "allow_outside", "encoding", "delimiter"
}  # fmt: skip
# Units of the element-fraction columns a formula column expands into, by basis.
FRACTION_UNIT = {"atomic": "atom_fraction", "mass": "mass_fraction"}


@dataclass(frozen=True)
class Problem:
    """One problem with a spec or its data; ``row`` counts data rows from 1 (under the header)."""

    message: str
    column: str | None = None
    row: int | None = None

    def __str__(self) -> str:
        where = []
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


@dataclass(frozen=True)
class ColumnSpec:
    """How one column of the table is to be read."""

    name: str
    role: str
    unit: str | None = None
    kind: str = "numeric"
    min: float | None = None
    max: float | None = None
    absent: float | str | None = None
    tier: int | None = None
    description: str = ""
    basis: str | None = None
    fractions: str = "atomic"
    elements: tuple[str, ...] | None = None

    @property
    def effective_tier(self) -> int | None:
        """The causal tier: explicit ``tier`` or the role's default (None for group/ignore)."""
        if self.tier is not None:
            return self.tier
        return DEFAULT_TIERS.get(self.role)

    @property
    def is_numeric(self) -> bool:
        """Whether cells are numbers (a formula column is text that expands into numbers).

        A group column holds labels (a heat, a lab, a steel's name) whatever its cells look
        like: groups are compared, never computed with.
        """
        return self.kind == "numeric" and self.role != "group"

    @property
    def is_formula(self) -> bool:
        """Whether this is a composition column expanded into element fractions."""
        return self.kind == "formula"

    def label(self) -> str:
        """``name [unit]`` for axis labels.

        Returns
        -------
        str
        """
        return f"{self.name} [{self.unit}]" if self.unit else self.name

    def to_dict(self) -> dict[str, Any]:
        """The column as its ``[[column]]`` TOML table.

        Returns
        -------
        dict
            Keys with default values left out.
        """
        d: dict[str, Any] = {"name": self.name, "role": self.role}
        for key in ("unit", "min", "max", "absent", "tier"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        if self.kind != "numeric":
            d["kind"] = self.kind
        if self.is_formula:
            d["fractions"] = self.fractions
            if self.basis is not None:
                d["basis"] = self.basis
            if self.elements is not None:
                d["elements"] = list(self.elements)
        if self.description:
            d["description"] = self.description
        return d

    def element_column(self, element: str) -> str:
        """Name of the fraction column of ``element`` expanded from this formula column.

        Parameters
        ----------
        element : str
            An element symbol.

        Returns
        -------
        str
            ``<column name>_<element>``.
        """
        return f"{self.name}_{element}"

    def expanded(self) -> list[ColumnSpec]:
        """The numeric columns this column stands for: itself, or one per element of a formula.

        Returns
        -------
        list of ColumnSpec
            For a formula column with known ``elements``: one numeric column per element
            (``<name>_<El>``, unit ``atom_fraction`` or ``mass_fraction``, bounds 0 and 1, the
            formula's role and tier); for a formula column whose elements are not known yet
            (before its data is read): empty; for any other column: ``[self]``.
        """
        if not self.is_formula:
            return [self]
        return [
            ColumnSpec(
                name=self.element_column(el),
                role=self.role,
                unit=FRACTION_UNIT[self.fractions],
                min=0.0,
                max=1.0,
                tier=self.tier,
                description=f"{self.fractions} fraction of {el} in {self.name}",
            )
            for el in self.elements or ()
        ]


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset description; build with :meth:`from_toml` or :meth:`from_dict`."""

    name: str
    source: Path | None
    columns: tuple[ColumnSpec, ...]
    id: str | None = None
    description: str = ""
    base_dir: Path = field(default_factory=Path.cwd)
    allow_outside: bool = False
    source_root: Path | None = None  # folder the source must lie in (None: not confined)
    encoding: str | None = None
    delimiter: str | None = None

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> DatasetSpec:
        """Read a spec file.

        Parameters
        ----------
        path : str or Path
            The TOML file; a relative ``source`` in it is relative to its folder.

        Returns
        -------
        DatasetSpec

        Raises
        ------
        SpecError
            Listing every problem found (a missing, undecodable or invalid file is one problem).
        """
        p = Path(path)
        if p.is_dir():
            raise SpecError([Problem(f"spec file {str(p)!r} is a folder, not a TOML file")])
        if not p.is_file():
            raise SpecError([Problem(f"spec file {str(p)!r} not found")])
        try:
            raw = tomllib.loads(p.read_bytes().decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise SpecError([Problem(f"spec file {str(p)!r} is not UTF-8 text")]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise SpecError([Problem(f"spec file {str(p)!r} is not valid TOML: {exc}")]) from exc
        return cls.from_dict(raw, base_dir=p.resolve().parent)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], base_dir: str | Path | None = None) -> DatasetSpec:
        """Build from the parsed TOML mapping; checks roles, kinds, units, bounds and tiers.

        Parameters
        ----------
        raw : mapping
            The spec as parsed from TOML.
        base_dir : str or Path, optional
            Folder a relative ``source`` is relative to. When given (as :meth:`from_toml`
            does), the source must lie inside it unless the spec says ``allow_outside = true``;
            a spec built without it (in Python) is not confined.

        Returns
        -------
        DatasetSpec

        Raises
        ------
        SpecError
            Listing every problem found.
        """
        problems: list[Problem] = []
        if not isinstance(raw, Mapping):
            raise SpecError([Problem("a spec must be a table of keys")])
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        for key in raw:
            if key not in _TOP_KEYS:
                problems.append(Problem(f"unknown spec key {key!r}"))
        allow_outside = raw.get("allow_outside", False)
        if not isinstance(allow_outside, bool):
            problems.append(Problem(f"allow_outside must be true or false, got {allow_outside!r}"))
            allow_outside = False
        source_path = _source_path(raw.get("source"), base, problems)
        reading = _reading_options(raw, problems)
        columns = _parse_columns(raw.get("column", []), problems)
        seen = {c.name for c in columns}
        id_col = raw.get("id")
        if id_col is not None and not isinstance(id_col, str):
            problems.append(Problem(f"id must be a column name (text), got {id_col!r}"))
            id_col = None
        if id_col is not None and id_col not in seen:
            # The id column need not be listed as a column; it is implicitly ignored.
            columns.append(ColumnSpec(name=str(id_col), role="ignore", kind="categorical"))
        if problems:
            raise SpecError(problems)
        confined = base_dir is not None and not allow_outside
        return cls(
            name=str(raw.get("name", "dataset")),
            source=source_path,
            columns=tuple(columns),
            id=None if id_col is None else str(id_col),
            description=str(raw.get("description", "")),
            base_dir=base,
            allow_outside=allow_outside,
            source_root=base.resolve() if confined else None,
            **reading,
        )

    # --- access -------------------------------------------------------------------------
    def column(self, name: str) -> ColumnSpec:
        """The column named ``name``.

        Parameters
        ----------
        name : str
            A column name.

        Returns
        -------
        ColumnSpec

        Raises
        ------
        KeyError
            When the spec has no such column.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"column {name!r} is not in spec {self.name!r}")

    def by_role(self, *roles: str) -> list[ColumnSpec]:
        """The columns of the given roles, in spec order.

        Parameters
        ----------
        *roles : str
            Roles (``processing``, ``structure``, ``property``, ``group``, ``ignore``).

        Returns
        -------
        list of ColumnSpec
        """
        return [c for c in self.columns if c.role in roles]

    @property
    def processing(self) -> list[ColumnSpec]:
        """Input columns (processing parameters)."""
        return self.by_role("processing")

    @property
    def structure(self) -> list[ColumnSpec]:
        """Structure columns (grain size, phase fractions, ...)."""
        return self.by_role("structure")

    @property
    def properties(self) -> list[ColumnSpec]:
        """Property columns (strength, hardness, ...)."""
        return self.by_role("property")

    @property
    def targets(self) -> list[ColumnSpec]:
        """Structure and property columns: what models predict."""
        return self.by_role("structure", "property")

    @property
    def inputs(self) -> list[ColumnSpec]:
        """The processing columns as declared (formula columns not expanded)."""
        return self.processing

    @property
    def input_columns(self) -> list[ColumnSpec]:
        """The numeric and categorical model inputs: processing columns, formulas expanded."""
        return [e for c in self.processing for e in c.expanded()]

    def source_problems(self) -> list[Problem]:
        """Why the source cannot be read as it stands (none, or outside the spec's folder).

        Returns
        -------
        list of Problem
            Empty when the source may be read. The message names the path the spec wrote,
            never anything inside the file.
        """
        if self.source is None:
            return [Problem("spec has no 'source' and no table was given")]
        if self.source_root is None:
            return []
        resolved = Path(self.source).resolve()
        if not resolved.is_relative_to(self.source_root):
            return [
                Problem(
                    f"source {str(self.source)!r} lies outside the spec's folder "
                    f"{str(self.source_root)!r}; move the table there, or write "
                    "allow_outside = true in the spec if reading it from elsewhere is intended"
                )
            ]
        return []

    def with_elements(self, elements: Mapping[str, Sequence[str]]) -> DatasetSpec:
        """A copy with the element lists of formula columns fixed.

        Parameters
        ----------
        elements : mapping
            ``{formula column: element symbols}``.

        Returns
        -------
        DatasetSpec
        """
        columns = tuple(
            replace(c, elements=tuple(elements[c.name])) if c.name in elements else c
            for c in self.columns
        )
        return replace(self, columns=columns)

    @property
    def groups(self) -> list[ColumnSpec]:
        """Group columns (for grouped cross-validation)."""
        return self.by_role("group")

    def tiers(self) -> dict[str, int]:
        """Causal tier of every processing/structure/property column.

        Returns
        -------
        dict
            ``{column: tier}``.
        """
        return {c.name: t for c in self.columns if (t := c.effective_tier) is not None}

    def with_source(self, source: str | Path) -> DatasetSpec:
        """A copy reading ``source`` (not confined: the caller chose the path).

        Parameters
        ----------
        source : str or Path
            The table file.

        Returns
        -------
        DatasetSpec
        """
        return replace(self, source=Path(source))

    # --- writing ------------------------------------------------------------------------
    def to_dict(self, relative_to: str | Path | None = None) -> dict[str, Any]:
        """The spec as a TOML-ready mapping.

        Parameters
        ----------
        relative_to : str or Path, optional
            Folder the spec will be written to: ``source`` is made relative to it when it lies
            inside, and ``allow_outside = true`` is written when it does not.

        Returns
        -------
        dict
        """
        out: dict[str, Any] = {"name": self.name}
        if self.source is not None:
            src = self.source
            if relative_to is not None:
                try:
                    src = Path(src).resolve().relative_to(Path(relative_to).resolve())
                except ValueError:
                    pass
            out["source"] = str(src)
            outside = relative_to is not None and Path(src).is_absolute()
            if self.allow_outside or outside:
                out["allow_outside"] = True
        for key in ("encoding", "delimiter"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.id is not None:
            out["id"] = self.id
        if self.description:
            out["description"] = self.description
        cols = []
        for c in self.columns:
            if self.id is not None and c.name == self.id and c.role == "ignore":
                continue
            cols.append(c.to_dict())
        out["column"] = cols
        return out

    def to_toml(self, path: str | Path) -> Path:
        """Write the spec as TOML; ``source`` is written relative to the spec's folder.

        Parameters
        ----------
        path : str or Path
            The file to write (its folder is created).

        Returns
        -------
        Path
            ``path``.
        """
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(dumps_toml(self.to_dict(relative_to=p.resolve().parent)))
        return p


def _source_path(source: Any, base: Path, problems: list[Problem]) -> Path | None:
    if source is None:
        return None
    if not isinstance(source, str) or not source.strip():
        problems.append(Problem(f"source must be the path of a table file (text), got {source!r}"))
        return None
    path = Path(source)
    return path if path.is_absolute() else base / path


def _reading_options(raw: Mapping[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """``encoding`` and ``delimiter`` of a text source, checked."""
    import codecs

    encoding, delimiter = raw.get("encoding"), raw.get("delimiter")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
            if not isinstance(encoding, str):
                raise LookupError
        except LookupError:
            problems.append(Problem(f"encoding {encoding!r} is not a known text encoding"))
            encoding = None
    if delimiter is not None and (
        not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n'
    ):
        problems.append(Problem(f"delimiter must be one character, got {delimiter!r}"))
        delimiter = None
    return {"encoding": encoding, "delimiter": delimiter}


def _parse_columns(raw_columns: Any, problems: list[Problem]) -> list[ColumnSpec]:
    if not isinstance(raw_columns, list) or not raw_columns:
        problems.append(Problem("spec has no [[column]] entries"))
        return []
    columns: list[ColumnSpec] = []
    seen: set[str] = set()
    for entry in raw_columns:
        col, col_problems = _parse_column(entry)
        problems.extend(col_problems)
        if col is None:
            continue
        if col.name in seen:
            problems.append(Problem("listed twice in the spec", column=col.name))
        seen.add(col.name)
        columns.append(col)
    for col in columns:
        if col.is_formula and col.elements:
            clash = [n for n in (col.element_column(el) for el in col.elements) if n in seen]
            for name in clash:
                problems.append(
                    Problem(f"its element column {name!r} is also a column of the spec", col.name)
                )
    return columns


def _check_absent(name: str, kind: str, absent: Any) -> list[Problem]:
    if absent is None:
        return []
    if kind == "numeric":
        number = isinstance(absent, int | float) and not isinstance(absent, bool)
        if not (number and math.isfinite(absent)):
            return [
                Problem(
                    f"absent must be a finite number for a numeric column, got {absent!r} "
                    "(leave the cell empty for a missing value)",
                    column=name,
                )
            ]
    elif kind == "categorical" and not isinstance(absent, str | int):
        return [Problem(f"absent must be a level (text), got {absent!r}", column=name)]
    elif kind == "formula":
        return [Problem("absent does not apply to a formula column", column=name)]
    return []


def _check_formula_keys(name: str, entry: Mapping[str, Any], kind: str) -> list[Problem]:
    present = [k for k in _FORMULA_KEYS if k in entry]
    if kind != "formula":
        return [
            Problem(f'{k} only applies to a column of kind = "formula"', column=name)
            for k in sorted(present)
        ]
    problems = []
    for key in ("basis", "fractions"):
        value = entry.get(key)
        if value is not None and value not in BASES:
            problems.append(
                Problem(f"{key} must be one of {', '.join(BASES)}, got {value!r}", column=name)
            )
    elements = entry.get("elements")
    if elements is not None:
        if not isinstance(elements, list) or not elements:
            problems.append(Problem("elements must be a list of element symbols", column=name))
        else:
            bad = [e for e in elements if e not in ELEMENTS]
            if bad:
                problems.append(Problem(f"not element symbols: {bad!r}", column=name))
    for key in ("unit", "min", "max"):
        if key in entry:
            problems.append(
                Problem(
                    f"{key} does not apply to a formula column (its fractions are 0 to 1)", name
                )
            )
    if entry.get("role") not in ("processing", "ignore", None):
        problems.append(
            Problem("a formula column must have role processing (or ignore)", column=name)
        )
    return problems


def _parse_column(entry: Any) -> tuple[ColumnSpec | None, list[Problem]]:
    problems: list[Problem] = []
    if not isinstance(entry, Mapping):
        return None, [Problem("each [[column]] must be a table")]
    name = entry.get("name")
    if name is None or str(name) == "":
        return None, [Problem("a [[column]] entry has no name")]
    if not isinstance(name, str | int | float) or isinstance(name, bool):
        return None, [Problem(f"a column name must be text, got {name!r}")]
    name = str(name)
    for key in entry:
        if key not in _COLUMN_KEYS:
            problems.append(Problem(f"unknown column key {key!r}", column=name))
    role = entry.get("role")
    if not isinstance(role, str) or role not in ROLES:
        problems.append(
            Problem(f"unknown role {role!r} (expected one of {', '.join(ROLES)})", column=name)
        )
    kind = entry.get("kind", "numeric")
    if not isinstance(kind, str) or kind not in KINDS:
        problems.append(
            Problem(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})", column=name)
        )
    unit = entry.get("unit")
    if unit is not None:
        try:
            parse_unit(unit)
        except ValueError as exc:
            problems.append(Problem(f"bad unit {unit!r}: {_unit_reason(exc, unit)}", column=name))
    bounds = {}
    for key in ("min", "max"):
        value = entry.get(key)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (number and math.isfinite(value)):
            problems.append(Problem(f"{key} must be a finite number, got {value!r}", column=name))
            value = None
        bounds[key] = value
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        problems.append(Problem(f"min {bounds['min']} is above max {bounds['max']}", column=name))
    tier = entry.get("tier")
    if tier is not None and (not isinstance(tier, int) or isinstance(tier, bool) or tier < 0):
        problems.append(Problem(f"tier must be a non-negative integer, got {tier!r}", column=name))
    if kind == "categorical":
        problems += [
            Problem(f"{key} does not apply to a categorical column", column=name)
            for key in ("min", "max")
            if key in entry
        ]
    problems.extend(_check_absent(name, str(kind), entry.get("absent")))
    problems.extend(_check_formula_keys(name, entry, str(kind)))
    if problems:
        return None, problems
    elements = entry.get("elements")
    return (
        ColumnSpec(
            name=name,
            role=str(role),
            unit=None if unit is None else str(unit),
            kind=str(kind),
            min=bounds["min"],
            max=bounds["max"],
            absent=entry.get("absent"),
            tier=tier,
            description=str(entry.get("description", "")),
            basis=entry.get("basis"),
            fractions=entry.get("fractions", "atomic"),
            elements=None if elements is None else tuple(elements),
        ),
        [],
    )


def _unit_reason(exc: Exception, unit: Any) -> str:
    """The part of a unit error after the repeated unit text."""
    text = str(exc)
    for prefix in (f"unit {unit!r}: ", f"unknown unit {unit!r} "):
        if text.startswith(prefix):
            return text[len(prefix) :].strip("() ") or "not a unit psplab accepts"
    return text


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dumps_toml(data: Mapping[str, Any]) -> str:
    """A small TOML writer for specs and configs: scalars, arrays, tables, arrays of tables.

    Parameters
    ----------
    data : mapping
        The document.

    Returns
    -------
    str
        TOML text.
    """
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, list[Mapping[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_toml_value(value)}")
    for key, table in tables:
        lines.append("")
        lines.append(f"[{_key(key)}]")
        for k, v in table.items():
            lines.append(f"{_key(k)} = {_toml_value(v)}")
    for key, items in arrays:
        for item in items:
            lines.append("")
            lines.append(f"[[{_key(key)}]]")
            for k, v in item.items():
                lines.append(f"{_key(k)} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    if key.replace("_", "").replace("-", "").isalnum():
        return key
    return _toml_value(key)
