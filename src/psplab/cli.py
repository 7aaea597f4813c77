"""The ``psplab`` command line.

Each sub-package contributes its commands through a ``commands`` module exposing
``register(app: typer.Typer) -> None``; this file only assembles them, so the CLI mirrors the
package layout and modules stay importable on their own.
"""

from __future__ import annotations

import importlib
import os

import typer

app = typer.Typer(
    name="psplab",
    help="Process-structure-property learning for alloys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Order is the data flow; each module registers its own commands.
_COMMAND_MODULES = (
    "psplab.data.commands",  # validate
    "psplab.sim.commands",  # sim pfhub1, sim recipe
    "psplab.measure.commands",  # measure
    "psplab.strength.commands",  # mechanics
    "psplab.generate_commands",  # simulate
    "psplab.models.commands",  # fit, predict, evaluate
    "psplab.models.phasemap.commands",  # phasemap fit, predict, suggest
    "psplab.models.generator.commands",  # generator fit, sample
    "psplab.causal.commands",  # causal
    "psplab.optimize.campaign_commands",  # campaign
    "psplab.optimize.commands",  # optimize
    "psplab.report.commands",  # report, demo
)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only tolerate the command module itself being absent (a sub-package without
            # commands); a missing dependency inside it is a real error.
            if exc.name == name:
                continue
            raise
        module.register(app)
    _wrap_commands(app)


def _wrap_commands(typer_app: typer.Typer) -> None:
    """Give every command (and sub-command) one-line errors with exit 2 (see _cli)."""
    from psplab._cli import one_line_errors

    for info in typer_app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "one_line_errors", False):
            info.callback = one_line_errors(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _wrap_commands(group.typer_instance)


def _print_version(value: bool) -> None:
    if value:
        from psplab import __version__

        typer.echo(f"psplab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error instead of one line."
    ),
) -> None:
    from psplab._cli import set_debug

    set_debug(debug)


_register_all()


def main() -> None:
    """Entry point of the ``psplab`` script."""
    # Keep JAX on the CPU and quiet unless the user chose otherwise.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from psplab._cli import run_app

    run_app(app)


if __name__ == "__main__":
    main()
