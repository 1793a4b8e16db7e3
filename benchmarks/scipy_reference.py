"""The scipy baselines the benchmarks time ours against, and a process pool to run them in.

- ``reference_solve``: the Gemstones paper's local solve (arXiv 2502.06857, Chinchilla approach 3):
  ``scipy.optimize.minimize(method="L-BFGS-B")`` on the summed Huber objective with scipy's
  finite-difference gradient, as a user of that code gets.
- ``analytic_solve``: the same L-BFGS-B with the analytic gradient (numpy): what scipy can do
  when given the same help as our engine.

``pinned_pool`` gives the reference the parallelism upstream uses (one process per core) with
every BLAS/OpenMP pool pinned to one thread, so that no worker spins a second thread for nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import numpy as np

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def huber_value_and_grad(
    theta: np.ndarray,
    log_x: np.ndarray,
    log_loss: np.ndarray,
    delta: float,
    weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Summed (weighted) Huber objective of the log residuals and its analytic gradient (numpy)."""
    k = log_x.shape[1]
    a, alpha, e = theta[:k], theta[k : 2 * k], theta[2 * k]
    z = np.empty((log_x.shape[0], k + 1))
    np.subtract(a, alpha * log_x, out=z[:, :k])
    z[:, k] = e
    peak = z.max(axis=1)
    np.exp(z - peak[:, None], out=z)
    total = z.sum(axis=1)
    r = log_loss - (peak + np.log(total))
    z /= total[:, None]  # softmax weights: d log L_hat / d (a_i, e)
    big = np.abs(r) > delta
    terms = np.where(big, delta * (np.abs(r) - 0.5 * delta), 0.5 * r * r)
    dr = np.where(big, delta * np.sign(r), r)  # Huber'(r); the objective moves by -Huber'(r) dpred
    if weights is not None:
        terms = terms * weights
        dr = dr * weights
    grad = np.empty(2 * k + 1)
    grad[:k] = -(dr @ z[:, :k])
    grad[k : 2 * k] = (dr[:, None] * z[:, :k] * log_x).sum(axis=0)
    grad[2 * k] = -(dr @ z[:, k])
    return float(np.sum(terms)), grad


def reference_solve(args: tuple) -> tuple[float, bool, np.ndarray]:
    """The paper's solve from one start: L-BFGS-B, finite-difference gradient.

    Args:
        args: ``(start, log_x, log_loss, delta, weights)``.

    Returns:
        ``(objective, success, theta)``.
    """
    from scipy.optimize import minimize

    from fitting.laws import objective

    start, log_x, log_loss, delta, weights = args
    result = minimize(objective, start, args=(log_x, log_loss, delta, weights), method="L-BFGS-B")
    return float(result.fun), bool(result.success), result.x


def analytic_solve(args: tuple) -> tuple[float, bool, np.ndarray]:
    """L-BFGS-B from one start with the analytic gradient (same arguments as ``reference_solve``)."""
    from scipy.optimize import minimize

    start, log_x, log_loss, delta, weights = args
    result = minimize(
        huber_value_and_grad,
        start,
        args=(log_x, log_loss, delta, weights),
        jac=True,
        method="L-BFGS-B",
    )
    return float(result.fun), bool(result.success), result.x


def _warm_up() -> None:
    import scipy.optimize  # noqa: F401

    import fitting.laws  # noqa: F401


@contextmanager
def pinned_pool(workers: int | None = None) -> Iterator[ProcessPoolExecutor]:
    """A process pool (default: one worker per core) whose BLAS/OpenMP pools have one thread.

    The variables are set before the workers start (and so before they import numpy), then
    restored in this process. The workers import scipy up front, so timing excludes start-up.
    """
    import multiprocessing

    workers = workers or os.cpu_count() or 1
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: "1" for name in THREAD_VARIABLES})
    try:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm_up,
        )
        list(pool.map(_identity, range(workers)))  # start every worker now
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield pool
    finally:
        pool.shutdown()


def _identity(value: int) -> int:
    return value


def best_of(results: list[tuple[float, bool, np.ndarray]]) -> tuple[float, int]:
    """Best objective among successful solves (or all, if none succeeded), and the success count."""
    successes = [r for r in results if r[1]]
    pool = successes or results
    return min(r[0] for r in pool), len(successes)
