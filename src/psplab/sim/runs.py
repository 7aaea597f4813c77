"""Run directories of ``psplab sim``: PFHub benchmark 1 and single recipes.

Each function validates its inputs (typed errors), runs, writes its files and
``manifest.json``, and returns what it computed; the commands only parse and print.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from psplab.errors import InputError
from psplab.sim.families import FAMILIES, RECIPE_PARAMS, Recipe, get_family

# Largest grid a single run accepts: a recipe at 4096² already takes tens of minutes on a CPU.
MAX_GRID = 4096
MAX_PFHUB_STEPS = 1e7


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def recipe_with(family: str, **overrides: float | None) -> Recipe:
    """The family's baseline recipe with some parameters set; checked against the bounds.

    Parameters
    ----------
    family : str
        Family key.
    **overrides : float or None
        Recipe parameters (``None`` keeps the baseline value).

    Returns
    -------
    Recipe

    Raises
    ------
    InputError
        For an unknown family or parameter, or a value outside the family's bounds.
    """
    if family not in FAMILIES:
        raise InputError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    unknown = [k for k in overrides if k not in RECIPE_PARAMS]
    if unknown:
        raise InputError(f"unknown recipe parameter(s): {', '.join(unknown)}")
    fam = get_family(family)
    values = {k: float(v) for k, v in overrides.items() if v is not None}
    recipe = dataclasses.replace(fam.baseline_recipe(), **values)
    fam.check_recipe(recipe)
    return recipe


def check_grid(
    grid: int, n_recipes: int = 1, dtype: str = "float32", option: str = "--grid"
) -> None:
    """Refuse a grid too large for a bound or for this machine's memory (``ResourceError``).

    Parameters
    ----------
    grid : int
        Pixels per side.
    n_recipes : int
        Recipes simulated (batched up to 16 at a time).
    dtype : str
        Field precision.
    option : str
        The option's name in messages.
    """
    from psplab.limits import format_bytes, require_at_most, require_memory
    from psplab.sim.core import estimate_memory_bytes

    if grid < 16:
        raise InputError(f"{option} must be >= 16, got {grid}")
    need_bytes = estimate_memory_bytes(grid, n_recipes, dtype)
    # The estimate is in the message either way, so a refused grid says what it would cost.
    require_at_most(
        option,
        grid,
        MAX_GRID,
        f"a recipe on a larger grid takes hours on a CPU and would need about "
        f"{format_bytes(need_bytes)} of memory",
    )
    require_memory(need_bytes, f"{option} {grid}", "use a smaller grid")


def write_pfhub1_run(
    out: str | Path, *, t_end: float = 1000.0, dt: float = 0.5, n: int = 200, dtype: str = "float64"
) -> dict[str, Any]:
    """PFHub benchmark 1a into ``out``: ``free_energy.csv``, ``c_final.npy``, a plot, manifest.

    Parameters
    ----------
    out : str or Path
        Run directory.
    t_end, dt : float
        End time and time step (benchmark units).
    n : int
        Grid points per side (the domain is 200 × 200).
    dtype : str
        ``"float32"`` or ``"float64"``.

    Returns
    -------
    dict
        ``time``, ``free_energy``, ``mean_c``, ``c_final`` (see
        :func:`psplab.sim.cahn_hilliard.pfhub1`).
    """
    from psplab.manifest import write_manifest
    from psplab.sim.cahn_hilliard import pfhub1
    from psplab.sim.plots import free_energy_plot

    problems = []
    if not (math.isfinite(t_end) and math.isfinite(dt)) or t_end <= 0 or dt <= 0 or dt > t_end:
        problems.append(f"need 0 < dt <= t_end, got dt={dt}, t_end={t_end}")
    elif t_end / dt > MAX_PFHUB_STEPS:
        problems.append(
            f"t_end / dt = {t_end / dt:g} steps is above the limit of {MAX_PFHUB_STEPS:g}"
        )
    if dtype not in ("float32", "float64"):
        problems.append(f"dtype must be float32 or float64, got {dtype!r}")
    if problems:
        raise InputError(problems)
    check_grid(n, option="--n")
    res = pfhub1(t_end=t_end, dt=dt, n=n, dtype=dtype)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "free_energy.csv"
    table = np.stack([res["time"], res["free_energy"], res["mean_c"]], 1)
    np.savetxt(csv, table, delimiter=",", header="time,free_energy,mean_c", comments="")
    np.save(out / "c_final.npy", res["c_final"])
    _save(free_energy_plot(res["time"], res["free_energy"]), out / "pfhub1.png")
    write_manifest(
        out,
        "pfhub1",
        files={"free_energy": csv, "field": out / "c_final.npy", "plot": out / "pfhub1.png"},
        results={
            "free_energy_initial": float(res["free_energy"][0]),
            "free_energy_final": float(res["free_energy"][-1]),
            "mass_drift_rel": float(abs(res["mean_c"][-1] / res["mean_c"][0] - 1)),
        },
        params={"t_end": t_end, "dt": dt, "n": n, "dtype": dtype},
    )
    return res


def _pinning(fraction: float | None, radius_um: float | None) -> tuple[float, float] | None:
    if (fraction is None) != (radius_um is None):
        raise InputError("--pin-fraction and --pin-radius-um go together")
    if fraction is None:
        return None
    problems = []
    if not 0 <= fraction <= 0.4:
        problems.append(f"--pin-fraction must lie in [0, 0.4], got {fraction:g}")
    if not (math.isfinite(radius_um) and radius_um > 0):
        problems.append(f"--pin-radius-um must be a positive number, got {radius_um:g}")
    if problems:
        raise InputError(problems)
    return fraction, radius_um


def write_recipe_run(
    out: str | Path,
    recipe: Recipe,
    *,
    grid: int = 128,
    seed: int = 0,
    pixel_um: float | None = None,
    pin_fraction: float | None = None,
    pin_radius_um: float | None = None,
):
    """Simulate one recipe into ``out``: ``microstructure.npz``, a picture and the manifest.

    The ``.npz`` holds ``grain_labels``, ``phase_labels`` (precipitates at the grain pixel),
    ``pixel_um``, ``precipitate_labels``, ``precipitate_pixel_um`` and ``pinning_particles``;
    the manifest's results hold the plan (``d0_um``, ``K_gg_um2``, ``d_final_law_um``, ...),
    the grain count and the precipitate area fraction.

    Parameters
    ----------
    out : str or Path
        Run directory.
    recipe : Recipe
        The processing route.
    grid, seed : int
        Pixels per side of the grain image, and the seed.
    pixel_um : float, optional
        Force the grain pixel (µm).
    pin_fraction, pin_radius_um : float, optional
        Zener pinning by random particles (both or neither).

    Returns
    -------
    SimResult
    """
    from psplab.manifest import write_manifest
    from psplab.sim.core import simulate_recipe
    from psplab.sim.plots import microstructure_plot

    pinning = _pinning(pin_fraction, pin_radius_um)
    check_grid(grid)
    res = simulate_recipe(
        recipe, grid=grid, seed=seed, zener_pinning=pinning or False, pixel_um=pixel_um
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    npz = out / "microstructure.npz"
    np.savez_compressed(
        npz,
        grain_labels=res.grain_labels,
        phase_labels=res.phase_labels,
        pixel_um=res.pixel_um,
        precipitate_labels=res.precipitate_labels.astype(np.uint8),
        precipitate_pixel_um=res.precipitate_pixel_um,
        # the particles that pinned the boundaries (all False without Zener pinning)
        pinning_particles=res.info.get(
            "pinning_particles", np.zeros(res.grain_labels.shape, dtype=bool)
        ),
    )
    _save(
        microstructure_plot(res.grain_labels, res.pixel_um, res.phase_labels),
        out / "microstructure.png",
    )
    scalars = {k: v for k, v in res.info.items() if isinstance(v, int | float | bool)}
    scalars.update(
        grain_count=int(res.grain_labels.max()),
        precipitate_area_fraction=float(res.precipitate_labels.mean()),
    )
    write_manifest(
        out,
        "simulate",
        files={"microstructure": npz, "picture": out / "microstructure.png"},
        results=scalars,
        params={
            **recipe.to_dict(),
            "grid": grid,
            "seed": seed,
            "pixel_um": pixel_um,
            "pin_fraction": pin_fraction,
            "pin_radius_um": pin_radius_um,
        },
    )
    return res
