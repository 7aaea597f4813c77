"""The simulated-optimization pipeline: settings and resources checked before any simulation,
one line per problem from the command, and the plots it draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from psplab.cli import app
from psplab.errors import InputError, ResourceError
from psplab.optimize import plots, simloop
from psplab.optimize.space import Parameter, SearchSpace
from psplab.plotting import pyplot


@pytest.fixture()
def no_simulation(monkeypatch):
    """Fail the test if anything tries to simulate: the checks must come first."""

    def boom(*args, **kwargs):
        raise AssertionError("a simulation started before the settings were checked")

    monkeypatch.setattr(simloop.SimulatedObjective, "__call__", boom)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": 10**9}, "budget 1e+09 is above the limit of 10000"),
        ({"grid": 100_000}, "grid 100000 with budget 30 needs about"),
        ({"batch_size": 50, "budget": 10}, "batch_size must be between 1 and the budget"),
        ({"family": "brass"}, "family 'brass' is not one of"),
        ({"second_objective": "colour"}, "second_objective 'colour' is not one of"),
        ({"model": "svm", "acquisition": "pi"}, "model 'svm' is not one of"),
    ],
)
def test_bad_settings_are_refused_before_any_simulation(no_simulation, kwargs, message):
    with pytest.raises(InputError) as info:
        simloop.optimize_simulated(**kwargs)
    assert any(message in line for line in info.value.lines), info.value.lines
    if "above the limit" in message or "needs about" in message:
        assert isinstance(info.value, ResourceError)


def test_memory_estimate_grows_with_grid_budget_and_mechanics():
    small = simloop.simulated_memory_bytes(64, 30, 5)
    # The simulation (grid²) dominates at small budgets: 8x the grid, ~64x the memory.
    assert simloop.simulated_memory_bytes(512, 30, 5) > 40 * small
    assert simloop.simulated_memory_bytes(64, 3000, 5) > simloop.simulated_memory_bytes(64, 30, 5)
    assert simloop.simulated_memory_bytes(64, 30, 5, mechanics=True) > small


def test_optimize_command_resource_errors_exit_2_with_one_line(no_simulation, tmp_path):
    runner = CliRunner()
    r = runner.invoke(
        app, ["optimize", "--simulate", "--out", str(tmp_path), "--budget", "1000000000"]
    )
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        "--budget 1e+09 is above the limit of 10000: each evaluation is a phase-field simulation"
    ]
    r = runner.invoke(app, ["optimize", "--simulate", "--out", str(tmp_path), "--grid", "100000"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert r.output.startswith("--grid 100000 with --budget 30 needs about")
    assert not (tmp_path / "manifest.json").exists()


def test_best_so_far_ignores_failed_evaluations():
    v = [np.nan, 3.0, 1.0, np.nan, 5.0]
    np.testing.assert_array_equal(plots.best_so_far(v), [np.nan, 3, 3, 3, 5])
    np.testing.assert_array_equal(plots.best_so_far(v, maximize=False), [np.nan, 3, 1, 1, 1])
    assert simloop.best_so_far is plots.best_so_far


def test_plots_draw_into_given_axes_and_return_the_figure():
    space = SearchSpace(
        [
            Parameter("a", "continuous", 0, 1, unit="s"),
            Parameter("b", "continuous", 1, 100, log=True),
        ]
    )
    history = pd.DataFrame(
        {
            "evaluation": [1, 2, 3],
            "a": [0.1, 0.5, 0.9],
            "b": [2.0, 20.0, 50.0],
            "objective": [1, 3, 2],
        }
    )
    fig, axes = pyplot().subplots(2, 2)
    flat = axes.ravel()
    assert plots.best_so_far_plot({"bo": [1, 3, 2]}, ylabel="y [MPa]", ax=flat[0]) is fig
    steps = flat[0].lines[0]
    np.testing.assert_array_equal(steps.get_ydata(), [1, 3, 3])
    assert plots.recipes_plot(history, space, "objective", ylabel="y", ax=flat[1:3]) is fig
    assert flat[2].get_xscale() == "log" and flat[1].get_xlim() == (0.0, 1.0)
    Y = np.array([[1.0, 1.0], [2.0, 3.0], [3.0, 2.0], [0.5, 0.5]])
    assert plots.pareto_plot(Y, [True, True], ["y1", "y2"], ax=flat[3]) is fig
    front = flat[3].lines[1]
    np.testing.assert_array_equal(front.get_xdata(), [2.0, 3.0])  # the two non-dominated points
    pyplot().close(fig)
    new = plots.recipes_plot(history, space, "objective", ylabel="y")
    assert sum(ax.get_visible() for ax in new.axes) == 3  # two panels and the colour bar
    pyplot().close(new)


def test_optimize_refuses_an_out_path_that_is_a_file(no_simulation, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    r = CliRunner().invoke(app, ["optimize", "--simulate", "--out", str(taken)])
    assert r.exit_code == 2
    assert r.output.strip() == f"--out {taken}: exists and is not a folder"
