"""A tiny, dependency-free HTML writer for self-contained reports.

Everything a report needs is inline: the CSS in a ``<style>`` element and every image as a
``data:image/png;base64`` URI, so one ``report.html`` can be mailed, archived or opened offline
and shows the same thing everywhere. No JavaScript is used.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any


def escape(text: Any) -> str:
    """HTML-escape any value's ``str``.

    Parameters
    ----------
    text : object
        Any value (a user's column name, a path, a number).

    Returns
    -------
    str
        Text safe inside an element or a quoted attribute.
    """
    return html.escape(str(text), quote=True)


@dataclass
class Figure:
    """A rendered figure: PNG bytes, a caption saying what it shows, and alt text.

    ``artists`` holds the ``gid`` of every artist the figure drew (see
    :func:`psplab.report.figures.render`), empty for an image embedded as a file.
    """

    png: bytes
    caption: str
    alt: str = ""
    artists: tuple[str, ...] = ()

    def to_html(self, number: int) -> str:
        """The figure as a ``<figure>`` with an inline PNG and a numbered caption.

        Parameters
        ----------
        number : int
            The figure's number in the report.

        Returns
        -------
        str
            HTML.
        """
        data = base64.b64encode(self.png).decode("ascii")
        alt = escape(self.alt or self.caption)
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
            f"<figcaption><b>Figure {number}.</b> {escape(self.caption)}</figcaption></figure>"
        )


@dataclass
class Table:
    """A table: header, rows of cells (already formatted or numbers), optional caption.

    ``highlight`` marks cells ``(row, col)`` to be shown in bold (e.g. the best model).
    """

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""
    highlight: set[tuple[int, int]] = field(default_factory=set)

    def to_html(self) -> str:
        """The table as HTML, numbers formatted by :func:`format_number`.

        Returns
        -------
        str
            HTML.
        """
        parts = ["<table>"]
        if self.caption:
            parts.append(f"<caption>{escape(self.caption)}</caption>")
        parts.append("<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in self.header))
        parts.append("</tr></thead><tbody>")
        for i, row in enumerate(self.rows):
            cells = []
            for j, cell in enumerate(row):
                text = escape(format_number(cell))
                if (i, j) in self.highlight:
                    text = f"<b>{text}</b>"
                cls = ' class="num"' if isinstance(cell, int | float) else ""
                cells.append(f"<td{cls}>{text}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
        return "".join(parts)


def format_number(value: Any) -> str:
    """A cell as text: numbers with 4 significant digits, ``None``/NaN as an en dash.

    Parameters
    ----------
    value : object
        The cell.

    Returns
    -------
    str
        The text (booleans as yes/no, other text unchanged).
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "–"
        return f"{value:.4g}"
    return str(value)


@dataclass
class Section:
    """One report section: a title, an intro paragraph and blocks (figures, tables, HTML text)."""

    key: str
    title: str
    intro: str = ""
    blocks: list[Figure | Table | str] = field(default_factory=list)

    def add(self, block: Figure | Table | str) -> Section:
        """Append a figure, a table or an HTML block.

        Parameters
        ----------
        block : Figure, Table or str
            The block (a string is inserted as HTML: escape user text first).

        Returns
        -------
        Section
            ``self``, so that calls can be chained.
        """
        self.blocks.append(block)
        return self

    @property
    def figures(self) -> list[Figure]:
        """The figures of the section, in order."""
        return [b for b in self.blocks if isinstance(b, Figure)]


def paragraph(text: str) -> str:
    """An escaped ``<p>`` block.

    Parameters
    ----------
    text : str
        Plain text; ``<``, ``>`` and ``&`` are escaped.

    Returns
    -------
    str
        HTML.
    """
    return f"<p>{escape(text)}</p>"


def code_block(text: str) -> str:
    """An escaped ``<pre><code>`` block.

    Parameters
    ----------
    text : str
        Code or a command line.

    Returns
    -------
    str
        HTML.
    """
    return f"<pre><code>{escape(text)}</code></pre>"


def _css() -> str:
    return resources.files("psplab.report").joinpath("report.css").read_text(encoding="utf-8")


def render_document(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    """The whole report as one HTML string with a table of contents and numbered figures.

    Parameters
    ----------
    title : str
        The report's title.
    sections : sequence of Section
        The sections, in order.
    subtitle : str
        A line under the title.

    Returns
    -------
    str
        A complete, self-contained HTML document.
    """
    toc = "".join(f'<li><a href="#{escape(s.key)}">{escape(s.title)}</a></li>' for s in sections)
    body: list[str] = []
    number = 0
    for section in sections:
        body.append(f'<section id="{escape(section.key)}"><h2>{escape(section.title)}</h2>')
        if section.intro:
            body.append(paragraph(section.intro))
        for block in section.blocks:
            if isinstance(block, Figure):
                number += 1
                body.append(block.to_html(number))
            elif isinstance(block, Table):
                body.append(block.to_html())
            else:
                body.append(block)
        body.append("</section>")
    sub = f'<p class="subtitle">{escape(subtitle)}</p>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_css()}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>{sub}</header>"
        f"<nav><h2>Contents</h2><ol>{toc}</ol></nav><main>{''.join(body)}</main>"
        "</body></html>\n"
    )
