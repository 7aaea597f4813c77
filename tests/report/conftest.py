"""Fixtures: small but real run directories (every file computed, nothing hard-coded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psplab.data.spec import DatasetSpec
from psplab.manifest import write_manifest


def voronoi_labels(n_grains: int, size: int, seed: int) -> np.ndarray:
    """Periodic Voronoi tessellation: label of the nearest seed (ids 1..n)."""
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, size, size=(n_grains, 2))
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.full((size, size), np.inf)
    labels = np.zeros((size, size), dtype=np.int32)
    for k, (sy, sx) in enumerate(seeds, start=1):
        dy = np.abs(yy - sy)
        dx = np.abs(xx - sx)
        dist = np.minimum(dy, size - dy) ** 2 + np.minimum(dx, size - dx) ** 2
        closer = dist < d
        d[closer] = dist[closer]
        labels[closer] = k
    return labels


def make_dataset_run(root: Path, n: int = 60, seed: int = 0) -> Path:
    """A toy PSP table (Hall-Petch strength from a grain size set by temperature) + spec + gallery."""
    rng = np.random.default_rng(seed)
    run = root / "dataset"
    run.mkdir(parents=True)
    temp = rng.uniform(600, 900, n)
    strain = rng.uniform(0.1, 0.8, n)
    grain = 2.0 + 0.02 * (temp - 600) - 3.0 * strain + rng.normal(0, 0.2, n)
    grain = np.clip(grain, 0.5, None)
    strength = 100 + 300 / np.sqrt(grain) + rng.normal(0, 5, n)
    frame = pd.DataFrame(
        {
            "hold_temperature_C": temp,
            "deformation_strain": strain,
            "grain_size_um": grain,
            "yield_strength_MPa": strength,
        }
    )
    frame.to_parquet(run / "toy.parquet")
    spec = DatasetSpec.from_dict(
        {
            "name": "toy-psp",
            "source": "toy.parquet",
            "column": [
                {
                    "name": "hold_temperature_C",
                    "role": "processing",
                    "unit": "degC",
                    "min": 600,
                    "max": 900,
                },
                {"name": "deformation_strain", "role": "processing", "unit": "dimensionless"},
                {"name": "grain_size_um", "role": "structure", "unit": "um"},
                {"name": "yield_strength_MPa", "role": "property", "unit": "MPa"},
            ],
        },
        base_dir=run,
    )
    spec.to_toml(run / "toy.toml")
    grains = np.stack([voronoi_labels(k, 48, seed + k) for k in (8, 20, 40)])
    phases = (np.random.default_rng(seed).random(grains.shape) > 0.97).astype(np.int32)
    np.savez(
        run / "gallery.npz",
        grain_labels=grains,
        phase_labels=phases,
        pixel_um=np.array([0.5, 0.5, 0.5]),
        titles=np.array(["8 grains", "20 grains", "40 grains"]),
    )
    write_manifest(
        run,
        "simulate",
        files={
            "dataset": run / "toy.parquet",
            "spec": run / "toy.toml",
            "gallery": run / "gallery.npz",
        },
        results={"n_recipes": n, "failed": 0},
        params={"seed": seed, "n": n},
        command=["psplab", "simulate", "--n", str(n)],
    )
    return run


def make_evaluate_run(root: Path, dataset_run: Path) -> Path:
    """Out-of-fold predictions of two honest models (linear least squares with residual std)."""
    frame = pd.read_parquet(dataset_run / "toy.parquet")
    X = np.column_stack(
        [np.ones(len(frame)), frame["hold_temperature_C"], frame["deformation_strain"]]
    )
    folds = np.arange(len(frame)) % 5
    rows, metrics = [], {}
    for model, feats in (("linear", [0, 1, 2]), ("mean", [0])):
        metrics[model] = {}
        for target in ("grain_size_um", "yield_strength_MPa"):
            y = frame[target].to_numpy()
            mean, std = np.empty_like(y), np.empty_like(y)
            for f in range(5):
                tr, te = folds != f, folds == f
                coef, *_ = np.linalg.lstsq(X[tr][:, feats], y[tr], rcond=None)
                resid = y[tr] - X[tr][:, feats] @ coef
                mean[te] = X[te][:, feats] @ coef
                std[te] = resid.std(ddof=len(feats))
            err = y - mean
            metrics[model][target] = {
                "mae": float(np.mean(np.abs(err))),
                "rmse": float(np.sqrt(np.mean(err**2))),
                "r2": float(1 - np.sum(err**2) / np.sum((y - y.mean()) ** 2)),
                "coverage90": float(np.mean(np.abs(err) <= 1.645 * std)),
            }
            rows.append(
                pd.DataFrame(
                    {"model": model, "target": target, "y_true": y, "mean": mean, "std": std}
                )
            )
    run = root / "evaluate"
    run.mkdir()
    pd.concat(rows).to_parquet(run / "oof.parquet")
    (run / "metrics.json").write_text(json.dumps(metrics))
    write_manifest(
        run,
        "evaluate",
        files={
            "oof": "oof.parquet",
            "metrics": "metrics.json",
            "spec": str(dataset_run / "toy.toml"),
        },
        params={"cv": 5, "models": ["linear", "mean"]},
        results={"metrics": metrics},
    )
    return run


def make_causal_run(root: Path, dataset_run: Path, name: str = "causal") -> Path:
    """A real ``psplab causal`` run (the public pipeline) on the toy dataset."""
    from psplab.causal import run_causal, write_causal_run
    from psplab.data.dataset import load_dataset

    dataset = load_dataset(dataset_run / "toy.toml")
    result = run_causal(
        dataset, bootstrap=4, alpha=0.05, dose_top=1, model="rf", grid=5, draws=5,
        backend="serial", seed=0,
    )  # fmt: skip
    run = root / name
    write_causal_run(result, run, command=["psplab", "causal", "toy.toml", "--out", name])
    return run


def make_optimize_run(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)

    def f(x):  # a smooth objective with its maximum at 0.3
        return 500 - 400 * (x - 0.3) ** 2

    random = f(rng.uniform(0, 1, 15))
    # A crude local search: each step samples near the best point so far.
    xs = [0.5]
    for _ in range(14):
        best = xs[int(np.argmax(f(np.array(xs))))]
        xs.append(float(np.clip(best + rng.normal(0, 0.1), 0, 1)))
    local = f(np.array(xs))
    run = root / "optimize"
    run.mkdir()
    pd.concat(
        [
            pd.DataFrame(
                {"method": "local search", "evaluation": np.arange(1, 16), "objective": local}
            ),
            pd.DataFrame(
                {"method": "random search", "evaluation": np.arange(1, 16), "objective": random}
            ),
        ]
    ).to_csv(run / "trace.csv", index=False)
    write_manifest(
        run,
        "optimize",
        files={"trace": "trace.csv"},
        results={
            "objective": "yield_strength_MPa",
            "baseline_objective": float(f(0.5)),
            "best_objective": float(local.max()),
            "best_recipe": {"x": xs[int(np.argmax(local))]},
        },
    )
    return run


def make_phasemap_run(root: Path, rhat_max: float | None = None, name: str = "phasemap") -> Path:
    x1 = np.linspace(-2, 2, 30)
    x2 = np.linspace(-2, 2, 25)
    xx, yy = np.meshgrid(x1, x2)
    r = np.hypot(xx, yy)
    p_in = 1 / (1 + np.exp((r - 1) / 0.1))
    probs = np.stack([p_in, 1 - p_in], axis=-1)
    truth = (r >= 1).astype(int)
    rng = np.random.default_rng(0)
    pts = rng.uniform(-2, 2, (20, 2))
    run = root / name
    run.mkdir()
    np.savez(
        run / "grid.npz",
        x1=x1,
        x2=x2,
        probs=probs,
        truth=truth,
        points=pts,
        point_labels=(np.hypot(*pts.T) >= 1).astype(int),
        property_mean=np.where(r < 1, r**2, 1 - r),
        property_std=0.05 + 0.2 * np.exp(-((r - 1) ** 2) / 0.02),
    )
    acc = float(np.mean(probs.argmax(-1) == truth))
    write_manifest(
        run,
        "phasemap",
        files={"phasemap_grid": "grid.npz"},
        results={
            "accuracy": acc,
            "axis_labels": ["x1 [–]", "x2 [–]"],
            "property_label": "y [a.u.]",
            **({} if rhat_max is None else {"rhat_max": rhat_max}),
        },
    )
    return run


@pytest.fixture(scope="session")
def full_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    ds = make_dataset_run(root)
    make_evaluate_run(root, ds)
    make_causal_run(root, ds)
    make_optimize_run(root)
    make_phasemap_run(root)
    return root


@pytest.fixture(scope="session")
def full_report(full_runs, tmp_path_factory) -> Path:
    """The report of every fixture run, built once for the whole session."""
    from psplab.report import build_report

    return build_report(full_runs, out=tmp_path_factory.mktemp("report") / "report.html")
