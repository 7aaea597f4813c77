"""``psplab sim pfhub1`` and ``psplab sim recipe`` (parse, call :mod:`psplab.sim.runs`, print)."""

from __future__ import annotations

from pathlib import Path

import typer

sim_app = typer.Typer(help="Phase-field simulations (PFHub benchmark 1, single recipes).")


@sim_app.command("pfhub1")
def pfhub1_command(
    out: Path = typer.Option(..., "--out", help="Run directory to write."),
    t_end: float = typer.Option(1000.0, help="End time (benchmark units)."),
    dt: float = typer.Option(0.5, help="Time step."),
    n: int = typer.Option(200, help="Grid points per side (domain is 200 × 200)."),
    dtype: str = typer.Option("float64", help="float32 or float64."),
) -> None:
    """PFHub benchmark 1a (spinodal decomposition): free-energy curve and final field."""
    from psplab._cli import fail, out_console
    from psplab.errors import PsplabError
    from psplab.sim.runs import write_pfhub1_run

    try:
        res = write_pfhub1_run(out, t_end=t_end, dt=dt, n=n, dtype=dtype)
    except PsplabError as exc:
        fail(exc.lines)
    out_console().print(
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
    pixel_um: float = typer.Option(
        None, "--pixel-um", help="Force the pixel size (µm); default: final grain size / 12."
    ),
    pin_fraction: float = typer.Option(
        None, help="Pin grain boundaries with random particles: area fraction."
    ),
    pin_radius_um: float = typer.Option(None, help="Radius of those particles (µm)."),
) -> None:
    """Simulate one recipe; writes label images (.npz), a picture and the manifest."""
    from psplab._cli import fail, out_console
    from psplab.errors import PsplabError
    from psplab.sim.runs import recipe_with, write_recipe_run

    try:
        recipe = recipe_with(
            family,
            solute_wt_pct=solute_wt_pct,
            deformation_strain=deformation_strain,
            hold_temperature_C=hold_temperature_C,
            hold_time_s=hold_time_s,
            cooling_rate_K_per_s=cooling_rate_K_per_s,
        )
        res = write_recipe_run(
            out,
            recipe,
            grid=grid,
            seed=seed,
            pixel_um=pixel_um,
            pin_fraction=pin_fraction,
            pin_radius_um=pin_radius_um,
        )
    except PsplabError as exc:
        fail(exc.lines)
    out_console().print(
        f"{family}: {int(res.grain_labels.max())} grains of mean law diameter "
        f"{res.info['d_final_law_um']:.3g} µm, pixel {res.pixel_um:.3g} µm; precipitate "
        f"fraction {res.precipitate_labels.mean():.3f} (pixel {res.precipitate_pixel_um:.3g} µm); "
        f"wrote {out}"
    )


def register(app: typer.Typer) -> None:
    """Add ``psplab sim`` to ``app``.

    Parameters
    ----------
    app : typer.Typer
        The ``psplab`` application.
    """
    app.add_typer(sim_app, name="sim")
