"""Alloy families, processing recipes and their thermal histories.

A :class:`Recipe` is one processing route: solute content, prior cold deformation, a heat-hold-
cool temperature history. An :class:`AlloyFamily` holds the bounds of each recipe parameter and
the material constants that turn a recipe into the two reduced (dimensionless) times the
phase-field solvers run for:

* grain growth: ``K_gg = ∫ k0 exp(-Q_gb / R T(t)) dt`` over the whole heat-hold-cool history
  (µm², the increase of the squared mean grain diameter in the parabolic law d² - d0² = K);
* precipitate coarsening: ``K_ch = ∫ D0 exp(-Q_d / R T(t)) dt`` over the part of the history
  during which the solute is supersaturated (µm², a diffusion length squared).

Material constants are order-of-magnitude literature values (sources in each family's
docstring); the pre-factors ``gg_k0_um2_per_s`` and ``ch_k_mid_um2`` are calibrations chosen
so that each family's bounds fill the window the 64-128 pixel simulations can resolve. They are
documented as such and are not claims about a specific heat of material.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

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
    "deformation_strain": "",
    "hold_temperature_C": "degC",
    "hold_time_s": "s",
    "cooling_rate_K_per_s": "K/s",
}


@dataclass(frozen=True)
class Recipe:
    """One processing route of an alloy family.

    Parameters
    ----------
    family
        Key of :data:`FAMILIES`.
    solute_wt_pct
        Solute content (Cu, Mg or Al, see the family) in wt%.
    deformation_strain
        True strain of the prior cold deformation; sets the recrystallized grain size.
    hold_temperature_C
        Annealing (hold) temperature in °C.
    hold_time_s
        Time at the hold temperature in s.
    cooling_rate_K_per_s
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
        """Inverse of :meth:`to_dict`; extra keys are ignored, missing keys raise ``KeyError``."""
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
    name, description
        Key in :data:`FAMILIES` and a one-line description (solute element, precipitate).
    bounds
        ``{param: (low, high)}`` over :data:`RECIPE_PARAMS`, in the recipe's units.
    pixel_um
        Pixel size of the simulated micrographs in µm (independent of the grid size, so the
        grid only sets the field of view).
    d_rex_ref_um, strain_ref, rex_exponent
        Recrystallized grain size after strain ``ε``: ``d0 = d_rex_ref_um (ε/strain_ref)^(-n)``
        (Humphreys & Hatherly, *Recrystallization and Related Annealing Phenomena*, 2004, §7.4:
        the recrystallized grain size falls with prior strain, n ≈ 0.5-1).
    q_gb_J_per_mol
        Activation energy of grain-boundary migration.
    gg_k0_um2_per_s
        Pre-factor ``k0`` of the parabolic grain-growth constant ``k = k0 exp(-Q/RT)``
        (calibrated so that the median recipe, sampling the bounds uniformly and hold time and
        cooling rate log-uniformly as ``psplab.generate`` does, uses half of the simulation's
        grain-growth window).
    q_diff_J_per_mol, d0_diff_m2_per_s
        Solute diffusion in the matrix, ``D = D0 exp(-Q/RT)``.
    ch_k_mid_um2
        Diffusion length² ∫D dt (µm²) that maps onto the middle of the precipitate-coarsening
        window (calibration: the median over samples of the bounds, hold time and cooling rate
        log-uniform).
    solvus_A_wt_pct, solvus_B_K
        Solvus of the matrix ``x_s(T) = A exp(-B/T)`` in wt% (fit to the binary phase diagram).
    precipitate_wt_pct
        Solute content of the precipitate phase (lever rule).
    freeze_length_um
        Diffusion length below which precipitation stops keeping up with cooling; sets the
        freeze-in temperature of the precipitate fraction (slower cooling, lower freeze-in
        temperature, larger fraction). Calibrated so that the baseline recipe has a precipitate
        fraction of about 1.2 % (steel), 6 % (Al-Mg), 8 % (Ti-Al); the values are below
        atomic distances, i.e. they are fit constants, not measured lengths.
    heating_rate_K_per_s
        Heating rate to the hold temperature (fixed per family, not a recipe parameter).
    """

    name: str
    description: str
    bounds: dict[str, tuple[float, float]]
    pixel_um: float
    d_rex_ref_um: float
    strain_ref: float
    rex_exponent: float
    q_gb_J_per_mol: float
    gg_k0_um2_per_s: float
    q_diff_J_per_mol: float
    d0_diff_m2_per_s: float
    ch_k_mid_um2: float
    solvus_A_wt_pct: float
    solvus_B_K: float
    precipitate_wt_pct: float
    freeze_length_um: float
    heating_rate_K_per_s: float = 10.0
    references: tuple[str, ...] = field(default_factory=tuple)

    def baseline_recipe(self) -> Recipe:
        """The recipe at the centre of :attr:`bounds`."""
        centre = {k: 0.5 * (lo + hi) for k, (lo, hi) in self.bounds.items()}
        return Recipe(family=self.name, **centre)

    # --- material laws -------------------------------------------------------------------
    def solvus_wt_pct(self, T_K: float | np.ndarray) -> float | np.ndarray:
        """Matrix solubility of the solute at ``T_K`` (wt%)."""
        return self.solvus_A_wt_pct * np.exp(-self.solvus_B_K / np.asarray(T_K, dtype=float))

    def solvus_temperature_K(self, solute_wt_pct: float) -> float:
        """Temperature above which ``solute_wt_pct`` is fully dissolved (K); 0 if no solute."""
        if solute_wt_pct <= 0:
            return 0.0
        return float(self.solvus_B_K / math.log(self.solvus_A_wt_pct / solute_wt_pct))

    def recrystallized_grain_size_um(self, strain: float) -> float:
        """Initial (recrystallized) mean grain diameter after cold strain ``strain`` (µm)."""
        return float(
            self.d_rex_ref_um * (max(strain, 1e-3) / self.strain_ref) ** -self.rex_exponent
        )

    def grain_growth_rate_um2_per_s(self, T_K: np.ndarray) -> np.ndarray:
        """Parabolic grain-growth constant ``k(T) = k0 exp(-Q_gb / R T)`` (µm²/s)."""
        return self.gg_k0_um2_per_s * np.exp(-self.q_gb_J_per_mol / (R_GAS * np.asarray(T_K)))

    def diffusivity_um2_per_s(self, T_K: np.ndarray) -> np.ndarray:
        """Solute diffusivity in the matrix (µm²/s)."""
        d0 = self.d0_diff_m2_per_s * 1e12
        return d0 * np.exp(-self.q_diff_J_per_mol / (R_GAS * np.asarray(T_K)))

    def check_recipe(self, recipe: Recipe) -> None:
        """Raise ``ValueError`` naming every parameter of ``recipe`` outside :attr:`bounds`."""
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
            raise ValueError(f"recipe for {self.name}: " + "; ".join(problems))


def _steel() -> AlloyFamily:
    """Ferritic steel with Cu (HSLA-80/100 type): ε-Cu precipitates in α-Fe.

    Sources (order of magnitude): Cu solvus in α-Fe fitted to ~1.9 wt% at 850 °C and ~0.1 wt%
    at 500 °C (Massalski, *Binary Alloy Phase Diagrams*, 1990, Cu-Fe); Cu diffusion in α-Fe
    D0 ≈ 4.7e-5 m²/s, Q ≈ 244 kJ/mol (Salje & Feller-Kniepmeier, J. Appl. Phys. 48 (1977)
    1833); grain-boundary migration in ferrite Q ≈ 140 kJ/mol (Humphreys & Hatherly 2004,
    ch. 5). Recrystallized grain size 6-20 µm for strains 0.8-0.1.
    """
    return AlloyFamily(
        name="ferritic_steel",
        description="ferritic steel, Cu solute, ε-Cu precipitates in α-Fe",
        bounds={
            "solute_wt_pct": (0.0, 2.5),
            "deformation_strain": (0.1, 0.8),
            "hold_temperature_C": (650.0, 850.0),
            "hold_time_s": (10.0, 3600.0),
            "cooling_rate_K_per_s": (0.1, 50.0),
        },
        pixel_um=1.0,
        d_rex_ref_um=8.0,
        strain_ref=0.45,
        rex_exponent=0.5,
        q_gb_J_per_mol=140e3,
        gg_k0_um2_per_s=4.1e6,
        q_diff_J_per_mol=244e3,
        d0_diff_m2_per_s=4.7e-5,
        ch_k_mid_um2=4.9e-4,
        solvus_A_wt_pct=1.23e3,
        solvus_B_K=7305.0,
        precipitate_wt_pct=99.0,
        freeze_length_um=1.4e-05,
        references=(
            "Massalski, Binary Alloy Phase Diagrams (1990), Cu-Fe",
            "Salje & Feller-Kniepmeier, J. Appl. Phys. 48 (1977) 1833",
            "Humphreys & Hatherly, Recrystallization and Related Annealing Phenomena (2004)",
        ),
    )


def _al_mg() -> AlloyFamily:
    """Al-Mg (5xxx series): β-Al3Mg2 precipitates in fcc Al.

    Sources (order of magnitude): Mg solvus in Al fitted to 17.4 wt% at 450 °C and ~3.5 wt%
    at 200 °C (Murray, Bull. Alloy Phase Diagrams 3 (1982) 60); Mg diffusion in Al
    D0 ≈ 1.2e-4 m²/s, Q ≈ 131 kJ/mol (Fujikawa & Hirano, Mater. Sci. Eng. 27 (1977) 203);
    grain-boundary migration in Al alloys Q ≈ 120 kJ/mol (Humphreys & Hatherly 2004).
    β-Al3Mg2 holds ≈ 37.5 wt% Mg.
    """
    return AlloyFamily(
        name="al_mg",
        description="Al-Mg (5xxx), Mg solute, β-Al3Mg2 precipitates",
        bounds={
            "solute_wt_pct": (1.0, 8.0),
            "deformation_strain": (0.1, 0.8),
            "hold_temperature_C": (300.0, 500.0),
            "hold_time_s": (10.0, 3600.0),
            "cooling_rate_K_per_s": (0.1, 50.0),
        },
        pixel_um=2.0,
        d_rex_ref_um=16.0,
        strain_ref=0.45,
        rex_exponent=0.5,
        q_gb_J_per_mol=120e3,
        gg_k0_um2_per_s=2.9e9,
        q_diff_J_per_mol=131e3,
        d0_diff_m2_per_s=1.2e-4,
        ch_k_mid_um2=1.2e-05,
        solvus_A_wt_pct=364.0,
        solvus_B_K=2200.0,
        precipitate_wt_pct=37.5,
        freeze_length_um=1.2e-04,
        references=(
            "Murray, Bull. Alloy Phase Diagrams 3 (1982) 60, Al-Mg",
            "Fujikawa & Hirano, Mater. Sci. Eng. 27 (1977) 203",
            "Humphreys & Hatherly, Recrystallization and Related Annealing Phenomena (2004)",
        ),
    )


def _ti_al() -> AlloyFamily:
    """Near-α Ti-Al: α2-Ti3Al precipitates in α-Ti.

    Sources (order of magnitude): α2 solvus in α-Ti fitted to ~5.5 wt% Al at 550 °C and
    ~8 wt% at 750 °C (Schuster & Palm, J. Phase Equilib. Diffus. 27 (2006) 255); Al diffusion
    in α-Ti Q ≈ 330 kJ/mol, D0 ≈ 6.6e-3 m²/s (Mishin & Herzig, Acta Mater. 48 (2000) 589);
    grain-boundary migration in α-Ti Q ≈ 170 kJ/mol (Gil et al., J. Alloys Compd. 2001).
    α2-Ti3Al holds ≈ 15.8 wt% Al.
    """
    return AlloyFamily(
        name="ti_al",
        description="near-α Ti-Al, Al solute, α2-Ti3Al precipitates",
        bounds={
            "solute_wt_pct": (3.0, 9.0),
            "deformation_strain": (0.1, 0.8),
            "hold_temperature_C": (600.0, 850.0),
            "hold_time_s": (10.0, 3600.0),
            "cooling_rate_K_per_s": (0.1, 50.0),
        },
        pixel_um=1.0,
        d_rex_ref_um=8.0,
        strain_ref=0.45,
        rex_exponent=0.5,
        q_gb_J_per_mol=170e3,
        gg_k0_um2_per_s=2.8e8,
        q_diff_J_per_mol=330e3,
        d0_diff_m2_per_s=6.6e-3,
        ch_k_mid_um2=3.8e-10,
        solvus_A_wt_pct=37.4,
        solvus_B_K=1577.0,
        precipitate_wt_pct=15.8,
        freeze_length_um=9.4e-07,
        references=(
            "Schuster & Palm, J. Phase Equilib. Diffus. 27 (2006) 255, Al-Ti",
            "Mishin & Herzig, Acta Mater. 48 (2000) 589",
            "Gil, Rodriguez, Manero & Planell, J. Alloys Compd. 315 (2001) 277",
        ),
    )


FAMILIES: dict[str, AlloyFamily] = {f.name: f for f in (_steel(), _al_mg(), _ti_al())}


def get_family(name: str) -> AlloyFamily:
    """The :class:`AlloyFamily` called ``name``; ``KeyError`` lists the known ones."""
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


def _trapz(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


def grain_growth_integral_um2(recipe: Recipe, family: AlloyFamily | None = None) -> float:
    """``K_gg = ∫ k0 exp(-Q_gb/RT(t)) dt`` over heat, hold and cool (µm²).

    The parabolic law d² - d0² = K_gg then gives the mean grain diameter; the simulator runs
    the Allen-Cahn model for a reduced time proportional to ``K_gg``.
    """
    fam = family or get_family(recipe.family)
    t, T, _ = temperature_history(recipe, family=fam)
    return _trapz(fam.grain_growth_rate_um2_per_s(T), t)


def freeze_temperature_K(recipe: Recipe, family: AlloyFamily | None = None) -> float:
    """Temperature at which precipitation stops keeping up with cooling (K).

    The diffusion length still available when cooling from ``T`` at rate ``r`` is
    ``ℓ²(T) ≈ D(T) R T² / (Q r)`` (the Arrhenius integral to first order); ``T_f`` solves
    ``ℓ(T_f) = freeze_length_um``. Slower cooling lowers ``T_f``; ``T_f`` never exceeds the
    hold temperature nor falls below room temperature.
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
    """Lever-rule precipitate (area) fraction at the freeze-in temperature, in [0, 0.45]."""
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
    """
    fam = family or get_family(recipe.family)
    T_s = fam.solvus_temperature_K(recipe.solute_wt_pct)
    t, T, seg = temperature_history(recipe, family=fam)
    below = T < T_s
    if recipe.hold_temperature_K >= T_s:
        below &= seg == 2
    integrand = np.where(below, fam.diffusivity_um2_per_s(T), 0.0)
    return _trapz(integrand, t)
