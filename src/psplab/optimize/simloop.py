"""Simulator in the loop: the phase-field simulator + measurement + strength model as the experiment.

The objective of a recipe is ``psplab.generate.evaluate_recipes`` 's ``yield_strength_MPa`` of its
simulated microstructure. Every recipe is simulated with the same simulator seed (common random
numbers): the objective is then a deterministic function of the recipe, so methods compared on
it see the same landscape and the reference optimum is well defined.

:func:`optimize_simulated` runs Bayesian optimization (and random search with the same budget)
from the family's baseline recipe and returns a :class:`SimulatedRun`; its
:meth:`~SimulatedRun.write` makes the run directory. ``psplab optimize --simulate`` is
:func:`run_simulated`, the two in one call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.errors import InputError
from psplab.limits import require_at_most, require_memory
from psplab.optimize.plots import best_so_far
from psplab.optimize.space import Parameter, SearchSpace

__all__ = [
    "LOG_PARAMS",
    "MAX_BUDGET",
    "OBJECTIVE",
    "SECOND_OBJECTIVES",
    "SimulatedObjective",
    "SimulatedRun",
    "baseline_params",
    "best_so_far",
    "check_simulated_settings",
    "family_space",
    "local_refine",
    "mechanics_check",
    "optimize_simulated",
    "run_simulated",
    "simulated_memory_bytes",
]

OBJECTIVE = "yield_strength_MPa"
# Times and rates span decades in the families' bounds; search them on a log scale.
LOG_PARAMS = ("hold_time_s", "cooling_rate_K_per_s")
# Measured columns that may be a second objective, with their axis-label units.
SECOND_OBJECTIVES = {
    "grain_size_um": "µm",
    "astm_g": "–",
    "precipitate_fraction": "–",
    "precipitate_mean_diameter_um": "µm",
    "precipitate_number_density_per_mm2": "1/mm²",
}
# Every evaluation is a phase-field simulation (seconds to minutes) and the surrogate refits on
# all of them at every step; ten thousand is far past what a simulator-in-the-loop run needs.
MAX_BUDGET = 10_000
# Peak memory of one phase-field simulation per pixel of its grid (order parameters,
# concentration, FFT buffers and JAX temporaries; measured on square grids of 128-384).
SIM_BYTES_PER_PIXEL = 1500
# Acquisition candidates per suggestion (Sobol + local), see BayesianOptimizer.n_candidates.
_N_CANDIDATES = 1024 + 200


def family_space(family: str, log_params: Sequence[str] = LOG_PARAMS) -> SearchSpace:
    """The search space of a family's recipe parameters (its bounds, with units).

    Parameters
    ----------
    family : str
        Alloy family.
    log_params : sequence of str
        Parameters searched on a log scale.

    Returns
    -------
    SearchSpace
    """
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
    """The family's documented baseline recipe (the centre of its bounds) as parameters.

    Parameters
    ----------
    family : str
        Alloy family.

    Returns
    -------
    dict of str to float
    """
    from psplab.sim import RECIPE_PARAMS, get_family

    d = get_family(family).baseline_recipe().to_dict()
    return {k: float(d[k]) for k in RECIPE_PARAMS}


class SimulatedObjective:
    """Callable ``recipes -> values``: simulate, measure, rate (NaN for a failed recipe).

    Parameters
    ----------
    family : str
        Alloy family.
    grid : int
        Simulation grid (pixels per side).
    seed : int
        Simulator seed used for every recipe.
    columns : sequence of str
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
    """Shrinking-radius random local search (batched) from ``start``; maximizes.

    Parameters
    ----------
    objective : callable
        Maps a list of recipes to values (first column used).
    space : SearchSpace
        The search space.
    start : dict
        The starting recipe.
    start_value : float
        Its objective value.
    rounds, per_round : int
        Rounds of search and recipes per round.
    seed : int
        Seed of the random steps.

    Returns
    -------
    tuple
        ``(best_recipe, best_value, evaluations_used)``.
    """
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


def simulated_memory_bytes(grid: int, budget: int, dim: int, mechanics: bool = False) -> float:
    """Estimated peak memory of :func:`optimize_simulated`, in bytes.

    Parameters
    ----------
    grid : int
        Simulation grid (pixels per side).
    budget : int
        Evaluations.
    dim : int
        Number of recipe parameters.
    mechanics : bool
        Whether the best recipe is also rated by the FFT mechanics solver.

    Returns
    -------
    float
    """
    simulation = SIM_BYTES_PER_PIXEL * float(grid) ** 2
    # The surrogate: a few n x n matrices (kernel, Cholesky factor, solves); the acquisition:
    # candidate-to-observation distances of every candidate, feature by feature.
    surrogate = 8.0 * (4.0 * budget**2 + _N_CANDIDATES * budget * (dim + 2))
    total = simulation + surrogate
    if mechanics:
        from psplab.strength.fft import mechanics_memory_bytes

        total = max(total, simulation + mechanics_memory_bytes((grid, grid), 40))
    return total


def check_simulated_settings(
    *,
    family: str,
    budget: int,
    grid: int,
    batch_size: int = 1,
    model: str = "gp",
    acquisition: str = "ei",
    second_objective: str | None = None,
    mechanics: bool = False,
    names: Mapping[str, str] | None = None,
) -> None:
    """Check the settings of :func:`optimize_simulated` before any work starts.

    Parameters
    ----------
    family, model, acquisition : str
        As for :func:`optimize_simulated`.
    budget, grid, batch_size : int
        As for :func:`optimize_simulated`.
    second_objective : str or None
        As for :func:`optimize_simulated`.
    mechanics : bool
        As for :func:`optimize_simulated`.
    names : mapping of str to str, optional
        How messages name each setting (the command line passes ``{"budget": "--budget"}``).

    Raises
    ------
    psplab.errors.InputError
        Listing every bad setting.
    psplab.errors.ResourceError
        When the run would exceed :data:`MAX_BUDGET` or the memory available.
    """
    from psplab.models import MODEL_NAMES
    from psplab.optimize.acquisition import ACQUISITIONS
    from psplab.sim import FAMILIES

    names = dict(names or {})

    def n(key: str) -> str:
        return names.get(key, key)

    problems = []
    if family not in FAMILIES:
        problems.append(f"{n('family')} {family!r} is not one of {', '.join(FAMILIES)}")
    if budget < 2:
        problems.append(f"{n('budget')} must be >= 2, got {budget}")
    if grid < 16:
        problems.append(f"{n('grid')} must be >= 16, got {grid}")
    if not 1 <= batch_size <= max(budget, 1):
        problems.append(f"{n('batch_size')} must be between 1 and the budget, got {batch_size}")
    if model not in (*MODEL_NAMES, "fastgp"):
        problems.append(f"{n('model')} {model!r} is not one of {', '.join(MODEL_NAMES)}")
    if acquisition not in ACQUISITIONS:
        problems.append(
            f"{n('acquisition')} {acquisition!r} is not one of {', '.join(ACQUISITIONS)}"
        )
    if second_objective is not None and second_objective not in SECOND_OBJECTIVES:
        problems.append(
            f"{n('second_objective')} {second_objective!r} is not one of "
            f"{', '.join(SECOND_OBJECTIVES)}"
        )
    if problems:
        raise InputError(problems)
    require_at_most(n("budget"), budget, MAX_BUDGET, "each evaluation is a phase-field simulation")
    require_memory(
        simulated_memory_bytes(grid, budget, len(family_space(family).names), mechanics),
        f"{n('grid')} {grid} with {n('budget')} {budget}",
        "use a smaller grid or budget",
    )


@dataclass
class SimulatedRun:
    """Result of :func:`optimize_simulated`; :meth:`write` makes its run directory.

    Attributes
    ----------
    space : SearchSpace
        The family's recipe space that was searched.
    trace : pandas.DataFrame
        Every evaluation of every method (``method`` is ``"psplab"`` or ``"random search"``),
        with ``objective`` (and the second objective's column).
    results : dict
        Baseline and best recipe and objective, improvement, evaluations, the random-search
        best, the Pareto front (two objectives) and the mechanics check.
    params : dict
        The settings the run used.
    """

    space: SearchSpace
    trace: pd.DataFrame
    results: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def psplab_trace(self) -> pd.DataFrame:
        """The Bayesian-optimization evaluations only, in order."""
        return self.trace[self.trace["method"] == "psplab"].reset_index(drop=True)

    def captions(self) -> dict[str, str]:
        """Figure captions by file name.

        Returns
        -------
        dict
        """
        p = self.params
        captions = {
            "best_so_far.png": (
                f"Best simulated yield strength found so far against the number of simulator "
                f"evaluations ({p['family']}, grid {p['grid']}), psplab Bayesian optimization "
                f"({p['acquisition'].upper()}, {p['model']}) and random search with the same "
                f"budget, both starting from the baseline recipe (dashed); dots are single "
                f"evaluations."
            ),
            "suggested_recipes.png": (
                "Recipes evaluated by the optimizer, one panel per processing parameter (x range "
                "= the family's bounds), against their simulated yield strength; colour = "
                "evaluation order."
            ),
        }
        second = p.get("second_objective")
        if second is not None:
            direction = "minimized" if p.get("second_minimize", True) else "maximized"
            captions["pareto_front.png"] = (
                f"Evaluated recipes in objective space: yield strength (maximized) against "
                f"{second} ({direction}); red: the Pareto front (no other recipe is better in "
                f"both)."
            )
        return captions

    def write(self, out_dir: str | Path) -> dict[str, Any]:
        """Write ``trace.csv``, the figures, ``mechanics.json`` and ``manifest.json``.

        Parameters
        ----------
        out_dir : str or pathlib.Path
            The run directory (created).

        Returns
        -------
        dict
            The manifest's ``results`` (:attr:`results` with the figure captions).
        """
        from psplab.manifest import dump_json, write_manifest
        from psplab.optimize.plots import best_so_far_plot, pareto_plot, recipes_plot
        from psplab.plotting import save_figure

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, Any] = {"trace": out / "trace.csv"}
        self.trace.to_csv(files["trace"], index=False)
        ylabel = "yield strength [MPa]"
        traces = {
            m: g["objective"].to_numpy(dtype=float)
            for m, g in self.trace.groupby("method", sort=False)
        }
        baseline = self.results["baseline_objective"]
        fig = best_so_far_plot(traces, ylabel=ylabel, baseline=baseline)
        files["best_so_far"] = save_figure(fig, out / "best_so_far.png")
        fig = recipes_plot(self.psplab_trace, self.space, "objective", ylabel=ylabel)
        files["suggested_recipes"] = save_figure(fig, out / "suggested_recipes.png", dpi=110)
        second = self.params.get("second_objective")
        if second is not None:
            Y = self.psplab_trace[["objective", second]].to_numpy(dtype=float)
            labels = [ylabel, f"{second} [{SECOND_OBJECTIVES[second]}]"]
            fig = pareto_plot(Y, self._maximize(), labels)
            files["pareto_front"] = save_figure(fig, out / "pareto_front.png")
        if "mechanics" in self.results:
            files["mechanics"] = dump_json(out / "mechanics.json", self.results["mechanics"])
        results = {**self.results, "captions": self.captions()}
        write_manifest(out, "optimize", files=files, results=results, params=self.params)
        return results

    def _maximize(self) -> bool | tuple[bool, bool]:
        if self.params.get("second_objective") is None:
            return True
        return (True, not self.params.get("second_minimize", True))


def _evaluate_methods(
    objective: SimulatedObjective,
    space: SearchSpace,
    budget: int,
    optimizer: Any,
    base: dict[str, float],
    batch_size: int,
    seed: int,
    compare_random: bool,
) -> pd.DataFrame:
    """Evaluations of Bayesian optimization and (optionally) random search, one frame."""
    from psplab.optimize.bo import run_optimization

    common = {"initial": [base], "seed": seed}
    frames = [
        run_optimization(
            objective, space, budget, method="bo", batch_size=batch_size, optimizer=optimizer,
            **common,
        ).assign(method="psplab")
    ]  # fmt: skip
    if compare_random:
        frames.append(
            run_optimization(
                objective, space, budget, method="random", batch_size=max(batch_size, 8), **common
            ).assign(method="random search")
        )
    return pd.concat(frames, ignore_index=True)


def _summary(
    trace: pd.DataFrame,
    space: SearchSpace,
    family: str,
    base: dict[str, float],
    second_objective: str | None,
    maximize: bool | tuple[bool, bool],
) -> dict[str, Any]:
    """Baseline, best recipe, improvement (the first psplab evaluation is the baseline), the
    random-search best and the Pareto front of two objectives."""
    from psplab.optimize.acquisition import pareto_mask

    bo = trace[trace["method"] == "psplab"].reset_index(drop=True)
    values = bo["objective"].to_numpy(dtype=float)
    baseline_value = float(values[0])
    i_best = int(np.nanargmax(values))
    best_value = float(values[i_best])
    results: dict[str, Any] = {
        "family": family,
        "objective": OBJECTIVE,
        "baseline_recipe": base,
        "baseline_objective": baseline_value,
        "best_objective": best_value,
        "best_recipe": {n: float(bo[n].iloc[i_best]) for n in space.names},
        "improvement_pct": 100.0 * (best_value - baseline_value) / abs(baseline_value),
        "evaluations": int(len(bo)),
    }
    random_values = trace.loc[trace["method"] == "random search", "objective"]
    if len(random_values):
        results["random_best_objective"] = float(np.nanmax(random_values.to_numpy(dtype=float)))
    if second_objective is not None:
        mask = pareto_mask(bo[["objective", second_objective]].to_numpy(dtype=float), maximize)
        results["second_objective"] = second_objective
        results["pareto_front"] = bo.loc[
            mask, [*space.names, "objective", second_objective]
        ].to_dict("records")
    return results


def optimize_simulated(
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
) -> SimulatedRun:
    """Optimize a family's recipe on the simulator, starting from its baseline recipe.

    Parameters
    ----------
    family : str
        Alloy family (``ferritic_steel``, ``al_mg``, ``ti_al``).
    budget : int
        Simulator evaluations of each method, the baseline included (2 to :data:`MAX_BUDGET`).
    seed, sim_seed : int
        Seed of the optimizer and random search; simulator seed, the same for every recipe
        (common random numbers).
    grid : int
        Simulation grid, pixels per side (at least 16).
    model : str
        Surrogate model name (``gp``, ``bhn``, ...).
    acquisition : str
        ``ei``, ``ucb`` or ``ts``.
    batch_size : int
        Recipes per optimizer step.
    compare_random : bool
        Also run random search with the same budget.
    second_objective, second_minimize : str or None, bool
        A second measured column (see :data:`SECOND_OBJECTIVES`) for a Pareto front, and
        whether it is minimized (else maximized).
    mechanics : bool
        Also rate the best recipe with the FFT mechanics solver.

    Returns
    -------
    SimulatedRun

    Raises
    ------
    psplab.errors.InputError
        For a bad setting; :class:`psplab.errors.ResourceError` for a run too large for the
        limits or the memory (checked before any simulation).
    """
    from psplab.optimize.bo import BayesianOptimizer

    check_simulated_settings(
        family=family,
        budget=budget,
        grid=grid,
        batch_size=batch_size,
        model=model,
        acquisition=acquisition,
        second_objective=second_objective,
        mechanics=mechanics,
    )
    space = family_space(family)
    base = baseline_params(family)
    columns = (OBJECTIVE,) if second_objective is None else (OBJECTIVE, second_objective)
    objective = SimulatedObjective(family, grid=grid, seed=sim_seed, columns=columns)
    maximize = True if second_objective is None else (True, not second_minimize)
    opt = BayesianOptimizer(
        space, model=model, acquisition=acquisition, maximize=maximize, seed=seed
    )
    trace = _evaluate_methods(objective, space, budget, opt, base, batch_size, seed, compare_random)
    if second_objective is not None:
        trace = trace.rename(columns={"objective_0": "objective", "objective_1": second_objective})
    results = _summary(trace, space, family, base, second_objective, maximize)
    if mechanics:
        results["mechanics"] = mechanics_check(
            family,
            results["best_recipe"],
            grid=grid,
            seed=sim_seed,
            model_value=results["best_objective"],
        )
    params = {
        "family": family,
        "budget": budget,
        "seed": seed,
        "grid": grid,
        "model": model,
        "acquisition": acquisition,
        "batch_size": batch_size,
        "sim_seed": sim_seed,
        "second_objective": second_objective,
        "second_minimize": second_minimize,
        "mechanics": mechanics,
    }
    return SimulatedRun(space=space, trace=trace, results=results, params=params)


def run_simulated(out_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    """:func:`optimize_simulated`, then :meth:`SimulatedRun.write` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The run directory.
    **kwargs
        Settings of :func:`optimize_simulated`.

    Returns
    -------
    dict
        The manifest's ``results``.
    """
    return optimize_simulated(**kwargs).write(out_dir)


def mechanics_check(
    family: str,
    recipe: dict[str, float],
    *,
    grid: int = 64,
    seed: int = 0,
    model_value: float | None = None,
) -> dict[str, Any]:
    """Re-simulate ``recipe`` and rate it with the FFT J2 mechanics solver as well as the strength
    model.

    Parameters
    ----------
    family : str
        Alloy family.
    recipe : dict of str to float
        The recipe's parameters.
    grid : int
        Simulation grid.
    seed : int
        Simulator seed.
    model_value : float, optional
        The strength model's yield strength of the recipe, MPa.

    Returns
    -------
    dict
        ``recipe``, both yield strengths (MPa) and, given ``model_value``, their difference.
    """
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
