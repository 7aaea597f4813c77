"""Simulator in the loop: the phase-field simulator + measurement + strength model as the experiment.

The objective of a recipe is ``psplab.generate.evaluate_recipes`` 's ``yield_strength_MPa`` of its
simulated microstructure. Every recipe is simulated with the same simulator seed (common random
numbers): the objective is then a deterministic function of the recipe, so methods compared on
it see the same landscape and the reference optimum is well defined.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.optimize.space import Parameter, SearchSpace

OBJECTIVE = "yield_strength_MPa"
# Times and rates span decades in the families' bounds; search them on a log scale.
LOG_PARAMS = ("hold_time_s", "cooling_rate_K_per_s")


def family_space(family: str, log_params: Sequence[str] = LOG_PARAMS) -> SearchSpace:
    """The search space of a family's recipe parameters (its bounds, with units)."""
    from psplab.sim import RECIPE_PARAMS, get_family
    from psplab.sim.families import RECIPE_UNITS

    fam = get_family(family)
    params = []
    for name in RECIPE_PARAMS:
        lo, hi = fam.bounds[name]
        unit = RECIPE_UNITS.get(name) or "–"  # dimensionless (strain)
        params.append(
            Parameter(name, "continuous", lo, hi, unit=unit, log=name in log_params and lo > 0)
        )
    return SearchSpace(params)


def baseline_params(family: str) -> dict[str, float]:
    """The family's documented baseline recipe (the centre of its bounds) as parameters."""
    from psplab.sim import RECIPE_PARAMS, get_family

    d = get_family(family).baseline_recipe().to_dict()
    return {k: float(d[k]) for k in RECIPE_PARAMS}


class SimulatedObjective:
    """Callable ``recipes -> values``: simulate, measure, rate (NaN for a failed recipe).

    Parameters
    ----------
    family
        Alloy family.
    grid
        Simulation grid (pixels per side).
    seed
        Simulator seed used for every recipe.
    columns
        Output columns of ``evaluate_recipes`` to return, first the objective.
    """

    def __init__(
        self, family: str, grid: int = 64, seed: int = 0, columns: Sequence[str] = (OBJECTIVE,)
    ):
        self.family = family
        self.grid = grid
        self.seed = seed
        self.columns = tuple(columns)
        self.n_evaluations_ = 0
        self.frames_: list[pd.DataFrame] = []

    def _simulator(self, recipes: list, grid: int, seed: int) -> list:
        from psplab.sim import simulate_recipe

        # Ignore the chunk-derived seed: each recipe gets the same random numbers.
        return [simulate_recipe(r, grid=grid, seed=self.seed) for r in recipes]

    def __call__(self, records: Sequence[dict[str, Any]]) -> np.ndarray:
        from psplab.generate import evaluate_recipes
        from psplab.sim import Recipe

        recipes = [
            Recipe(family=self.family, **{k: float(v) for k, v in r.items()}) for r in records
        ]
        frame = evaluate_recipes(recipes, grid=self.grid, seed=self.seed, simulator=self._simulator)
        self.n_evaluations_ += len(recipes)
        self.frames_.append(frame)
        return frame[list(self.columns)].to_numpy(dtype=float)


def best_so_far(values: np.ndarray, maximize: bool = True) -> np.ndarray:
    """Running best of a 1-D trace (NaN evaluations do not count)."""
    v = np.asarray(values, dtype=float)
    filled = np.where(np.isfinite(v), v, -np.inf if maximize else np.inf)
    out = np.maximum.accumulate(filled) if maximize else np.minimum.accumulate(filled)
    return np.where(np.isfinite(out), out, np.nan)


def local_refine(
    objective: Callable[[list[dict[str, Any]]], np.ndarray],
    space: SearchSpace,
    start: dict[str, Any],
    start_value: float,
    *,
    rounds: int = 8,
    per_round: int = 16,
    seed: int = 0,
) -> tuple[dict[str, Any], float, int]:
    """Shrinking-radius random local search (batched) from ``start``; maximizes. Returns the
    best recipe, its value and the number of evaluations used."""
    rng = np.random.default_rng(seed)
    best_u = space.to_internal([start])
    best_v = float(start_value)
    used = 0
    for r in range(rounds):
        sigma = 0.08 * 0.6**r
        U = space.repair(best_u + sigma * rng.standard_normal((per_round, space.dim)))
        U = U[space.is_feasible(U)]
        if len(U) == 0:
            continue
        v = np.asarray(objective(space.to_records(U)), dtype=float).reshape(len(U), -1)[:, 0]
        used += len(U)
        if np.isfinite(v).any() and np.nanmax(v) > best_v:
            i = int(np.nanargmax(v))
            best_u, best_v = U[i : i + 1], float(v[i])
    return space.to_records(best_u)[0], best_v, used


# --- figures -------------------------------------------------------------------------------
def plot_best_so_far(
    traces: dict[str, np.ndarray],
    path: Path,
    *,
    ylabel: str,
    baseline: float | None = None,
    reference: float | None = None,
    maximize: bool = True,
) -> Path:
    """Best-so-far against evaluations for each method on the same axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0), constrained_layout=True)
    for name, values in traces.items():
        v = np.asarray(values, dtype=float)
        n = np.arange(1, len(v) + 1)
        line = ax.plot(
            n, best_so_far(v, maximize), drawstyle="steps-post", lw=2, label=f"{name} (best so far)"
        )
        ax.plot(n, v, ".", color=line[0].get_color(), alpha=0.35, ms=5)
    if baseline is not None and math.isfinite(baseline):
        ax.axhline(baseline, color="0.4", ls="--", lw=1, label="baseline recipe")
    if reference is not None and math.isfinite(reference):
        ax.axhline(reference, color="k", ls=":", lw=1, label="reference optimum")
    ax.set_xlabel("evaluations [count]")
    ax.set_ylabel(ylabel)
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_recipes(
    history: pd.DataFrame, space: SearchSpace, path: Path, objective: str, ylabel: str
) -> Path:
    """One panel per numeric parameter: the evaluated recipes (colour = evaluation order) against
    the objective, with the bounds as the x range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = [p for p in space.parameters if p.is_numeric]
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.0 * cols, 3.2 * rows), constrained_layout=True, squeeze=False
    )
    order = history["evaluation"].to_numpy()
    for ax, p in zip(axes.ravel(), params, strict=False):
        sc = ax.scatter(history[p.name], history[objective], c=order, cmap="viridis", s=22)
        ax.set_xlabel(p.label())
        ax.set_ylabel(ylabel)
        if p.log:
            ax.set_xscale("log")
        ax.set_xlim(p.low, p.high)
    for ax in axes.ravel()[len(params) :]:
        ax.set_visible(False)
    fig.colorbar(sc, ax=axes.ravel().tolist(), label="evaluation [count]")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_pareto(Y: np.ndarray, maximize: Sequence[bool], labels: Sequence[str], path: Path) -> Path:
    """Observed points and their Pareto front for two objectives."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from psplab.optimize.acquisition import pareto_mask

    mask = pareto_mask(Y, maximize)
    fig, ax = plt.subplots(figsize=(5.5, 4.0), constrained_layout=True)
    ax.plot(Y[:, 0], Y[:, 1], "o", color="0.6", ms=5, label="evaluated recipes")
    front = Y[mask]
    front = front[np.argsort(front[:, 0])]
    ax.plot(front[:, 0], front[:, 1], "o-", color="C3", ms=7, label="Pareto front")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --- the whole run ----------------------------------------------------------------------------
def run_simulated(
    out_dir: str | Path,
    *,
    family: str = "ferritic_steel",
    budget: int = 30,
    seed: int = 0,
    grid: int = 64,
    model: str = "gp",
    acquisition: str = "ei",
    batch_size: int = 1,
    compare_random: bool = True,
    second_objective: str | None = None,
    second_minimize: bool = True,
    mechanics: bool = False,
    sim_seed: int = 0,
) -> dict[str, Any]:
    """Optimize a family's recipe on the simulator and write trace, figures and manifest.

    Returns the manifest's ``results``.
    """
    from psplab.manifest import dump_json, write_manifest
    from psplab.optimize.acquisition import pareto_mask
    from psplab.optimize.bo import BayesianOptimizer, run_optimization

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    space = family_space(family)
    base = baseline_params(family)
    columns = (OBJECTIVE,) if second_objective is None else (OBJECTIVE, second_objective)
    objective = SimulatedObjective(family, grid=grid, seed=sim_seed, columns=columns)
    maximize: bool | tuple[bool, bool] = (
        True if second_objective is None else (True, not second_minimize)
    )
    opt = BayesianOptimizer(
        space, model=model, acquisition=acquisition, maximize=maximize, seed=seed
    )
    hist = run_optimization(
        objective,
        space,
        budget,
        method="bo",
        initial=[base],
        batch_size=batch_size,
        seed=seed,
        optimizer=opt,
    )
    hist["method"] = "psplab"
    frames = [hist]
    if compare_random:
        rnd = run_optimization(
            objective,
            space,
            budget,
            method="random",
            initial=[base],
            batch_size=max(batch_size, 8),
            seed=seed,
        )
        rnd["method"] = "random search"
        frames.append(rnd)
    trace = pd.concat(frames, ignore_index=True)
    obj_col = "objective" if second_objective is None else "objective_0"
    if second_objective is not None:
        trace = trace.rename(columns={"objective_0": "objective", "objective_1": second_objective})
        obj_col = "objective"
    trace_path = out / "trace.csv"
    trace.to_csv(trace_path, index=False)

    bo = trace[trace["method"] == "psplab"].reset_index(drop=True)
    baseline_value = float(bo["objective"].iloc[0])
    i_best = int(np.nanargmax(bo[obj_col].to_numpy(dtype=float)))
    best_value = float(bo[obj_col].iloc[i_best])
    best_recipe = {n: float(bo[n].iloc[i_best]) for n in space.names}
    ylabel = "yield strength [MPa]"
    files: dict[str, Any] = {"trace": trace_path}
    captions: dict[str, str] = {}
    traces = {
        m: g["objective"].to_numpy(dtype=float) for m, g in trace.groupby("method", sort=False)
    }
    f1 = plot_best_so_far(traces, out / "best_so_far.png", ylabel=ylabel, baseline=baseline_value)
    files["best_so_far"] = f1
    captions["best_so_far.png"] = (
        f"Best simulated yield strength found so far against the number of simulator evaluations "
        f"({family}, grid {grid}), psplab Bayesian optimization ({acquisition.upper()}, {model}) and "
        f"random search with the same budget, both starting from the baseline recipe (dashed); "
        f"dots are single evaluations."
    )
    f2 = plot_recipes(bo, space, out / "suggested_recipes.png", "objective", ylabel)
    files["suggested_recipes"] = f2
    captions["suggested_recipes.png"] = (
        "Recipes evaluated by the optimizer, one panel per processing parameter (x range = the "
        "family's bounds), against their simulated yield strength; colour = evaluation order."
    )
    results: dict[str, Any] = {
        "family": family,
        "objective": OBJECTIVE,
        "baseline_recipe": base,
        "baseline_objective": baseline_value,
        "best_objective": best_value,
        "best_recipe": best_recipe,
        "improvement_pct": 100.0 * (best_value - baseline_value) / abs(baseline_value),
        "evaluations": int(len(bo)),
    }
    if compare_random:
        rv = trace[trace["method"] == "random search"]["objective"].to_numpy(dtype=float)
        results["random_best_objective"] = float(np.nanmax(rv))
    if second_objective is not None:
        Y = bo[["objective", second_objective]].to_numpy(dtype=float)
        lab2 = second_objective
        f3 = plot_pareto(
            Y, maximize, [ylabel, lab2 + _unit_suffix(second_objective)], out / "pareto_front.png"
        )
        files["pareto_front"] = f3
        captions["pareto_front.png"] = (
            f"Evaluated recipes in objective space: yield strength (maximized) against "
            f"{second_objective} ({'minimized' if second_minimize else 'maximized'}); red: the "
            f"Pareto front (no other recipe is better in both)."
        )
        mask = pareto_mask(Y, maximize)
        results["second_objective"] = second_objective
        results["pareto_front"] = bo.loc[
            mask, [*space.names, "objective", second_objective]
        ].to_dict("records")
    if mechanics:
        results["mechanics"] = mechanics_check(
            family, best_recipe, grid=grid, seed=sim_seed, model_value=best_value
        )
        dump_json(out / "mechanics.json", results["mechanics"])
        files["mechanics"] = out / "mechanics.json"
    results["captions"] = captions
    write_manifest(
        out,
        "optimize",
        files=files,
        results=results,
        params={
            "family": family,
            "budget": budget,
            "seed": seed,
            "grid": grid,
            "model": model,
            "acquisition": acquisition,
            "batch_size": batch_size,
            "sim_seed": sim_seed,
            "second_objective": second_objective,
            "mechanics": mechanics,
        },
    )
    return results


def _unit_suffix(column: str) -> str:
    units = {
        "grain_size_um": " [µm]",
        "precipitate_fraction": " [–]",
        "precipitate_mean_diameter_um": " [µm]",
        "precipitate_number_density_per_mm2": " [1/mm²]",
        "solute_wt_pct": " [wt%]",
        "astm_g": " [–]",
    }
    return units.get(column, "")


def mechanics_check(
    family: str,
    recipe: dict[str, float],
    *,
    grid: int = 64,
    seed: int = 0,
    model_value: float | None = None,
) -> dict[str, Any]:
    """Re-simulate ``recipe`` and rate it with the FFT J2 mechanics solver as well as the strength
    model; returns both yield strengths (MPa) and their difference."""
    from psplab.sim import Recipe, simulate_recipe
    from psplab.strength.fft import mechanics_yield_strength

    r = Recipe(family=family, **recipe)
    sim = simulate_recipe(r, grid=grid, seed=seed)
    res = mechanics_yield_strength(
        sim.grain_labels, sim.phase_labels, sim.pixel_um, family, solute_wt_pct=r.solute_wt_pct
    )
    fft_value = float(res["yield_strength_mpa"])
    out: dict[str, Any] = {
        "recipe": dict(recipe),
        "strength_model_yield_strength_mpa": model_value,
        "fft_yield_strength_mpa": fft_value,
    }
    if model_value is not None and math.isfinite(model_value):
        out["fft_minus_model_mpa"] = fft_value - model_value
        out["relative_difference_pct"] = 100.0 * (fft_value - model_value) / abs(model_value)
    return out
