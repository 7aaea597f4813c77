"""Units as metallurgists write them: named, dimension-checked, never guessed."""

from __future__ import annotations

import pytest

from psplab.data.units import HARDNESS_SCALES, UnitError, convert, parse_unit


@pytest.mark.parametrize("scale", sorted(HARDNESS_SCALES))
def test_every_hardness_scale_is_a_unit_of_its_own(scale):
    unit = parse_unit(scale)
    assert str(unit) == scale
    # A number on one scale converts to itself and to nothing else: not to a pressure, not to
    # another scale (HV -> HRC is an empirical correlation, not a unit conversion).
    assert convert(412.0, scale, scale) == 412.0
    with pytest.raises(UnitError, match="different quantities"):
        convert(1.0, scale, "MPa")
    other = "HRC" if scale != "HRC" else "HV"
    with pytest.raises(UnitError, match="not unit conversions of each other"):
        convert(1.0, scale, other)


@pytest.mark.parametrize(("text", "scale"), [("HV10", "HV"), ("HV 0.5", "HV"), ("HBW", "HB")])
def test_test_loads_and_brinell_ball_spellings_name_the_scale(text, scale):
    assert parse_unit(text) == parse_unit(scale)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("wt%", "wt_percent"),
        ("wt.%", "wt_percent"),
        ("mass%", "wt_percent"),
        ("Mass %", "wt_percent"),
        ("at%", "at_percent"),
        ("at.%", "at_percent"),
        ("vol%", "vol_percent"),
        ("ppm", "ppm"),
        ("wppm", "wt_ppm"),
        ("appm", "at_ppm"),
        ("%", "percent"),
    ],
)
def test_composition_spellings_are_fractions_on_their_basis(text, name):
    assert str(parse_unit(text)) == name


def test_fractions_convert_within_their_basis_and_never_across():
    assert convert(1.0, "wt%", "mass_fraction") == pytest.approx(0.01)
    assert convert(1.0, "wt%", "wppm") == pytest.approx(1e4)
    assert convert(50.0, "at%", "atom_fraction") == pytest.approx(0.5)
    assert convert(250.0, "ppm", "%") == pytest.approx(0.025)
    for a, b in (("wt%", "at%"), ("at%", "vol%"), ("%", "wt%"), ("ppm", "wppm")):
        with pytest.raises(UnitError, match="different quantities"):
            convert(1.0, a, b)


def test_degree_celsius_only_by_its_names_and_never_a_bare_c():
    for text in ("degC", "°C", "celsius", "degree_Celsius"):
        assert convert(100.0, text, "K") == pytest.approx(373.15)
    with pytest.raises(UnitError, match="coulomb; write degC"):
        parse_unit("C")
    with pytest.raises(UnitError, match="farad; write degF"):
        parse_unit("F")
    assert convert(212.0, "°F", "degC") == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("blorp", "unknown unit 'blorp'"),
        ("mas", "milliarcsecond"),  # pint alone reads mass% as milliarcsecond percent
        ("at", "technical atmosphere"),  # and at.% as percent times technical atmosphere
        ("mol%", "unknown unit 'mol%'"),
        ("mm2", "write powers with"),
        ("1e-18 m^2/s", "cannot hold a number"),
        ("5", "cannot hold a number"),
        ("kHV", "unknown unit 'kHV'"),
        ("MPa MPa%", "may only stand alone|unknown unit"),
        (5, "unit must be text"),
    ],
)
def test_unknown_or_ambiguous_units_are_errors_not_guesses(text, match):
    with pytest.raises(UnitError, match=match):
        parse_unit(text)


@pytest.mark.parametrize(
    ("text", "to", "factor"),
    [
        ("um", "m", 1e-6),
        ("µm", "mm", 1e-3),
        ("MPa", "Pa", 1e6),
        ("kJ/mol", "J/mol", 1e3),
        ("1/mm^2", "1/m**2", 1e6),
        ("m²/s", "cm^2/s", 1e4),
        ("MPa*m^0.5", "Pa m^0.5", 1e6),
        ("h", "s", 3600.0),
        ("hours", "min", 60.0),
        ("K/s", "K/min", 60.0),
        ("HV/wt%", "HV/mass_fraction", 100.0),
    ],
)
def test_everyday_units_parse_and_convert(text, to, factor):
    assert convert(1.0, text, to) == pytest.approx(factor)
