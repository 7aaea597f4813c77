"""Campaign store: suggestions and observations of an experiment campaign in one SQLite file.

Guarantees (each is tested):

* **Durable before returning.** Every write is one transaction committed with
  ``synchronous=FULL`` in WAL mode, so a row that a call reported as stored survives a crash or a
  ``kill -9`` of the writing process and the database stays readable.
* **Concurrent writers are safe.** Writes take the write lock up front (``BEGIN IMMEDIATE``) and
  wait for it (``busy_timeout``), so two processes observing at once both land all their rows.
* **Bad rows are rejected, good ones kept.** Observations are validated against the campaign's
  dataset spec (``psplab.data`` validation of the processing columns, the objective and any other
  spec column present); a rejected row is reported by column and row and nothing else is lost.
* **Idempotent observe.** Each row is keyed by its content (every cell but ``suggestion_id``,
  and how many identical rows came before it in the same file): a row already stored is
  skipped, whatever file it comes in, so observing a file again after a crash, or after fixing
  one rejected row, stores only what is new. Two identical rows in one file are two replicates;
  to record a replicate with the very same values in a later file, give it a column that tells
  it apart (e.g. ``sample``).
* **Foreign files are left alone.** A file that is not a psplab campaign is refused before
  anything is written to it; ``status`` and ``export`` open the database read-only.
* **Exact values.** Numbers are stored as IEEE doubles (SQLite ``REAL``) and exported with
  ``repr`` precision (CSV) or as float64 (Parquet), so an export round-trips bit for bit.

Schema changes go through :data:`MIGRATIONS`; ``schema_version`` records the version, and an old
database is migrated when opened.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psplab.data.spec import DatasetSpec, Problem, SpecError
from psplab.errors import CampaignError
from psplab.optimize.campaign_db import (
    MIGRATIONS,
    SCHEMA_VERSION,
    connect,
    migrate,
    open_campaign_file,
    row_key,
    schema_version,
    sqlite_errors,
    write_transaction,
)
from psplab.optimize.campaign_rows import (
    RESERVED_COLUMNS,
    SUGGESTION_ID,
    check_campaign_spec,
    encode_cell,
    parse_extra,
    parse_suggestion_ids,
    public_name,
    read_export,
    reserved_name_problems,
)

# A campaign suggests batches for the experiments that can be run next, not a design of
# experiments in one go; a bound keeps `suggest --n 100000` from running for hours.
MAX_SUGGESTIONS = 1000


@dataclass
class ObserveResult:
    """What :meth:`CampaignStore.observe_frame` did."""

    stored: list[int]
    skipped_duplicates: int
    rejected: list[Problem]

    @property
    def n_rejected_rows(self) -> int:
        """Number of rows left out because of a problem."""
        return len({p.row for p in self.rejected if p.row is not None})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class CampaignStore:
    """One campaign in one SQLite file.

    Parameters
    ----------
    path : str or Path
        The database file. Use :meth:`create` to start a campaign and the constructor to open
        an existing one (which also migrates an older schema).
    read_only : bool
        Open without write access (``status``, ``export``): nothing is migrated or written, and
        a read-only file or folder works.

    Raises
    ------
    CampaignError
        For a missing, empty, damaged or foreign file (left untouched), a newer schema, or a
        database that cannot be written when ``read_only`` is false.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = bool(read_only)
        con, version = open_campaign_file(self.path)
        if read_only:
            if version < 2:
                con.close()
                raise CampaignError(
                    f"{self.path}: schema version {version} is too old to read without "
                    "upgrading; run `psplab campaign suggest` or `observe` on it once"
                )
            self.con = con
        else:
            con.close()
            self.con = connect(self.path)
            try:
                migrate(self.con)
            except Exception as exc:
                self.con.close()
                if isinstance(exc, CampaignError):
                    raise
                from psplab.optimize.campaign_db import describe_sqlite_error

                raise CampaignError(f"{self.path}: {describe_sqlite_error(exc)}") from exc

    # --- creation -----------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        spec: DatasetSpec,
        objective: str,
        *,
        minimize: bool = False,
        model: str = "gp",
        space: Any = None,
        acquisition: str = "ei",
        seed: int = 0,
        extra: Mapping[str, Any] | None = None,
    ) -> CampaignStore:
        """Start a campaign in a new database file.

        Parameters
        ----------
        path : str or Path
            The database to create; an existing non-empty file is refused (never overwritten).
        spec : DatasetSpec
            The experiment's columns; its processing columns are the search space.
        objective : str
            The numeric property or structure column to optimize.
        minimize : bool
            Minimize instead of maximize.
        model, acquisition : str
            Surrogate model and acquisition function names.
        space : SearchSpace, optional
            The search space (default: from the spec's processing columns and bounds).
        seed : int
            Seed of the campaign's suggestions.
        extra : mapping, optional
            More metadata to store.

        Returns
        -------
        CampaignStore
            The new campaign, open for writing.

        Raises
        ------
        CampaignError
            For a bad objective, a spec column with a reserved name or a formula column, an
            existing file, or a database that cannot be written.
        """
        p = Path(path)
        check_campaign_spec(spec, objective)
        if p.exists() and (p.is_dir() or p.stat().st_size > 0):
            try:
                open_campaign_file(p)[0].close()
            except CampaignError:
                raise CampaignError(
                    f"{p}: file exists and is not a psplab campaign; it is left untouched"
                ) from None
            raise CampaignError(f"{p}: already holds a campaign (use another --db)")
        if space is None:
            from psplab.optimize.space import SearchSpace

            space = SearchSpace.from_spec(spec)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CampaignError(f"{p}: cannot create its folder ({exc.strerror or exc})") from exc
        con = connect(p)
        try:
            migrate(con)
        except Exception as exc:
            con.close()
            if isinstance(exc, CampaignError):
                raise
            from psplab.optimize.campaign_db import describe_sqlite_error

            raise CampaignError(f"{p}: {describe_sqlite_error(exc)}") from exc
        meta = {
            "spec": spec.to_dict(),
            "spec_name": spec.name,
            "objective": objective,
            "direction": "minimize" if minimize else "maximize",
            "model": model,
            "acquisition": acquisition,
            "seed": int(seed),
            "space": space.to_dict(),
            "created": _now(),
            **dict(extra or {}),
        }
        try:
            with write_transaction(con):
                if con.execute("SELECT 1 FROM campaign WHERE key='objective'").fetchone():
                    raise CampaignError(f"{p}: already holds a campaign (use another --db)")
                con.executemany(
                    "INSERT INTO campaign (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in meta.items()],
                )
        finally:
            con.close()
        return cls(p)

    def close(self) -> None:
        """Close the database connection."""
        self.con.close()

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- metadata -----------------------------------------------------------------------
    @sqlite_errors
    def _meta_raw(self, key: str) -> Any:
        row = self.con.execute("SELECT value FROM campaign WHERE key = ?", (key,)).fetchone()
        return None if row is None else self._json(row[0], key)

    def _json(self, text: Any, key: str) -> Any:
        try:
            return json.loads(text)
        except (TypeError, ValueError) as exc:
            raise CampaignError(f"{self.path}: campaign metadata {key!r} is damaged") from exc

    @sqlite_errors
    def meta(self) -> dict[str, Any]:
        """Every metadata entry of the campaign (spec, objective, model, seed, ...).

        Returns
        -------
        dict
        """
        rows = self.con.execute("SELECT key, value FROM campaign").fetchall()
        return {k: self._json(v, k) for k, v in rows}

    @property
    def spec(self) -> DatasetSpec:
        """The campaign's dataset spec."""
        return DatasetSpec.from_dict(self._meta_raw("spec"))

    @property
    def objective(self) -> str:
        """The column the campaign optimizes."""
        return str(self._meta_raw("objective"))

    @property
    def minimize(self) -> bool:
        """Whether the objective is minimized."""
        return self._meta_raw("direction") == "minimize"

    @property
    def space(self):
        """The campaign's search space (:class:`psplab.optimize.space.SearchSpace`)."""
        from psplab.optimize.space import SearchSpace

        try:
            return SearchSpace.from_dict(self._meta_raw("space"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, CampaignError):
                raise
            raise CampaignError(f"{self.path}: campaign metadata 'space' is damaged") from exc

    @property
    @sqlite_errors
    def version(self) -> int:
        """The database's schema version."""
        return schema_version(self.con)

    # --- suggestions --------------------------------------------------------------------
    @sqlite_errors
    def add_suggestions(self, suggestions: Sequence[Any]) -> list[int]:
        """Store a batch of suggestions, committed before returning.

        Parameters
        ----------
        suggestions : sequence
            Objects with ``params``, ``acquisition``, ``score``, ``predicted_mean`` and
            ``predicted_std`` (:class:`psplab.optimize.bo.Suggestion`).

        Returns
        -------
        list of int
            Their ids.
        """
        ids = []
        with write_transaction(self.con):
            batch = self.con.execute(
                "SELECT COALESCE(MAX(batch), -1) + 1 FROM suggestions"
            ).fetchone()[0]
            for s in suggestions:
                mean = s.predicted_mean[0] if s.predicted_mean else None
                std = s.predicted_std[0] if s.predicted_std else None
                score = s.score if s.score is not None and math.isfinite(s.score) else None
                cur = self.con.execute(
                    "INSERT INTO suggestions (batch, created, params, acquisition, score,"
                    " predicted_mean, predicted_std) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (batch, _now(), json.dumps(s.params), s.acquisition, score, mean, std),
                )
                ids.append(int(cur.lastrowid))
        return ids

    @sqlite_errors
    def suggestions(self) -> pd.DataFrame:
        """All suggestions with their parameters and whether they have been observed.

        Returns
        -------
        pandas.DataFrame
            ``suggestion_id``, ``batch``, ``created``, the parameters, ``acquisition``, ``score``,
            ``predicted_mean``, ``predicted_std``, ``status`` (pending, observed, ...).
        """
        rows = self.con.execute(
            "SELECT s.id, s.batch, s.created, s.params, s.acquisition, s.score, s.predicted_mean,"
            " s.predicted_std, s.status, (SELECT COUNT(*) FROM observations o"
            " WHERE o.suggestion_id = s.id) FROM suggestions s ORDER BY s.id"
        ).fetchall()
        names = self.space.names
        out = []
        for r in rows:
            params = json.loads(r[3])
            out.append(
                {
                    "suggestion_id": r[0],
                    "batch": r[1],
                    "created": r[2],
                    **{n: params.get(n) for n in names},
                    "acquisition": r[4],
                    "score": r[5],
                    "predicted_mean": r[6],
                    "predicted_std": r[7],
                    "status": "observed" if r[9] else r[8],
                }
            )
        cols = ["suggestion_id", "batch", "created", *names, "acquisition", "score",
                "predicted_mean", "predicted_std", "status"]  # fmt: skip
        return pd.DataFrame(out, columns=cols)

    def pending(self) -> pd.DataFrame:
        """The suggestions not observed yet.

        Returns
        -------
        pandas.DataFrame
        """
        s = self.suggestions()
        return s[s["status"] == "pending"].reset_index(drop=True)

    # --- observations -------------------------------------------------------------------
    @sqlite_errors
    def validate(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
        """Validate a results table against the spec.

        Required: the processing columns and the objective. Other spec columns are validated if
        present; columns the spec does not know are kept as measured extras (a reserved name is
        refused); ``suggestion_id`` must name a stored suggestion.

        Parameters
        ----------
        frame : pandas.DataFrame
            The results as read.

        Returns
        -------
        typed : pandas.DataFrame
        problems : list of Problem
            A problem without a row rejects the whole table.
        """
        from psplab.data.dataset import validate_frame

        spec = self.spec
        problems: list[Problem] = []
        if frame.shape[0] == 0:
            return frame, [Problem("the results file has no data rows")]
        required = [c.name for c in spec.processing] + [self.objective]
        for name in required:
            if name not in frame.columns:
                problems.append(Problem("required column is missing from the results file", name))
        problems += reserved_name_problems(frame.columns)
        if problems:
            return frame, problems
        present = [c for c in spec.columns if c.name in frame.columns and c.role != "ignore"]
        sub = DatasetSpec(name=spec.name, source=None, columns=tuple(present))
        typed, problems = validate_frame(
            sub, frame[[c.name for c in present]].reset_index(drop=True)
        )
        typed = typed.copy()
        obj = typed[self.objective].to_numpy(dtype=float)
        named = {p.row for p in problems if p.column == self.objective}
        for i in np.flatnonzero(np.isnan(obj)):
            if int(i) + 1 not in named:  # 'x' is not a number: already said
                problems.append(Problem("missing objective value", self.objective, int(i) + 1))
        if SUGGESTION_ID in frame.columns:
            known = {r[0] for r in self.con.execute("SELECT id FROM suggestions")}
            typed[SUGGESTION_ID] = parse_suggestion_ids(frame[SUGGESTION_ID], known, problems)
        validated = {c.name for c in present}
        for name in frame.columns:
            # Columns the spec does not know, and its ignore-role ones (ids, notes), are kept.
            if name in validated or name == SUGGESTION_ID:
                continue
            typed[str(name)] = [parse_extra(v) for v in frame[name].tolist()]
        return typed, problems

    @sqlite_errors
    def observe_frame(
        self,
        frame: pd.DataFrame,
        source: str = "<frame>",
        source_sha256: str | None = None,
        *,
        skip_stored: bool = True,
    ) -> ObserveResult:
        """Validate and store a results table in one transaction.

        Parameters
        ----------
        frame : pandas.DataFrame
            The results: processing columns, the objective, optional other columns and
            ``suggestion_id``.
        source : str
            Where the rows came from (kept with each observation).
        source_sha256 : str, optional
            Digest of the source file (default: of the frame's text and ``source``).
        skip_stored : bool
            Skip rows whose content is already stored (see the module docstring); false stores
            every valid row as a new replicate.

        Returns
        -------
        ObserveResult
            Ids stored, the number of rows skipped as already stored, and the problems of the
            rows left out (a problem without a row rejects the whole table).
        """
        typed, problems = self.validate(frame)
        if any(p.row is None for p in problems):
            return ObserveResult(stored=[], skipped_duplicates=0, rejected=problems)
        bad_rows = {p.row for p in problems}
        if source_sha256 is None:
            source_sha256 = hashlib.sha256(
                frame.to_csv(index=False).encode() + source.encode()
            ).hexdigest()
        columns = [c for c in typed.columns if c != SUGGESTION_ID]
        stored, skipped = [], 0
        occurrences: dict[str, int] = {}
        with write_transaction(self.con):
            for i in range(len(typed)):
                if i + 1 in bad_rows:
                    continue
                cells = [(name, *encode_cell(typed[name].iloc[i])) for name in columns]
                key = None
                if skip_stored:
                    content = {n: real if text is None else text for n, real, text in cells}
                    base = row_key(content, 0)
                    key = row_key(content, occurrences.get(base, 0))
                    occurrences[base] = occurrences.get(base, 0) + 1
                sid = typed[SUGGESTION_ID].iloc[i] if SUGGESTION_ID in typed.columns else None
                sid = None if sid is None or pd.isna(sid) else int(sid)
                cur = self.con.execute(
                    "INSERT OR IGNORE INTO observations (suggestion_id, created, source,"
                    " source_sha256, row_number, row_key) VALUES (?, ?, ?, ?, ?, ?)",
                    (sid, _now(), source, source_sha256, i + 1, key),
                )
                if cur.rowcount == 0:
                    skipped += 1
                    continue
                oid = int(cur.lastrowid)
                self.con.executemany(
                    "INSERT INTO observation_values VALUES (?, ?, ?, ?, ?)",
                    [(oid, k, *cell) for k, cell in enumerate(cells)],
                )
                stored.append(oid)
        return ObserveResult(stored=stored, skipped_duplicates=skipped, rejected=problems)

    def observe_file(self, path: str | Path) -> ObserveResult:
        """Read a CSV/Parquet results file (strictly) and :meth:`observe_frame` it.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        ObserveResult
        """
        from psplab.data.dataset import read_table

        p = Path(path)
        frame = read_table(p)
        sha = hashlib.sha256(p.read_bytes()).hexdigest()
        return self.observe_frame(frame, source=p.name, source_sha256=sha)

    def add_observation(self, values: Mapping[str, Any], suggestion_id: int | None = None) -> int:
        """Store one observation (already in physical units) in its own committed transaction.

        The same values observed twice through this call are two replicates.

        Parameters
        ----------
        values : mapping
            Column -> value.
        suggestion_id : int, optional
            The suggestion it answers.

        Returns
        -------
        int
            The observation id.

        Raises
        ------
        SpecError
            When the values do not validate.
        """
        row = dict(values)
        if suggestion_id is not None:
            row[SUGGESTION_ID] = suggestion_id
        frame = pd.DataFrame([row])
        # A unique key per call: the same values observed twice are two replicates.
        key = hashlib.sha256(f"{time.time_ns()}-{id(row)}-{json.dumps(row, default=str)}".encode())
        result = self.observe_frame(
            frame, source="api", source_sha256=key.hexdigest(), skip_stored=False
        )
        if result.rejected:
            raise SpecError(result.rejected)
        return result.stored[0]

    @sqlite_errors
    def observations(self) -> pd.DataFrame:
        """Every stored observation: ids, time, source, then the columns in first-seen order.

        Returns
        -------
        pandas.DataFrame
            ``observation_id``, ``suggestion_id``, ``created``, ``source``, ``source_row``, then the
            values (a stored column named like one of these reads as ``data_<name>``).
        """
        head = self.con.execute(
            "SELECT id, suggestion_id, created, source, row_number FROM observations ORDER BY id"
        ).fetchall()
        cells = self.con.execute(
            "SELECT observation_id, position, column_name, value_real, value_text"
            " FROM observation_values ORDER BY observation_id, position"
        ).fetchall()
        order: dict[str, None] = {}
        for name in [c.name for c in self.spec.columns if c.role != "ignore"]:
            order[public_name(name)] = None
        by_obs: dict[int, dict[str, Any]] = {}
        numeric_cols: dict[str, bool] = {}
        for oid, _pos, stored_name, real, text in cells:
            name = public_name(stored_name)
            order.setdefault(name, None)
            by_obs.setdefault(oid, {})[name] = real if text is None else text
            if text is not None:
                numeric_cols[name] = False
            else:
                numeric_cols.setdefault(name, True)
        used = [n for n in order if n in numeric_cols]
        rows = []
        for oid, sid, created, source, rown in head:
            values = by_obs.get(oid, {})
            rows.append(
                {
                    "observation_id": oid,
                    SUGGESTION_ID: sid,
                    "created": created,
                    "source": source,
                    "source_row": rown,
                    **{n: values.get(n) for n in used},
                }
            )
        frame = pd.DataFrame(
            rows,
            columns=["observation_id", SUGGESTION_ID, "created", "source", "source_row", *used],
        )
        for n in used:
            if numeric_cols[n]:
                frame[n] = frame[n].astype(float)  # None -> NaN; doubles are untouched
        frame[SUGGESTION_ID] = frame[SUGGESTION_ID].astype("Int64")
        return frame

    @sqlite_errors
    def status(self) -> dict[str, Any]:
        """Counts and the best observation so far.

        Returns
        -------
        dict
            ``db``, ``schema_version``, ``spec``, ``objective``, ``direction``, ``model``,
            ``observations``, ``suggestions``, ``pending``, ``best``.
        """
        obs = self.observations()
        sugg = self.suggestions()
        out: dict[str, Any] = {
            "db": str(self.path),
            "schema_version": self.version,
            "spec": self._meta_raw("spec_name"),
            "objective": self.objective,
            "direction": self._meta_raw("direction"),
            "model": self._meta_raw("model"),
            "observations": len(obs),
            "suggestions": len(sugg),
            "pending": int((sugg["status"] == "pending").sum()) if len(sugg) else 0,
            "best": None,
        }
        if len(obs) and self.objective in obs.columns:
            y = obs[self.objective].to_numpy(dtype=float)
            if np.isfinite(y).any():
                i = int(np.nanargmin(y) if self.minimize else np.nanargmax(y))
                best = obs.iloc[i]
                out["best"] = {
                    "observation_id": int(best["observation_id"]),
                    self.objective: float(best[self.objective]),
                    **{n: _plain(best[n]) for n in self.space.names if n in obs.columns},
                }
        return out

    @sqlite_errors
    def integrity_check(self) -> str:
        """SQLite's own integrity check.

        Returns
        -------
        str
            ``"ok"`` for a sound database.
        """
        return str(self.con.execute("PRAGMA integrity_check").fetchone()[0])

    # --- export -------------------------------------------------------------------------
    @sqlite_errors
    def export(self, path: str | Path) -> Path:
        """Write all observations as CSV (repr-precision floats) or Parquet, by extension.

        Parameters
        ----------
        path : str or Path
            ``.csv``, ``.parquet`` or ``.pq``; written atomically.

        Returns
        -------
        Path
        """
        p = Path(path)
        frame = self.observations()
        suffix = p.suffix.lower()
        if suffix not in (".parquet", ".pq", ".csv"):
            raise CampaignError(f"{p}: export format by extension must be .csv or .parquet")
        tmp = p.with_name(p.name + ".tmp")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            if suffix == ".csv":
                text = frame.copy()
                for name in text.columns:
                    if text[name].dtype == float:
                        # repr gives the shortest string that reads back to the same double.
                        text[name] = [("" if math.isnan(v) else repr(float(v))) for v in text[name]]
                text.to_csv(tmp, index=False)
            else:
                frame.to_parquet(tmp, index=False)
            tmp.replace(p)
        except OSError as exc:
            raise CampaignError(f"{p}: cannot write the export ({exc.strerror or exc})") from exc
        return p


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def observed_xy(store: CampaignStore) -> tuple[pd.DataFrame, np.ndarray]:
    """Parameters and objective of the stored observations (for the optimizer).

    Parameters
    ----------
    store : CampaignStore

    Returns
    -------
    X : pandas.DataFrame
        The search-space columns.
    y : numpy.ndarray
        The objective.
    """
    obs = store.observations()
    names = store.space.names
    if len(obs) == 0:
        return pd.DataFrame(columns=names), np.zeros(0)
    return obs[names], obs[store.objective].to_numpy(dtype=float)


__all__: Iterable[str] = (
    "CampaignError",
    "CampaignStore",
    "MAX_SUGGESTIONS",
    "MIGRATIONS",
    "ObserveResult",
    "RESERVED_COLUMNS",
    "SCHEMA_VERSION",
    "check_campaign_spec",
    "connect",
    "migrate",
    "read_export",
    "suggest_and_store",
)


def suggest_and_store(
    store: CampaignStore, n: int = 1, *, seed: int | None = None, model: str | None = None
) -> tuple[list[int], list[Any]]:
    """Suggest ``n`` recipes from the stored state and store them (committed).

    Everything the optimizer needs (observations, pending suggestions, the search space, the
    model name, the seed) is read from the database, so a suggest after a crash continues
    exactly where the campaign stood.

    Parameters
    ----------
    store : CampaignStore
        Open for writing.
    n : int
        Batch size, at most :data:`MAX_SUGGESTIONS`.
    seed : int, optional
        Overrides the campaign's derived seed.
    model : str, optional
        Overrides the campaign's surrogate model.

    Returns
    -------
    ids : list of int
    suggestions : list of Suggestion

    Raises
    ------
    ResourceError
        When ``n`` is above :data:`MAX_SUGGESTIONS` (checked before any work).
    """
    from psplab.limits import require_at_most
    from psplab.optimize.bo import BayesianOptimizer

    if n < 1:
        raise CampaignError(f"the number of suggestions must be at least 1, got {n}")
    require_at_most(
        "--n",
        n,
        MAX_SUGGESTIONS,
        "suggest a batch of the experiments that can be run next, observe, then ask again",
    )

    meta = store.meta()
    X, y = observed_xy(store)
    pending = store.pending()
    opt = BayesianOptimizer(
        store.space,
        model=model or meta.get("model", "gp"),
        acquisition=meta.get("acquisition", "ei"),
        maximize=not store.minimize,
        seed=int(meta.get("seed", 0)),
    )
    suggestions = opt.suggest(X, y, n=n, pending=pending[store.space.names], seed=seed)
    ids = store.add_suggestions(suggestions)
    return ids, suggestions
