"""The stages of ``psplab demo``: each calls the public pipeline function its command calls.

Every stage runs as ``stage.run(out_dir, params, upstream_dirs)`` (``params``: the stage's part of
:func:`psplab.report.demo.demo_config`; ``upstream_dirs``: every stage's directory by name) and
returns manifest keywords (``files``, ``results``, ``command``: the stand-alone command that does
the same). A stage whose capability is not installed raises :class:`StageUnavailable`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.manifest import MANIFEST_NAME

__all__ = ["STAGES", "SIDE_CHAIN", "Stage", "StageUnavailable", "load_demo_dataset", "need"]


class StageUnavailable(RuntimeError):
    """The capability a stage needs is not installed (its module or function is missing)."""


def need(module: str, *names: str) -> Any:
    """Import ``module`` and return it (or the named attributes).

    Parameters
    ----------
    module : str
        Dotted module name.
    *names : str
        Attributes to return.

    Returns
    -------
    object
        The module, one attribute, or a tuple of attributes.

    Raises
    ------
    StageUnavailable
        The psplab module or an attribute is missing.
    """
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("psplab") and module.startswith(exc.name):
            raise StageUnavailable(f"{module} is not available ({exc})") from exc
        raise
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise StageUnavailable(f"{module} lacks {', '.join(missing)}")
    if not names:
        return mod
    values = tuple(getattr(mod, n) for n in names)
    return values[0] if len(values) == 1 else values


def _stage_dataset(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    """Sample recipes, simulate and measure them (``psplab simulate``); a gallery of images."""
    sample_recipes, generate_dataset = need("psplab.generate", "sample_recipes", "generate_dataset")
    recipes = sample_recipes(p["family"], p["n"], design="lhs", seed=p["seed"])
    parquet = out / "dataset.parquet"
    images = out / "images"
    generate_dataset(
        recipes, parquet, grid=p["grid"], seed=p["seed"], images_dir=images, workers=p["workers"]
    )
    frame = pd.read_parquet(parquet)
    gallery = _gallery(frame, images, p["gallery"])
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


def _gallery(frame: pd.DataFrame, images: Path, n: int) -> dict[str, np.ndarray]:
    """Label images of ``n`` recipes spanning the dataset's grain sizes, finest to coarsest."""
    ok = frame[frame["error"].isna()] if "error" in frame.columns else frame
    ok = ok.dropna(subset=["grain_size_um"]).sort_values("grain_size_um")
    picks = [ok.index[int(round(q * (len(ok) - 1)))] for q in np.linspace(0, 1, n)]
    grains, phases, titles, pixels = [], [], [], []
    for i in dict.fromkeys(picks):
        row = ok.loc[i]
        idx = int(row["recipe_index"]) if "recipe_index" in row else int(i)
        grains.append(np.load(images / f"recipe_{idx:06d}_grains.npy"))
        phases.append(np.load(images / f"recipe_{idx:06d}_phases.npy"))
        pixels.append(float(row["pixel_um"]))  # each recipe's own pixel (psplab.sim.resolution)
        titles.append(
            f"#{idx}: {row['hold_temperature_C']:.0f} °C, {row['hold_time_s']:.0f} s, "
            f"strain {row['deformation_strain']:.2f}\n"
            f"d = {row['grain_size_um']:.1f} µm, σy = {row['yield_strength_MPa']:.0f} MPa"
        )
    return {
        "grain_labels": np.stack(grains).astype(np.int32),
        "phase_labels": np.stack(phases).astype(np.int32),
        "pixel_um": np.asarray(pixels),
        "titles": np.array(titles),
    }


def load_demo_dataset(dataset_dir: Path):
    """The dataset the demo's first stage wrote.

    Parameters
    ----------
    dataset_dir : Path
        The dataset stage's directory.

    Returns
    -------
    psplab.data.Dataset
        The loaded dataset.
    """
    from psplab.data.dataset import load_dataset

    manifest = json.loads((dataset_dir / MANIFEST_NAME).read_text())
    return load_dataset(dataset_dir / manifest["files"]["spec"])


def _stage_models(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    """Cross-validate the models on shared folds (``psplab evaluate``)."""
    evaluate_dataset = need("psplab.models.evaluation", "evaluate_dataset")
    write_evaluation_run = need("psplab.models.rundir", "write_evaluation_run")
    dataset = load_demo_dataset(upstream["dataset"])
    params = {
        k: {kk: tuple(vv) if isinstance(vv, list) else vv for kk, vv in v.items()}
        for k, v in p.get("model_params", {}).items()
    }
    # Three calibration folds keep the demo inside its time budget (`psplab evaluate`: 10).
    for name in p["models"]:
        params.setdefault(name, {}).setdefault("calibration_folds", 3)
    result = evaluate_dataset(dataset, list(p["models"]), cv=p["cv"], seed=p["seed"], params=params)
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


def _stage_causal(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    """Causal graph, stability, influence and dose-response (``psplab causal``)."""
    run_causal, write_causal_run = need("psplab.causal", "run_causal", "write_causal_run")
    dataset = load_demo_dataset(upstream["dataset"])
    settings = {k: p[k] for k in ("bootstrap", "alpha", "test", "model", "dose_top", "draws")}
    settings |= {k: p[k] for k in ("backend", "jobs", "seed")}
    result = run_causal(dataset, grid=p["grid_points"], exclude=p.get("exclude", []), **settings)
    spec = Path("..") / upstream["dataset"].name / "dataset.toml"
    command = (
        f"psplab causal {spec} --bootstrap {p['bootstrap']} --alpha {p['alpha']} "
        + (f"--exclude {','.join(p['exclude'])} " if p.get("exclude") else "")
        + f"--seed {p['seed']} --out ."
    )
    write_causal_run(result, out, command=command.split())
    results: dict[str, Any] = {}
    try:
        true_causal_edges = need("psplab.generate", "true_causal_edges")
        left_out = set(result.data.left_out)
        results["true_edges"] = [
            list(e) for e in true_causal_edges(p["family"]) if not left_out.intersection(e)
        ]
    except StageUnavailable:
        pass
    return {"results": results, "command": command}


def _stage_optimize(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    """Simulator-in-the-loop Bayesian optimization against random search (``psplab optimize``)."""
    run_simulated = need("psplab.optimize.simloop", "run_simulated")
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


def _stage_phasemap(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    """A SAGE phase map of a synthetic library with known regions, scored against the truth."""
    fit_phase_map_demo = need("psplab.models.phasemap", "fit_phase_map_demo")
    demo = fit_phase_map_demo(
        n_points=p["n_points"], seed=p["seed"], grid_points=p["grid"], **p["model_params"]
    )
    diag = demo.model.diagnostics_
    return {
        "files": {"phasemap_grid": demo.grid.save(out / "phasemap_grid.npz")},
        "results": {
            "accuracy": demo.accuracy,
            "property_r2": demo.property_r2,
            "diagnostics": diag,
            "rhat_max": diag["rhat_max"],
            "num_samples": diag["num_samples"] * diag["num_chains"],
            "warnings": demo.warnings[:5],
        },
        "command": "python -c 'from psplab.models.phasemap import fit_phase_map_demo; "
        f"fit_phase_map_demo(n_points={p['n_points']}, seed={p['seed']})'",
    }


def _stage_generator(out: Path, p: dict[str, Any], upstream: dict[str, Path]) -> dict[str, Any]:
    """Simulate a small image set and fit a generator with held-out recipes (``generator fit``)."""
    sample_recipes, generate_dataset, write_simulated_image_table = need(
        "psplab.generate", "sample_recipes", "generate_dataset", "write_simulated_image_table"
    )
    fit_run = need("psplab.models.generator.runs", "fit_run")
    recipes = sample_recipes(p["family"], p["n"], design="lhs", seed=p["seed"])
    parquet, images = out / "simulations.parquet", out / "images"
    generate_dataset(recipes, parquet, grid=p["grid"], seed=p["seed"], images_dir=images, workers=0)
    table = write_simulated_image_table(parquet, images, kinds=p["kinds"])
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in p["model_params"].items()}
    run = fit_run(table, out, holdout=p["holdout"], seed=p["seed"], **params)
    return {
        # Not "dataset"/"spec": the report would show these simulations as a second dataset.
        "files": {"simulations": parquet, "images": images, "image_table": table},
        "results": {"fit_seconds": run.elapsed_s, "family": p["family"]},
        "command": f"psplab simulate --family {p['family']} --design lhs --n {p['n']} "
        f"--grid {p['grid']} --seed {p['seed']} --images images --workers 0 "
        f"--out simulations.parquet && psplab generator fit images/images.toml --out . "
        f"--holdout {p['holdout']} --seed {p['seed']} (the table keeps the image kinds "
        "in params.demo.kinds; the model parameters are in params.demo.model_params)",
    }


@dataclass
class Stage:
    """One demo stage: its name, directory, manifest kind, input stages and function."""

    name: str
    directory: str
    kind: str
    depends: tuple[str, ...]
    run: Callable[[Path, dict[str, Any], dict[str, Path]], dict[str, Any]]


STAGES = (
    Stage("dataset", "1-dataset", "simulate", (), _stage_dataset),
    Stage("models", "2-models", "evaluate", ("dataset",), _stage_models),
    Stage("causal", "3-causal", "causal", ("dataset",), _stage_causal),
    Stage("optimize", "4-optimize", "optimize", (), _stage_optimize),
    Stage("phasemap", "5-phasemap", "phasemap", (), _stage_phasemap),
    Stage("generator", "6-generator", "generator-fit", (), _stage_generator),
)
# Stages that read nothing from the others run beside the dataset -> models -> causal chain
# in a second process, so two cores stay busy while the first one compiles or fits.
SIDE_CHAIN = ("optimize", "phasemap", "generator")
