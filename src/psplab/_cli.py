"""Helpers shared by every ``psplab`` command: error output, exit codes, JSON and tables.

Commands are thin: they parse options, call a public function, and print. A
:class:`psplab.errors.PsplabError` raised anywhere below a command becomes one line per problem on
stderr and exit status 2 (see :func:`run_app`); anything unexpected becomes one line too, with the
traceback only under ``psplab --debug``.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

import typer

__all__ = [
    "MAX_ERROR_LINES",
    "echo_json",
    "err_console",
    "debug_enabled",
    "fail",
    "one_line_errors",
    "out_console",
    "run_app",
    "set_debug",
]

# Cap on printed problem lines: a table with 20 000 bad cells prints a sample and a count.
MAX_ERROR_LINES = 20

_DEBUG = False


def set_debug(value: bool) -> None:
    """Make :func:`run_app` re-raise errors with their traceback (``psplab --debug``)."""
    global _DEBUG
    _DEBUG = bool(value)


def debug_enabled() -> bool:
    """Whether ``psplab --debug`` asked for tracebacks."""
    return _DEBUG


def one_line_errors(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so that a :class:`psplab.errors.PsplabError` ends it with exit 2.

    The problems are printed one per line, as :func:`run_app` does; wrapping the commands
    themselves gives the same result where the app runs without :func:`run_app` (tests with
    ``typer.testing.CliRunner``, other programs embedding the app).
    """
    from psplab.errors import PsplabError

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except PsplabError as exc:
            if _DEBUG:
                raise
            fail(exc.lines)

    wrapper.one_line_errors = True  # type: ignore[attr-defined]
    return wrapper


def err_console():
    """A rich console on stderr that prints text as given (no markup, no highlighting)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def out_console():
    """A rich console on stdout for tables and summaries."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def print_problems(lines: Iterable[object], limit: int = MAX_ERROR_LINES) -> None:
    """Print one line per problem on stderr, at most ``limit`` of them and a count of the rest."""
    err = err_console()
    lines = [str(line) for line in lines] or ["error"]
    for line in lines[:limit]:
        err.print(line)
    if len(lines) > limit:
        err.print(f"... and {len(lines) - limit} more problem(s)")


def fail(lines: str | Iterable[object], code: int = 2) -> NoReturn:
    """Print ``lines`` (one per problem) on stderr and exit with ``code``."""
    print_problems([lines] if isinstance(lines, str) else lines)
    raise typer.Exit(code=code)


def echo_json(obj: Any, path: str | Path | None = None) -> None:
    """Write ``obj`` as strict JSON (NaN and infinity become ``null``) to ``path`` or stdout."""
    text = json.dumps(_finite(obj), indent=2, allow_nan=False, default=_default)
    if path is None:
        typer.echo(text)
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:  # NumPy scalar
        return _finite(obj.item())
    if hasattr(obj, "tolist"):
        return _finite(obj.tolist())
    return obj


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def run_app(app: typer.Typer) -> None:
    """Run the typer ``app``; turn every error into one line on stderr and exit status 2."""
    from psplab.errors import PsplabError

    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print_problems(["interrupted"])
        sys.exit(130)
    except PsplabError as exc:
        if _DEBUG:
            raise
        print_problems(exc.lines)
        sys.exit(2)
    except MemoryError:
        if _DEBUG:
            raise
        print_problems(["out of memory: the request is larger than this machine can hold"])
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - the last guard: no traceback reaches a user
        if _DEBUG:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print_problems(
            [f"error: {type(exc).__name__}: {message} (run `psplab --debug ...` for the traceback)"]
        )
        sys.exit(2)
