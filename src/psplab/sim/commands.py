"""``psplab sim pfhub1`` and ``psplab sim recipe``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

sim_app = typer.Typer(help="Phase-field simulations (PFHub benchmark 1, single recipes).")


def _fail(lines: list[str]) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in lines:
        err.print(line, markup=False)
    raise typer.Exit(code=2)


@sim_app.command("pfhub1")
def pfhub1_command(
    out: Path = typer.Option(..., "--out", help="Run directory to write."),
    t_end: float = typer.Option(1000.0, help="End time (benchmark units)."),
    dt: float = typer.Option(0.5, help="Time step."),
    n: int = typer.Option(200, help="Grid points per side (domain is 200 × 200)."),
    dtype: str = typer.Option("float64", help="float32 or float64."),
) -> None:
    """PFHub benchmark 1a (spinodal decomposition): free-energy curve and final field."""
    problems = []
    if t_end <= 0 or dt <= 0 or dt > t_end:
        problems.append(f"need 0 < dt <= t_end, got dt={dt}, t_end={t_end}")
    if n < 16:
        problems.append(f"n must be >= 16, got {n}")
    if dtype not in ("float32", "float64"):
        problems.append(f"dtype must be float32 or float64, got {dtype!r}")
    if problems:
        _fail(problems)
    import numpy as np

    from psplab.manifest import write_manifest
    from psplab.sim.cahn_hilliard import pfhub1

    res = pfhub1(t_end=t_end, dt=dt, n=n, dtype=dtype)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "free_energy.csv"
    np.savetxt(
        csv,
        np.stack([res["time"], res["free_energy"], res["mean_c"]], 1),
        delimiter=",",
        header="time,free_energy,mean_c",
        comments="",
    )
    np.save(out / "c_final.npy", res["c_final"])
    files = {"free_energy": csv, "field": out / "c_final.npy"}
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(9, 4))
        ax[0].loglog(res["time"][1:], res["free_energy"][1:], "o-")
        ax[0].set_xlabel("time")
        ax[0].set_ylabel("total free energy")
        ax[0].set_title("PFHub 1a")
        ax[1].imshow(res["c_final"], cmap="viridis")
        ax[1].set_axis_off()
        fig.tight_layout()
        fig.savefig(out / "pfhub1.png", dpi=100)
        plt.close(fig)
        files["plot"] = out / "pfhub1.png"
    except Exception:  # a plot is a nicety; the CSV is the result
        pass
    write_manifest(
        out,
        "pfhub1",
        files=files,
        results={
            "free_energy_initial": float(res["free_energy"][0]),
            "free_energy_final": float(res["free_energy"][-1]),
            "mass_drift_rel": float(abs(res["mean_c"][-1] / res["mean_c"][0] - 1)),
        },
        params={"t_end": t_end, "dt": dt, "n": n, "dtype": dtype},
    )
    Console(highlight=False).print(
        f"PFHub 1a: F(0) = {res['free_energy'][0]:.2f}, F({t_end:g}) = "
        f"{res['free_energy'][-1]:.2f}; wrote {out}"
    )


@sim_app.command("recipe")
def recipe_command(
    family: str = typer.Option(..., help="ferritic_steel, al_mg or ti_al."),
    out: Path = typer.Option(..., "--out", help="Run directory to write."),
    solute_wt_pct: float = typer.Option(None, help="Default: centre of the family's bounds."),
    deformation_strain: float = typer.Option(None),
    hold_temperature_C: float = typer.Option(None),
    hold_time_s: float = typer.Option(None),
    cooling_rate_K_per_s: float = typer.Option(None),
    grid: int = typer.Option(128, help="Grid size in pixels."),
    seed: int = typer.Option(0),
    zener_pinning: bool = typer.Option(
        False, help="Let the precipitates present during a sub-solvus hold pin grain boundaries."
    ),
    pin_fraction: float = typer.Option(
        None, help="Pin with random particles instead: area fraction (needs --pin-radius-um)."
    ),
    pin_radius_um: float = typer.Option(None, help="Radius of those particles (µm)."),
) -> None:
    """Simulate one recipe; writes label images (.npz), a picture and the manifest."""
    import dataclasses

    from psplab.sim import FAMILIES, get_family, simulate_recipe

    if family not in FAMILIES:
        _fail([f"unknown family {family!r}; known: {', '.join(FAMILIES)}"])
    fam = get_family(family)
    overrides = {
        k: v
        for k, v in {
            "solute_wt_pct": solute_wt_pct,
            "deformation_strain": deformation_strain,
            "hold_temperature_C": hold_temperature_C,
            "hold_time_s": hold_time_s,
            "cooling_rate_K_per_s": cooling_rate_K_per_s,
        }.items()
        if v is not None
    }
    recipe = dataclasses.replace(fam.baseline_recipe(), **overrides)
    try:
        fam.check_recipe(recipe)
    except ValueError as exc:
        _fail([str(exc)])
    problems = [f"grid must be >= 16, got {grid}"] if grid < 16 else []
    pinning: bool | tuple[float, float] = zener_pinning
    if (pin_fraction is None) != (pin_radius_um is None):
        problems.append("--pin-fraction and --pin-radius-um go together")
    elif pin_fraction is not None:
        if zener_pinning:
            problems.append("use either --zener-pinning or --pin-fraction/--pin-radius-um")
        if not 0 <= pin_fraction <= 0.4:
            problems.append(f"--pin-fraction must lie in [0, 0.4], got {pin_fraction:g}")
        if pin_radius_um < fam.pixel_um:
            problems.append(
                f"--pin-radius-um must be at least one pixel ({fam.pixel_um:g} µm), "
                f"got {pin_radius_um:g}"
            )
        pinning = (pin_fraction, pin_radius_um)
    if problems:
        _fail(problems)
    import numpy as np

    from psplab.manifest import write_manifest

    res = simulate_recipe(recipe, grid=grid, seed=seed, zener_pinning=pinning)
    out.mkdir(parents=True, exist_ok=True)
    npz = out / "microstructure.npz"
    np.savez_compressed(
        npz,
        grain_labels=res.grain_labels,
        phase_labels=res.phase_labels,
        composition=res.info["composition"],
        pixel_um=res.pixel_um,
        # the particles that pinned the boundaries (all False without Zener pinning)
        pinning_particles=res.info.get(
            "pinning_particles", np.zeros(res.grain_labels.shape, dtype=bool)
        ),
    )
    files = {"microstructure": npz}
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from skimage.segmentation import find_boundaries

        img = np.ones((*res.grain_labels.shape, 3))
        img[find_boundaries(res.grain_labels, mode="inner")] = 0.0
        img[res.phase_labels == 1] = (0.8, 0.1, 0.1)
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.imshow(img, extent=(0, grid * res.pixel_um, 0, grid * res.pixel_um))
        ax.set_xlabel("µm")
        fig.tight_layout()
        fig.savefig(out / "microstructure.png", dpi=100)
        plt.close(fig)
        files["picture"] = out / "microstructure.png"
    except Exception:  # a picture is a nicety
        pass
    scalars = {k: v for k, v in res.info.items() if isinstance(v, int | float | bool)}
    scalars.update(
        grain_count=int(res.grain_labels.max()),
        precipitate_area_fraction=float(res.phase_labels.mean()),
    )
    write_manifest(
        out,
        "simulate",
        files=files,
        results=scalars,
        params={
            **recipe.to_dict(),
            "grid": grid,
            "seed": seed,
            "zener_pinning": zener_pinning,
            "pin_fraction": pin_fraction,
            "pin_radius_um": pin_radius_um,
        },
    )
    Console(highlight=False).print(
        f"{family}: {scalars['grain_count']} grains, precipitate fraction "
        f"{scalars['precipitate_area_fraction']:.3f}, pixel {res.pixel_um} µm; wrote {out}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
