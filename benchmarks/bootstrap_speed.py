"""Benchmark: bootstrap refits of the 2-variable ``hot`` law (params–tokens, delta 1e-4).

Ours: ``fitting.bootstrap.bootstrap_approach3``, every resample refitted warm-started at the point
estimate by the batched Levenberg–Marquardt solver, resamples queued through a fixed number of
slots (one compiled program). Timed warm (the first, compiling call is reported separately).

References, on the same data and resamples, in a process pool (one worker per core, BLAS pinned to
one thread per worker), alternating with ours (A B A B ...), medians of ``--repeats``:

- **scipy warm start**: L-BFGS-B with finite-difference gradients (as the paper's code runs it),
  one resample per task, warm-started at the estimate; timed on ``--reference-sample`` resamples
  and *extrapolated* to all of them;
- **scipy warm start, analytic gradient**: the same with the analytic gradient (same help as our
  engine), timed the same way (*extrapolated*);
- **paper grid per resample**: L-BFGS-B (finite differences) from all 4,500 grid starts for each
  resample; timed on a sample of starts for one resample, *extrapolated* to 4,500 x all.

Also prints the percentile CIs by runs and by points (the CI is expected to be wider by runs).

Run: ``python benchmarks/bootstrap_speed.py [--resamples 10000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from scipy_reference import analytic_solve, pinned_pool, reference_solve


def _pool_seconds(pool, solve, jobs: list[tuple], workers: int) -> tuple[float, np.ndarray]:
    """Wall seconds of ``solve`` over ``jobs`` in the pool, and each job's final objective."""
    started = time.perf_counter()
    results = list(pool.map(solve, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    return time.perf_counter() - started, np.array([r[0] for r in results])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=10000)
    parser.add_argument("--reference-sample", type=int, default=200)
    parser.add_argument("--grid-sample", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    from fitting.bootstrap import bootstrap_approach3, params_tokens_intervals, resample_counts
    from fitting.starts import PAPER_GRID
    from gemstones.scaling.designs import fit_design, load_design
    from gemstones.scaling.prescribe import fit_arrays

    started = time.perf_counter()
    fitted = fit_design(load_design("hot"))
    fit_seconds = time.perf_counter() - started
    log_x, log_loss, groups = fit_arrays(fitted)
    fit = fitted.fit
    print(
        f"design hot, law {fitted.design.law.name}: {log_loss.size} points, "
        f"{np.unique(groups).size} runs; point fit {fit_seconds:.1f} s, objective {fit.objective:.10g}"
    )

    def ours(by: str):
        return bootstrap_approach3(
            log_x,
            log_loss,
            fit.theta,
            variables=fit.variables,
            groups=groups,
            n_resamples=args.resamples,
            by=by,
            seed=0,
            delta=fit.delta,
        )

    started = time.perf_counter()
    ours("runs")
    first = time.perf_counter() - started

    counts = resample_counts(groups, args.resamples, by="runs", seed=0)[: args.reference_sample]
    warm_jobs = [(fit.theta, log_x, log_loss, fit.delta, row) for row in counts]
    rng = np.random.default_rng(0)
    grid_starts = PAPER_GRID.starts_at(
        rng.choice(PAPER_GRID.size(2), size=args.grid_sample, replace=False), 2
    )
    grid_jobs = [(s, log_x, log_loss, fit.delta, counts[0]) for s in grid_starts]

    workers = args.workers or os.cpu_count() or 1
    times: dict[str, list[float]] = {"ours": [], "warm": [], "warm_analytic": [], "grid": []}
    results = {}
    objectives: dict[str, np.ndarray] = {}
    with pinned_pool(workers) as pool:
        for _ in range(args.repeats):  # A B A B ...
            started = time.perf_counter()
            results["runs"] = ours("runs")
            times["ours"].append(time.perf_counter() - started)
            for key, solve, jobs in (
                ("warm", reference_solve, warm_jobs),
                ("warm_analytic", analytic_solve, warm_jobs),
                ("grid", reference_solve, grid_jobs),
            ):
                seconds, objectives[key] = _pool_seconds(pool, solve, jobs, workers)
                times[key].append(seconds)
    results["points"] = ours("points")

    ours_s = statistics.median(times["ours"])
    result = results["runs"]
    print(
        f"\nours, by runs: {args.resamples:,} refits in {ours_s:.2f} s wall (median of "
        f"{args.repeats}; first call with compilation {first:.2f} s), "
        f"{result.converged.mean():.1%} met the stopping rule, {result.usable.mean():.1%} usable "
        "[measured]"
    )
    for key, label in (
        ("warm", "scipy L-BFGS-B warm-started, finite differences"),
        ("warm_analytic", "scipy L-BFGS-B warm-started, analytic gradient"),
    ):
        per = statistics.median(times[key]) / args.reference_sample
        total = per * args.resamples
        gap = objectives[key] / result.objective[: args.reference_sample] - 1.0
        print(
            f"{label}: {per * 1e3:.2f} ms/refit on {workers} processes -> {total:.1f} s for "
            f"{args.resamples:,} [extrapolated from {args.reference_sample}]; ratio {total / ours_s:.1f}x;"
            f"\n    objective vs ours on the same resamples: median {np.median(gap):+.2e}, "
            f"worse by > 1e-6 relative on {np.mean(gap > 1e-6):.0%} [measured]"
        )
    per_start = statistics.median(times["grid"]) / args.grid_sample
    grid_total = per_start * PAPER_GRID.size(2) * args.resamples
    print(
        f"paper grid per resample: {per_start * 1e3:.2f} ms/start on {workers} processes x "
        f"{PAPER_GRID.size(2):,} starts x {args.resamples:,} resamples -> "
        f"{grid_total / 3600:.1f} h wall [extrapolated from {args.grid_sample} starts]; "
        f"ratio {grid_total / ours_s:,.0f}x"
    )

    print("\n95% percentile CIs (width by runs vs by points):")
    print(
        f"{'quantity':<18} {'budget':>8} {'estimate':>12} {'runs: lower':>12} {'upper':>12} "
        f"{'points: lower':>14} {'upper':>12} {'wider by runs':>14}"
    )
    runs = results["runs"].parameter_intervals() + params_tokens_intervals(
        results["runs"], [1e20, 1e22]
    )
    points = results["points"].parameter_intervals() + params_tokens_intervals(
        results["points"], [1e20, 1e22]
    )
    for r, p in zip(runs, points, strict=True):
        budget = "" if r.budget is None else f"{r.budget:.0e}"
        print(
            f"{r.name:<18} {budget:>8} {r.estimate:>12.5g} {r.lower:>12.5g} {r.upper:>12.5g} "
            f"{p.lower:>14.5g} {p.upper:>12.5g} {r.width > p.width!s:>14}"
        )


if __name__ == "__main__":
    main()
