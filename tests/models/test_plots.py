"""Prediction plots: drawn from saved arrays, into given axes, with units on every axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psplab.models import plots


def _oof() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for model in ("bhn", "rf"):
        for target in ("ys", "hv"):
            y = rng.normal(500, 50, 40)
            mean = y + rng.normal(0, 10, 40)
            rows.append(
                pd.DataFrame(
                    {"model": model, "target": target, "y_true": y, "mean": mean,
                     "std": 10.0, "q05": mean - 16.4, "q95": mean + 16.4,
                     "in_domain": np.arange(40) % 10 != 0}
                )
            )  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def _labels_have_units(fig) -> bool:
    axes = [ax for ax in fig.get_axes() if ax.get_visible()]
    return bool(axes) and all("[" in ax.get_xlabel() and "]" in ax.get_ylabel() for ax in axes)


def test_plots_draw_into_given_axes_and_return_its_figure():
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    y = np.arange(10.0)
    got = plots.parity_plot(y, y + 1, y - 1, y + 3, label="ys [MPa]", ax=a)
    assert got is fig and len(a.lines) > 0
    # Every measured value lies inside its interval here: coverage 1.00 in the title.
    assert "cov90 1.00" in a.get_title()
    got = plots.calibration_plot({"bhn": (y, y, np.ones(10))}, title="ys", ax=b)
    assert got is fig and b.get_title() == "ys"
    assert _labels_have_units(fig)
    plt.close(fig)


def test_grids_from_a_saved_table(tmp_path):
    oof = _oof()
    path = tmp_path / "oof.csv"
    oof.to_csv(path, index=False)
    saved = pd.read_csv(path)
    by_model = plots.parity_grid(saved, target="ys", labels={"ys": "yield strength [MPa]"})
    assert len([ax for ax in by_model.get_axes() if ax.get_visible()]) == 2
    by_target = plots.parity_grid(saved.rename(columns={"q05": "lo", "q95": "hi"}), model="bhn")
    assert {ax.get_title().split(":")[0] for ax in by_target.get_axes()} == {"ys", "hv"}
    cal = plots.calibration_grid(saved)
    assert all(_labels_have_units(f) for f in (by_model, by_target, cal))
    with pytest.raises(ValueError, match="exactly one"):
        plots.parity_grid(saved)


def test_calibration_line_follows_the_truth():
    # Gaussian residuals with the stated std: observed coverage tracks the nominal level.
    rng = np.random.default_rng(1)
    y = rng.normal(size=4000)
    fig = plots.calibration_plot({"gp": (y, np.zeros_like(y), np.ones_like(y))})
    observed = fig.get_axes()[0].lines[0].get_ydata()
    np.testing.assert_allclose(observed, plots.NOMINAL_LEVELS, atol=0.03)
