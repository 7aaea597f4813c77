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
    "psplab.models.sage_commands",  # phasemap
    "psplab.causal.commands",  # causal
    "psplab.optimize.commands",  # campaign, optimize
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


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        from psplab import __version__

        typer.echo(__version__)
        raise typer.Exit()


_register_all()


def main() -> None:
    """Entry point of the ``psplab`` script."""
    # Keep JAX on the CPU and quiet unless the user chose otherwise.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app()


if __name__ == "__main__":
    main()
