"""A user's table made ready for causal analysis, with every change stated.

:func:`prepare_causal_data` takes a :class:`psplab.data.Dataset` and returns the numeric frame
the causal graph is learned from, together with one sentence per thing it did:

* **categorical processing columns** (a route, a furnace, a supplier) are encoded as indicator
  columns ``name=level`` against the most common level (at most :data:`MAX_LEVELS` levels; a
  column with more is left out, and said so). Categorical structure or property columns are left
  out, and said so;
* **rows** with a missing value in an analysed column are dropped; the count and the columns
  responsible are stated;
* **constant columns** (in the rows used) carry no information and are left out;
* **closed compositions** — columns of one unit and tier (all of them, or all but one) whose
  row sums are constant, like element contents summing to 100 at% — are linearly dependent: any
  adjustment set holding all of them is singular, and the effects computed from it are numerical
  noise (millions of HV per at%). The largest component (the balance element) is left out, so each remaining element's
  effect is that of adding it *in place of* the balance element. Any other exact linear
  dependency between columns is broken the same way (one column left out, named).

Nothing is changed silently: :attr:`CausalData.notes` holds the sentences, and ``psplab causal``
prints them and records them in the run's manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from psplab.errors import InputError

__all__ = ["MAX_LEVELS", "MIN_ROWS", "CausalData", "prepare_causal_data"]

MAX_LEVELS = 12  # levels of a categorical column encoded as indicators; more: left out
MIN_ROWS = 10  # complete rows needed for conditional-independence tests
# A group of columns is closed when the standard deviation of its row sums is below this share
# of their mean: exact closure, or closure up to the rounding of the table's values.
CLOSURE_TOLERANCE = 1e-3
# Smallest eigenvalue of the correlation matrix that counts as an exact linear dependency.
DEPENDENCY_EIGENVALUE = 1e-9


@dataclass
class CausalData:
    """The analysed table and what was done to get it.

    Attributes
    ----------
    frame : DataFrame
        Complete rows of the analysed columns (floats; indicators are 0/1).
    tiers : dict
        Tier of each analysed column.
    treatments : list of str
        Processing columns (and indicators) whose influence is ranked.
    outcomes : list of str
        Columns whose causes are ranked.
    units : dict
        Unit of each analysed column (None where the spec gives none).
    ranges : dict
        ``(low, high)`` over which an indicator's effect is taken: ``(0, 1)``, the switch from
        the reference level to the indicator's level.
    indicators : dict
        Categorical column -> its indicator columns.
    left_out : dict
        Column -> why it is not analysed.
    n_rows_total, n_rows_used : int
        Rows in the table and rows analysed.
    missing_by_column : dict
        Rows missing a value, per analysed column (only columns with some).
    notes : list of str
        One sentence per change, for the user.
    """

    frame: pd.DataFrame
    tiers: dict[str, int | None]
    treatments: list[str]
    outcomes: list[str]
    units: dict[str, str | None] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    indicators: dict[str, list[str]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    n_rows_total: int = 0
    n_rows_used: int = 0
    missing_by_column: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Analysed columns, in order."""
        return [str(c) for c in self.frame.columns]

    def rows_summary(self) -> dict[str, Any]:
        """Rows used and why the others were dropped (JSON-able).

        Returns
        -------
        dict
            ``total``, ``used``, ``dropped`` and ``missing_by_column``.
        """
        return {
            "total": self.n_rows_total,
            "used": self.n_rows_used,
            "dropped": self.n_rows_total - self.n_rows_used,
            "missing_by_column": dict(self.missing_by_column),
        }


def prepare_causal_data(
    dataset: Any,
    *,
    exclude: Sequence[str] | None = None,
    outcomes: Sequence[str] | None = None,
    max_levels: int = MAX_LEVELS,
) -> CausalData:
    """The dataset's processing, structure and property columns, ready for causal discovery.

    Parameters
    ----------
    dataset : psplab.data.Dataset
        A loaded dataset (its spec gives roles, tiers and units).
    exclude : sequence of str or None
        Columns to leave out (e.g. one computed from another, which breaks faithfulness).
    outcomes : sequence of str or None
        Outcome columns (default: the property columns, else every column after tier 0).
    max_levels : int
        Most levels of a categorical processing column that is encoded.

    Returns
    -------
    CausalData
        The frame and the notes (see the module docstring).

    Raises
    ------
    InputError
        An unknown column in ``exclude`` or ``outcomes``, too few complete rows, no processing
        column or no outcome left to analyse.
    """
    spec = dataset.spec
    excluded = list(exclude or [])
    analysable = [c for c in spec.columns if c.role in ("processing", "structure", "property")]
    known = {c.name for c in analysable}
    unknown = [c for c in excluded if c not in known]
    if unknown:
        raise InputError(
            [f"--exclude: {c!r} is not a processing, structure or property column" for c in unknown]
        )
    out = CausalData(frame=pd.DataFrame(), tiers={}, treatments=[], outcomes=[])
    out.n_rows_total = int(len(dataset.frame))
    columns: dict[str, pd.Series] = {}
    for col in analysable:
        if col.name in excluded:
            out.left_out[col.name] = "excluded by the user"
            continue
        tier = col.effective_tier
        if col.is_numeric:
            columns[col.name] = pd.to_numeric(dataset.frame[col.name], errors="coerce")
            out.tiers[col.name] = tier
            out.units[col.name] = col.unit
        elif col.role != "processing":
            out.left_out[col.name] = "categorical structure/property columns are not analysed"
            out.notes.append(f"{col.name}: categorical {col.role} column, left out")
        else:
            _encode(out, columns, dataset.frame[col.name], col.name, tier, max_levels)
    frame = pd.DataFrame(columns, index=dataset.frame.index)
    # Outcome candidates first: a dependency is broken by leaving out a non-outcome if it can.
    out.outcomes = list(outcomes or [c.name for c in spec.properties])
    frame = _drop_incomplete_rows(out, frame)
    frame = _drop_constant_columns(out, frame)
    frame = _break_dependencies(out, frame, spec)
    out.frame = frame.reset_index(drop=True)
    out.n_rows_used = int(len(frame))
    out.tiers = {n: out.tiers[n] for n in out.names}
    out.units = {n: out.units.get(n) for n in out.names}
    _choose_roles(out, spec, outcomes)
    return out


def _encode(
    out: CausalData,
    columns: dict[str, pd.Series],
    raw: pd.Series,
    name: str,
    tier: int | None,
    max_levels: int,
) -> None:
    """Indicator columns of a categorical processing column against its most common level."""
    counts = raw.dropna().astype(str).value_counts()
    if len(counts) < 2:
        out.left_out[name] = "categorical column with one level"
        out.notes.append(f"{name}: one level only ({', '.join(counts.index)}), left out")
        return
    if len(counts) > max_levels:
        out.left_out[name] = f"categorical column with {len(counts)} levels (> {max_levels})"
        out.notes.append(
            f"{name}: {len(counts)} levels, more than {max_levels} can be encoded; left out"
        )
        return
    reference = str(counts.index[0])
    text = raw.astype(str).where(raw.notna())
    made = []
    for level in sorted(str(v) for v in counts.index[1:]):
        key = f"{name}={level}"
        columns[key] = (text == level).astype(float).where(text.notna())
        out.tiers[key] = tier
        out.units[key] = None
        out.ranges[key] = (0.0, 1.0)
        made.append(key)
    out.indicators[name] = made
    out.notes.append(
        f"{name}: categorical, encoded as {len(made)} indicator column(s) against the most "
        f"common level {reference!r} ({', '.join(made)}); an indicator's effect is that of "
        f"switching from {reference!r} to its level"
    )


def _drop_incomplete_rows(out: CausalData, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a value missing in an analysed column are dropped; say how many and why."""
    missing = frame.isna().sum()
    out.missing_by_column = {str(k): int(v) for k, v in missing.items() if v > 0}
    complete = frame.notna().all(axis=1)
    n_used = int(complete.sum())
    if n_used < len(frame):
        worst = sorted(out.missing_by_column.items(), key=lambda kv: -kv[1])
        listed = ", ".join(f"{k} {v}" for k, v in worst[:5])
        more = f" and {len(worst) - 5} more column(s)" if len(worst) > 5 else ""
        out.notes.append(
            f"uses {n_used} of {len(frame)} rows: {len(frame) - n_used} have a missing value "
            f"(rows missing per column: {listed}{more}); fill them in the table, or leave "
            "the emptiest columns out with --exclude"
        )
    if n_used < MIN_ROWS:
        raise InputError(
            f"only {n_used} of {len(frame)} rows have every analysed column filled: too few for "
            f"causal discovery (need {MIN_ROWS}); columns missing most: "
            + ", ".join(
                f"{k} ({v} rows)"
                for k, v in sorted(out.missing_by_column.items(), key=lambda kv: -kv[1])[:5]
            )
        )
    return frame[complete]


def _drop_constant_columns(out: CausalData, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns with one value in the rows used carry no information; leave them out."""
    constant = [c for c in frame.columns if frame[c].nunique() <= 1]
    for c in constant:
        value = frame[c].iloc[0] if len(frame) else float("nan")
        out.left_out[c] = "constant in the rows used"
        out.notes.append(f"{c}: constant ({value:g}) in the {len(frame)} rows used, left out")
    return frame.drop(columns=constant)


def _break_dependencies(out: CausalData, frame: pd.DataFrame, spec: Any) -> pd.DataFrame:
    """Leave one column out of each closed group and of each exact linear dependency."""
    frame = _break_closures(out, frame)
    while frame.shape[1] > 1:
        z = (frame - frame.mean()) / frame.std(ddof=0)
        values, vectors = np.linalg.eigh(np.corrcoef(z.to_numpy(dtype=float), rowvar=False))
        if values[0] >= DEPENDENCY_EIGENVALUE:
            break
        weights = np.abs(vectors[:, 0])
        involved = [
            c for c, w in zip(frame.columns, weights, strict=True) if w > 1e-3 * weights.max()
        ]
        drop = _pick_to_leave_out(out, frame, involved)
        out.left_out[drop] = "exact linear dependency with " + ", ".join(
            c for c in involved if c != drop
        )
        out.notes.append(
            f"{', '.join(involved)} are exactly linearly dependent; {drop} left out so that no "
            "effect comes from a singular adjustment"
        )
        frame = frame.drop(columns=drop)
    return frame


def _break_closures(out: CausalData, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of one unit and tier whose row sums are constant: drop the largest component."""
    groups: dict[tuple[Any, str], list[str]] = {}
    for c in frame.columns:
        if c not in out.ranges:  # indicators are handled as columns of their own
            groups.setdefault((out.tiers.get(c), out.units.get(c) or ""), []).append(c)
    for (_tier, unit), cols in groups.items():
        closed = _closed_subset(frame, cols)
        if closed is None:
            continue
        total = float(frame[closed].sum(axis=1).mean())
        balance = max(closed, key=lambda c: float(frame[c].mean()))
        in_unit = f" in {unit}" if unit else ""
        out.left_out[balance] = f"balance of a closed composition ({len(closed)} columns{in_unit})"
        out.notes.append(
            f"closed composition: {len(closed)} columns{in_unit} ({', '.join(closed)}) sum to "
            f"{total:g} in every row, so they are linearly dependent; {balance} (the largest, the "
            f"balance) is left out, and each other column's effect is that of adding it in place "
            f"of {balance}"
        )
        frame = frame.drop(columns=balance)
    return frame


def _closed_subset(frame: pd.DataFrame, cols: list[str]) -> list[str] | None:
    """The columns whose row sums are constant: all of ``cols``, or all but one (a column of
    the same unit that is not part of the composition, e.g. a porosity in percent)."""
    for subset in [cols, *([c for c in cols if c != other] for other in cols)]:
        if len(subset) < 2:
            continue
        total = frame[subset].sum(axis=1)
        mean = float(total.mean())
        if mean != 0 and float(total.std(ddof=0)) <= CLOSURE_TOLERANCE * abs(mean):
            return subset
    return None


def _pick_to_leave_out(out: CausalData, frame: pd.DataFrame, involved: list[str]) -> str:
    """Which column of a dependency to drop: not an outcome candidate if avoidable, the latest
    tier (a derived quantity), then the largest mean magnitude (a balance component)."""
    candidates = [c for c in involved if c not in out.outcomes] or involved
    latest = max((out.tiers.get(c) or 0) for c in candidates)
    candidates = [c for c in candidates if (out.tiers.get(c) or 0) == latest]
    return max(candidates, key=lambda c: float(frame[c].abs().mean()))


def _choose_roles(out: CausalData, spec: Any, outcomes: Sequence[str] | None) -> None:
    """Treatments (processing columns and indicators) and outcomes among the analysed columns."""
    names = out.names
    processing = {c.name for c in spec.processing}
    out.treatments = [n for n in names if n in processing or n.split("=", 1)[0] in out.indicators]
    if outcomes:
        bad = [o for o in outcomes if o not in names]
        if bad:
            raise InputError(
                [
                    f"--outcomes: {o!r} is not an analysed numeric column"
                    + (f" ({out.left_out[o]})" if o in out.left_out else "")
                    for o in bad
                ]
            )
        out.outcomes = list(outcomes)
    else:
        props = [c.name for c in spec.properties if c.name in names]
        out.outcomes = props or [n for n in names if (out.tiers.get(n) or 0) > 0]
    why = "; ".join(f"{c}: {r}" for c, r in out.left_out.items())
    if not out.treatments:
        raise InputError(
            f"{spec.name}: no processing column left to rank" + (f" ({why})" if why else "")
        )
    if not out.outcomes:
        raise InputError(
            f"{spec.name}: no outcome column left to analyse" + (f" ({why})" if why else "")
        )
