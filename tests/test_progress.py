"""Progress output: a rich bar on a terminal, plain timed lines in logs, nothing when switched off."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from psplab import progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_every_interval_with_count_elapsed_and_eta():
    clock, out = FakeClock(), io.StringIO()
    with progress.PlainProgress(interval_s=5.0, stream=out, clock=clock) as bar:
        task = bar.add_task("simulate", total=40)
        for _ in range(3):  # 3 items in 3 s: below the interval, nothing printed
            clock.now += 1.0
            bar.advance(task)
        assert out.getvalue() == ""
        clock.now += 3.0  # 6 s after the start: one line
        bar.advance(task, 9)
        lines = out.getvalue().splitlines()
        assert lines == ["psplab: simulate 12/40 (30%), elapsed 0:00:06, ETA 0:00:14"]
        clock.now += 1.0
        bar.advance(task)  # 1 s after the last line: nothing new
        assert len(out.getvalue().splitlines()) == 1
        clock.now += 20.0
        bar.advance(task, 27)  # the last units: a final line at once
    lines = out.getvalue().splitlines()
    assert lines[-1] == "psplab: simulate 40/40 (100%), elapsed 0:00:27, done"
    assert len(lines) == 2  # leaving the block does not repeat the final line


def test_plain_progress_unknown_total_and_description_update():
    clock, out = FakeClock(), io.StringIO()
    with progress.PlainProgress(interval_s=2.0, stream=out, clock=clock) as bar:
        task = bar.add_task("demo", total=None)
        clock.now += 2.5
        bar.update(task, description="demo: causal", advance=1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "psplab: demo: causal 1, elapsed 0:00:02"
    # a stage that printed a line also reports how it ended
    assert lines[-1].startswith("psplab: demo: causal 1, elapsed")


def test_short_stage_prints_nothing():
    clock, out = FakeClock(), io.StringIO()
    with progress.PlainProgress(interval_s=10.0, stream=out, clock=clock) as bar:
        task = bar.add_task("fit", total=3)
        for _ in range(3):
            clock.now += 0.1
            bar.advance(task)
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00:00"), (61.4, "0:01:01"), (3725, "1:02:05"), (-1, "?")]
)
def test_format_duration(seconds, text):
    assert progress.format_duration(seconds) == text


def test_mode_follows_environment_and_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("PSPLAB_NO_PROGRESS", "1")
    assert progress.progress_mode() == "off"
    assert not progress.progress_enabled()
    monkeypatch.setenv("PSPLAB_NO_PROGRESS", "0")
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress.progress_mode() == "lines"
    assert isinstance(progress.make_progress(), progress.PlainProgress)
    monkeypatch.setattr(sys, "stderr", Tty())
    assert progress.progress_mode() == "bar"
    assert not isinstance(progress.make_progress(), progress.PlainProgress)


def test_interval_from_environment(monkeypatch):
    monkeypatch.setenv("PSPLAB_PROGRESS_INTERVAL_S", "2.5")
    assert progress.plain_interval_s() == 2.5
    for bad in ("soon", "-3"):
        monkeypatch.setenv("PSPLAB_PROGRESS_INTERVAL_S", bad)
        assert progress.plain_interval_s() == progress.PLAIN_INTERVAL_S


_SCRIPT = """
import time
from psplab.progress import track
for _ in track(range(4), "measure"):
    time.sleep(0.01)
print("finished")
"""


@pytest.mark.parametrize("silenced", [False, True])
def test_piped_stderr_gets_plain_lines_unless_silenced(silenced):
    env = {**os.environ, "PSPLAB_PROGRESS_INTERVAL_S": "0"}
    env.pop("PSPLAB_NO_PROGRESS", None)
    if silenced:
        env["PSPLAB_NO_PROGRESS"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "finished"
    lines = [line for line in proc.stderr.splitlines() if line.startswith("psplab: measure")]
    if silenced:
        assert lines == []
    else:
        assert [line.split(",")[0] for line in lines] == [
            f"psplab: measure {k}/4 ({25 * k}%)" for k in (1, 2, 3, 4)
        ]
        assert lines[-1].endswith("done") and "ETA" in lines[0]


def test_stage_named_after_a_command_keeps_its_prefix():
    clock, out = FakeClock(), io.StringIO()
    with progress.PlainProgress(interval_s=1.0, stream=out, clock=clock) as bar:
        task = bar.add_task("psplab demo", total=5)
        clock.now += 2.0
        bar.update(task, description="psplab demo: models", advance=1)
    assert out.getvalue().splitlines()[0].startswith("psplab demo: models 1/5 (20%)")
