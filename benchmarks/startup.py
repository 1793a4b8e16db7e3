"""Start-up cost of the CLI: warm ``gemstones fit --design hot`` wall time, per engine and per stage.

Every run is a fresh process (what a user waits for at the shell). The engines run interleaved
(numpy, jax, numpy, jax, ...) so that a change in the machine's load hits both alike, and the
medians are printed. Before the timed runs each command runs once untimed, so JAX's persistent
compilation cache (``gemstones.compile_cache``, in the user cache folder) already holds the
compiled solver: "warm" means a second or later call, as the issue asks.

Printed:

- ``fit --design hot`` wall and CPU (user + system, from ``getrusage`` of the children) for
  ``GEMSTONES_FIT_ENGINE=numpy`` and ``=jax``, plus ``gemstones --help`` and a bare
  ``python -c "import jax"`` for reference; the fit's objective, which must be the same for both;
- a per-stage breakdown of the fit command, measured inside a fresh process with
  ``time.perf_counter`` / ``time.process_time`` (imports of the CLI, of the design module and
  polars, the catalog and fit table, the fit, the printing);
- the load average before and after, since this machine may be shared (wall times under load are
  longer than CPU times; the CPU column is the steadier one).

Every figure is measured; nothing is extrapolated.

Usage:
    python benchmarks/startup.py              # 5 interleaved rounds
    python benchmarks/startup.py --rounds 9
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CLI = "import sys; from gemstones.cli import main; main(sys.argv[1:])"
FIT = ["fit", "--design", "hot", "--format", "json"]

STAGES = r"""
import json, sys, time
wall0, cpu0 = time.perf_counter(), time.process_time()
out = {}
def mark(name):
    global wall0, cpu0
    wall, cpu = time.perf_counter(), time.process_time()
    out[name] = (wall - wall0, cpu - cpu0)
    wall0, cpu0 = wall, cpu
import gemstones.cli
mark("import gemstones.cli")
from gemstones.cli.fit_cmds import FitRequest, render_fit, resolve_design
from gemstones.scaling.designs import design_table, fit_design
mark("import designs + polars")
design, _ = resolve_design(FitRequest(design="hot"))
table = design_table(design)
mark("design + catalog + table")
fitted = fit_design(design, table=table)
mark("fit")
text = render_fit(fitted)
mark("render")
out["jax imported"] = "jax" in sys.modules
print(json.dumps(out))
"""


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (children's user + system) and stdout of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv)} failed: {run.stderr.strip()[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, run.stdout


def _env(engine: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GEMSTONES_FIT_ENGINE", None)
    if engine is not None:
        env["GEMSTONES_FIT_ENGINE"] = engine
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 100:
        raise SystemExit(f"error: --rounds must be 1..100; got {args.rounds}")

    commands = {
        "fit hot (numpy)": ([sys.executable, "-c", CLI, *FIT], _env("numpy")),
        "fit hot (jax)": ([sys.executable, "-c", CLI, *FIT], _env("jax")),
        "fit hot (auto)": ([sys.executable, "-c", CLI, *FIT], _env(None)),
        "gemstones --help": ([sys.executable, "-c", CLI, "--help"], _env(None)),
        "python -c 'import jax'": ([sys.executable, "-c", "import jax"], _env(None)),
    }
    load_before = os.getloadavg()
    objectives = {}
    for name, (argv, env) in commands.items():  # untimed: fills the compilation cache
        _, _, stdout = _timed(argv, env)
        if name.startswith("fit"):
            objectives[name] = json.loads(stdout)["objective"]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    stages: dict[str, list[dict]] = {"numpy": [], "jax": []}
    for _ in range(args.rounds):
        for name, (argv, env) in commands.items():
            wall, cpu, _ = _timed(argv, env)
            times[name].append((wall, cpu))
        for engine in stages:
            _, _, stdout = _timed([sys.executable, "-c", STAGES], _env(engine))
            stages[engine].append(json.loads(stdout))
    load_after = os.getloadavg()

    print(f"{args.rounds} interleaved rounds, warm (each command ran once before timing)")
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} CPUs)"
    )
    print(f"\n{'command':<26} {'wall median':>12} {'wall min':>9} {'cpu median':>11}")
    for name, runs in times.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"{name:<26} {statistics.median(walls):>11.3f}s {min(walls):>8.3f}s "
            f"{statistics.median(cpus):>10.3f}s"
        )
    print("\nobjectives: " + ", ".join(f"{k}: {v!r}" for k, v in objectives.items()))
    print(
        f"\n{'stage (median over rounds)':<28} {'numpy wall':>10} {'cpu':>7} {'jax wall':>9} {'cpu':>7}"
    )
    for stage in stages["numpy"][0]:
        if stage == "jax imported":
            continue
        row = []
        for engine in ("numpy", "jax"):
            walls = [run[stage][0] for run in stages[engine]]
            cpus = [run[stage][1] for run in stages[engine]]
            row += [statistics.median(walls), statistics.median(cpus)]
        print(f"{stage:<28} {row[0]:>9.3f}s {row[1]:>6.3f}s {row[2]:>8.3f}s {row[3]:>6.3f}s")
    imported = {engine: stages[engine][0]["jax imported"] for engine in stages}
    print(
        f"\nJAX imported by the fit: numpy engine {imported['numpy']}, jax engine {imported['jax']}"
    )


if __name__ == "__main__":
    main()
