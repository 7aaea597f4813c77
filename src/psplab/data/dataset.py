"""Loading a table against its spec, validating every cell, and handing models their matrices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.data.spec import ColumnSpec, DatasetSpec, Problem, SpecError

_MAX_PROBLEMS_PER_COLUMN = 20  # keep error output readable for a column that is wholly wrong


def read_table(path: str | Path) -> pd.DataFrame:
    """Read CSV or Parquet by extension; every column is read as text-or-number, untouched."""
    p = Path(path)
    if not p.is_file():
        raise SpecError([Problem(f"data file {str(p)!r} not found")])
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(p)
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        try:
            # dtype=str keeps "12a" visible as text so the validator can name it.
            return pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
    raise SpecError([Problem(f"data file {str(p)!r}: unsupported extension {suffix!r}")])


def _as_number(value: Any) -> float | None:
    """Parse one cell as a float; None when it is not a number (NaN means missing)."""
    if value is None:
        return float("nan")
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text == "" or text.lower() in ("nan", "na", "n/a"):
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return None


def validate_frame(spec: DatasetSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Check ``frame`` against ``spec``; return the typed frame and every problem found.

    Numeric columns become float (NaN = missing); categorical ones become strings. Rows are
    reported as data rows, 1 being the first row under the header.
    """
    problems: list[Problem] = []
    if frame.shape[0] == 0:
        source = str(spec.source) if spec.source is not None else "the data"
        return frame, [Problem(f"{source} has no data rows (empty file)")]
    spec_names = [c.name for c in spec.columns]
    for name in frame.columns:
        if name not in spec_names:
            problems.append(Problem("in the data file but not in the spec", column=str(name)))
    for name in spec_names:
        if name not in frame.columns:
            problems.append(Problem("in the spec but not in the data file", column=name))
    if problems:
        return frame, problems

    typed = pd.DataFrame(index=frame.index)
    for col in spec.columns:
        raw = frame[col.name]
        if col.role == "ignore":
            typed[col.name] = raw
            continue
        if col.is_numeric:
            values, col_problems = _check_numeric(col, raw)
        else:
            values, col_problems = _check_categorical(col, raw)
        typed[col.name] = values
        problems.extend(col_problems)

    if spec.id is not None:
        ids = frame[spec.id].astype(str)
        first_seen: dict[str, int] = {}
        for i, value in enumerate(ids, start=1):
            if value in first_seen:
                problems.append(
                    Problem(
                        f"duplicate id {value!r} (first at row {first_seen[value]})", spec.id, i
                    )
                )
            else:
                first_seen[value] = i
    typed.index = pd.RangeIndex(len(typed))
    return typed, problems


def _check_numeric(col: ColumnSpec, raw: pd.Series) -> tuple[np.ndarray, list[Problem]]:
    problems: list[Problem] = []
    values = np.empty(len(raw), dtype=float)
    for i, cell in enumerate(raw.tolist(), start=1):
        number = _as_number(cell)
        if number is None:
            problems.append(Problem(f"{str(cell)!r} is not a number", col.name, i))
            values[i - 1] = np.nan
            continue
        values[i - 1] = number
        if np.isnan(number):
            if col.role == "processing":
                problems.append(Problem("missing value in a processing input", col.name, i))
            continue
        if not np.isfinite(number):
            problems.append(Problem(f"{number} is not finite", col.name, i))
            continue
        if col.absent is not None and _is_absent(number, col.absent):
            continue  # "step not applied" sentinels are allowed outside the bounds
        if col.min is not None and number < col.min:
            problems.append(Problem(f"{number:g} is below min {col.min:g}", col.name, i))
        if col.max is not None and number > col.max:
            problems.append(Problem(f"{number:g} is above max {col.max:g}", col.name, i))
    return values, problems[:_MAX_PROBLEMS_PER_COLUMN] + _overflow(col, problems)


def _check_categorical(col: ColumnSpec, raw: pd.Series) -> tuple[pd.Series, list[Problem]]:
    problems: list[Problem] = []
    out = []
    for i, cell in enumerate(raw.tolist(), start=1):
        missing = cell is None or (isinstance(cell, float) and np.isnan(cell)) or str(cell) == ""
        if missing:
            if col.role == "processing":
                problems.append(Problem("missing value in a processing input", col.name, i))
            out.append(None)
        else:
            out.append(str(cell))
    return pd.Series(out, index=raw.index, dtype=object), problems[
        :_MAX_PROBLEMS_PER_COLUMN
    ] + _overflow(col, problems)


def _overflow(col: ColumnSpec, problems: list[Problem]) -> list[Problem]:
    extra = len(problems) - _MAX_PROBLEMS_PER_COLUMN
    if extra > 0:
        return [Problem(f"... and {extra} more problems in this column", col.name)]
    return []


def _is_absent(value: float, absent: float | str) -> bool:
    try:
        return bool(np.isclose(value, float(absent)))
    except (TypeError, ValueError):
        return False


@dataclass
class Dataset:
    """A validated table and its spec.

    ``frame`` holds float columns for numeric specs and strings for categorical ones.
    """

    spec: DatasetSpec
    frame: pd.DataFrame

    # --- shapes -------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return int(self.frame.shape[0])

    @property
    def input_names(self) -> list[str]:
        return [c.name for c in self.spec.processing]

    @property
    def target_names(self) -> list[str]:
        return [c.name for c in self.spec.targets if c.is_numeric]

    def inputs(self) -> pd.DataFrame:
        """The processing columns, as typed in the frame (categoricals still as text)."""
        return self.frame[self.input_names]

    def input_matrix(self, frame: pd.DataFrame | None = None) -> tuple[np.ndarray, list[str]]:
        """Float matrix of the inputs with categoricals one-hot encoded (levels from this data).

        ``frame`` lets new rows (e.g. a prediction input) be encoded with this dataset's levels.
        """
        encoder = InputEncoder.from_dataset(self)
        source = self.inputs() if frame is None else frame
        return encoder.transform(source), encoder.feature_names

    def target_matrix(self, names: Sequence[str] | None = None) -> np.ndarray:
        """Float matrix of the targets (NaN where missing)."""
        cols = list(names) if names is not None else self.target_names
        return self.frame[cols].to_numpy(dtype=float)

    def target(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` for one target, rows with a missing target value dropped."""
        X, _ = self.input_matrix()
        y = self.frame[name].to_numpy(dtype=float)
        keep = ~np.isnan(y)
        return X[keep], y[keep]

    def groups(self, name: str | None = None) -> np.ndarray | None:
        """Group labels for grouped cross-validation (the named column, or the first group)."""
        if name is None:
            cols = self.spec.groups
            if not cols:
                return None
            name = cols[0].name
        return self.frame[name].astype(str).to_numpy()

    def summary(self) -> dict[str, Any]:
        """Counts per role, per-column ranges and missing target values."""
        columns = []
        for col in self.spec.columns:
            if col.role == "ignore":
                continue
            entry: dict[str, Any] = {
                "name": col.name,
                "role": col.role,
                "kind": col.kind,
                "unit": col.unit,
                "tier": col.effective_tier,
            }
            series = self.frame[col.name]
            entry["missing"] = int(series.isna().sum())
            if col.is_numeric:
                values = series.to_numpy(dtype=float)
                finite = values[np.isfinite(values)]
                if col.absent is not None:
                    entry["absent"] = int(np.sum(np.isclose(finite, float(col.absent))))
                entry["min"] = float(finite.min()) if finite.size else None
                entry["max"] = float(finite.max()) if finite.size else None
                entry["mean"] = float(finite.mean()) if finite.size else None
            else:
                entry["levels"] = sorted({str(v) for v in series.dropna()})
            columns.append(entry)
        return {
            "name": self.spec.name,
            "rows": self.n_rows,
            "n_processing": len(self.spec.processing),
            "n_structure": len(self.spec.structure),
            "n_property": len(self.spec.properties),
            "columns": columns,
            "dropped_rows_per_target": {
                name: int(self.frame[name].isna().sum()) for name in self.target_names
            },
        }


@dataclass
class InputEncoder:
    """Turns processing columns into a float matrix; categoricals become one-hot blocks.

    Stored as plain JSON (``to_dict``/``from_dict``) so fitted models can be saved without pickle.
    """

    numeric: list[str]
    categorical: dict[str, list[str]]
    order: list[str]

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> InputEncoder:
        numeric, categorical = [], {}
        for col in dataset.spec.processing:
            if col.is_numeric:
                numeric.append(col.name)
            else:
                levels = sorted({str(v) for v in dataset.frame[col.name].dropna()})
                categorical[col.name] = levels
        return cls(numeric=numeric, categorical=categorical, order=dataset.input_names)

    @property
    def feature_names(self) -> list[str]:
        names: list[str] = []
        for name in self.order:
            if name in self.categorical:
                names.extend(f"{name}={level}" for level in self.categorical[name])
            else:
                names.append(name)
        return names

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame``; raises :class:`SpecError` naming a missing column or unknown level."""
        problems: list[Problem] = []
        blocks: list[np.ndarray] = []
        for name in self.order:
            if name not in frame.columns:
                problems.append(Problem("input column missing", column=name))
                continue
            if name in self.categorical:
                levels = self.categorical[name]
                values = frame[name].astype(str).tolist()
                block = np.zeros((len(values), len(levels)))
                for i, v in enumerate(values, start=1):
                    if v not in levels:
                        problems.append(Problem(f"unknown level {v!r}", column=name, row=i))
                        continue
                    block[i - 1, levels.index(v)] = 1.0
                blocks.append(block)
            else:
                col = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
                for i in np.flatnonzero(~np.isfinite(col))[:_MAX_PROBLEMS_PER_COLUMN]:
                    problems.append(
                        Problem("missing or non-numeric input", column=name, row=int(i) + 1)
                    )
                blocks.append(col[:, None])
        if problems:
            raise SpecError(problems)
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.hstack(blocks)

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "categorical": self.categorical, "order": self.order}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputEncoder:
        return cls(
            numeric=list(d["numeric"]), categorical=dict(d["categorical"]), order=list(d["order"])
        )


def load_dataset(spec: DatasetSpec | str | Path, frame: pd.DataFrame | None = None) -> Dataset:
    """Load and validate the spec's source (or ``frame``); raise :class:`SpecError` on problems."""
    if not isinstance(spec, DatasetSpec):
        spec = DatasetSpec.from_toml(spec)
    if frame is None:
        if spec.source is None:
            raise SpecError([Problem("spec has no 'source' and no table was given")])
        frame = read_table(spec.source)
    typed, problems = validate_frame(spec, frame)
    if problems:
        raise SpecError(problems)
    return Dataset(spec=spec, frame=typed)


def validate(spec_path: str | Path) -> tuple[Dataset | None, list[Problem]]:
    """Load a spec and its data, returning ``(dataset, [])`` or ``(None, problems)``."""
    try:
        return load_dataset(spec_path), []
    except SpecError as exc:
        return None, exc.problems
