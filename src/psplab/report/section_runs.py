"""Report sections of optimization, phase-map and demo runs, and of a run's own figures.

A phase-map run (``psplab phasemap fit``, or the demo's phase-map stage) is shown with the figures
it wrote through the phase-map plotting functions, its fit diagnostics and, when the chains have
not mixed, a warning where the reader looks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from psplab.report.figures import render
from psplab.report.html import Figure, Section, Table, paragraph
from psplab.report.runs import LeftOut, Run, label, read_table

__all__ = ["demo_section", "optimization_section", "phasemap_section", "run_figures"]

RHAT_MIXED = 1.01  # largest R-hat of chains that have mixed
PHASEMAP_CAPTION = (
    "Phase map: the most probable region at each point (pale where the posterior is unsure), the "
    "entropy of the phase label (high along uncertain boundaries), and each property's posterior "
    "mean and std; dots are the measured points (coloured by their observed label), dashed lines "
    "the true region boundaries where they are known."
)


def optimization_section(run: Run, units: dict[str, str]) -> Section:
    """Best objective so far against evaluations, baseline and best recipe of one run.

    Parameters
    ----------
    run : Run
        A ``psplab optimize`` run with a ``trace`` table (``method``, ``evaluation``,
        ``objective``).
    units : dict
        The objective's unit, for the y axis.

    Returns
    -------
    Section
        The trace figure, the gain over the baseline and the best recipe.

    Raises
    ------
    LeftOut
        Without a trace table that has an ``objective`` column.
    """
    from psplab.optimize.plots import best_so_far_plot

    trace_p = run.file("trace", "history")
    trace = read_table(trace_p) if trace_p is not None else None
    if trace is None or "objective" not in trace.columns:
        raise LeftOut("no trace table with an objective column")
    groups = trace.groupby("method", sort=False) if "method" in trace else [("psplab", trace)]
    traces = {}
    for name, g in groups:
        g = g.sort_values("evaluation") if "evaluation" in g.columns else g
        traces[str(name)] = g["objective"].to_numpy(dtype=float)
    res = run.results
    objective = str(res.get("objective", "objective"))
    baseline, best = res.get("baseline_objective"), res.get("best_objective")
    sec = Section(
        "optimization",
        "Optimization trace",
        f"Bayesian optimization of {objective} (from {run.name}).",
    )
    fig = best_so_far_plot(traces, ylabel=label(objective, units), baseline=baseline)
    sec.add(
        render(
            fig,
            f"Best {objective} found so far against the number of evaluations, for each method "
            "with the same budget; dots are single evaluations, the dashed line the baseline.",
            alt="optimization trace",
        )
    )
    for figure in run_figures(run):
        if figure.alt != "best_so_far":  # redrawn above from the trace
            sec.add(figure)
    if baseline is not None and best is not None:
        gain = 100 * (best - baseline) / abs(baseline) if baseline else float("nan")
        sec.add(paragraph(f"Baseline: {baseline:.4g}; best found: {best:.4g} ({gain:+.1f}%)."))
    recipe = res.get("best_recipe")
    if isinstance(recipe, dict):
        sec.add(
            Table(
                ["parameter", "value"],
                list(map(list, recipe.items())),
                caption="The best recipe found.",
            )
        )
    return sec


def run_figures(run: Run) -> list[Figure]:
    """PNG figures a run wrote itself, with a caption for each.

    Captions come from ``results["captions"]`` (by file name or role) or a ``captions`` JSON
    listing ``{path, caption}``; figures without one are not shown.

    Parameters
    ----------
    run : Run
        The run.

    Returns
    -------
    list of Figure
        The figures, embedded as written.
    """
    known = {Path(k).name: str(v) for k, v in (run.results.get("captions") or {}).items()}
    cap_p = run.file("captions")
    if cap_p is not None and cap_p.suffix == ".json":
        raw = json.loads(cap_p.read_text(encoding="utf-8"))
        items = (
            raw if isinstance(raw, list) else [{"path": k, "caption": v} for k, v in raw.items()]
        )
        known.update(
            {Path(str(i["path"])).name: str(i["caption"]) for i in items if isinstance(i, dict)}
        )
    out = []
    for role in run.manifest.get("files") or {}:
        for p in run.file_list(role):
            if p.suffix.lower() != ".png":
                continue
            caption = known.get(p.name) or known.get(role)
            if caption:
                out.append(Figure(png=p.read_bytes(), caption=caption, alt=p.stem))
    return out


def phasemap_section(run: Run, units: dict[str, str]) -> Section:
    """The phase map of a run, drawn from its grid, its fit diagnostics and an R-hat warning.

    Parameters
    ----------
    run : Run
        A ``psplab phasemap fit`` run (or the demo's phase-map stage) with a ``phasemap_grid``.
    units : dict
        Not used: the grid carries its own axis labels.

    Returns
    -------
    Section
        The phase map (regions, entropy, property mean and std), the diagnostics table and
        the warning when the chains have not mixed.

    Raises
    ------
    LeftOut
        When the run has no readable phase-map grid.
    """
    from psplab.errors import PsplabError
    from psplab.models.phasemap.plots import plot_phase_map

    try:
        fig = plot_phase_map(run.path)
    except PsplabError as exc:
        raise LeftOut(f"no readable phase-map grid ({exc.lines[0]})") from None
    sec = Section(
        "phasemap",
        "Phase map with uncertainty",
        f"SAGE phase map: a Bayesian model of the phase regions and the piecewise property "
        f"functions, fitted jointly by MCMC (from {run.name}).",
    )
    sec.add(render(fig, PHASEMAP_CAPTION, alt="phase map"))
    _add_diagnostics(sec, run)
    return sec


def _add_diagnostics(sec: Section, run: Run) -> None:
    res = run.results
    diag = dict(res.get("diagnostics") or {})
    facts = [
        [text, res.get(key, diag.get(key))]
        for key, text in (
            ("accuracy", "phase accuracy against the truth"),
            ("property_r2", "property R² against the truth"),
            ("rhat_max", "largest R-hat"),
            ("ess_min", "smallest effective sample size"),
            ("divergences", "divergent transitions"),
            ("num_samples", "posterior samples"),
        )
        if res.get(key, diag.get(key)) is not None
    ]
    if facts:
        sec.add(Table(["quantity", "value"], facts, caption="Phase-map fit."))
    rhat = res.get("rhat_max", diag.get("rhat_max"))
    if rhat is not None and float(rhat) > RHAT_MIXED:
        # Say it where the reader looks: the map may still be right, its spread is not trusted.
        sec.add(
            paragraph(
                f"Warning: the largest R-hat is {float(rhat):.2f} (converged chains give "
                f"< {RHAT_MIXED}), so the MCMC chains have not mixed. Read the phase probabilities "
                "and the property std as indicative only; refit with more warm-up steps, more "
                "chains or fewer inducing points before relying on the uncertainty."
            )
        )


def demo_section(run: Run, units: dict[str, str]) -> Section:
    """The demo's stages: state, seconds and why a stage did not run.

    The demo's other results are in the sections of its stages' own run folders.

    Parameters
    ----------
    run : Run
        The ``psplab demo`` output folder's own run.
    units : dict
        Ignored.

    Returns
    -------
    Section
        One table row per stage.

    Raises
    ------
    LeftOut
        If no stages are recorded.
    """
    stages: dict[str, Any] = run.results.get("stages") or {}
    if not stages:
        raise LeftOut("no stages recorded")
    rows = [
        [name, st.get("state", "?"), st.get("seconds"), st.get("reason", "")]
        for name, st in stages.items()
    ]
    sec = Section("demo", "Demo stages", f"The stages of `psplab demo` in {run.name}.")
    sec.add(Table(["stage", "state", "seconds", "note"], rows, caption="Demo stages."))
    return sec
