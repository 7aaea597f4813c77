"""Rows of a campaign: reserved names, cell encoding, suggestion ids, exports read back.

The pieces of :mod:`psplab.optimize.store` that deal with one results table or one cell and
need no database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.data.spec import DatasetSpec, Problem
from psplab.errors import CampaignError

__all__ = [
    "RESERVED_COLUMNS",
    "SUGGESTION_ID",
    "check_campaign_spec",
    "encode_cell",
    "parse_extra",
    "parse_suggestion_ids",
    "public_name",
    "read_export",
    "reserved_name_problems",
]

SUGGESTION_ID = "suggestion_id"
# Columns the store adds to every observation it returns; a results column may not use them.
RESERVED_COLUMNS = ("observation_id", SUGGESTION_ID, "created", "source", "source_row")


def reserved_name_problems(columns: Iterable[Any]) -> list[Problem]:
    """One problem per results column named like one of the store's own columns.

    Parameters
    ----------
    columns : iterable
        Column names of a results table (CSV header or Parquet schema).

    Returns
    -------
    list of Problem
        Without a row: such a table is refused as a whole.
    """
    return [
        Problem(
            "the name is reserved for the campaign's own records "
            f"({', '.join(RESERVED_COLUMNS)}); rename the column",
            str(name),
        )
        for name in columns
        if name in RESERVED_COLUMNS and name != SUGGESTION_ID
    ]


def parse_suggestion_ids(cells: pd.Series, known: set[int], problems: list[Problem]) -> list:
    """The ``suggestion_id`` column as integers (None where empty).

    Parameters
    ----------
    cells : pandas.Series
        The column as read.
    known : set of int
        Ids of the stored suggestions.
    problems : list of Problem
        Appended to: a cell that is not an integer id, or an id with no suggestion.

    Returns
    -------
    list
        One int or None per row.
    """
    ids: list = []
    for i, cell in enumerate(cells.tolist(), start=1):
        text = "" if cell is None else str(cell).strip()
        if text == "" or text.lower() == "nan":
            ids.append(None)
            continue
        try:
            value = int(float(text))
            if value != float(text):
                raise ValueError
        except (ValueError, OverflowError):
            problems.append(Problem(f"{text!r} is not an integer id", SUGGESTION_ID, i))
            ids.append(None)
            continue
        if value not in known:
            problems.append(Problem(f"no suggestion with id {value}", SUGGESTION_ID, i))
        ids.append(value)
    return ids


def encode_cell(value: Any) -> tuple[float | None, str | None]:
    """A cell as ``(REAL, TEXT)``: numbers keep their exact double, everything else is text.

    Parameters
    ----------
    value : object

    Returns
    -------
    tuple
        ``(float or None, str or None)``; both None for a missing cell.
    """
    if value is None:
        return None, None
    if isinstance(value, bool | np.bool_):
        return None, str(bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        v = float(value)
        return (None, None) if math.isnan(v) else (v, None)
    if isinstance(value, str) and value == "":
        return None, None
    return None, str(value)


def check_campaign_spec(spec: DatasetSpec, objective: str) -> None:
    """Check that ``spec`` can hold a campaign optimizing ``objective``.

    Parameters
    ----------
    spec : DatasetSpec
        The experiment's spec.
    objective : str
        The column to optimize.

    Raises
    ------
    CampaignError
        For an objective that is not a numeric property/structure column, a column named like
        one of the store's own (:data:`RESERVED_COLUMNS`), or a formula column.
    """
    try:
        col = spec.column(objective)
    except KeyError as exc:
        raise CampaignError(f"objective column {objective!r} is not in spec {spec.name!r}") from exc
    if not col.is_numeric or col.role not in ("property", "structure"):
        raise CampaignError(
            f"objective column {objective!r} must be a numeric property or structure column"
        )
    problems = [
        f"column {c.name!r}: the name is reserved for the campaign's own records "
        f"({', '.join(RESERVED_COLUMNS)}); rename it in the spec and the results"
        for c in spec.columns
        if c.name in RESERVED_COLUMNS and c.name != SUGGESTION_ID
    ]
    problems += [
        f"column {c.name!r}: a formula column cannot be searched; give the element "
        "fractions as numeric processing columns"
        for c in spec.processing
        if c.is_formula
    ]
    if problems:
        raise CampaignError(problems)


def public_name(name: str) -> str:
    """The name a stored column is read back under.

    A stored column named like one of the store's own columns (possible in databases of
    older versions) is returned as ``data_<name>``, so reading never collides.

    Parameters
    ----------
    name : str

    Returns
    -------
    str
    """
    return f"data_{name}" if name in RESERVED_COLUMNS else name


def parse_extra(value: Any) -> Any:
    """A measured column the spec does not know: a number if it reads as one, else text.

    Parameters
    ----------
    value : object
        A table cell (CSV text or a Parquet value).

    Returns
    -------
    float, str or None
        None for an empty cell.
    """
    if value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def read_export(path: str | Path) -> pd.DataFrame:
    """Read a file written by :meth:`CampaignStore.export` back with exact floats.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    pandas.DataFrame
    """
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(p)
    if int(pd.__version__.split(".")[0]) >= 3:
        return pd.read_csv(p)  # pandas 3 parses floats exactly by default
    return pd.read_csv(p, float_precision="round_trip")
