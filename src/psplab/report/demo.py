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
                "n": 40,
                "grid": 32,
                "seed": seed,
                "workers": 1,
                "gallery": 3,
            },
            "models": {
                "models": ["bhn", "gp", "ensemble", "dropout", "rf"],
                "cv": 3,
                "seed": seed,
                "fast": True,
            },
            "causal": {"bootstrap": 4, "alpha": 0.05, "grid_points": 7, "seed": seed},
            "optimize": {"family": FAMILY, "budget": 6, "n_initial": 3, "grid": 32, "seed": seed},
            "phasemap": {
                "n_points": 24,
                "regions": 3,
                "num_warmup": 40,
                "num_samples": 40,
                "svi_steps": 150,
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
            "fast": False,
        },
        "causal": {"bootstrap": 20, "alpha": 0.05, "grid_points": 15, "seed": seed},
        "optimize": {"family": FAMILY, "budget": 20, "n_initial": 6, "grid": 48, "seed": seed},
        "phasemap": {
            "n_points": 60,
            "regions": 3,
            "num_warmup": 200,
            "num_samples": 200,
            "svi_steps": 800,
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
    """True when ``stage_dir/manifest.json`` exists and records exactly ``params``."""
    path = stage_dir / MANIFEST_NAME
    if not path.is_file():
        return False
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    recorded = json.loads(json.dumps(_jsonable(manifest.get("params", {})), sort_keys=True))
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
    recipes = sample_recipes(p["family"], p["n"], design="lhs", seed=p["seed"])
    parquet = out / "dataset.parquet"
    generate_dataset(
        recipes, parquet, grid=p["grid"], seed=p["seed"], images_dir=None, workers=p["workers"]
    )
    spec_path = parquet.with_suffix(".toml")
    frame = pd.read_parquet(parquet)
    gallery = _gallery(frame, p)
    np.savez_compressed(out / "gallery.npz", **gallery)
    failed = int(frame["error"].notna().sum()) if "error" in frame.columns else 0
    return {
        "files": {"dataset": parquet, "spec": spec_path, "gallery": out / "gallery.npz"},
        "results": {"n_recipes": int(len(frame)), "failed": failed, "family": p["family"]},
    }


def _gallery(frame: pd.DataFrame, p: dict[str, Any]) -> dict[str, np.ndarray]:
    """Re-simulate a few recipes spanning the dataset's grain sizes, for the micrograph gallery."""
    Recipe, simulate_batch = _need("psplab.sim", "Recipe", "simulate_batch")
    RECIPE_PARAMS = _need("psplab.sim", "RECIPE_PARAMS")
    ok = frame.dropna(subset=["grain_size_um"]) if "grain_size_um" in frame.columns else frame
    order = ok["grain_size_um"].sort_values().index if "grain_size_um" in ok.columns else ok.index
    picks = [order[int(round(q * (len(order) - 1)))] for q in np.linspace(0, 1, p["gallery"])]
    recipes = [
        Recipe.from_dict({"family": p["family"], **{k: float(ok.loc[i, k]) for k in RECIPE_PARAMS}})
        for i in picks
    ]
    sims = simulate_batch(recipes, grid=p["grid"], seed=p["seed"])
    titles = []
    for r in recipes:
        titles.append(
            f"{r.hold_temperature_C:.0f} °C, {r.hold_time_s:.0f} s, strain {r.deformation_strain:.2f}"
        )
    return {
        "grain_labels": np.stack([np.asarray(s.grain_labels, dtype=np.int32) for s in sims]),
        "phase_labels": np.stack([np.asarray(s.phase_labels, dtype=np.int32) for s in sims]),
        "pixel_um": np.array([float(s.pixel_um) for s in sims]),
        "titles": np.array(titles),
    }


def _load_demo_dataset(dataset_dir: Path):
    from psplab.data.dataset import load_dataset

    manifest = json.loads((dataset_dir / MANIFEST_NAME).read_text())
    return load_dataset(dataset_dir / manifest["files"]["spec"])


# --- stage 2: models -----------------------------------------------------------------------
def stage_models(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    cross_validate = _need("psplab.models.evaluation", "cross_validate")
    dataset = _load_demo_dataset(upstream["dataset"])
    metrics, oof = cross_validate(dataset, list(p["models"]), cv=p["cv"], seed=p["seed"])
    oof.to_parquet(out / "oof.parquet")
    (out / "metrics.json").write_text(json.dumps(_jsonable(metrics), indent=1))
    units = {c.name: c.unit for c in dataset.spec.columns if c.unit}
    return {
        "files": {"oof": out / "oof.parquet", "metrics": out / "metrics.json"},
        "results": {"metrics": metrics, "units": units},
    }


# --- stage 3: causal -----------------------------------------------------------------------
def stage_causal(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    raise StageUnavailable("psplab.causal: waiting for its API")


# --- stage 4: optimize ---------------------------------------------------------------------
def stage_optimize(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    raise StageUnavailable("psplab.optimize: waiting for its API")


# --- stage 5: phase map --------------------------------------------------------------------
def stage_phasemap(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    raise StageUnavailable("psplab.models.sage: waiting for synthetic_library")


STAGES = (
    Stage("dataset", "1-dataset", "simulate", (), stage_dataset),
    Stage("models", "2-models", "evaluate", ("dataset",), stage_models),
    Stage("causal", "3-causal", "causal", ("dataset",), stage_causal),
    Stage("optimize", "4-optimize", "optimize", (), stage_optimize),
    Stage("phasemap", "5-phasemap", "phasemap", (), stage_phasemap),
)


def run_demo(
    out: str | Path = "psplab-demo",
    quick: bool = False,
    workers: int = 2,
    seed: int = 0,
    force: bool = False,
    console: Any = None,
    stages: tuple[str, ...] | None = None,
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
        Run only these stages (by name); the others are still reused if finished.
    """
    from rich.console import Console

    from psplab.progress import make_progress
    from psplab.report.builder import build_report

    console = console or Console(quiet=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = demo_config(quick=quick, seed=seed, workers=workers)
    dirs: dict[str, Path] = {}
    status: dict[str, dict[str, Any]] = {}
    fingerprints: dict[str, str] = {}
    with make_progress() as progress:
        overall = progress.add_task("psplab demo", total=len(STAGES))
        for stage in STAGES:
            stage_dir = out / stage.directory
            dirs[stage.name] = stage_dir
            params = dict(config[stage.name])
            # A stage's parameters include its inputs' fingerprints: redo it when they change.
            params["upstream"] = {d: fingerprints.get(d) for d in stage.depends}
            params["demo_stage"] = stage.name
            fingerprints[stage.name] = _fingerprint(params)
            wanted = stages is None or stage.name in stages
            if not force and stage_finished(stage_dir, params):
                status[stage.name] = {"state": "reused"}
                console.print(f"[dim]{stage.name}: finished earlier, reused ({stage_dir})[/]")
                progress.advance(overall)
                continue
            if not wanted or any(
                status.get(d, {}).get("state") not in ("done", "reused") for d in stage.depends
            ):
                status[stage.name] = {
                    "state": "skipped",
                    "reason": "not requested or an input stage is missing",
                }
                progress.advance(overall)
                continue
            progress.update(overall, description=f"psplab demo: {stage.name}")
            stage_dir.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            try:
                result = stage.run(stage_dir, config[stage.name], dirs)
            except StageUnavailable as exc:
                status[stage.name] = {"state": "unavailable", "reason": str(exc)}
                console.print(f"[yellow]{stage.name}: skipped, {exc}[/]")
            except Exception as exc:  # a failing stage must not hide the others' results
                status[stage.name] = {"state": "failed", "reason": f"{type(exc).__name__}: {exc}"}
                (stage_dir / "error.txt").write_text(traceback.format_exc())
                console.print(
                    f"[red]{stage.name}: failed, {type(exc).__name__}: {exc} "
                    f"(traceback in {stage_dir / 'error.txt'})[/]"
                )
            else:
                seconds = time.perf_counter() - t0
                results = dict(result.get("results", {}))
                results["seconds"] = seconds
                write_manifest(
                    stage_dir,
                    stage.kind,
                    files=result.get("files"),
                    results=results,
                    params=params,
                    command=["psplab", "demo", "--out", str(out)]
                    + (["--quick"] if quick else [])
                    + [f"# stage {stage.name}"],
                )
                status[stage.name] = {"state": "done", "seconds": round(seconds, 2)}
                console.print(f"[green]{stage.name}[/]: done in {seconds:.1f} s")
            progress.advance(overall)
    report = out / "report.html"
    write_manifest(
        out,
        "demo",
        files={
            "report": report,
            **{name: d for name, d in dirs.items() if (d / MANIFEST_NAME).is_file()},
        },
        results={"stages": status},
        params={"quick": quick, "seed": seed, "workers": workers},
    )
    build_report([out], out=report, title="psplab demo report")
    return report
