"""``psplab campaign init|suggest|observe|status|export``: crash-safe experiment campaigns."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from psplab._cli import echo_json, fail

campaign_app = typer.Typer(
    name="campaign",
    help="Crash-safe experiment campaigns: suggest recipes, record results (SQLite).",
    no_args_is_help=True,
)


def _fail(lines: str | list[str]) -> None:
    fail(lines)


def _open(db: Path, *, read_only: bool = False):
    from psplab.optimize.store import CampaignStore

    return CampaignStore(db, read_only=read_only)


def _fixed_values(dspec, fixed_raw: dict[str, str]) -> dict:
    """``--fix NAME=VALUE`` values typed by the spec's column kinds; exits 2 on a bad one."""
    fixed: dict = {}
    problems = []
    for name, value in fixed_raw.items():
        try:
            col = dspec.column(name)
        except KeyError:
            problems.append(f"--fix {name}: not a column of the spec")
            continue
        if col.is_numeric:
            try:
                fixed[name] = float(value)
            except ValueError:
                problems.append(f"--fix {name}={value!r}: not a number")
        else:
            fixed[name] = value
    if problems:
        _fail(problems)
    return fixed


def _parse_pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            _fail(f"{what} {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        out[name.strip()] = value.strip()
    return out


@campaign_app.command("init")
def init_command(
    spec: Path = typer.Argument(
        ..., help="Dataset spec (TOML) describing the experiment's columns."
    ),
    db: Path = typer.Option(..., "--db", help="Campaign database (SQLite) to create."),
    objective: str = typer.Option(
        ..., "--objective", help="Column to optimize (property/structure)."
    ),
    minimize: bool = typer.Option(False, "--minimize", help="Minimize instead of maximize."),
    model: str = typer.Option(
        "gp", "--model", help="Surrogate model: bhn | gp (any psplab model)."
    ),
    acquisition: str = typer.Option("ei", "--acquisition", help="ei | ucb | ts."),
    fix: list[str] = typer.Option(None, "--fix", help="Hold a processing column: NAME=VALUE."),
    constraint: list[str] = typer.Option(
        None, "--constraint", help='Linear constraint, e.g. "a_wt_pct + b_wt_pct <= 6".'
    ),
    integer: list[str] = typer.Option(None, "--integer", help="Integer-valued processing column."),
    choices: list[str] = typer.Option(
        None, "--choices", help="Levels of a categorical column: NAME=a,b,c."
    ),
    log: list[str] = typer.Option(None, "--log", help="Search this column on a log scale."),
    seed: int = typer.Option(0, "--seed", help="Seed of the campaign's suggestions."),
) -> None:
    """Start a campaign from a dataset spec (its processing columns and bounds are the search)."""
    from psplab.optimize.store import CampaignError, CampaignStore

    dspec = _init_spec(spec, db, objective, model, acquisition)
    try:
        space = _search_space(dspec, fix, choices, constraint, integer, log)
        store = CampaignStore.create(
            db,
            dspec,
            objective,
            minimize=minimize,
            model=model,
            space=space,
            acquisition=acquisition,
            seed=seed,
        )
    except (ValueError, CampaignError) as exc:
        _fail(str(exc).splitlines())
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"campaign [bold]{escape(dspec.name)}[/] in {escape(str(db))}: "
        f"{'minimize' if minimize else 'maximize'} {escape(objective)} over "
        f"{escape(', '.join(space.names))} (model {model}, {acquisition})"
    )
    store.close()


def _init_spec(spec: Path, db: Path, objective: str, model: str, acquisition: str):
    """The spec of a new campaign, after every option is checked (exits 2 listing problems)."""
    from psplab.data.spec import DatasetSpec, SpecError
    from psplab.models import MODEL_NAMES
    from psplab.optimize.acquisition import ACQUISITIONS
    from psplab.optimize.store import check_campaign_spec

    problems = []
    if model not in (*MODEL_NAMES, "fastgp"):
        problems.append(f"--model {model!r} is not one of {', '.join(MODEL_NAMES)}")
    if acquisition not in ACQUISITIONS:
        problems.append(f"--acquisition {acquisition!r} is not one of {', '.join(ACQUISITIONS)}")
    if db.exists():
        problems.append(f"--db {db}: file exists (a campaign database is created only once)")
    try:
        dspec = DatasetSpec.from_toml(spec)
    except SpecError as exc:
        problems.extend(f"{spec}: {p}" for p in exc.problems)
        dspec = None
    if problems:
        _fail(problems)
    check_campaign_spec(dspec, objective)
    return dspec


def _search_space(dspec, fix, choices, constraint, integer, log):
    """The search space the ``init`` options describe."""
    from psplab.optimize.space import SearchSpace

    levels = {
        k: [s.strip() for s in v.split(",") if s.strip()]
        for k, v in _parse_pairs(choices, "--choices").items()
    }
    return SearchSpace.from_spec(
        dspec,
        fixed=_fixed_values(dspec, _parse_pairs(fix, "--fix")),
        constraints=constraint or [],
        integers=integer or [],
        choices=levels,
        log=log or [],
    )


@campaign_app.command("suggest")
def suggest_command(
    db: Path = typer.Option(..., "--db", help="Campaign database."),
    n: int = typer.Option(1, "--n", help="Number of recipes to suggest (a diverse batch)."),
    json_out: Path = typer.Option(None, "--json", help="Also write the suggestions as JSON."),
) -> None:
    """Suggest the next recipes from everything stored; print and store them with ids."""
    from psplab.limits import require_at_most
    from psplab.optimize.store import MAX_SUGGESTIONS, suggest_and_store

    if n < 1:
        _fail(f"--n must be >= 1, got {n}")
    require_at_most("--n", n, MAX_SUGGESTIONS, "suggest the next batch, observe, then ask again")
    store = _open(db)
    try:
        ids, suggestions = suggest_and_store(store, n)
    except ValueError as exc:
        _fail(str(exc).splitlines())
    names = store.space.names
    table = Table("suggestion_id", *[escape(n) for n in names], "acquisition", "predicted")
    rows = []
    for sid, s in zip(ids, suggestions, strict=True):
        pred = f"{s.predicted_mean[0]:.4g} ± {s.predicted_std[0]:.2g}" if s.predicted_mean else ""
        cells = [escape(_fmt(s.params[k])) for k in names]
        table.add_row(str(sid), *cells, s.acquisition, pred)
        rows.append({"suggestion_id": sid, **s.to_dict()})
    Console(highlight=False, soft_wrap=True).print(table)
    if json_out is not None:
        echo_json(rows, json_out)  # strict JSON: a NaN score is written as null
    store.close()


@campaign_app.command("observe")
def observe_command(
    results: Path = typer.Argument(..., help="Results table (CSV or Parquet)."),
    db: Path = typer.Option(..., "--db", help="Campaign database."),
) -> None:
    """Record measured results: the spec's processing columns, the objective, any other measured
    columns, optional suggestion_id. Valid rows are committed before the command returns; each
    invalid row is reported (column and row) and left out (exit code 2). A row already stored
    (same values, from any file) is skipped and counted."""
    from psplab.data.spec import SpecError

    store = _open(db)
    try:
        result = store.observe_file(results)
    except SpecError as exc:
        _fail([f"{results}: {p}" for p in exc.problems])
    console = Console(highlight=False, soft_wrap=True)
    skipped = result.skipped_duplicates
    console.print(
        f"{results}: stored {len(result.stored)} observation(s)"
        + (f", skipped {skipped} row(s) already stored (same values)" if skipped else "")
    )
    store.close()
    if result.rejected:
        lines = [f"{results}: {p}" for p in result.rejected]
        if result.n_rejected_rows:
            lines.append(
                f"{results}: rejected {result.n_rejected_rows} row(s); the other rows were stored"
            )
        _fail(lines)


@campaign_app.command("status")
def status_command(
    db: Path = typer.Option(..., "--db", help="Campaign database."),
    json_out: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Counts of observations and suggestions, and the best observation so far (read-only)."""
    store = _open(db, read_only=True)
    st = store.status()
    store.close()
    if json_out:
        echo_json(st)
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"[bold]{escape(str(st['spec']))}[/] ({escape(st['db'])}, schema "
        f"v{st['schema_version']}): {st['direction']} {escape(st['objective'])} with "
        f"{escape(str(st['model']))}"
    )
    console.print(
        f"{st['observations']} observation(s); {st['suggestions']} suggestion(s), {st['pending']} pending"
    )
    if st["best"]:
        table = Table("best", "value")
        for k, v in st["best"].items():
            table.add_row(escape(k), escape(_fmt(v)))
        console.print(table)


@campaign_app.command("export")
def export_command(
    db: Path = typer.Option(..., "--db", help="Campaign database."),
    out: Path = typer.Option(..., "--out", help="Output file: .csv or .parquet."),
) -> None:
    """Write every stored observation (exact values) to CSV or Parquet by extension (read-only)."""
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        _fail(f"--out {out}: extension must be .csv or .parquet")
    if out.resolve() == db.resolve():
        _fail(f"--out {out}: is the database itself")
    store = _open(db, read_only=True)
    store.export(out)
    n = len(store.observations())
    store.close()
    Console(highlight=False, soft_wrap=True).print(f"wrote {n} observation(s) to {out}")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.5g}"
    return str(v)


def register(app: typer.Typer) -> None:
    """Add ``psplab campaign ...`` to ``app``."""
    app.add_typer(campaign_app, name="campaign")
