"""Benchmark of the FFT mechanics check (psplab.strength.fft).

Measures, in one run on one machine:

1. iterations to tolerance and time of the basic Moulinec–Suquet scheme vs the accelerated
   (Galerkin conjugate-gradient) scheme for the elastic stiffness of a 256² two-phase image,
   at several stiffness contrasts (ratio basic / CG reported per contrast);
2. the time per image of the full elasto-plastic check (``mechanics_yield_strength``:
   stiffness + ~40-increment J2 curve + 0.2 % yield) at 256² and at 64² (the size the
   optimization loop uses), warm (compilation reported separately).

Usage::

    python benchmarks/bench_mechanics.py [--grid 256] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def periodic_voronoi(n: int, n_grains: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, n, (n_grains, 2))
    y, x = np.mgrid[:n, :n] + 0.5
    best = np.full((n, n), np.inf)
    labels = np.zeros((n, n), dtype=np.int32)
    for i, (py, px) in enumerate(pts):
        dy, dx = np.abs(y - py), np.abs(x - px)
        dist = np.minimum(dy, n - dy) ** 2 + np.minimum(dx, n - dx) ** 2
        closer = dist < best
        best[closer] = dist[closer]
        labels[closer] = i + 1
    return labels


def periodic_discs(n: int, count: int, radius: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:n, :n] + 0.5
    out = np.zeros((n, n), dtype=np.int32)
    for py, px in rng.uniform(0, n, (count, 2)):
        dy, dx = np.abs(y - py), np.abs(x - px)
        out[np.minimum(dy, n - dy) ** 2 + np.minimum(dx, n - dx) ** 2 < radius**2] = 1
    return out


def microstructure(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Periodic Voronoi grains (about n²/512) and ~5 % discs of radius n/64 (seeded)."""
    grains = periodic_voronoi(n, max(8, (n // 16) ** 2 // 2), seed)
    radius = max(1.5, n / 64)
    count = int(0.05 * n * n / (np.pi * radius**2))
    return grains, periodic_discs(n, count, radius, seed + 1)


def timed(fn, repeats: int):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times)), times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=256)
    parser.add_argument("--small-grid", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--contrasts", type=float, nargs="+", default=[10.0, 100.0])
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)

    from psplab.manifest import machine_info
    from psplab.strength.fft import effective_stiffness, mechanics_yield_strength

    command = " ".join(["python", *sys.argv])
    machine = machine_info()
    print(f"command: {command}")
    print(f"machine: {json.dumps(machine)}")

    n = args.grid
    grains, phases = microstructure(n)
    results: dict = {"command": command, "machine": machine, "grid": n, "tol": args.tol}

    # 1. basic vs accelerated, elastic stiffness of the two-phase image.
    rows = []
    for contrast in args.contrasts:
        e = {0: 100.0, 1: 100.0 * contrast}
        nu = {0: 0.3, 1: 0.3}
        row = {"contrast": contrast}
        for method in ("basic", "cg"):
            t0 = time.perf_counter()
            effective_stiffness(phases, e, nu, method=method, tol=args.tol, max_iter=20000)
            first = time.perf_counter() - t0
            (c, info), med, _ = timed(
                lambda m=method, e=e, nu=nu: effective_stiffness(
                    phases, e, nu, method=m, tol=args.tol, max_iter=20000, return_info=True
                ),
                args.repeats,
            )
            row[f"{method}_iterations"] = int(sum(info["iterations"]))
            row[f"{method}_time_s"] = med
            row[f"{method}_first_call_s"] = first
            row[f"{method}_C11_gpa"] = float(c[0, 0])
        row["iteration_ratio"] = row["basic_iterations"] / row["cg_iterations"]
        row["time_ratio"] = row["basic_time_s"] / row["cg_time_s"]
        row["C11_rel_diff"] = abs(row["basic_C11_gpa"] - row["cg_C11_gpa"]) / row["cg_C11_gpa"]
        rows.append(row)
    results["elastic"] = rows

    print(f"\nElastic stiffness, {n}x{n}, {100 * phases.mean():.1f} % inclusions, tol {args.tol:g}")
    print("(iterations summed over the 3 load cases; time = median warm solve of all 3)")
    print(
        f"{'contrast':>9} {'basic it':>9} {'CG it':>7} {'it ratio':>9} "
        f"{'basic s':>9} {'CG s':>8} {'t ratio':>8} {'|dC11|/C11':>11}"
    )
    for r in rows:
        print(
            f"{r['contrast']:>9g} {r['basic_iterations']:>9d} {r['cg_iterations']:>7d} "
            f"{r['iteration_ratio']:>9.2f} {r['basic_time_s']:>9.3f} {r['cg_time_s']:>8.3f} "
            f"{r['time_ratio']:>8.2f} {r['C11_rel_diff']:>11.1e}"
        )

    # 2. full elasto-plastic check per image.
    plastic = []
    for size in (n, args.small_grid):
        g, p = (grains, phases) if size == n else microstructure(size)
        pixel_um = 16.0 / (size / 16)  # same physical size: grains ~ tens of µm
        t0 = time.perf_counter()
        mechanics_yield_strength(g, p, pixel_um, "ferritic_steel", solute_wt_pct=1.0)
        first = time.perf_counter() - t0
        res, med, _ = timed(
            lambda g=g, p=p, px=pixel_um: mechanics_yield_strength(
                g, p, px, "ferritic_steel", solute_wt_pct=1.0
            ),
            args.repeats,
        )
        info = res["info"]
        plastic.append(
            {
                "grid": size,
                "first_call_s": first,
                "time_per_image_s": med,
                "yield_strength_mpa": res["yield_strength_mpa"],
                "steps": info["n_steps"],
                "newton_iterations": info["newton_iterations"],
                "cg_iterations": info["cg_iterations"],
                "n_grains": info["n_grains"],
                "precipitate_fraction": info["precipitate_fraction"],
            }
        )
    results["plastic"] = plastic
    print("\nElasto-plastic check (stiffness + J2 curve + 0.2 % yield), ferritic_steel")
    print(
        f"{'grid':>6} {'first s':>8} {'warm s':>8} {'steps':>6} {'Newton':>7} {'CG it':>7} "
        f"{'yield MPa':>10}"
    )
    for r in plastic:
        print(
            f"{r['grid']:>6d} {r['first_call_s']:>8.2f} {r['time_per_image_s']:>8.2f} "
            f"{r['steps']:>6d} {r['newton_iterations']:>7d} {r['cg_iterations']:>7d} "
            f"{r['yield_strength_mpa']:>10.1f}"
        )
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(results, fh, indent=2)
        print(f"\nwrote {args.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
