"""The causal analysis of a dataset as one call: graph, stability, influence, dose-response.

``psplab causal`` is :func:`run_causal` followed by :func:`write_causal_run`; the demo and Python
users call the same two functions::

    from psplab.data.dataset import load_dataset
    from psplab.causal import run_causal, write_causal_run

    result = run_causal(load_dataset("alloys.toml"), bootstrap=100, exclude=["astm_g"])
    result.notes            # what was done to the table (rows dropped, columns left out, ...)
    result.influence        # the ranked influence table
    write_causal_run(result, "runs/causal")   # graph.json, figures, CSVs, manifest.json

Errors a user can cause (a bad option, an unknown column, too few rows, a request too large for
the machine) are :class:`psplab.errors.InputError` / :class:`psplab.errors.ResourceError`,
raised before any work starts.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from psplab.causal.effects import DoseResponse
from psplab.causal.graph import CausalGraph
from psplab.causal.prepare import CausalData, prepare_causal_data
from psplab.causal.stability import EdgeStability
from psplab.errors import InputError

__all__ = [
    "MAX_BOOTSTRAP",
    "CausalOptions",
    "CausalResult",
    "drivers_frame",
    "run_causal",
    "slug",
    "write_causal_run",
]

TESTS = ("fisherz", "rcot", "kci")
ESTIMATORS = ("optimal", "ida")
BACKENDS = ("loky", "threading", "serial", "dask")
# Bounds on the sizes a user sets, checked before work starts: a resample of PC takes 0.01-1 s,
# so 10 000 is hours already; a curve of 1000 points or 10 000 draws is far past what a figure
# shows.
MAX_BOOTSTRAP = 10_000
MAX_GRID = 1_000
MAX_DRAWS = 10_000
MAX_JOBS = 1_024
DOSE_ROWS = 40  # data rows averaged per dose-response draw


@dataclass(frozen=True)
class CausalOptions:
    """Settings of :func:`run_causal` (the ``psplab causal`` options).

    Attributes
    ----------
    bootstrap : int
        Bootstrap resamples for edge stability (0: none).
    alpha : float
        Significance level of the conditional-independence tests.
    test : str
        ``"fisherz"`` | ``"rcot"`` | ``"kci"``.
    model : str
        Regressor of the structural causal model's node equations (``gp``, ``rf``, ...).
    dose_top : int
        Dose-response curves for the top K drivers of each outcome (0: none).
    grid, draws : int
        Grid points and model draws of each dose-response curve.
    outcomes : tuple of str or None
        Outcome columns (default: the property columns).
    exclude : tuple of str
        Columns left out of the analysis.
    allow_tier0_edges : bool
        Allow edges between processing columns.
    jobs : int or None
        Parallel bootstrap workers (None: all cores).
    backend : str
        Bootstrap backend: ``loky`` | ``threading`` | ``serial`` | ``dask``.
    scheduler : str or None
        Address of a running Dask scheduler.
    seed : int
        Seed of the bootstrap, the tests and the simulations.
    estimator : str
        Linear effect: ``optimal`` (O-set when identified, else IDA) | ``ida``.
    """

    bootstrap: int = 100
    alpha: float = 0.01
    test: str = "fisherz"
    model: str = "gp"
    dose_top: int = 3
    grid: int = 12
    draws: int = 30
    outcomes: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    allow_tier0_edges: bool = False
    jobs: int | None = None
    backend: str = "loky"
    scheduler: str | None = None
    seed: int = 0
    estimator: str = "optimal"

    def problems(self) -> list[str]:
        """Every invalid setting, one line each (empty when all are valid).

        Returns
        -------
        list of str
            Messages naming the command-line option.
        """
        out = []
        if not 0 < self.alpha < 1:
            out.append(f"--alpha must be in (0, 1), got {self.alpha}")
        if self.bootstrap < 0:
            out.append(f"--bootstrap must be >= 0, got {self.bootstrap}")
        if self.test not in TESTS:
            out.append(f"--test {self.test!r} is not one of {', '.join(TESTS)}")
        if self.grid < 2:
            out.append(f"--grid must be >= 2, got {self.grid}")
        if self.draws < 2:
            out.append(f"--draws must be >= 2, got {self.draws}")
        if self.dose_top < 0:
            out.append(f"--dose-top must be >= 0, got {self.dose_top}")
        if self.estimator not in ESTIMATORS:
            out.append(f"--estimator {self.estimator!r} is not one of {', '.join(ESTIMATORS)}")
        if self.backend not in BACKENDS:
            out.append(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.jobs is not None and self.jobs < 1:
            out.append(f"--jobs must be >= 1, got {self.jobs}")
        return out

    def check(self, n_columns: int | None = None) -> None:
        """Raise for an invalid setting or a request too large, before any work starts.

        Parameters
        ----------
        n_columns : int or None
            Columns of the table (sharpens the memory estimate of the dose-response).

        Raises
        ------
        InputError
            One line per invalid setting, or an unknown ``model``.
        ResourceError
            A size above its bound (``--bootstrap``, ``--grid``, ``--draws``, ``--jobs``) or
            above the memory this machine has.
        """
        from psplab.limits import require_at_most, require_memory

        problems = self.problems()
        if self.dose_top > 0:
            problems += _model_problems(self.model)
        if problems:
            raise InputError(problems)
        require_at_most("--bootstrap", self.bootstrap, MAX_BOOTSTRAP, "use 100-1000 resamples")
        require_at_most("--grid", self.grid, MAX_GRID)
        require_at_most("--draws", self.draws, MAX_DRAWS)
        require_at_most("--jobs", self.jobs or 1, MAX_JOBS)
        # Each dose-response keeps every node's simulated values: p x draws x grid x rows.
        p = max(n_columns or 1, 1)
        require_memory(
            8.0 * p * self.draws * self.grid * DOSE_ROWS,
            f"--grid {self.grid} --draws {self.draws}",
            "lower --grid or --draws",
        )


def _model_problems(model: str) -> list[str]:
    from psplab.models import make_model

    try:
        make_model(model)
    except (ValueError, TypeError) as exc:
        return [f"--model: {exc}"]
    return []


@dataclass
class CausalResult:
    """Everything :func:`run_causal` found, as Python objects.

    Attributes
    ----------
    dataset_name : str
        The spec's name.
    data : CausalData
        The analysed table and the notes on how it was made.
    graph : CausalGraph
        The learned MPDAG.
    stability : EdgeStability or None
        Bootstrap frequencies (None without bootstrap).
    influence : DataFrame
        :func:`psplab.causal.influence_table`, with the dose-response columns where computed.
    dose : dict
        Dose-response curves by ``(treatment, outcome)``.
    options : CausalOptions
        The settings used.
    seconds : float
        Wall time of the analysis.
    """

    dataset_name: str
    data: CausalData
    graph: CausalGraph
    stability: EdgeStability | None
    influence: pd.DataFrame
    dose: dict[tuple[str, str], DoseResponse] = field(default_factory=dict)
    options: CausalOptions = field(default_factory=CausalOptions)
    seconds: float = 0.0

    @property
    def notes(self) -> list[str]:
        """What was done to the table (rows, left-out columns, encodings), one line each."""
        return list(self.data.notes)

    def top_drivers(self, k: int = 3) -> dict[str, list[str]]:
        """The ``k`` top resolved drivers of each outcome (flagged effects never count).

        Parameters
        ----------
        k : int
            Drivers per outcome.

        Returns
        -------
        dict
            Outcome -> parameter names, best first.
        """
        from psplab.causal.influence import top_drivers

        return {y: top_drivers(self.influence, y, k=k) for y in self.data.outcomes}

    def flagged(self) -> pd.DataFrame:
        """Rows of the influence table that are not results, with the reason in ``flag``.

        Returns
        -------
        DataFrame
            ``outcome``, ``parameter``, ``flag``.
        """
        table = self.influence
        return table.loc[table["flag"] != "", ["outcome", "parameter", "flag"]]

    def summary(self) -> dict[str, Any]:
        """The JSON summary ``psplab causal --json`` writes.

        Returns
        -------
        dict
            Rows, nodes, tiers, edges, notes, top drivers, flags and the influence table.
        """
        within = () if self.options.allow_tier0_edges else (0,)
        table = self.influence.astype(object).where(self.influence.notna(), None)
        return {
            "dataset": self.dataset_name,
            "n_rows": self.data.n_rows_used,
            "rows": self.data.rows_summary(),
            "notes": self.notes,
            "left_out": dict(self.data.left_out),
            "nodes": self.data.names,
            "tiers": [self.data.tiers[n] for n in self.data.names],
            "n_edges": self.graph.n_edges,
            "directed_edges": [list(e) for e in self.graph.directed_edges],
            "undirected_edges": [list(e) for e in self.graph.undirected_edges],
            "tier_violations": self.graph.tier_violations(within),
            "top_drivers": self.top_drivers(),
            "flagged": self.flagged().to_dict(orient="records"),
            "influence": table.to_dict(orient="records"),
            "seconds": self.seconds,
        }


def run_causal(dataset: Any, options: CausalOptions | None = None, **settings: Any) -> CausalResult:
    """Learn a tier-consistent causal graph and rank the processing parameters' influence.

    Parameters
    ----------
    dataset : psplab.data.Dataset
        A loaded dataset; roles, tiers and units come from its spec.
    options : CausalOptions or None
        Settings (defaults when None).
    **settings
        Individual settings overriding ``options`` (``bootstrap=20``, ``exclude=["astm_g"]``).

    Returns
    -------
    CausalResult
        Graph, stability, influence table, dose-response curves and the preparation notes.

    Raises
    ------
    InputError
        Invalid settings or columns, or a table with too few usable rows.
    ResourceError
        A size above its bound or the machine's memory.
    """
    from psplab.causal.influence import influence_table
    from psplab.causal.pc import discover
    from psplab.causal.stability import bootstrap_edges

    options = _options(options, settings)
    options.check(n_columns=len(dataset.spec.columns))
    t0 = time.perf_counter()
    data = prepare_causal_data(dataset, exclude=options.exclude, outcomes=options.outcomes)
    tiers = dict(data.tiers)
    within = () if options.allow_tier0_edges else (0,)
    common = {"tiers": tiers, "alpha": options.alpha, "test": options.test}
    graph = discover(data.frame, **common, forbidden_within_tiers=within, seed=options.seed)
    stability = None
    if options.bootstrap > 0:
        stability = bootstrap_edges(
            data.frame,
            options.bootstrap,
            **common,
            forbidden_within_tiers=within,
            seed=options.seed,
            n_jobs=options.jobs,
            backend=options.backend,
            scheduler=options.scheduler,
        )
    args = (graph, data.frame, data.treatments, data.outcomes, stability)
    kwargs = {"ranges": data.ranges, "estimator": options.estimator}
    table = influence_table(*args, **kwargs)
    dose = _dose_responses(graph, data, table, options)
    if dose:
        table = influence_table(*args, dose, **kwargs)
    return CausalResult(
        dataset_name=dataset.spec.name,
        data=data,
        graph=graph,
        stability=stability,
        influence=table,
        dose=dose,
        options=options,
        seconds=time.perf_counter() - t0,
    )


def _options(options: CausalOptions | None, settings: dict[str, Any]) -> CausalOptions:
    """``options`` with ``settings`` applied; lists become tuples (the options are frozen)."""
    for key in ("outcomes", "exclude"):
        if settings.get(key) is not None:
            settings[key] = tuple(settings[key])
    if settings.get("exclude", ()) is None:
        settings["exclude"] = ()
    try:
        return replace(options or CausalOptions(), **settings)
    except TypeError as exc:
        raise InputError(f"run_causal: {exc}") from None


def _dose_responses(
    graph: CausalGraph, data: CausalData, table: pd.DataFrame, options: CausalOptions
) -> dict[tuple[str, str], DoseResponse]:
    """Dose-response curves of the top resolved drivers of each outcome (not of indicators)."""
    from psplab.causal.effects import StructuralCausalModel
    from psplab.causal.influence import top_drivers
    from psplab.progress import track

    if options.dose_top <= 0:
        return {}
    scm = StructuralCausalModel(graph, model=options.model, seed=options.seed).fit(data.frame)
    wanted: dict[str, list[str]] = {}
    for y in data.outcomes:
        for x in top_drivers(table, y, k=options.dose_top):
            # An indicator is a switch, not a dose: its effect is the linear one.
            if x not in data.ranges and y in scm.descendants(x):
                wanted.setdefault(x, []).append(y)
    dose = {}
    for x in track(list(wanted), "dose-response"):
        curves = scm.dose_response(
            x, wanted[x], n_grid=options.grid, n_draws=options.draws, seed=options.seed
        )
        dose.update({(x, y): dr for y, dr in curves.items()})
    return dose


def slug(name: str) -> str:
    """``name`` as a file-name part: runs of other characters than letters and digits become ``_``.

    Parameters
    ----------
    name : str
        Column name, e.g. ``"Temperaing Temperature"``.

    Returns
    -------
    str
        ``Temperaing_Temperature`` (``"var"`` when nothing is left).
    """
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "var"


def write_causal_run(
    result: CausalResult,
    out: str | Path,
    *,
    json_out: str | Path | None = None,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """Write a causal run directory: graph, figures, tables and ``manifest.json``.

    Parameters
    ----------
    result : CausalResult
        What :func:`run_causal` returned.
    out : str or Path
        The run directory (created).
    json_out : str, Path or None
        Also write :meth:`CausalResult.summary` here.
    command : list of str or None
        The command line recorded in the manifest (default: ``sys.argv``).

    Returns
    -------
    dict
        The files written, by role (as recorded in the manifest).
    """
    from psplab.causal.plots import edge_weights, influence_figure, plot_graph
    from psplab.manifest import dump_json, write_manifest
    from psplab.plotting import save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    units = result.data.units
    files: dict[str, Any] = {"graph": dump_json(out / "graph.json", result.graph.to_dict())}
    fig = plot_graph(
        result.graph,
        weights=edge_weights(result.stability),
        n_resamples=result.stability.n_resamples if result.stability else None,
        title=f"{result.dataset_name}: causal graph",
    )
    files["graph_figure"] = save_figure(fig, out / "graph.png")
    if result.stability is not None:
        result.stability.table().to_csv(out / "edge_stability.csv", index=False)
        files["edge_stability"] = out / "edge_stability.csv"
    result.influence.to_csv(out / "influence.csv", index=False)
    files["influence"] = out / "influence.csv"
    files["influence_figure"] = save_figure(
        influence_figure(result.influence, units), out / "influence.png"
    )
    if result.dose:
        files["dose_response"] = _write_dose_responses(result, out / "dose_response")
    summary = result.summary()
    write_manifest(
        out,
        "causal",
        files=files,
        params=asdict(result.options),
        results={
            k: summary[k]
            for k in ("rows", "notes", "left_out", "n_edges", "tier_violations", "top_drivers")
        }
        | {"flagged": summary["flagged"], "seconds": result.seconds, "units": units},
        command=command,
    )
    if json_out is not None:
        dump_json(json_out, summary)
    return files


def _write_dose_responses(result: CausalResult, folder: Path) -> list[Path]:
    from psplab.causal.plots import plot_dose_response
    from psplab.plotting import save_figure

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for (x, y), dr in result.dose.items():
        stem = folder / f"{slug(x)}__{slug(y)}"
        dr.to_frame().to_csv(stem.with_suffix(".csv"), index=False)
        fig = plot_dose_response(dr, units=result.data.units, data=result.data.frame)
        paths += [save_figure(fig, stem.with_suffix(".png")), stem.with_suffix(".csv")]
    return paths


def drivers_frame(result: CausalResult, k: int = 3) -> pd.DataFrame:
    """Top drivers of each outcome with their sign, for printing.

    Parameters
    ----------
    result : CausalResult
        A causal result.
    k : int
        Drivers per outcome.

    Returns
    -------
    DataFrame
        ``outcome`` and ``drivers`` (``"x (+), z (-)"`` or ``"none resolved"``).
    """
    rows = []
    for y, drivers in result.top_drivers(k).items():
        sub = result.influence[result.influence["outcome"] == y].set_index("parameter")
        text = ", ".join(f"{x} ({sub.loc[x, 'sign']})" for x in drivers) or "none resolved"
        rows.append({"outcome": y, "drivers": text})
    return pd.DataFrame(rows, columns=["outcome", "drivers"])
