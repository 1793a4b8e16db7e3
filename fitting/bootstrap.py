"""Bootstrap uncertainty of approach-3 fits: resampling, warm-started batched refits, percentile CIs.

Checkpoints of one training run are not independent (they share the model, the data order and the
learning-rate schedule), so the default resamples whole runs: draw as many runs as there are, with
replacement, and give every checkpoint of a run the number of times its run was drawn as its weight.
Resampling by points draws checkpoints individually. Either way a resample is a vector of integer
count weights over the original points, and the weighted Huber objective of ``fitting.laws`` with
those weights is exactly the objective of the resampled data set.

Every resample is refitted by the batched Levenberg-Marquardt solver warm-started at the point
estimate (``fitting.approach3.solve_from_starts``), the resamples queued through a fixed number of
slots, so 10,000 refits of a few hundred points take seconds. Intervals
are percentile intervals (Efron's percentile bootstrap) of the resampled values of each parameter
and of each derived quantity (computed per resample, then summarised).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fitting.errors import FitInputError
from fitting.laws import DEFAULT_DELTA

ResampleBy = Literal["runs", "points"]
RESAMPLE_MODES: tuple[str, ...] = ("runs", "points")
DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile confidence interval.

    Attributes:
        name: the quantity, e.g. ``"alpha_params"`` or ``"N_opt"``.
        estimate: the value at the point estimate of the fit.
        lower, upper: the interval's ends.
        level: the confidence level, e.g. 0.95.
        budget: the budget the quantity refers to, or None for budget-free quantities.
    """

    name: str
    estimate: float
    lower: float
    upper: float
    level: float
    budget: float | None = None

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (ends included)."""
        return self.lower <= value <= self.upper

    @property
    def width(self) -> float:
        """upper - lower."""
        return self.upper - self.lower


def percentile_interval(
    samples: ArrayLike,
    estimate: float,
    *,
    name: str,
    level: float = DEFAULT_LEVEL,
    budget: float | None = None,
) -> Interval:
    """Percentile interval of the finite resampled values of one quantity.

    Raises:
        FitInputError: a level outside (0, 1) or no finite sample.
    """
    if not 0.0 < level < 1.0:
        raise FitInputError(f"level must be in (0, 1); got {level}")
    values = np.asarray(samples, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise FitInputError(f"no finite bootstrap values of {name}")
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(values, [tail, 1.0 - tail])
    return Interval(name, float(estimate), float(lower), float(upper), float(level), budget)


def resample_counts(
    groups: ArrayLike,
    n_resamples: int,
    *,
    by: ResampleBy = "runs",
    seed: int = 0,
) -> NDArray[np.float64]:
    """Count weights of bootstrap resamples, shape (n_resamples, n_points).

    Args:
        groups: the run each point belongs to (any hashable labels), shape (n,).
        n_resamples: how many resamples.
        by: ``"runs"`` draws whole runs with replacement; ``"points"`` draws points.
        seed: seed of numpy's default generator (same seed, same resamples).

    Returns:
        Float counts; every row sums to n (by points) or to the points of the drawn runs (by runs).
    """
    if by not in RESAMPLE_MODES:
        raise FitInputError(f"unknown resampling mode {by!r}; valid: {', '.join(RESAMPLE_MODES)}")
    if n_resamples < 1:
        raise FitInputError(f"n_resamples must be >= 1; got {n_resamples}")
    labels = np.asarray(groups).reshape(-1)
    n = labels.shape[0]
    if n == 0:
        raise FitInputError("no points to resample")
    rng = np.random.default_rng(seed)
    if by == "points":
        draws = rng.integers(0, n, size=(n_resamples, n))
        counts = np.zeros((n_resamples, n))
        np.add.at(counts, (np.arange(n_resamples)[:, None], draws), 1.0)
        return counts
    _, run_of_point = np.unique(labels, return_inverse=True)
    n_runs = int(run_of_point.max()) + 1
    if n_runs < 2:
        raise FitInputError("resampling by runs needs at least 2 runs; got 1 (resample by points)")
    draws = rng.integers(0, n_runs, size=(n_resamples, n_runs))
    run_counts = np.zeros((n_resamples, n_runs))
    np.add.at(run_counts, (np.arange(n_resamples)[:, None], draws), 1.0)
    return run_counts[:, run_of_point]


def _parameter_names(variables: Sequence[str]) -> tuple[str, ...]:
    from fitting.laws import POWER_SUM

    return POWER_SUM.parameter_names_for(variables)


@dataclass(frozen=True)
class BootstrapResult:
    """Resampled refits of an approach-3 law.

    Attributes:
        variables: the law's variables, in parameter order.
        by: ``"runs"`` or ``"points"``.
        seed: the resampling seed.
        delta: the Huber threshold of the refits.
        theta_hat: the point estimate, shape (2k+1,).
        thetas: one refit per resample, shape (m, 2k+1).
        objective: each refit's objective on its resample, shape (m,).
        converged: whether each refit met the stopping rule, shape (m,).
        n_groups: runs (by runs) or points (by points) drawn per resample.
        seconds: wall time of the refits.
    """

    variables: tuple[str, ...]
    by: str
    seed: int
    delta: float
    theta_hat: NDArray[np.float64]
    thetas: NDArray[np.float64]
    objective: NDArray[np.float64]
    converged: NDArray[np.bool_]
    n_groups: int
    seconds: float = 0.0

    @property
    def n_resamples(self) -> int:
        """Number of resamples."""
        return int(self.thetas.shape[0])

    @property
    def usable(self) -> NDArray[np.bool_]:
        """Resamples whose refit has a finite objective and finite parameters."""
        return np.isfinite(self.objective) & np.all(np.isfinite(self.thetas), axis=1)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of theta's entries: a_<var>..., alpha_<var>..., e."""
        return _parameter_names(self.variables)

    def parameter_intervals(self, level: float = DEFAULT_LEVEL) -> tuple[Interval, ...]:
        """Percentile intervals of every parameter (paper layout), plus E = exp(e)."""
        thetas = self.thetas[self.usable]
        out = [
            percentile_interval(thetas[:, i], self.theta_hat[i], name=name, level=level)
            for i, name in enumerate(self.parameter_names)
        ]
        out.append(
            percentile_interval(
                np.exp(thetas[:, -1]), float(np.exp(self.theta_hat[-1])), name="E", level=level
            )
        )
        return tuple(out)


def bootstrap_approach3(
    log_x: ArrayLike,
    log_loss: ArrayLike,
    theta_hat: ArrayLike,
    *,
    variables: Sequence[str],
    groups: ArrayLike,
    n_resamples: int = DEFAULT_RESAMPLES,
    by: ResampleBy = "runs",
    seed: int = 0,
    delta: float = DEFAULT_DELTA,
    chunk: int = 256,
    max_steps: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> BootstrapResult:
    """Refit an approach-3 law on bootstrap resamples, warm-started at the point estimate.

    Args:
        log_x: natural logs of the variables, shape (n, k) (as fitted).
        log_loss: natural logs of the losses, shape (n,).
        theta_hat: the point estimate ``[a..., alpha..., e]``, the start of every refit.
        variables: the law's variable names.
        groups: run label of every point (for resampling by runs), shape (n,).
        n_resamples: number of resamples.
        by: ``"runs"`` (default) or ``"points"``.
        seed: resampling seed.
        delta: Huber threshold (the fit's).
        chunk: resamples solved together (the solver's slots, rounded down to a power of two).
        max_steps: iteration cap per refit (warm starts need few).
        progress: optional callback ``progress(done, total)`` as refits finish.

    Returns:
        ``BootstrapResult``.
    """
    import time

    from fitting.approach3 import solve_from_starts

    lx = np.asarray(log_x, dtype=np.float64)
    ly = np.asarray(log_loss, dtype=np.float64).reshape(-1)
    theta0 = np.asarray(theta_hat, dtype=np.float64).reshape(-1)
    variables = tuple(variables)
    if lx.ndim != 2 or lx.shape != (ly.size, len(variables)):
        raise FitInputError(f"log_x must have shape ({ly.size}, {len(variables)}); got {lx.shape}")
    if theta0.size != 2 * len(variables) + 1:
        raise FitInputError(f"theta_hat needs {2 * len(variables) + 1} entries; got {theta0.size}")
    labels = np.asarray(groups).reshape(-1)
    if labels.size != ly.size:
        raise FitInputError(f"groups has {labels.size} labels for {ly.size} points")
    counts = resample_counts(labels, n_resamples, by=by, seed=seed)
    started = time.perf_counter()
    # One queue of refits through ``chunk`` slots: a finished refit's slot takes the next resample,
    # so the few slow refits never hold a batch of finished ones, and one program is compiled.
    solution = solve_from_starts(
        np.repeat(theta0[None, :], n_resamples, axis=0),
        lx,
        ly,
        delta=delta,
        weights=counts,
        max_steps=max_steps,
        slots=max(1, int(chunk)),
        progress=progress,
    )
    n_groups = np.unique(labels).size if by == "runs" else ly.size
    return BootstrapResult(
        variables=variables,
        by=by,
        seed=int(seed),
        delta=float(delta),
        theta_hat=theta0,
        thetas=solution.theta,
        objective=solution.objective,
        converged=solution.converged,
        n_groups=int(n_groups),
        seconds=time.perf_counter() - started,
    )


def params_tokens_intervals(
    result: BootstrapResult,
    budgets: ArrayLike,
    level: float = DEFAULT_LEVEL,
) -> tuple[Interval, ...]:
    """Intervals of the closed-form prescriptions of a params–tokens law.

    Budget-free: a, b, G. Per budget C: N_opt, D_opt, tokens_per_param (6ND FLOPs).
    Resamples whose exponents are not positive (no optimum) are left out.
    """
    from fitting.prescriptions import closed_form_allocation

    budget_arr = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    point = closed_form_allocation(result.theta_hat, result.variables)
    thetas = result.thetas[result.usable]
    k = len(result.variables)
    thetas = thetas[np.all(thetas[:, k : 2 * k] > 0, axis=1)]
    samples = closed_form_allocation(thetas, result.variables)
    out = [
        percentile_interval(samples.a, float(point.a), name="a", level=level),
        percentile_interval(samples.b, float(point.b), name="b", level=level),
        percentile_interval(samples.G, float(point.G), name="G", level=level),
    ]
    for name, method in (
        ("N_opt", "optimal_params"),
        ("D_opt", "optimal_tokens"),
        ("tokens_per_param", "tokens_per_param"),
    ):
        estimate = getattr(point, method)(budget_arr)
        values = getattr(samples, method)(budget_arr)
        for j, budget in enumerate(budget_arr):
            out.append(
                percentile_interval(
                    values[:, j], float(estimate[j]), name=name, level=level, budget=float(budget)
                )
            )
    return tuple(out)


def optima_of_resamples(
    result: BootstrapResult,
    budgets: ArrayLike,
    cost_per_token: Callable,
    params_fn: Callable,
    *,
    grid=None,
) -> tuple[Any, Any]:
    """The compute-optimal allocation at ``budgets`` for the point estimate and every usable resample.

    Returns:
        ``(point, samples)``: ``fitting.frontier.optima_at_budgets`` of ``theta_hat`` (one row) and
        of the usable resampled thetas (one row each), on the same shape grid.
    """
    from fitting.frontier import optima_at_budgets

    budget_arr = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    point = optima_at_budgets(
        result.theta_hat, result.variables, budget_arr, cost_per_token, params_fn, grid=grid
    )
    samples = optima_at_budgets(
        result.thetas[result.usable],
        result.variables,
        budget_arr,
        cost_per_token,
        params_fn,
        grid=grid,
    )
    return point, samples


def width_depth_intervals(
    result: BootstrapResult,
    budgets: ArrayLike,
    cost_per_token: Callable,
    params_fn: Callable,
    *,
    grid=None,
    level: float = DEFAULT_LEVEL,
) -> tuple[Interval, ...]:
    """Intervals of the optimal width, depth, width/depth, params, tokens, tokens/param per budget.

    Each resample's optimum is found on the same shape grid (``fitting.frontier.optima_at_budgets``),
    so the intervals are quantised at the grid's resolution (default about 2.5% in width).
    """
    budget_arr = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    point, samples = optima_of_resamples(result, budget_arr, cost_per_token, params_fn, grid=grid)
    out = []
    for name in ("width", "depth", "width_depth_ratio", "params", "tokens", "tokens_per_param"):
        estimate, values = getattr(point, name), getattr(samples, name)
        for j, budget in enumerate(budget_arr):
            out.append(
                percentile_interval(
                    values[:, j],
                    float(estimate[0, j]),
                    name=name,
                    level=level,
                    budget=float(budget),
                )
            )
    return tuple(out)
