"""The SQLite file under a campaign: opening it safely, schema migrations, clear errors.

A campaign database is recognised before anything is written to it: a file that is empty, not
SQLite, damaged, or an SQLite database of another program is refused with one line and left
exactly as it was (it is only ever opened read-only for that check). Commands that only read
(``campaign status``, ``campaign export``) keep that read-only connection, so they work on a
read-only file or folder and never migrate or create anything.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from psplab.errors import CampaignError

__all__ = [
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "connect",
    "describe_sqlite_error",
    "migrate",
    "open_campaign_file",
    "row_key",
    "schema_version",
    "sqlite_errors",
    "write_transaction",
]

SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 60_000
_SQLITE_MAGIC = b"SQLite format 3\x00"
_REQUIRED_TABLES = {"campaign", "schema_version", "observations", "observation_values"}


def row_key(values: dict[str, Any], occurrence: int) -> str:
    """Content key of an observation: the same cells (``occurrence``-th time in one file) ->
    the same key, whatever file they came in.

    Parameters
    ----------
    values : dict
        Column -> cell (numbers as floats, text as str); missing cells (None, NaN) are left out,
        so a column absent from one file and empty in another does not make rows differ.
    occurrence : int
        How many identical rows came before this one in the same file (replicates in one file
        are kept apart; a file observed again maps each replicate to its stored twin).

    Returns
    -------
    str
        A hex SHA-256 digest.
    """
    cells = []
    for name in sorted(values):
        value = values[name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        cells.append([name, repr(float(value)) if isinstance(value, float) else str(value)])
    text = json.dumps([cells, int(occurrence)], ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _add_row_keys(con: sqlite3.Connection) -> None:
    """v3: observations get a content key (idempotent observe across files)."""
    con.execute("ALTER TABLE observations ADD COLUMN row_key TEXT")
    cells: dict[int, dict[str, Any]] = {}
    for oid, name, real, text in con.execute(
        "SELECT observation_id, column_name, value_real, value_text FROM observation_values"
    ):
        cells.setdefault(oid, {})[name] = real if text is None else text
    rows = con.execute(
        "SELECT id, source_sha256 FROM observations WHERE source != 'api' ORDER BY id"
    ).fetchall()
    seen: dict[tuple[str, str], int] = {}
    for oid, sha in rows:
        base = row_key(cells.get(oid, {}), 0)
        k = seen.get((sha, base), 0)
        seen[(sha, base)] = k + 1
        key = row_key(cells.get(oid, {}), k)
        taken = con.execute("SELECT 1 FROM observations WHERE row_key = ?", (key,)).fetchone()
        # Rows that an older psplab stored twice (from two versions of one file) keep no key.
        con.execute(
            "UPDATE observations SET row_key = ? WHERE id = ?", (None if taken else key, oid)
        )
    con.execute("CREATE UNIQUE INDEX observations_by_row_key ON observations(row_key)")


# Migration i brings a database from version i to version i + 1 (SQL, or a function).
MIGRATIONS: dict[int, str | Callable[[sqlite3.Connection], None]] = {
    0: """
        CREATE TABLE campaign (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE suggestions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            batch INTEGER NOT NULL,
            created TEXT NOT NULL,
            params TEXT NOT NULL,
            acquisition TEXT NOT NULL,
            score REAL,
            predicted_mean REAL,
            predicted_std REAL
        );
        CREATE TABLE observations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            suggestion_id INTEGER REFERENCES suggestions(id),
            created TEXT NOT NULL,
            source TEXT NOT NULL,
            source_sha256 TEXT NOT NULL,
            row_number INTEGER NOT NULL,
            UNIQUE (source_sha256, row_number)
        );
        CREATE TABLE observation_values (
            observation_id INTEGER NOT NULL REFERENCES observations(id),
            position INTEGER NOT NULL,
            column_name TEXT NOT NULL,
            value_real REAL,
            value_text TEXT,
            PRIMARY KEY (observation_id, column_name)
        );
    """,
    # v2: suggestions can be withdrawn (status) and lookups by suggestion are indexed.
    1: """
        ALTER TABLE suggestions ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
        CREATE INDEX observations_by_suggestion ON observations(suggestion_id);
    """,
    2: _add_row_keys,
}


def describe_sqlite_error(exc: BaseException) -> str:
    """What an ``sqlite3`` error means for the user, in one phrase.

    Parameters
    ----------
    exc : BaseException
        The error ``sqlite3`` raised (its message is matched to a known cause).

    Returns
    -------
    str
        The cause (and what to do about it), or ``database error: MESSAGE`` when unknown.
    """
    text = str(exc).strip() or type(exc).__name__
    known = {
        "malformed": "the database is damaged (truncated or corrupt); restore it from a backup "
        "or a `campaign export`",
        "file is not a database": "not an SQLite database (damaged, or another kind of file)",
        "readonly database": "the database is read-only here (file or folder permissions); "
        "`campaign status` and `campaign export` still work",
        "unable to open database file": "cannot open it (missing folder, or no permission to "
        "create its journal files in the folder)",
        "database is locked": "another process holds the database locked for more than "
        f"{BUSY_TIMEOUT_MS // 1000} s",
        "disk is full": "the disk is full",
        "disk I/O error": "disk I/O error while reading or writing it",
    }
    for pattern, meaning in known.items():
        if pattern in text:
            return meaning
    return f"database error: {text}"


F = TypeVar("F", bound=Callable[..., Any])


def sqlite_errors(method: F) -> F:
    """Decorator for store methods: an ``sqlite3`` error becomes one :class:`CampaignError`.

    Parameters
    ----------
    method : callable
        A method of an object with a ``path`` attribute.

    Returns
    -------
    callable
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise CampaignError(f"{self.path}: {describe_sqlite_error(exc)}") from exc

    return wrapper  # type: ignore[return-value]


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the database for writing with the durability and concurrency settings relied on.

    Parameters
    ----------
    path : str or Path
        The database file (created if absent).

    Returns
    -------
    sqlite3.Connection
        In WAL mode with ``synchronous=FULL``, a 60 s busy timeout and foreign keys on.
    """
    try:
        # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
        con = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a network file system
            raise CampaignError(f"{path}: cannot use write-ahead logging (journal_mode={mode})")
        con.execute("PRAGMA synchronous = FULL")
        con.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise CampaignError(f"{path}: {describe_sqlite_error(exc)}") from exc
    return con


def _connect_read_only(p: Path) -> sqlite3.Connection:
    uri = f"file:{quote(str(p.resolve()))}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.OperationalError:
        if os.access(p.parent, os.W_OK):
            raise
    # A WAL database in a read-only folder: its -shm file cannot be created, and no writer
    # can be running there, so the file may be read as immutable.
    con = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
    con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return con


def open_campaign_file(path: str | Path) -> tuple[sqlite3.Connection, int]:
    """Check that ``path`` is a psplab campaign database without writing to it.

    Parameters
    ----------
    path : str or Path
        The database file.

    Returns
    -------
    connection : sqlite3.Connection
        A read-only connection.
    version : int
        Its schema version (at most :data:`SCHEMA_VERSION`).

    Raises
    ------
    CampaignError
        Naming the file: missing, a folder, empty, not SQLite, damaged, another program's
        database, or a newer schema; the file is left untouched.
    """
    p = Path(path)
    if p.is_dir():
        raise CampaignError(f"{p}: is a folder, not a campaign database")
    if not p.is_file():
        raise CampaignError(f"{p}: no campaign database (run `psplab campaign init`)")
    try:
        with p.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise CampaignError(f"{p}: cannot read it ({exc.strerror or exc})") from exc
    if not head:
        raise CampaignError(f"{p}: empty file, not a psplab campaign database (left untouched)")
    if head != _SQLITE_MAGIC:
        raise CampaignError(
            f"{p}: not an SQLite database, so not a psplab campaign (left untouched)"
        )
    try:
        con = _connect_read_only(p)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not _REQUIRED_TABLES <= tables:
            con.close()
            raise CampaignError(
                f"{p}: an SQLite database but not a psplab campaign (no campaign tables); "
                "left untouched"
            )
        version = schema_version(con)
        has_objective = con.execute("SELECT 1 FROM campaign WHERE key = 'objective'").fetchone()
    except sqlite3.Error as exc:
        raise CampaignError(f"{p}: {describe_sqlite_error(exc)}") from exc
    if version > SCHEMA_VERSION:
        con.close()
        raise CampaignError(
            f"{p}: database schema version {version} is newer than this psplab ({SCHEMA_VERSION})"
        )
    if not has_objective:
        con.close()
        raise CampaignError(f"{p}: database has no campaign metadata")
    return con, version


@contextmanager
def write_transaction(con: sqlite3.Connection):
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error).

    Takes the write lock up front so two writers never deadlock on a read-to-write upgrade.

    Parameters
    ----------
    con : sqlite3.Connection
        Opened with ``isolation_level=None``.
    """
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def schema_version(con: sqlite3.Connection) -> int:
    """The schema version recorded in the database (0 for a database without one).

    Parameters
    ----------
    con : sqlite3.Connection

    Returns
    -------
    int
    """
    has = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if not has:
        return 0
    row = con.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(con: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply pending migrations, all in one transaction.

    Parameters
    ----------
    con : sqlite3.Connection
        A writing connection (:func:`connect`).
    target : int
        Version to reach.

    Returns
    -------
    int
        The version reached.

    Raises
    ------
    CampaignError
        For a database of a newer psplab.
    """
    with write_transaction(con):
        current = schema_version(con)
        if current > SCHEMA_VERSION:
            raise CampaignError(
                f"database schema version {current} is newer than this psplab ({SCHEMA_VERSION})"
            )
        if current == 0:
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            con.execute("DELETE FROM schema_version")
            con.execute("INSERT INTO schema_version VALUES (0)")
        for v in range(current, target):
            step = MIGRATIONS[v]
            if callable(step):
                step(con)
            else:
                for statement in step.split(";"):
                    if statement.strip():
                        con.execute(statement)
            con.execute("UPDATE schema_version SET version = ?", (v + 1,))
        return max(current, target)
