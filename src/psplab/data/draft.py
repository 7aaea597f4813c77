"""Draft a dataset spec from a table: roles, units and kinds guessed from names and values.

``psplab spec init DATA.csv`` writes the draft; every guess carries a ``REVIEW`` comment saying
what it was guessed from, so a user with thirty columns checks thirty lines instead of typing
thirty entries. The rules look only at the column's own name and values:

- a unit written in the name (``T [degC]``, ``hold_time_h``, ``Ni_wt_pct``, ``hardness (HV)``) is
  taken when the unit registry knows it, else left as a comment;
- element symbols (``C``, ``Mn``, ``Ni_at_pct``) are composition: processing, ``wt%`` unless the
  name says ``at``;
- temperatures, times, rates and other processing words are processing (a temperature without
  a unit is guessed ``degC``); hardness, strength, elongation, ... are properties; grain size,
  phase fractions, ... are structure;
- text columns with few distinct values are a group (``heat``, ``batch``, ``alloy``, ...) or a
  categorical processing column; text with a new value in every row is ignored, or is the
  table's ``id`` when named like one;
- any other numeric column is assumed to be processing (a model input) and says so.

No bounds are guessed: the observed range is written as a comment, because the valid range of a
quantity is knowledge about the process, not about the rows at hand.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from psplab.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnGuess", "SpecDraft", "draft_spec", "guess_column", "unit_from_name"]

ELEMENTS = frozenset(
    """H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As
    Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd
    Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am
    Cm Bk Cf Es Fm Md No Lr""".split()
)

# Unit spellings found at the end of column names (lower case) -> the spec's unit text.
_UNIT_SUFFIXES: dict[tuple[str, ...], str] = {
    ("wt", "pct"): "wt%",
    ("wt", "percent"): "wt%",
    ("wt",): "wt%",
    ("mass", "pct"): "wt%",
    ("at", "pct"): "at%",
    ("at", "percent"): "at%",
    ("vol", "pct"): "vol%",
    ("pct",): "%",
    ("percent",): "%",
    ("ppm",): "ppm",
    ("degc",): "degC",
    ("deg", "c"): "degC",
    ("celsius",): "degC",
    ("k", "per", "s"): "K/s",
    ("k", "s"): "K/s",
    ("c", "per", "s"): "delta_degC/s",
    ("k",): "K",
    ("kelvin",): "K",
    ("s",): "s",
    ("sec",): "s",
    ("min",): "min",
    ("h",): "h",
    ("hr",): "h",
    ("hrs",): "h",
    ("hours",): "h",
    ("mpa",): "MPa",
    ("gpa",): "GPa",
    ("kpa",): "kPa",
    ("um",): "um",
    ("µm",): "um",
    ("micron",): "um",
    ("nm",): "nm",
    ("mm",): "mm",
    ("per", "mm2"): "1/mm**2",
    ("hv",): "HV",
    ("hrc",): "HRC",
    ("hrb",): "HRB",
    ("hb",): "HB",
    ("hbw",): "HB",
    ("hk",): "HK",
    ("j",): "J",
    ("w",): "W",
    ("kw",): "kW",
    ("mm", "s"): "mm/s",
}
# Bracketed unit spellings that differ from the spec's.
_UNIT_ALIASES = {"°c": "degC", "c°": "degC", "deg c": "degC", "wt.%": "wt%", "at.%": "at%",
                 "mass%": "wt%", "wt. %": "wt%", "µm": "um", "k/s": "K/s", "°c/s": "delta_degC/s"}  # fmt: skip

_HARDNESS_UNITS = {"hv": "HV", "hrc": "HRC", "hrb": "HRB", "hb": "HB", "hbw": "HB", "hk": "HK"}
_GROUP_WORDS = {"batch", "heat", "lot", "alloy", "grade", "sample", "specimen", "source", "lab",
                "laboratory", "reference", "ref", "doi", "paper", "author", "study", "dataset",
                "group", "cast", "series", "supplier", "campaign"}  # fmt: skip
_ID_WORDS = {"id", "no", "index", "idx", "number", "sl", "uid", "row"}
_PROPERTY_WORDS = {"hardness", "strength", "uts", "ys", "yield", "tensile", "elongation",
                   "ductility", "toughness", "impact", "charpy", "fatigue", "modulus",
                   "conductivity", "resistivity", "creep", "rupture", "wear", "corrosion",
                   "fracture", "kic", "energy", "life", "property"} | set(_HARDNESS_UNITS)  # fmt: skip
_STRUCTURE_WORDS = {"grain", "fraction", "phase", "precipitate", "particle", "astm", "martensite",
                    "ferrite", "austenite", "bainite", "pearlite", "cementite", "porosity", "pore",
                    "texture", "dislocation", "lath", "spacing", "diameter", "vf", "microstructure",
                    "size", "density_of", "twin"}  # fmt: skip
_PROCESSING_WORDS = {"temperature", "temp", "time", "hold", "holding", "duration", "rate",
                     "cooling", "heating", "quench", "quenching", "anneal", "annealing", "aging",
                     "ageing", "tempering", "austenitizing", "austenitising", "solution",
                     "strain", "reduction", "rolling", "deformation", "pressure", "speed", "power",
                     "feed", "dose", "atmosphere", "route", "process", "treatment", "cycle",
                     "soak", "soaking", "furnace", "hip", "sintering", "laser", "scan"}  # fmt: skip
_TEMPERATURE_WORDS = {"temperature", "temp", "t", "tt", "tmax", "tmin"}
_TIME_WORDS = {"time", "hold", "holding", "duration", "soak", "soaking"}

# Text columns with at most this many distinct values are levels, not free text.
MAX_LEVELS = 50
# Share of filled cells that must be numbers for a column to count as numeric.
NUMERIC_SHARE = 0.9


@dataclass
class ColumnGuess:
    """What :func:`guess_column` made of one column.

    Attributes
    ----------
    name : str
        The header cell.
    role : str
        ``processing``, ``structure``, ``property``, ``group`` or ``ignore``.
    kind : str
        ``numeric`` or ``categorical``.
    unit : str or None
        Unit text the unit registry accepts, or None.
    unknown_unit : str or None
        A unit read from the name that the registry does not know (written as a comment).
    unit_note : str
        Where the unit came from (written as its ``REVIEW`` comment).
    reasons : list of str
        One note per guess, written as ``REVIEW`` comments.
    observed : str
        Summary of the values (range and missing count, or levels).
    is_id : bool
        Whether the column looks like a unique row id.
    """

    name: str
    role: str
    kind: str = "numeric"
    unit: str | None = None
    unknown_unit: str | None = None
    unit_note: str = ""
    reasons: list[str] = field(default_factory=list)
    observed: str = ""
    is_id: bool = False


def _tokens(name: str) -> list[str]:
    """Lower-case word tokens of a column name (``holdTime_h`` -> ``hold, time, h``)."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.replace("%", " pct "))
    return [t for t in re.split(r"[^\w°µ]+|_", spaced.lower()) if t]


def unit_from_name(name: str) -> str | None:
    """The unit a column name states, in the spec's spelling, or None.

    Bracketed units (``T [degC]``, ``hardness (HV)``) are taken as written (with common
    spellings such as ``°C`` or ``wt.%`` mapped); otherwise the trailing words are matched
    against common suffixes (``_degC``, ``_h``, ``_wt_pct``, ``_MPa``, ``_K_per_s``).

    Parameters
    ----------
    name : str
        The column name.

    Returns
    -------
    str or None
    """
    bracket = re.search(r"[\[(]\s*([^\[\]()]+?)\s*[\])]\s*$", name)
    if bracket:
        text = bracket.group(1)
        return _UNIT_ALIASES.get(text.lower(), text)
    tokens = _tokens(name)
    for length in (3, 2, 1):
        if len(tokens) > length and tuple(tokens[-length:]) in _UNIT_SUFFIXES:
            return _UNIT_SUFFIXES[tuple(tokens[-length:])]
    return None


def _element(name: str) -> str | None:
    """The element symbol a composition column is named by (``Ni``, ``Ni_wt_pct``, ``wt% Ni``)."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    candidates = [w for w in words if w in ELEMENTS]
    rest = [w.lower() for w in words if w not in ELEMENTS]
    if len(candidates) == 1 and all(
        w in {"wt", "at", "pct", "percent", "mass", "ppm"} for w in rest
    ):
        return candidates[0]
    return None


def _known_unit(text: str | None) -> bool:
    from psplab.data.units import parse_unit

    if text is None:
        return False
    try:
        parse_unit(text)
    except ValueError:
        return False
    return True


def _filled(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``(stripped text, mask of cells holding a value)``; NaN/NA spellings count as empty."""
    text = values.astype("string").str.strip()
    filled = text.notna() & (text != "") & ~text.str.lower().isin(["nan", "na", "n/a"])
    return text, filled.fillna(False).astype(bool)


def _numeric(values: pd.Series) -> pd.Series | None:
    """The column as numbers (NaN where missing or not a number), or None for a text column.

    A column counts as numeric when at least 90 % of its filled cells are numbers: a few typos
    (``"12a"``) should be named by ``psplab validate``, not turn the column into text.
    """
    import pandas as pd

    text, filled = _filled(values)
    numbers = pd.to_numeric(text.where(filled), errors="coerce").astype(float)
    n_filled = int(filled.sum())
    if n_filled and numbers[filled].notna().sum() < NUMERIC_SHARE * n_filled:
        return None
    return numbers


def _describe_numbers(numbers: pd.Series) -> str:
    missing = int(numbers.isna().sum())
    present = numbers.dropna()
    if present.empty:
        return "observed: no values"
    text = f"observed: {present.min():.6g} .. {present.max():.6g}"
    return text + (f", {missing} missing" if missing else ", none missing")


def _guess_text(guess: ColumnGuess, values: pd.Series, tokens: set[str]) -> ColumnGuess:
    present = values.dropna().astype(str)
    levels = present.unique()
    guess.kind = "categorical"
    shown = ", ".join(sorted(levels.tolist())[:6]) + (", ..." if len(levels) > 6 else "")
    guess.observed = f"observed: {len(levels)} distinct value(s): {shown}"
    all_distinct = len(levels) == len(present) >= 2
    if all_distinct and tokens & _ID_WORDS:
        guess.role, guess.is_id = "ignore", True
        guess.reasons.append("a different text in every row, named like an id")
    elif tokens & _GROUP_WORDS and not tokens & _PROCESSING_WORDS:
        guess.role = "group"
        guess.reasons.append("text named like a batch/heat/source: for grouped cross-validation")
    elif (all_distinct and len(present) >= 10) or len(levels) > MAX_LEVELS:
        guess.role = "ignore"
        guess.reasons.append("free text (many distinct values)")
    else:
        guess.role = "processing"
        guess.reasons.append("a few text levels: a categorical processing choice")
    return guess


def _role_from_words(name: str, tokens: set[str]) -> tuple[str, str]:
    """``(role, reason)`` from the words of a numeric column's name."""
    if tokens & _PROPERTY_WORDS:
        return "property", f"named like a property ({', '.join(sorted(tokens & _PROPERTY_WORDS))})"
    if tokens & _STRUCTURE_WORDS:
        words = ", ".join(sorted(tokens & _STRUCTURE_WORDS))
        return "structure", f"named like a microstructure measurement ({words})"
    if tokens & (_PROCESSING_WORDS | _TEMPERATURE_WORDS):
        words = ", ".join(sorted(tokens & (_PROCESSING_WORDS | _TEMPERATURE_WORDS)))
        return "processing", f"named like a processing setting ({words})"
    return "processing", "role not recognised from the name; assumed a model input"


def _numeric_role(
    guess: ColumnGuess, name: str, tokens: set[str], present: pd.Series
) -> str | None:
    """Set the role of a numeric column; return the unit it implies (None if none)."""
    element = _element(name)
    if element is not None and (present.empty or present.between(0, 100).all()):
        guess.role = "processing"
        guess.reasons.append(f"composition: element symbol {element}")
        return "at%" if "at" in tokens else "wt%"
    if tokens & _GROUP_WORDS and not tokens & (_PROCESSING_WORDS | _PROPERTY_WORDS):
        guess.role = "group"
        guess.reasons.append("named like a batch/heat/source: for grouped cross-validation")
        return None
    guess.role, reason = _role_from_words(name, tokens)
    guess.reasons.append(reason)
    if tokens & _HARDNESS_UNITS.keys():
        return _HARDNESS_UNITS[sorted(tokens & _HARDNESS_UNITS.keys())[0]]
    if tokens & _TEMPERATURE_WORDS and guess.role == "processing":
        return "degC"
    return None


def guess_column(name: str, values: pd.Series) -> ColumnGuess:
    """Guess the role, kind and unit of one column from its name and values.

    Parameters
    ----------
    name : str
        The header cell.
    values : pandas.Series
        The column as read (text or numbers; missing cells NaN).

    Returns
    -------
    ColumnGuess
    """
    guess = ColumnGuess(name=name, role="processing")
    tokens = set(_tokens(name))
    numbers = _numeric(values)
    if numbers is None:
        return _guess_text(guess, values, tokens)
    guess.observed = _describe_numbers(numbers)
    present = numbers.dropna()
    if (tokens & _ID_WORDS) and present.is_unique and len(present) == len(numbers) > 1:
        guess.role, guess.is_id = "ignore", True
        guess.reasons.append("a unique number in every row, named like an id")
        return guess
    unit = unit_from_name(name)
    implied = _numeric_role(guess, name, tokens, present)
    guess.unit_note = "read from the name"
    if unit is None and implied is not None:
        unit = implied
        guess.unit_note = "assumed: no unit is written in the name"
    if unit is not None and _known_unit(unit):
        guess.unit = unit
    elif unit is not None:
        guess.unknown_unit = unit
    n_text = int(_filled(values)[1].sum()) - len(present)
    if n_text > 0:
        guess.reasons.append(f"{n_text} cell(s) are not numbers: psplab validate names them")
    if guess.role == "processing" and len(present) < len(numbers):
        guess.reasons.append(
            "empty cells in a processing input are errors: fill them or drop those rows"
        )
    return guess


def _toml_line(key: str, value: object) -> str:
    from psplab.data.spec import dumps_toml

    return dumps_toml({key: value}).strip()


@dataclass
class SpecDraft:
    """A drafted spec: one :class:`ColumnGuess` per column, written as commented TOML.

    Attributes
    ----------
    name : str
        Dataset name.
    source : pathlib.Path
        The data file.
    columns : list of ColumnGuess
        In the table's order.
    id : str or None
        The column guessed to be a unique row id.
    encoding, delimiter : str or None
        How the table was read, when not UTF-8 and the extension's separator.
    """

    name: str
    source: Path
    columns: list[ColumnGuess]
    id: str | None = None
    encoding: str | None = None
    delimiter: str | None = None

    def to_toml(self, spec_dir: str | Path = ".") -> str:
        """The draft as TOML text with a ``REVIEW`` comment on every guess.

        Parameters
        ----------
        spec_dir : str or pathlib.Path
            Folder the spec will be written to (``source`` is made relative to it).

        Returns
        -------
        str
        """
        source = os.path.relpath(Path(self.source).resolve(), Path(spec_dir).resolve())
        outside = source.startswith("..")
        lines = [
            f"# Drafted by `psplab spec init` from {Path(self.source).name}: every role, unit and",
            "# kind below is a guess from the column's name and values. Check each line marked",
            "# REVIEW, add min/max bounds where you know them, then run `psplab validate`.",
            _toml_line("name", self.name),
            _toml_line("source", Path(source).as_posix()),
        ]
        if outside:
            lines.append(
                _toml_line("allow_outside", True) + "  # REVIEW: the data is not beside the spec"
            )
        for key in ("encoding", "delimiter"):
            if getattr(self, key) is not None:
                lines.append(_toml_line(key, getattr(self, key)))
        if self.id is not None:
            lines.append(_toml_line("id", self.id) + "  # REVIEW: unique in every row")
        for col in self.columns:
            lines += ["", "[[column]]", _toml_line("name", col.name)]
            lines.append(_toml_line("role", col.role) + "  # REVIEW: " + "; ".join(col.reasons))
            if col.kind != "numeric":
                lines.append(_toml_line("kind", col.kind) + "  # REVIEW: values are text")
            if col.unit is not None:
                lines.append(_toml_line("unit", col.unit) + f"  # REVIEW: {col.unit_note}")
            elif col.unknown_unit is not None:
                lines.append(
                    "# " + _toml_line("unit", col.unknown_unit)
                    + f"  # REVIEW: {col.unit_note}, but not a unit psplab knows"
                )  # fmt: skip
            elif col.kind == "numeric" and col.role not in ("ignore", "group"):
                lines.append('# unit = ""  # REVIEW: no unit found in the name; add one')
            if col.observed:
                lines.append(f"# {col.observed}")
        return "\n".join(lines) + "\n"

    def write(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the draft to ``path``.

        Parameters
        ----------
        path : str or pathlib.Path
            The spec file to create.
        overwrite : bool
            Replace an existing file (refused otherwise).

        Returns
        -------
        pathlib.Path

        Raises
        ------
        psplab.errors.InputError
            When ``path`` exists and ``overwrite`` is False.
        """
        p = Path(path)
        if p.exists() and not overwrite:
            raise InputError(f"{p}: file exists (use --force to replace it)")
        p.write_text(self.to_toml(p.parent), encoding="utf-8")
        return p


def draft_spec(
    data_path: str | Path,
    name: str | None = None,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> SpecDraft:
    """Draft a spec for a CSV/TSV/Parquet table (see the module docstring for the rules).

    Parameters
    ----------
    data_path : str or pathlib.Path
        The table.
    name : str, optional
        Dataset name (default: the file's stem).
    encoding : str, optional
        Text encoding of a CSV/TSV file (default UTF-8); written to the spec.
    delimiter : str, optional
        Field separator, when not the extension's; written to the spec.

    Returns
    -------
    SpecDraft

    Raises
    ------
    psplab.errors.InputError
        When the table cannot be read or has no columns.
    """
    from psplab.data.dataset import read_table

    path = Path(data_path)
    frame = read_table(path, encoding=encoding, delimiter=delimiter)
    if frame.shape[1] == 0:
        raise InputError(f"{path}: the table has no columns")
    columns = [guess_column(str(col), frame[col]) for col in frame.columns]
    ids = [c.name for c in columns if c.is_id]
    return SpecDraft(
        name=name or path.stem,
        source=path,
        columns=columns,
        id=ids[0] if ids else None,
        encoding=encoding,
        delimiter=delimiter,
    )
