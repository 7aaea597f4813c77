"""Report figures: matplotlib (Agg) drawings of normalized run data, returned as PNG bytes.

Every function takes plain arrays / frames (see :mod:`psplab.report.builder` for how run
directories are read into them) and returns a :class:`~psplab.report.html.Figure` with a caption.
:func:`render` refuses a figure whose visible axes lack a label with a unit in brackets, so the
rule "every figure has axis labels with units" is enforced where figures are made.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from psplab.report.html import Figure  # noqa: E402

DPI = 100
MODEL_COLORS = {
    "bhn": "#c0392b",
    "gp": "#2471a3",
    "ensemble": "#229954",
    "dropout": "#8e44ad",
    "rf": "#d68910",
}
_FALLBACK_COLORS = plt.get_cmap("tab10").colors


def model_color(name: str, index: int = 0) -> str:
    """A stable colour per model name (the same in every figure)."""
    return MODEL_COLORS.get(name, matplotlib.colors.to_hex(_FALLBACK_COLORS[index % 10]))


class FigureLabelError(ValueError):
    """A figure has a visible axis without a label that states a unit."""


def check_axis_labels(fig: matplotlib.figure.Figure) -> None:
    """Raise :class:`FigureLabelError` unless every visible axis has a ``name [unit]`` label.

    Dimensionless quantities say so with ``[–]``; colour bars count as axes.
    """
    for ax in fig.get_axes():
        if not ax.get_visible() or not ax.axison:
            continue
        for which, label, axis in (
            ("x", ax.get_xlabel(), ax.xaxis),
            ("y", ax.get_ylabel(), ax.yaxis),
        ):
            if not axis.get_visible():
                continue
            # A colour bar has one axis in use; the other carries no ticks and needs no label.
            if not axis.get_ticklocs().size and not label:
                continue
            if not label or "[" not in label or "]" not in label:
                title = ax.get_title() or "untitled axes"
                raise FigureLabelError(
                    f"{title}: {which} axis label {label!r} must name a quantity and a unit in brackets"
                )


def render(fig: matplotlib.figure.Figure, caption: str, alt: str = "") -> Figure:
    """Check the labels, save ``fig`` as PNG, close it and wrap it with its caption."""
    if not caption.strip():
        raise ValueError("every figure needs a caption saying what it shows")
    try:
        check_axis_labels(fig)
        if fig.get_layout_engine() is None:
            fig.tight_layout()
        buf = io.BytesIO()
        # No bbox_inches="tight": tight_layout already fits the labels, and a tight bbox would
        # draw the whole figure once more (text layout dominates the report's build time).
        fig.savefig(buf, format="png", dpi=DPI)
    finally:
        plt.close(fig)
    return Figure(png=buf.getvalue(), caption=caption, alt=alt or caption.split(".")[0])


# --- micrographs -----------------------------------------------------------------------------
def _nice_length(span_um: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^k µm) near a quarter of the field width."""
    target = span_um / 4.0
    exponent = np.floor(np.log10(target))
    for mantissa in (5.0, 2.0, 1.0):
        value = mantissa * 10**exponent
        if value <= target:
            return float(value)
    return float(10**exponent)


def _shuffled_label_colors(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """RGB image with neighbouring grain ids in unrelated colours (ids are shuffled)."""
    ids = np.unique(labels)
    rng = np.random.default_rng(seed)
    cmap = plt.get_cmap("turbo")
    palette = cmap(rng.uniform(0.05, 0.95, size=ids.size))[:, :3]
    index = np.searchsorted(ids, labels)
    return palette[index]


def micrograph_gallery(
    images: Sequence[Mapping[str, object]], caption: str, columns: int = 3
) -> Figure:
    """Grain-label images with grain boundaries, precipitates in black and a µm scale bar.

    Each item has ``grain_labels`` (H×W ints), ``pixel_um`` and optionally ``phase_labels``
    (1 = precipitate) and ``title``.
    """
    from skimage.segmentation import find_boundaries

    n = len(images)
    if n == 0:
        raise ValueError("no images for the gallery")
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.5 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, item in zip(axes.ravel(), images, strict=False):
        labels = np.asarray(item["grain_labels"])
        pixel_um = float(item["pixel_um"])  # type: ignore[arg-type]
        rgb = _shuffled_label_colors(labels)
        rgb[find_boundaries(labels, mode="inner")] = 0.15  # dark grey boundaries
        phases = item.get("phase_labels")
        if phases is not None:
            rgb[np.asarray(phases) > 0] = 0.0
        h, w = labels.shape
        extent = (0.0, w * pixel_um, 0.0, h * pixel_um)
        ax.imshow(rgb, extent=extent, origin="lower", interpolation="nearest")
        ax.set_xlabel("x [µm]")
        ax.set_ylabel("y [µm]")
        ax.set_title(str(item.get("title", "")), fontsize=8)
        bar = _nice_length(w * pixel_um)
        x0, y0 = 0.05 * w * pixel_um, 0.06 * h * pixel_um
        ax.add_patch(
            matplotlib.patches.Rectangle(
                (x0 - 0.02 * w * pixel_um, y0 - 0.03 * h * pixel_um),
                bar + 0.04 * w * pixel_um,
                0.12 * h * pixel_um,
                color="white",
                alpha=0.8,
            )
        )
        ax.plot([x0, x0 + bar], [y0, y0], color="black", lw=3, solid_capstyle="butt")
        ax.text(
            x0 + bar / 2,
            y0 + 0.015 * h * pixel_um,
            f"{bar:g} µm",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    return render(fig, caption, alt="micrograph gallery")


# --- dataset ---------------------------------------------------------------------------------
def histograms(
    frame: pd.DataFrame, labels: Mapping[str, str], caption: str, columns: int = 4
) -> Figure:
    """One histogram per column; ``labels`` maps column → ``name [unit]``."""
    names = [c for c in labels if c in frame.columns]
    cols = min(columns, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        values = pd.to_numeric(frame[name], errors="coerce").dropna().to_numpy()
        ax.hist(values, bins=20, color="#5d7ea8", edgecolor="white")
        ax.set_xlabel(labels[name], fontsize=8)
        ax.set_ylabel("recipes [count]", fontsize=8)
        ax.tick_params(labelsize=7)
    return render(fig, caption, alt="histograms")


# --- predictions -----------------------------------------------------------------------------
def parity_grid(panels: Sequence[Mapping[str, object]], caption: str, columns: int = 3) -> Figure:
    """Parity plots (predicted vs true) with 90% interval error bars.

    Each panel: ``y_true``, ``mean``, ``lo``, ``hi`` arrays, ``label`` (``name [unit]``),
    ``title``, ``color``.
    """
    n = len(panels)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, p in zip(axes.ravel(), panels, strict=False):
        y = np.asarray(p["y_true"], dtype=float)
        m = np.asarray(p["mean"], dtype=float)
        lo = np.asarray(p["lo"], dtype=float)
        hi = np.asarray(p["hi"], dtype=float)
        inside = (y >= lo) & (y <= hi)
        err = np.vstack([np.maximum(m - lo, 0), np.maximum(hi - m, 0)])
        color = str(p.get("color", "#2471a3"))
        ax.errorbar(
            y, m, yerr=err, fmt="o", ms=2.5, color=color, ecolor=color, elinewidth=0.5, alpha=0.6
        )
        finite = np.concatenate([y, m])
        finite = finite[np.isfinite(finite)]
        a, b = (finite.min(), finite.max()) if finite.size else (0, 1)
        pad = 0.05 * (b - a + 1e-12)
        ax.plot([a - pad, b + pad], [a - pad, b + pad], color="black", lw=0.8, ls="--")
        ax.set_xlim(a - pad, b + pad)
        ax.set_ylim(a - pad, b + pad)
        label = str(p["label"])
        ax.set_xlabel(f"true {label}", fontsize=8)
        ax.set_ylabel(f"predicted {label}", fontsize=8)
        cover = float(np.mean(inside)) if inside.size else float("nan")
        ax.set_title(f"{p.get('title', '')}  (90% coverage {cover:.2f})", fontsize=8)
        ax.tick_params(labelsize=7)
    return render(fig, caption, alt="parity plots")


def calibration_curves(
    panels: Sequence[Mapping[str, object]], caption: str, columns: int = 3
) -> Figure:
    """Observed vs nominal coverage of central intervals, one panel per target, a line per model.

    Each panel: ``title`` and ``models``: mapping model → ``(y_true, mean, std)``.
    """
    levels = np.linspace(0.05, 0.95, 19)
    z = np.array([NormalDist().inv_cdf(0.5 + a / 2) for a in levels])
    n = len(panels)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.1 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, p in zip(axes.ravel(), panels, strict=False):
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--", label="ideal")
        models = p["models"]
        assert isinstance(models, Mapping)
        for i, (name, (y, m, s)) in enumerate(models.items()):
            y, m, s = (np.asarray(v, dtype=float) for v in (y, m, s))
            ok = np.isfinite(y) & np.isfinite(m) & np.isfinite(s) & (s > 0)
            r = np.abs(y[ok] - m[ok]) / s[ok]
            observed = [(r <= zz).mean() if r.size else np.nan for zz in z]
            ax.plot(levels, observed, marker="o", ms=2, color=model_color(name, i), label=name)
        ax.set_xlabel("nominal central-interval coverage [–]", fontsize=8)
        ax.set_ylabel("observed coverage [–]", fontsize=8)
        ax.set_title(str(p.get("title", "")), fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
    axes.ravel()[0].legend(fontsize=7, loc="upper left")
    return render(fig, caption, alt="calibration curves")


# --- causal ----------------------------------------------------------------------------------
def causal_graph(
    nodes: Mapping[str, int],
    edges: Sequence[Mapping[str, object]],
    caption: str,
    tier_names: Mapping[int, str] | None = None,
) -> Figure:
    """Tiers left to right; edge width = bootstrap stability; dashed = undirected (unoriented).

    ``nodes`` maps name → tier; each edge has ``source``, ``target``, ``directed`` (bool) and
    ``stability`` in [0, 1] (1 when not bootstrapped).
    """
    tiers = sorted(set(nodes.values()))
    pos: dict[str, tuple[float, float]] = {}
    for t in tiers:
        members = [n for n, tt in nodes.items() if tt == t]
        for i, name in enumerate(members):
            pos[name] = (float(t), (len(members) - 1) / 2.0 - i)
    height = max(3.0, 0.55 * max(sum(1 for v in nodes.values() if v == t) for t in tiers) + 1)
    fig, ax = plt.subplots(figsize=(3.3 * len(tiers) + 1, height))
    for e in edges:
        s, t = str(e["source"]), str(e["target"])
        if s not in pos or t not in pos:
            continue
        width = 0.5 + 3.5 * float(e.get("stability", 1.0) or 0.0)
        directed = bool(e.get("directed", True))
        span = abs(pos[t][0] - pos[s][0])
        # Bend edges that would cross a column of nodes (same tier, or skipping a tier).
        rad = 0.55 if span == 0 else (0.25 if span > 1 else 0.06)
        ax.annotate(
            "",
            xy=pos[t],
            xytext=pos[s],
            arrowprops={
                "arrowstyle": "-|>" if directed else "-",
                "lw": width,
                "color": "#34495e" if directed else "#95a5a6",
                "ls": "-" if directed else "--",
                "shrinkA": 12 if span == 0 else 38,
                "shrinkB": 12 if span == 0 else 38,
                "connectionstyle": f"arc3,rad={rad}",
                "alpha": 0.8,
            },
        )
    tier_colors = {0: "#d6eaf8", 1: "#d5f5e3", 2: "#fdebd0"}
    for name, (x, y) in pos.items():
        ax.text(
            x,
            y,
            name,
            ha="center",
            va="center",
            fontsize=8,
            bbox={
                "boxstyle": "round,pad=0.35",
                "fc": tier_colors.get(nodes[name], "#eeeeee"),
                "ec": "#555",
            },
        )
    names = tier_names or {0: "processing", 1: "structure", 2: "property"}
    ax.set_xticks(tiers)
    ax.set_xticklabels([names.get(t, f"tier {t}") for t in tiers])
    ax.set_xlim(min(tiers) - 0.6, max(tiers) + 0.6)
    ys = [p[1] for p in pos.values()] or [0.0]
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_yticks([])
    ax.set_xlabel("causal tier [–]")
    ax.set_ylabel("variables in the tier [–]")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return render(fig, caption, alt="causal graph")


def influence_bars(frame: pd.DataFrame, caption: str, max_rows: int = 12) -> Figure:
    """Horizontal bars of each parameter's effect over its range, with its interval, per outcome.

    ``frame`` columns: ``outcome``, ``parameter``, ``effect``, ``lo``, ``hi``, ``unit``.
    """
    outcomes = list(dict.fromkeys(frame["outcome"]))
    fig, axes = plt.subplots(
        1,
        len(outcomes),
        figsize=(
            4.6 * len(outcomes),
            0.35 * min(max_rows, frame.groupby("outcome").size().max()) + 1.5,
        ),
        squeeze=False,
    )
    for ax, outcome in zip(axes.ravel(), outcomes, strict=False):
        sub = frame[frame["outcome"] == outcome].copy()
        sub = sub.reindex(sub["effect"].abs().sort_values().index).tail(max_rows)
        y = np.arange(len(sub))
        colors = ["#c0392b" if v > 0 else "#2471a3" for v in sub["effect"]]
        ax.barh(y, sub["effect"], color=colors, alpha=0.85)
        if {"lo", "hi"} <= set(sub.columns):
            lo = sub["lo"].to_numpy(dtype=float)
            hi = sub["hi"].to_numpy(dtype=float)
            eff = sub["effect"].to_numpy(dtype=float)
            ok = np.isfinite(lo) & np.isfinite(hi)
            ax.errorbar(
                eff[ok],
                y[ok],
                xerr=np.vstack([np.maximum(eff - lo, 0)[ok], np.maximum(hi - eff, 0)[ok]]),
                fmt="none",
                ecolor="black",
                elinewidth=0.8,
                capsize=2,
            )
        ax.set_yticks(y)
        ax.set_yticklabels(sub["parameter"], fontsize=7)
        ax.axvline(0, color="black", lw=0.6)
        unit = str(sub["unit"].iloc[0]) if "unit" in sub.columns and len(sub) else "–"
        ax.set_xlabel(f"Δ E[{outcome}] over the range [{unit}]", fontsize=8)
        ax.set_ylabel("processing parameter [–]", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    return render(fig, caption, alt="influence ranking")


def dose_response(panels: Sequence[Mapping[str, object]], caption: str, columns: int = 3) -> Figure:
    """E[Y | do(X = x)] with its band; panel keys ``x``, ``mean``, ``lo``, ``hi``, ``xlabel``, ``ylabel``."""
    n = len(panels)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, p in zip(axes.ravel(), panels, strict=False):
        x = np.asarray(p["x"], dtype=float)
        ax.fill_between(
            x,
            np.asarray(p["lo"], float),
            np.asarray(p["hi"], float),
            color="#aed6f1",
            label="90% band",
        )
        ax.plot(x, np.asarray(p["mean"], float), color="#1b4f72", lw=1.5, label="mean")
        if p.get("truth") is not None:
            ax.plot(
                x, np.asarray(p["truth"], float), color="black", ls="--", lw=1, label="simulator"
            )
        ax.set_xlabel(str(p["xlabel"]), fontsize=8)
        ax.set_ylabel(str(p["ylabel"]), fontsize=8)
        ax.tick_params(labelsize=7)
    axes.ravel()[0].legend(fontsize=7)
    return render(fig, caption, alt="dose-response curves")


# --- optimization ----------------------------------------------------------------------------
def optimization_trace(
    traces: Mapping[str, np.ndarray], caption: str, ylabel: str, baseline: float | None = None
) -> Figure:
    """Best-so-far objective vs evaluation number, one line per method, observations as dots.

    ``traces`` maps method → the objective value of each evaluation in order.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (name, values) in enumerate(traces.items()):
        v = np.asarray(values, dtype=float)
        k = np.arange(1, v.size + 1)
        color = "#c0392b" if i == 0 else matplotlib.colors.to_hex(_FALLBACK_COLORS[(i + 1) % 10])
        ax.scatter(k, v, s=10, color=color, alpha=0.4)
        ax.step(
            k,
            np.fmax.accumulate(np.where(np.isfinite(v), v, -np.inf)),
            where="post",
            color=color,
            lw=1.8,
            label=f"{name}: best so far",
        )
    if baseline is not None and np.isfinite(baseline):
        ax.axhline(baseline, color="black", ls="--", lw=0.8, label="baseline recipe")
    ax.set_xlabel("evaluation [count]")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return render(fig, caption, alt="optimization trace")


# --- phase map -------------------------------------------------------------------------------
def phase_map(
    x1: np.ndarray,
    x2: np.ndarray,
    probs: np.ndarray,
    caption: str,
    xlabel: str,
    ylabel: str,
    entropy: np.ndarray | None = None,
    truth: np.ndarray | None = None,
    points: np.ndarray | None = None,
    point_labels: np.ndarray | None = None,
    property_mean: np.ndarray | None = None,
    property_std: np.ndarray | None = None,
    property_label: str = "property [–]",
) -> Figure:
    """Most probable region (shaded by its probability), entropy, and the property mean / std.

    ``x1`` (n1,), ``x2`` (n2,) define a grid; ``probs`` is (n2, n1, K); the optional ``truth``
    (n2, n1) region labels are drawn as contours; ``points`` (m, 2) are the observations.
    """
    k = probs.shape[-1]
    label = probs.argmax(-1)
    pmax = probs.max(-1)
    extent = (x1.min(), x1.max(), x2.min(), x2.max())
    panels = 2 + (property_mean is not None) + (property_std is not None)
    fig, axes = plt.subplots(1, panels, figsize=(4.1 * panels, 3.7), squeeze=False)
    axes = axes.ravel()
    cmap = plt.get_cmap("tab10")
    rgb = cmap(label % 10)[..., :3]
    shade = 0.35 + 0.65 * (pmax - 1.0 / k) / max(1 - 1.0 / k, 1e-9)  # white = unsure
    rgba = rgb * shade[..., None] + (1 - shade[..., None])
    axes[0].imshow(rgba, extent=extent, origin="lower", aspect="auto")
    axes[0].set_title("most probable region (pale = unsure)", fontsize=8)
    if entropy is None:
        entropy = -np.sum(probs * np.log(np.clip(probs, 1e-12, 1)), axis=-1)
    im = axes[1].imshow(entropy, extent=extent, origin="lower", aspect="auto", cmap="magma")
    axes[1].set_title("phase-label entropy", fontsize=8)
    cb = fig.colorbar(im, ax=axes[1])
    cb.set_label("entropy [nat]")
    extra = []
    if property_mean is not None:
        extra.append((property_mean, "property mean", property_label, "viridis"))
    if property_std is not None:
        extra.append((property_std, "property std", property_label, "cividis"))
    for ax, (img, title, lab, cm) in zip(axes[2:], extra, strict=False):
        im = ax.imshow(img, extent=extent, origin="lower", aspect="auto", cmap=cm)
        ax.set_title(title, fontsize=8)
        cb = fig.colorbar(im, ax=ax)
        cb.set_label(lab if "std" not in title else lab.replace("[", "std ["), fontsize=8)
    for ax in axes:
        if truth is not None:
            ax.contour(
                x1,
                x2,
                truth,
                levels=np.arange(truth.max()) + 0.5,
                colors="black",
                linewidths=0.8,
                linestyles="--",
            )
        if points is not None:
            ax.scatter(
                points[:, 0],
                points[:, 1],
                s=8,
                c="white" if point_labels is None else cmap(np.asarray(point_labels) % 10),
                edgecolors="black",
                linewidths=0.4,
            )
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
    return render(fig, caption, alt="phase map")
