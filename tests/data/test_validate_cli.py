"""``psplab validate``: summary on success, one line per problem and exit code 2 on failure."""

from __future__ import annotations

from typer.testing import CliRunner

from psplab.cli import app
from tests.data.test_spec import GOOD_CSV, write

runner = CliRunner()


def test_validate_prints_summary(tmp_path):
    spec = write(tmp_path, GOOD_CSV)
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 0, result.output
    assert "4 rows, 3 processing, 1 structure, 1 property columns" in result.output
    assert "target 'grain_size': 1 rows with a missing value are dropped" in result.output


def test_validate_exits_2_with_one_line_per_problem(tmp_path):
    csv = GOOD_CSV.replace("s1,850", "s1,1300").replace("s3,900", "s3,abc")
    spec = write(tmp_path, csv)
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 2, result.output
    assert lines[0].endswith("column 'TT', row 1: 1300 is above max 1200")
    assert lines[1].endswith("column 'TT', row 3: 'abc' is not a number")
