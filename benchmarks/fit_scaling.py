"""Approach-3 fits at scale: wall time and peak memory from 200 to 2,000,000 points, k = 2 and 4.

Synthetic data are drawn from the law itself with log-normal noise,

    k = 2:  L = E + A N^-alpha + B D^-beta
    k = 4:  L = E + A_w w^-alpha_w + A_d d^-alpha_d + A_N N^-alpha_N + B D^-beta

with every variable log-uniform over a Gemstones-like range (drawn independently, so all
parameters are identifiable) and ``log L = log L_true + sigma * N(0, 1)``. Each configuration
runs in a fresh subprocess, so its peak memory is that process's ``getrusage`` maximum resident
set size (the Python interpreter, numpy, JAX's runtime and the data included). The columns:

- ``first s``: ``fit_approach3`` on the paper's start grid, first call in the process (JIT
  compilation included; the persistent compilation cache is switched off for the benchmark
  unless ``--cache`` is given);
- ``warm s``: the same fit again in the same process (compiled code reused);
- ``peak MB``: the subprocess's maximum resident set size;
- ``scipy s``: one scipy L-BFGS-B run (analytic gradient, numpy) started from the *true*
  parameters on the same data, in its own subprocess: the least work any fitting method must do;
- ``ratio``: warm / scipy;
- ``max |d alpha|``, ``|dE|/E``: recovery of the true exponents and irreducible loss.

The solver engine follows ``GEMSTONES_FIT_ENGINE`` (``auto`` by default: numpy for the small
two-variable configurations, JAX otherwise; see ``fitting.lm_engine``); set it to ``jax`` or
``numpy`` to time one engine throughout. Every figure is measured (nothing is extrapolated). The machine may be shared: run with
``--repeats 3`` to print the median of three runs of each configuration.

Usage:
    python benchmarks/fit_scaling.py                       # k = 2, 4; n = 2e2 .. 2e6
    python benchmarks/fit_scaling.py --ks 4 --sizes 2e6     # one configuration
    python benchmarks/fit_scaling.py --no-scipy             # skip the scipy baseline
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

import numpy as np

SIGMA = 0.01
TRUTH = {
    2: {
        "variables": ("params", "tokens"),
        "a": (5.5, 8.5),
        "alpha": (0.3, 0.4),
        "e": 0.5,
        "log10_range": ((7.0, 10.0), (9.0, 12.0)),
    },
    4: {
        "variables": ("width", "depth", "params", "tokens"),
        "a": (2.0, 1.0, 5.5, 8.5),
        "alpha": (0.4, 0.5, 0.3, 0.4),
        "e": 0.5,
        "log10_range": ((2.4, 3.6), (0.5, 1.9), (7.0, 10.0), (9.0, 12.0)),
    },
}


def true_theta(k: int) -> np.ndarray:
    """The true parameters, paper layout ``[a..., alpha..., e]``."""
    truth = TRUTH[k]
    return np.array([*truth["a"], *truth["alpha"], truth["e"]], dtype=np.float64)


def synthetic(k: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw variables (n, k) and noisy losses (n,) drawn from the k-variable law."""
    from fitting.laws import log_prediction

    rng = np.random.default_rng(seed)
    x = np.empty((n, k))
    for i, (low, high) in enumerate(TRUTH[k]["log10_range"]):
        x[:, i] = 10.0 ** rng.uniform(low, high, size=n)
    theta = true_theta(k)
    log_loss = np.empty(n)
    step = 1 << 16
    for start in range(0, n, step):
        part = slice(start, start + step)
        log_loss[part] = log_prediction(theta, np.log(x[part]))
    log_loss += SIGMA * rng.standard_normal(n)
    return x, np.exp(log_loss)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_ours(k: int, n: int) -> dict:
    """Fit twice in this process; report times, peak memory and recovery."""
    from fitting.approach3 import fit_approach3

    x, loss = synthetic(k, n)
    data_mb = _peak_mb()
    variables = TRUTH[k]["variables"]
    started = time.perf_counter()
    fit = fit_approach3(x, loss, variables=variables)
    first = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    again = fit_approach3(x, loss, variables=variables)
    warm, warm_cpu = time.perf_counter() - started, time.process_time() - cpu
    truth = true_theta(k)
    return {
        "first_s": first,
        "warm_s": warm,
        "warm_cpu_s": warm_cpu,
        "peak_mb": _peak_mb(),
        "data_mb": data_mb,
        "objective": fit.objective,
        "same_again": bool(again.objective == fit.objective),
        "alpha_error": float(np.max(np.abs(np.array(fit.exponents) - truth[k : 2 * k]))),
        "E_error": float(abs(fit.E - np.exp(truth[-1])) / np.exp(truth[-1])),
        "converged": fit.n_converged,
        "flags": list(fit.flags),
    }


def run_scipy(k: int, n: int) -> dict:
    """One scipy L-BFGS-B from the true parameters, analytic gradient in numpy."""
    from scipy.optimize import minimize

    x, loss = synthetic(k, n)
    log_x, log_loss = np.log(x), np.log(loss)
    del x, loss
    delta = 1e-4

    def value_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, alpha, e = theta[:k], theta[k : 2 * k], theta[2 * k]
        z = np.empty((log_x.shape[0], k + 1))
        np.subtract(a, alpha * log_x, out=z[:, :k])
        z[:, k] = e
        peak = z.max(axis=1)
        np.exp(z - peak[:, None], out=z)
        total = z.sum(axis=1)
        r = log_loss - (peak + np.log(total))
        z /= total[:, None]  # softmax weights = d log L_hat / d (a_i, e)
        big = np.abs(r) > delta
        f = float(np.sum(np.where(big, delta * (np.abs(r) - 0.5 * delta), 0.5 * r * r)))
        dr = np.where(big, delta * np.sign(r), r)  # Huber'(r); d objective = -Huber'(r) d pred
        grad = np.empty(2 * k + 1)
        grad[:k] = -(dr @ z[:, :k])
        grad[k : 2 * k] = (dr[:, None] * z[:, :k] * log_x).sum(axis=0)
        grad[2 * k] = -(dr @ z[:, k])
        return f, grad

    started = time.perf_counter()
    result = minimize(value_and_grad, true_theta(k), jac=True, method="L-BFGS-B")
    seconds = time.perf_counter() - started
    return {
        "scipy_s": seconds,
        "scipy_peak_mb": _peak_mb(),
        "scipy_objective": float(result.fun),
        "scipy_iterations": int(result.nit),
    }


def _child(k: int, n: int, what: str, cache: bool) -> dict:
    env = dict(os.environ)
    env["GEMSTONES_JAX_CACHE"] = "1" if cache else "0"
    env.setdefault("PYTHONPATH", os.getcwd())
    # one BLAS/XLA thread pool per process, no oversubscription of the two cores
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    command = [sys.executable, __file__, "--child", what, str(k), str(n)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{what} k={k} n={n} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[2, 4], choices=[2, 4])
    parser.add_argument(
        "--sizes", type=float, nargs="+", default=[2e2, 2e3, 2e4, 2e5, 2e6], help="point counts"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per configuration (median)")
    parser.add_argument("--no-scipy", action="store_true", help="skip the scipy baseline")
    parser.add_argument("--cache", action="store_true", help="keep the persistent JAX cache on")
    parser.add_argument("--child", nargs=3, metavar=("WHAT", "K", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, k, n = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(run_ours(k, n) if what == "ours" else run_scipy(k, n)))
        return

    print(
        f"{'k':>2} {'points':>10} {'first s':>8} {'warm s':>8} {'warm cpu':>8} {'peak MB':>8} "
        f"{'scipy s':>8} {'ratio':>7} {'max|d alpha|':>12} {'|dE|/E':>9}  flags"
    )
    for k in args.ks:
        for size in args.sizes:
            n = int(size)
            ours_runs, scipy_runs = [], []
            for _ in range(args.repeats):  # interleaved: ours, scipy, ours, scipy, ...
                ours_runs.append(_child(k, n, "ours", args.cache))
                if not args.no_scipy:
                    scipy_runs.append(_child(k, n, "scipy", args.cache))

            def median(runs: list[dict], key: str) -> float:
                return statistics.median(r[key] for r in runs) if runs else float("nan")

            warm = median(ours_runs, "warm_s")
            scipy_s = median(scipy_runs, "scipy_s")
            last = ours_runs[-1]
            print(
                f"{k:>2} {n:>10,} {median(ours_runs, 'first_s'):>8.2f} {warm:>8.2f} "
                f"{median(ours_runs, 'warm_cpu_s'):>8.2f} {median(ours_runs, 'peak_mb'):>8.0f} "
                f"{scipy_s:>8.2f} {warm / scipy_s:>6.1f}x {last['alpha_error']:>12.2e} "
                f"{last['E_error']:>9.2e}  {','.join(last['flags']) or '-'}",
                flush=True,
            )
    print(
        "\nAll figures measured (medians of --repeats runs, ours and scipy interleaved). ratio = warm"
        "\n/ scipy, where scipy is a single L-BFGS-B from the true parameters (analytic gradient)."
    )


if __name__ == "__main__":
    main()
