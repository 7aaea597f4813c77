"""Yield strength from microstructure: friction + solid solution + Hall–Petch + Orowan.

The linear-superposition model used throughout the physical-metallurgy literature
(Pickering 1978; Gladman 1997)::

    sigma_y = sigma_0 + k_ss * c**n + k_HP / sqrt(d) + dsigma_Orowan(f, r)

with ``c`` the solute content in wt%, ``d`` the mean grain diameter and ``f``, ``r`` the
volume fraction and mean radius of the (non-shearable) precipitates.

The Orowan term uses the Ashby–Orowan equation in the form given by Kelly (1973) and
Nie & Muddle (1998) for spherical particles cut by a random slip plane::

    dsigma = M * 0.4 G b / (pi sqrt(1 - nu)) * ln(2 r_p / b) / lambda
    r_p    = sqrt(2/3) r                        (mean planar radius)
    lambda = 2 r_p (sqrt(pi / (4 f)) - 1)       (edge-to-edge planar spacing)

so the strengthening vanishes when ``f -> 0`` (the spacing diverges) and grows as ``sqrt(f)``
at fixed radius for small ``f``.

References
----------
- F. B. Pickering and T. Gladman, "Metallurgical developments in carbon steels", Iron and
  Steel Institute Special Report 81 (1963) 10–20.
- F. B. Pickering, *Physical Metallurgy and the Design of Steels*, Applied Science (1978).
- T. Gladman, *The Physical Metallurgy of Microalloyed Steels*, Institute of Materials (1997).
- E. L. Huskins, B. Cao and K. T. Ramesh, "Strengthening mechanisms in an Al–Mg alloy",
  Mater. Sci. Eng. A 527 (2010) 1292–1298.
- Ø. Ryen, O. Nijs, E. Sjölander, B. Holmedal, H.-E. Ekström and E. Nes, "Strengthening
  mechanisms in solid solution aluminum alloys", Metall. Mater. Trans. A 37 (2006) 1999–2006.
- H. Conrad, "Effect of interstitial solutes on the strength and ductility of titanium",
  Prog. Mater. Sci. 26 (1981) 123–403.
- G. Lütjering and J. C. Williams, *Titanium*, 2nd ed., Springer (2007).
- A. Kelly, "The strengthening of metals by dispersed particles", Proc. R. Soc. A (1963);
  J. F. Nie and B. C. Muddle, Acta Mater. 46 (1998) 1691.
- M. F. Ashby, "The deformation of plastically non-homogeneous materials", Phil. Mag. 21 (1970).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from psplab.errors import InputError

__all__ = [
    "FAMILY_CONSTANTS",
    "StrengthConstants",
    "get_constants",
    "grain_yield_stress_mpa",
    "orowan_mpa",
    "strength_contributions",
    "yield_strength_mpa",
]


@dataclass(frozen=True)
class StrengthConstants:
    """Strength-model and elastic constants of one alloy family (SI-derived units in names).

    The built-in families are in :data:`FAMILY_CONSTANTS`; for another alloy, build one and
    pass it wherever a ``family`` is taken.

    Attributes
    ----------
    friction_stress_mpa : float
        Lattice friction stress ``sigma_0`` of the matrix, MPa.
    solid_solution_coeff_mpa : float
        ``k_ss`` in ``k_ss * c**n`` (MPa per wt%**n) for the family's main solute.
    solid_solution_exponent : float
        ``n`` (1 = linear, 2/3 = Labusch, 1/2 = Fleischer).
    hall_petch_k_mpa_sqrt_um : float
        Hall–Petch coefficient, MPa·µm^1/2 (1 MPa·m^1/2 = 1000 MPa·µm^1/2).
    shear_modulus_gpa, poisson_ratio, burgers_vector_nm, taylor_factor : float
        Matrix shear modulus, Poisson ratio, Burgers vector and Taylor factor (Orowan term,
        FFT elasticity).
    solute : str
        Name of the solute the ``solute_wt_pct`` input refers to.
    precipitate : str
        Name of the precipitate phase used by the FFT mechanics check (phase label 1).
    precipitate_youngs_modulus_gpa, precipitate_poisson_ratio, precipitate_yield_mpa : float
        The precipitate phase used by the FFT mechanics check (phase label 1): its isotropic
        elastic constants and a (high) yield stress — the particles are much harder than
        the matrix and stay essentially elastic.
    hardening_modulus_mpa : float
        Linear isotropic hardening modulus ``H = d sigma_eq / d p`` of the matrix for the
        J2 model (a secant fit of the early flow curve; a modelling choice, not a constant of
        nature).
    """

    friction_stress_mpa: float
    solid_solution_coeff_mpa: float
    solid_solution_exponent: float
    hall_petch_k_mpa_sqrt_um: float
    shear_modulus_gpa: float
    poisson_ratio: float
    burgers_vector_nm: float
    taylor_factor: float
    solute: str
    precipitate: str
    precipitate_youngs_modulus_gpa: float
    precipitate_poisson_ratio: float
    precipitate_yield_mpa: float
    hardening_modulus_mpa: float

    @property
    def youngs_modulus_gpa(self) -> float:
        """Matrix Young's modulus ``E = 2 G (1 + nu)``, GPa."""
        return 2.0 * self.shear_modulus_gpa * (1.0 + self.poisson_ratio)

    def to_dict(self) -> dict[str, Any]:
        """The constants as a dictionary, with the derived ``youngs_modulus_gpa``.

        Returns
        -------
        dict
        """
        d = asdict(self)
        d["youngs_modulus_gpa"] = self.youngs_modulus_gpa
        return d


# Sources of the constants, one family a row of the table below.
#
# ferritic_steel (Pickering & Gladman 1963; Pickering 1978): the classic regression
#   sigma_y [MPa] = 53.9 + 32.3 %Mn + 83.2 %Si + 354 sqrt(%N_free) + 17.4 d^-1/2 [d in mm]
# gives sigma_0 = 53.9 MPa, k_ss = 32.3 MPa/wt% Mn (linear) and k_HP = 17.4 MPa mm^1/2
# = 0.55 MPa m^1/2 = 550 MPa um^1/2. Ferrite: G = 81.6 GPa, nu = 0.29, b = a sqrt(3)/2 =
# 0.248 nm; Taylor factor 2.75 for bcc (Gladman 1997). Precipitates: microalloy carbides
# (NbC: E ~ 340 GPa, nu ~ 0.21), effectively elastic.
#
# al_mg (5xxx): Ryen et al. (2006) find the yield-stress increment of binary Al–Mg nearly
# linear in Mg (about 13–15 MPa per wt%); Huskins et al. (2010) report sigma_0 ~ 10–20 MPa for
# the Al matrix and a Hall–Petch slope of ~0.2 MPa m^1/2 for AA5083 (Mg raises k well above
# pure Al's ~0.04–0.07 MPa m^1/2). Al: G = 26 GPa, nu = 0.33, b = 0.286 nm, M = 3.06 (fcc).
# Precipitate: beta-Al3Mg2 (complex cubic; E ~ 70–80 GPa, elastic constants poorly known).
#
# ti_al (alpha-Ti with Al in solution): Conrad (1981) gives sigma_0 ~ 150 MPa for commercially
# pure alpha-Ti and k_HP ~ 0.40 MPa m^1/2; Al strengthens alpha-Ti by ~50 MPa per wt% near
# Ti-6Al (Lütjering & Williams 2007); a Labusch exponent n = 2/3 with k_ss = 90 MPa/wt%^(2/3)
# reproduces ~300 MPa at 6 wt%. alpha-Ti: G = 44 GPa, nu = 0.32, b = 0.295 nm (a-type),
# M ~ 2.9 (hcp, prism + basal slip). Precipitate: alpha2-Ti3Al (E ~ 145 GPa, nu ~ 0.29).
#
# The columns are the fields of StrengthConstants in order:
#   sigma_0, k_ss, n, k_HP, G, nu, b, M, solute, precipitate, E_p, nu_p, sigma_y_p, H
# fmt: off
_FAMILY_TABLE: dict[str, tuple] = {
    "ferritic_steel": (53.9, 32.3, 1.0, 550.0, 81.6, 0.29, 0.248, 2.75, "Mn", "NbC",
                       340.0, 0.21, 3000.0, 2000.0),
    "al_mg": (15.0, 14.0, 1.0, 220.0, 26.0, 0.33, 0.286, 3.06, "Mg", "Al3Mg2",
              75.0, 0.30, 900.0, 700.0),
    "ti_al": (150.0, 90.0, 2.0 / 3.0, 400.0, 44.0, 0.32, 0.295, 2.9, "Al", "Ti3Al",
              145.0, 0.29, 1200.0, 1200.0),
}
# fmt: on

FAMILY_CONSTANTS: dict[str, StrengthConstants] = {
    name: StrengthConstants(*row) for name, row in _FAMILY_TABLE.items()
}


def get_constants(family: str | StrengthConstants) -> StrengthConstants:
    """The constants of an alloy family.

    Parameters
    ----------
    family : str or StrengthConstants
        A name in :data:`FAMILY_CONSTANTS`, or the constants themselves (returned as given).

    Returns
    -------
    StrengthConstants

    Raises
    ------
    psplab.errors.InputError
        For an unknown family name.
    """
    if isinstance(family, StrengthConstants):
        return family
    try:
        return FAMILY_CONSTANTS[family]
    except (KeyError, TypeError):
        known = ", ".join(sorted(FAMILY_CONSTANTS))
        raise InputError(f"unknown alloy family {family!r}; known: {known}") from None


def _as_float_array(name: str, value: Any, *, positive: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if np.any(~np.isfinite(arr)):
        raise InputError(f"{name} must be finite, got {value!r}")
    if positive and np.any(arr <= 0):
        raise InputError(f"{name} must be > 0, got {value!r}")
    if not positive and np.any(arr < 0):
        raise InputError(f"{name} must be >= 0, got {value!r}")
    return arr


def orowan_mpa(
    family: str | StrengthConstants,
    precipitate_fraction: Any,
    precipitate_radius_um: Any,
) -> np.ndarray:
    """Ashby–Orowan strengthening (MPa) of non-shearable spherical precipitates.

    Parameters
    ----------
    family : str or StrengthConstants
        Alloy family name (or its constants).
    precipitate_fraction : array_like
        Volume fraction ``f`` in [0, 1).
    precipitate_radius_um : array_like
        Mean particle radius ``r`` in µm (> 0 where ``f > 0``).

    Returns
    -------
    numpy.ndarray
        Broadcast array of the increment; exactly 0 where ``f == 0``.
    """
    c = get_constants(family)
    f = _as_float_array("precipitate_fraction", precipitate_fraction)
    r_um = np.asarray(precipitate_radius_um, dtype=float)
    if np.any(f >= 1):
        raise InputError(f"precipitate_fraction must be < 1, got {precipitate_fraction!r}")
    f, r_um = np.broadcast_arrays(f, r_um)
    active = f > 0
    if np.any(active & ~(np.isfinite(r_um) & (r_um > 0))):
        raise InputError("precipitate_radius_um must be > 0 where precipitate_fraction > 0")
    b_um = c.burgers_vector_nm * 1e-3
    g_mpa = c.shear_modulus_gpa * 1e3
    # Safe placeholders where f == 0 keep the arithmetic finite; those entries are zeroed.
    f_safe = np.where(active, f, 0.5)
    r_safe = np.where(active, r_um, 1.0)
    r_planar = np.sqrt(2.0 / 3.0) * r_safe
    spacing = 2.0 * r_planar * (np.sqrt(np.pi / (4.0 * f_safe)) - 1.0)
    # At very high fractions the edge-to-edge spacing formula loses meaning (particles
    # touch); floor it at the Burgers vector rather than dividing by <= 0.
    spacing = np.maximum(spacing, b_um)
    log_term = np.log(np.maximum(2.0 * r_planar / b_um, 1.0))
    pre = c.taylor_factor * 0.4 * g_mpa * b_um / (np.pi * np.sqrt(1.0 - c.poisson_ratio))
    return np.where(active, pre * log_term / spacing, 0.0)


def grain_yield_stress_mpa(
    family: str | StrengthConstants, grain_size_um: Any, solute_wt_pct: Any = 0.0
) -> np.ndarray:
    """Friction + solid solution + Hall–Petch yield stress (no precipitates), MPa; vectorized.

    Parameters
    ----------
    family : str or StrengthConstants
        A name in :data:`FAMILY_CONSTANTS`, or constants of your own.
    grain_size_um, solute_wt_pct : array_like
        Grain diameter in µm (> 0) and solute content in wt% (>= 0); they broadcast.

    Returns
    -------
    numpy.ndarray
        The yield stress without the Orowan term, MPa.
    """
    c = get_constants(family)
    d = _as_float_array("grain_size_um", grain_size_um, positive=True)
    x = _as_float_array("solute_wt_pct", solute_wt_pct)
    return (
        c.friction_stress_mpa
        + c.solid_solution_coeff_mpa * x**c.solid_solution_exponent
        + c.hall_petch_k_mpa_sqrt_um / np.sqrt(d)
    )


def strength_contributions(
    family: str | StrengthConstants,
    grain_size_um: Any,
    solute_wt_pct: Any = 0.0,
    precipitate_fraction: Any = 0.0,
    precipitate_radius_um: Any = 0.01,
) -> dict[str, Any]:
    """The terms of the yield strength, MPa.

    Parameters
    ----------
    family : str or StrengthConstants
        ``"ferritic_steel"``, ``"al_mg"`` or ``"ti_al"`` (see :data:`FAMILY_CONSTANTS`).
    grain_size_um : array_like
        Mean grain diameter ``d`` in µm (> 0).
    solute_wt_pct : array_like
        Content of the family's main solute (Mn, Mg, Al), wt%.
    precipitate_fraction : array_like
        Precipitate volume fraction in [0, 1).
    precipitate_radius_um : array_like
        Mean precipitate radius in µm.

    Returns
    -------
    dict
        ``friction``, ``solid_solution``, ``hall_petch``, ``orowan`` and ``total`` (their sum),
        each a float for scalar inputs or a broadcast ``numpy.ndarray`` for array inputs.

    Examples
    --------
    >>> terms = strength_contributions("ferritic_steel", grain_size_um=10.0, solute_wt_pct=1.0)
    >>> round(terms["hall_petch"], 1)
    173.9
    """
    c = get_constants(family)
    d = _as_float_array("grain_size_um", grain_size_um, positive=True)
    x = _as_float_array("solute_wt_pct", solute_wt_pct)
    oro = orowan_mpa(c, precipitate_fraction, precipitate_radius_um)
    shape = np.broadcast_shapes(d.shape, x.shape, oro.shape)
    terms = {
        "friction": np.broadcast_to(np.asarray(c.friction_stress_mpa, float), shape),
        "solid_solution": np.broadcast_to(
            c.solid_solution_coeff_mpa * x**c.solid_solution_exponent, shape
        ),
        "hall_petch": np.broadcast_to(c.hall_petch_k_mpa_sqrt_um / np.sqrt(d), shape),
        "orowan": np.broadcast_to(oro, shape),
    }
    terms["total"] = terms["friction"] + terms["solid_solution"] + terms["hall_petch"]
    terms["total"] = terms["total"] + terms["orowan"]
    if shape == ():
        return {k: float(v) for k, v in terms.items()}
    return {k: np.array(v, dtype=float) for k, v in terms.items()}


def yield_strength_mpa(
    family: str | StrengthConstants,
    grain_size_um: Any,
    solute_wt_pct: Any = 0.0,
    precipitate_fraction: Any = 0.0,
    precipitate_radius_um: Any = 0.01,
) -> Any:
    """Yield strength (MPa) of the superposition model; float for scalars, array otherwise.

    Parameters
    ----------
    family : str or StrengthConstants
        Alloy family (see :func:`strength_contributions`).
    grain_size_um, solute_wt_pct, precipitate_fraction, precipitate_radius_um : array_like
        As for :func:`strength_contributions`.

    Returns
    -------
    float or numpy.ndarray
        The ``total`` of :func:`strength_contributions`, MPa.

    Examples
    --------
    >>> round(yield_strength_mpa("al_mg", 50.0, solute_wt_pct=4.5), 1)
    109.1
    """
    return strength_contributions(
        family, grain_size_um, solute_wt_pct, precipitate_fraction, precipitate_radius_um
    )["total"]
