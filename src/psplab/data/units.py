"""Units as a metallurgist writes them, read strictly: an unknown unit is an error, never a guess.

One shared pint registry (:func:`unit_registry`) that also knows

* **hardness scales** ``HV``, ``HK``, ``HB`` (``HBW``), ``HRA``, ``HRB``, ``HRC``, ``HRD``,
  ``HRE``, ``HRF``, ``HR15N`` ... ``HR45T``, each a dimension of its own: a hardness number is
  not a pressure, and ``HV`` to ``HRC`` is an empirical correlation (ASTM E140), not a unit
  conversion, so :func:`convert` refuses it. A test load may be written after the scale
  (``HV10``, ``HV 0.5``); it is the same scale.
* **composition fractions**, each basis a dimension of its own so that a mass fraction is never
  silently compared with an atomic one (turning one into the other needs the whole composition
  and the atomic weights: :mod:`psplab.data.formula` does that):

  - mass: ``wt%`` (``wt.%``, ``mass%``, ``wt pct``), ``wppm``/``ppmw``, ``mass_fraction``;
  - atomic (amount of atoms): ``at%`` (``at.%``), ``appm``/``ppma``, ``atom_fraction``;
  - volume: ``vol%`` (``vol.%``), ``volume_fraction``;
  - no stated basis: ``%`` and ``ppm`` are plain numbers (dimensionless), convertible to each
    other and to ``1`` but not to a basis they do not state.
* **degree Celsius** only as ``degC``, ``°C``, ``celsius`` or ``degree_Celsius``; a bare ``C``
  is refused (it is the coulomb), and so is a bare ``F`` (farad; write ``degF``).

Everything else is parsed by pint after a strict check of every name in the expression: each
must be a unit pint defines exactly or an SI prefix on a unit symbol that takes prefixes
(``um``, ``MPa``, ``kJ/mol``). Names pint would only reach by splitting or guessing (``at.%`` as
percent times technical atmosphere, ``mass%`` as milliarcsecond percent) are errors.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pint

from psplab.errors import InputError

__all__ = [
    "FRACTION_UNITS",
    "HARDNESS_SCALES",
    "UnitError",
    "convert",
    "normalize_unit_text",
    "parse_unit",
    "unit_registry",
]


class UnitError(InputError):
    """A unit string psplab does not accept, or a conversion between incompatible units."""


HARDNESS_SCALES: dict[str, str] = {
    "HV": "Vickers",
    "HK": "Knoop",
    "HB": "Brinell",
    "HRA": "Rockwell A",
    "HRB": "Rockwell B",
    "HRC": "Rockwell C",
    "HRD": "Rockwell D",
    "HRE": "Rockwell E",
    "HRF": "Rockwell F",
    "HRG": "Rockwell G",
    "HR15N": "superficial Rockwell 15N",
    "HR30N": "superficial Rockwell 30N",
    "HR45N": "superficial Rockwell 45N",
    "HR15T": "superficial Rockwell 15T",
    "HR30T": "superficial Rockwell 30T",
    "HR45T": "superficial Rockwell 45T",
}
_HARDNESS_ALIASES = {"HBW": "HB", "HBS": "HB"}

# Spellings of composition fractions -> the registry's unit name. Matched on the whole unit
# text (case-insensitive, spaces and one dot allowed between the word and the sign).
FRACTION_UNITS: dict[str, str] = {
    "wt%": "wt_percent",
    "mass%": "wt_percent",
    "wtpct": "wt_percent",
    "wt_pct": "wt_percent",
    "wtpercent": "wt_percent",
    "wppm": "wt_ppm",
    "ppmw": "wt_ppm",
    "at%": "at_percent",
    "atpct": "at_percent",
    "at_pct": "at_percent",
    "atpercent": "at_percent",
    "appm": "at_ppm",
    "ppma": "at_ppm",
    "vol%": "vol_percent",
    "volpct": "vol_percent",
    "vol_pct": "vol_percent",
    "%": "percent",
    "ppm": "ppm",
}
_FRACTION_RE = re.compile(r"^(wt|mass|at|vol)\s*\.?\s*(%|pct|percent)$", re.IGNORECASE)
_INNER_FRACTION_RE = re.compile(r"\b(wt|mass|at|vol)\s*\.?\s*%", re.IGNORECASE)

# Names pint defines that a materials table almost never means: refused with what was meant.
_TRAPS = {
    "C": "'C' is the coulomb; write degC (or °C) for degree Celsius, coulomb for charge",
    "F": "'F' is the farad; write degF (or °F) for degree Fahrenheit, farad for capacitance",
    "at": "'at' is the technical atmosphere; write at% for atomic percent, or technical_atmosphere",
    "mas": "'mas' is the milliarcsecond; write mass% or wt% for mass percent",
    "wt": "write wt% for mass percent",
}
# Unit symbols an SI prefix may be put on (um, MPa, kJ, mol/L ...). Prefixes on anything else
# (k + HV, m + as) are refused: they are how pint turns a typo into a wrong unit.
_PREFIXABLE = {
    "m", "g", "s", "A", "K", "mol", "cd", "Pa", "N", "J", "W", "V", "Hz", "L", "l", "eV", "Ohm",
    "Ω", "S", "T", "Wb", "H", "Gy", "Sv", "Bq", "lm", "lx", "bar", "t", "Da", "M", "rad", "sr",
    "meter", "metre", "gram", "second", "ampere", "kelvin", "mole", "pascal", "newton",
    "joule", "watt", "volt", "hertz", "liter", "litre", "electron_volt", "ohm", "siemens",
    "tesla", "weber", "henry", "gray", "becquerel",
}  # fmt: skip
_SI_PREFIX_SYMBOLS = {
    "Q", "R", "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "da", "d", "c", "m", "u", "µ", "μ",
    "n", "p", "f", "a", "z", "y", "r", "q",
}  # fmt: skip
_SUPERSCRIPTS = str.maketrans({"²": "**2", "³": "**3", "¹": "**1", "⁻": "**-", "·": "*"})
_TOKEN_RE = re.compile(
    r"\s*(?:(\*\*|\^|\*|/|\(|\))|([A-Za-zµμΩÅ_][A-Za-z0-9µμΩÅ_]*)|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(%))"
)


@lru_cache(maxsize=1)
def unit_registry() -> pint.UnitRegistry:
    """The registry every psplab module uses (one instance, so quantities are compatible).

    Returns
    -------
    pint.UnitRegistry
        pint's default units plus the hardness scales and composition fractions of this module.
    """
    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    for scale, name in HARDNESS_SCALES.items():
        dim = "hardness_" + name.lower().replace(" ", "_")
        ureg.define(f"{scale} = [{dim}]")
    # One base unit per basis; a wt% and an at% column are different quantities.
    ureg.define("mass_fraction = [mass_fraction]")
    ureg.define("atom_fraction = [atom_fraction]")
    ureg.define("volume_fraction = [volume_fraction]")
    ureg.define("wt_percent = 0.01 * mass_fraction")
    ureg.define("wt_ppm = 1e-6 * mass_fraction")
    ureg.define("at_percent = 0.01 * atom_fraction")
    ureg.define("at_ppm = 1e-6 * atom_fraction")
    ureg.define("vol_percent = 0.01 * volume_fraction")
    return ureg


def normalize_unit_text(text: str) -> str:
    """The registry expression for a unit as written in a spec (``wt.%`` -> ``wt_percent``).

    Parameters
    ----------
    text : str
        The unit as written.

    Returns
    -------
    str
        A pint expression with psplab's spellings replaced (hardness scales without their test
        load, composition fractions by name, ``°C`` as ``degC``, superscripts as powers).
    """
    stripped = str(text).strip()
    compact = stripped.replace(" ", "")
    match = _FRACTION_RE.match(stripped)
    if match:
        basis = {"mass": "wt"}.get(match.group(1).lower(), match.group(1).lower())
        return FRACTION_UNITS[basis + "%"]
    if compact.lower() in FRACTION_UNITS:
        return FRACTION_UNITS[compact.lower()]
    hardness = re.match(r"^(H[A-Z0-9]*?)\s*(\d+(?:\.\d+)?)?$", stripped)
    if hardness:
        scale = _HARDNESS_ALIASES.get(hardness.group(1), hardness.group(1))
        if scale in HARDNESS_SCALES:
            return scale
    for celsius in ("°C", "℃", "º C", "° C", "ºC"):
        stripped = stripped.replace(celsius, "degC")
    stripped = stripped.replace("°F", "degF").replace("μ", "u").replace("µ", "u")
    # Fractions inside a compound unit (HV/wt%): by name, so the tokenizer sees one unit.
    stripped = _INNER_FRACTION_RE.sub(
        lambda m: FRACTION_UNITS[{"mass": "wt"}.get(m.group(1).lower(), m.group(1).lower()) + "%"],
        stripped,
    )
    return stripped.translate(_SUPERSCRIPTS)


def _check_name(ureg: pint.UnitRegistry, name: str, text: str) -> None:
    """Refuse a name pint would read only by splitting it, or a known trap."""
    if name in _TRAPS:
        raise UnitError(f"unit {text!r}: {_TRAPS[name]}")
    if name in ureg._units:  # noqa: SLF001 - an exact name, symbol or alias
        return
    candidates = ureg.parse_unit_name(name, case_sensitive=True)
    for prefix, unit, suffix in candidates:
        if suffix and suffix != "s":
            continue
        symbol = ureg.get_symbol(unit) if unit else ""
        exact = name in (unit, unit + suffix, symbol) or name in ureg._units  # noqa: SLF001
        if not prefix and not suffix and exact:
            return
        if not prefix and name == unit + "s" and len(unit) > 2:
            return  # plural of a full name: hours, seconds
        prefix_symbol = name[: len(name) - len(symbol)] if name.endswith(symbol) else None
        if prefix and not suffix and symbol in _PREFIXABLE and prefix_symbol in _SI_PREFIX_SYMBOLS:
            return  # um, MPa, kJ
        if prefix and not suffix and name == prefix + unit and unit in _PREFIXABLE:
            return  # micrometer, megapascal
    power = re.match(r"^(.*?[A-Za-z])(\d+)$", name)
    if power and power.group(1) not in _TRAPS:
        try:
            _check_name(ureg, power.group(1), text)
        except UnitError:
            pass
        else:
            raise UnitError(
                f"unit {text!r}: write powers with ** or ^ (e.g. {power.group(1)}^{power.group(2)})"
            )
    raise UnitError(
        f"unknown unit {text!r} ({name!r} is not a unit psplab accepts; see docs/spec.md)"
    )


def _check_expression(ureg: pint.UnitRegistry, expression: str, text: str) -> None:
    """Tokenize ``expression``; every name must be a unit, and names need an operator between."""
    pos, previous = 0, None
    while pos < len(expression):
        match = _TOKEN_RE.match(expression, pos)
        if match is None or match.end() == pos:
            bad = expression[pos:].strip()[:1] or expression[pos:][:1]
            raise UnitError(f"unknown unit {text!r} (cannot read {bad!r} in it)")
        operator, name, number, percent = match.groups()
        glued = match.start() == pos and not expression[pos].isspace()
        kind = "op" if operator else "name" if (name or percent) else "number"
        if kind == "name" and previous in ("name", "number") and glued:
            raise UnitError(
                f"unknown unit {text!r} (accepted fractions: wt%, at%, vol%, %, ppm, wppm, appm)"
                if percent or previous == "number"
                else f"unknown unit {text!r} (two names without an operator; write * or / between)"
            )
        if kind == "number" and previous == "name" and glued:
            raise UnitError(f"unit {text!r}: write powers with ** or ^ (e.g. mm^2)")
        if (
            kind == "number"
            and previous not in ("**", "^")
            and not _is_unit_numerator(expression, match)
        ):
            raise UnitError(
                f"unit {text!r}: a unit cannot hold a number (use a prefixed unit instead, "
                "e.g. um for 1e-6 m, or rescale the column)"
            )
        if name:
            _check_name(ureg, name, text)
        if percent and expression.strip() != "%":
            raise UnitError(f"unit {text!r}: % may only stand alone (or write wt%, at%, vol%)")
        previous = "name" if (name or percent) else ("number" if number else operator)
        pos = match.end()


def _is_unit_numerator(expression: str, match: re.Match) -> bool:
    """Whether a number token is the ``1`` of ``1/x`` (the only number allowed outside powers)."""
    rest = expression[match.end() :].lstrip()
    return match.group(3) == "1" and rest.startswith("/")


def parse_unit(text: str) -> pint.Unit:
    """Parse a unit string strictly.

    Parameters
    ----------
    text : str
        The unit as written in a spec (``"degC"``, ``"MPa"``, ``"wt%"``, ``"HV10"``, ``"1/mm^2"``);
        an empty string is dimensionless.

    Returns
    -------
    pint.Unit
        The unit in :func:`unit_registry`.

    Raises
    ------
    UnitError
        (a ``ValueError``) naming the text: an unknown name, a known trap (``C``, ``at``), a
        scaling factor, or anything pint cannot parse.
    """
    if not isinstance(text, str):
        raise UnitError(f"unit must be text, got {text!r}")
    ureg = unit_registry()
    expression = normalize_unit_text(text)
    if expression in ("", "1", "dimensionless"):
        return ureg.dimensionless
    if expression in _TRAPS:
        raise UnitError(f"unit {text!r}: {_TRAPS[expression]}")
    _check_expression(ureg, expression, text)
    try:
        unit = ureg.parse_units(expression)
    except Exception as exc:  # pint raises several exception types for bad input
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnitError(f"unknown unit {text!r} ({reason})") from exc
    return unit


def convert(values, from_unit: str, to_unit: str):
    """Convert numbers (scalar or array) between two unit strings.

    Parameters
    ----------
    values : float or array-like
        Magnitudes in ``from_unit``.
    from_unit, to_unit : str
        Units as :func:`parse_unit` reads them.

    Returns
    -------
    float or numpy.ndarray
        The magnitudes in ``to_unit``.

    Raises
    ------
    UnitError
        For an unknown unit, or units of different quantities (``HV`` to ``HRC``, ``wt%`` to
        ``at%``, ``%`` to ``wt%``), with what to do instead.
    """
    ureg = unit_registry()
    source, target = parse_unit(from_unit), parse_unit(to_unit)
    try:
        return ureg.Quantity(values, source).to(target).magnitude
    except pint.DimensionalityError as exc:
        raise UnitError(_why_not(from_unit, to_unit, source, target)) from exc


def _why_not(from_text: str, to_text: str, source: pint.Unit, target: pint.Unit) -> str:
    dims = {str(d) for u in (source, target) for d in u.dimensionality}
    message = f"cannot convert {from_text!r} to {to_text!r}: they measure different quantities"
    if any(d.startswith("[hardness_") for d in dims):
        return (
            message + " (hardness scales are not unit conversions of each other; HV to HRC needs "
            "an empirical table such as ASTM E140, for the material tested)"
        )
    if dims & {"[mass_fraction]", "[atom_fraction]", "[volume_fraction]"}:
        return (
            message + " (mass, atomic and volume fractions differ by the atomic weights or "
            "densities of the whole composition; use psplab.data.formula for mass <-> atomic)"
        )
    return message
