"""``psplab optimize``: optimize a family's recipe with the simulator in the loop."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def _fail(lines: str | list[str]) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in [lines] if isinstance(lines, str) else lines:
        err.print(line, markup=False)
    raise typer.Exit(code=2)


def optimize_command(
    simulate: bool = typer.Option(
        False, "--simulate", help="Use the phase-field simulator + measurement + strength model."
    ),
    family: str = typer.Option(
        "ferritic_steel", "--family", help="ferritic_steel | al_mg | ti_al."
    ),
    budget: int = typer.Option(30, "--budget", help="Simulator evaluations (incl. the baseline)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the optimizer (and of random search)."),
    out: Path = typer.Option(..., "--out", help="Run directory (trace, figures, manifest)."),
    grid: int = typer.Option(64, "--grid", help="Simulation grid (pixels per side)."),
    model: str = typer.Option("gp", "--model", help="Surrogate model (any psplab model name)."),
    acquisition: str = typer.Option("ei", "--acquisition", help="ei | ucb | ts."),
    batch: int = typer.Option(1, "--batch", help="Recipes per optimizer step."),
    second_objective: str = typer.Option(
        None, "--second-objective", help="Second objective column, e.g. precipitate_fraction."
    ),
    second_maximize: bool = typer.Option(
        False, "--second-maximize", help="Maximize the second objective."
    ),
    mechanics: bool = typer.Option(
        False, "--mechanics", help="Also rate the best recipe with the FFT mechanics solver."
    ),
    no_random: bool = typer.Option(False, "--no-random", help="Skip the random-search comparison."),
) -> None:
    """Optimize a family's processing recipe with the simulator in the loop, from its baseline."""
    from psplab.models import MODEL_NAMES
    from psplab.optimize.acquisition import ACQUISITIONS
    from psplab.sim import FAMILIES

    problems = []
    if not simulate:
        problems.append(
            "psplab optimize needs --simulate (for real experiments use `psplab campaign`)"
        )
    if family not in FAMILIES:
        problems.append(f"--family {family!r} is not one of {', '.join(FAMILIES)}")
    if budget < 2:
        problems.append(f"--budget must be >= 2, got {budget}")
    if grid < 16:
        problems.append(f"--grid must be >= 16, got {grid}")
    if batch < 1:
        problems.append(f"--batch must be >= 1, got {batch}")
    if model not in (*MODEL_NAMES, "fastgp"):
        problems.append(f"--model {model!r} is not one of {', '.join(MODEL_NAMES)}")
    if acquisition not in ACQUISITIONS:
        problems.append(f"--acquisition {acquisition!r} is not one of {', '.join(ACQUISITIONS)}")
    allowed_second = (
        "grain_size_um",
        "astm_g",
        "precipitate_fraction",
        "precipitate_mean_diameter_um",
        "precipitate_number_density_per_mm2",
    )
    if second_objective is not None and second_objective not in allowed_second:
        problems.append(
            f"--second-objective {second_objective!r} is not one of {', '.join(allowed_second)}"
        )
    if problems:
        _fail(problems)
    from psplab.optimize.simloop import run_simulated

    res = run_simulated(
        out,
        family=family,
        budget=budget,
        seed=seed,
        grid=grid,
        model=model,
        acquisition=acquisition,
        batch_size=batch,
        compare_random=not no_random,
        second_objective=second_objective,
        second_minimize=not second_maximize,
        mechanics=mechanics,
    )
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"{family}: baseline {res['baseline_objective']:.1f} MPa -> best {res['best_objective']:.1f} MPa "
        f"({res['improvement_pct']:+.1f}%) in {res['evaluations']} evaluations"
        + (
            f"; random search best {res['random_best_objective']:.1f} MPa"
            if "random_best_objective" in res
            else ""
        )
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


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.5g}"
    return str(v)


def register(app: typer.Typer) -> None:
    app.command("optimize")(optimize_command)
