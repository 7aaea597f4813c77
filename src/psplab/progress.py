"""Progress bars for long steps (rich), silent when not attached to a terminal or asked to be."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def progress_enabled() -> bool:
    """Bars are drawn unless ``PSPLAB_NO_PROGRESS`` is set or stderr is not a terminal."""
    if os.environ.get("PSPLAB_NO_PROGRESS"):
        return False
    return sys.stderr.isatty()


def make_progress() -> Progress:
    """A rich ``Progress`` with the columns psplab uses everywhere."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not progress_enabled(),
        transient=False,
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar labelled ``description``."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with make_progress() as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


@contextmanager
def stage(description: str, total: int | None = None) -> Iterator[tuple[Progress, int]]:
    """Context manager yielding ``(progress, task_id)`` for manual ``progress.advance`` calls."""
    with make_progress() as progress:
        task = progress.add_task(description, total=total)
        yield progress, task
