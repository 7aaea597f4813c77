"""Loading a table against its spec, validating every cell, and handing models their matrices."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.data.spec import ColumnSpec, DatasetSpec, Problem, SpecError
from psplab.data.tables import read_table

__all__ = [
    "Dataset",
    "InputEncoder",
    "load_dataset",
    "read_table",
    "validate",
    "validate_frame",
]

_MAX_PROBLEMS_PER_COLUMN = 20  # keep error output readable for a column that is wholly wrong


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

    Parameters
    ----------
    spec : DatasetSpec
        What each column is.
    frame : pandas.DataFrame
        The table as read (cells as text or numbers).

    Returns
    -------
    typed : pandas.DataFrame
        Numeric columns as float (NaN = missing), categorical ones as strings, formula columns
        kept as text plus one element-fraction column per element.
    problems : list of Problem
        Every problem, naming column and row (rows count data rows, 1 being the first row
        under the header), at most 20 per column and a count of the rest.
    """
    if frame.shape[0] == 0:
        source = repr(spec.source.name) if spec.source is not None else "the data"
        return frame, [Problem(f"{source} has no data rows (empty file)")]
    problems = _column_problems(spec, frame)
    if problems:
        return frame, problems

    typed = pd.DataFrame(index=frame.index)
    for col in spec.columns:
        raw = frame[col.name]
        if col.role == "ignore":
            typed[col.name] = raw
            continue
        if col.is_formula:
            fractions, col_problems = _expand_formula(col, raw)
            taken = [n for n in fractions.columns if n in frame.columns]
            col_problems += [
                Problem(f"its element column {n!r} is also a column of the table", col.name)
                for n in taken
            ]
            typed[col.name] = raw.astype(object)
            for name in fractions.columns:
                typed[name] = fractions[name].to_numpy()
        elif col.is_numeric:
            values, col_problems = _check_numeric(col, raw)
            typed[col.name] = values
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


def _column_problems(spec: DatasetSpec, frame: pd.DataFrame) -> list[Problem]:
    """Columns in the file but not the spec and the reverse, each list capped with a count."""
    spec_names = {c.name for c in spec.columns}
    extra = [str(n) for n in frame.columns if n not in spec_names]
    missing = [c.name for c in spec.columns if c.name not in frame.columns]
    problems = []
    for names, message, where in (
        (extra, "in the data file but not in the spec", "the data file"),
        (missing, "in the spec but not in the data file", "the spec"),
    ):
        problems += [Problem(message, column=n) for n in names[:_MAX_PROBLEMS_PER_COLUMN]]
        if len(names) > _MAX_PROBLEMS_PER_COLUMN:
            problems.append(
                Problem(
                    f"... and {len(names) - _MAX_PROBLEMS_PER_COLUMN} more columns only in {where}"
                )
            )
    stripped = {str(n).strip(): str(n) for n in extra}
    for name in missing[:_MAX_PROBLEMS_PER_COLUMN]:
        if name in stripped:
            problems.append(
                Problem(f"the data file has {stripped[name]!r} (spaces around the name?)", name)
            )
    return problems


def _parse_numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells as floats (NaN = missing) and a mask of the cells that are not numbers.

    The vectorised parse takes the common case; cells it cannot read go through
    :func:`_as_number` one by one, so the rules stay those of ``_as_number``.
    """
    types = pd.api.types
    if (
        types.is_bool_dtype(raw)
        or types.is_datetime64_any_dtype(raw)
        or types.is_timedelta64_dtype(raw)
    ):
        # true/false and dates are not numbers (to_numeric would give 1/0 and nanoseconds)
        values = np.full(len(raw), np.nan)
    else:
        numbers = pd.to_numeric(raw, errors="coerce")
        values = numbers.to_numpy(dtype=float, na_value=np.nan, copy=True)
    bad = np.zeros(len(values), dtype=bool)
    cells = raw.to_numpy(dtype=object)
    for i in np.flatnonzero(np.isnan(values)):
        number = _as_number(cells[i])
        values[i] = np.nan if number is None else number
        bad[i] = number is None
    return values, bad


def _check_numeric(col: ColumnSpec, raw: pd.Series) -> tuple[np.ndarray, list[Problem]]:
    values, bad = _parse_numbers(raw)
    missing = np.isnan(values) & ~bad
    infinite = np.isinf(values)
    with np.errstate(invalid="ignore"):
        sentinel = np.zeros(len(values), dtype=bool)
        if col.absent is not None:
            sentinel = np.isclose(values, float(col.absent))
        checked = np.isfinite(values) & ~sentinel
        below = checked & (values < col.min) if col.min is not None else np.zeros_like(bad)
        above = checked & (values > col.max) if col.max is not None else np.zeros_like(bad)
    flagged = bad | infinite | below | above | (missing if col.role == "processing" else False)
    problems = []
    for i in np.flatnonzero(flagged):
        row, number = int(i) + 1, values[i]
        if bad[i]:
            text = str(raw.iloc[i])
            comma = re.fullmatch(r"\s*[-+]?\d+,\d+\s*", text) is not None
            message = f"{text!r} is not a number" + (
                " (a decimal comma? write 0.5)" if comma else ""
            )
        elif missing[i]:
            message = "missing value in a processing input"
        elif infinite[i]:
            message = f"{number} is not finite"
        elif below[i]:
            message = f"{number:g} is below min {col.min:g}"
        else:
            message = f"{number:g} is above max {col.max:g}"
        problems.append(Problem(message, col.name, row))
    return values, problems[:_MAX_PROBLEMS_PER_COLUMN] + _overflow(col, problems)


def _expand_formula(col: ColumnSpec, raw: pd.Series) -> tuple[pd.DataFrame, list[Problem]]:
    """Element-fraction columns of a formula column; a cell that is not a composition is named.

    The elements are the column's ``elements`` when the spec fixes them (a fitted model's spec
    does), else every element found, in order of atomic number.
    """
    from psplab.data.formula import (
        FormulaError,
        composition_fractions,
        fraction_matrix,
        order_elements,
    )

    problems: list[Problem] = []
    rows: list[dict[str, float] | None] = []
    for i, cell in enumerate(raw.tolist(), start=1):
        if cell is None or (isinstance(cell, float) and np.isnan(cell)) or str(cell).strip() == "":
            if col.role == "processing":
                problems.append(Problem("missing value in a processing input", col.name, i))
            rows.append(None)
            continue
        try:
            rows.append(composition_fractions(str(cell), col.basis, col.fractions))
        except FormulaError as exc:
            problems.append(
                Problem(f"cannot read {str(cell)[:60]!r} as a composition: {exc}", col.name, i)
            )
            rows.append(None)
    found = order_elements(el for row in rows if row for el in row)
    elements = list(col.elements) if col.elements is not None else found
    unknown = set(found) - set(elements)
    for i, row in enumerate(rows, start=1):
        if row and unknown & set(row):
            bad = ", ".join(order_elements(unknown & set(row)))
            problems.append(
                Problem(f"element(s) {bad} not among {', '.join(elements)}", col.name, i)
            )
            rows[i - 1] = None
    matrix = fraction_matrix(rows, elements)
    names = [col.element_column(el) for el in elements]
    capped = problems[:_MAX_PROBLEMS_PER_COLUMN] + _overflow(col, problems)
    return pd.DataFrame(matrix, columns=names, index=raw.index), capped


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
        """Number of rows."""
        return int(self.frame.shape[0])

    @property
    def input_names(self) -> list[str]:
        """Names of the model inputs: processing columns, formula columns as element fractions."""
        return [c.name for c in self.spec.input_columns]

    @property
    def target_names(self) -> list[str]:
        """Names of the numeric structure and property columns (what models predict)."""
        return [c.name for c in self.spec.targets if c.is_numeric]

    def inputs(self) -> pd.DataFrame:
        """The model inputs as typed in the frame (categoricals still as text).

        Returns
        -------
        pandas.DataFrame
        """
        return self.frame[self.input_names]

    def input_matrix(self, frame: pd.DataFrame | None = None) -> tuple[np.ndarray, list[str]]:
        """Float matrix of the inputs with categoricals one-hot encoded (levels from this data).

        Parameters
        ----------
        frame : pandas.DataFrame, optional
            New rows (e.g. a prediction input) to encode with this dataset's levels.

        Returns
        -------
        X : numpy.ndarray
            ``(n_rows, n_features)``.
        feature_names : list of str
        """
        encoder = InputEncoder.from_dataset(self)
        source = self.inputs() if frame is None else frame
        return encoder.transform(source), encoder.feature_names

    def target_matrix(self, names: Sequence[str] | None = None) -> np.ndarray:
        """Float matrix of the targets (NaN where missing).

        Parameters
        ----------
        names : sequence of str, optional
            Target columns (default: all of :attr:`target_names`).

        Returns
        -------
        numpy.ndarray
            ``(n_rows, n_targets)``.
        """
        cols = list(names) if names is not None else self.target_names
        return self.frame[cols].to_numpy(dtype=float)

    def target(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` for one target, rows with a missing target value dropped.

        Parameters
        ----------
        name : str
            The target column.

        Returns
        -------
        X : numpy.ndarray
        y : numpy.ndarray
        """
        X, _ = self.input_matrix()
        y = self.frame[name].to_numpy(dtype=float)
        keep = ~np.isnan(y)
        return X[keep], y[keep]

    def groups(self, name: str | None = None) -> np.ndarray | None:
        """Group labels for grouped cross-validation.

        Parameters
        ----------
        name : str, optional
            The group column (default: the spec's first group column).

        Returns
        -------
        numpy.ndarray or None
            One label per row as text; None when the spec has no group column.
        """
        if name is None:
            cols = self.spec.groups
            if not cols:
                return None
            name = cols[0].name
        return self.frame[name].astype(str).to_numpy()

    def summary(self) -> dict[str, Any]:
        """Counts per role, per-column ranges and missing target values.

        Returns
        -------
        dict
            ``name``, ``rows``, ``n_processing``, ``n_structure``, ``n_property``, ``columns``
            (formula columns as their element columns) and ``dropped_rows_per_target``.
        """
        columns = []
        for col in (e for c in self.spec.columns for e in c.expanded()):
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
        """The encoder of ``dataset``'s inputs (categorical levels from its rows).

        Parameters
        ----------
        dataset : Dataset

        Returns
        -------
        InputEncoder
        """
        numeric, categorical = [], {}
        for col in dataset.spec.input_columns:
            if col.is_numeric:
                numeric.append(col.name)
            else:
                levels = sorted({str(v) for v in dataset.frame[col.name].dropna()})
                categorical[col.name] = levels
        return cls(numeric=numeric, categorical=categorical, order=dataset.input_names)

    @property
    def feature_names(self) -> list[str]:
        """Column names of the encoded matrix (``name=level`` for one-hot blocks)."""
        names: list[str] = []
        for name in self.order:
            if name in self.categorical:
                names.extend(f"{name}={level}" for level in self.categorical[name])
            else:
                names.append(name)
        return names

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame``.

        Parameters
        ----------
        frame : pandas.DataFrame
            A table holding every input column of the spec.

        Returns
        -------
        numpy.ndarray
            ``(n_rows, n_features)``.

        Raises
        ------
        SpecError
            Naming a missing column, an unknown level or a non-numeric cell by column and row.
        """
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
        """The encoder as plain JSON-ready data.

        Returns
        -------
        dict
        """
        return {"numeric": self.numeric, "categorical": self.categorical, "order": self.order}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputEncoder:
        """Rebuild an encoder from :meth:`to_dict` output.

        Parameters
        ----------
        d : dict

        Returns
        -------
        InputEncoder
        """
        return cls(
            numeric=list(d["numeric"]), categorical=dict(d["categorical"]), order=list(d["order"])
        )


def load_dataset(spec: DatasetSpec | str | Path, frame: pd.DataFrame | None = None) -> Dataset:
    """Load and validate the spec's source (or ``frame``).

    Parameters
    ----------
    spec : DatasetSpec or path
        The spec, or the path of its TOML file.
    frame : pandas.DataFrame, optional
        The table to validate instead of reading the spec's ``source``.

    Returns
    -------
    Dataset
        The typed table; formula columns are expanded and their elements fixed in
        ``dataset.spec`` (so a model saved with that spec expands new rows the same way).

    Raises
    ------
    SpecError
        Listing every problem (a source outside the spec's folder is refused before it is read).
    """
    if not isinstance(spec, DatasetSpec):
        spec = DatasetSpec.from_toml(spec)
    if frame is None:
        problems = spec.source_problems()
        if problems:
            raise SpecError(problems)
        frame = read_table(spec.source, encoding=spec.encoding, delimiter=spec.delimiter)
    typed, problems = validate_frame(spec, frame)
    if problems:
        raise SpecError(problems)
    from psplab.data.formula import ELEMENTS

    elements = {
        c.name: [el for el in ELEMENTS if c.element_column(el) in typed.columns]
        for c in spec.columns
        if c.is_formula and c.role != "ignore" and c.elements is None
    }
    return Dataset(spec=spec.with_elements(elements) if elements else spec, frame=typed)


def validate(spec_path: str | Path) -> tuple[Dataset | None, list[Problem]]:
    """Load a spec and its data.

    Parameters
    ----------
    spec_path : str or Path
        The spec's TOML file.

    Returns
    -------
    tuple
        ``(dataset, [])``, or ``(None, problems)`` with every problem found.
    """
    try:
        return load_dataset(spec_path), []
    except SpecError as exc:
        return None, exc.problems
