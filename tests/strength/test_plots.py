"""Mechanics plots: one function per plot, drawing into a given axes or a new figure."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.plotting import pyplot
from psplab.strength import plots


def _result(yield_mpa: float = 250.0):
    strain = np.linspace(0.0, 0.008, 9)
    stress = np.minimum(70e3 * strain, 260.0)
    return {
        "curve": {"strain": strain, "stress_mpa": stress},
        "youngs_modulus_gpa": 70.0,
        "yield_strength_mpa": yield_mpa,
        "yield_strain": 0.0057,
    }


def test_stress_strain_curve_draws_the_curve_and_yield_point():
    fig = plots.stress_strain_curve(_result())
    ax = fig.axes[0]
    curve = ax.lines[0]
    np.testing.assert_allclose(curve.get_xdata(), _result()["curve"]["strain"] * 100)
    np.testing.assert_allclose(curve.get_ydata(), _result()["curve"]["stress_mpa"])
    star = ax.lines[-1]
    assert star.get_xdata()[0] == pytest.approx(0.57) and star.get_ydata()[0] == 250.0
    pyplot().close(fig)


def test_curve_without_yield_point_has_no_offset_line():
    fig = plots.stress_strain_curve(_result(float("nan")))
    assert len(fig.axes[0].lines) == 1
    pyplot().close(fig)


def test_plots_draw_into_given_axes():
    fig, (a, b) = pyplot().subplots(1, 2)
    assert plots.stress_strain_curve(_result(), ax=a) is fig
    field = np.arange(12.0).reshape(3, 4)
    assert plots.stress_field(field, 0.5, ax=b) is fig
    image = b.images[0]
    np.testing.assert_array_equal(image.get_array(), field)
    assert image.get_extent() == [0.0, 2.0, 1.5, 0.0]  # µm: 4 × 0.5 wide, 3 × 0.5 high
    pyplot().close(fig)
