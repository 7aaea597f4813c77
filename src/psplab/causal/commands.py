"""``psplab causal``: causal graph, edge stability, influence ranking and dose-response plots."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def _fail(lines: list[str]) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in lines:
        err.print(line, markup=False)
    raise typer.Exit(code=2)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "var"


def causal_command(
    spec: Path = typer.Argument(..., help="Dataset spec (TOML); tiers come from it."),
    out: Path = typer.Option(..., "--out", help="Run directory to write."),
    bootstrap: int = typer.Option(
        100, "--bootstrap", help="Bootstrap resamples for edge stability (0: none)."
    ),
    json_out: Path = typer.Option(None, "--json", help="Also write a JSON summary here."),
    alpha: float = typer.Option(0.01, "--alpha", help="Significance level of the CI tests."),
    test: str = typer.Option("fisherz", "--test", help="CI test: fisherz | rcot | kci."),
    model: str = typer.Option(
        "gp", "--model", help="Regressor for the SCM node equations (gp, bhn, ...)."
    ),
    dose_top: int = typer.Option(
        3,
        "--dose-top",
        help="Dose-response curves for the top K drivers of each outcome (0: none).",
    ),
    grid: int = typer.Option(12, "--grid", help="Grid points of each dose-response curve."),
    draws: int = typer.Option(30, "--draws", help="Model draws per dose-response curve."),
    outcomes: str = typer.Option(
        None, "--outcomes", help="Comma-separated outcome columns (default: the property columns)."
    ),
    allow_tier0_edges: bool = typer.Option(
        False, "--allow-tier0-edges", help="Allow edges between tier-0 (processing) variables."
    ),
    jobs: int = typer.Option(
        None, "--jobs", help="Parallel bootstrap workers (default: all cores)."
    ),
    dask: bool = typer.Option(
        False, "--dask", help="Run the bootstrap on Dask (psplab.distributed)."
    ),
    scheduler: str = typer.Option(
        None, "--scheduler", help="Address of a running Dask scheduler (implies --dask)."
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the bootstrap, the tests and the simulations."
    ),
    estimator: str = typer.Option(
        "optimal",
        "--estimator",
        help="Linear effect: optimal (O-set of the graph when identified, else IDA) | ida.",
    ),
    exclude: str = typer.Option(
        None,
        "--exclude",
        help="Comma-separated columns to leave out of the graph, e.g. a quantity computed from "
        "another column (ASTM G from the grain size), which breaks faithfulness.",
    ),
) -> None:
    """Learn a tier-consistent causal graph and rank the processing parameters' causal influence."""
    problems = []
    if not 0 < alpha < 1:
        problems.append(f"--alpha must be in (0, 1), got {alpha}")
    if bootstrap < 0:
        problems.append(f"--bootstrap must be >= 0, got {bootstrap}")
    if test not in ("fisherz", "rcot", "kci"):
        problems.append(f"--test {test!r} is not one of fisherz, rcot, kci")
    if grid < 2:
        problems.append(f"--grid must be >= 2, got {grid}")
    if draws < 2:
        problems.append(f"--draws must be >= 2, got {draws}")
    if estimator not in ("optimal", "ida"):
        problems.append(f"--estimator {estimator!r} is not one of optimal, ida")
    if problems:
        _fail(problems)

    from psplab.data.dataset import load_dataset
    from psplab.data.spec import SpecError

    try:
        dataset = load_dataset(spec)
    except SpecError as exc:
        _fail([f"{spec}: {p}" for p in exc.problems])
    run(
        dataset,
        out,
        bootstrap=bootstrap,
        json_out=json_out,
        alpha=alpha,
        test=test,
        model=model,
        dose_top=dose_top,
        grid=grid,
        draws=draws,
        outcomes=None
        if outcomes is None
        else [o.strip() for o in outcomes.split(",") if o.strip()],
        allow_tier0_edges=allow_tier0_edges,
        jobs=jobs,
        backend="dask" if (dask or scheduler) else "loky",
        scheduler=scheduler,
        seed=seed,
        estimator=estimator,
        exclude=None if exclude is None else [c.strip() for c in exclude.split(",") if c.strip()],
    )


def run(
    dataset,
    out: Path,
    *,
    bootstrap: int = 100,
    json_out: Path | None = None,
    alpha: float = 0.01,
    test: str = "fisherz",
    model: str = "gp",
    dose_top: int = 3,
    grid: int = 12,
    draws: int = 30,
    outcomes: list[str] | None = None,
    allow_tier0_edges: bool = False,
    jobs: int | None = None,
    backend: str = "loky",
    scheduler: str | None = None,
    seed: int = 0,
    console: Console | None = None,
    estimator: str = "optimal",
    exclude: list[str] | None = None,
) -> dict:
    """The whole ``psplab causal`` pipeline on a loaded dataset; returns the JSON summary.

    ``exclude`` names columns left out of the analysis. A column that is a deterministic
    function of another (ASTM G of the grain size) makes both look conditionally independent of
    everything given the other, so PC drops the edges through them; analyse one of the two.
    """
    import time

    import numpy as np

    from psplab.causal.effects import StructuralCausalModel
    from psplab.causal.influence import influence_table, top_drivers
    from psplab.causal.pc import discover, prepare_data
    from psplab.causal.plots import plot_dose_response, plot_graph, plot_influence
    from psplab.causal.stability import bootstrap_edges
    from psplab.manifest import dump_json, write_manifest
    from psplab.progress import track

    console = console or Console(highlight=False)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec = dataset.spec
    within = () if allow_tier0_edges else (0,)
    X, names, tiers = prepare_data(dataset)
    import pandas as pd

    data = pd.DataFrame(X, columns=names)
    excluded = list(exclude or [])
    unknown_excluded = [c for c in excluded if c not in names]
    if unknown_excluded:
        _fail(
            [f"--exclude: {c!r} is not a numeric column of the dataset" for c in unknown_excluded]
        )
    if excluded:
        keep = [k for k, n in enumerate(names) if n not in excluded]
        data = data[[names[k] for k in keep]]
        names = [names[k] for k in keep]
        tiers = [tiers[k] for k in keep]
    units = {c.name: c.unit for c in spec.columns}
    props = [c.name for c in spec.properties if c.name in names]
    outcome_list = (
        outcomes or props or [n for n, t in zip(names, tiers, strict=True) if t and t > 0]
    )
    unknown = [o for o in outcome_list if o not in names]
    if unknown:
        _fail([f"--outcomes: {o!r} is not a numeric column of the dataset" for o in unknown])
    treatments = [c.name for c in spec.processing if c.name in names]
    if not treatments:
        _fail([f"{spec.name}: no numeric processing columns to rank"])

    t0 = time.perf_counter()
    graph = discover(
        data,
        tiers=dict(zip(names, tiers, strict=True)),
        alpha=alpha,
        test=test,
        forbidden_within_tiers=within,
        seed=seed,
    )
    console.print(
        f"[bold]graph[/]: {graph.n_edges} edges ({len(graph.directed_edges)} oriented) "
        f"from {graph.info['n_tests']} CI tests in {graph.info['seconds']:.2f} s"
    )
    stability = None
    if bootstrap > 0:
        stability = bootstrap_edges(
            data,
            bootstrap,
            tiers=dict(zip(names, tiers, strict=True)),
            alpha=alpha,
            test=test,
            forbidden_within_tiers=within,
            seed=seed,
            n_jobs=jobs,
            backend=backend,
            scheduler=scheduler,
        )
        console.print(f"[bold]bootstrap[/]: {bootstrap} resamples in {stability.seconds:.1f} s")

    files: dict[str, object] = {}
    graph_json = dump_json(out / "graph.json", graph.to_dict())
    files["graph"] = graph_json
    files["graph_figure"] = plot_graph(
        graph, out / "graph.png", stability, title=f"{spec.name}: causal graph"
    )
    if stability is not None:
        stab = stability.table()
        stab.to_csv(out / "edge_stability.csv", index=False)
        files["edge_stability"] = out / "edge_stability.csv"

    table = influence_table(graph, data, treatments, outcome_list, stability, estimator=estimator)
    dose = {}
    dose_files = []
    if dose_top > 0:
        scm = StructuralCausalModel(graph, model=model, seed=seed).fit(data)
        wanted: dict[str, list[str]] = {}
        for y in outcome_list:
            for x in top_drivers(table, y, k=dose_top):
                if y in scm.descendants(x):
                    wanted.setdefault(x, []).append(y)
        (out / "dose_response").mkdir(exist_ok=True)
        for x in track(list(wanted), "dose-response"):
            curves = scm.dose_response(x, wanted[x], n_grid=grid, n_draws=draws, seed=seed)
            for y, dr in curves.items():
                dose[(x, y)] = dr
                stem = out / "dose_response" / f"{_slug(x)}__{_slug(y)}"
                dr.to_frame().to_csv(stem.with_suffix(".csv"), index=False)
                dose_files.append(plot_dose_response(dr, stem.with_suffix(".png"), units, data))
                dose_files.append(stem.with_suffix(".csv"))
        table = influence_table(
            graph, data, treatments, outcome_list, stability, dose, estimator=estimator
        )
    table.to_csv(out / "influence.csv", index=False)
    files["influence"] = out / "influence.csv"
    files["influence_figure"] = plot_influence(table, out / "influence.png", units)
    if dose_files:
        files["dose_response"] = dose_files

    drivers = {y: top_drivers(table, y, k=3) for y in outcome_list}
    summary = {
        "dataset": spec.name,
        "n_rows": int(len(data)),
        "nodes": names,
        "tiers": tiers,
        "n_edges": graph.n_edges,
        "directed_edges": [list(e) for e in graph.directed_edges],
        "undirected_edges": [list(e) for e in graph.undirected_edges],
        "tier_violations": graph.tier_violations(within),
        "top_drivers": drivers,
        "influence": table.replace({np.nan: None}).to_dict(orient="records"),
        "seconds": time.perf_counter() - t0,
    }
    params = {
        "alpha": alpha,
        "test": test,
        "bootstrap": bootstrap,
        "model": model,
        "dose_top": dose_top,
        "grid": grid,
        "draws": draws,
        "outcomes": outcome_list,
        "allow_tier0_edges": allow_tier0_edges,
        "seed": seed,
        "backend": backend,
        "estimator": estimator,
        "exclude": excluded,
    }
    write_manifest(
        out,
        "causal",
        files=files,
        params=params,
        results={k: summary[k] for k in ("n_edges", "tier_violations", "top_drivers", "seconds")},
    )
    if json_out is not None:
        dump_json(json_out, summary)

    tab = Table("outcome", "top drivers (sign)")
    for y in outcome_list:
        sub = table[table["outcome"] == y].set_index("parameter")
        tab.add_row(
            y, ", ".join(f"{x} ({sub.loc[x, 'sign']})" for x in drivers[y]) or "none resolved"
        )
    console.print(tab)
    console.print(f"wrote {out}")
    return summary


def register(app: typer.Typer) -> None:
    app.command("causal")(causal_command)
