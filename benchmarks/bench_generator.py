"""Microstructure generator: fidelity, spread, baselines and speed against the phase-field simulator.

Data (simulated once, cached): 256 ferritic-steel recipes (LHS, grid 64) to train on; 32
held-out recipes inside the same bounds (another LHS), each simulated with 8 seeds. Every
recipe gives a grain image at its own pixel and a precipitate image at its own pixel; the image
table holds them as separate fields (see ``docs/generator.md``).

Measured, all in one run, with :mod:`psplab.measure`:

* fidelity (median over the held-out recipes, 16 generated images each, against the mean of
  the 8 simulations): ``|log(generated / simulated)|`` of the mean grain size (µm),
  ``|generated - simulated|`` of the precipitate area fraction, and the relative L2 error of
  the radial two-point correlation of the grain-boundary phase (offsets 0..32 simulator pixels,
  compared in µm);
* spread: per held-out recipe, the ratio of the generated images' std of the mean grain size to
  the simulator's seed-to-seed std; the share of recipes with a ratio in [0.5, 2];
* out of range: the between-network spread of log mean grain size (16 networks x 8 images,
  the within-network part removed: random-effects estimate of its variance per recipe, pooled
  over the recipes) for the held-out recipes with the hold temperature moved 50 K beyond the
  training range, over the same for the recipes as they are; where the in-range spread is too
  small to tell from zero (its variance within two standard errors of 0) the ratio is taken
  against its upper bound (variance + 2 standard errors), a conservative value;
* baselines, on the same fidelity metrics: (a) the nearest training recipe's images (nearest
  in the generator's standardized inputs), (b) the same decoder with fixed weights (learned
  constant FiLM, no processing input, no hypernetwork), trained the same way;
* speed: generated images per second (labelled, ready to measure; 16 recipes x 16 images per
  call) over simulated recipes per second (a batch of 16) on this CPU, at grid 64 and 128,
  each the best of three runs, alternated;
* real micrographs (no bar): UHCSDB cementite masks, train without 800 °C 24 h, generate
  24 h, compare particle sizes (px) with the held-out masks and the nearest condition's.

Usage::

    python benchmarks/bench_generator.py --json OUT [--cache DIR] [--steps 800]
                                         [--only data|generator|baseline|uhcsdb]

Simulated data and fitted models are cached under ``--cache`` (keyed by the simulator's source
and the settings), so a run can be done in stages (``--only``) and repeated cheaply.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.data.images import load_image_dataset, write_image_table
from psplab.manifest import dump_json, machine_info
from psplab.models.generator import MicrostructureGenerator, measure_generated
from psplab.models.generator.evaluation import measure_labels

ROOT = Path(__file__).resolve().parents[1]
GRID = 64
N_TRAIN, N_HELD, N_SEEDS, N_GEN = 256, 32, 8, 16
OOD_K = 50.0
NETWORKS, PER_NETWORK = 16, 8
SPEED_REPEATS = 3


# ------------------------------------------------------------------------------ data
def _source_hash() -> str:
    h = hashlib.sha256()
    for p in sorted((ROOT / "src" / "psplab" / "sim").glob("*.py")) + sorted(
        (ROOT / "src" / "psplab" / "data" / "families").glob("*.toml")
    ):
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def _simulate(recipes: list, seed: int, img: Path, tag: str) -> list[dict]:
    from psplab.sim import simulate_batch
    from psplab.sim.families import RECIPE_PARAMS

    rows = []
    for s0 in range(0, len(recipes), 16):
        for j, r in enumerate(simulate_batch(recipes[s0 : s0 + 16], grid=GRID, seed=seed + s0)):
            i = s0 + j
            values = {k: getattr(r.recipe, k) for k in RECIPE_PARAMS}
            g, p = (
                img / f"{tag}_{i:04d}_s{seed}_grains.npy",
                img / f"{tag}_{i:04d}_s{seed}_precipitates.npy",
            )
            np.save(g, r.grain_labels)
            np.save(p, r.precipitate_labels)
            name = f"{tag}_{i:04d}_s{seed}"
            rows.append(
                {
                    **values,
                    "path": g,
                    "kind": "grains",
                    "pixel_um": r.pixel_um,
                    "sample": name + "_g",
                }
            )
            rows.append(
                {
                    **values,
                    "path": p,
                    "kind": "phases",
                    "pixel_um": r.precipitate_pixel_um,
                    "sample": name + "_p",
                }
            )
    return rows


def simulated_data(cache: Path) -> Path:
    """The cached training and held-out image tables (simulated on first use)."""
    from psplab.generate import dataset_spec_for
    from psplab.sim.design import sample_recipes

    folder = cache / f"data-{_source_hash()}-g{GRID}"
    if (folder / "heldout.toml").is_file():
        return folder
    img = folder / "images"
    img.mkdir(parents=True, exist_ok=True)
    columns = dataset_spec_for("ferritic_steel").processing
    t0 = time.perf_counter()
    train = sample_recipes("ferritic_steel", N_TRAIN, design="lhs", seed=0)
    write_image_table(
        pd.DataFrame(_simulate(train, 0, img, "train")),
        folder / "train.toml",
        columns,
        periodic=True,
    )
    held = sample_recipes("ferritic_steel", N_HELD, design="lhs", seed=1)
    rows = [row for s in range(N_SEEDS) for row in _simulate(held, 1000 + 100 * s, img, "held")]
    write_image_table(pd.DataFrame(rows), folder / "heldout.toml", columns, periodic=True)
    print(
        f"simulated {N_TRAIN} + {N_HELD}x{N_SEEDS} recipes in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    return folder


# ------------------------------------------------------------------------------ models
def fitted(cache: Path, data: Path, name: str, **params: Any) -> MicrostructureGenerator:
    """A generator fitted on ``data``'s training table (cached by data, parameters and code)."""
    from uhcsdb_generator import generator_code_hash

    key = hashlib.sha256(
        json.dumps([str(data), params, generator_code_hash()], sort_keys=True).encode()
    ).hexdigest()[:12]
    path = cache / "models" / f"{name}-{key}" / "generator"
    if path.with_suffix(".json").is_file():
        return MicrostructureGenerator.load(path)
    t0 = time.perf_counter()

    def report(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            print(f"  {name}: step {done}/{total} ({time.perf_counter() - t0:.0f} s)", flush=True)

    model = MicrostructureGenerator(**params).fit(data / "train.toml", progress=report)
    model.save(path)
    (path.parent / "fit_seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
    return model


# ------------------------------------------------------------------------------ held-out truth
def held_out_truth(data: Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Held-out recipes (one row each) and their simulated measurements over the seeds."""
    ds = load_image_dataset(data / "heldout.toml")
    frame = ds.processing_frame()
    truth: dict[str, dict[str, Any]] = {}
    for i, f in enumerate(ds.fields):
        rec = truth.setdefault(
            f.name.split("_s")[0], {"row": i, "d": [], "f": [], "s2": [], "px": None}
        )
        if "grains" in f.paths:
            m = measure_labels(np.load(f.paths["grains"]), None, f.pixel_um, True, with_s2=True)
            rec["d"].append(m["grain_size_um"])
            rec["s2"].append(m["s2_boundary"])
            rec["px"] = f.pixel_um
        else:
            rec["f"].append(float((np.load(f.paths["phases"]) == 1).mean()))
    keys = sorted(truth)
    recipes = frame.iloc[[truth[k]["row"] for k in keys]].reset_index(drop=True)
    return recipes, [truth[k] for k in keys]


def _s2_on(r_um: np.ndarray, profiles: list[np.ndarray], pixels: list[float]) -> np.ndarray:
    """Mean of radial S2 profiles, each at its own pixel, interpolated onto ``r_um``."""
    return np.mean(
        [np.interp(r_um, np.arange(s.size) * p, s) for s, p in zip(profiles, pixels, strict=True)],
        axis=0,
    )


def fidelity(truth: list[dict[str, Any]], per_recipe: list[dict[str, Any]]) -> dict[str, Any]:
    """Median errors over recipes; ``per_recipe[i]`` holds lists ``d``, ``f``, ``s2``, ``px``."""
    dl, fe, s2e = [], [], []
    for t, g in zip(truth, per_recipe, strict=True):
        dl.append(abs(math.log(np.mean(g["d"]) / np.mean(t["d"]))))
        fe.append(abs(np.mean(g["f"]) - np.mean(t["f"])))
        ref = np.mean(t["s2"], axis=0)
        r_um = np.arange(ref.size) * t["px"]
        s2e.append(
            float(np.linalg.norm(_s2_on(r_um, g["s2"], g["px"]) - ref) / np.linalg.norm(ref))
        )
    return {
        "grain_size_median_abs_log_ratio": float(np.median(dl)),
        "precipitate_fraction_median_abs_error": float(np.median(fe)),
        "s2_median_rel_l2": float(np.median(s2e)),
        "per_recipe": {"abs_log_grain_size": dl, "abs_fraction_error": fe, "s2_rel_l2": s2e},
    }


def generated_measurements(
    model: MicrostructureGenerator, recipes: pd.DataFrame, seed: int
) -> list[dict[str, Any]]:
    """Per recipe: measured mean grain sizes, fractions, S2 profiles and pixels of N_GEN images."""
    table = measure_generated(model.sample(recipes, n=N_GEN, seed=seed), with_s2=True)
    out = []
    for r in range(len(recipes)):
        sub = table[table.recipe == r]
        out.append(
            {
                "d": sub.grain_size_um.tolist(),
                "f": sub.particle_fraction.tolist(),
                "s2": list(sub.s2_boundary),
                "px": sub.pixel_um.tolist(),
            }
        )
    return out


def nearest_training_images(
    model: MicrostructureGenerator, data: Path, recipes: pd.DataFrame
) -> list[dict[str, Any]]:
    """Baseline (a): each held-out recipe's nearest training recipe, its images measured."""
    ds = load_image_dataset(data / "train.toml")
    frame = ds.processing_frame()
    X = model.features_.transform(frame)
    Q = model.features_.transform(recipes)
    out = []
    for q in Q:
        key = tuple(frame.iloc[int(np.argmin(((X - q) ** 2).sum(axis=1)))])
        rec: dict[str, Any] = {"d": [], "f": [], "s2": [], "px": []}
        for i, f in enumerate(ds.fields):
            if tuple(frame.iloc[i]) != key:
                continue
            if "grains" in f.paths:
                m = measure_labels(np.load(f.paths["grains"]), None, f.pixel_um, True, with_s2=True)
                rec["d"].append(m["grain_size_um"])
                rec["s2"].append(m["s2_boundary"])
                rec["px"].append(f.pixel_um)
            else:
                rec["f"].append(float((np.load(f.paths["phases"]) == 1).mean()))
        out.append(rec)
    return out


# ------------------------------------------------------------------------------ spread
def spread_ratios(truth: list[dict[str, Any]], generated: list[dict[str, Any]]) -> np.ndarray:
    """Per recipe: generated std of the mean grain size over the simulator's seed-to-seed std."""
    return np.array(
        [
            np.std(g["d"], ddof=1) / np.std(t["d"], ddof=1)
            for t, g in zip(truth, generated, strict=True)
        ]
    )


def between_network_variance(
    model: MicrostructureGenerator, recipes: pd.DataFrame, seed: int
) -> np.ndarray:
    """Per recipe: the between-network variance of log mean grain size (unbiased, may be < 0).

    Random-effects (one-way ANOVA) estimate: ``var(network means) - mean(within var) / m``
    with ``m`` images per network; not clipped at 0, so that its mean over recipes stays
    unbiased when the spread is small next to the images' own scatter. Each recipe is drawn
    with a seed of its own (``seed + r``): one call would give every recipe the same noise, and
    the recipes' estimates would share that draw's error, so their standard error would not
    be what their scatter says.
    """
    variances = []
    for r in range(len(recipes)):
        out = model.sample(
            recipes.iloc[[r]], n=NETWORKS * PER_NETWORK, seed=seed + r, n_networks=NETWORKS
        )
        sub = measure_generated(out)
        logs = np.log(sub.grain_size_um.to_numpy())
        groups = [logs[sub.network.to_numpy() == k] for k in range(NETWORKS)]
        means = np.array([g.mean() for g in groups])
        within = np.mean([g.var(ddof=1) for g in groups])
        variances.append(means.var(ddof=1) - within / PER_NETWORK)
    return np.array(variances)


def pooled_spread(variances: np.ndarray) -> dict[str, float]:
    """Between-network spread pooled over recipes: sqrt of the mean variance, with its bounds.

    ``upper`` is the spread at the mean variance plus two standard errors (over recipes).
    """
    mean = float(np.mean(variances))
    se = float(np.std(variances, ddof=1) / math.sqrt(len(variances)))
    return {
        "spread": math.sqrt(max(mean, 0.0)),
        "variance": mean,
        "variance_se": se,
        "upper": math.sqrt(max(mean + 2.0 * se, 0.0)),
        "lower": math.sqrt(max(mean - 2.0 * se, 0.0)),
    }


def ood_ratio(outside: dict[str, float], inside: dict[str, float]) -> float:
    """Outside over in-range spread; where the in-range spread is too small to measure (its
    variance within two standard errors of 0), the conservative ratio against its upper bound."""
    if inside["lower"] > 0.0:
        return outside["spread"] / inside["spread"]
    return outside["spread"] / max(inside["upper"], 1e-12)


# ------------------------------------------------------------------------------ speed
def speed(model: MicrostructureGenerator, recipes: pd.DataFrame) -> dict[str, float]:
    """Generated images/s and simulated recipes/s at grid 64 and 128 (after a warm-up)."""
    from psplab.sim import simulate_batch
    from psplab.sim.design import sample_recipes

    out: dict[str, float] = {}
    sims = sample_recipes("ferritic_steel", 16, design="lhs", seed=7)
    for grid in (64, 128):
        model.sample(recipes.iloc[:4], n=16, seed=0, grid=grid)  # compile
        simulate_batch(sims[:2], grid=grid, seed=0)  # compile
        gen_s, sim_s = [], []
        # Best of three, alternated: the least disturbed run of each (as timeit reports).
        for rep in range(SPEED_REPEATS):
            t0 = time.perf_counter()
            model.sample(recipes.iloc[:16], n=16, seed=1 + rep, grid=grid)
            gen_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            simulate_batch(sims, grid=grid, seed=1 + rep)
            sim_s.append(time.perf_counter() - t0)
        out[f"generated_images_per_s_{grid}"] = 256 / min(gen_s)
        out[f"simulated_recipes_per_s_{grid}"] = 16 / min(sim_s)
        out[f"speed_ratio_{grid}"] = (
            out[f"generated_images_per_s_{grid}"] / out[f"simulated_recipes_per_s_{grid}"]
        )
    return out


def evaluate(cache: Path, data: Path, steps: int) -> dict[str, Any]:
    """Every simulated-data measurement of the module docstring."""
    gen = fitted(cache, data, "generator", steps=steps, seed=0)
    base = fitted(cache, data, "fixed_weights", steps=steps, seed=0, conditional=False)
    recipes, truth = held_out_truth(data)
    generated = generated_measurements(gen, recipes, seed=11)
    ratios = spread_ratios(truth, generated)
    hot = recipes.copy()
    hot["hold_temperature_C"] = gen.features_.maximum["hold_temperature_C"] + OOD_K
    cold = recipes.copy()
    cold["hold_temperature_C"] = gen.features_.minimum["hold_temperature_C"] - OOD_K
    inside = pooled_spread(between_network_variance(gen, recipes, seed=21))
    above = pooled_spread(between_network_variance(gen, hot, seed=21))
    below = pooled_spread(between_network_variance(gen, cold, seed=21))
    result = {
        "fidelity": fidelity(truth, generated),
        "baselines": {
            "nearest": fidelity(truth, nearest_training_images(gen, data, recipes)),
            "fixed_weights": fidelity(truth, generated_measurements(base, recipes, seed=11)),
        },
        "spread_ratio_share_within_0.5_2": float(np.mean((ratios >= 0.5) & (ratios <= 2.0))),
        "spread_ratio_median": float(np.median(ratios)),
        "spread_ratios": ratios.tolist(),
        "ood_spread_ratio": ood_ratio(above, inside),
        "ood_spread_ratio_below": ood_ratio(below, inside),
        "between_network_spread_log": {"in_range": inside, "above": above, "below": below},
        "fit_seconds": {
            name: float(next((cache / "models").glob(f"{name}-*/fit_seconds.txt")).read_text())
            for name in ("generator", "fixed_weights")
        },
    }
    result.update(speed(gen, recipes))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", type=Path, default=None, help="write results as JSON")
    ap.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "psplab" / "bench_generator"
    )
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--only", choices=("data", "generator", "baseline", "uhcsdb"), default=None)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.only == "uhcsdb":
        from uhcsdb_generator import coarsening_check

        result = {"uhcsdb": coarsening_check(args.shared / "uhcsdb", args.cache, args.steps)}
    else:
        data = simulated_data(args.cache)
        if args.only == "data":
            return 0
        if args.only in ("generator", "baseline"):
            name = "generator" if args.only == "generator" else "fixed_weights"
            extra = {} if args.only == "generator" else {"conditional": False}
            fitted(args.cache, data, name, steps=args.steps, seed=0, **extra)
            return 0
        result = evaluate(args.cache, data, args.steps)
        uhcs = args.shared / "uhcsdb"
        if uhcs.is_dir():
            from uhcsdb_generator import coarsening_check

            result["uhcsdb"] = coarsening_check(uhcs, args.cache, args.steps)
    result.update(machine=machine_info(), command=sys.argv, elapsed_s=time.perf_counter() - t0)
    text = json.dumps(
        {k: v for k, v in result.items() if k != "spread_ratios"}, indent=2, default=str
    )
    print(text)
    if args.json is not None:
        dump_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
