"""Progress of long steps: a rich bar on a terminal, plain lines in logs, or nothing.

Where stderr is a terminal, :func:`make_progress` gives a rich progress bar. Where it is not
(a CI log, ``nohup``, a pipe), a bar would print nothing useful, so a plain line goes to stderr
every :data:`PLAIN_INTERVAL_S` seconds (``PSPLAB_PROGRESS_INTERVAL_S`` to change it) instead::

    psplab: simulate 12/40 (30%), elapsed 0:01:02, ETA 0:02:25

and one when a stage finishes. ``PSPLAB_NO_PROGRESS=1`` silences both (the tests set it;
so do Dask workers, whose output would interleave).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, TypeVar

__all__ = [
    "PLAIN_INTERVAL_S",
    "PlainProgress",
    "format_duration",
    "make_progress",
    "plain_interval_s",
    "progress_enabled",
    "progress_mode",
    "stage",
    "track",
]

T = TypeVar("T")

# Seconds between two plain progress lines of one stage: often enough to see a job is alive,
# rarely enough that a log of an hour-long run stays readable. PSPLAB_PROGRESS_INTERVAL_S
# overrides it.
PLAIN_INTERVAL_S = 10.0


def plain_interval_s() -> float:
    """Seconds between plain progress lines: ``PSPLAB_PROGRESS_INTERVAL_S`` or the default.

    Returns
    -------
    float
    """
    raw = os.environ.get("PSPLAB_PROGRESS_INTERVAL_S", "")
    try:
        value = float(raw)
    except ValueError:
        return PLAIN_INTERVAL_S
    return value if value >= 0 else PLAIN_INTERVAL_S


def progress_mode() -> str:
    """How progress is shown: ``"bar"``, ``"lines"`` or ``"off"``.

    Returns
    -------
    str
        ``"off"`` when ``PSPLAB_NO_PROGRESS`` is set (to anything but ``""`` or ``"0"``),
        ``"bar"`` when stderr is a terminal, else ``"lines"``.
    """
    if os.environ.get("PSPLAB_NO_PROGRESS", "") not in ("", "0"):
        return "off"
    try:
        return "bar" if sys.stderr.isatty() else "lines"
    except (AttributeError, ValueError):  # a closed or replaced stderr
        return "lines"


def progress_enabled() -> bool:
    """Whether any progress is shown (see :func:`progress_mode`).

    Returns
    -------
    bool
    """
    return progress_mode() != "off"


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` of a duration.

    Parameters
    ----------
    seconds : float
        The duration; negative or non-finite values give ``"?"``.

    Returns
    -------
    str
    """
    if not (seconds >= 0 and seconds != float("inf")):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0.0
    started: float = 0.0
    last_line: float = 0.0
    printed: bool = False
    finished: bool = False


class PlainProgress:
    """The part of ``rich.progress.Progress`` psplab uses, printing plain lines to a stream.

    A line per task at most every ``interval_s`` seconds, when it advances, and a last line
    when it finishes (if a line was printed before or the task took ``interval_s`` or more).

    Parameters
    ----------
    interval_s : float
        Least time between two lines of one task.
    stream : file, optional
        Where lines go (default: ``sys.stderr`` at the time of writing).
    clock : callable, optional
        Time source in seconds (default ``time.monotonic``; tests pass a fake).
    """

    def __init__(
        self,
        interval_s: float = PLAIN_INTERVAL_S,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.interval_s = interval_s
        self.stream = stream
        self.clock = clock
        self._tasks: dict[int, _Task] = {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            for task in self._tasks.values():
                self._finish(task)

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        """Start a task; returns its id (as rich does).

        Parameters
        ----------
        description : str
            The stage's name, shown at the start of each line.
        total : float, optional
            Units of work, when known.

        Returns
        -------
        int
        """
        now = self.clock()
        task_id = len(self._tasks)
        self._tasks[task_id] = _Task(description, total, started=now, last_line=now)
        return task_id

    def advance(self, task_id: int, advance: float = 1) -> None:
        """Count ``advance`` more units of work done on ``task_id``.

        Parameters
        ----------
        task_id : int
            From :meth:`add_task`.
        advance : float
            Units done.
        """
        task = self._tasks[task_id]
        task.completed += advance
        self._maybe_print(task)

    def update(
        self,
        task_id: int,
        *,
        description: str | None = None,
        total: float | None = None,
        completed: float | None = None,
        advance: float | None = None,
        **_: Any,
    ) -> None:
        """Change a task's description, total or count (the keywords rich accepts).

        Other keywords of rich's ``Progress.update`` are accepted and ignored.

        Parameters
        ----------
        task_id : int
            From :meth:`add_task`.
        description : str, optional
            New stage name.
        total, completed, advance : float, optional
            New total, new count, or units to add.
        """
        task = self._tasks[task_id]
        if description is not None:
            task.description = description
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        if advance is not None:
            task.completed += advance
        self._maybe_print(task)

    def line(self, task_id: int) -> str:
        """The progress line of a task as it stands.

        Parameters
        ----------
        task_id : int
            From :meth:`add_task`.

        Returns
        -------
        str
        """
        return self._line(self._tasks[task_id])

    # --- internals ---------------------------------------------------------------------
    def _line(self, task: _Task) -> str:
        elapsed = self.clock() - task.started
        done = f"{task.completed:g}"
        # Stages named after a command ("psplab demo: models") keep their own prefix.
        prefix = "" if task.description.startswith("psplab") else "psplab: "
        text = f"{prefix}{task.description} {done}"
        if task.total:
            text += f"/{task.total:g} ({100.0 * task.completed / task.total:.0f}%)"
        text += f", elapsed {format_duration(elapsed)}"
        if task.total and 0 < task.completed < task.total:
            eta = elapsed * (task.total - task.completed) / task.completed
            text += f", ETA {format_duration(eta)}"
        elif task.total and task.completed >= task.total:
            text += ", done"
        return text

    def _write(self, task: _Task) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        print(self._line(task), file=stream, flush=True)
        task.last_line = self.clock()
        task.printed = True

    def _maybe_print(self, task: _Task) -> None:
        if task.total is not None and task.completed >= task.total:
            self._finish(task)
        elif self.clock() - task.last_line >= self.interval_s:
            self._write(task)

    def _finish(self, task: _Task) -> None:
        if task.finished:
            return
        task.finished = True
        if task.printed or self.clock() - task.started >= self.interval_s:
            self._write(task)


def make_progress() -> Any:
    """Progress display for the current output (see :func:`progress_mode`).

    Returns
    -------
    rich.progress.Progress or PlainProgress
        A context manager with ``add_task``, ``advance`` and ``update``: a rich bar on a
        terminal, :class:`PlainProgress` otherwise, a disabled rich bar when switched off.
    """
    mode = progress_mode()
    if mode == "lines":
        return PlainProgress(interval_s=plain_interval_s())
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=mode == "off",
        transient=False,
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` showing progress labelled ``description``.

    Parameters
    ----------
    items : iterable
        What to iterate over.
    description : str
        The stage's name.
    total : int, optional
        Number of items (default: ``len(items)`` when it has one).

    Yields
    ------
    object
        The items, unchanged.
    """
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
def stage(description: str, total: int | None = None) -> Iterator[tuple[Any, int]]:
    """Context manager yielding ``(progress, task_id)`` for manual ``progress.advance`` calls.

    Parameters
    ----------
    description : str
        The stage's name.
    total : int, optional
        Units of work.

    Yields
    ------
    tuple
        The progress display (:func:`make_progress`) and the stage's task id.
    """
    with make_progress() as progress:
        task = progress.add_task(description, total=total)
        yield progress, task
