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
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from psplab.data.units import parse_unit
from psplab.errors import SpecError

ROLES = ("processing", "structure", "property", "group", "ignore")
KINDS = ("numeric", "categorical")
DEFAULT_TIERS = {"processing": 0, "structure": 1, "property": 2}
_COLUMN_KEYS = {"name", "role", "unit", "kind", "min", "max", "absent", "tier", "description"}
_TOP_KEYS = {"name", "source", "id", "description", "column"}


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

    @property
    def effective_tier(self) -> int | None:
        """The causal tier: explicit ``tier`` or the role's default (None for group/ignore)."""
        if self.tier is not None:
            return self.tier
        return DEFAULT_TIERS.get(self.role)

    @property
    def is_numeric(self) -> bool:
        return self.kind == "numeric"

    def label(self) -> str:
        """``name [unit]`` for axis labels."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset description; build with :meth:`from_toml` or :meth:`from_dict`."""

    name: str
    source: Path | None
    columns: tuple[ColumnSpec, ...]
    id: str | None = None
    description: str = ""
    base_dir: Path = field(default_factory=Path.cwd)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> DatasetSpec:
        """Read a spec file; raises :class:`SpecError` listing every problem found."""
        p = Path(path)
        if not p.is_file():
            raise SpecError([Problem(f"spec file {str(p)!r} not found")])
        try:
            raw = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise SpecError([Problem(f"spec file {str(p)!r} is not valid TOML: {exc}")]) from exc
        return cls.from_dict(raw, base_dir=p.resolve().parent)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], base_dir: str | Path | None = None) -> DatasetSpec:
        """Build from the parsed TOML mapping; checks roles, kinds, units, bounds and tiers."""
        problems: list[Problem] = []
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        for key in raw:
            if key not in _TOP_KEYS:
                problems.append(Problem(f"unknown spec key {key!r}"))
        name = str(raw.get("name", "dataset"))
        source = raw.get("source")
        source_path = None
        if source is not None:
            source_path = Path(source)
            if not source_path.is_absolute():
                source_path = base / source_path
        raw_columns = raw.get("column", [])
        if not isinstance(raw_columns, list) or not raw_columns:
            problems.append(Problem("spec has no [[column]] entries"))
            raw_columns = []
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
        id_col = raw.get("id")
        if id_col is not None and id_col not in seen:
            # The id column need not be listed as a column; it is implicitly ignored.
            columns.append(ColumnSpec(name=str(id_col), role="ignore", kind="categorical"))
        if problems:
            raise SpecError(problems)
        return cls(
            name=name,
            source=source_path,
            columns=tuple(columns),
            id=None if id_col is None else str(id_col),
            description=str(raw.get("description", "")),
            base_dir=base,
        )

    # --- access -------------------------------------------------------------------------
    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"column {name!r} is not in spec {self.name!r}")

    def by_role(self, *roles: str) -> list[ColumnSpec]:
        return [c for c in self.columns if c.role in roles]

    @property
    def processing(self) -> list[ColumnSpec]:
        """Input columns (processing parameters)."""
        return self.by_role("processing")

    @property
    def structure(self) -> list[ColumnSpec]:
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
        return self.processing

    @property
    def groups(self) -> list[ColumnSpec]:
        return self.by_role("group")

    def tiers(self) -> dict[str, int]:
        """Causal tier of every processing/structure/property column."""
        return {c.name: t for c in self.columns if (t := c.effective_tier) is not None}

    def with_source(self, source: str | Path) -> DatasetSpec:
        return replace(self, source=Path(source))

    # --- writing ------------------------------------------------------------------------
    def to_dict(self, relative_to: str | Path | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.source is not None:
            src = self.source
            if relative_to is not None:
                try:
                    src = Path(src).resolve().relative_to(Path(relative_to).resolve())
                except ValueError:
                    pass
            out["source"] = str(src)
        if self.id is not None:
            out["id"] = self.id
        if self.description:
            out["description"] = self.description
        cols = []
        for c in self.columns:
            if self.id is not None and c.name == self.id and c.role == "ignore":
                continue
            d: dict[str, Any] = {"name": c.name, "role": c.role}
            for key in ("unit", "min", "max", "absent", "tier"):
                value = getattr(c, key)
                if value is not None:
                    d[key] = value
            if c.kind != "numeric":
                d["kind"] = c.kind
            if c.description:
                d["description"] = c.description
            cols.append(d)
        out["column"] = cols
        return out

    def to_toml(self, path: str | Path) -> Path:
        """Write the spec as TOML; ``source`` is written relative to the spec's folder."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(dumps_toml(self.to_dict(relative_to=p.resolve().parent)))
        return p


def _parse_column(entry: Any) -> tuple[ColumnSpec | None, list[Problem]]:
    problems: list[Problem] = []
    if not isinstance(entry, Mapping):
        return None, [Problem("each [[column]] must be a table")]
    name = entry.get("name")
    if name is None or str(name) == "":
        return None, [Problem("a [[column]] entry has no name")]
    name = str(name)
    for key in entry:
        if key not in _COLUMN_KEYS:
            problems.append(Problem(f"unknown column key {key!r}", column=name))
    role = entry.get("role")
    if role not in ROLES:
        problems.append(
            Problem(f"unknown role {role!r} (expected one of {', '.join(ROLES)})", column=name)
        )
    kind = entry.get("kind", "numeric")
    if kind not in KINDS:
        problems.append(
            Problem(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})", column=name)
        )
    unit = entry.get("unit")
    if unit is not None:
        try:
            parse_unit(str(unit))
        except ValueError:
            problems.append(Problem(f"bad unit {unit!r}: pint cannot parse it", column=name))
    bounds = {}
    for key in ("min", "max"):
        value = entry.get(key)
        if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
            problems.append(Problem(f"{key} must be a finite number, got {value!r}", column=name))
            value = None
        bounds[key] = value
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        problems.append(Problem(f"min {bounds['min']} is above max {bounds['max']}", column=name))
    tier = entry.get("tier")
    if tier is not None and (not isinstance(tier, int) or isinstance(tier, bool) or tier < 0):
        problems.append(Problem(f"tier must be a non-negative integer, got {tier!r}", column=name))
        tier = None
    if problems:
        return None, problems
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
        ),
        [],
    )


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
    """A small TOML writer for specs and configs: scalars, arrays, tables, arrays of tables."""
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
