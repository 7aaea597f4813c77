"""Benchmark: the five probabilistic regressors on real steel data, as ``psplab evaluate`` runs them.

Cases (data read from ``../shared/data`` through the TOML specs in ``benchmarks/specs/``):

* ``nims``             — NIMS fatigue (Agrawal et al. 2014), target ``Fatigue``, 10-fold CV.
* ``matbench``         — matbench v0.1 steels, wt% inputs, the official 5 folds.
* ``matbench_cluster`` — the same table, leave-cluster-out: k-means (10 clusters, seed 0) on the
  wt% columns, the cluster as ``--group`` (every fold holds out one family of compositions; the
  calibration folds inside each training fold hold out clusters too).
* ``scale``            — scale invariance: NIMS fatigue with the target in MPa and multiplied by
  1e-15, 3-fold; R², coverage and NLL of the standardized target must agree to 1e-3.
* ``xiong``            — Xiong et al. 2020 subset, four targets at once, 10-fold CV (reference).
* ``scaling``          — a synthetic table of 5 000 rows x 30 inputs (a closed composition with
  sparse additions, processing temperatures and times): one calibrated fit per model with the
  CLI defaults (``psplab fit``), timed, and its predictions on 1 000 new rows scored.

Every model runs with the CLI defaults (conformal calibration on, no options) unless
``--param MODEL.NAME=VALUE`` or ``--fast`` say otherwise; every model sees the same folds, and
everything it learns comes from the training rows of a fold. JAX and optax are imported before
the first fit, so ``fit s`` includes each model's XLA compilation but no module import.
Prints the command, the machine and a table per case; ``--json OUT`` writes everything,
including the bars and whether each is met.

Example::

    python benchmarks/predict_real.py --cases nims,matbench,matbench_cluster,scale --json out.json
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
CASES = ("nims", "matbench", "matbench_cluster", "scale", "xiong", "scaling")
SCALE = 1e-15
TOLERANCE = 1e-3


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
    return [
        (
            np.array(sorted(pos[m] for m in splits[name]["train"])),
            np.array(sorted(pos[m] for m in splits[name]["test"])),
        )
        for name in sorted(splits)
    ]


def with_clusters(dataset, n_clusters: int = 10, seed: int = 0):
    """The dataset with a ``cluster`` group column: k-means on its wt% input columns."""
    from dataclasses import replace

    from sklearn.cluster import KMeans

    from psplab.data import load_dataset
    from psplab.data.spec import ColumnSpec

    wt = [c.name for c in dataset.spec.processing if c.unit == "wt%"]
    labels = KMeans(n_clusters=n_clusters, random_state=seed, n_init=10).fit_predict(
        dataset.frame[wt].to_numpy(float)
    )
    frame = dataset.frame.copy()
    frame["cluster"] = [f"c{k}" for k in labels]
    spec = replace(
        dataset.spec,
        columns=(*dataset.spec.columns, ColumnSpec("cluster", "group", kind="categorical")),
    )
    return load_dataset(spec, frame=frame)


def scaled(dataset, factor: float):
    """The dataset with every target multiplied by ``factor`` (and its bounds with it)."""
    from dataclasses import replace

    from psplab.data import load_dataset

    frame = dataset.frame.copy()
    columns = []
    for c in dataset.spec.columns:
        if c.name in dataset.target_names:
            frame[c.name] = frame[c.name] * factor
            lo = None if c.min is None else c.min * factor
            hi = None if c.max is None else c.max * factor
            c = replace(c, min=lo, max=hi, unit=f"{factor:g} {c.unit or ''}".strip())
        columns.append(c)
    return load_dataset(replace(dataset.spec, columns=tuple(columns)), frame=frame)


def synthetic_table(n_rows: int, seed: int):
    """A composition/processing -> strength table: 20 elements (a balance element, sparse minor
    additions), 10 processing inputs; a smooth nonlinear law plus noise."""
    import pandas as pd

    from psplab.data import DatasetSpec, load_dataset

    rng = np.random.default_rng(seed)
    present = rng.random((n_rows, 19)) < np.linspace(0.9, 0.02, 19)
    minor = present * rng.gamma(1.0, np.linspace(2.0, 0.05, 19), (n_rows, 19))
    minor *= np.minimum(1.0, 40.0 / minor.sum(axis=1, keepdims=True))
    comp = np.c_[100.0 - minor.sum(axis=1), minor]
    proc = np.c_[rng.uniform(700, 1100, (n_rows, 5)), np.exp(rng.normal(1, 1.2, (n_rows, 5)))]
    strength = 300 + 15 * comp[:, 1] + 40 * np.sqrt(comp[:, 2]) + 8 * comp[:, 3] * comp[:, 4]
    strength += 0.2 * (proc[:, 0] - 900) + 30 * np.log(proc[:, 5]) + rng.normal(0, 15, n_rows)
    frame = pd.DataFrame(
        np.c_[comp, proc], columns=[f"e{i}" for i in range(20)] + [f"p{i}" for i in range(10)]
    )
    frame["strength"] = strength
    columns = [
        {
            "name": c,
            "role": "processing",
            "unit": "wt%" if c[0] == "e" else "degC" if int(c[1:]) < 5 else "h",
        }
        for c in frame.columns[:-1]
    ]
    columns.append({"name": "strength", "role": "property", "unit": "MPa", "min": 0.0})
    return load_dataset(
        DatasetSpec.from_dict({"name": "synthetic", "column": columns}), frame=frame
    )


def run_scaling(models: list[str], args, params: dict) -> dict:
    """One calibrated default fit per model on 5 000 rows x 30 inputs, timed; scored on new rows."""
    from psplab.models.metrics import r2_score
    from psplab.models.pipeline import fit_dataset

    train, test = synthetic_table(5000, args.seed), synthetic_table(1000, args.seed + 1)
    metrics = {}
    for name in models:
        t0 = time.perf_counter()
        fitted = fit_dataset(
            train, name, params.get(name), seed=args.seed, fast=args.fast, progress=False
        )
        seconds = time.perf_counter() - t0
        p = fitted.parts[0].estimator.predict_summary(test.input_matrix()[0])
        y = test.target_matrix()[:, 0]
        inside = (y >= p.lo[:, 0]) & (y <= p.hi[:, 0])
        metrics[name] = {"fit_seconds": seconds, "r2": r2_score(y, p.mean[:, 0]),
                         "coverage90": float(inside.mean()), "n_out_of_domain": int((~p.in_domain).sum())}  # fmt: skip
        print(f"  {name}: fit {seconds:.0f} s, R2 {metrics[name]['r2']:.3f}, coverage90 "
              f"{metrics[name]['coverage90']:.3f}", flush=True)  # fmt: skip
    return {"rows": train.n_rows, "metrics": metrics}


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


def print_table(name: str, metrics: dict) -> None:
    """One line per model and target."""
    print(
        f"{'model':9s} {'target':22s} {'MAE':>9s} {'R2':>7s} {'NLLstd':>7s} {'cov90':>6s} "
        f"{'raw':>6s} {'width90':>9s} {'out':>4s} {'cov in/out':>11s} {'max|pred|':>10s} {'fit s':>7s}"
    )
    for model, per_target in metrics.items():
        for target, m in per_target.items():
            cov_out = m["coverage90_out_of_domain"]
            cov_out = "  -" if cov_out != cov_out else f"{cov_out:.2f}"
            print(
                f"{model:9s} {target[:22]:22s} {m['mae']:9.4g} {m['r2']:7.4f} "
                f"{m['nll_standardized']:7.3f} {m['coverage90']:6.3f} {m['coverage90_raw']:6.3f} "
                f"{m['width90']:9.4g} {m['n_out_of_domain']:4d} {m['coverage90_in_domain']:5.2f}/{cov_out:>5s} "
                f"{m['max_abs_prediction']:10.4g} {m['fit_seconds']:7.2f}"
            )


def run_case(case: str, models: list[str], args, params: dict) -> dict:
    """Evaluate ``models`` on one case; returns metrics and the bars measured."""
    from psplab.data import load_dataset
    from psplab.models.evaluation import evaluate_dataset, make_folds

    if case == "scaling":
        return run_scaling(models, args, params)
    common = dict(seed=args.seed, params=params, fast=args.fast, progress=False)
    if case in ("nims", "xiong"):
        ds = load_dataset(SPECS[case])
        res = evaluate_dataset(ds, models, folds=make_folds(ds.n_rows, 10, args.seed), **common)
        return {"rows": ds.n_rows, "metrics": res.metrics, "fitted": res.fitted}
    if case == "matbench":
        ds = load_dataset(SPECS["matbench"])
        res = evaluate_dataset(ds, models, folds=matbench_folds(ds), **common)
        return {"rows": ds.n_rows, "metrics": res.metrics, "fitted": res.fitted}
    if case == "matbench_cluster":
        ds = with_clusters(load_dataset(SPECS["matbench"]))
        res = evaluate_dataset(ds, models, cv=10, group="cluster", **common)
        return {"rows": ds.n_rows, "metrics": res.metrics, "fitted": res.fitted}
    ds = load_dataset(SPECS["nims"])
    folds = make_folds(ds.n_rows, 3, args.seed)
    base = evaluate_dataset(ds, models, folds=folds, **common).metrics
    small = evaluate_dataset(scaled(ds, SCALE), models, folds=folds, **common).metrics
    return {"rows": ds.n_rows, "metrics": base, "metrics_scaled": small}


def bars(case: str, entry: dict) -> list[dict]:
    """The bars of issue 22 that this case measures, with the numbers and whether each is met."""
    m = entry["metrics"]
    out = []
    if case == "nims" and "bhn" in m:
        b = m["bhn"]["Fatigue"]
        out.append({"bar": "NIMS 10-fold, CLI defaults: BHN MAE <= 16 MPa", "value": b["mae"],
                    "met": b["mae"] <= 16.0})  # fmt: skip
        out.append({"bar": "NIMS 10-fold, CLI defaults: BHN coverage90 in 0.87-0.93",
                    "value": b["coverage90"], "met": 0.87 <= b["coverage90"] <= 0.93})  # fmt: skip
    if case == "matbench" and {"bhn", "rf"} <= set(m):
        t = next(iter(m["bhn"]))
        out.append({"bar": "matbench official folds: BHN MAE <= RF MAE",
                    "value": [m["bhn"][t]["mae"], m["rf"][t]["mae"]],
                    "met": m["bhn"][t]["mae"] <= m["rf"][t]["mae"]})  # fmt: skip
    if case == "matbench_cluster":
        for name in ("bhn", "gp"):
            if name in m:
                t = next(iter(m[name]))
                cov = m[name][t]["coverage90"]
                out.append({"bar": f"matbench leave-cluster-out: {name} coverage90 >= 0.85",
                            "value": cov, "met": cov >= 0.85})  # fmt: skip
        outside = sum(v["n_outside_envelope"] for per in m.values() for v in per.values())
        out.append({"bar": "matbench leave-cluster-out: no prediction outside the envelope",
                    "value": outside, "met": outside == 0})  # fmt: skip
    if case == "scaling":
        for name, v in m.items():
            out.append({"bar": f"5000 x 30, one calibrated default fit: {name} in minutes (< 600 s)",
                        "value": v["fit_seconds"], "met": v["fit_seconds"] < 600})  # fmt: skip
    if case == "scale":
        for name, per in m.items():
            for t, a in per.items():
                b = entry["metrics_scaled"][name][t]
                diff = max(abs(a[k] - b[k]) for k in ("r2", "coverage90", "nll_standardized"))
                out.append({"bar": f"scale x1e-15: {name} R2/coverage/NLL(std) agree to 1e-3",
                            "value": diff, "met": diff <= TOLERANCE})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the cases; print tables and bars; write ``--json``."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cases", default="nims,matbench,matbench_cluster,scale")
    ap.add_argument("--models", default="bhn,gp,ensemble,dropout,rf")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fast", action="store_true", help="every model's cheap configuration")
    ap.add_argument(
        "--param", action="append", default=[], help="model.param=value, e.g. bhn.epochs=800"
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    import jax  # noqa: F401  (imported before the first timed fit)
    import optax  # noqa: F401

    from psplab.manifest import machine_info, package_versions
    from psplab.models.rundir import strict_json

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    params = parse_params(args.param)
    print("command:", " ".join(["python", *sys.argv]))
    print("machine:", json.dumps(machine_info()))
    results: dict = {"command": sys.argv, "machine": machine_info(), "versions": package_versions(),
                     "params": params, "fast": args.fast, "cases": {}}  # fmt: skip
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        if case not in CASES:
            raise SystemExit(f"unknown case {case!r} (known: {', '.join(CASES)})")
        t0 = time.perf_counter()
        entry = run_case(case, models, args, params)
        entry["wall_seconds"] = time.perf_counter() - t0
        entry["bars"] = bars(case, entry)
        print(f"\n== {case}: {entry['rows']} rows, {entry['wall_seconds']:.0f} s ==")
        if case != "scaling":
            print_table(case, entry["metrics"])
        if "metrics_scaled" in entry:
            print("-- target x 1e-15:")
            print_table(case, entry["metrics_scaled"])
        for bar in entry["bars"]:
            print(f"  {'MET ' if bar['met'] else 'MISS'} {bar['bar']}: {bar['value']}")
        results["cases"][case] = entry
        if args.json is not None:
            args.json.write_text(json.dumps(strict_json(results), indent=2, allow_nan=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
