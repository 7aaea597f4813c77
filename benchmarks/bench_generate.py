"""Dataset generation at scale: 1 vs 2 Dask workers on the same recipes, and kill + resume.

Runs, on the same LHS recipes:

1. ``generate_dataset(workers=0)`` in this process (no Dask; the reference table);
2. the same with a Dask LocalCluster of 1 and of 2 worker processes (``psplab simulate
   --workers 1|2`` runs exactly this), timed including the cluster start and the JAX
   compilation in each worker;
3. the same on an already started, warmed-up cluster (every worker has imported JAX and
   compiled the batch), which is the steady-state throughput of a long run;
4. ``psplab simulate --workers 2`` killed (SIGKILL to its process group: a crash, not a clean
   stop) once some chunks are on disk, then the same command again: it must skip the finished
   chunks and end with every recipe exactly once.

All tables must be identical (generation does not depend on the workers or on interruptions).

Usage::

    python benchmarks/bench_generate.py [--n 24] [--grid 64] [--family al_mg] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from psplab.generate import (
    ID_COLUMN,
    generate_dataset,
    parts_dir_for,
    sample_recipes,
)
from psplab.manifest import dump_json, machine_info


def _cli(out: Path, args: argparse.Namespace, workers: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from psplab.cli import main; main()",
        "simulate",
        "--family",
        args.family,
        "--n",
        str(args.n),
        "--grid",
        str(args.grid),
        "--seed",
        str(args.seed),
        "--chunk-size",
        str(args.chunk_size),
        "--workers",
        str(workers),
        "--out",
        str(out),
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PSPLAB_NO_PROGRESS"] = "1"
    env.setdefault("JAX_PLATFORMS", "cpu")
    return env


def timed_generate(recipes: list, out: Path, args: argparse.Namespace, workers: int) -> float:
    """Wall time of ``generate_dataset`` (what ``psplab simulate`` runs), cluster start included."""
    t0 = time.perf_counter()
    generate_dataset(
        recipes,
        out,
        grid=args.grid,
        seed=args.seed,
        workers=workers,
        chunk_size=args.chunk_size,
        progress=False,
    )
    return time.perf_counter() - t0


def _warm_up(grid: int, chunk_size: int, family: str) -> int:
    """Import the simulator and compile its batch on this worker (run on every worker)."""
    from psplab.sim import get_family, simulate_batch

    recipe = get_family(family).baseline_recipe()
    simulate_batch([recipe] * chunk_size, grid=grid, seed=0)
    return os.getpid()


def timed_warm(
    recipes: list, out: Path, args: argparse.Namespace, workers: int
) -> tuple[float, float]:
    """(cluster start + warm-up s, generation s on the warm cluster) with ``workers`` workers.

    The cluster is started and every worker imports JAX and compiles the batch first, so the
    second number is the steady-state throughput that a long run sees.
    """
    from psplab.distributed import get_client

    t0 = time.perf_counter()
    with get_client(workers=workers) as client:
        client.run(_warm_up, args.grid, args.chunk_size, args.family)
        t_start = time.perf_counter() - t0
        t1 = time.perf_counter()
        generate_dataset(
            recipes,
            out,
            grid=args.grid,
            seed=args.seed,
            scheduler=client.scheduler.address,
            chunk_size=args.chunk_size,
            progress=False,
        )
        return t_start, time.perf_counter() - t1


def kill_and_resume(out: Path, args: argparse.Namespace, workers: int) -> dict:
    parts = parts_dir_for(out)
    proc = subprocess.Popen(
        _cli(out, args, workers),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches the Dask workers too
    )
    n_chunks = -(-args.n // args.chunk_size)
    target = max(1, n_chunks // 3)
    deadline = time.time() + 600
    done_before = 0
    while time.time() < deadline and proc.poll() is None:
        done_before = len(list(parts.glob("chunk-*.parquet"))) if parts.is_dir() else 0
        if done_before >= target:
            break
        time.sleep(0.2)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = len(list(parts.glob("chunk-*.parquet"))) if parts.is_dir() else 0
    t0 = time.perf_counter()
    subprocess.run(_cli(out, args, workers), check=True, env=_env(), capture_output=True)
    resume_s = time.perf_counter() - t0
    table = pd.read_parquet(out)
    ids = table[ID_COLUMN].tolist()
    return {
        "killed": killed,
        "chunks_done_before_kill": done_before,
        "chunks_total": n_chunks,
        "recipes_redone": args.n
        - sum(
            min(args.chunk_size, args.n - s)
            for s in range(0, done_before * args.chunk_size, args.chunk_size)
        ),
        "resume_s": resume_s,
        "every_recipe_once": ids == list(range(args.n)),
        "parts_left": parts.exists(),
    }


def _explain_difference(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Print where two tables differ (dtypes, then cells)."""
    if list(a.dtypes) != list(b.dtypes):
        print("dtypes differ:", dict(a.dtypes), dict(b.dtypes))
    if a.shape == b.shape:
        print(a.compare(b).to_string())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="al_mg")
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--grid", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-size", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    command = " ".join(
        ["python benchmarks/bench_generate.py", *(argv if argv is not None else sys.argv[1:])]
    )
    print("command:", command)
    print("machine:", json.dumps(machine_info()))

    results: dict = {"params": vars(args) | {"json": str(args.json)}}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        recipes = sample_recipes(args.family, args.n, design="lhs", seed=args.seed)
        ref_path = tmpdir / "ref.parquet"
        t0 = time.perf_counter()
        generate_dataset(
            recipes,
            ref_path,
            grid=args.grid,
            seed=args.seed,
            workers=0,
            chunk_size=args.chunk_size,
            progress=False,
        )
        t_inproc = time.perf_counter() - t0
        reference = pd.read_parquet(ref_path)

        t_w1 = timed_generate(recipes, tmpdir / "w1.parquet", args, 1)
        t_w2 = timed_generate(recipes, tmpdir / "w2.parquet", args, 2)
        same_w1 = reference.equals(pd.read_parquet(tmpdir / "w1.parquet"))
        same_w2 = reference.equals(pd.read_parquet(tmpdir / "w2.parquet"))
        start_w1, warm_w1 = timed_warm(recipes, tmpdir / "warm1.parquet", args, 1)
        start_w2, warm_w2 = timed_warm(recipes, tmpdir / "warm2.parquet", args, 2)
        same_warm = reference.equals(
            pd.read_parquet(tmpdir / "warm1.parquet")
        ) and reference.equals(pd.read_parquet(tmpdir / "warm2.parquet"))
        resume = kill_and_resume(tmpdir / "kill.parquet", args, 2)
        resumed = pd.read_parquet(tmpdir / "kill.parquet")
        resume["identical_to_uninterrupted"] = reference.equals(resumed)
        if not resume["identical_to_uninterrupted"]:
            _explain_difference(reference, resumed)
        n_failed = int(reference["error"].notna().sum())

    rows = [
        ("in-process (workers=0)", t_inproc, t_w1 / t_inproc, same_w1),
        ("Dask LocalCluster, 1 worker", t_w1, 1.0, same_w1),
        ("Dask LocalCluster, 2 workers", t_w2, t_w1 / t_w2, same_w2),
    ]
    print(
        f"\n{args.n} {args.family} recipes, grid {args.grid}, chunk {args.chunk_size}, {n_failed} failed"
    )
    print("| run | wall s | speed-up vs 1 worker | table identical to in-process |")
    print("|---|---|---|---|")
    for name, t, s, same in rows:
        print(f"| {name} | {t:.1f} | {s:.2f} | {same} |")
    print("\nwarm cluster (started, JAX imported and compiled in every worker before timing):")
    print("| workers | start + warm-up s | generation s | speed-up vs 1 worker | identical |")
    print("|---|---|---|---|---|")
    print(f"| 1 | {start_w1:.1f} | {warm_w1:.1f} | 1.00 | {same_warm} |")
    print(f"| 2 | {start_w2:.1f} | {warm_w2:.1f} | {warm_w1 / warm_w2:.2f} | {same_warm} |")
    print(
        f"\nkill + resume (2 workers): killed={resume['killed']} after "
        f"{resume['chunks_done_before_kill']}/{resume['chunks_total']} chunks; resume redid "
        f"{resume['recipes_redone']} recipes in {resume['resume_s']:.1f} s; every recipe once: "
        f"{resume['every_recipe_once']}; identical to uninterrupted: "
        f"{resume['identical_to_uninterrupted']}; parts folder left: {resume['parts_left']}"
    )
    results.update(
        machine=machine_info(),
        n_failed=n_failed,
        wall_s={"in_process": t_inproc, "workers_1": t_w1, "workers_2": t_w2},
        speedup_2_vs_1=t_w1 / t_w2,
        warm={
            "start_s": {"workers_1": start_w1, "workers_2": start_w2},
            "generation_s": {"workers_1": warm_w1, "workers_2": warm_w2},
            "speedup_2_vs_1": warm_w1 / warm_w2,
            "identical": same_warm,
        },
        identical={"workers_1": same_w1, "workers_2": same_w2},
        resume=resume,
    )
    if args.json:
        dump_json(args.json, results)
    ok = (
        same_w1
        and same_w2
        and same_warm
        and resume["every_recipe_once"]
        and resume["identical_to_uninterrupted"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
