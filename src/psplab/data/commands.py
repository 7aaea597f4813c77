"""``psplab validate`` and ``psplab spec init``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

spec_app = typer.Typer(
    name="spec",
    help="Write dataset specs: `psplab spec init DATA.csv` drafts one from the table.",
    no_args_is_help=True,
)


def validate_command(
    spec: Path = typer.Argument(..., help="Dataset spec (TOML)."),
) -> None:
    """Check a dataset against its spec: print a summary, or one line per problem (exit 2)."""
    from rich.markup import escape
    from rich.table import Table

    from psplab._cli import fail, out_console
    from psplab.data.dataset import validate

    dataset, problems = validate(spec)
    if problems:
        fail([f"{spec}: {problem}" for problem in problems])
    assert dataset is not None
    summary = dataset.summary()
    console = out_console()
    console.print(
        f"[bold]{escape(summary['name'])}[/]: {summary['rows']} rows, "
        f"{summary['n_processing']} processing, {summary['n_structure']} structure, "
        f"{summary['n_property']} property columns"
    )
    table = Table("column", "role", "tier", "unit", "min", "max", "missing")
    for col in summary["columns"]:
        table.add_row(
            escape(col["name"]),  # a user's column name is text, never rich markup
            col["role"],
            "" if col["tier"] is None else str(col["tier"]),
            escape(col["unit"] or ""),
            "" if col.get("min") is None else f"{col['min']:.4g}",
            "" if col.get("max") is None else f"{col['max']:.4g}",
            str(col["missing"]),
        )
    console.print(table)
    dropped = {k: v for k, v in summary["dropped_rows_per_target"].items() if v}
    for name, count in dropped.items():
        console.print(
            escape(f"target {name!r}: {count} rows with a missing value are dropped for it")
        )


@spec_app.command("init")
def spec_init_command(
    data: Annotated[Path, typer.Argument(help="The table (CSV, TSV or Parquet).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Spec file to write (default: DATA with .toml).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Dataset name.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing spec file.")] = False,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Text encoding, e.g. latin-1 (default UTF-8).")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Field separator, e.g. ';'.")
    ] = None,
) -> None:
    """Draft a spec from a table: roles and units guessed from names and values.

    Every guess is marked REVIEW in a comment; check them, then run `psplab validate`.
    """
    from psplab._cli import out_console
    from psplab.data.dataset import validate
    from psplab.data.draft import draft_spec

    target = out if out is not None else data.with_suffix(".toml")
    if target.resolve() == data.resolve():
        target = data.with_name(data.name + ".toml")
    draft = draft_spec(data, name=name, encoding=encoding, delimiter=delimiter)
    draft.write(target, overwrite=force)
    roles = Counter(col.role for col in draft.columns)
    console = out_console()
    console.print(
        f"wrote {target}: {len(draft.columns)} columns ("
        + ", ".join(f"{n} {role}" for role, n in sorted(roles.items()))
        + "); every guess is marked REVIEW"
    )
    _, problems = validate(target)
    if problems:
        console.print(
            f"`psplab validate {target}` reports {len(problems)} problem(s) in the data, "
            f"e.g. {problems[0]}"
        )
    else:
        console.print(f"`psplab validate {target}` accepts the table as drafted")


def register(app: typer.Typer) -> None:
    """Add ``psplab validate`` and ``psplab spec`` to the ``psplab`` typer app."""
    app.command("validate")(validate_command)
    app.add_typer(spec_app, name="spec")
