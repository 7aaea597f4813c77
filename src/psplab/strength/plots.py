"""Plots of the FFT mechanics results: one function per plot, each returning its Figure.

Every function draws into ``ax`` when given (so a report can place it), else into a new figure
(:func:`psplab.plotting.axes_or_new`); save with :func:`psplab.plotting.save_figure`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from psplab.plotting import axes_or_new

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["stress_field", "stress_strain_curve"]


def stress_strain_curve(result: dict[str, Any], *, ax: Axes | None = None) -> Figure:
    """Macroscopic uniaxial stress–strain curve with the 0.2 % offset line and yield point.

    Parameters
    ----------
    result : dict
        A result of :func:`psplab.strength.fft.mechanics_yield_strength` (its ``curve``,
        ``youngs_modulus_gpa``, ``yield_strength_mpa`` and ``yield_strain``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; None makes a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure with the curve, the offset line and the yield point.
    """
    fig, ax = axes_or_new(ax, (5, 4))
    strain = np.asarray(result["curve"]["strain"], dtype=float)
    stress = np.asarray(result["curve"]["stress_mpa"], dtype=float)
    ax.plot(strain * 100, stress, "o-", ms=3, label="FFT J2 (macroscopic)")
    e_mpa = result["youngs_modulus_gpa"] * 1e3
    sy = result["yield_strength_mpa"]
    if math.isfinite(sy):
        x = np.linspace(0.002, result["yield_strain"] * 1.05, 2)
        ax.plot(x * 100, e_mpa * (x - 0.002), "--", color="grey", label="0.2 % offset line")
        ax.plot([result["yield_strain"] * 100], [sy], "r*", ms=10, label=f"yield {sy:.0f} MPa")
    ax.set_xlabel("axial strain ε_xx (%)")
    ax.set_ylabel("axial stress σ_xx (MPa)")
    ax.set_title("Uniaxial stress–strain curve")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def stress_field(
    field_mpa: np.ndarray,
    pixel_um: float,
    *,
    title: str = "Stress field at the 0.2 % offset yield point",
    ax: Axes | None = None,
) -> Figure:
    """Map of a von Mises stress image in micrometre coordinates, with a colour bar.

    Parameters
    ----------
    field_mpa : numpy.ndarray
        ``(H, W)`` stress image, MPa (e.g. ``stress_field_at_yield``).
    pixel_um : float
        Pixel size, µm.
    title : str
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Axes for the map (its colour bar is added beside it); None: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with a colour bar.
    """
    fig, ax = axes_or_new(ax, (5, 4.2))
    field = np.asarray(field_mpa, dtype=float)
    h, w = field.shape
    im = ax.imshow(field, cmap="inferno", extent=(0, w * pixel_um, h * pixel_um, 0))
    fig.colorbar(im, ax=ax, label="von Mises stress (MPa)")
    ax.set_xlabel("x (µm)  — loading direction")
    ax.set_ylabel("y (µm)")
    ax.set_title(title)
    return fig
