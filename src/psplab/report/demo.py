"""``psplab demo``: the whole pipeline on data the product makes itself, ending in a report.

Stages, each in its own sub-directory of the output folder with a ``manifest.json``, each calling
the public function its command calls (:mod:`psplab.report.demo_stages`):

1. ``1-dataset``   -- sample recipes (Latin hypercube) of one alloy family, simulate them with the
   phase-field models, measure the microstructures and add the strength model
   (:func:`psplab.generate.generate_dataset`); a few label images for the gallery.
2. ``2-models``    -- cross-validate the Bayesian hypernetwork and the baselines on the same folds
   (:func:`psplab.models.evaluation.evaluate_dataset`).
3. ``3-causal``    -- tiered causal discovery, edge stability, influence ranking and dose-response
   curves (:func:`psplab.causal.run_causal`, :func:`psplab.causal.write_causal_run`).
4. ``4-optimize``  -- a short simulator-in-the-loop Bayesian optimization of yield strength
   against random search with the same budget (:mod:`psplab.optimize`).
5. ``5-phasemap``  -- a SAGE phase map fitted to a synthetic 2-D composition library with known
   regions (:func:`psplab.models.phasemap.fit_phase_map_demo`).
6. ``6-generator`` -- simulate a small image set of the same family (Latin hypercube), write its
   image table (:func:`psplab.generate.write_simulated_image_table`) and fit a small
   microstructure generator, a few recipes held out and compared with generated images
   (:func:`psplab.models.generator.runs.fit_run`, as ``psplab generator fit --holdout``).
7. ``report.html`` -- :func:`psplab.report.build_report` over all of them.

A stage is *finished* when its manifest exists and records the same parameters (including a
fingerprint of the stages it reads); finished stages are reused, so an interrupted demo started
again continues where it stopped. A stage whose capability is not installed, or that fails, is
reported and skipped; the report lists it with the reason.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from pathlib import Path
from typing import Any

from psplab.manifest import MANIFEST_NAME, write_manifest
from psplab.report.demo_stages import SIDE_CHAIN, STAGES, Stage, StageUnavailable

__all__ = [
    "SIDE_CHAIN",
    "STAGES",
    "Stage",
    "demo_config",
    "execute_stage",
    "run_demo",
    "stage_finished",
]

FAMILY = "ferritic_steel"


def _quick_config(seed: int) -> dict[str, dict[str, Any]]:
    """Tiny sizes: every stage in seconds (the test suite's demo)."""
    return {
        # A multiple of cv rows: equal folds, so each model compiles once.
        "dataset": {"family": FAMILY, "n": 30, "grid": 32, "seed": seed, "workers": 0, "gallery": 3},
        # The hypernetwork and two baselines: each JAX model costs a compilation, which
        # dominates at this size; the default demo fits all five.
        "models": {
            "models": ["bhn", "gp", "rf"],
            "cv": 3,
            "seed": seed,
            "model_params": {
                "bhn": {"epochs": 300, "hidden": [32, 32], "n_predict_samples": 100},
                "gp": {"max_iter": 60},
                "rf": {"n_estimators": 100},
            },
        },
        "causal": {
            "family": FAMILY, "exclude": ["astm_g"], "bootstrap": 4, "alpha": 0.05,
            "test": "fisherz", "model": "rf", "dose_top": 1, "grid_points": 7, "draws": 10,
            "backend": "serial", "jobs": 1, "seed": seed,
        },
        "optimize": {"family": FAMILY, "budget": 6, "grid": 32, "model": "gp", "seed": seed},
        # One short chain at tree depth 5 and few inducing points: seconds, not minutes (the
        # chains do not mix at this size; the default demo's do).
        "phasemap": {
            "n_points": 30, "grid": 21, "seed": seed,
            "model_params": {
                "num_warmup": 50, "num_samples": 50, "num_chains": 1, "max_tree_depth": 5,
                "svi_steps": 300, "max_inducing": 16,
            },
        },
        # A dozen recipes at 32², a few steps: the stage runs end to end, the images are rough.
        "generator": {
            "family": FAMILY, "n": 12, "grid": 32, "kinds": ["grains"], "holdout": 2, "seed": seed,
            "model_params": {"steps": 20, "batch_size": 8, "train_grid": 32},
        },
    }  # fmt: skip


def _default_config(seed: int, workers: int) -> dict[str, dict[str, Any]]:
    """The default demo, sized for the 5-minute bar on 2 cores."""
    return {
        "dataset": {"family": FAMILY, "n": 240, "grid": 48, "seed": seed, "workers": workers, "gallery": 6},
        # 300 epochs fit 192 rows as well as 1000 did, and one GP start per target costs a
        # fifth of two: the models stage fits in the five-minute budget.
        "models": {
            "models": ["bhn", "gp", "ensemble", "dropout", "rf"],
            "cv": 5,
            "seed": seed,
            "model_params": {
                "bhn": {"epochs": 300}, "ensemble": {"epochs": 300}, "dropout": {"epochs": 300},
                "gp": {"n_restarts": 0}, "rf": {"n_estimators": 200},
            },
        },
        # ASTM G is computed from the grain size: with both in the graph each screens the other
        # off and PC drops grain size -> strength (docs/causal.md).
        "causal": {
            "family": FAMILY, "exclude": ["astm_g"], "bootstrap": 20, "alpha": 0.05,
            "test": "fisherz", "model": "gp", "dose_top": 2, "grid_points": 12, "draws": 30,
            "backend": "loky", "jobs": workers, "seed": seed,
        },
        "optimize": {"family": FAMILY, "budget": 20, "grid": 48, "model": "gp", "seed": seed},
        # Sampler settings: psplab.models.phasemap.DEMO_MODEL_PARAMS (chains that mix).
        "phasemap": {"n_points": 60, "model_params": {}, "grid": 41, "seed": seed},
        # A small generator: grain images only (fields of precipitates would add their tiles
        # to the fit), whole periodic 48² images, 100 steps of 8 -- about half a minute.
        "generator": {
            "family": FAMILY, "n": 48, "grid": 48, "kinds": ["grains"], "holdout": 4, "seed": seed,
            "model_params": {"steps": 100, "batch_size": 8, "train_grid": 48},
        },
    }  # fmt: skip


def demo_config(quick: bool = False, seed: int = 0, workers: int = 2) -> dict[str, dict[str, Any]]:
    """Parameters of every stage.

    Parameters
    ----------
    quick : bool
        Tiny sizes (seconds) instead of the default demo (minutes).
    seed : int
        Seed of every stage.
    workers : int
        Processes of the simulation stage and of the causal bootstrap.

    Returns
    -------
    dict
        Stage name -> its parameters.
    """
    return _quick_config(seed) if quick else _default_config(seed, workers)


_BY_NAME = {s.name: s for s in STAGES}


def _canonical(obj: Any) -> Any:
    """``obj`` as JSON would give it back (tuples as lists, paths and NumPy values as text)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(_canonical(obj), sort_keys=True).encode()).hexdigest()[:16]


def stage_finished(stage_dir: Path, params: dict[str, Any]) -> bool:
    """True when ``stage_dir/manifest.json`` records exactly ``params`` (its ``params["demo"]``).

    Parameters
    ----------
    stage_dir : Path
        The stage's directory.
    params : dict
        The stage's parameters now.

    Returns
    -------
    bool
        Whether the stage can be reused.
    """
    path = stage_dir / MANIFEST_NAME
    if not path.is_file():
        return False
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return _canonical((manifest.get("params") or {}).get("demo")) == _canonical(params)


def execute_stage(
    name: str,
    stage_dir: Path,
    cfg: dict[str, Any],
    params: dict[str, Any],
    dirs: dict[str, Path],
    demo_command: list[str],
) -> dict[str, Any]:
    """Run one stage and write its manifest; returns its status (``state``, ``seconds``, ...).

    A capability that writes its own manifest keeps its files, parameters and results; the
    demo adds its stage parameters under ``params["demo"]`` (what :func:`stage_finished`
    compares) and the equivalent stand-alone command under ``results["equivalent_command"]``.

    Parameters
    ----------
    name : str
        Stage name.
    stage_dir : Path
        Its directory.
    cfg : dict
        Its settings (from :func:`demo_config`).
    params : dict
        Its settings with the fingerprints of its inputs (recorded in the manifest).
    dirs : dict
        Every stage's directory, by name.
    demo_command : list of str
        The ``psplab demo`` command line.

    Returns
    -------
    dict
        ``state`` (done, failed, unavailable), ``seconds`` or ``reason``.
    """
    stage = _BY_NAME[name]
    stage_dir.mkdir(parents=True, exist_ok=True)
    # A stale manifest (other parameters) must not be merged into the new one.
    (stage_dir / MANIFEST_NAME).unlink(missing_ok=True)
    (stage_dir / "error.txt").unlink(missing_ok=True)
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        result = stage.run(stage_dir, cfg, dirs)
    except StageUnavailable as exc:
        return {"state": "unavailable", "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a failing stage must not hide the others' results
        (stage_dir / "error.txt").write_text(traceback.format_exc())
        return {"state": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    seconds = time.perf_counter() - t0
    own: dict[str, Any] = {}
    if (stage_dir / MANIFEST_NAME).is_file():
        own = json.loads((stage_dir / MANIFEST_NAME).read_text())
    files = dict(own.get("files") or {}) | dict(result.get("files") or {})
    results = dict(own.get("results") or {}) | dict(result.get("results") or {})
    results["seconds"] = seconds
    results["cpu_seconds_this_process"] = time.process_time() - cpu0
    if result.get("command"):
        results["equivalent_command"] = result["command"]
    write_manifest(
        stage_dir,
        own.get("kind") or stage.kind,
        files=files,
        results=results,
        params=dict(own.get("params") or {}) | {"demo": params},
        command=[*demo_command, f"# stage {name}"],
    )
    return {"state": "done", "seconds": round(seconds, 2)}


def _side_chain(jobs: list[tuple], quiet_env: bool = True) -> dict[str, dict[str, Any]]:
    """Run side-chain stages one after the other (in a child process)."""
    import os

    if quiet_env:
        os.environ["PSPLAB_NO_PROGRESS"] = "1"  # two processes cannot share one progress display
    return {job[0]: execute_stage(*job) for job in jobs}


def _plan(
    out: Path,
    config: dict[str, Any],
    demo_command: list[str],
    force: bool,
    stages: Any,
    console: Any,
) -> tuple[dict[str, dict[str, Any]], list[tuple]]:
    """Which stages are reused and which run (with their ``execute_stage`` arguments)."""
    dirs = {s.name: out / s.directory for s in STAGES}
    status: dict[str, dict[str, Any]] = {}
    fingerprints: dict[str, str] = {}
    todo: list[tuple] = []
    for stage in STAGES:
        # A stage's parameters include its inputs' fingerprints: redo it when they change.
        params = dict(config[stage.name])
        params["upstream"] = {d: fingerprints.get(d) for d in stage.depends}
        fingerprints[stage.name] = _fingerprint(params)
        wanted = stages is None or stage.name in stages
        if not (force and wanted) and stage_finished(dirs[stage.name], params):
            status[stage.name] = {"state": "reused"}
            console.print(f"[dim]{stage.name}: finished earlier, reused ({dirs[stage.name]})[/]")
        elif not wanted:
            status[stage.name] = {"state": "skipped", "reason": "not requested"}
        else:
            todo.append(
                (stage.name, dirs[stage.name], config[stage.name], params, dirs, demo_command)
            )
    return status, todo


def _run_stages(todo: list[tuple], status: dict, parallel: bool, console: Any) -> None:
    """Run ``todo``: the side chain in a second process when useful; fill ``status``."""
    import concurrent.futures
    import multiprocessing

    from psplab.progress import make_progress

    side = [job for job in todo if job[0] in SIDE_CHAIN]
    main = [job for job in todo if job[0] not in SIDE_CHAIN]
    executor = future = None
    if parallel and side and main:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that has started JAX
        executor = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx)
        future = executor.submit(_side_chain, side)
        console.print(f"[dim]{', '.join(j[0] for j in side)}: running in a second process[/]")
    else:
        main = main + side
    try:
        with make_progress() as progress:
            bar = progress.add_task("psplab demo", total=len(todo))
            for job in main:
                name, deps = job[0], _BY_NAME[job[0]].depends
                if any(status.get(d, {}).get("state") not in ("done", "reused") for d in deps):
                    status[name] = {"state": "skipped", "reason": "an input stage did not finish"}
                else:
                    progress.update(bar, description=f"psplab demo: {name}")
                    status[name] = execute_stage(*job)
                    _say(console, name, status[name], job[1])
                progress.advance(bar)
            if future is not None:
                waiting = ", ".join(j[0] for j in side)
                progress.update(bar, description=f"psplab demo: waiting for {waiting}")
                for job, (name, st) in zip(side, future.result().items(), strict=True):
                    status[name] = st
                    _say(console, name, st, job[1])
                    progress.advance(bar)
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def run_demo(
    out: str | Path = "psplab-demo",
    quick: bool = False,
    workers: int = 2,
    seed: int = 0,
    force: bool = False,
    console: Any = None,
    stages: tuple[str, ...] | None = None,
    parallel: bool = True,
) -> Path:
    """Run the demo into ``out`` and return the path of ``out/report.html``.

    Parameters
    ----------
    out : str or Path
        Output folder; finished stages already in it are reused.
    quick : bool
        Tiny sizes for tests (seconds instead of minutes).
    workers : int
        Processes for the simulation stage (the default demo uses 2).
    seed : int
        Seeds every stage.
    force : bool
        Redo stages even when finished.
    console : rich.console.Console or None
        Where stage messages go (a quiet one when None).
    stages : tuple of str or None
        Run only these stages (by name); the others are reused when finished.
    parallel : bool
        Run the stages that need no other stage's output (optimization, phase map, generator) in
        a second process beside the others.

    Returns
    -------
    Path
        ``out/report.html``.
    """
    from rich.console import Console

    from psplab.report.builder import build_report

    console = console or Console(quiet=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = demo_config(quick=quick, seed=seed, workers=workers)
    demo_command = ["psplab", "demo", "--out", str(out)] + (["--quick"] if quick else [])
    demo_command += ["--seed", str(seed)] if seed else []
    status, todo = _plan(out, config, demo_command, force, stages, console)
    _run_stages(todo, status, parallel, console)
    report = out / "report.html"
    dirs = {s.name: out / s.directory for s in STAGES}
    write_manifest(
        out,
        "demo",
        files={
            "report": report,
            **{n: d for n, d in dirs.items() if (d / MANIFEST_NAME).is_file()},
        },
        results={"stages": {s.name: status[s.name] for s in STAGES}},
        params={"quick": quick, "seed": seed, "workers": workers},
        command=demo_command,
    )
    build_report([out], out=report, title="psplab demo report")
    return report


def _say(console: Any, name: str, st: dict[str, Any], stage_dir: Path) -> None:
    if st["state"] == "done":
        console.print(f"[green]{name}[/]: done in {st['seconds']:.1f} s")
    elif st["state"] == "unavailable":
        console.print(f"[yellow]{name}: skipped, {st['reason']}[/]")
    else:
        console.print(
            f"[red]{name}: {st['state']}, {st.get('reason', '')} "
            f"(traceback in {stage_dir / 'error.txt'})[/]"
        )
