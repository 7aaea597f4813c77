"""Units: a shared pint registry that also knows ``wt%``, ``at%`` and ``%``."""

from __future__ import annotations

from functools import lru_cache

import pint

_EXTRA_NAMES = {"wt%": "wt_percent", "at%": "at_percent", "%": "percent"}


@lru_cache(maxsize=1)
def unit_registry() -> pint.UnitRegistry:
    """The registry every psplab module uses (one instance, so quantities are compatible)."""
    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    # Mass and atomic percent are dimensionless fractions with their own names, so a wt% column
    # is never silently compared with an at% one.
    if "wt_percent" not in ureg:
        ureg.define("wt_percent = 0.01 = wtpct")
    if "at_percent" not in ureg:
        ureg.define("at_percent = 0.01 = atpct")
    return ureg


def normalize_unit_text(text: str) -> str:
    """Map the spec's spellings (``wt%``, ``at%``, ``%``) to names pint parses."""
    stripped = text.strip()
    return _EXTRA_NAMES.get(stripped, stripped)


def parse_unit(text: str) -> pint.Unit:
    """Parse a unit string; raise ``ValueError`` with the offending text if pint cannot."""
    ureg = unit_registry()
    normalized = normalize_unit_text(text)
    if normalized == "":
        return ureg.dimensionless
    try:
        unit = ureg.parse_units(normalized)
    except Exception as exc:  # pint raises several exception types for bad input
        raise ValueError(f"unknown unit {text!r}") from exc
    return unit


def convert(values, from_unit: str, to_unit: str):
    """Convert numbers (scalar or array) between two unit strings."""
    ureg = unit_registry()
    quantity = ureg.Quantity(values, parse_unit(from_unit))
    return quantity.to(parse_unit(to_unit)).magnitude
