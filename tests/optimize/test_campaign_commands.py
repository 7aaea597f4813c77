"""``psplab campaign`` on hostile input: one line per problem, exit 2, foreign files untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys

import pytest

import psplab.cli

SPEC = """
name = "c"
[[column]]
name = "T"
role = "processing"
unit = "degC"
min = 100
max = 500
[[column]]
name = "t"
role = "processing"
unit = "s"
min = 1
max = 100
[[column]]
name = "HV"
role = "property"
unit = "HV"
"""


def run(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """Run the ``psplab`` entry point in-process (through run_app, as the script does)."""
    monkeypatch.setattr(sys, "argv", ["psplab", *map(str, args)])
    try:
        psplab.cli.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def campaign(tmp_path, capsys, monkeypatch):
    (tmp_path / "s.toml").write_text(SPEC)
    code, _, err = run(
        capsys, monkeypatch, "campaign", "init", tmp_path / "s.toml", "--db", tmp_path / "c.db",
        "--objective", "HV",
    )  # fmt: skip
    assert code == 0, err
    return tmp_path / "c.db"


def test_observe_counts_rows_skipped_as_already_stored(tmp_path, capsys, monkeypatch, campaign):
    (tmp_path / "a.csv").write_text("T,t,HV\n200,10,300\n300,20,320\n")
    (tmp_path / "b.csv").write_text("t,T,HV\n10,200,300\n30,400,350\n")
    assert (
        run(capsys, monkeypatch, "campaign", "observe", tmp_path / "a.csv", "--db", campaign)[0]
        == 0
    )
    code, out, _ = run(
        capsys, monkeypatch, "campaign", "observe", tmp_path / "b.csv", "--db", campaign
    )
    assert code == 0
    assert "stored 1 observation(s), skipped 1 row(s) already stored (same values)" in out


def test_status_on_other_files_is_one_line_and_leaves_them_untouched(tmp_path, capsys, monkeypatch):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    (tmp_path / "zero.db").write_bytes(b"")
    for path in (other, tmp_path / "zero.db"):
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        for command in (
            ["status", "--db", path],
            ["export", "--db", path, "--out", tmp_path / "x.csv"],
        ):
            code, out, err = run(capsys, monkeypatch, "campaign", *command)
            assert code == 2
            assert len(err.strip().splitlines()) == 1 and "not a psplab campaign" in err
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not (tmp_path / "x.csv").exists()


def test_suggest_n_is_bounded_and_json_is_strict(tmp_path, capsys, monkeypatch, campaign):
    code, _, err = run(
        capsys, monkeypatch, "campaign", "suggest", "--db", campaign, "--n", "100000"
    )
    assert code == 2 and "--n 100000 is above the limit of 1000" in err
    from psplab.optimize import bo

    real = bo.BayesianOptimizer._suggest

    def with_nan(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        for s in out:
            s.score = float("nan")
        return out

    monkeypatch.setattr(bo.BayesianOptimizer, "_suggest", with_nan)
    out_json = tmp_path / "s.json"
    code, _, err = run(
        capsys, monkeypatch, "campaign", "suggest", "--db", campaign, "--n", "2", "--json", out_json
    )
    assert code == 0, err

    def refuse(name):
        raise AssertionError(f"{name} in JSON")

    rows = json.loads(out_json.read_text(), parse_constant=refuse)
    assert len(rows) == 2 and all(r["score"] is None for r in rows)


def test_status_json_is_strict_and_a_truncated_database_is_one_line(
    tmp_path, capsys, monkeypatch, campaign
):
    code, out, _ = run(capsys, monkeypatch, "campaign", "status", "--db", campaign, "--json")
    assert code == 0 and json.loads(out)["observations"] == 0
    cut = tmp_path / "cut.db"
    cut.write_bytes(campaign.read_bytes()[:2000])
    code, _, err = run(capsys, monkeypatch, "campaign", "status", "--db", cut)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
