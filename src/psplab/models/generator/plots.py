"""Figures of generated microstructures: image montages with a scale bar, size distributions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from psplab.plotting import axes_or_new, safe_text

GAP_FRACTION = 0.04  # gap between montage tiles, as a share of a tile's width


def nice_length(span: float) -> float:
    """A round scale-bar length (1, 2 or 5 times a power of ten) near a quarter of ``span``.

    Parameters
    ----------
    span : float
        Width of the image in the bar's unit.

    Returns
    -------
    float
    """
    target = max(span, 1e-12) / 4.0
    exponent = math.floor(math.log10(target))
    for mantissa in (5.0, 2.0, 1.0):
        if mantissa * 10**exponent <= target:
            return mantissa * 10**exponent
    return 10.0**exponent


def _label_rgb(grains: np.ndarray | None, particles: np.ndarray | None, shape: tuple[int, int]):
    """RGB image: grains in shuffled colours with dark boundaries, particles in black."""
    from matplotlib import colormaps

    rgb = np.full(shape + (3,), 0.85)
    if grains is not None:
        ids, index = np.unique(grains, return_inverse=True)
        palette = colormaps["turbo"](np.random.default_rng(0).uniform(0.05, 0.95, ids.size))[:, :3]
        rgb = palette[index.reshape(shape)]
        edge = (grains != np.roll(grains, -1, 0)) | (grains != np.roll(grains, -1, 1))
        rgb[edge] = 0.15
    if particles is not None:
        rgb[np.asarray(particles) != 0] = 0.0
    return rgb


def label_montage(
    grains: Sequence[np.ndarray] | None,
    particles: Sequence[np.ndarray] | None,
    pixel_um: Sequence[float] | float,
    *,
    titles: Sequence[str] | None = None,
    ax: Any = None,
):
    """Label images side by side at their physical size, with one scale bar in µm.

    Parameters
    ----------
    grains : sequence of numpy.ndarray or None
        Grain label images (shuffled colours, boundaries dark).
    particles : sequence of numpy.ndarray or None
        Particle masks (black), the same number of images; with ``grains`` they are drawn on
        top of them.
    pixel_um : float or sequence of float
        Pixel size of each image (or one for all) in µm; tiles are drawn at their physical
        size, so one bar measures all of them.
    titles : sequence of str, optional
        A title above each tile.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    stack = grains if grains is not None else particles
    if stack is None or len(stack) == 0:
        raise ValueError("no images to draw")
    n = len(stack)
    px = np.broadcast_to(np.asarray(pixel_um, dtype=float), (n,))
    fig, ax = axes_or_new(ax, (2.2 * n + 0.4, 2.6))
    x, top = 0.0, 0.0
    for i in range(n):
        g = None if grains is None else np.asarray(grains[i])
        q = None if particles is None else np.asarray(particles[i])
        h, w = (g if g is not None else q).shape
        width, height = w * px[i], h * px[i]
        ax.imshow(
            _label_rgb(g, q, (h, w)),
            extent=(x, x + width, 0.0, height),
            origin="lower",
            interpolation="nearest",
        )
        if titles is not None:
            ax.text(
                x + width / 2,
                height * 1.02,
                safe_text(str(titles[i])),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        x += width * (1.0 + GAP_FRACTION)
        top = max(top, height)
    bar = nice_length(top)
    ax.plot(
        [0.0, bar], [-0.06 * top] * 2, color="black", lw=3, solid_capstyle="butt", clip_on=False
    )
    ax.text(bar / 2, -0.09 * top, f"{bar:g} µm", ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.01 * x, x)
    ax.set_ylim(-0.18 * top, top * (1.12 if titles is not None else 1.01))
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


def size_distribution_plot(
    groups: Mapping[str, np.ndarray],
    *,
    quantity: str = "grain diameter",
    unit: str = "µm",
    ax: Any = None,
):
    """Distributions of sizes (e.g. equivalent-circle diameters), one step histogram per group.

    Parameters
    ----------
    groups : mapping of str to numpy.ndarray
        Label (e.g. ``"simulated"``, ``"generated"``) to the sizes pooled over its images.
    quantity, unit : str
        Axis label parts.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = axes_or_new(ax, (4.8, 3.4))
    pooled = np.concatenate([np.asarray(v, float) for v in groups.values()])
    pooled = pooled[np.isfinite(pooled) & (pooled > 0)]
    if pooled.size == 0:
        raise ValueError("no positive sizes to plot")
    bins = np.geomspace(pooled.min(), pooled.max() * 1.0001, 25)
    for label, values in groups.items():
        v = np.asarray(values, float)
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            weights = np.full(v.size, 1.0 / v.size)
            ax.hist(
                v,
                bins=bins,
                weights=weights,
                histtype="step",
                lw=1.6,
                label=f"{safe_text(label)} (median {np.median(v):.3g})",
            )
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    # Ticks at 1, 2 and 5 per decade, written plainly: over a narrow range the default minor
    # labels (3x10^0, 4x10^0, ...) overlap.
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"{safe_text(quantity)} [{safe_text(unit)}]")
    ax.set_ylabel("fraction of objects [–]")
    ax.legend(fontsize=8)
    return fig
