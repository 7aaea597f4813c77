"""Phase-map grids and figures: drawn from memory, a grid file or a run directory alike."""

from __future__ import annotations

import numpy as np
import pytest

from psplab.errors import ModelFileError
from psplab.manifest import write_manifest
from psplab.models.phasemap.grid import PhaseMapGrid, predict_grid, read_phase_map_grid
from psplab.models.phasemap.plots import (
    plot_entropy_map,
    plot_phase_map,
    plot_property_map,
    plot_region_map,
)


def _grid(n_props: int = 1) -> PhaseMapGrid:
    """Two regions split at x1 = 0 (sharp left, 50/50 on the right edge), T properties."""
    x1, x2 = np.linspace(-1, 1, 21), np.linspace(0, 2, 11)
    xx, _ = np.meshgrid(x1, x2)
    p0 = np.where(xx < 0, 1.0, np.where(xx >= 0.95, 0.5, 0.0))
    probs = np.stack([p0, 1 - p0], axis=-1)
    mean = np.stack([xx + t for t in range(n_props)], axis=-1)
    return PhaseMapGrid(
        probs=probs, x1=x1, x2=x2, property_mean=mean, property_std=0.1 + 0 * mean,
        truth=(xx >= 0).astype(int), points=np.array([[-0.5, 1.0], [0.5, 1.0]]),
        point_labels=np.array([0, 1]), axis_labels=["Fe [at. fraction]", "Ga [at. fraction]"],
        property_names=[f"hv{t}" for t in range(n_props)],
        property_labels=[f"hardness {t} [HV]" for t in range(n_props)],
    )  # fmt: skip


def _labelled(fig) -> None:
    """Every visible axis with ticks names a quantity and a unit in brackets."""
    for ax in fig.get_axes():
        for label, axis in ((ax.get_xlabel(), ax.xaxis), (ax.get_ylabel(), ax.yaxis)):
            if axis.get_visible() and (axis.get_ticklocs().size or label):
                assert "[" in label and "]" in label, (ax.get_title(), label)


def test_phase_map_has_every_panel_labelled_with_units():
    fig = plot_phase_map(_grid(n_props=2))
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert titles[:2] == ["most probable region (pale = unsure)", "phase-label entropy"]
    assert "hv1: posterior std" in titles
    assert len(fig.get_axes()) == 6 + 5  # 2 + 2 per property panels, a colour bar on all but one
    _labelled(fig)


def test_region_colours_pale_where_the_posterior_is_unsure():
    from matplotlib import colormaps

    fig = plot_region_map(_grid())
    rgb = fig.get_axes()[0].get_images()[0].get_array()
    sure = np.asarray(colormaps["tab10"](0))[:3]
    np.testing.assert_allclose(rgb[5, 0], sure)  # x1 = -1: region 0 with probability 1
    unsure = rgb[5, -1]  # x1 = 1: 50/50 -> 35 % colour, 65 % white
    np.testing.assert_allclose(unsure, 0.35 * sure + 0.65, atol=1e-12)


def test_figures_draw_into_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    axes = fig.subplots(1, 4)
    assert plot_phase_map(_grid(), ax=axes) is fig
    assert plot_entropy_map(_grid(), ax=axes[1]) is fig
    assert plot_property_map(_grid(), prop="hv0", stat="std", ax=axes[3]) is fig
    with pytest.raises(ValueError, match="4 panel"):
        plot_phase_map(_grid(), ax=axes[:2])


def test_grid_file_and_run_directory_round_trip(tmp_path):
    grid = _grid(n_props=2)
    path = grid.save(tmp_path / "run" / "phasemap_grid")
    loaded = PhaseMapGrid.load(path)
    for name in ("probs", "entropy", "property_mean", "truth", "points", "point_labels"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(grid, name))
    assert loaded.axis_labels == grid.axis_labels and loaded.property_names == ["hv0", "hv1"]
    with pytest.raises(ModelFileError, match="cannot read the run's manifest"):
        read_phase_map_grid(tmp_path / "run")
    write_manifest(tmp_path / "run", "phasemap", files={})
    with pytest.raises(ModelFileError, match="no 'phasemap_grid' file"):
        read_phase_map_grid(tmp_path / "run")
    write_manifest(tmp_path / "run", "phasemap", files={"phasemap_grid": path})
    from_run = read_phase_map_grid(tmp_path / "run")
    np.testing.assert_array_equal(from_run.probs, grid.probs)
    _labelled(plot_phase_map(tmp_path / "run"))


def test_labels_missing_from_a_grid_file_come_from_the_manifest(tmp_path):
    """A grid written by another tool: one property as (n2, n1), labels in the manifest."""
    grid = _grid()
    np.savez(
        tmp_path / "grid.npz", x1=grid.x1, x2=grid.x2, probs=grid.probs,
        property_mean=grid.property_mean[..., 0], property_std=grid.property_std[..., 0],
    )  # fmt: skip
    results = {"axis_labels": ["a [mm]", "b [mm]"], "property_label": "y [a.u.]"}
    write_manifest(tmp_path, "phasemap", files={"phasemap_grid": "grid.npz"}, results=results)
    read = read_phase_map_grid(tmp_path)
    assert read.n_properties == 1 and read.property_mean.shape == (11, 21, 1)
    assert read.axis_labels == ["a [mm]", "b [mm]"] and read.property_labels == ["y [a.u.]"]
    _labelled(plot_phase_map(tmp_path))


def test_a_line_map_draws_probabilities_and_bands():
    x = np.linspace(0, 1, 30)
    p = 1 / (1 + np.exp(-(x - 0.5) / 0.05))
    grid = PhaseMapGrid(
        probs=np.stack([1 - p, p], axis=1), x1=x, property_mean=x[:, None],
        property_std=0.1 + 0 * x[:, None], axis_labels=["T [K]"], property_labels=["y [MPa]"],
    )  # fmt: skip
    assert grid.layout == "line"
    fig = plot_phase_map(grid)
    assert len(fig.get_axes()) == 3
    lines = fig.get_axes()[0].get_lines()
    np.testing.assert_allclose(lines[1].get_ydata(), p)
    _labelled(fig)


def test_predict_grid_is_the_model_on_the_grid(tiny_model):
    grid = predict_grid(tiny_model, ["x", "y"], n=9, units="fraction")
    assert grid.layout == "image" and grid.probs.shape == (9, 9, 2)
    assert grid.axis_labels == ["x [fraction]", "y [fraction]"]
    row = 4  # x2 = the middle of the observed range
    X = np.stack([grid.x1, np.full(9, grid.x2[row])], axis=1)
    pred = tiny_model.predict(X)
    np.testing.assert_allclose(grid.probs[row], pred.probs, rtol=1e-12)
    np.testing.assert_allclose(grid.property_std[row, :, 0], pred.std[:, 0], rtol=1e-12)
