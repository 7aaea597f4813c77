"""``psplab optimize``: optimize a family's recipe with the simulator in the loop.

Parses the options, calls :func:`psplab.optimize.simloop.optimize_simulated` and prints; the
campaign commands for real experiments are in :mod:`psplab.optimize.campaign_commands`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

SimulateOpt = Annotated[
    bool,
    typer.Option(
        "--simulate", help="Use the phase-field simulator + measurement + strength model."
    ),
]
FamilyOpt = Annotated[str, typer.Option("--family", help="ferritic_steel | al_mg | ti_al.")]
BudgetOpt = Annotated[
    int, typer.Option("--budget", help="Simulator evaluations (incl. the baseline).")
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Seed of the optimizer (and of random search).")
]
OutOpt = Annotated[Path, typer.Option("--out", help="Run directory (trace, figures, manifest).")]
GridOpt = Annotated[int, typer.Option("--grid", help="Simulation grid (pixels per side).")]
ModelOpt = Annotated[str, typer.Option("--model", help="Surrogate model (any psplab model name).")]
AcquisitionOpt = Annotated[str, typer.Option("--acquisition", help="ei | ucb | ts.")]
BatchOpt = Annotated[int, typer.Option("--batch", help="Recipes per optimizer step.")]
SecondOpt = Annotated[
    str | None,
    typer.Option("--second-objective", help="Second objective column, e.g. precipitate_fraction."),
]
SecondMaxOpt = Annotated[
    bool, typer.Option("--second-maximize", help="Maximize the second objective.")
]
MechanicsOpt = Annotated[
    bool,
    typer.Option("--mechanics", help="Also rate the best recipe with the FFT mechanics solver."),
]
NoRandomOpt = Annotated[
    bool, typer.Option("--no-random", help="Skip the random-search comparison.")
]

# How the settings are named in messages: as the options the user typed.
OPTION_NAMES = {
    "family": "--family",
    "budget": "--budget",
    "grid": "--grid",
    "batch_size": "--batch",
    "model": "--model",
    "acquisition": "--acquisition",
    "second_objective": "--second-objective",
}


def _fmt(value: Any) -> str:
    return f"{value:.5g}" if isinstance(value, float) else str(value)


def _print_results(res: dict[str, Any], family: str, out: Path) -> None:
    from rich.table import Table

    from psplab._cli import out_console

    console = out_console()
    random_best = res.get("random_best_objective")
    console.print(
        f"{family}: baseline {res['baseline_objective']:.1f} MPa -> best "
        f"{res['best_objective']:.1f} MPa ({res['improvement_pct']:+.1f}%) in "
        f"{res['evaluations']} evaluations"
        + (f"; random search best {random_best:.1f} MPa" if random_best is not None else "")
    )
    table = Table("parameter", "best recipe")
    for k, v in res["best_recipe"].items():
        table.add_row(k, _fmt(v))
    console.print(table)
    if "mechanics" in res:
        m = res["mechanics"]
        console.print(
            f"best recipe: strength model {m['strength_model_yield_strength_mpa']:.1f} MPa, "
            f"FFT mechanics {m['fft_yield_strength_mpa']:.1f} MPa"
        )
    console.print(f"wrote {out}/manifest.json")


def optimize_command(
    out: OutOpt,
    simulate: SimulateOpt = False,
    family: FamilyOpt = "ferritic_steel",
    budget: BudgetOpt = 30,
    seed: SeedOpt = 0,
    grid: GridOpt = 64,
    model: ModelOpt = "gp",
    acquisition: AcquisitionOpt = "ei",
    batch: BatchOpt = 1,
    second_objective: SecondOpt = None,
    second_maximize: SecondMaxOpt = False,
    mechanics: MechanicsOpt = False,
    no_random: NoRandomOpt = False,
) -> None:
    """Optimize a family's processing recipe with the simulator in the loop, from its baseline."""
    from psplab._cli import fail
    from psplab.errors import InputError
    from psplab.optimize.simloop import check_simulated_settings, optimize_simulated

    settings = {
        "family": family,
        "budget": budget,
        "grid": grid,
        "batch_size": batch,
        "model": model,
        "acquisition": acquisition,
        "second_objective": second_objective,
        "mechanics": mechanics,
    }
    problems = []
    if not simulate:
        problems.append(
            "psplab optimize needs --simulate (for real experiments use `psplab campaign`)"
        )
    if out.exists() and not out.is_dir():
        problems.append(f"--out {out}: exists and is not a folder")
    try:
        check_simulated_settings(**settings, names=OPTION_NAMES)
    except InputError as exc:
        problems.extend(exc.lines)
    if problems:
        fail(problems)
    run = optimize_simulated(
        **settings,
        seed=seed,
        compare_random=not no_random,
        second_minimize=not second_maximize,
    )
    _print_results(run.write(out), family, out)


def register(app: typer.Typer) -> None:
    """Add ``psplab optimize`` to the ``psplab`` typer app."""
    app.command("optimize")(optimize_command)
