"""Benchmark: the five probabilistic regressors on real steel data, side by side.

Datasets (read from ``../shared/data`` through the TOML specs in ``benchmarks/specs/``):

* ``nims``     — NIMS fatigue (Agrawal et al. 2014), target ``Fatigue``, 10-fold CV.
* ``xiong``    — Xiong et al. 2020 subset, four targets at once, 10-fold CV.
* ``matbench`` — matbench v0.1 steels on its official 5 folds, wt% composition inputs.

Every model sees the same folds; all hyperparameters are fitted inside the training folds.
The BHN chooses its input and target transforms and its epoch count by 3-fold
cross-validation inside each training fold (``--bhn-tune auto``, the default:
``psplab.models.selection.BHN_GRID``, 12 candidates x 3 inner fits + 1 refit = 37 fits per
fold; what it chose per fold is printed and written to the JSON); ``--bhn-tune none`` fits the defaults as given (the setting for the fit-time
bar, which compares equal widths, epochs and optimizer). JAX and optax are imported before the
first fit, so ``fit s`` includes each model's XLA compilation but no module import.
``--param bhn.n_members=10`` refits each fold's tuned BHN as a ten-member mixture of
hypernetwork posteriors (the inner tuning fits keep one member). NIMS, tuned on inner MAE
(``--param bhn.tune_metric=mae``), seeds 0 / 1: ten members MAE 15.04 / 15.55, coverage90
0.934 / 0.890 (session 8); five 15.27 / 15.84, 0.941 / 0.881; one 16.46 / 16.99.
Prints the command, the machine and a table; ``--json OUT`` writes everything.

Example::

    python benchmarks/predict_real.py --datasets nims,xiong,matbench --json bench.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPECS = {
    "nims": HERE / "specs" / "nims_fatigue.toml",
    "xiong": HERE / "specs" / "nims_fatigue_xiong.toml",
    "matbench": HERE / "specs" / "matbench_steels.toml",
}
BARS = {
    "nims": "BHN: MAE <= 16 MPa, R2 >= 0.985, coverage90 in [0.86, 0.94]; fit time <= 1/3 ensemble at <= NLL",
    "matbench": "BHN: MAE <= 75 MPa (leaderboard best 79.95, RF 85.3)",
    "xiong": "reference RF: fatigue MAE 15.8 / tensile 26.4 / hardness 8.0",
}


def matbench_folds(dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    """The official matbench v0.1 folds as row indices (row order of the wt% file == matbench's)."""
    import pandas as pd

    root = Path(dataset.spec.source).parent
    mbids = pd.read_csv(root / "matbench_steels.csv")["mbid"].tolist()
    if len(mbids) != dataset.n_rows:
        raise SystemExit(
            f"matbench_steels.csv has {len(mbids)} rows, the wt% file {dataset.n_rows}"
        )
    pos = {m: i for i, m in enumerate(mbids)}
    splits = json.loads((root / "matbench_v0.1_steels_folds.json").read_text())["splits"]
    folds = []
    for name in sorted(splits):
        train = np.array(sorted(pos[m] for m in splits[name]["train"]))
        test = np.array(sorted(pos[m] for m in splits[name]["test"]))
        folds.append((train, test))
    return folds


def parse_params(items: list[str]) -> dict[str, dict]:
    """``model.param=value`` strings to ``{model: {param: value}}`` (values parsed as JSON)."""
    out: dict[str, dict] = {}
    for item in items:
        key, _, raw = item.partition("=")
        model, _, param = key.partition(".")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(model, {})[param] = value
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--datasets", default="nims,xiong,matbench")
    ap.add_argument("--models", default="bhn,gp,ensemble,dropout,rf")
    ap.add_argument("--cv", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--param", action="append", default=[], help="model.param=value, e.g. bhn.epochs=3000"
    )
    ap.add_argument(
        "--bhn-tune",
        default="auto",
        help="BHN tuning inside each training fold: 'auto' (psplab.models.selection.BHN_GRID) "
        "or 'none' (overridden by --param bhn.tune=...)",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from psplab.data import load_dataset
    from psplab.manifest import dump_json, machine_info, package_versions
    from psplab.models.evaluation import cross_validate, make_folds

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    params = parse_params(args.param)
    if args.bhn_tune not in ("auto", "none"):
        raise SystemExit(f"--bhn-tune must be 'auto' or 'none', got {args.bhn_tune!r}")
    if args.bhn_tune == "auto":
        params.setdefault("bhn", {}).setdefault("tune", "auto")
    # Imported here, not inside the first timed fit: fit times then include compilation only.
    import jax  # noqa: F401
    import optax  # noqa: F401

    print("command:", " ".join(["python", *sys.argv]))
    print("machine:", json.dumps(machine_info()))
    results: dict = {
        "command": sys.argv,
        "machine": machine_info(),
        "versions": package_versions(),
        "params": params,
        "datasets": {},
    }
    for ds_name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        dataset = load_dataset(SPECS[ds_name])
        folds = matbench_folds(dataset) if ds_name == "matbench" else None
        if folds is None:
            folds = make_folds(dataset.n_rows, args.cv, args.seed)
        t0 = time.perf_counter()
        metrics = {}
        choices: dict[str, list] = {}

        def record(name, fold, targets, model, choices=choices):
            # What a tuned model (tune=...) chose on each outer fold, for the report.
            best = getattr(model, "best_params_", None)
            if best:
                choices.setdefault(name, []).append({"fold": fold, "targets": targets, **best})

        for model in models:  # one model at a time on the same folds: partial results survive
            try:
                m_metrics, _ = cross_validate(
                    dataset,
                    [model],
                    seed=args.seed,
                    model_params=params,
                    folds=folds,
                    progress=False,
                    on_fit=record,
                )
            except Exception as exc:  # one model failing must not lose the others' results
                print(f"  [{ds_name}] {model} FAILED: {exc!r}", flush=True)
                continue
            metrics.update(m_metrics)
            print(f"  [{ds_name}] {model} done after {time.perf_counter() - t0:.0f} s", flush=True)
            if args.json is not None:
                results["datasets"][ds_name] = {"partial": True, "metrics": metrics}
                dump_json(args.json, results)
        wall = time.perf_counter() - t0
        n_folds = len(folds)
        print(
            f"\n== {ds_name}: {dataset.n_rows} rows, {n_folds} folds, {wall:.0f} s ==  bars: {BARS[ds_name]}"
        )
        header = f"{'model':9s} {'target':32s} {'MAE':>8s} {'RMSE':>8s} {'R2':>7s} {'NLL':>7s} {'CRPS':>8s} {'cov90':>6s} {'width90':>8s} {'fit s':>7s}"
        print(header)
        for model, per_target in metrics.items():
            for target, m in per_target.items():
                print(
                    f"{model:9s} {target[:32]:32s} {m['mae']:8.2f} {m['rmse']:8.2f} {m['r2']:7.4f} "
                    f"{m['nll']:7.3f} {m['crps']:8.2f} {m['coverage90']:6.3f} {m['width90']:8.2f} {m['fit_seconds']:7.2f}"
                )
        entry = {"rows": dataset.n_rows, "folds": n_folds, "wall_seconds": wall, "metrics": metrics}
        for name, picks in choices.items():
            counts: dict[str, int] = {}
            for pick in picks:
                key = json.dumps({k: v for k, v in pick.items() if k not in ("fold", "targets")})
                counts[key] = counts.get(key, 0) + 1
            print(f"{name} chose (folds): " + "; ".join(f"{k} x{v}" for k, v in counts.items()))
        entry["tuning_choices"] = choices
        if "bhn" in metrics and "ensemble" in metrics:
            ratios = {}
            for target in metrics["bhn"]:
                b, e = metrics["bhn"][target], metrics["ensemble"][target]
                ratios[target] = {
                    "fit_time_bhn_over_ensemble": b["fit_seconds"] / e["fit_seconds"],
                    "nll_bhn_minus_ensemble": b["nll"] - e["nll"],
                }
                print(
                    f"BHN/ensemble fit time on {target[:32]}: {ratios[target]['fit_time_bhn_over_ensemble']:.2f} "
                    f"(NLL BHN - ensemble = {ratios[target]['nll_bhn_minus_ensemble']:+.3f})"
                )
            entry["bhn_vs_ensemble"] = ratios
        results["datasets"][ds_name] = entry
        if args.json is not None:
            dump_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
