"""``psplab demo``: the whole pipeline on data the product makes itself, ending in a report.

Stages, each in its own sub-directory of the output folder with a ``manifest.json``:

1. ``1-dataset``   -- sample recipes (Latin hypercube) of one alloy family, simulate them with the
   phase-field models, measure the microstructures and add the strength model
   (:func:`psplab.generate.generate_dataset`); a few label images for the gallery.
2. ``2-models``    -- cross-validate the Bayesian hypernetwork and the baselines on the same folds
   (:func:`psplab.models.evaluation.cross_validate`).
3. ``3-causal``    -- tiered causal discovery, edge stability, influence ranking and dose-response
   curves (:mod:`psplab.causal`).
4. ``4-optimize``  -- a short simulator-in-the-loop Bayesian optimization of yield strength
   against random search with the same budget (:mod:`psplab.optimize`).
5. ``5-phasemap``  -- a SAGE phase map fitted to a synthetic 2-D composition library with known
   regions (:mod:`psplab.models.sage`).
6. ``report.html`` -- :func:`psplab.report.build_report` over all of them.

A stage is *finished* when its manifest exists and records the same parameters (including a
fingerprint of the stages it reads); finished stages are reused, so an interrupted demo started
again continues where it stopped. A stage whose capability is not installed, or that fails, is
reported and skipped; the report then leaves its section out, and ``run_demo`` says so.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.manifest import MANIFEST_NAME, _jsonable, write_manifest

FAMILY = "ferritic_steel"


def demo_config(quick: bool = False, seed: int = 0, workers: int = 2) -> dict[str, dict[str, Any]]:
    """Parameters of every stage; ``quick`` shrinks everything to seconds."""
    if quick:
        return {
            "dataset": {
                "family": FAMILY,
                "n": 30,  # a multiple of cv: equal folds, so each model compiles once
                "grid": 32,
                "seed": seed,
                "workers": 0,
                "gallery": 3,
            },
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
                "family": FAMILY,
                "exclude": ["astm_g"],
                "bootstrap": 4,
                "alpha": 0.05,
                "test": "fisherz",
                "model": "rf",
                "dose_top": 1,
                "grid_points": 7,
                "draws": 10,
                "backend": "serial",
                "jobs": 1,
                "seed": seed,
            },
            "optimize": {"family": FAMILY, "budget": 6, "grid": 32, "model": "gp", "seed": seed},
            "phasemap": {
                "n_points": 30,
                "regions": 3,
                "num_warmup": 50,
                "num_samples": 50,
                "svi_steps": 300,
                # Few inducing points keep the NUTS program small (seconds, not minutes).
                "max_inducing": 16,
                "grid": 21,
                "seed": seed,
            },
        }
    return {
        "dataset": {
            "family": FAMILY,
            "n": 240,
            "grid": 48,
            "seed": seed,
            "workers": workers,
            "gallery": 6,
        },
        "models": {
            "models": ["bhn", "gp", "ensemble", "dropout", "rf"],
            "cv": 5,
            "seed": seed,
            # Sized for the 5-minute bar on 2 cores: 300 epochs fit 192 rows as well as 1000 did
            # (yield-strength R2 0.93 for every network), and one GP start per target is a
            # fifth of the cost of two (BENCHMARKS.md, demo section).
            "model_params": {
                "bhn": {"epochs": 300},
                "ensemble": {"epochs": 300},
                "dropout": {"epochs": 300},
                "gp": {"n_restarts": 0},
                "rf": {"n_estimators": 200},
            },
        },
        "causal": {
            "family": FAMILY,
            # ASTM G is computed from the grain size: with both in the graph each screens the
            # other off and PC drops grain size -> strength (docs/causal.md).
            "exclude": ["astm_g"],
            "bootstrap": 20,
            "alpha": 0.05,
            "test": "fisherz",
            "model": "gp",
            "dose_top": 2,
            "grid_points": 12,
            "draws": 30,
            "backend": "loky",
            "jobs": workers,
            "seed": seed,
        },
        "optimize": {"family": FAMILY, "budget": 20, "grid": 48, "model": "gp", "seed": seed},
        "phasemap": {
            "n_points": 60,
            "regions": 3,
            "num_warmup": 100,
            "num_samples": 100,
            "svi_steps": 1000,
            "max_inducing": 25,
            "grid": 41,
            "seed": seed,
        },
    }


class StageUnavailable(RuntimeError):
    """The capability a stage needs is not installed (its module or function is missing)."""


@dataclass
class Stage:
    """One demo stage: ``run(stage_dir, params, upstream_dirs) -> manifest keywords``."""

    name: str
    directory: str
    kind: str
    depends: tuple[str, ...]
    run: Callable[[Path, dict[str, Any], dict[str, Path]], dict[str, Any]]


def _fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(_jsonable(obj), sort_keys=True).encode()).hexdigest()[:16]


def stage_finished(stage_dir: Path, params: dict[str, Any]) -> bool:
    """True when ``stage_dir/manifest.json`` exists and records exactly ``params`` (its
    ``params["demo"]``)."""
    path = stage_dir / MANIFEST_NAME
    if not path.is_file():
        return False
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    recorded = (manifest.get("params") or {}).get("demo")
    recorded = json.loads(json.dumps(_jsonable(recorded), sort_keys=True))
    return recorded == json.loads(json.dumps(_jsonable(params), sort_keys=True))


def _need(module: str, *names: str) -> Any:
    """Import ``module`` and return it (or the named attributes); StageUnavailable if absent."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name.split(".")[0]) and exc.name.startswith("psplab"):
            raise StageUnavailable(f"{module} is not available ({exc})") from exc
        raise
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise StageUnavailable(f"{module} lacks {', '.join(missing)}")
    if not names:
        return mod
    values = tuple(getattr(mod, n) for n in names)
    return values[0] if len(values) == 1 else values


# --- stage 1: dataset ----------------------------------------------------------------------
def stage_dataset(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    sample_recipes, generate_dataset = _need(
        "psplab.generate", "sample_recipes", "generate_dataset"
    )
    get_family = _need("psplab.sim", "get_family")
    recipes = sample_recipes(p["family"], p["n"], design="lhs", seed=p["seed"])
    parquet = out / "dataset.parquet"
    images = out / "images"
    generate_dataset(
        recipes, parquet, grid=p["grid"], seed=p["seed"], images_dir=images, workers=p["workers"]
    )
    frame = pd.read_parquet(parquet)
    gallery = _gallery(frame, images, float(get_family(p["family"]).pixel_um), p["gallery"])
    np.savez_compressed(out / "gallery.npz", **gallery)
    failed = int(frame["error"].notna().sum()) if "error" in frame.columns else 0
    return {
        "files": {
            "dataset": parquet,
            "spec": parquet.with_suffix(".toml"),
            "gallery": out / "gallery.npz",
            "images": images,
        },
        "results": {"n_recipes": int(len(frame)), "failed": failed, "family": p["family"]},
        "command": f"psplab simulate --family {p['family']} --design lhs --n {p['n']} "
        f"--grid {p['grid']} --seed {p['seed']} --images images --workers {p['workers']} "
        "--out dataset.parquet",
    }


def _gallery(frame: pd.DataFrame, images: Path, pixel_um: float, n: int) -> dict[str, np.ndarray]:
    """Label images of ``n`` recipes spanning the dataset's grain sizes, finest to coarsest."""
    ok = frame[frame["error"].isna()] if "error" in frame.columns else frame
    ok = ok.dropna(subset=["grain_size_um"]).sort_values("grain_size_um")
    picks = [ok.index[int(round(q * (len(ok) - 1)))] for q in np.linspace(0, 1, n)]
    grains, phases, titles = [], [], []
    for i in dict.fromkeys(picks):
        row = ok.loc[i]
        idx = int(row["recipe_index"]) if "recipe_index" in row else int(i)
        grains.append(np.load(images / f"recipe_{idx:06d}_grains.npy"))
        phases.append(np.load(images / f"recipe_{idx:06d}_phases.npy"))
        titles.append(
            f"#{idx}: {row['hold_temperature_C']:.0f} °C, {row['hold_time_s']:.0f} s, "
            f"strain {row['deformation_strain']:.2f}\n"
            f"d = {row['grain_size_um']:.1f} µm, σy = {row['yield_strength_MPa']:.0f} MPa"
        )
    return {
        "grain_labels": np.stack(grains).astype(np.int32),
        "phase_labels": np.stack(phases).astype(np.int32),
        "pixel_um": np.full(len(grains), pixel_um),
        "titles": np.array(titles),
    }


def _load_demo_dataset(dataset_dir: Path):
    from psplab.data.dataset import load_dataset

    manifest = json.loads((dataset_dir / MANIFEST_NAME).read_text())
    return load_dataset(dataset_dir / manifest["files"]["spec"])


# --- stage 2: models -----------------------------------------------------------------------
def stage_models(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    evaluate_dataset = _need("psplab.models.evaluation", "evaluate_dataset")
    write_evaluation_run = _need("psplab.models.rundir", "write_evaluation_run")
    dataset = _load_demo_dataset(upstream["dataset"])
    params = {
        k: {kk: tuple(vv) if isinstance(vv, list) else vv for kk, vv in v.items()}
        for k, v in p.get("model_params", {}).items()
    }
    # Three calibration folds keep the demo inside its time budget (`psplab evaluate` uses 5).
    for name in p["models"]:
        params.setdefault(name, {}).setdefault("calibration_folds", 3)
    result = evaluate_dataset(
        dataset, list(p["models"]), cv=p["cv"], seed=p["seed"], params=params
    )
    labels = {c.name: c.label() for c in dataset.spec.targets}
    files = write_evaluation_run(result, out, labels=labels)
    units = {c.name: c.unit for c in dataset.spec.columns if c.unit}
    return {
        "files": files,
        "results": {"metrics": json.loads(files["metrics"].read_text()), "units": units},
        "command": f"psplab evaluate ../{upstream['dataset'].name}/dataset.toml "
        f"--models {','.join(p['models'])} --cv {p['cv']} --seed {p['seed']} --out . "
        "(with the model parameters in params.demo.model_params)",
    }


# --- stage 3: causal -----------------------------------------------------------------------
def stage_causal(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    from rich.console import Console

    run_causal = _need("psplab.causal.commands", "run")
    dataset = _load_demo_dataset(upstream["dataset"])
    run_causal(
        dataset,
        out,
        bootstrap=p["bootstrap"],
        alpha=p["alpha"],
        test=p["test"],
        model=p["model"],
        dose_top=p["dose_top"],
        grid=p["grid_points"],
        draws=p["draws"],
        backend=p["backend"],
        jobs=p["jobs"],
        seed=p["seed"],
        console=Console(quiet=True),
        exclude=list(p.get("exclude", [])),
    )
    results: dict[str, Any] = {}
    try:
        true_causal_edges = _need("psplab.generate", "true_causal_edges")
        left_out = set(p.get("exclude", []))
        results["true_edges"] = [
            list(e) for e in true_causal_edges(p["family"]) if not left_out.intersection(e)
        ]
    except StageUnavailable:
        pass
    spec = Path("..") / upstream["dataset"].name / "dataset.toml"
    return {
        "results": results,
        "command": f"psplab causal {spec} --bootstrap {p['bootstrap']} --alpha {p['alpha']} "
        + (f"--exclude {','.join(p['exclude'])} " if p.get("exclude") else "")
        + f"--seed {p['seed']} --out .",
    }


# --- stage 4: optimize ---------------------------------------------------------------------
def stage_optimize(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    run_simulated = _need("psplab.optimize.simloop", "run_simulated")
    run_simulated(
        out,
        family=p["family"],
        budget=p["budget"],
        seed=p["seed"],
        grid=p["grid"],
        model=p["model"],
        compare_random=True,
    )
    return {
        "command": f"psplab optimize --simulate --family {p['family']} --budget {p['budget']} "
        f"--grid {p['grid']} --seed {p['seed']} --out ."
    }


# --- stage 5: phase map --------------------------------------------------------------------
def stage_phasemap(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    import warnings

    PhaseMapModel, synthetic_library = _need(
        "psplab.models.sage", "PhaseMapModel", "synthetic_library"
    )
    lib = synthetic_library(n_points=p["n_points"], seed=p["seed"])
    model = PhaseMapModel(
        n_regions=p["regions"],
        kernel="rbf",
        num_warmup=p["num_warmup"],
        num_samples=p["num_samples"],
        num_chains=1,
        svi_steps=p["svi_steps"],
        max_inducing=p.get("max_inducing", 64),
        seed=p["seed"],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit([lib.structure_source()], [lib.property_source()])
    n = p["grid"]
    grid = lib.grid(n)  # (n*n, 2), x_A varying fastest
    g = np.unique(grid[:, 0])
    pred = model.predict(grid)
    shape = (n, n)
    truth = np.asarray(lib.label_fn(grid)).reshape(shape)
    labels = np.asarray(pred.labels).reshape(shape)
    y_true = np.asarray(lib.property_fn(grid))
    mean = np.asarray(pred.mean).reshape(len(grid), -1)[:, 0]
    std = np.asarray(pred.std).reshape(len(grid), -1)[:, 0]
    r2 = 1.0 - np.sum((mean - y_true) ** 2) / np.sum((y_true - y_true.mean()) ** 2)
    probs = np.asarray(pred.probs)
    np.savez_compressed(
        out / "phasemap_grid.npz",
        x1=g,
        x2=g,
        probs=probs.reshape(*shape, probs.shape[-1]),
        entropy=np.asarray(pred.entropy).reshape(shape),
        truth=truth,
        points=lib.structure_X,
        point_labels=lib.structure_labels,
        property_mean=mean.reshape(shape),
        property_std=std.reshape(shape),
    )
    diag = dict(getattr(model, "diagnostics_", {}) or {})
    name, _, unit = lib.property_name.rpartition("_")
    return {
        "files": {"phasemap_grid": out / "phasemap_grid.npz"},
        "results": {
            "accuracy": float(np.mean(labels == truth)),
            "property_r2": float(r2),
            "rhat_max": diag.get("rhat_max"),
            "num_samples": p["num_samples"],
            "axis_labels": [f"{c} [fraction]" for c in lib.coords],
            "property_label": f"{name or lib.property_name} [{unit or '–'}]",
            "warnings": [str(w.message) for w in caught][:5],
        },
        "command": "python -c 'from psplab.models.sage import fit_phase_map_demo; "
        f"fit_phase_map_demo(n_points={p['n_points']}, seed={p['seed']})'",
    }


STAGES = (
    Stage("dataset", "1-dataset", "simulate", (), stage_dataset),
    Stage("models", "2-models", "evaluate", ("dataset",), stage_models),
    Stage("causal", "3-causal", "causal", ("dataset",), stage_causal),
    Stage("optimize", "4-optimize", "optimize", (), stage_optimize),
    Stage("phasemap", "5-phasemap", "phasemap", (), stage_phasemap),
)
_BY_NAME = {s.name: s for s in STAGES}
# Stages that read nothing from the others run beside the dataset -> models -> causal chain
# in a second process, so two cores stay busy while the first one compiles or fits.
SIDE_CHAIN = ("optimize", "phasemap")


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
    """
    stage = _BY_NAME[name]
    stage_dir.mkdir(parents=True, exist_ok=True)
    # A stale manifest (other parameters) must not be merged into the new one.
    (stage_dir / MANIFEST_NAME).unlink(missing_ok=True)
    (stage_dir / "error.txt").unlink(missing_ok=True)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    try:
        result = stage.run(stage_dir, cfg, dirs)
    except StageUnavailable as exc:
        return {"state": "unavailable", "reason": str(exc)}
    except Exception as exc:  # a failing stage must not hide the others' results
        (stage_dir / "error.txt").write_text(traceback.format_exc())
        return {"state": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    seconds = time.perf_counter() - t0
    own: dict[str, Any] = {}
    if (stage_dir / MANIFEST_NAME).is_file():
        own = json.loads((stage_dir / MANIFEST_NAME).read_text())
    files = dict(own.get("files") or {})
    files.update(result.get("files") or {})
    results = dict(own.get("results") or {})
    results.update(result.get("results") or {})
    results["seconds"] = seconds
    results["cpu_seconds_this_process"] = time.process_time() - cpu0
    if result.get("command"):
        results["equivalent_command"] = result["command"]
    merged_params = dict(own.get("params") or {})
    merged_params["demo"] = params
    write_manifest(
        stage_dir,
        own.get("kind") or stage.kind,
        files=files,
        results=results,
        params=merged_params,
        command=[*demo_command, f"# stage {name}"],
    )
    return {"state": "done", "seconds": round(seconds, 2)}


def _side_chain(jobs: list[tuple], quiet_env: bool = True) -> dict[str, dict[str, Any]]:
    """Run side-chain stages one after the other (in a child process)."""
    import os

    if quiet_env:
        os.environ["PSPLAB_NO_PROGRESS"] = "1"  # two processes cannot share one progress display
    return {job[0]: execute_stage(*job) for job in jobs}


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
    out
        Output folder; finished stages already in it are reused.
    quick
        Tiny sizes for tests (seconds instead of minutes).
    workers
        Processes for the simulation stage (the default demo uses 2).
    seed
        Seeds every stage.
    force
        Redo stages even when finished.
    console
        A ``rich.console.Console`` for progress messages (a quiet one when None).
    stages
        Run only these stages (by name); the others are reused when finished.
    parallel
        Run the stages that need no other stage's output (optimization, phase map) in a second
        process beside the others.
    """
    import concurrent.futures
    import multiprocessing

    from rich.console import Console

    from psplab.progress import make_progress
    from psplab.report.builder import build_report

    console = console or Console(quiet=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = demo_config(quick=quick, seed=seed, workers=workers)
    demo_command = ["psplab", "demo", "--out", str(out)] + (["--quick"] if quick else [])
    if seed:
        demo_command += ["--seed", str(seed)]
    dirs = {s.name: out / s.directory for s in STAGES}
    status: dict[str, dict[str, Any]] = {}
    fingerprints: dict[str, str] = {}
    todo: list[tuple] = []
    for stage in STAGES:
        params = dict(config[stage.name])
        # A stage's parameters include its inputs' fingerprints: redo it when they change.
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

    side = [job for job in todo if job[0] in SIDE_CHAIN]
    main = [job for job in todo if job[0] not in SIDE_CHAIN]
    executor = None
    future = None
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
                name = job[0]
                deps = _BY_NAME[name].depends
                if any(status.get(d, {}).get("state") not in ("done", "reused") for d in deps):
                    status[name] = {"state": "skipped", "reason": "an input stage did not finish"}
                else:
                    progress.update(bar, description=f"psplab demo: {name}")
                    status[name] = execute_stage(*job)
                    _say(console, name, status[name], dirs[name])
                progress.advance(bar)
            if future is not None:
                progress.update(
                    bar, description="psplab demo: waiting for " + ", ".join(j[0] for j in side)
                )
                for name, st in future.result().items():
                    status[name] = st
                    _say(console, name, st, dirs[name])
                    progress.advance(bar)
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    report = out / "report.html"
    ordered = {s.name: status[s.name] for s in STAGES}
    write_manifest(
        out,
        "demo",
        files={
            "report": report,
            **{n: d for n, d in dirs.items() if (d / MANIFEST_NAME).is_file()},
        },
        results={"stages": ordered},
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
