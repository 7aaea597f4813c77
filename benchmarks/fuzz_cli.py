"""Reliability fuzz: adversarial inputs through every ``psplab`` command, as a hostile user would.

Usage::

    python benchmarks/fuzz_cli.py [--jobs 2] [--timeout 30] [--only REGEX] [--json OUT.json]

Each case (``benchmarks/fuzz_cases.py``) writes its files into a fresh temporary folder, runs
the installed ``psplab`` script in a subprocess (the ``PYTHONPATH`` of the caller is kept, so
``PYTHONPATH=$PWD/src`` tests a working tree) and passes when

* the command ends in success (exit 0) or in a clean error (exit 2 with a message on stderr),
  as the case expects: a malformed input that exits 0 is *silently wrong*;
* nothing prints a Python traceback, nor the one line psplab's last guard prints for an
  exception no code path expected (``--lenient`` accepts that line);
* it finishes within the timeout (a hang is a failure);
* the case's own check holds where the right answer is known (a file left untouched, a count
  of stored rows, strict JSON, finite predictions, a grain count).

It prints ``reliability fuzz: P/N cases pass`` and one line per failure; ``--json`` writes every
case with its outcome.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_cases import FIXTURES, Case, all_cases  # noqa: E402

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".*\", line \d+", re.M)
# What psplab's last guard prints for an exception no code path expected: one line, but not a
# message written for the case (counted as a failure unless --lenient).
LAST_GUARD = "(run `psplab --debug ...` for the traceback)"
LENIENT = False


@dataclass
class Outcome:
    """What one case did."""

    case: Case
    passed: bool
    reason: str
    seconds: float
    code: int | None
    stderr_tail: str


def psplab_command() -> list[str]:
    """The installed ``psplab`` script (or ``python -m psplab.cli`` when it is not on PATH)."""
    script = shutil.which("psplab")
    return [script] if script else [sys.executable, "-m", "psplab.cli"]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.setdefault("PSPLAB_NO_PROGRESS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["COLUMNS"] = "200"  # rich wraps less, messages stay on one line
    return env


def run_psplab(args: list[str], cwd: Path, timeout: float) -> tuple[int | None, str, str, float]:
    """``(exit code or None on timeout, stdout, stderr, seconds)``."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [*psplab_command(), *args],
            cwd=cwd,
            env=environment(),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return None, out, err, time.perf_counter() - start
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start


def judge(case: Case, code: int | None, out: str, err: str, timeout: float, last: bool) -> str:
    """Empty string when the run is acceptable for ``case``, else why not.

    Every step must end cleanly (success, or exit 2 with a message, no traceback, no hang);
    what the case expects, and its message, are judged on the last step.
    """
    if code is None:
        return f"hang: no answer within {timeout:g} s"
    if TRACEBACK.search(out) or TRACEBACK.search(err):
        return "traceback printed"
    if code not in (0, 2):
        return f"exit status {code} (expected 0 or 2)"
    if code == 2 and not err.strip():
        return "exit 2 without a message on stderr"
    if LAST_GUARD in err and not LENIENT:
        return "an unexpected exception, caught only by the last guard"
    if not last:
        return ""
    if case.expect == "error" and code == 0:
        return "accepted a bad input (exit 0): silently wrong"
    if case.expect == "ok" and code != 0:
        return f"refused a good input: {last_line(err)}"
    text = err if code == 2 else out
    if case.match and not re.search(case.match, text, re.S):
        return f"message does not say {case.match!r}: {last_line(text)}"
    if code == 2 and case.max_error_lines is not None:
        n = len(err.strip().splitlines())
        if n > case.max_error_lines:
            return f"{n} error lines (expected at most {case.max_error_lines})"
    return ""


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def run_case(case: Case, fixtures: dict[str, Path], timeout: float) -> Outcome:
    """Set up a fresh folder, run every step of ``case``, judge the last and run its check."""
    with tempfile.TemporaryDirectory(prefix="psplab-fuzz-") as tmp:
        d = Path(tmp)
        try:
            for name in case.fixtures:
                if name not in fixtures:
                    return Outcome(case, False, f"fixture {name!r} could not be made", 0, None, "")
                shutil.copytree(fixtures[name], d / name)
            case.setup(d)
        except Exception as exc:  # noqa: BLE001 - a broken case is reported, not raised
            return Outcome(case, False, f"case setup failed: {exc!r}", 0.0, None, "")
        total, code, out, err = 0.0, None, "", ""
        for i, step in enumerate(case.steps):
            args = [a.replace("{d}", str(d)) for a in step]
            code, out, err, seconds = run_psplab(args, d, case.timeout or timeout)
            total += seconds
            last = i == len(case.steps) - 1
            reason = judge(case, code, out, err, case.timeout or timeout, last)
            if reason:
                return Outcome(case, False, reason, total, code, last_line(err))
        if case.check is not None:
            try:
                problem = case.check(d, out, err)
            except Exception as exc:  # noqa: BLE001
                problem = f"check raised {exc!r}"
            if problem:
                return Outcome(case, False, problem, total, code, last_line(err))
        return Outcome(case, True, "", total, code, last_line(err))


def make_fixtures(root: Path, needed: set[str], timeout: float) -> dict[str, Path]:
    """Run the commands that build shared inputs (a fitted model, a campaign, a recipe)."""
    made = {}
    for name in sorted(needed):
        folder = root / name
        folder.mkdir()
        try:
            FIXTURES[name].setup(folder)
            for step in FIXTURES[name].steps:
                args = [a.replace("{d}", str(folder)) for a in step]
                code, _, err, _ = run_psplab(args, folder, max(timeout, 300.0))
                if code != 0:
                    raise RuntimeError(last_line(err))
        except Exception as exc:  # noqa: BLE001
            print(f"fixture {name}: {exc}", file=sys.stderr)
            continue
        made[name] = folder
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="Cases run at once.")
    parser.add_argument("--timeout", type=float, default=30.0, help="Seconds per command.")
    parser.add_argument("--only", default=None, help="Run the cases whose id matches this regex.")
    parser.add_argument("--json", type=Path, default=None, help="Write every outcome here.")
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="Accept the one line of psplab's last guard (an unexpected exception) as a message.",
    )
    parser.add_argument(
        "--no-retry-hangs",
        dest="retry_hangs",
        action="store_false",
        help="Do not rerun a timed-out case alone before calling it a hang.",
    )
    args = parser.parse_args(argv)
    global LENIENT
    LENIENT = args.lenient
    cases = [c for c in all_cases() if args.only is None or re.search(args.only, c.id)]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="psplab-fuzz-fixtures-") as root:
        fixtures = make_fixtures(Path(root), {f for c in cases for f in c.fixtures}, args.timeout)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outcomes = list(pool.map(lambda c: run_case(c, fixtures, args.timeout), cases))
        # On a loaded machine a slow start can look like a hang: a case that timed out is run
        # once more, alone, with the same timeout; it fails only if it hangs again.
        for i, o in enumerate(outcomes):
            if o.reason.startswith("hang") and args.retry_hangs:
                again = run_case(o.case, fixtures, args.timeout)
                outcomes[i] = again if again.passed else o
    passed = sum(o.passed for o in outcomes)
    for o in outcomes:
        if not o.passed:
            tail = f" | {o.stderr_tail}" if o.stderr_tail and o.stderr_tail not in o.reason else ""
            print(f"FAIL {o.case.id}: {o.reason}{tail}")
    print(
        f"reliability fuzz: {passed}/{len(outcomes)} cases pass ({time.perf_counter() - start:.0f} s)"
    )
    if args.json is not None:
        report = {
            "command": " ".join(psplab_command()),
            "passed": passed,
            "cases": len(outcomes),
            "outcomes": [
                {
                    "id": o.case.id,
                    "area": o.case.area,
                    "expect": o.case.expect,
                    "passed": o.passed,
                    "reason": o.reason,
                    "exit": o.code,
                    "seconds": round(o.seconds, 2),
                    "stderr_tail": o.stderr_tail,
                }
                for o in outcomes
            ],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if passed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
