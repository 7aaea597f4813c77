"""Alloy compositions written as text: ``Al0.5CoCrFeNi`` and ``Fe-18Cr-8Ni``.

Two notations are read, each cell by its own look:

* **Formula** (``Al0.5CoCrFeNi``, ``Ti50Ni50``, ``(CoCrFeNi)90Al10``): element symbols, each
  followed by an optional amount (1 when absent). A parenthesised group must carry an amount,
  which is shared among the group in the group's own proportions (the alloy convention:
  ``(CoCrFeNi)90Al10`` is 22.5 % each of Co, Cr, Fe, Ni and 10 % Al).
  Amounts are *atomic* proportions unless the spec says ``basis = "mass"``; they are normalised
  to fractions summing to 1 (``Al0.5CoCrFeNi`` is Al 0.111, Co/Cr/Fe/Ni 0.222 each).
* **Balance notation** (``Fe-18Cr-8Ni``, ``Ti-6Al-4V``): the first element is the balance and
  every ``-<number><element>`` is that many *mass* percent unless the spec says
  ``basis = "atomic"`` (then atomic percent); the balance element takes ``100 - sum``.

:func:`composition_fractions` turns the amounts into fractions on the requested basis; going
between mass and atomic fractions uses the IUPAC standard atomic weights in
:data:`ATOMIC_WEIGHTS` (conventional values; mass numbers of the most stable isotope for
elements without a standard weight).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "ATOMIC_WEIGHTS",
    "BASES",
    "ELEMENTS",
    "FormulaError",
    "composition_fractions",
    "convert_fractions",
    "fraction_matrix",
    "order_elements",
    "parse_composition",
]

BASES = ("atomic", "mass")
MAX_FORMULA_CHARS = 200  # longer cells are not compositions (and would cost regex time)

# Standard atomic weights (IUPAC, abridged to 4-5 significant figures): symbol and weight in
# order of atomic number, a line per block of each period (s, then d or f, then p).
_WEIGHTS_BY_PERIOD = """
H 1.008 He 4.0026
Li 6.94 Be 9.0122
B 10.81 C 12.011 N 14.007 O 15.999 F 18.998 Ne 20.180
Na 22.990 Mg 24.305
Al 26.982 Si 28.085 P 30.974 S 32.06 Cl 35.45 Ar 39.95
K 39.098 Ca 40.078 Sc 44.956 Ti 47.867 V 50.942 Cr 51.996 Mn 54.938 Fe 55.845 Co 58.933 Ni 58.693 Cu 63.546 Zn 65.38
Ga 69.723 Ge 72.630 As 74.922 Se 78.971 Br 79.904 Kr 83.798
Rb 85.468 Sr 87.62 Y 88.906 Zr 91.224 Nb 92.906 Mo 95.95 Tc 97.0 Ru 101.07 Rh 102.91 Pd 106.42 Ag 107.87 Cd 112.41
In 114.82 Sn 118.71 Sb 121.76 Te 127.60 I 126.90 Xe 131.29
Cs 132.91 Ba 137.33
La 138.91 Ce 140.12 Pr 140.91 Nd 144.24 Pm 145.0 Sm 150.36 Eu 151.96 Gd 157.25 Tb 158.93 Dy 162.50 Ho 164.93 Er 167.26 Tm 168.93 Yb 173.05 Lu 174.97
Hf 178.49 Ta 180.95 W 183.84 Re 186.21 Os 190.23 Ir 192.22 Pt 195.08 Au 196.97 Hg 200.59
Tl 204.38 Pb 207.2 Bi 208.98 Po 209.0 At 210.0 Rn 222.0
Fr 223.0 Ra 226.0
Ac 227.0 Th 232.04 Pa 231.04 U 238.03 Np 237.0 Pu 244.0 Am 243.0 Cm 247.0 Bk 247.0 Cf 251.0 Es 252.0 Fm 257.0 Md 258.0 No 259.0 Lr 266.0
"""
_SYMBOL_WEIGHT = _WEIGHTS_BY_PERIOD.split()
ATOMIC_WEIGHTS: dict[str, float] = {
    symbol: float(weight)
    for symbol, weight in zip(_SYMBOL_WEIGHT[::2], _SYMBOL_WEIGHT[1::2], strict=True)
}
ELEMENTS: tuple[str, ...] = tuple(ATOMIC_WEIGHTS)  # in order of atomic number

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_BALANCE_RE = re.compile(rf"^([A-Z][a-z]?)((?:-{_NUMBER}[A-Z][a-z]?)+)$")
_ADDITION_RE = re.compile(rf"-({_NUMBER})([A-Z][a-z]?)")
_TOKEN_RE = re.compile(rf"([A-Z][a-z]?)|(\()|(\))({_NUMBER})?|({_NUMBER})")


class FormulaError(ValueError):
    """A composition text that cannot be read; the message says why (without the row)."""


def _element(symbol: str, text: str) -> str:
    if symbol not in ATOMIC_WEIGHTS:
        raise FormulaError(f"{symbol!r} in {text!r} is not an element symbol")
    return symbol


def _parse_balance(text: str, match: re.Match) -> dict[str, float]:
    base = _element(match.group(1), text)
    amounts: dict[str, float] = {}
    for number, symbol in _ADDITION_RE.findall(match.group(2)):
        el = _element(symbol, text)
        if el == base:
            raise FormulaError(f"{text!r} lists the balance element {base} again")
        amounts[el] = amounts.get(el, 0.0) + float(number)
    total = sum(amounts.values())
    if total >= 100.0:
        raise FormulaError(
            f"the additions in {text!r} sum to {total:g} %, leaving nothing for the balance {base}"
        )
    return {base: 100.0 - total, **amounts}


def _parse_formula(text: str) -> dict[str, float]:
    """Recursive-descent read of ``Al0.5CoCrFeNi`` / ``(CoCrFeNi)90Al10`` into amounts."""
    stack: list[dict[str, float]] = [{}]
    pos, last = 0, None  # last: the element just read (an amount may follow it)
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise FormulaError(f"cannot read {text[pos : pos + 10]!r} in {text!r}")
        symbol, opening, closing, multiplier, number = match.groups()
        if symbol:
            last = _element(symbol, text)
            stack[-1][last] = stack[-1].get(last, 0.0) + 1.0
        elif number is not None:
            if last is None:
                raise FormulaError(f"a number in {text!r} does not follow an element")
            stack[-1][last] += float(number) - 1.0
            last = None
        elif opening:
            if len(stack) > 4:
                raise FormulaError(f"{text!r} nests parentheses too deeply")
            stack.append({})
            last = None
        else:  # closing parenthesis, with an optional multiplier
            if len(stack) == 1:
                raise FormulaError(f"unbalanced ')' in {text!r}")
            group = stack.pop()
            if multiplier is None:
                raise FormulaError(f"a group in {text!r} needs its amount, e.g. (CoCrFeNi)90Al10")
            total = sum(group.values())
            if not total > 0:
                raise FormulaError(f"a group in {text!r} holds no positive amount")
            # Alloy convention: the group's amount is shared in the group's own proportions.
            for el, amount in group.items():
                stack[-1][el] = stack[-1].get(el, 0.0) + float(multiplier) * amount / total
            last = None
        pos = match.end()
    if len(stack) != 1:
        raise FormulaError(f"unbalanced '(' in {text!r}")
    return stack[0]


def parse_composition(text: str) -> tuple[dict[str, float], str]:
    """Read one composition text into element amounts and the notation's default basis.

    Parameters
    ----------
    text : str
        ``Al0.5CoCrFeNi`` (formula) or ``Fe-18Cr-8Ni`` (balance notation); spaces are ignored.

    Returns
    -------
    amounts : dict
        Element symbol -> amount (formula proportions, or percent in balance notation; the
        balance element holds ``100 - sum``), in order of first appearance.
    default_basis : str
        ``"atomic"`` for a formula, ``"mass"`` for balance notation.

    Raises
    ------
    FormulaError
        For an unknown element symbol, a stray character, unbalanced parentheses, additions of
        100 % or more, or a composition with no positive amount.
    """
    if not isinstance(text, str):
        raise FormulaError(f"{text!r} is not text")
    compact = re.sub(r"\s+", "", text)
    if not compact:
        raise FormulaError("empty composition")
    if len(compact) > MAX_FORMULA_CHARS:
        raise FormulaError(f"{len(compact)} characters is too long for a composition")
    balance = _BALANCE_RE.match(compact)
    if balance:
        return _parse_balance(text, balance), "mass"
    if "-" in compact:
        raise FormulaError(
            f"cannot read {text!r}: balance notation is <element>-<number><element>-... "
            "(e.g. Fe-18Cr-8Ni)"
        )
    amounts = _parse_formula(compact)
    if not amounts or sum(amounts.values()) <= 0:
        raise FormulaError(f"{text!r} holds no positive amount")
    if any(v < 0 for v in amounts.values()):
        raise FormulaError(f"{text!r} has a negative amount")
    return amounts, "atomic"


def convert_fractions(fractions: Mapping[str, float], source: str, target: str) -> dict[str, float]:
    """Mass fractions to atomic fractions or back (standard atomic weights).

    Parameters
    ----------
    fractions : mapping
        Element -> fraction on the ``source`` basis (any positive scale; normalised).
    source, target : str
        ``"atomic"`` or ``"mass"``.

    Returns
    -------
    dict
        Element -> fraction on the ``target`` basis, summing to 1.
    """
    for basis in (source, target):
        if basis not in BASES:
            raise ValueError(f"basis {basis!r} is not one of {', '.join(BASES)}")
    weights = {el: float(v) for el, v in fractions.items()}
    if source != target:
        for el in weights:
            factor = ATOMIC_WEIGHTS[el]
            weights[el] = weights[el] * factor if source == "atomic" else weights[el] / factor
    total = sum(weights.values())
    if not total > 0:
        raise ValueError("fractions must have a positive sum")
    return {el: v / total for el, v in weights.items()}


def composition_fractions(
    text: str, basis: str | None = None, fractions: str = "atomic"
) -> dict[str, float]:
    """Element fractions of one composition text.

    Parameters
    ----------
    text : str
        A formula or balance-notation composition (see :func:`parse_composition`).
    basis : {"atomic", "mass"}, optional
        How the numbers in ``text`` are read; default by notation (formula atomic, balance
        notation mass percent).
    fractions : {"atomic", "mass"}
        Basis of the returned fractions.

    Returns
    -------
    dict
        Element -> fraction, summing to 1.
    """
    amounts, default_basis = parse_composition(text)
    return convert_fractions(amounts, basis or default_basis, fractions)


def order_elements(elements: Iterable[str]) -> list[str]:
    """Element symbols in order of atomic number (unknown symbols last, alphabetically).

    Parameters
    ----------
    elements : iterable of str

    Returns
    -------
    list of str
        Each symbol once.
    """
    rank = {el: i for i, el in enumerate(ELEMENTS)}
    return sorted(set(elements), key=lambda el: (rank.get(el, len(rank)), el))


def fraction_matrix(
    rows: Sequence[Mapping[str, float] | None], elements: Sequence[str]
) -> np.ndarray:
    """Rows of fractions as an array.

    Parameters
    ----------
    rows : sequence
        One ``{element: fraction}`` mapping per row, or None for a row that could not be read.
    elements : sequence of str
        The columns, in order.

    Returns
    -------
    numpy.ndarray
        ``(len(rows), len(elements))``; zeros for absent elements, NaN for a None row.
    """
    out = np.zeros((len(rows), len(elements)))
    index = {el: j for j, el in enumerate(elements)}
    for i, row in enumerate(rows):
        if row is None:
            out[i] = np.nan
            continue
        for el, value in row.items():
            out[i, index[el]] = value
    return out
