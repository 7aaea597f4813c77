"""Build the HTML report from run directories.

The report finds every ``manifest.json`` in the directories it is given (the directory itself
and sub-directories up to three levels down, so a ``psplab demo`` output folder is one argument)
and shows **every run**: each run kind has its section makers (:data:`RUN_SECTIONS`), one section
per run, and a run that cannot be shown gets one line saying why in the table of runs at the top.
Sections are ordered by topic (dataset, micrographs, predictions, causal, optimization, phase
map), then by the order the runs were found; "Commands and versions" ends the report.

Each section maker takes a :class:`~psplab.report.runs.Run` and the units of the columns, and
returns a :class:`~psplab.report.html.Section` drawn with its domain's plotting functions, or
raises :class:`~psplab.report.runs.LeftOut` with the reason. A new kind of run is one call::

    register_section("generate-images", "generated", generated_section, order=25)

What each maker reads, by manifest role: ``simulate`` -- ``spec``/``dataset``, ``gallery`` or
``images``; ``evaluate`` -- ``oof_predictions`` (or ``oof``), ``metrics``; ``causal`` --
``graph`` (``graph.json``), ``edge_stability``, ``influence``, ``dose_response``; ``optimize`` --
``trace``; ``phasemap`` -- the PNG figures it wrote (``figures``) and its diagnostics;
``demo`` -- its stages. A run of another kind is listed with the reason it has no section.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from psplab.errors import InputError
from psplab.manifest import MANIFEST_NAME
from psplab.report.html import Section, Table, code_block, escape, render_document
from psplab.report.runs import LeftOut, Run, discover_runs, spec_path_of, units_of
from psplab.report.section_causal import causal_section
from psplab.report.section_data import dataset_section, micrograph_section
from psplab.report.section_generator import GENERATOR_RUN_KINDS, generator_section
from psplab.report.section_models import predictions_section
from psplab.report.section_runs import demo_section, optimization_section, phasemap_section

__all__ = ["RUN_SECTIONS", "SectionMaker", "build_report", "build_sections", "register_section"]

SectionMaker = Callable[[Run, dict[str, str]], Section]


@dataclass(frozen=True)
class SectionSpec:
    """One section a run kind gets: its key, its place in the report and its maker."""

    key: str
    order: int
    make: SectionMaker


# Run kind -> the sections each run of that kind gets, in report order.
RUN_SECTIONS: dict[str, list[SectionSpec]] = {
    "demo": [SectionSpec("demo", 5, demo_section)],
    "simulate": [
        SectionSpec("dataset", 10, dataset_section),
        SectionSpec("micrographs", 20, micrograph_section),
    ],
    "evaluate": [SectionSpec("predictions", 30, predictions_section)],
    "causal": [SectionSpec("causal", 40, causal_section)],
    "optimize": [SectionSpec("optimization", 50, optimization_section)],
    "phasemap": [SectionSpec("phasemap", 60, phasemap_section)],
}
DATASET_ORDER = 10


def register_section(run_kind: str, key: str, make: SectionMaker, order: int) -> None:
    """Give every run of ``run_kind`` a section made by ``make``.

    Parameters
    ----------
    run_kind : str
        The manifest ``kind`` (what the command passes to ``write_manifest``).
    key : str
        The section's anchor (``key``, ``key-2``, ... when several runs have one).
    make : callable
        ``make(run, units) -> Section``; raises :class:`~psplab.report.runs.LeftOut` with the
        reason when the run cannot be shown.
    order : int
        Place in the report (dataset 10, micrographs 20, predictions 30, causal 40,
        optimization 50, phase map 60).
    """
    RUN_SECTIONS.setdefault(run_kind, []).append(SectionSpec(key, order, make))


for _kind in GENERATOR_RUN_KINDS:
    register_section(_kind, "generated-microstructures", generator_section, order=25)


def _sections_of(run: Run, units: dict[str, str]) -> tuple[list[tuple[int, Section]], list[str]]:
    """A run's sections with their order, and why each missing one is missing."""
    made, reasons = [], []
    specs = RUN_SECTIONS.get(run.kind)
    if not specs:
        return [], [f"psplab has no report section for runs of kind {run.kind or '(none)'!r}"]
    for spec in specs:
        try:
            made.append((spec.order, spec.make(run, units)))
        except LeftOut as exc:
            reasons.append(f"{spec.key}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one damaged run must not cost the others
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reasons.append(
                f"{spec.key}: its files could not be read ({type(exc).__name__}: {first})"
            )
    return made, reasons


def build_sections(runs: Sequence[Run]) -> list[Section]:
    """The report's sections: a table of the runs, each run's sections, commands and versions.

    Parameters
    ----------
    runs : sequence of Run
        The runs (see :func:`discover_runs`).

    Returns
    -------
    list of Section
        In report order; every run appears in the first section's table, with the sections it
        fills or the reason it fills none.
    """
    units = units_of(runs)
    placed: list[tuple[int, int, Section]] = []
    shown: dict[int, list[Section]] = {}
    reasons: dict[int, list[str]] = {}
    for i, run in enumerate(runs):
        made, reasons[i] = _sections_of(run, units)
        shown[i] = [s for _, s in made]
        placed += [(order, i, s) for order, s in made]
    placed += _dataset_sections(runs, shown, units)
    placed.sort(key=lambda t: (t[0], t[1]))
    sections = [s for _, _, s in placed]
    _unique_keys(sections)
    return [_runs_section(runs, shown, reasons), *sections, provenance_section(runs)]


def _dataset_sections(
    runs: Sequence[Run], shown: dict[int, list[Section]], units: dict[str, str]
) -> list[tuple[int, int, Section]]:
    """A dataset summary for each spec the runs used that no simulate run already shows."""
    seen = set()
    for i, run in enumerate(runs):
        if any(s.key == "dataset" for s in shown[i]):
            seen.add(_resolved(spec_path_of(run)))
    out = []
    for i, run in enumerate(runs):
        key = _resolved(spec_path_of(run))
        if key is None or key in seen:
            continue
        seen.add(key)
        try:
            sec = dataset_section(run, units)
        except LeftOut:
            continue
        shown[i].append(sec)
        out.append((DATASET_ORDER, i, sec))
    return out


def _resolved(path: Path | None) -> Path | None:
    return None if path is None else path.resolve()


def _unique_keys(sections: list[Section]) -> None:
    """``key``, ``key-2``, ``key-3``, ... so that every anchor is unique."""
    count: dict[str, int] = {}
    for sec in sections:
        n = count[sec.key] = count.get(sec.key, 0) + 1
        if n > 1:
            sec.key, sec.title = f"{sec.key}-{n}", f"{sec.title} ({n})"


def _runs_section(
    runs: Sequence[Run], shown: dict[int, list[Section]], reasons: dict[int, list[str]]
) -> Section:
    rows = []
    for i, run in enumerate(runs):
        if shown[i]:
            where = ", ".join(s.title for s in shown[i])
        else:
            where = "left out: " + "; ".join(reasons[i])
        rows.append([run.name, run.kind or "–", where])
    sec = Section(
        "runs",
        "Runs in this report",
        f"{len(runs)} run(s) were given; each is shown in the sections named here, or the line "
        "says why it is not.",
    )
    sec.add(Table(["run", "kind", "shown in"], rows, caption="Every run found, in order."))
    return sec


def provenance_section(runs: Sequence[Run]) -> Section:
    """Command line, parameters, package versions and machine of every run.

    Parameters
    ----------
    runs : sequence of Run
        Every run of the report, in order.

    Returns
    -------
    Section
        One heading and command line per run, then versions and machine.
    """
    sec = Section(
        "provenance",
        "Commands and versions",
        "Exactly what produced each run directory in this report, from its manifest.json.",
    )
    for run in runs:
        m = run.manifest
        cmd = " ".join(str(c) for c in m.get("command", []))
        created = escape(m.get("created", ""))
        sec.add(f"<h3>{escape(run.name)} <small>({escape(run.kind)}, {created})</small></h3>")
        sec.add(code_block(cmd or "(no command recorded)"))
        if m.get("params"):
            sec.add(code_block(json.dumps(m["params"], indent=1, sort_keys=True)[:4000]))
    versions: dict[str, str] = {}
    for run in runs:
        versions.update(run.manifest.get("versions") or {})
    if versions:
        sec.add(
            Table(["package", "version"], sorted(versions.items()), caption="Package versions.")
        )
    machine = next((r.manifest.get("machine") for r in runs if r.manifest.get("machine")), None)
    if machine:
        rows = [[k, str(v)] for k, v in machine.items()]
        sec.add(Table(["machine", "value"], rows, caption="Machine."))
    return sec


def build_report(
    run_dirs: str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    title: str = "psplab report",
) -> Path:
    """Write a self-contained HTML report of ``run_dirs`` and return its path.

    Parameters
    ----------
    run_dirs : str, Path or sequence of them
        Run directories, or folders holding runs up to three levels down.
    out : str, Path or None
        The HTML file (default: ``report.html`` in the first directory).
    title : str
        The report's title.

    Returns
    -------
    Path
        The report.

    Raises
    ------
    InputError
        A path that is not a directory, or no run below any of them.
    """
    dirs = [run_dirs] if isinstance(run_dirs, str | Path) else list(run_dirs)
    runs = discover_runs(dirs)
    if not runs:
        raise InputError(f"no {MANIFEST_NAME} in {', '.join(map(str, dirs))} or below")
    sections = build_sections(runs)
    out_path = Path(out) if out is not None else Path(dirs[0]) / "report.html"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    subtitle = f"{len(runs)} run(s): " + ", ".join(f"{r.name} ({r.kind})" for r in runs)
    tmp = out_path.with_suffix(out_path.suffix + ".tmp")
    tmp.write_text(render_document(title, sections, subtitle=subtitle), encoding="utf-8")
    tmp.replace(out_path)
    return out_path
