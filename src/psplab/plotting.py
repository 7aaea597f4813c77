"""Safe text in figures: a user's column name is drawn as written, never parsed as mathtext.

matplotlib reads any text holding two ``$`` signs as a TeX-like formula and raises at draw time
when the formula is not valid (a column named ``price $\\foo{$`` makes ``savefig`` fail), or
silently draws something else (``a $x$ b``). Every plot that puts a user's string (a column
name, a unit, a categorical level, a file name) into a figure passes it through
:func:`safe_text`; :func:`literal_labels` is a net for a finished figure.
"""

from __future__ import annotations

from typing import Any

__all__ = ["literal_labels", "safe_text"]


def safe_text(text: Any) -> str:
    """``text`` as a string that matplotlib draws literally.

    Parameters
    ----------
    text : object
        A user's string (or anything with ``str``).

    Returns
    -------
    str
        The text with every ``$`` escaped (``\\$``), so mathtext never parses it; a leading
        underscore gets an invisible zero-width space before it (matplotlib leaves labels that
        start with ``_`` out of legends).
    """
    out = str(text).replace("\\$", "$").replace("$", "\\$")
    return "\u200b" + out if out.startswith("_") else out


def literal_labels(figure: Any) -> Any:
    """Turn mathtext parsing off for every title, axis label, legend entry and annotation.

    Tick labels are left alone (matplotlib's own log-axis labels are mathtext); categorical
    tick labels made from user strings must go through :func:`safe_text` where they are set.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        A finished figure.

    Returns
    -------
    matplotlib.figure.Figure
        The same figure, for chaining.
    """
    texts = list(figure.texts)
    if getattr(figure, "_suptitle", None) is not None:
        texts.append(figure._suptitle)
    for legend in figure.legends:
        texts += list(legend.get_texts()) + [legend.get_title()]
    for ax in figure.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        texts += [
            getattr(ax, name) for name in ("_left_title", "_right_title") if hasattr(ax, name)
        ]
        legend = ax.get_legend()
        if legend is not None:
            texts += list(legend.get_texts()) + [legend.get_title()]
    for text in texts:
        # Drawn literally now, so an escape made by safe_text would show: undo it.
        text.set_text(text.get_text().replace("\\$", "$"))
        text.set_parse_math(False)
    return figure
