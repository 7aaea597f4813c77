"""Time ``psplab demo`` end to end on this machine, stage by stage.

Usage::

    python benchmarks/bench_demo.py [--quick] [--workers 2] [--out DIR] [--json OUT.json]

Runs the demo from scratch (``force``) into a fresh folder, then prints the command, the machine,
a table of seconds per stage (from each stage's manifest) and the total against the 5-minute bar.
A fixed NumPy workload is timed in the same run as a reference for how busy the machine was
(its seconds are comparable between runs; the demo's are not, on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PSPLAB_NO_PROGRESS", "1")

BAR_SECONDS = 300.0


def reference_workload_seconds() -> float:
    """Seconds for a fixed dense linear-algebra + FFT workload (machine speed reference)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((600, 600))
    img = rng.standard_normal((256, 256))
    t0 = time.perf_counter()
    for _ in range(5):
        np.linalg.cholesky(a @ a.T + 600 * np.eye(600))
        np.fft.irfft2(np.fft.rfft2(img))
    return time.perf_counter() - t0


def _phasemap_results(out: Path) -> dict:
    """Largest R-hat, accuracy and property R² of the demo's phase-map stage (empty if none)."""
    from psplab.report.demo import STAGES

    stage = next(s for s in STAGES if s.name == "phasemap")
    path = out / stage.directory / "manifest.json"
    if not path.is_file():
        return {}
    results = json.loads(path.read_text()).get("results") or {}
    return {k: results.get(k) for k in ("rhat_max", "accuracy", "property_r2")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time the --quick demo instead")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--out", type=Path, default=None, help="demo folder (default: a temporary one)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)

    from psplab.manifest import machine_info
    from psplab.report.demo import STAGES, run_demo

    print("command:", " ".join([sys.executable, *sys.argv]))
    print("machine:", json.dumps(machine_info()))
    load_before = os.getloadavg()[0]
    ref_before = reference_workload_seconds()
    tmp = None
    out = args.out
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="psplab-bench-demo-")
        out = Path(tmp.name)
    import resource

    def cpu() -> float:
        # This process and every child it waited for (Dask nannies reap their workers,
        # the side-chain process pool is joined): the demo's whole CPU time.
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    cpu0 = cpu()
    t0 = time.perf_counter()
    report = run_demo(out, quick=args.quick, workers=args.workers, seed=0, force=True)
    total = time.perf_counter() - t0
    cpu_total = cpu() - cpu0
    ref_after = reference_workload_seconds()

    demo = json.loads((out / "manifest.json").read_text())
    rows = []
    for stage in STAGES:
        state = demo["results"]["stages"].get(stage.name, {})
        seconds = state.get("seconds")
        rows.append({"stage": stage.name, "state": state.get("state"), "seconds": seconds})
    # The side-chain stages run in a second process beside the main chain, so the report's
    # share is what the longer of the two chains leaves of the total.
    from psplab.report.demo import SIDE_CHAIN

    main_s = sum(r["seconds"] or 0.0 for r in rows if r["stage"] not in SIDE_CHAIN)
    side_s = sum(r["seconds"] or 0.0 for r in rows if r["stage"] in SIDE_CHAIN)
    for r in rows:
        r["process"] = "second" if r["stage"] in SIDE_CHAIN else "main"
    report_seconds = total - max(main_s, side_s)
    rows.append(
        {
            "stage": "report (+ imports)",
            "state": "done",
            "seconds": report_seconds,
            "process": "main",
        }
    )

    print(f"\n{'stage':<20} {'state':<12} {'seconds':>9}  process")
    for r in rows:
        sec = "" if r["seconds"] is None else f"{r['seconds']:9.1f}"
        print(f"{r['stage']:<20} {r['state'] or '':<12} {sec:>9}  {r['process']}")
    print(f"{'(main chain / second process)':<33} {main_s:9.1f} / {side_s:.1f}")
    print(
        f"{'total':<20} {'':<12} {total:9.1f}   bar: {BAR_SECONDS:.0f} s "
        f"({'met' if total < BAR_SECONDS else 'NOT met'}; ratio total/bar = {total / BAR_SECONDS:.2f})"
    )
    print(
        f"CPU time of the demo and its child processes: {cpu_total:.1f} s "
        f"(on an otherwise idle 2-core machine the wall time is at least {cpu_total / 2:.1f} s)"
    )
    print(f"reference workload: {ref_before:.2f} s before, {ref_after:.2f} s after the demo")
    print(f"load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}")
    phasemap = _phasemap_results(out)
    if phasemap:
        print(
            f"phase map: largest R-hat {phasemap.get('rhat_max')}, accuracy "
            f"{phasemap.get('accuracy')}, property R2 {phasemap.get('property_r2')}"
        )
    print(f"report: {report} ({report.stat().st_size / 1e6:.2f} MB)")
    result = {
        "quick": args.quick,
        "workers": args.workers,
        "total_seconds": total,
        "cpu_seconds": cpu_total,
        "bar_seconds": BAR_SECONDS,
        "stages": rows,
        "reference_seconds_before": ref_before,
        "reference_seconds_after": ref_after,
        "report_bytes": report.stat().st_size,
        "load_average_before": load_before,
        "phasemap": phasemap,
        "machine": machine_info(),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
