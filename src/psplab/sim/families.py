"""Alloy families, processing recipes, their thermal histories and kinetic laws.

A :class:`Recipe` is one processing route: solute content, prior cold deformation, a heat-hold-
cool temperature history. An :class:`AlloyFamily` holds the bounds of each recipe parameter and
the material constants of its kinetics (one TOML file per family in ``psplab/data/families``):

* grain growth: the recrystallized size ``d0`` after the prior strain, then the parabolic law
  ``d² = d0² + K_gg`` with ``K_gg = ∫ k0 exp(-Q_gb / R T(t)) dt`` over the whole heat-hold-cool
  history (µm²);
* precipitation: the lever-rule fraction at the freeze-in temperature of cooling; particles
  nucleated at ``nucleation_density_per_m3`` grow to that fraction (radius ``R_n``) and coarsen
  by the LSW law ``R³ - R_n³ = L_c K_ch`` with ``K_ch = ∫ D(T(t)) dt`` over the part of the
  history during which the solute is supersaturated (µm²) and ``L_c`` the family's coarsening
  length (``8 γ V_m x_e / (9 R T)``).

Material constants are order-of-magnitude literature values (sources in each family's file);
``gg_k0_um2_per_s`` and ``freeze_length_um`` are fit constants (the freeze lengths come out
below atomic distances). They are not claims about a specific heat of material.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from psplab.errors import InputError

R_GAS = 8.314462618  # J/(mol K)
T_ROOM_C = 25.0

RECIPE_PARAMS: tuple[str, ...] = (
    "solute_wt_pct",
    "deformation_strain",
    "hold_temperature_C",
    "hold_time_s",
    "cooling_rate_K_per_s",
)

RECIPE_UNITS: dict[str, str] = {
    "solute_wt_pct": "wt%",
    "deformation_strain": "dimensionless",
    "hold_temperature_C": "degC",
    "hold_time_s": "s",
    "cooling_rate_K_per_s": "K/s",
}


@dataclass(frozen=True)
class Recipe:
    """One processing route of an alloy family.

    Parameters
    ----------
    family : str
        Key of :data:`FAMILIES`.
    solute_wt_pct : float
        Solute content (Cu, Mg or Al, see the family) in wt%.
    deformation_strain : float
        True strain of the prior cold deformation; sets the recrystallized grain size.
    hold_temperature_C : float
        Annealing (hold) temperature in °C.
    hold_time_s : float
        Time at the hold temperature in s.
    cooling_rate_K_per_s : float
        Constant cooling rate from the hold temperature to room temperature in K/s.
    """

    family: str
    solute_wt_pct: float
    deformation_strain: float
    hold_temperature_C: float
    hold_time_s: float
    cooling_rate_K_per_s: float

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` (JSON-able) with the family and the :data:`RECIPE_PARAMS`."""
        return {k: (v if isinstance(v, str) else float(v)) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        """Inverse of :meth:`to_dict`; extra keys are ignored, missing keys raise ``KeyError``.

        Parameters
        ----------
        d : dict
            ``family`` and the :data:`RECIPE_PARAMS`.

        Returns
        -------
        Recipe
        """
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in d]
        if missing:
            raise KeyError(f"recipe is missing {', '.join(missing)}")
        return cls(
            family=str(d["family"]),
            **{n: float(d[n]) for n in names if n != "family"},
        )

    @property
    def hold_temperature_K(self) -> float:
        """Hold temperature in K."""
        return self.hold_temperature_C + 273.15


@dataclass(frozen=True)
class AlloyFamily:
    """Bounds and material constants of one alloy family.

    Attributes
    ----------
    name, description : str
        Key in :data:`FAMILIES` and a one-line description (solute element, precipitate).
    bounds : dict
        ``{param: (low, high)}`` over :data:`RECIPE_PARAMS`, in the recipe's units.
    d_rex_ref_um, strain_ref, rex_exponent : float
        Recrystallized grain size after strain ``ε``: ``d0 = d_rex_ref_um (ε/strain_ref)^(-n)``
        (Humphreys & Hatherly 2004, §7.4: it falls with prior strain, n ≈ 0.5-1).
    q_gb_J_per_mol, gg_k0_um2_per_s : float
        Parabolic grain-growth constant ``k = k0 exp(-Q_gb / RT)`` (µm²/s).
    q_diff_J_per_mol, d0_diff_m2_per_s : float
        Solute diffusion in the matrix, ``D = D0 exp(-Q/RT)``.
    solvus_A_wt_pct, solvus_B_K : float
        Solvus of the matrix ``x_s(T) = A exp(-B/T)`` in wt% (fit to the binary phase diagram).
    precipitate_wt_pct : float
        Solute content of the precipitate phase (lever rule).
    freeze_length_um : float
        Diffusion length below which precipitation stops keeping up with cooling; sets the
        freeze-in temperature of the precipitate fraction (a fit constant).
    nucleation_density_per_m3 : float
        Number of precipitates per m³ once nucleation and growth are over; with the fraction
        ``f`` it sets their radius ``R_n = (3 f / (4 π N_v))^(1/3)``.
    coarsening_length_nm : float
        LSW coarsening length ``L_c = 8 γ V_m x_e / (9 R T)``: ``R³ - R_n³ = L_c K_ch``.
    heating_rate_K_per_s : float
        Heating rate to the hold temperature (fixed per family, not a recipe parameter).
    references : tuple of str
        Sources of the constants.
    """

    name: str
    description: str
    bounds: dict[str, tuple[float, float]]
    d_rex_ref_um: float
    strain_ref: float
    rex_exponent: float
    q_gb_J_per_mol: float
    gg_k0_um2_per_s: float
    q_diff_J_per_mol: float
    d0_diff_m2_per_s: float
    solvus_A_wt_pct: float
    solvus_B_K: float
    precipitate_wt_pct: float
    freeze_length_um: float
    nucleation_density_per_m3: float
    coarsening_length_nm: float
    heating_rate_K_per_s: float = 10.0
    references: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_toml(cls, path: str | Path) -> AlloyFamily:
        """Read a family file (top-level name/description, ``[bounds]``, ``[grains]``,
        ``[precipitation]``); ``InputError`` names missing or unknown constants.

        Parameters
        ----------
        path : str or Path
            A family file like the packaged ``ti_al.toml``.

        Returns
        -------
        AlloyFamily
            The family it describes.
        """
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return _family_from_mapping(raw, str(path))

    def baseline_recipe(self) -> Recipe:
        """The recipe at the centre of :attr:`bounds`."""
        centre = {k: 0.5 * (lo + hi) for k, (lo, hi) in self.bounds.items()}
        return Recipe(family=self.name, **centre)

    # --- material laws -------------------------------------------------------------------
    def solvus_wt_pct(self, T_K: float | np.ndarray) -> float | np.ndarray:
        """Matrix solubility of the solute at ``T_K`` (wt%).

        Parameters
        ----------
        T_K : float or numpy.ndarray
            Temperature(s) in K.

        Returns
        -------
        float or numpy.ndarray
        """
        return self.solvus_A_wt_pct * np.exp(-self.solvus_B_K / np.asarray(T_K, dtype=float))

    def solvus_temperature_K(self, solute_wt_pct: float) -> float:
        """Temperature above which ``solute_wt_pct`` is fully dissolved (K); 0 if no solute.

        Parameters
        ----------
        solute_wt_pct : float
            Solute content in wt%.

        Returns
        -------
        float
        """
        if solute_wt_pct <= 0:
            return 0.0
        return float(self.solvus_B_K / math.log(self.solvus_A_wt_pct / solute_wt_pct))

    def recrystallized_grain_size_um(self, strain: float) -> float:
        """Initial (recrystallized) mean grain diameter after cold strain ``strain`` (µm).

        Parameters
        ----------
        strain : float
            True strain of the prior cold deformation.

        Returns
        -------
        float
        """
        return float(
            self.d_rex_ref_um * (max(strain, 1e-3) / self.strain_ref) ** -self.rex_exponent
        )

    def grain_growth_rate_um2_per_s(self, T_K: np.ndarray) -> np.ndarray:
        """Parabolic grain-growth constant ``k(T) = k0 exp(-Q_gb / R T)`` (µm²/s).

        Parameters
        ----------
        T_K : numpy.ndarray
            Temperatures along a history, K.

        Returns
        -------
        numpy.ndarray
            ``d(d²)/dt`` at each temperature.
        """
        return self.gg_k0_um2_per_s * np.exp(-self.q_gb_J_per_mol / (R_GAS * np.asarray(T_K)))

    def diffusivity_um2_per_s(self, T_K: np.ndarray) -> np.ndarray:
        """Solute diffusivity in the matrix (µm²/s).

        Parameters
        ----------
        T_K : numpy.ndarray
            Absolute temperature(s).

        Returns
        -------
        numpy.ndarray
            ``D0 exp(-Q/RT)`` in µm²/s, same shape.
        """
        d0 = self.d0_diff_m2_per_s * 1e12
        return d0 * np.exp(-self.q_diff_J_per_mol / (R_GAS * np.asarray(T_K)))

    def check_recipe(self, recipe: Recipe) -> None:
        """Raise :class:`~psplab.errors.InputError` naming every parameter outside :attr:`bounds`.

        Parameters
        ----------
        recipe : Recipe
            The recipe to check (its family must be this one).
        """
        problems = []
        if recipe.family != self.name:
            problems.append(f"family {recipe.family!r} is not {self.name!r}")
        for name in RECIPE_PARAMS:
            value = getattr(recipe, name)
            lo, hi = self.bounds[name]
            if not np.isfinite(value):
                problems.append(f"{name}={value} is not finite")
            elif not (lo - 1e-9 * abs(lo) - 1e-12 <= value <= hi + 1e-9 * abs(hi) + 1e-12):
                problems.append(f"{name}={value:g} outside [{lo:g}, {hi:g}]")
        if problems:
            raise InputError(f"recipe for {self.name}: " + "; ".join(problems))


_SECTIONS = ("grains", "precipitation")


def _family_from_mapping(raw: dict[str, Any], where: str) -> AlloyFamily:
    """Flatten a family file's sections into :class:`AlloyFamily` fields."""
    flat: dict[str, Any] = {k: v for k, v in raw.items() if k not in _SECTIONS}
    for section in _SECTIONS:
        flat.update(raw.get(section, {}))
    names = {f.name for f in fields(AlloyFamily)}
    optional = {"heating_rate_K_per_s", "references"}
    problems = [f"unknown constant {k!r}" for k in flat if k not in names]
    problems += [f"missing {k!r}" for k in sorted(names - optional - set(flat))]
    bounds = flat.get("bounds", {})
    if set(bounds) != set(RECIPE_PARAMS):
        problems.append(f"[bounds] must give exactly {', '.join(RECIPE_PARAMS)}")
    if problems:
        raise InputError([f"{where}: {p}" for p in problems])
    flat["bounds"] = {k: (float(lo), float(hi)) for k, (lo, hi) in bounds.items()}
    flat["references"] = tuple(flat.get("references", ()))
    return AlloyFamily(**flat)


def _packaged_families() -> dict[str, AlloyFamily]:
    folder = resources.files("psplab.data") / "families"
    out = {}
    for name in ("ferritic_steel", "al_mg", "ti_al"):
        text = (folder / f"{name}.toml").read_text(encoding="utf-8")
        out[name] = _family_from_mapping(tomllib.loads(text), f"{name}.toml")
    return out


FAMILIES: dict[str, AlloyFamily] = _packaged_families()


def get_family(name: str) -> AlloyFamily:
    """The :class:`AlloyFamily` called ``name``; ``KeyError`` lists the known ones.

    Parameters
    ----------
    name : str
        Family key (``ferritic_steel``, ``al_mg``, ``ti_al``).

    Returns
    -------
    AlloyFamily
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown alloy family {name!r}; known: {', '.join(FAMILIES)}") from None


# --- thermal history ---------------------------------------------------------------------
def temperature_history(
    recipe: Recipe, n_points: int = 400, family: AlloyFamily | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heat-hold-cool history ``(t_s, T_K, segment)`` with segment 0 heat, 1 hold, 2 cool.

    Heating at the family's fixed rate from 25 °C, holding ``hold_time_s`` at
    ``hold_temperature_C``, cooling at ``cooling_rate_K_per_s`` to 25 °C.

    Parameters
    ----------
    recipe : Recipe
        The processing route.
    n_points : int
        Samples per segment (temperature-uniform on the ramps).
    family : AlloyFamily, optional
        Its family (looked up by name if not given).

    Returns
    -------
    t_s, T_K, segment : numpy.ndarray
        Times, temperatures and segment ids.
    """
    fam = family or get_family(recipe.family)
    t_room = T_ROOM_C + 273.15
    t_hold = recipe.hold_temperature_K
    heat_s = (t_hold - t_room) / fam.heating_rate_K_per_s
    cool_s = (t_hold - t_room) / recipe.cooling_rate_K_per_s
    # Temperature is sampled uniformly on the ramps (Arrhenius integrands vary with T, not t).
    T_heat = np.linspace(t_room, t_hold, n_points)
    t_heat = (T_heat - t_room) / fam.heating_rate_K_per_s
    t_hold_pts = heat_s + np.linspace(0.0, recipe.hold_time_s, n_points)
    T_cool = np.linspace(t_hold, t_room, n_points)
    t_cool = heat_s + recipe.hold_time_s + (t_hold - T_cool) / recipe.cooling_rate_K_per_s
    t = np.concatenate([t_heat, t_hold_pts, t_cool])
    T = np.concatenate([T_heat, np.full(n_points, t_hold), T_cool])
    seg = np.repeat(np.arange(3), n_points)
    assert abs(t[-1] - (heat_s + recipe.hold_time_s + cool_s)) < 1e-6 * max(1.0, t[-1])
    return t, T, seg


def _cumtrapz(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(x))])


def grain_growth_history_um2(
    recipe: Recipe, family: AlloyFamily | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Physical time and the grain-growth integral accumulated up to it.

    Parameters
    ----------
    recipe : Recipe
        The processing route: the heat-hold-cool route to integrate.
    family : AlloyFamily, optional
        The recipe's family (gives the Arrhenius constants ``k0``, ``Q_gb``).

    Returns
    -------
    t_s : numpy.ndarray
        Times of :func:`temperature_history` (s).
    k_gg_um2 : numpy.ndarray
        ``∫_0^t k0 exp(-Q_gb / R T) dt'`` at those times (µm², non-decreasing).
    """
    fam = family or get_family(recipe.family)
    t, T, _ = temperature_history(recipe, family=fam)
    return t, _cumtrapz(fam.grain_growth_rate_um2_per_s(T), t)


def grain_growth_integral_um2(recipe: Recipe, family: AlloyFamily | None = None) -> float:
    """``K_gg = ∫ k0 exp(-Q_gb/RT(t)) dt`` over heat, hold and cool (µm²).

    The parabolic law ``d² = d0² + K_gg`` then gives the mean grain diameter
    (:func:`final_grain_size_um`).

    Parameters
    ----------
    recipe : Recipe
        The processing route: its whole history is integrated.
    family : AlloyFamily, optional
        The recipe's family (supplies ``k0`` and ``Q_gb``; by name when omitted).

    Returns
    -------
    float
        ``K_gg`` in µm².
    """
    return float(grain_growth_history_um2(recipe, family)[1][-1])


def final_grain_size_um(recipe: Recipe, family: AlloyFamily | None = None) -> float:
    """Mean grain diameter after the recipe by the family's parabolic law, ``sqrt(d0² + K_gg)``.

    Parameters
    ----------
    recipe : Recipe
        The processing route: strain sets ``d0``, the history ``K_gg``.
    family : AlloyFamily, optional
        The recipe's family (holds the recrystallization and growth constants).

    Returns
    -------
    float
        The law's mean diameter in µm.
    """
    fam = family or get_family(recipe.family)
    d0 = fam.recrystallized_grain_size_um(recipe.deformation_strain)
    return float(math.sqrt(d0 * d0 + grain_growth_integral_um2(recipe, fam)))


def freeze_temperature_K(recipe: Recipe, family: AlloyFamily | None = None) -> float:
    """Temperature at which precipitation stops keeping up with cooling (K).

    The diffusion length still available when cooling from ``T`` at rate ``r`` is
    ``ℓ²(T) ≈ D(T) R T² / (Q r)`` (the Arrhenius integral to first order); ``T_f`` solves
    ``ℓ(T_f) = freeze_length_um``. Slower cooling lowers ``T_f``; ``T_f`` never exceeds the
    hold temperature nor falls below room temperature.

    Parameters
    ----------
    recipe : Recipe
        The processing route: hold temperature and cooling rate matter.
    family : AlloyFamily, optional
        The recipe's family (solute diffusivity and ``freeze_length_um``).

    Returns
    -------
    float
        Freeze-in temperature in K, between room and hold temperature.
    """
    fam = family or get_family(recipe.family)
    r = recipe.cooling_rate_K_per_s

    def ell2(T: float) -> float:
        return float(fam.diffusivity_um2_per_s(T)) * R_GAS * T * T / (fam.q_diff_J_per_mol * r)

    lo, hi = T_ROOM_C + 273.15, recipe.hold_temperature_K
    target = fam.freeze_length_um**2
    if ell2(hi) <= target:
        return hi
    if ell2(lo) >= target:
        return lo
    for _ in range(60):  # ℓ² increases monotonically with T: bisection
        mid = 0.5 * (lo + hi)
        if ell2(mid) > target:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def precipitate_fraction_eq(recipe: Recipe, family: AlloyFamily | None = None) -> float:
    """Lever-rule precipitate (area) fraction at the freeze-in temperature, in [0, 0.45].

    Parameters
    ----------
    recipe : Recipe
        The processing route: solute content and cooling rate matter.
    family : AlloyFamily, optional
        The recipe's family (solvus, precipitate composition and diffusion).

    Returns
    -------
    float
        Area (volume) fraction of precipitate.
    """
    fam = family or get_family(recipe.family)
    x_s = float(fam.solvus_wt_pct(freeze_temperature_K(recipe, fam)))
    f = (recipe.solute_wt_pct - x_s) / (fam.precipitate_wt_pct - x_s)
    return float(np.clip(f, 0.0, 0.45))


def coarsening_integral_um2(recipe: Recipe, family: AlloyFamily | None = None) -> float:
    """``K_ch = ∫ D(T(t)) dt`` over the part of the history with supersaturated solute (µm²).

    Precipitates exist below the solvus temperature ``T_s(x)`` of the alloy. When the hold is
    below ``T_s`` the whole hold (and the heating ramp below ``T_s``) counts; when the hold is above
    ``T_s`` precipitates dissolve during it and only cooling below ``T_s`` counts. So slower
    cooling always coarsens, and hold time/temperature coarsen only for holds below the solvus.

    Parameters
    ----------
    recipe : Recipe
        The processing route: solute sets the solvus; the history the integral.
    family : AlloyFamily, optional
        The recipe's family (diffusivity and solvus of the solute).

    Returns
    -------
    float
        ``K_ch`` in µm² (0 when no part of the history is supersaturated).
    """
    fam = family or get_family(recipe.family)
    T_s = fam.solvus_temperature_K(recipe.solute_wt_pct)
    t, T, seg = temperature_history(recipe, family=fam)
    below = T < T_s
    if recipe.hold_temperature_K >= T_s:
        below &= seg == 2
    integrand = np.where(below, fam.diffusivity_um2_per_s(T), 0.0)
    return float(_cumtrapz(integrand, t)[-1])


def nucleation_radius_um(fraction: float, family: AlloyFamily) -> float:
    """Precipitate radius once nucleation and growth are over: ``(3 f / (4 π N_v))^(1/3)`` (µm).

    Parameters
    ----------
    fraction : float
        Precipitate volume fraction (lever rule).
    family : AlloyFamily
        Gives the number of precipitates per m³, ``nucleation_density_per_m3``.

    Returns
    -------
    float
        Mean radius in µm (0 without precipitate).
    """
    if fraction <= 0:
        return 0.0
    r_m = (3.0 * fraction / (4.0 * math.pi * family.nucleation_density_per_m3)) ** (1.0 / 3.0)
    return r_m * 1e6


def precipitate_radius_um(recipe: Recipe, family: AlloyFamily | None = None) -> float:
    """Mean precipitate radius after the recipe (µm): LSW coarsening from the nucleation radius.

    ``R³ = R_n³ + L_c K_ch`` with ``R_n`` from :func:`nucleation_radius_um` at the lever-rule
    fraction :func:`precipitate_fraction_eq`, ``L_c`` the family's coarsening length and
    ``K_ch`` :func:`coarsening_integral_um2`. Zero when the recipe has no precipitate.

    Parameters
    ----------
    recipe : Recipe
        The processing route: fraction, history and solvus all enter.
    family : AlloyFamily, optional
        The recipe's family (nucleation density and coarsening length).

    Returns
    -------
    float
        Mean radius in µm (0 without precipitate).
    """
    fam = family or get_family(recipe.family)
    r_n = nucleation_radius_um(precipitate_fraction_eq(recipe, fam), fam)
    if r_n <= 0:
        return 0.0
    l_c_um = fam.coarsening_length_nm * 1e-3
    return float((r_n**3 + l_c_um * coarsening_integral_um2(recipe, fam)) ** (1.0 / 3.0))
