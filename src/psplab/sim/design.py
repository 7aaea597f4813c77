"""Recipe designs: recipes of an alloy family sampled within its bounds (no JAX needed)."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from psplab.errors import InputError
from psplab.sim.families import RECIPE_PARAMS, Recipe, get_family

# Times and rates span decades within the bounds: sampled uniformly in their logarithm.
LOG_PARAMS: tuple[str, ...] = ("hold_time_s", "cooling_rate_K_per_s")
DESIGNS = ("lhs", "random")


def family_bounds(
    family: str, bounds: Mapping[str, Sequence[float]] | None = None
) -> dict[str, tuple[float, float]]:
    """The family's recipe bounds with ``bounds`` overriding some of them.

    Parameters
    ----------
    family : str
        Family key.
    bounds : mapping, optional
        ``{param: (low, high)}`` narrowing the family's bounds.

    Returns
    -------
    dict
        ``{param: (low, high)}`` over every recipe parameter.

    Raises
    ------
    InputError
        For an unknown parameter, a low bound above the high one, or an override outside the
        family's bounds (the simulator rejects such recipes).
    """
    fam = get_family(family)
    out = {k: (float(lo), float(hi)) for k, (lo, hi) in fam.bounds.items()}
    problems = []
    for name, value in (bounds or {}).items():
        if name not in RECIPE_PARAMS:
            problems.append(
                f"unknown recipe parameter {name!r} (expected {', '.join(RECIPE_PARAMS)})"
            )
            continue
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            problems.append(f"{name}: bounds must be [low, high], got {value!r}")
            continue
        flo, fhi = out[name]
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            problems.append(f"{name}: low {lo:g} is above high {hi:g}")
        elif lo < flo or hi > fhi:
            problems.append(
                f"{name}: [{lo:g}, {hi:g}] is outside the {family} bounds [{flo:g}, {fhi:g}]"
            )
        else:
            out[name] = (lo, hi)
    if problems:
        raise InputError("; ".join(problems))
    return out


def load_design_config(path: str | Path) -> tuple[str | None, dict[str, tuple[float, float]]]:
    """Read a design-bounds TOML: optional ``family = "..."`` and ``[bounds]`` ``name = [lo, hi]``.

    Parameters may also be given at the top level (``hold_time_s = [60, 600]``).

    Parameters
    ----------
    path : str or Path
        Design-bounds file, e.g. ``bounds.toml``.

    Returns
    -------
    family : str or None
        The file's family, if it names one.
    bounds : dict
        ``{param: [low, high]}`` as written.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: design config not found")
    try:
        raw = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p}: not valid TOML: {exc}") from exc
    family = raw.pop("family", None)
    bounds = dict(raw.pop("bounds", {}))
    for key in list(raw):
        if key in RECIPE_PARAMS:
            bounds[key] = raw.pop(key)
    if raw:
        raise InputError(f"{p}: unknown keys {', '.join(sorted(raw))} (expected family, [bounds])")
    return (None if family is None else str(family)), bounds


def sample_recipes(
    family: str,
    n: int,
    design: str = "lhs",
    seed: int = 0,
    bounds: Mapping[str, Sequence[float]] | None = None,
) -> list:
    """Draw ``n`` recipes of ``family`` within its bounds.

    Parameters
    ----------
    family : str
        Alloy family name (``ferritic_steel``, ``al_mg``, ``ti_al``).
    n : int
        Number of recipes.
    design : str
        ``"lhs"`` (Latin hypercube: each parameter's range cut into ``n`` strata, each stratum
        sampled once; McKay, Beckman & Conover, Technometrics 21 (1979) 239) or ``"random"``.
    seed : int
        Seed of the design.
    bounds : mapping, optional
        ``{param: (low, high)}`` overriding (narrowing) the family's bounds; ``low == high``
        fixes a parameter.

    Returns
    -------
    list of psplab.sim.Recipe
        :data:`LOG_PARAMS` are sampled uniformly in their logarithm.
    """
    from scipy.stats import qmc

    if design not in DESIGNS:
        raise InputError(f"unknown design {design!r} (expected one of {', '.join(DESIGNS)})")
    if int(n) != n or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    b = family_bounds(family, bounds)
    d = len(RECIPE_PARAMS)
    if design == "lhs":
        u = qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed)).random(int(n))
    else:
        u = np.random.default_rng(seed).random((int(n), d))
    recipes = []
    for row in u:
        values = {}
        for j, name in enumerate(RECIPE_PARAMS):
            lo, hi = b[name]
            if name in LOG_PARAMS and lo > 0:
                v = math.exp(math.log(lo) + row[j] * (math.log(hi) - math.log(lo)))
            else:
                v = lo + row[j] * (hi - lo)
            values[name] = float(min(max(v, lo), hi))
        recipes.append(Recipe(family=family, **values))
    return recipes
