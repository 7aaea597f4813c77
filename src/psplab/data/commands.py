"""``psplab validate``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def validate_command(
    spec: Path = typer.Argument(..., help="Dataset spec (TOML)."),
) -> None:
    """Check a dataset against its spec: print a summary, or one line per problem (exit 2)."""
    from psplab.data.dataset import validate

    dataset, problems = validate(spec)
    if problems:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        for problem in problems:
            err.print(f"{spec}: {problem}", markup=False)
        raise typer.Exit(code=2)
    assert dataset is not None
    summary = dataset.summary()
    console = Console(highlight=False)
    console.print(
        f"[bold]{summary['name']}[/]: {summary['rows']} rows, "
        f"{summary['n_processing']} processing, {summary['n_structure']} structure, "
        f"{summary['n_property']} property columns"
    )
    table = Table("column", "role", "tier", "unit", "min", "max", "missing")
    for col in summary["columns"]:
        table.add_row(
            col["name"],
            col["role"],
            "" if col["tier"] is None else str(col["tier"]),
            col["unit"] or "",
            "" if col.get("min") is None else f"{col['min']:.4g}",
            "" if col.get("max") is None else f"{col['max']:.4g}",
            str(col["missing"]),
        )
    console.print(table)
    dropped = {k: v for k, v in summary["dropped_rows_per_target"].items() if v}
    for name, count in dropped.items():
        console.print(f"target {name!r}: {count} rows with a missing value are dropped for it")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
