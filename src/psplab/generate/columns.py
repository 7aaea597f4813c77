"""Columns of a generated dataset: roles, units, bounds and the simulator's causal graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from psplab.data.spec import ColumnSpec, DatasetSpec
from psplab.errors import InputError
from psplab.generate.store import ID_COLUMN
from psplab.sim.design import family_bounds
from psplab.sim.families import RECIPE_PARAMS, RECIPE_UNITS, get_family

STRUCTURE_COLUMNS: dict[str, tuple[str | None, float | None, float | None, str]] = {
    "grain_size_um": ("um", 0.0, None, "mean equivalent-circle grain diameter"),
    "astm_g": (None, None, None, "ASTM E112 grain size number (lineal intercept)"),
    "precipitate_fraction": ("dimensionless", 0.0, 1.0, "precipitate area fraction"),
    "precipitate_mean_diameter_um": (
        "um",
        0.0,
        None,
        "mean equivalent-circle precipitate diameter (0: none)",
    ),
    "precipitate_number_density_per_mm2": ("1/mm^2", 0.0, None, "precipitates per mm^2"),
}
PROPERTY_COLUMNS: dict[str, tuple[str | None, float | None, float | None, str]] = {
    "yield_strength_MPa": ("MPa", 0.0, None, "yield strength (superposition model)"),
}
# Pixel sizes of each row's images (the simulator chooses them per recipe); not model inputs.
PIXEL_COLUMNS: dict[str, str] = {
    "pixel_um": "pixel of the grain image",
    "precipitate_pixel_um": "pixel of the precipitate image",
}


def dataset_spec_for(
    family: str | Sequence[str],
    *,
    bounds: Mapping[str, Sequence[float]] | None = None,
    source: str | Path | None = None,
    name: str | None = None,
) -> DatasetSpec:
    """The dataset spec of generated data: roles, units, bounds and tiers of every column.

    Processing bounds are the family's (with ``bounds`` overrides); with several families the
    union of their bounds, and ``family`` becomes a categorical processing input.

    Parameters
    ----------
    family : str or sequence of str
        One family or several.
    bounds : mapping, optional
        Bound overrides (one family only).
    source : str or Path, optional
        The data file the spec describes.
    name : str, optional
        Dataset name.

    Returns
    -------
    DatasetSpec
    """
    families = [family] if isinstance(family, str) else list(family)
    if not families:
        raise InputError("no family given")
    per_family = [family_bounds(f, bounds if len(families) == 1 else None) for f in families]
    cols: list[ColumnSpec] = []
    cols.append(
        ColumnSpec(
            name="family",
            role="processing" if len(families) > 1 else "ignore",
            kind="categorical",
            description="alloy family",
        )
    )
    for p in RECIPE_PARAMS:
        lo = min(b[p][0] for b in per_family)
        hi = max(b[p][1] for b in per_family)
        cols.append(
            ColumnSpec(name=p, role="processing", unit=RECIPE_UNITS[p], min=lo, max=hi, tier=0)
        )
    for col, (unit, lo, hi, desc) in STRUCTURE_COLUMNS.items():
        cols.append(
            ColumnSpec(col, "structure", unit=unit, min=lo, max=hi, tier=1, description=desc)
        )
    for col, (unit, lo, hi, desc) in PROPERTY_COLUMNS.items():
        cols.append(
            ColumnSpec(col, "property", unit=unit, min=lo, max=hi, tier=2, description=desc)
        )
    for col, desc in PIXEL_COLUMNS.items():
        cols.append(ColumnSpec(col, "ignore", unit="um", min=0.0, description=desc))
    cols.append(
        ColumnSpec(name="error", role="ignore", kind="categorical", description="failure, if any")
    )
    cols.append(ColumnSpec(name=ID_COLUMN, role="ignore", kind="categorical"))
    return DatasetSpec(
        name=name or ("synthetic-" + "-".join(families)),
        source=None if source is None else Path(source),
        columns=tuple(cols),
        id=ID_COLUMN,
        description="psplab synthetic PSP data: phase-field simulation, measured structure, "
        "superposition strength model",
    )


def true_causal_edges(family: str) -> list[tuple[str, str]]:
    """The simulator's ground-truth DAG over the dataset's column names.

    Processing -> structure edges follow :mod:`psplab.sim.core` (Zener pinning off, the
    default): grain size is set by the deformation strain (recrystallized size) and grows with
    the Arrhenius-integrated heat-hold-cool history; the precipitate fraction is the lever-rule
    fraction at the freeze-in temperature (solute, cooling rate); the precipitate size grows
    with the diffusion integral while supersaturated (solute via the solvus, cooling rate,
    hold temperature and time). Measured derived quantities hang off what they are computed
    from: ``astm_g`` off the grain size, the number density off precipitate fraction and size
    (N_A ~ f / d^2). The property follows the strength model's inputs: grain size (Hall-Petch),
    solute (solid solution), precipitate fraction and size (Orowan).

    Parameters
    ----------
    family : str
        Family key.

    Returns
    -------
    list of (str, str)
        ``(cause, effect)`` column pairs.
    """
    get_family(family)  # KeyError naming the known families
    return [
        ("deformation_strain", "grain_size_um"),
        ("hold_temperature_C", "grain_size_um"),
        ("hold_time_s", "grain_size_um"),
        ("cooling_rate_K_per_s", "grain_size_um"),
        ("solute_wt_pct", "precipitate_fraction"),
        ("cooling_rate_K_per_s", "precipitate_fraction"),
        ("solute_wt_pct", "precipitate_mean_diameter_um"),
        ("hold_temperature_C", "precipitate_mean_diameter_um"),
        ("hold_time_s", "precipitate_mean_diameter_um"),
        ("cooling_rate_K_per_s", "precipitate_mean_diameter_um"),
        ("grain_size_um", "astm_g"),
        ("precipitate_fraction", "precipitate_number_density_per_mm2"),
        ("precipitate_mean_diameter_um", "precipitate_number_density_per_mm2"),
        ("grain_size_um", "yield_strength_MPa"),
        ("solute_wt_pct", "yield_strength_MPa"),
        ("precipitate_fraction", "yield_strength_MPa"),
        ("precipitate_mean_diameter_um", "yield_strength_MPa"),
    ]
