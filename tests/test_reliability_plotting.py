"""User strings in figures are drawn literally: no mathtext crash, no silent formula."""

from __future__ import annotations

import io

import matplotlib
import pytest

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from psplab.plotting import literal_labels, safe_text  # noqa: E402

NASTY = ["price $\\foo{$", "a $x$ b", "$", "cost [$/kg]", "50 % \\$", "_hidden", "{}^"]


def _draw(fig: Figure) -> None:
    fig.savefig(io.BytesIO(), format="png")


def test_an_unparsable_name_crashes_matplotlib_unless_made_safe():
    fig = Figure()
    ax = fig.subplots()
    ax.set_xlabel(NASTY[0])
    with pytest.raises(ValueError):
        _draw(fig)
    ax.set_xlabel(safe_text(NASTY[0]))
    _draw(fig)


@pytest.mark.parametrize("name", NASTY)
def test_safe_text_draws_every_string_literally(name):
    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], label=safe_text(name))
    ax.set_title(safe_text(name))
    ax.set_xticks([0, 1], [safe_text(name), "b"])  # categorical tick labels
    ax.legend()
    _draw(fig)
    assert safe_text(safe_text(name)) == safe_text(name)  # escaping twice changes nothing


@pytest.mark.parametrize("name", NASTY)
def test_literal_labels_is_a_net_for_a_finished_figure(name):
    fig = Figure()
    ax = fig.subplots()
    ax.plot([1, 10], [1, 100], label=name)
    ax.set_xlabel(name)
    ax.set_ylabel(safe_text(name))
    ax.set_title(name)
    ax.text(0.5, 0.5, name)
    ax.set_yscale("log")  # matplotlib's own mathtext tick labels stay as they are
    ax.legend(title=name)
    fig.suptitle(name)
    literal_labels(fig)
    _draw(fig)
    shown = name.replace("\\$", "$")  # a written escape is read as one (drawn literally)
    assert ax.get_xlabel() == shown and ax.get_ylabel().lstrip("\u200b") == shown
