"""Campaign store: durability under kill -9, concurrent writers, validation, exact export."""

from __future__ import annotations

import os
import signal
import sqlite3
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psplab.data.spec import DatasetSpec, SpecError
from psplab.optimize.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    CampaignError,
    CampaignStore,
    read_export,
    suggest_and_store,
)

SPEC = {
    "name": "toy-campaign",
    "id": "sample",
    "column": [
        {"name": "temp_C", "role": "processing", "unit": "degC", "min": 100, "max": 500},
        {"name": "time_s", "role": "processing", "unit": "s", "min": 1, "max": 1000},
        {"name": "route", "role": "processing", "kind": "categorical"},
        {"name": "grain_um", "role": "structure", "unit": "um", "min": 0},
        {"name": "strength_MPa", "role": "property", "unit": "MPa", "min": 0, "max": 3000},
    ],
}


def _spec() -> DatasetSpec:
    return DatasetSpec.from_dict(SPEC)


def _make(path: Path, model: str = "gp") -> CampaignStore:
    from psplab.optimize.space import SearchSpace

    space = SearchSpace.from_spec(_spec(), choices={"route": ["A", "B"]})
    return CampaignStore.create(path, _spec(), "strength_MPa", space=space, model=model, seed=7)


def _row(i: int, strength: float) -> dict:
    return {
        "temp_C": 100.0 + (i % 400),
        "time_s": 1.0 + i % 999,
        "route": "AB"[i % 2],
        "strength_MPa": strength,
    }


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def test_schema_wal_and_durability_settings(tmp_path):
    store = _make(tmp_path / "c.db")
    assert store.version == SCHEMA_VERSION
    assert store.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.con.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.objective == "strength_MPa" and not store.minimize
    assert store.spec.to_dict() == _spec().to_dict()  # the spec is copied into the campaign
    with pytest.raises(CampaignError, match="already holds a campaign"):
        CampaignStore.create(tmp_path / "c.db", _spec(), "strength_MPa", space=store.space)
    with pytest.raises(CampaignError, match="'nope' is not in spec"):
        CampaignStore.create(tmp_path / "d.db", _spec(), "nope")


def test_old_schema_is_migrated_without_losing_rows(tmp_path):
    path = tmp_path / "old.db"
    store = _make(path)
    store.add_observation(_row(1, 123.5))
    store.close()
    # Rebuild a version-1 database: undo migrations 2 and 1 by hand.
    con = sqlite3.connect(path)
    con.executescript(
        """
        DROP INDEX observations_by_row_key;
        ALTER TABLE observations DROP COLUMN row_key;
        DROP INDEX observations_by_suggestion;
        ALTER TABLE suggestions DROP COLUMN status;
        UPDATE schema_version SET version = 1;
        """
    )
    con.close()
    assert 1 in MIGRATIONS
    store = CampaignStore(path)
    assert store.version == SCHEMA_VERSION
    cols = [r[1] for r in store.con.execute("PRAGMA table_info(suggestions)")]
    assert "status" in cols
    assert store.observations()["strength_MPa"].tolist() == [123.5]


def test_invalid_rows_are_rejected_by_column_and_row_and_the_rest_kept(tmp_path):
    store = _make(tmp_path / "c.db")
    store.add_observation(_row(0, 100.0))
    frame = pd.DataFrame(
        {
            "temp_C": ["200", "900", "300", "250"],
            "time_s": ["10", "10", "abc", "20"],
            "route": ["A", "B", "A", "B"],
            "strength_MPa": ["500.5", "400", "300", ""],
            "operator": ["ann", "bob", "ann", "bob"],
            "sample": ["s1", "s2", "s3", "s4"],
        }
    )
    result = store.observe_frame(frame, source="r.csv")
    messages = [str(p) for p in result.rejected]
    assert "column 'temp_C', row 2: 900 is above max 500" in messages
    assert "column 'time_s', row 3: 'abc' is not a number" in messages
    assert "column 'strength_MPa', row 4: missing objective value" in messages
    assert len(result.stored) == 1 and result.n_rejected_rows == 3
    obs = store.observations()
    assert obs["strength_MPa"].tolist() == [100.0, 500.5]  # the earlier row is untouched
    assert obs["operator"].tolist()[1] == "ann"  # unknown measured columns are kept
    assert obs["sample"].tolist()[1] == "s1"  # and so is the spec's id column
    # a file lacking a required column stores nothing and says which column
    bad = store.observe_frame(frame.drop(columns=["time_s"]))
    assert [str(p) for p in bad.rejected] == [
        "column 'time_s': required column is missing from the results file"
    ]
    with pytest.raises(SpecError, match="suggestion_id.*no suggestion with id 99"):
        store.add_observation(_row(3, 1.0), suggestion_id=99)
    assert len(store.observations()) == 2


def test_observing_the_same_file_again_stores_only_missing_rows(tmp_path):
    store = _make(tmp_path / "c.db")
    csv = tmp_path / "r.csv"
    pd.DataFrame([_row(i, 100.0 + i) for i in range(5)]).to_csv(csv, index=False)
    assert len(store.observe_file(csv).stored) == 5
    again = store.observe_file(csv)
    assert again.stored == [] and again.skipped_duplicates == 5
    assert len(store.observations()) == 5


def test_export_round_trips_every_value_exactly(tmp_path):
    store = _make(tmp_path / "c.db")
    rng = np.random.default_rng(0)
    values = [0.1 + 0.2, 1e-300, 2999.999999999999, 1 / 3, 123.0, 5e-324] + list(
        rng.uniform(0, 3000, 20)
    )
    ids = store.add_suggestions([])  # empty batch is a no-op
    assert ids == []
    for i, v in enumerate(values):
        row = _row(i, float(v))
        row["temp_C"] = float(rng.uniform(100, 500))
        row["grain_um"] = float(rng.lognormal()) if i % 3 else float("nan")
        row["note"] = f'run {i}, "quoted"' if i % 2 else None
        store.add_observation(row)
    stored = store.observations()
    for suffix in ("csv", "parquet"):
        out = store.export(tmp_path / f"e.{suffix}")
        back = read_export(out)
        assert list(back.columns) == list(stored.columns)
        for col in ("temp_C", "time_s", "grain_um", "strength_MPa"):
            a, b = stored[col].to_numpy(float), back[col].to_numpy(float)
            assert [_bits(x) for x in a] == [_bits(x) for x in b], col
        assert back["route"].tolist() == stored["route"].tolist()
        assert back["note"].fillna("").tolist() == stored["note"].fillna("").tolist()
        assert back["observation_id"].tolist() == stored["observation_id"].tolist()
    # and the stored doubles are the ones that went in
    assert [_bits(x) for x in stored["strength_MPa"]] == [_bits(float(v)) for v in values]


_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from psplab.optimize.store import CampaignStore
    store = CampaignStore(sys.argv[1])
    log = open(sys.argv[2], "a")
    for i in range(int(sys.argv[3])):
        v = 1000.0 + i + 0.123456789
        oid = store.add_observation({"temp_C": 200.0, "time_s": 5.0, "route": "A", "strength_MPa": v})
        log.write(f"{oid} {v!r}\\n"); log.flush(); os.fsync(log.fileno())  # reported committed
        time.sleep(float(sys.argv[4]))
    """
)


def test_kill_9_during_observe_loses_no_committed_observation(tmp_path):
    db, log = tmp_path / "c.db", tmp_path / "committed.txt"
    store = _make(db)
    before = [store.add_observation(_row(i, 10.0 + i)) for i in range(3)]
    store.close()
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db), str(log), "100000", "0.001"])
    deadline = time.time() + 60
    while time.time() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 15:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = [line.split() for line in log.read_text().splitlines() if line.strip()]
    assert len(committed) >= 15
    store = CampaignStore(db)
    assert store.integrity_check() == "ok"
    obs = store.observations().set_index("observation_id")
    for oid in before:
        assert oid in obs.index
    for oid, value in committed:
        assert float(obs.loc[int(oid), "strength_MPa"]) == float(value)
    # the database stays writable after the crash
    store.add_observation(_row(0, 1.0))


_OBSERVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from psplab.optimize.store import CampaignStore
    db, worker, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    store = CampaignStore(db)
    Path(f"{go}.ready{worker}").touch()
    while not go.exists():  # start together, so that the writers really overlap
        time.sleep(0.01)
    for i in range(n):
        store.add_observation(
            {"temp_C": 100.0 + worker, "time_s": 1.0 + i, "route": "B", "strength_MPa": worker * 1000.0 + i}
        )
    """
)


def test_concurrent_observers_lose_nothing(tmp_path):
    db, go = tmp_path / "c.db", tmp_path / "go"
    _make(db).close()
    # Separate interpreters (not fork: JAX may already run threads in this process).
    procs = [
        subprocess.Popen([sys.executable, "-c", _OBSERVER, str(db), str(w), "15", str(go)])
        for w in range(3)
    ]
    deadline = time.time() + 120
    while time.time() < deadline and not all(
        (tmp_path / f"go.ready{w}").exists() for w in range(3)
    ):
        time.sleep(0.05)
    go.touch()
    for p in procs:
        assert p.wait(120) == 0
    got = sorted(CampaignStore(db).observations()["strength_MPa"].tolist())
    assert got == sorted(w * 1000.0 + i for w in range(3) for i in range(15))


def test_suggest_resumes_from_stored_state_after_a_crash(tmp_path):
    db = tmp_path / "c.db"
    store = _make(db, model="fastgp")
    for i in range(6):
        store.add_observation(_row(i * 37, 200.0 + 10 * np.sin(i)))
    ids, first = suggest_and_store(store, 2)
    assert ids == [1, 2]
    store.close()  # "crash": nothing but the database survives
    resumed = CampaignStore(db)
    pending = resumed.pending()
    assert pending["suggestion_id"].tolist() == [1, 2]
    assert pending[["temp_C", "time_s", "route"]].to_dict("records") == [
        {k: s.params[k] for k in ("temp_C", "time_s", "route")} for s in first
    ]
    ids2, second = suggest_and_store(resumed, 2)
    assert ids2 == [3, 4]
    # new suggestions keep away from the pending ones
    for s in second:
        for f in first:
            assert (s.params["temp_C"], s.params["time_s"], s.params["route"]) != (
                f.params["temp_C"],
                f.params["time_s"],
                f.params["route"],
            )
    # observing suggestion 1 marks it observed
    row = {**first[0].params, "strength_MPa": 250.0}
    resumed.add_observation(row, suggestion_id=1)
    sugg = resumed.suggestions().set_index("suggestion_id")
    assert sugg.loc[1, "status"] == "observed" and sugg.loc[2, "status"] == "pending"
    st = resumed.status()
    assert st["observations"] == 7 and st["pending"] == 3
    assert st["best"]["strength_MPa"] == 250.0


# --- robustness: reserved names, idempotent observe, foreign and damaged files ---------------


@pytest.mark.parametrize("name", ["source", "created", "observation_id", "source_row"])
def test_a_results_column_with_a_reserved_name_is_refused_and_the_store_stays_readable(
    tmp_path, name
):
    store = _make(tmp_path / "c.db")
    frame = pd.DataFrame([{**_row(1, 10.0), name: "lab 2"}])
    result = store.observe_frame(frame)
    assert result.stored == []
    assert [str(p) for p in result.rejected] == [
        f"column {name!r}: the name is reserved for the campaign's own records "
        "(observation_id, suggestion_id, created, source, source_row); rename the column"
    ]
    store.add_observation(_row(2, 20.0))
    assert store.status()["observations"] == 1
    store.export(tmp_path / "e.csv")


def test_a_spec_column_with_a_reserved_name_cannot_start_a_campaign(tmp_path):
    raw = {**SPEC, "column": [*SPEC["column"], {"name": "source", "role": "group"}]}
    with pytest.raises(CampaignError, match="column 'source': the name is reserved"):
        CampaignStore.create(tmp_path / "c.db", DatasetSpec.from_dict(raw), "strength_MPa")
    assert not (tmp_path / "c.db").exists()


def test_a_database_an_older_version_filled_with_reserved_names_reads_them_namespaced(tmp_path):
    store = _make(tmp_path / "c.db")
    oid = store.add_observation(_row(1, 10.0))
    with store.con:  # what an older psplab stored for a results column named 'source'
        store.con.execute(
            "INSERT INTO observation_values VALUES (?, 99, 'source', NULL, 'lab 2')", (oid,)
        )
    obs = store.observations()
    assert obs.loc[0, "source"] == "api" and obs.loc[0, "data_source"] == "lab 2"


def test_an_edited_file_observed_again_stores_only_the_new_rows(tmp_path):
    store = _make(tmp_path / "c.db")
    rows = [_row(i, 100.0 + i) for i in range(5)]
    bad = [dict(r) for r in rows]
    bad[2]["strength_MPa"] = "n/a?"
    pd.DataFrame(bad).to_csv(tmp_path / "r.csv", index=False)
    first = store.observe_file(tmp_path / "r.csv")
    assert len(first.stored) == 4 and first.n_rejected_rows == 1
    pd.DataFrame(rows).to_csv(tmp_path / "r.csv", index=False)  # the one bad row fixed
    again = store.observe_file(tmp_path / "r.csv")
    assert len(again.stored) == 1 and again.skipped_duplicates == 4
    # The same rows in another file, another column order and spelling of the numbers.
    other = pd.DataFrame(rows)[["strength_MPa", "route", "time_s", "temp_C"]]
    other["temp_C"] = [f"{v:.3f}" for v in other["temp_C"]]
    other.to_csv(tmp_path / "copy.csv", index=False)
    third = store.observe_file(tmp_path / "copy.csv")
    assert third.stored == [] and third.skipped_duplicates == 5
    assert sorted(store.observations()["strength_MPa"]) == [100.0 + i for i in range(5)]


def test_replicates_in_one_file_are_kept_and_not_doubled_when_observed_again(tmp_path):
    store = _make(tmp_path / "c.db")
    frame = pd.DataFrame([_row(1, 50.0), _row(1, 50.0), _row(2, 60.0)])
    assert len(store.observe_frame(frame, source="a").stored) == 3
    assert store.observe_frame(frame, source="b").skipped_duplicates == 3
    more = pd.DataFrame([_row(1, 50.0)] * 3)  # a third replicate arrives
    assert len(store.observe_frame(more, source="c").stored) == 1
    assert len(store.observations()) == 4


def test_migration_keys_rows_that_an_older_version_stored(tmp_path):
    path = tmp_path / "old.db"
    store = _make(path)
    frame = pd.DataFrame([_row(1, 50.0), _row(2, 60.0)])
    store.observe_frame(frame, source="a", source_sha256="sha-a")
    store.close()
    con = sqlite3.connect(path)
    con.executescript(
        """
        DROP INDEX observations_by_row_key;
        ALTER TABLE observations DROP COLUMN row_key;
        UPDATE schema_version SET version = 2;
        """
    )
    con.close()
    store = CampaignStore(path)
    assert store.version == 3
    assert store.observe_frame(frame, source="b").skipped_duplicates == 2


def _md5(path: Path) -> bytes:
    import hashlib

    return hashlib.md5(path.read_bytes()).digest()


@pytest.mark.parametrize("read_only", [True, False])
def test_foreign_empty_and_garbage_files_are_refused_untouched(tmp_path, read_only):
    foreign = tmp_path / "other.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE samples (a)")
    con.commit()
    con.close()
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "text.db").write_text("hello")
    expected = {
        "other.db": "an SQLite database but not a psplab campaign",
        "empty.db": "empty file, not a psplab campaign database",
        "text.db": "not an SQLite database",
    }
    for name, message in expected.items():
        path = tmp_path / name
        before = _md5(path)
        with pytest.raises(CampaignError, match=message):
            CampaignStore(path, read_only=read_only)
        assert _md5(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(expected)


def test_damaged_databases_give_one_line(tmp_path):
    store = _make(tmp_path / "c.db")
    for i in range(200):
        store.add_observation(_row(i, float(i)))
    store.close()
    whole = (tmp_path / "c.db").read_bytes()
    for cut in (100, 5000, len(whole) // 2):
        path = tmp_path / f"cut{cut}.db"
        path.write_bytes(whole[:cut])
        with pytest.raises(CampaignError) as info:
            CampaignStore(path, read_only=True).status()
        assert len(info.value.lines) == 1 and str(path) in info.value.lines[0]


def test_read_only_store_reads_and_refuses_to_write(tmp_path):
    store = _make(tmp_path / "c.db")
    store.add_observation(_row(1, 10.0))
    store.close()
    ro = CampaignStore(tmp_path / "c.db", read_only=True)
    assert ro.status()["observations"] == 1
    with pytest.raises(CampaignError, match="read-only"):
        ro.add_observation(_row(2, 20.0))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder_status_works_and_observe_says_why_not(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    store = _make(folder / "c.db")
    store.add_observation(_row(1, 10.0))
    store.close()
    folder.chmod(0o555)
    try:
        assert CampaignStore(folder / "c.db", read_only=True).status()["observations"] == 1
        with pytest.raises(CampaignError, match="read-only|cannot open"):
            CampaignStore(folder / "c.db").add_observation(_row(2, 20.0))
    finally:
        folder.chmod(0o755)


def test_suggest_count_is_bounded_before_any_work(tmp_path):
    from psplab.errors import ResourceError

    store = _make(tmp_path / "c.db")
    with pytest.raises(ResourceError, match="--n 100000 is above the limit of 1000"):
        suggest_and_store(store, 100000)
    assert len(store.suggestions()) == 0


def _chattr(flag: str, path: Path) -> bool:
    """Set or clear the immutable attribute (works as root too); False where not possible."""
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.parametrize("frozen", ["file", "folder"])
def test_an_unwritable_database_is_read_by_status_and_refused_by_observe(tmp_path, frozen):
    folder = tmp_path / "ro"
    folder.mkdir()
    store = _make(folder / "c.db")
    store.add_observation(_row(1, 10.0))
    store.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    for extra in folder.glob("c.db-*"):
        extra.unlink()
    target = folder / "c.db" if frozen == "file" else folder
    if not _chattr("+i", target):
        pytest.skip("chattr +i is not available here")
    try:
        ro = CampaignStore(folder / "c.db", read_only=True)
        assert ro.status()["observations"] == 1
        ro.close()
        with pytest.raises(CampaignError) as info:
            CampaignStore(folder / "c.db").add_observation(_row(2, 20.0))
        assert len(info.value.lines) == 1
        assert "read-only" in info.value.lines[0] or "cannot open" in info.value.lines[0]
    finally:
        _chattr("-i", target)
