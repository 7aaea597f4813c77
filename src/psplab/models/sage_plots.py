"""Figures for a fitted phase map: region probabilities / entropy, property mean / std, ternary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def ternary_xy(C: np.ndarray) -> np.ndarray:
    """Cartesian coordinates of 3-component compositions (rows normalized to sum 1).

    Vertex A at (0, 0), B at (1, 0), C at (1/2, sqrt(3)/2).
    """
    C = np.asarray(C, dtype=float)
    C = C / C.sum(axis=1, keepdims=True)
    return np.stack([C[:, 1] + 0.5 * C[:, 2], np.sqrt(3.0) / 2.0 * C[:, 2]], axis=1)


def simplex_grid(n: int = 41) -> np.ndarray:
    """Compositions on a regular triangular grid with ``n`` points per edge, ``(m, 3)``."""
    pts = [(i, j, n - 1 - i - j) for i in range(n) for j in range(n - i)]
    return np.asarray(pts, dtype=float) / (n - 1)


def query_grid(model: Any, n: int = 41, ternary: bool = False) -> np.ndarray:
    """Points for maps: a line (1-D), a square grid (2-D) or a simplex grid (3-component)."""
    lo, hi = model.input_min_, model.input_max_
    if model.n_dim_ == 1:
        return np.linspace(lo[0], hi[0], 4 * n)[:, None]
    if ternary and model.n_dim_ == 3:
        G = simplex_grid(n) * 1.0
        keep = np.all((G >= lo - 1e-9) & (G <= hi + 1e-9), axis=1)
        return G[keep]
    axes = [np.linspace(lo[i], hi[i], n) for i in range(2)]
    g = np.stack(np.meshgrid(*axes, indexing="xy"), axis=-1).reshape(-1, 2)
    if model.n_dim_ == 2:
        return g
    centre = 0.5 * (lo + hi)
    out = np.tile(centre, (len(g), 1))
    out[:, :2] = g
    return out


def plot_phase_map(
    model: Any,
    out_dir: str | Path,
    coords: list[str],
    data_points: np.ndarray | None = None,
    ternary: bool = False,
) -> list[Path]:
    """Write ``phase_map.png`` and one ``property_<name>.png`` per property; returns the paths."""
    plt = _plt()
    out = Path(out_dir)
    G = query_grid(model, ternary=ternary)
    pred = model.predict(G)
    K = pred.probs.shape[1]
    paths: list[Path] = []
    if model.n_dim_ == 1:
        x = G[:, 0]
        fig, axes = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
        for k in range(K):
            axes[0].plot(x, pred.probs[:, k], label=f"p(region {pred.region_names[k]})")
        axes[0].plot(x, pred.entropy, "k--", label="entropy (nats)")
        axes[0].set_ylabel("probability / entropy")
        axes[0].legend(fontsize=7)
        for t, name in enumerate(pred.property_names):
            axes[1].plot(x, pred.mean[:, t], label=f"{name} mean")
            axes[1].fill_between(
                x,
                pred.mean[:, t] - 2 * pred.std[:, t],
                pred.mean[:, t] + 2 * pred.std[:, t],
                alpha=0.3,
                label=f"{name} ±2 std",
            )
        axes[1].set_xlabel(coords[0])
        axes[1].set_ylabel("property")
        axes[1].legend(fontsize=7)
        fig.suptitle("SAGE phase map and property posterior (1-D)")
        p = out / "phase_map.png"
        fig.tight_layout()
        fig.savefig(p, dpi=110)
        plt.close(fig)
        return [p]

    if ternary:
        XY = ternary_xy(G)
        xlabel, ylabel = f"{coords[1]} + {coords[2]}/2 (ternary)", f"{coords[2]} · √3/2"
    else:
        XY = G[:, :2]
        xlabel, ylabel = coords[0], coords[1]

    def panel(ax, values, title, cmap="viridis"):
        tc = ax.tricontourf(XY[:, 0], XY[:, 1], values, levels=20, cmap=cmap)
        plt.colorbar(tc, ax=ax, fraction=0.046)
        if data_points is not None:
            D = ternary_xy(data_points) if ternary else np.asarray(data_points)[:, :2]
            ax.scatter(D[:, 0], D[:, 1], s=6, c="k", marker=".", label="measured")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_aspect("equal")

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3))
    region_idx = np.argmax(pred.probs, axis=1)
    panel(axes[0], region_idx.astype(float), "most probable region (index)", cmap="tab10")
    panel(axes[1], pred.probs.max(axis=1), "probability of that region")
    panel(axes[2], pred.entropy, "phase entropy (nats): boundary uncertainty", cmap="magma")
    fig.suptitle(
        "SAGE phase map (posterior mean over NUTS draws)" + (" — ternary" if ternary else "")
    )
    fig.tight_layout()
    p = out / ("ternary_phase_map.png" if ternary else "phase_map.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)
    for t, name in enumerate(pred.property_names):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.3))
        panel(axes[0], pred.mean[:, t], f"{name}: posterior mean")
        panel(axes[1], pred.std[:, t], f"{name}: predictive std (posterior + noise)", cmap="magma")
        fig.suptitle(f"SAGE property map: {name}" + (" — ternary" if ternary else ""))
        fig.tight_layout()
        p = out / (f"ternary_property_{name}.png" if ternary else f"property_{name}.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths
