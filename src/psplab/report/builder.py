"""Build the HTML report from run directories.

A *run directory* is anything a psplab command wrote: it holds ``manifest.json`` (see
:mod:`psplab.manifest`) with ``kind``, ``files`` by role, ``params`` and ``results``. The report
finds every manifest in the directories it is given (the directory itself and sub-directories up
to three levels down, so a ``psplab demo`` output folder is one argument), reads each run into
plain data, and draws the sections that the runs can fill. A section with no run behind it is left
out.

Files read, by manifest role (first match wins; paths relative to the run directory):

========================  ====================================================================
section                   roles and formats
========================  ====================================================================
dataset summary           ``spec`` (dataset spec TOML, its ``source`` is the table) or
                          ``dataset`` (Parquet/CSV) + ``spec``
micrograph gallery        ``gallery`` (``.npz``: ``grain_labels`` (n, H, W), optional
                          ``phase_labels``, ``pixel_um``, ``titles``) or ``images`` (a folder or
                          list of ``.npz``/``.npy`` label images; pixel size from the run)
parity, calibration,      ``oof`` / ``predictions`` (Parquet/CSV, long: ``model``, ``target``,
comparison table          ``y_true``, ``mean``, ``std``, optional ``q05``, ``q95``) and
                          ``metrics`` (JSON ``{model: {target: {mae, rmse, ...}}}``, or the
                          manifest's ``results["metrics"]``)
causal graph              ``graph`` (JSON: ``nodes`` ``[{name, tier}]``, ``edges``
                          ``[{source, target, directed, stability}]``)
influence ranking         ``influence`` (CSV: ``outcome``, ``parameter``, ``effect``, ``lo``,
                          ``hi``, ``unit``, optional ``effect_per_unit``, ``stability``)
dose-response             ``dose_response`` (CSV: ``parameter``, ``outcome``, ``x``, ``mean``,
                          ``lo``, ``hi``, optional ``truth``)
optimization trace        ``trace`` (CSV: ``method``, ``evaluation``, ``objective``), results
                          ``baseline_objective``, ``best_objective``, ``best_recipe``
phase map                 ``phasemap_grid`` (``.npz``: ``x1``, ``x2``, ``probs`` (n2, n1, K),
                          optional ``entropy``, ``truth``, ``points``, ``point_labels``,
                          ``property_mean``, ``property_std``), results ``axis_labels``,
                          ``property_label``, ``accuracy``
========================  ====================================================================
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.manifest import MANIFEST_NAME
from psplab.report import figures
from psplab.report.html import (
    Figure,
    Section,
    Table,
    code_block,
    escape,
    paragraph,
    render_document,
)

SECTION_ORDER = (
    "dataset",
    "micrographs",
    "predictions",
    "causal",
    "optimization",
    "phasemap",
    "provenance",
)


@dataclass
class Run:
    """One run directory and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def results(self) -> dict[str, Any]:
        return dict(self.manifest.get("results") or {})

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.manifest.get("params") or {})

    def file(self, *roles: str) -> Path | None:
        """The first existing file (or folder) listed under any of ``roles``."""
        files = self.manifest.get("files") or {}
        for role in roles:
            value = files.get(role)
            if value is None:
                continue
            for item in [value] if isinstance(value, str) else list(value):
                p = Path(item)
                p = p if p.is_absolute() else self.path / p
                if p.exists():
                    return p
        return None

    def file_list(self, *roles: str) -> list[Path]:
        """Every existing path listed under ``roles`` (folders expanded one level)."""
        files = self.manifest.get("files") or {}
        out: list[Path] = []
        for role in roles:
            value = files.get(role)
            if value is None:
                continue
            for item in [value] if isinstance(value, str) else list(value):
                p = Path(item)
                p = p if p.is_absolute() else self.path / p
                if p.is_dir():
                    out.extend(sorted(q for q in p.iterdir() if q.is_file()))
                elif p.exists():
                    out.append(p)
        return out


def discover_runs(paths: Iterable[str | Path], max_depth: int = 3) -> list[Run]:
    """Every run directory at or below ``paths`` (sorted, each once)."""
    found: dict[Path, Run] = {}
    for root in paths:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: not a directory")
        candidates = [root / MANIFEST_NAME]
        for depth in range(1, max_depth + 1):
            candidates.extend(sorted(root.glob("/".join(["*"] * depth) + "/" + MANIFEST_NAME)))
        for m in candidates:
            if not m.is_file():
                continue
            try:
                manifest = json.loads(m.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # a half-written or foreign file is not a run
            key = m.parent.resolve()
            if key not in found:
                found[key] = Run(path=m.parent, manifest=manifest)
    return list(found.values())


# --- readers -------------------------------------------------------------------------------
def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path)


def _spec_of(run: Run):
    from psplab.data.spec import DatasetSpec, SpecError

    p = run.file("spec", "dataset_spec")
    if p is None:
        data = run.file("dataset", "data", "parquet")
        if data is not None and data.with_suffix(".toml").is_file():
            p = data.with_suffix(".toml")
    if p is None and run.params.get("spec"):
        for cand in (run.path / str(run.params["spec"]), Path(str(run.params["spec"]))):
            if cand.is_file():
                p = cand
                break
    if p is None:
        return None
    try:
        return DatasetSpec.from_toml(p)
    except SpecError:
        return None


def _units(runs: Sequence[Run]) -> dict[str, str]:
    """Column → unit from any spec or ``results['units']`` among the runs."""
    units: dict[str, str] = {}
    for run in runs:
        units.update({str(k): str(v) for k, v in (run.results.get("units") or {}).items()})
        spec = _spec_of(run)
        if spec is not None:
            units.update({c.name: c.unit for c in spec.columns if c.unit})
    return units


def _label(name: str, units: dict[str, str]) -> str:
    unit = units.get(name)
    return f"{name} [{unit}]" if unit else f"{name} [–]"


# --- sections ------------------------------------------------------------------------------
def dataset_section(runs: Sequence[Run]) -> Section | None:
    from psplab.data.dataset import load_dataset
    from psplab.data.spec import SpecError

    for run in runs:
        spec = _spec_of(run)
        if spec is None:
            continue
        data = run.file("dataset", "data", "parquet")
        try:
            dataset = load_dataset(spec, _read_table(data) if data is not None else None)
        except (SpecError, OSError, ValueError):
            continue
        summary = dataset.summary()
        sec = Section(
            "dataset",
            "Dataset summary",
            f"{summary['name']}: {summary['rows']} rows; {summary['n_processing']} processing, "
            f"{summary['n_structure']} structure and {summary['n_property']} property columns "
            f"(from {run.path.name}/).",
        )
        rows = []
        for col in summary["columns"]:
            rows.append(
                [
                    col["name"],
                    col["role"],
                    col["tier"],
                    col["unit"] or "–",
                    col.get("min"),
                    col.get("max"),
                    col.get("mean"),
                    col["missing"],
                ]
            )
        sec.add(
            Table(
                ["column", "role", "tier", "unit", "min", "max", "mean", "missing"],
                rows,
                caption="Columns of the dataset as its spec describes them.",
            )
        )
        failed = run.results.get("failed")
        if failed:
            sec.add(
                paragraph(
                    f"{failed} recipe(s) failed in simulation and are recorded with their error."
                )
            )
        units = {c.name: c.unit for c in spec.columns if c.unit}
        numeric = [
            c.name
            for c in spec.columns
            if c.role in ("processing", "structure", "property") and c.is_numeric
        ]
        labels = {n: _label(n, units) for n in numeric}
        sec.add(
            figures.histograms(
                dataset.frame,
                labels,
                "Distribution of every processing parameter (the sampled recipes) and every "
                "measured structure feature and property across the dataset.",
            )
        )
        return sec
    return None


def _load_gallery(run: Run) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    gal = run.file("gallery")
    if gal is not None and gal.suffix == ".npz":
        with np.load(gal, allow_pickle=False) as z:
            grains = z["grain_labels"]
            phases = z["phase_labels"] if "phase_labels" in z.files else None
            pixel = np.broadcast_to(np.asarray(z["pixel_um"], dtype=float), (grains.shape[0],))
            titles = [str(t) for t in z["titles"]] if "titles" in z.files else [""] * len(grains)
        for i in range(grains.shape[0]):
            items.append(
                {
                    "grain_labels": grains[i],
                    "phase_labels": None if phases is None else phases[i],
                    "pixel_um": float(pixel[i]),
                    "title": titles[i],
                }
            )
        return items
    pixel_default = run.params.get("pixel_um") or run.results.get("pixel_um")
    for p in run.file_list("images", "micrographs"):
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                keys = z.files
                grain_key = next(
                    (k for k in ("grain_labels", "grains", "labels") if k in keys), None
                )
                if grain_key is None:
                    continue
                item = {
                    "grain_labels": z[grain_key],
                    "phase_labels": z["phase_labels"] if "phase_labels" in keys else None,
                    "pixel_um": float(z["pixel_um"]) if "pixel_um" in keys else pixel_default,
                    "title": p.stem,
                }
        elif p.suffix == ".npy":
            item = {"grain_labels": np.load(p), "pixel_um": pixel_default, "title": p.stem}
        else:
            continue
        if item["pixel_um"] is not None and np.asarray(item["grain_labels"]).ndim == 2:
            items.append(item)
        if len(items) >= 6:
            break
    return items


def micrograph_section(runs: Sequence[Run]) -> Section | None:
    for run in runs:
        items = _load_gallery(run)
        if not items:
            continue
        sec = Section(
            "micrographs",
            "Micrograph gallery",
            f"Simulated microstructures from {run.path.name}/ (phase-field grain growth and precipitation).",
        )
        sec.add(
            figures.micrograph_gallery(
                items[:6],
                "Grain-label images: each grain in its own colour, grain boundaries dark grey, "
                "precipitates black; axes and scale bar in µm. Panel titles give the recipe.",
            )
        )
        return sec
    return None


def normalize_predictions(frame: pd.DataFrame) -> pd.DataFrame:
    """Out-of-fold predictions in long form: ``model, target, y_true, mean, std, lo, hi``.

    Accepts the long form directly (``q05``/``q95`` become ``lo``/``hi``; without them a Gaussian
    90% interval is used) or a wide form with ``<target>_true`` and ``<target>_mean`` etc.
    """
    from statistics import NormalDist

    f = frame.copy()
    if {"model", "target"} <= set(f.columns):
        rename = {"y": "y_true", "true": "y_true", "pred_mean": "mean", "pred_std": "std"}
        f = f.rename(columns={k: v for k, v in rename.items() if k in f.columns})
    else:
        rows = []
        model_col = "model" if "model" in f.columns else None
        targets = sorted({c[: -len("_mean")] for c in f.columns if c.endswith("_mean")})
        for t in targets:
            true_col = next((c for c in (f"{t}_true", t) if c in f.columns), None)
            if true_col is None:
                continue
            part = pd.DataFrame(
                {
                    "model": f[model_col] if model_col else "model",
                    "target": t,
                    "y_true": f[true_col],
                    "mean": f[f"{t}_mean"],
                    "std": f.get(f"{t}_std", np.nan),
                }
            )
            for q in ("q05", "q95"):
                if f"{t}_{q}" in f.columns:
                    part[q] = f[f"{t}_{q}"]
            rows.append(part)
        if not rows:
            raise ValueError(
                "predictions table has neither model/target columns nor <target>_mean columns"
            )
        f = pd.concat(rows, ignore_index=True)
    z = NormalDist().inv_cdf(0.95)
    if "q05" in f.columns and "q95" in f.columns:
        f["lo"], f["hi"] = f["q05"], f["q95"]
    else:
        f["lo"], f["hi"] = f["mean"] - z * f["std"], f["mean"] + z * f["std"]
    return f


_METRIC_COLUMNS = (
    ("mae", "MAE", "min"),
    ("rmse", "RMSE", "min"),
    ("r2", "R²", "max"),
    ("nll", "NLL", "min"),
    ("crps", "CRPS", "min"),
    ("coverage90", "cov. 90%", "cov"),
    ("width90", "width 90%", "min"),
    ("fit_seconds", "fit [s]", None),
)


def _metrics_of(run: Run) -> dict[str, Any] | None:
    p = run.file("metrics")
    if p is not None and p.suffix == ".json":
        return json.loads(p.read_text())
    m = run.results.get("metrics")
    return m if isinstance(m, dict) else None


def predictions_section(runs: Sequence[Run], units: dict[str, str]) -> Section | None:
    for run in runs:
        pred_path = run.file("oof", "predictions", "oof_predictions")
        metrics = _metrics_of(run)
        if pred_path is None and metrics is None:
            continue
        sec = Section(
            "predictions",
            "Predictions with uncertainty",
            f"Out-of-fold predictions of every model on the same cross-validation folds "
            f"({run.params.get('cv') or run.params.get('demo', {}).get('cv', '?')} folds, "
            f"from {run.path.name}/). Intervals are central "
            "90% predictive intervals.",
        )
        if pred_path is not None:
            pred = normalize_predictions(_read_table(pred_path))
            models = list(dict.fromkeys(pred["model"]))
            targets = list(dict.fromkeys(pred["target"]))
            primary = next((t for t in targets if "strength" in t.lower()), targets[-1])
            panels = []
            for i, m in enumerate(models):
                sub = pred[(pred["model"] == m) & (pred["target"] == primary)]
                panels.append(
                    {
                        "y_true": sub["y_true"],
                        "mean": sub["mean"],
                        "lo": sub["lo"],
                        "hi": sub["hi"],
                        "label": _label(primary, units),
                        "title": m,
                        "color": figures.model_color(m, i),
                    }
                )
            sec.add(
                figures.parity_grid(
                    panels,
                    f"Parity plots of {primary} for each model: out-of-fold prediction against the "
                    "true value, with 90% predictive intervals as error bars; the dashed line is y = x. "
                    "The panel title gives the share of true values inside the interval.",
                )
            )
            lead = "bhn" if "bhn" in models else models[0]
            panels = []
            for t in targets:
                sub = pred[(pred["model"] == lead) & (pred["target"] == t)]
                panels.append(
                    {
                        "y_true": sub["y_true"],
                        "mean": sub["mean"],
                        "lo": sub["lo"],
                        "hi": sub["hi"],
                        "label": _label(t, units),
                        "title": t,
                        "color": figures.model_color(lead),
                    }
                )
            sec.add(
                figures.parity_grid(
                    panels,
                    f"Parity plots of every target for the {lead} model (out of fold, 90% intervals, "
                    "dashed y = x).",
                )
            )
            if pred["std"].notna().any():
                cal = []
                for t in targets:
                    sub = pred[pred["target"] == t]
                    cal.append(
                        {
                            "title": t,
                            "models": {
                                m: (g["y_true"], g["mean"], g["std"])
                                for m, g in sub.groupby("model", sort=False)
                            },
                        }
                    )
                sec.add(
                    figures.calibration_curves(
                        cal,
                        "Calibration: for central intervals of nominal coverage p (Gaussian with the "
                        "predicted mean and std), the share of out-of-fold true values inside; a "
                        "calibrated model follows the dashed diagonal, below it is over-confident.",
                    )
                )
        if metrics:
            sec.add(_metrics_table(metrics, units))
        return sec
    return None


def _metrics_table(metrics: dict[str, Any], units: dict[str, str]) -> Table:
    header = ["target", "model"] + [title for _, title, _ in _METRIC_COLUMNS]
    rows: list[list[Any]] = []
    highlight: set[tuple[int, int]] = set()
    targets = list(dict.fromkeys(t for m in metrics.values() for t in m))
    for t in targets:
        block_start = len(rows)
        for model, per_target in metrics.items():
            entry = per_target.get(t)
            if entry is None:
                continue
            rows.append([t, model] + [entry.get(key) for key, _, _ in _METRIC_COLUMNS])
        for j, (_key, _, best) in enumerate(_METRIC_COLUMNS, start=2):
            vals = [
                (i, r[j])
                for i, r in enumerate(rows[block_start:], start=block_start)
                if isinstance(r[j], int | float) and math.isfinite(r[j])
            ]
            if not vals or best is None:
                continue
            if best == "cov":
                i_best = min(vals, key=lambda v: abs(v[1] - 0.9))[0]
            elif best == "min":
                i_best = min(vals, key=lambda v: v[1])[0]
            else:
                i_best = max(vals, key=lambda v: v[1])[0]
            highlight.add((i_best, j))
    return Table(
        header,
        rows,
        caption="Model comparison on the same folds (errors, NLL and CRPS in each target's units; "
        "coverage: share inside the central 90% interval, ideal 0.90). Best per target in bold.",
        highlight=highlight,
    )


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "var"


def read_causal_graph(path: Path, run: Run) -> tuple[dict[str, int], list[dict[str, Any]], dict]:
    """``(nodes -> tier, edges, raw)`` from either graph JSON layout.

    Accepts ``{nodes: [{name, tier}], edges: [{source, target, directed, stability}]}`` or
    :meth:`psplab.causal.CausalGraph.to_dict` (``nodes``, ``tiers``, ``directed_edges``,
    ``undirected_edges``) with the bootstrap frequencies of the run's ``edge_stability`` CSV.
    """
    g = json.loads(path.read_text())
    if "edges" in g:
        nodes = {str(n["name"]): int(n.get("tier", 0) or 0) for n in g["nodes"]}
        return nodes, list(g["edges"]), g
    tiers = g.get("tiers") or [0] * len(g["nodes"])
    nodes = {
        str(n): int(t if t is not None else 0) for n, t in zip(g["nodes"], tiers, strict=False)
    }
    freq: dict[tuple[str, str], dict[str, float]] = {}
    stab_p = run.file("edge_stability")
    if stab_p is not None:
        for r in _read_table(stab_p).to_dict("records"):
            freq[(str(r["source"]), str(r["target"]))] = r

    def stability(a: str, b: str, directed: bool) -> float | None:
        if (a, b) in freq:
            r = freq[(a, b)]
            return float(r["forward"] if directed else r["adjacency"])
        if (b, a) in freq:
            r = freq[(b, a)]
            return float(r["backward"] if directed else r["adjacency"])
        return None if not freq else 0.0

    edges = []
    for a, b in g.get("directed_edges", []):
        edges.append(
            {"source": a, "target": b, "directed": True, "stability": stability(a, b, True)}
        )
    for a, b in g.get("undirected_edges", []):
        edges.append(
            {"source": a, "target": b, "directed": False, "stability": stability(a, b, False)}
        )
    for e in edges:
        if e["stability"] is None:
            e["stability"] = 1.0
    return nodes, edges, g


def read_influence(path: Path, units: dict[str, str]) -> pd.DataFrame:
    """Influence ranking as ``outcome, parameter, effect, lo, hi, unit`` (+ extra columns).

    Accepts the simple layout or :func:`psplab.causal.influence_table`'s (the dose-response
    range effect where computed, else the IDA effect over the parameter's range).
    """
    f = _read_table(path)
    if "effect" not in f.columns and "effect_over_range" in f.columns:
        dose = f.get("dose_effect_over_range")
        use = dose.notna() if dose is not None else pd.Series(False, index=f.index)
        f["effect"] = np.where(use, f.get("dose_effect_over_range"), f["effect_over_range"])
        f["lo"] = np.where(use, f.get("dose_interval_low"), f["interval_low"])
        f["hi"] = np.where(use, f.get("dose_interval_high"), f["interval_high"])
        if "edge_stability" in f.columns:
            f["stability"] = f["edge_stability"]
    if "unit" not in f.columns:
        f["unit"] = [units.get(str(o), "–") for o in f["outcome"]]
    return f


def read_dose_response(run: Run, names: Sequence[str]) -> pd.DataFrame | None:
    """Dose-response curves as ``parameter, outcome, x, mean, lo, hi[, truth]``.

    Accepts one long CSV, or one CSV per curve named ``<treatment>__<outcome>.csv`` with columns
    ``<treatment>, mean, lower, upper`` (as ``psplab causal`` writes them).
    """
    paths = [p for p in run.file_list("dose_response", "dose") if p.suffix == ".csv"]
    if not paths:
        return None
    if len(paths) == 1:
        f = _read_table(paths[0])
        if {"parameter", "outcome", "x"} <= set(f.columns):
            return f
    by_slug = {_slug(n): n for n in names}
    parts = []
    for p in paths:
        f = _read_table(p)
        if "__" not in p.stem or not {"mean", "lower", "upper"} <= set(f.columns):
            continue
        treatment = str(f.columns[0])
        outcome = by_slug.get(p.stem.split("__", 1)[1], p.stem.split("__", 1)[1])
        parts.append(
            pd.DataFrame(
                {
                    "parameter": treatment,
                    "outcome": outcome,
                    "x": f[treatment],
                    "mean": f["mean"],
                    "lo": f["lower"],
                    "hi": f["upper"],
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else None


def causal_section(runs: Sequence[Run], units: dict[str, str]) -> Section | None:
    for run in runs:
        graph_p = run.file("graph", "causal_graph")
        infl_p = run.file("influence", "influence_csv")
        dose = read_dose_response(run, list(units))
        if graph_p is None and infl_p is None and dose is None:
            continue
        sec = Section(
            "causal",
            "Causal influence",
            "Causal discovery with processing → structure → property tiers, bootstrap edge "
            f"stability, and interventional effects (from {run.path.name}/).",
        )
        if graph_p is not None and graph_p.suffix == ".json":
            nodes, edges, g = read_causal_graph(graph_p, run)
            boot = run.params.get("bootstrap") or g.get("bootstrap")
            sec.add(
                figures.causal_graph(
                    nodes,
                    edges,
                    "Causal graph found by tiered PC-stable: processing parameters (left) → "
                    "structure features → properties (right). Arrows are oriented edges, dashed "
                    "grey lines unoriented ones; "
                    + (
                        f"edge width is the share of {boot} bootstrap resamples that found the "
                        "edge (with this orientation)."
                        if boot
                        else "edge width is the edge's bootstrap stability."
                    ),
                )
            )
            truth = g.get("true_edges") or run.results.get("true_edges")
            if truth:
                found = {(e["source"], e["target"]) for e in edges if e.get("directed", True)}
                und = {
                    frozenset((e["source"], e["target"]))
                    for e in edges
                    if not e.get("directed", True)
                }
                hit = sum(1 for s, t in truth if (s, t) in found)
                half = sum(1 for s, t in truth if frozenset((s, t)) in und)
                sec.add(
                    paragraph(
                        f"The simulator's true causal graph has {len(truth)} edges: {hit} are "
                        f"found with the right orientation, {half} more as unoriented edges; "
                        f"{len(found) - hit} oriented edges are not in the truth."
                    )
                )
        if infl_p is not None:
            infl = read_influence(infl_p, units)
            sec.add(
                figures.influence_bars(
                    infl,
                    "Influence ranking: for each outcome, the change in its expected value when a "
                    "processing parameter is set, do(X = x), from the low to the high end of its "
                    "range (5th to 95th percentile; from the dose-response curve where one was "
                    "computed, else the IDA linear effect); red bars raise the outcome, blue "
                    "bars lower it; whiskers are 90% intervals.",
                )
            )
            cols = [
                c
                for c in (
                    "outcome",
                    "parameter",
                    "rank",
                    "effect",
                    "lo",
                    "hi",
                    "sign",
                    "effect_per_unit",
                    "identified",
                    "stability",
                    "ancestor_stability",
                )
                if c in infl.columns
            ]
            order = infl.assign(_a=infl["effect"].abs()).sort_values(
                ["outcome", "_a"], ascending=[True, False]
            )
            sec.add(
                Table(
                    [
                        {
                            "effect": "effect over range",
                            "lo": "90% low",
                            "hi": "90% high",
                            "stability": "edge stability",
                        }.get(c, c)
                        for c in cols
                    ],
                    order[cols].values.tolist(),
                    caption="Influence table: effect over the parameter's range with its 90% "
                    "interval (outcome units), effect per unit of the parameter, whether it is "
                    "identified from the graph, and bootstrap stability of the direct edge and of "
                    "the ancestral relation.",
                )
            )
        if dose is not None and len(dose):
            panels = []
            for (param, outcome), g in dose.groupby(["parameter", "outcome"], sort=False):
                panels.append(
                    {
                        "x": g["x"],
                        "mean": g["mean"],
                        "lo": g["lo"],
                        "hi": g["hi"],
                        "truth": g["truth"]
                        if "truth" in g.columns and g["truth"].notna().all()
                        else None,
                        "xlabel": f"do({_label(str(param), units)})",
                        "ylabel": f"E[{_label(str(outcome), units)}]",
                    }
                )
            sec.add(
                figures.dose_response(
                    panels[:9],
                    "Dose-response curves: expected outcome when the parameter is set to x, "
                    "E[Y | do(X = x)], simulated through the fitted structural causal model "
                    "(one probabilistic regressor per node), with a 90% band"
                    + (
                        "; the dashed line is the simulator's own response."
                        if "truth" in dose.columns
                        else "."
                    ),
                )
            )
        return sec
    return None


def optimization_section(runs: Sequence[Run], units: dict[str, str]) -> Section | None:
    for run in runs:
        trace_p = run.file("trace", "history")
        if trace_p is None:
            continue
        trace = _read_table(trace_p)
        if "objective" not in trace.columns:
            continue
        method_col = "method" if "method" in trace.columns else None
        traces = {}
        for name, g in trace.groupby(method_col, sort=False) if method_col else [("psplab", trace)]:
            g = g.sort_values("evaluation") if "evaluation" in g.columns else g
            traces[str(name)] = g["objective"].to_numpy(dtype=float)
        res = run.results
        objective = str(res.get("objective", "yield_strength_MPa"))
        baseline = res.get("baseline_objective")
        best = res.get("best_objective")
        sec = Section(
            "optimization",
            "Optimization trace",
            f"Simulator-in-the-loop Bayesian optimization of {objective} (from {run.path.name}/).",
        )
        sec.add(
            figures.optimization_trace(
                traces,
                f"Best {objective} found so far against the number of simulator evaluations, for "
                "Bayesian optimization and random search with the same budget; dots are single "
                "evaluations, the dashed line the family's baseline recipe.",
                ylabel=_label(objective, units),
                baseline=baseline,
            )
        )
        if baseline is not None and best is not None:
            gain = 100 * (best - baseline) / abs(baseline) if baseline else float("nan")
            sec.add(
                paragraph(
                    f"Baseline recipe: {baseline:.4g}; best found: {best:.4g} ({gain:+.1f}%)."
                )
            )
        recipe = res.get("best_recipe")
        if isinstance(recipe, dict):
            sec.add(
                Table(
                    ["parameter", "value"],
                    [[k, v] for k, v in recipe.items()],
                    caption="The best recipe found.",
                )
            )
        return sec
    return None


def _run_figures(run: Run) -> list[Figure]:
    """PNG figures a run wrote itself, with the captions it recorded (``results["captions"]``
    by file name, or a ``captions`` JSON listing ``{path, caption}``)."""
    captions: dict[str, str] = {}
    for k, v in (run.results.get("captions") or {}).items():
        captions[Path(k).name] = str(v)
    cap_p = run.file("captions")
    if cap_p is not None and cap_p.suffix == ".json":
        raw = json.loads(cap_p.read_text())
        items = (
            raw if isinstance(raw, list) else [{"path": k, "caption": v} for k, v in raw.items()]
        )
        for item in items:
            if isinstance(item, dict) and "path" in item and "caption" in item:
                captions[Path(str(item["path"])).name] = str(item["caption"])
    out = []
    files = run.manifest.get("files") or {}
    for role in files:
        for p in run.file_list(role):
            if p.suffix.lower() == ".png" and p.name in captions:
                out.append(Figure(png=p.read_bytes(), caption=captions[p.name], alt=role))
    return out


def phasemap_section(runs: Sequence[Run]) -> Section | None:
    from psplab.models.phasemap.plots import plot_phase_map

    for run in runs:
        grid_p = run.file("phasemap_grid", "grid")
        if (grid_p is None or grid_p.suffix != ".npz") and run.kind == "phasemap":
            figs = _run_figures(run)
            if figs:
                sec = Section(
                    "phasemap",
                    "Phase map with uncertainty",
                    f"SAGE phase map (figures written by the run in {run.path.name}/).",
                )
                for f in figs:
                    sec.add(f)
                return sec
        if grid_p is None or grid_p.suffix != ".npz":
            continue
        with np.load(grid_p, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if not {"x1", "x2", "probs"} <= set(d):
            continue
        res = run.results
        sec = Section(
            "phasemap",
            "Phase map with uncertainty",
            f"SAGE phase map: a Bayesian model of the phase regions and the piecewise "
            f"property functions, fitted jointly by MCMC (from {run.path.name}/).",
        )
        sec.add(
            figures.render(
                plot_phase_map(run.path),
                "Phase map: the most probable region at each composition (pale where the posterior is "
                "unsure), the entropy of the phase label, and the property's posterior mean and std; "
                "dots are the measured points (coloured by their observed label), dashed lines the true "
                "region boundaries.",
                alt="phase map",
            )
        )
        facts = []
        for key, text in (
            ("accuracy", "phase accuracy against the truth"),
            ("property_r2", "property R² on the grid"),
            ("rhat_max", "largest R-hat"),
            ("num_samples", "posterior samples"),
        ):
            if res.get(key) is not None:
                facts.append([text, res[key]])
        if facts:
            sec.add(Table(["quantity", "value"], facts, caption="Phase-map fit."))
        rhat = res.get("rhat_max")
        if rhat is not None and float(rhat) > 1.01:
            # Say it where the reader looks: the map may still be right, its spread is not trusted.
            sec.add(
                paragraph(
                    f"Warning: the largest R-hat is {float(rhat):.2f} (converged chains give "
                    "< 1.01), so the MCMC chains have not mixed. Read the phase probabilities "
                    "and the property std as indicative only; refit with more warm-up steps, "
                    "more chains or fewer inducing points before relying on the uncertainty."
                )
            )
        return sec
    return None


def provenance_section(runs: Sequence[Run]) -> Section:
    sec = Section(
        "provenance",
        "Commands and versions",
        "Exactly what produced each run directory in this report, from its manifest.json.",
    )
    for run in runs:
        m = run.manifest
        cmd = " ".join(str(c) for c in m.get("command", []))
        sec.add(
            f"<h3>{escape(run.path.name)}/ <small>({escape(run.kind)}, {escape(m.get('created', ''))})</small></h3>"
        )
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
        sec.add(
            Table(
                ["machine", "value"], [[k, str(v)] for k, v in machine.items()], caption="Machine."
            )
        )
    return sec


def build_sections(runs: Sequence[Run]) -> list[Section]:
    """Every section the runs can fill, in report order."""
    units = _units(runs)
    makers = {
        "dataset": lambda: dataset_section(runs),
        "micrographs": lambda: micrograph_section(runs),
        "predictions": lambda: predictions_section(runs, units),
        "causal": lambda: causal_section(runs, units),
        "optimization": lambda: optimization_section(runs, units),
        "phasemap": lambda: phasemap_section(runs),
        "provenance": lambda: provenance_section(runs),
    }
    sections = []
    for key in SECTION_ORDER:
        sec = makers[key]()
        if sec is not None:
            sections.append(sec)
    return sections


def build_report(
    run_dirs: str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    title: str = "psplab report",
) -> Path:
    """Write a self-contained HTML report of ``run_dirs`` and return its path.

    ``out`` defaults to ``report.html`` in the first run directory.
    """
    dirs = [run_dirs] if isinstance(run_dirs, str | Path) else list(run_dirs)
    runs = discover_runs(dirs)
    if not runs:
        raise FileNotFoundError(f"no {MANIFEST_NAME} in {', '.join(map(str, dirs))} or below")
    sections = build_sections(runs)
    out_path = Path(out) if out is not None else Path(dirs[0]) / "report.html"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    subtitle = f"{len(runs)} run(s): " + ", ".join(f"{r.path.name} ({r.kind})" for r in runs)
    html_text = render_document(title, sections, subtitle=subtitle)
    tmp = out_path.with_suffix(out_path.suffix + ".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(out_path)
    return out_path
