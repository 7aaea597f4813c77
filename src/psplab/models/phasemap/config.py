"""Phase-map configuration files (TOML): the data sources and the model's settings.

A config names CSV tables of structure and property measurements and says which columns hold
the coordinates, labels and values (``docs/sage.md`` has the reference). :func:`load_config`
reads and checks all of it and returns a :class:`PhaseMapConfig`; every problem found is one
line of a :class:`psplab.errors.ConfigError`, naming the file, the block and the field (or the
column and rows of a table).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psplab.errors import ConfigError, InputError, ResourceError
from psplab.models.phasemap.sources import CLUSTER_METHODS, PropertySource, StructureSource

__all__ = [
    "INFERENCE_KEYS",
    "PhaseMapConfig",
    "load_config",
    "table_points",
]

# [inference] keys and their types.
INFERENCE_KEYS = {
    "num_warmup": int,
    "num_samples": int,
    "num_chains": int,
    "seed": int,
    "svi_steps": int,
    "max_inducing": int,
    "max_tree_depth": int,
    "target_accept_prob": float,
}
_TOP_KEYS = {
    "regions", "kernel", "phase_model", "icm", "shared_trend", "region_noise", "units",
    "allow_outside", "inference", "structure", "property",
}  # fmt: skip
_STRUCTURE_KEYS = {"source", "coords", "label", "patterns", "cluster", "name"}
_PROPERTY_KEYS = {"source", "coords", "value", "property", "unit", "name"}
_MAX_ROWS_NAMED = 5


@dataclass
class PhaseMapConfig:
    """A checked phase-map config.

    Attributes
    ----------
    path : Path
        The config file.
    params : dict
        :class:`~psplab.models.phasemap.estimator.PhaseMapModel` parameters.
    structure : list of StructureSource
        Structure sources, in the order of the ``[[structure]]`` blocks.
    properties : list of PropertySource
        Property sources, in the order of the ``[[property]]`` blocks.
    coords : list of str
        The coordinate columns (the same in every block).
    units : str
        Unit of the coordinates (``units`` key; empty when not given).
    property_units : dict
        Unit of each property (``unit`` of its ``[[property]]`` blocks), by property name.
    """

    path: Path
    params: dict[str, Any]
    structure: list[StructureSource] = field(default_factory=list)
    properties: list[PropertySource] = field(default_factory=list)
    coords: list[str] = field(default_factory=list)
    units: str = ""
    property_units: dict[str, str] = field(default_factory=dict)

    def model(self):
        """A new, unfitted model with the config's parameters.

        Returns
        -------
        model : PhaseMapModel
        """
        from psplab.models.phasemap.estimator import PhaseMapModel

        return PhaseMapModel(**self.params)


def _rows(rows: np.ndarray) -> str:
    """Data-row numbers (1 = the first row under the header) for a message, capped."""
    shown = ", ".join(str(int(r) + 1) for r in rows[:_MAX_ROWS_NAMED])
    more = f" and {len(rows) - _MAX_ROWS_NAMED} more" if len(rows) > _MAX_ROWS_NAMED else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def table_points(table: Any, columns: list[str], where: str) -> np.ndarray:
    """Numeric columns of a table as ``(n, len(columns))`` floats.

    Parameters
    ----------
    table : pandas.DataFrame
        The table.
    columns : list of str
        Columns to read.
    where : str
        Prefix of error messages (file and block).

    Returns
    -------
    values : numpy.ndarray

    Raises
    ------
    InputError
        Missing columns, or empty / non-numeric / non-finite cells (column and rows named).
    """
    import pandas as pd

    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{where}: columns {missing} not in the table")
    problems, out = [], []
    for c in columns:
        values = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            problems.append(f"{where}: column {c!r}, {_rows(bad)}: not a finite number")
        out.append(values)
    if problems:
        raise InputError(problems)
    return np.stack(out, axis=1) if out else np.zeros((len(table), 0))


def _labels(column: Any) -> np.ndarray:
    """Label cells as numbers when every one is a number (``1`` and ``1.0`` are one label)."""
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(numbers)):
        return column.astype(str).str.strip().to_numpy()
    integral = np.all(numbers == np.round(numbers))
    return numbers.astype(int) if integral else numbers


class _Reader:
    """Reads the blocks of one config, collecting problems instead of stopping at the first."""

    def __init__(self, path: Path, allow_outside: bool) -> None:
        self.path = path
        self.base = path.parent.resolve()
        self.allow_outside = allow_outside
        self.problems: list[str] = []
        self.coords: list[str] | None = None

    def note(self, message: str) -> None:
        self.problems.append(f"{self.path}: {message}")

    def table(self, block: dict, where: str, key: str = "source"):
        if not isinstance(block.get(key), str):
            self.note(f"{where}: '{key}' must name a CSV file")
            return None
        src = (self.base / block[key]).resolve()
        if not self.allow_outside and not src.is_relative_to(self.base):
            self.note(
                f"{where}: {block[key]} is outside the config's folder (set allow_outside = true)"
            )
            return None
        if not src.is_file():
            self.note(f"{where}: file {block[key]} not found")
            return None
        from psplab.data.tables import read_table  # strict: field counts, UTF-8, unique names

        try:
            return read_table(src)
        except InputError as exc:
            self.problems.extend(f"{self.path}: {where}: {line}" for line in exc.lines)
            return None

    def points(self, block: dict, table: Any, where: str) -> np.ndarray | None:
        c = block.get("coords")
        if not isinstance(c, list) or not c or not all(isinstance(x, str) for x in c):
            self.note(f"{where}: 'coords' must be a non-empty list of column names")
            return None
        if self.coords is None:
            self.coords = list(c)
        elif list(c) != self.coords:
            self.note(f"{where}: coords {c} differ from the first block's {self.coords}")
            return None
        return self.columns(table, list(c), f"{where} ({block['source']})")

    def columns(self, table: Any, columns: list[str], where: str) -> np.ndarray | None:
        try:
            return table_points(table, columns, where)
        except InputError as exc:
            self.problems.extend(f"{self.path}: {line}" for line in exc.lines)
            return None

    def unknown_keys(self, block: Any, known: set[str], where: str) -> bool:
        if not isinstance(block, dict):
            self.note(f"{where} must be a table of keys")
            return True
        for key in sorted(set(block) - known):
            self.note(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        return False


def _structure_source(r: _Reader, block: dict, where: str, name: str) -> StructureSource | None:
    table = r.table(block, where)
    X = None if table is None else r.points(block, table, where)
    if table is None:
        return None
    if ("label" in block) == ("patterns" in block):
        r.note(f"{where}: give 'label' (a column) or 'patterns' (a CSV file), not both")
        return None
    if "label" in block:
        col = block["label"]
        if col not in table.columns:
            r.note(f"{where}: label column {col!r} not in {block['source']}")
            return None
        empty = np.flatnonzero(table[col].isna().to_numpy())
        if len(empty):
            r.note(f"{where}: label column {col!r}, {_rows(empty)}: empty")
            return None
        return None if X is None else StructureSource(X, labels=_labels(table[col]), name=name)
    method = block.get("cluster", "nmf")
    if method not in CLUSTER_METHODS:
        r.note(f"{where}: cluster must be one of {', '.join(CLUSTER_METHODS)}, got {method!r}")
        return None
    patterns = r.table(block, where, key="patterns")
    if patterns is None:
        return None
    if len(patterns) != len(table):
        r.note(f"{where}: {len(patterns)} patterns but {len(table)} points")
        return None
    values = r.columns(patterns, list(patterns.columns), f"{where} ({block['patterns']})")
    if X is None or values is None:
        return None
    return StructureSource(X, patterns=values, name=name, cluster=method)


def _property_source(r: _Reader, block: dict, where: str, index: int) -> PropertySource | None:
    table = r.table(block, where)
    if table is None:
        return None
    X = r.points(block, table, where)  # problems with points and values are all reported
    value = block.get("value")
    if not isinstance(value, str) or value not in table.columns:
        r.note(f"{where}: value column {value!r} not in {block['source']}")
        return None
    y = r.columns(table, [value], f"{where} ({block['source']})")
    if X is None or y is None:
        return None
    prop = str(block.get("property", value))
    return PropertySource(X, y[:, 0], prop=prop, name=str(block.get("name", f"{prop}{index}")))


def _model_params(r: _Reader, cfg: dict) -> dict[str, Any]:
    """Model parameters from the top-level keys and ``[inference]``, checked by the model."""
    from psplab.models.phasemap.estimator import PhaseMapModel

    regions = cfg.get("regions")
    if isinstance(regions, bool) or not isinstance(regions, int) or regions < 2:
        r.note(f"'regions' must be an integer >= 2, got {regions!r}")
    params: dict[str, Any] = {
        "n_regions": regions,
        "kernel": cfg.get("kernel", "rbf"),
        "phase_model": cfg.get("phase_model", "gp"),
    }
    for key in ("icm", "shared_trend", "region_noise"):
        value = cfg.get(key, False)
        if not isinstance(value, bool):
            r.note(f"{key!r} must be true or false, got {value!r}")
        params[key] = value is True
    inference = cfg.get("inference", {})
    if not r.unknown_keys(inference, set(INFERENCE_KEYS), "[inference]"):
        for key, value in inference.items():
            kind = INFERENCE_KEYS.get(key)
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                r.note(f"[inference] {key} must be an integer, got {value!r}")
            elif kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
                r.note(f"[inference] {key} must be a number, got {value!r}")
            elif kind is not None:
                params[key] = kind(value)
    if not r.problems:
        try:
            PhaseMapModel(**params).check_params()  # domains and size bounds, before any work
        except (InputError, ResourceError) as exc:
            r.problems.extend(f"{r.path}: {line}" for line in exc.lines)
    return params


def load_config(path: str | Path) -> PhaseMapConfig:
    """Read and check a phase-map config and the tables it names.

    Table paths are relative to the config's folder and must stay inside it unless the config
    says ``allow_outside = true``.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    config : PhaseMapConfig

    Raises
    ------
    ConfigError
        One line per problem (file, block, field; column and rows for table cells).
    """
    path = Path(path)
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    r = _Reader(path, cfg.get("allow_outside") is True)
    r.unknown_keys(cfg, _TOP_KEYS, "config")
    params = _model_params(r, cfg)
    blocks, prop_blocks = cfg.get("structure", []), cfg.get("property", [])
    if not isinstance(blocks, list) or not isinstance(prop_blocks, list):
        r.note("write [[structure]] and [[property]] as arrays of tables")
        blocks, prop_blocks = [], []
    elif not blocks and not prop_blocks:
        r.note("no [[structure]] or [[property]] blocks")
    structure, properties = [], []
    for i, block in enumerate(blocks):
        where = f"[[structure]] #{i + 1}"
        if not r.unknown_keys(block, _STRUCTURE_KEYS, where):
            source = _structure_source(r, block, where, str(block.get("name", f"structure{i}")))
            structure += [source] if source is not None else []
    for i, block in enumerate(prop_blocks):
        where = f"[[property]] #{i + 1}"
        if not r.unknown_keys(block, _PROPERTY_KEYS, where):
            source = _property_source(r, block, where, i)
            properties += [source] if source is not None else []
    if r.problems:
        raise ConfigError(r.problems)
    return PhaseMapConfig(
        path=path, params=params, structure=structure, properties=properties,
        coords=r.coords or [], units=str(cfg.get("units", "")),
        property_units={
            p.prop: str(b["unit"]) for p, b in zip(properties, prop_blocks, strict=True) if "unit" in b
        },
    )  # fmt: skip
