"""FFT homogenization of label images: effective stiffness and J2 stress–strain curves.

The periodic cell problem of small-strain mechanics is solved directly on the pixel grid
(Moulinec & Suquet 1994, 1998). Two solvers are provided for the linear-elastic problem:

``method="basic"``
    The Moulinec–Suquet fixed-point scheme ``eps <- eps - Gamma0 * sigma(eps)`` with an
    isotropic reference medium halfway between the extreme phases (their optimal choice).
    Its iteration count grows linearly with the stiffness contrast.
``method="cg"``
    Conjugate gradients on the Galerkin form of the Lippmann–Schwinger equation
    ``G[C : eps] = 0`` (Zeman et al. 2010; Zeman, de Geus et al. 2017), where ``G`` is the
    reference-free orthogonal projection onto compatible strain fields. The operator is
    symmetric positive definite on compatible fields, so CG applies and the iteration count
    grows only with the square root of the contrast.

The elasto-plastic problem uses the same projection in a Newton–Krylov loop (de Geus et al.
2017): per load increment, Newton iterations on ``G[sigma(eps)] = 0`` with the consistent
tangent of J2 radial return, each linearised system solved by CG. Mixed macroscopic control
(prescribed axial strain, zero transverse and shear macroscopic stress) is built into the
projection at the zero frequency (Lucarini & Segurado 2019).

Discretization: by default the "rotated" finite-difference scheme of Willot (2015), whose
discrete gradient in 2-D has direction ``(sin(θx/2) cos(θy/2), cos(θx/2) sin(θy/2))``; it
removes the Gibbs ringing of the continuous Fourier scheme and converges faster at high
contrast. ``discretization="fourier"`` gives the original continuous-frequency scheme.

Conventions: image rows are ``y``, columns ``x``; tensors are stored as four components
``[xx, yy, zz, xy]`` (tensorial shear) on an ``(4, H, W)`` grid; effective stiffnesses are
returned as 3×3 Voigt matrices ``[[C11, C12, C16], [C12, C22, C26], [C16, C26, C66]]`` acting on
``(eps_xx, eps_yy, gamma_xy = 2 eps_xy)``, plane strain (``eps_zz = 0``), in GPa.

All solves run in float64 (enabled only inside this module's code paths with
``jax.enable_x64``), because tolerances of 1e-8 are below float32 resolution.

This module holds the public entry points; the kernels live in :mod:`psplab.strength.spectral`
(projection, elastic solvers) and :mod:`psplab.strength.plasticity` (J2 return map, load step,
stress–strain curve).

References
----------
- H. Moulinec and P. Suquet, C. R. Acad. Sci. Paris II 318 (1994) 1417; Comput. Methods Appl.
  Mech. Eng. 157 (1998) 69–94.
- J. Zeman, J. Vondřejc, J. Novák and I. Marek, J. Comput. Phys. 229 (2010) 8065–8071.
- J. Zeman, T. W. J. de Geus, J. Vondřejc, R. H. J. Peerlings and M. G. D. Geers,
  Int. J. Numer. Methods Eng. 111 (2017) 903–926.
- T. W. J. de Geus, J. Vondřejc, J. Zeman, R. H. J. Peerlings and M. G. D. Geers,
  Comput. Methods Appl. Mech. Eng. 318 (2017) 412–430.
- F. Willot, C. R. Mécanique 343 (2015) 232–245.
- S. Lucarini and J. Segurado, Int. J. Numer. Methods Eng. 119 (2019) 797–805.
- J. C. Simo and T. J. R. Hughes, *Computational Inelasticity*, Springer (1998), §3.3.
- Z. Hashin, J. Mech. Phys. Solids 13 (1965) 119–134 (plane-strain HS bounds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from psplab.errors import InputError
from psplab.limits import require_at_most, require_memory
from psplab.strength.model import (
    StrengthConstants,
    get_constants,
    grain_yield_stress_mpa,
    orowan_mpa,
)
from psplab.strength.plasticity import UniaxialCurve, offset_yield, uniaxial_curve
from psplab.strength.spectral import gradient_directions, stiffness_from_fields

__all__ = [
    "MAX_LOAD_STEPS",
    "PixelProperties",
    "as_label_image",
    "dilute_circular_inclusion",
    "effective_stiffness",
    "hashin_shtrikman_bounds",
    "isotropic_plane_strain_stiffness",
    "lame_from_youngs",
    "mechanics_for_sim",
    "mechanics_memory_bytes",
    "mechanics_yield_strength",
    "offset_yield",
    "pixel_properties",
]

# A curve needs a few dozen increments; thousands would only cost time and memory (each
# increment keeps two stress images for the field at yield).
MAX_LOAD_STEPS = 2000


# ----------------------------------------------------------------------------- helpers


def lame_from_youngs(youngs: Any, poisson: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lamé ``(lambda, mu)`` from Young's modulus and Poisson ratio.

    Parameters
    ----------
    youngs : array_like
        Young's modulus (any unit).
    poisson : array_like
        Poisson ratio.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lambda, mu)`` in the unit of ``youngs``.
    """
    e = np.asarray(youngs, dtype=float)
    nu = np.asarray(poisson, dtype=float)
    lam = e * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    mu = e / (2.0 * (1.0 + nu))
    return lam, mu


def isotropic_plane_strain_stiffness(youngs_modulus_gpa: float, poisson_ratio: float) -> np.ndarray:
    """3×3 Voigt plane-strain stiffness of an isotropic material.

    Parameters
    ----------
    youngs_modulus_gpa : float
        Young's modulus, GPa.
    poisson_ratio : float
        Poisson ratio.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` stiffness, GPa.
    """
    lam, mu = lame_from_youngs(youngs_modulus_gpa, poisson_ratio)
    lam, mu = float(lam), float(mu)
    return np.array([[lam + 2 * mu, lam, 0.0], [lam, lam + 2 * mu, 0.0], [0.0, 0.0, mu]])


def hashin_shtrikman_bounds(
    bulk: Sequence[float], shear: Sequence[float], fractions: Sequence[float]
) -> dict[str, tuple[float, float]]:
    """Hashin–Shtrikman bounds of a two-phase, statistically isotropic plane-strain medium.

    Parameters
    ----------
    bulk, shear : sequence of float
        Plane-strain (in-plane) bulk moduli ``k = lambda + mu`` and shear moduli of the two
        phases.
    fractions : sequence of float
        Area fractions of the two phases (summing to 1).

    Returns
    -------
    dict
        ``{"bulk": (lower, upper), "shear": (lower, upper)}`` (Hashin 1965, transverse
        moduli of fibre composites, which are the 2-D plane-strain bounds).
    """
    k = np.asarray(bulk, dtype=float)
    g = np.asarray(shear, dtype=float)
    f = np.asarray(fractions, dtype=float)
    if k.shape != (2,) or g.shape != (2,) or f.shape != (2,):
        raise InputError("hashin_shtrikman_bounds needs two phases")
    if not np.isclose(f.sum(), 1.0):
        raise InputError(f"fractions must sum to 1, got {f.sum()}")

    def bound(i: int) -> tuple[float, float]:
        j = 1 - i
        if f[j] == 0:
            return float(k[i]), float(g[i])
        kb = k[i] + f[j] / (1.0 / (k[j] - k[i]) + f[i] / (k[i] + g[i])) if k[j] != k[i] else k[i]
        gb = (
            g[i]
            + f[j] / (1.0 / (g[j] - g[i]) + f[i] * (k[i] + 2 * g[i]) / (2 * g[i] * (k[i] + g[i])))
            if g[j] != g[i]
            else g[i]
        )
        return float(kb), float(gb)

    # The bound built on the stiffer (softer) phase as reference is the upper (lower) one.
    lo_k, lo_g = bound(int(np.argmin(g)))
    hi_k, hi_g = bound(int(np.argmax(g)))
    return {"bulk": (min(lo_k, hi_k), max(lo_k, hi_k)), "shear": (min(lo_g, hi_g), max(lo_g, hi_g))}


def dilute_circular_inclusion(
    matrix_bulk: float,
    matrix_shear: float,
    inclusion_bulk: float,
    inclusion_shear: float,
    fraction: float,
) -> tuple[float, float]:
    """Dilute (first order in ``fraction``) Eshelby estimate for circular fibres, plane strain.

    The strain concentration factors are those of an isolated circular inclusion in an infinite
    matrix.

    Parameters
    ----------
    matrix_bulk, matrix_shear : float
        In-plane bulk and shear moduli of the matrix.
    inclusion_bulk, inclusion_shear : float
        The same for the inclusions.
    fraction : float
        Area fraction of the inclusions (small).

    Returns
    -------
    tuple of float
        Effective in-plane bulk ``k`` and shear ``mu`` moduli, in the unit of the inputs.
    """
    k1, g1, k2, g2 = map(float, (matrix_bulk, matrix_shear, inclusion_bulk, inclusion_shear))
    k_eff = k1 + fraction * (k2 - k1) * (k1 + g1) / (k2 + g1)
    beta = (k1 + 2 * g1) / (2 * g1 * (k1 + g1))  # 1/(g1 + g1*) with g1* = g1 k1/(k1 + 2 g1)
    g_eff = g1 + fraction * (g2 - g1) / (1.0 + (g2 - g1) * beta)
    return k_eff, g_eff


def _per_label(values: Any, labels: np.ndarray, name: str) -> np.ndarray:
    """Map a scalar, a {label: value} mapping or a label-indexed sequence onto the image."""
    if np.isscalar(values):
        return np.full(labels.shape, float(values))
    uniq = np.unique(labels)
    if isinstance(values, Mapping):
        missing = [int(u) for u in uniq if int(u) not in values]
        if missing:
            raise InputError(f"{name}: no value for label(s) {missing}")
        table = {int(k): float(v) for k, v in values.items()}
        lut = np.zeros(int(uniq.max()) + 1 if uniq.size else 1)
        for u in uniq:
            lut[int(u)] = table[int(u)]
        return lut[labels]
    arr = np.asarray(values, dtype=float).ravel()
    if uniq.size and (uniq.min() < 0 or uniq.max() >= arr.size):
        raise InputError(
            f"{name}: labels range {int(uniq.min())}..{int(uniq.max())} but {arr.size} values given"
        )
    return arr[labels]


def as_label_image(labels: Any, name: str = "labels") -> np.ndarray:
    """Check a 2-D image of non-negative integer labels and return it as ``int64``.

    Boolean images and float images holding whole numbers are accepted.

    Parameters
    ----------
    labels : array_like
        The image.
    name : str
        How error messages name it (a file name, ``"grain_labels"``).

    Returns
    -------
    numpy.ndarray
        ``int64`` copy of the labels.

    Raises
    ------
    psplab.errors.InputError
        For an image that is not 2-D, smaller than 2×2, or not of non-negative integers.
    """
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D image, got shape {arr.shape}")
    if min(arr.shape) < 2:
        raise InputError(f"{name} must be at least 2×2 pixels, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    elif not np.issubdtype(arr.dtype, np.integer):
        if not (
            np.issubdtype(arr.dtype, np.floating)
            and np.all(np.isfinite(arr))
            and np.all(arr == np.round(arr))
        ):
            raise InputError(f"{name}: pixel values must be integer labels")
    if arr.min() < 0:
        raise InputError(f"{name} must hold non-negative labels, got min {arr.min()}")
    return arr.astype(np.int64)


# ------------------------------------------------------------------ linear elasticity


def effective_stiffness(
    labels: Any,
    youngs_modulus_gpa: Any,
    poisson_ratio: Any,
    *,
    method: str = "cg",
    discretization: str = "rotated",
    tol: float = 1e-8,
    max_iter: int = 5000,
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Effective plane-strain stiffness (3×3 Voigt, GPa) of a periodic label image.

    Parameters
    ----------
    labels : array_like
        2-D integer image (rows ``y``, columns ``x``), periodic.
    youngs_modulus_gpa, poisson_ratio : float, mapping or sequence
        Per-label isotropic constants: a scalar, a ``{label: value}`` mapping, or a sequence
        indexed by label.
    method : str
        ``"cg"`` (conjugate gradients, default) or ``"basic"`` (Moulinec–Suquet fixed point).
    discretization : str
        ``"rotated"`` (Willot 2015, default) or ``"fourier"`` (continuous frequencies).
    tol : float
        Relative equilibrium tolerance ``||G[sigma]|| / ||<sigma>||`` (same criterion for
        both methods, so their iteration counts compare).
    max_iter : int
        Iteration cap per load case.
    return_info : bool
        Also return ``{"iterations": [..3..], "residuals": [...], "method": ...}``.

    Returns
    -------
    numpy.ndarray or tuple
        The ``(3, 3)`` stiffness in GPa, and the solver information when ``return_info``.
    """
    lab = as_label_image(labels)
    if method not in ("cg", "basic"):
        raise InputError(f"method must be 'cg' or 'basic', got {method!r}")
    e = _per_label(youngs_modulus_gpa, lab, "youngs_modulus_gpa")
    nu = _per_label(poisson_ratio, lab, "poisson_ratio")
    if np.any(e <= 0):
        raise InputError("youngs_modulus_gpa must be > 0 for every label")
    if np.any((nu <= -1) | (nu >= 0.5)):
        raise InputError("poisson_ratio must lie in (-1, 0.5) for every label")
    lam, mu = lame_from_youngs(e, nu)
    return stiffness_from_fields(
        lam,
        mu,
        method=method,
        discretization=discretization,
        tol=tol,
        max_iter=max_iter,
        return_info=return_info,
    )


# ------------------------------------------------------------ J2 uniaxial test of an image


@dataclass
class PixelProperties:
    """Per-pixel material data of a microstructure for the J2 solver.

    Attributes
    ----------
    yield_stress_mpa, youngs_modulus_mpa, lam_mpa, mu_mpa : numpy.ndarray
        Initial yield stress, Young's modulus and Lamé constants of every pixel, MPa.
    hardening_modulus_mpa : float
        Linear isotropic hardening modulus of all phases, MPa.
    precipitate : numpy.ndarray
        Boolean image of the precipitate pixels.
    precipitate_fraction, precipitate_mean_radius_um, orowan_mpa : float
        Area fraction and mean equivalent-circle radius of the precipitates (periodic), and
        the Orowan increment added to the matrix yield stress.
    grain_diameters_um : numpy.ndarray
        Equivalent-circle diameter of every grain id (indexed by id).
    """

    yield_stress_mpa: np.ndarray
    youngs_modulus_mpa: np.ndarray
    lam_mpa: np.ndarray
    mu_mpa: np.ndarray
    hardening_modulus_mpa: float
    precipitate: np.ndarray
    precipitate_fraction: float
    precipitate_mean_radius_um: float
    orowan_mpa: float
    grain_diameters_um: np.ndarray

    @property
    def matrix_mean_yield_mpa(self) -> float:
        """Mean initial yield stress of the matrix pixels (of all pixels if none), MPa."""
        sy, precip = self.yield_stress_mpa, self.precipitate
        return float(np.mean(sy[~precip])) if np.any(~precip) else float(np.mean(sy))


def _particle_radius_um(precip: np.ndarray, pixel_um: float) -> float:
    """Mean equivalent-circle radius of the precipitate particles (periodic wrap merged)."""
    from psplab.measure import measure_particles

    stats = measure_particles(precip, pixel_um, periodic=True, connectivity=1)
    return float(stats["mean_eq_diameter_um"]) / 2.0 if stats["count"] else 0.0


def pixel_properties(
    constants: StrengthConstants,
    grains: np.ndarray,
    phases: np.ndarray,
    pixel_um: float,
    *,
    solute_wt_pct: float = 0.0,
    include_orowan: bool = True,
    hardening_modulus_mpa: float | None = None,
    yield_stress_mpa: Any = None,
) -> PixelProperties:
    """Elastic constants and yield stress of every pixel from the strength model.

    Every matrix pixel gets the yield stress of its own grain (friction + solid solution +
    Hall–Petch with that grain's equivalent-circle diameter, plus the Orowan term of the
    image's precipitates when ``include_orowan``); precipitate pixels (``phases > 0``) get the
    family's precipitate constants.

    Parameters
    ----------
    constants : StrengthConstants
        The alloy family's constants.
    grains, phases : numpy.ndarray
        Checked label images of one shape (see :func:`as_label_image`).
    pixel_um : float
        Pixel size, µm.
    solute_wt_pct : float
        Solute content of the matrix, wt%.
    include_orowan : bool
        Add the Orowan increment of the precipitates to the matrix yield stress.
    hardening_modulus_mpa : float, optional
        Linear hardening modulus; the family's value when None.
    yield_stress_mpa : array_like, optional
        Per-pixel yield stress (MPa) to use instead of the strength model.

    Returns
    -------
    PixelProperties
    """
    c = constants
    precip = phases > 0
    frac = float(precip.mean())
    radius_um = _particle_radius_um(precip, pixel_um) if frac > 0 else 0.0
    grain_area_um2 = np.bincount(grains.ravel()) * pixel_um**2
    d_grain = np.sqrt(4.0 * grain_area_um2 / np.pi)
    orowan = float(orowan_mpa(c, frac, radius_um)) if include_orowan and frac > 0 else 0.0
    if yield_stress_mpa is None:
        grain_sy = grain_yield_stress_mpa(c, np.maximum(d_grain, 1e-12), solute_wt_pct)
        sy = np.where(precip, c.precipitate_yield_mpa, grain_sy[grains] + orowan)
    else:
        sy = np.broadcast_to(np.asarray(yield_stress_mpa, dtype=float), grains.shape).copy()
        if np.any(sy <= 0):
            raise InputError("yield_stress_mpa must be > 0")
    hard = float(
        c.hardening_modulus_mpa if hardening_modulus_mpa is None else hardening_modulus_mpa
    )
    if not hard >= 0:
        raise InputError("hardening_modulus_mpa must be >= 0")
    e_mpa = np.where(precip, c.precipitate_youngs_modulus_gpa, c.youngs_modulus_gpa) * 1e3
    nu = np.where(precip, c.precipitate_poisson_ratio, c.poisson_ratio)
    lam, mu = lame_from_youngs(e_mpa, nu)
    return PixelProperties(
        yield_stress_mpa=sy,
        youngs_modulus_mpa=e_mpa,
        lam_mpa=lam,
        mu_mpa=mu,
        hardening_modulus_mpa=hard,
        precipitate=precip,
        precipitate_fraction=frac,
        precipitate_mean_radius_um=radius_um,
        orowan_mpa=orowan,
        grain_diameters_um=d_grain,
    )


def mechanics_memory_bytes(shape: Sequence[int], n_steps: int) -> float:
    """Estimated peak memory of :func:`mechanics_yield_strength` on an image of ``shape``.

    Parameters
    ----------
    shape : sequence of int
        ``(H, W)`` of the image.
    n_steps : int
        Requested load increments (a curve may take up to ``4 * n_steps``).

    Returns
    -------
    float
        Bytes.
    """
    n_pixels = float(np.prod(shape))
    # One Newton-Krylov step holds about forty float64 tensor fields of four components
    # (strains, stresses, tangent, CG vectors, FFT buffers and XLA temporaries); every
    # increment also keeps two float64 stress images for the field at yield.
    working = 40 * 4 * 8 * n_pixels
    kept = 2 * 8 * n_pixels * (4 * n_steps + 1)
    return working + kept


def _check_inputs(
    grain_labels: Any, phase_labels: Any, pixel_um: float, out_of_plane: str, n_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    grains = as_label_image(grain_labels, "grain_labels")
    if phase_labels is None:
        phases = np.zeros_like(grains)
    else:
        phases = as_label_image(phase_labels, "phase_labels")
        if phases.shape != grains.shape:
            raise InputError(
                f"phase_labels shape {phases.shape} differs from grain_labels {grains.shape}"
            )
    if not (np.isfinite(pixel_um) and pixel_um > 0):
        raise InputError(f"pixel_um must be > 0, got {pixel_um!r}")
    if out_of_plane not in ("free", "fixed"):
        raise InputError(f"out_of_plane must be 'free' or 'fixed', got {out_of_plane!r}")
    if n_steps < 4:
        raise InputError(f"n_steps must be >= 4, got {n_steps}")
    require_at_most("n_steps", n_steps, MAX_LOAD_STEPS, "a curve needs a few dozen increments")
    require_memory(
        mechanics_memory_bytes(grains.shape, n_steps),
        f"a {grains.shape[0]}×{grains.shape[1]} image with {n_steps} load steps",
        "use a smaller image (crop or downsample) or fewer steps",
    )
    return grains, phases


def _stiffness_gpa(props: PixelProperties, discretization: str) -> np.ndarray:
    """Plane-strain elastic stiffness (GPa) of the pixel properties."""
    return stiffness_from_fields(
        props.lam_mpa / 1e3,
        props.mu_mpa / 1e3,
        method="cg",
        discretization=discretization,
        tol=1e-8,
        max_iter=5000,
        return_info=False,
    )


def _uniaxial_test(
    props: PixelProperties,
    shape: tuple[int, int],
    out_of_plane: str,
    discretization: str,
    max_strain: float | None,
    n_steps: int,
    tol: float,
) -> UniaxialCurve:
    """The mixed-control uniaxial curve of :func:`mechanics_yield_strength`."""
    # Stress-controlled components: yy, xy (and zz when out-of-plane is free).
    mask = np.array([0.0, 1.0, 1.0 if out_of_plane == "free" else 0.0, 1.0])
    if max_strain is None:
        e_mean = float(np.mean(props.youngs_modulus_mpa))
        max_strain = 1.6 * props.matrix_mean_yield_mpa / e_mean + 0.004
    return uniaxial_curve(
        props.lam_mpa,
        props.mu_mpa,
        props.yield_stress_mpa,
        props.hardening_modulus_mpa,
        mask,
        gradient_directions(shape, discretization),
        max_strain / n_steps,
        n_steps,
        tol,
    )


def mechanics_yield_strength(
    grain_labels: Any,
    phase_labels: Any,
    pixel_um: float,
    family: str | StrengthConstants,
    *,
    solute_wt_pct: float = 0.0,
    include_orowan: bool = True,
    hardening_modulus_mpa: float | None = None,
    out_of_plane: str = "free",
    n_steps: int = 40,
    max_strain: float | None = None,
    tol: float = 1e-6,
    discretization: str = "rotated",
    compute_stiffness: bool = True,
    yield_stress_mpa: Any = None,
) -> dict[str, Any]:
    """FFT J2 elasto-plastic uniaxial test of a microstructure → 0.2 % offset yield strength.

    Every matrix pixel gets the yield stress of the strength model for its own grain
    (:func:`pixel_properties`); precipitate pixels (``phase_labels > 0``) get the family's
    precipitate elastic constants and yield stress. Loading: macroscopic axial strain
    ``eps_xx`` in increments, all other macroscopic stresses zero (mixed control).

    Parameters
    ----------
    grain_labels : array_like
        2-D integer grain ids (periodic: equal ids across the border are one grain).
    phase_labels : array_like or None
        2-D integer phases (0 matrix, > 0 precipitate) of the same shape, or ``None``.
    pixel_um : float
        Pixel size, µm.
    family : str or StrengthConstants
        Alloy family (``"ferritic_steel"``, ``"al_mg"``, ``"ti_al"``) or constants.
    solute_wt_pct : float
        Solute content of the matrix (wt%), for the solid-solution term.
    include_orowan : bool
        Add the Ashby–Orowan increment of the image's precipitates (area fraction, mean
        equivalent radius) to the matrix yield stress.
    hardening_modulus_mpa : float, optional
        Linear isotropic hardening of all phases; defaults to the family's value.
    out_of_plane : str
        ``"free"``: generalized plane strain with zero macroscopic ``sigma_zz`` (a true
        uniaxial-stress test, default); ``"fixed"``: plane strain (``eps_zz = 0``).
    n_steps : int
        Number of strain increments up to ``max_strain`` (4 to :data:`MAX_LOAD_STEPS`).
    max_strain : float, optional
        Final axial strain; default ``1.6 * mean_yield / E + 0.004`` (past the offset point).
    tol : float
        Relative equilibrium tolerance of each Newton solve.
    discretization : str
        ``"rotated"`` or ``"fourier"`` (see module docstring).
    compute_stiffness : bool
        Also compute the 3×3 plane-strain elastic stiffness.
    yield_stress_mpa : array_like, optional
        Override: per-pixel yield stress image (MPa) instead of the strength model.

    Returns
    -------
    dict
        ``yield_strength_mpa`` (0.2 % offset, MPa), ``youngs_modulus_gpa`` (initial slope of
        the curve), ``stiffness_gpa`` (3×3 or ``None``), ``curve`` (``{"strain": ...,
        "stress_mpa": ...}``), ``stress_field_at_yield`` (von Mises stress image at the yield
        point, MPa), ``axial_stress_field_at_yield`` (``sigma_xx``, MPa),
        ``yield_stress_field_mpa`` (the pixel yield stresses), and ``info`` (solver counts,
        settings, microstructure summary, ``final_macro_stress_mpa`` — the mean stress
        components at the last increment, showing the mixed control).

    Raises
    ------
    psplab.errors.InputError
        For a bad image or setting; :class:`psplab.errors.ResourceError` (a subclass) when the
        image and step count would need more memory than the machine has.
    """
    c = get_constants(family)
    grains, phases = _check_inputs(grain_labels, phase_labels, pixel_um, out_of_plane, n_steps)
    props = pixel_properties(
        c,
        grains,
        phases,
        pixel_um,
        solute_wt_pct=solute_wt_pct,
        include_orowan=include_orowan,
        hardening_modulus_mpa=hardening_modulus_mpa,
        yield_stress_mpa=yield_stress_mpa,
    )
    stiffness = _stiffness_gpa(props, discretization) if compute_stiffness else None
    curve = _uniaxial_test(
        props, grains.shape, out_of_plane, discretization, max_strain, n_steps, tol
    )
    settings = {
        "family": family if isinstance(family, str) else "custom",
        "pixel_um": float(pixel_um),
        "out_of_plane": out_of_plane,
        "discretization": discretization,
    }
    return _mechanics_result(curve, props, grains, stiffness, settings)


def _mechanics_result(
    curve: UniaxialCurve,
    props: PixelProperties,
    grains: np.ndarray,
    stiffness: np.ndarray | None,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The result dictionary of :func:`mechanics_yield_strength`."""
    sy_val, e_val = offset_yield(curve.strain, curve.stress_mpa, curve.modulus_mpa)
    vm_field = axial_field = None
    if not np.isnan(e_val):
        vm_field, axial_field = curve.fields_at(e_val)
    counts = np.bincount(grains.ravel())
    return {
        "yield_strength_mpa": sy_val,
        "yield_strain": e_val,
        "youngs_modulus_gpa": curve.modulus_mpa / 1e3,
        "stiffness_gpa": stiffness,
        "curve": {"strain": curve.strain, "stress_mpa": curve.stress_mpa},
        "stress_field_at_yield": vm_field,
        "axial_stress_field_at_yield": axial_field,
        "yield_stress_field_mpa": props.yield_stress_mpa,
        "info": {
            "family": settings["family"],
            "grid": list(grains.shape),
            "pixel_um": settings["pixel_um"],
            "n_steps": len(curve.strain) - 1,
            "newton_iterations": curve.newton_iterations,
            "cg_iterations": curve.cg_iterations,
            "max_relative_residual": curve.max_relative_residual,
            "final_macro_stress_mpa": dict(
                zip(("xx", "yy", "zz", "xy"), curve.final_macro_stress_mpa.tolist(), strict=True)
            ),
            "precipitate_fraction": props.precipitate_fraction,
            "precipitate_mean_radius_um": props.precipitate_mean_radius_um,
            "orowan_mpa": props.orowan_mpa,
            "n_grains": int(np.count_nonzero(counts)),
            "mean_grain_diameter_um": float(np.mean(props.grain_diameters_um[counts > 0])),
            "matrix_mean_yield_mpa": props.matrix_mean_yield_mpa,
            "hardening_modulus_mpa": props.hardening_modulus_mpa,
            "out_of_plane": settings["out_of_plane"],
            "discretization": settings["discretization"],
        },
    }


def mechanics_for_sim(sim_result: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`mechanics_yield_strength` of a :class:`psplab.sim.SimResult`.

    The family and the matrix solute content come from ``sim_result.recipe``.

    Parameters
    ----------
    sim_result : psplab.sim.SimResult
        A simulated microstructure.
    **kwargs
        Passed on to :func:`mechanics_yield_strength`.

    Returns
    -------
    dict
        As :func:`mechanics_yield_strength`.
    """
    recipe = sim_result.recipe
    kwargs.setdefault("solute_wt_pct", float(recipe.solute_wt_pct))
    return mechanics_yield_strength(
        sim_result.grain_labels,
        sim_result.phase_labels,
        sim_result.pixel_um,
        recipe.family,
        **kwargs,
    )
