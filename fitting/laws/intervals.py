"""Honest intervals for law families: the profile of the approach-3 objective along one parameter,
prediction intervals (parameter uncertainty plus observation noise), and a percentile bootstrap
of any registered family by groups (runs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fitting.errors import FitInputError
from fitting.laws.base import DEFAULT_DELTA, REGISTRY, FamilyFit
from fitting.laws.power_sum import PowerSumLayout, log_prediction, objective
from fitting.result import ResultMixin


@dataclass(frozen=True)
class Profile(ResultMixin):
    """The profile of the approach-3 objective along one parameter.

    With a Huber threshold far below the residuals (δ = 1e-4), the objective is δ·Σ|r| up to a
    constant, the negative log-likelihood of Laplace errors with scale b = Σ|r|/n; the profile
    likelihood-ratio interval at ``level`` keeps the values whose objective is within a factor
    ``threshold_ratio = 1 + q/(2n)`` of the best (q the chi-square(1) quantile).

    Attributes:
        parameter: the profiled parameter's name.
        values: the fixed values, shape (m,).
        objectives: the objective minimised over the other parameters at each, shape (m,).
        best_objective: the unconstrained optimum's objective.
        best_value: the parameter's value at the optimum.
        threshold_ratio: the interval's objective ratio.
        level: the interval's nominal level.
        interval: the contiguous range of ``values`` around the best under the threshold
            (an end equal to the scanned range's end means the interval reaches past it).
    """

    parameter: str
    values: np.ndarray
    objectives: np.ndarray
    best_objective: float
    best_value: float
    threshold_ratio: float
    level: float
    interval: tuple[float, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "parameter": self.parameter,
            "best_value": self.best_value,
            "best_objective": self.best_objective,
            "interval": list(self.interval),
            "level": self.level,
            "threshold_ratio": self.threshold_ratio,
            "values": self.values.tolist(),
            "objective_ratio": (self.objectives / self.best_objective).tolist(),
        }


def profile_power_sum(
    x: Any,
    y: Any,
    theta_hat: Any,
    *,
    variables: Sequence[str],
    parameter: str,
    values: Any,
    delta: float = DEFAULT_DELTA,
    level: float = 0.95,
) -> Profile:
    """Profile the approach-3 objective along one parameter (``a_<v>``, ``alpha_<v>`` or ``e``).

    At each fixed value the other parameters are re-optimised (scipy's trust-region least squares
    with a Huber loss of threshold ``delta``, warm-started from the neighbouring value); the
    reported objective is :func:`fitting.laws.objective`.

    Args:
        x: raw variables (n, k); y: losses (n,).
        theta_hat: the unconstrained fit ``[a..., alpha..., e]``.
        variables: the variable names.
        parameter: which parameter to fix.
        values: the values to fix it at (at most 400).
        delta: the Huber threshold.
        level: interval level.

    Example:
        >>> # p = profile_power_sum(x, y, fit.theta, variables=["params", "tokens"],
        >>> #                       parameter="alpha_tokens", values=np.linspace(0.4, 0.9, 26))
    """
    from scipy.stats import chi2

    variables = tuple(variables)
    layout = PowerSumLayout.of(variables)
    names = layout.names
    if parameter not in names:
        raise FitInputError(f"unknown parameter {parameter!r}; available: {', '.join(names)}")
    grid = np.asarray(values, dtype=np.float64).reshape(-1)
    if not 2 <= grid.size <= 400 or not np.all(np.isfinite(grid)):
        raise FitInputError(f"profile needs 2..400 finite values; got {grid.size}")
    if not 0 < level < 1:
        raise FitInputError(f"level must be in (0, 1); got {level}")
    log_x = np.log(np.asarray(x, dtype=np.float64))
    log_y = np.log(np.asarray(y, dtype=np.float64))
    theta_hat = np.asarray(theta_hat, dtype=np.float64)
    index = names.index(parameter)
    free = [i for i in range(theta_hat.size) if i != index]
    best = float(objective(theta_hat, log_x, log_y, delta))

    def solve(value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        def resid(phi: np.ndarray) -> np.ndarray:
            theta = np.insert(phi, index, value)
            return log_prediction(theta, log_x) - log_y

        from scipy.optimize import least_squares

        result = least_squares(resid, start, loss="huber", f_scale=delta, max_nfev=2000)
        theta = np.insert(result.x, index, value)
        return float(objective(theta, log_x, log_y, delta)), result.x

    def shifted(theta: np.ndarray, value: float) -> np.ndarray:
        # moving alpha_j with a_j fixed rescales the term by x^-(change): re-centre a_j so the
        # term keeps its size at the mean log x_j (the change of variables approach 3 uses)
        out = np.array(theta, dtype=np.float64)
        exponents = {layout.exponent_index(v): v for v in variables}
        if index in exponents:
            j = layout.coefficient_index(exponents[index])
            out[j] += (value - out[index]) * float(
                np.mean(log_x[:, variables.index(exponents[index])])
            )
        out[index] = value
        return out[free]

    objectives = np.empty(grid.size)
    order = np.argsort(np.abs(grid - theta_hat[index]))  # outward from the optimum
    solved: dict[int, np.ndarray] = {}
    for i in order:
        value = float(grid[i])
        candidates = [shifted(theta_hat, value)]
        near = min(solved, key=lambda j: abs(grid[j] - grid[i]), default=None)
        if near is not None:
            candidates.append(shifted(np.insert(solved[near], index, grid[near]), value))
        results = [solve(value, start) for start in candidates]
        objectives[i], solved[i] = min(results, key=lambda r: r[0])
    best = min(best, float(np.min(objectives)))
    ratio = 1.0 + float(chi2.ppf(level, 1)) / (2.0 * log_y.size)
    inside = objectives / best <= ratio
    centre = int(np.argmin(objectives))
    lo = hi = centre
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < grid.size - 1 and inside[hi + 1]:
        hi += 1
    sorted_grid = np.all(np.diff(grid) > 0)
    interval = (float(grid[lo]), float(grid[hi])) if sorted_grid else (float("nan"),) * 2
    return Profile(
        parameter=parameter,
        values=grid,
        objectives=objectives,
        best_objective=best,
        best_value=float(theta_hat[index]),
        threshold_ratio=ratio,
        level=level,
        interval=interval,
    )


def prediction_interval(
    thetas: Any,
    log_x: Any,
    residuals: Any,
    *,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prediction intervals of an approach-3 law: parameter uncertainty plus observation noise.

    Each bootstrap refit's log prediction is perturbed by a log residual of the point fit drawn
    at random; the interval is the percentile range of the results.

    Args:
        thetas: bootstrap refits (m, 2k+1) (``fitting.bootstrap.BootstrapResult.thetas``).
        log_x: natural logs of the points to predict (n, k).
        residuals: the point fit's log residuals (log y - log prediction), shape (r,).
        level: interval level.
        seed: seed of the residual draws.

    Returns:
        ``(low, median, high)`` predicted losses, each (n,); the confidence band alone is the
        percentile range of ``exp(log_prediction(thetas))``.
    """
    thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    log_x = np.atleast_2d(np.asarray(log_x, dtype=np.float64))
    residuals = np.asarray(residuals, dtype=np.float64).reshape(-1)
    if not 0 < level < 1 or residuals.size == 0 or thetas.shape[0] < 2:
        raise FitInputError("prediction_interval needs 0 < level < 1, residuals and >= 2 refits")
    rng = np.random.default_rng(seed)
    preds = np.stack([log_prediction(t, log_x) for t in thetas])  # (m, n)
    noise = rng.choice(residuals, size=preds.shape)
    draws = np.exp(preds + noise)
    from fitting.stats import percentile_bounds

    low, high = percentile_bounds(draws, level, nonfinite="rank")
    return low, np.median(draws, axis=0), high


@dataclass(frozen=True)
class FamilyBootstrap(ResultMixin):
    """Percentile intervals of a family's parameters over resamples by groups (runs).

    Attributes:
        fit: the point fit.
        samples: refitted parameters, shape (m, p) (failed refits dropped).
        intervals: parameter name -> (low, high).
        derived_intervals: derived quantity -> (low, high).
        n_failed: refits that raised ``FitInputError``.
        ci: the interval level.
    """

    fit: FamilyFit
    samples: np.ndarray
    intervals: Mapping[str, tuple[float, float]]
    derived_intervals: Mapping[str, tuple[float, float]]
    n_failed: int
    ci: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            **self.fit.as_dict(),
            "ci": self.ci,
            "n_resamples": int(self.samples.shape[0]),
            "n_failed": self.n_failed,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "derived_intervals": {k: list(v) for k, v in self.derived_intervals.items()},
        }


def bootstrap_family(
    family: str,
    x: Any,
    y: Any,
    groups: Any,
    *,
    n_resamples: int = 100,
    seed: int = 0,
    ci: float = 0.95,
    options: Mapping[str, Any] | None = None,
) -> FamilyBootstrap:
    """Fit a registered family, then refit it on resamples of whole groups (runs), each warm-started
    at the point fit, and report percentile intervals of its parameters and derived quantities.

    Example:
        >>> # boot = bootstrap_family("loss_to_loss", lx, ly, shapes, n_resamples=100)
    """
    if not 2 <= n_resamples <= 100_000 or not 0 < ci < 1:
        raise FitInputError(
            f"need 2 <= n_resamples <= 100000 and 0 < ci < 1; got {n_resamples}, {ci}"
        )
    law = REGISTRY.get(family)
    x_arr = np.asarray(x, dtype=np.float64)
    y_arr = np.asarray(y, dtype=np.float64)
    groups = np.asarray(groups)
    if groups.shape[0] != y_arr.shape[0]:
        raise FitInputError(f"groups must have {y_arr.shape[0]} entries; got {groups.shape[0]}")
    opts = dict(options or {})
    point = law.fit(x_arr, y_arr, options=opts)
    start = np.asarray(
        point.params[: len(point.params) - (1 if family == "sigmoid_accuracy" else 0)]
    )
    from fitting.bootstrap import ByRuns, Resample, run_bootstrap
    from fitting.stats import percentile_table

    def refit(sample: Resample) -> tuple[Any, dict[str, float]]:
        keep = sample.weights > 0
        again = law.fit(x_arr[keep], y_arr[keep], sample.weights[keep], {**opts, "start": start})
        return again.params, law.derived(again)

    replicas = run_bootstrap(refit, ByRuns(groups), n_resamples=n_resamples, seed=seed)
    samples = [params for params, _ in replicas.values]
    derived = [values for _, values in replicas.values]
    failed = replicas.n_failed
    if len(samples) < 2:
        raise FitInputError(f"{family} bootstrap: fewer than 2 resamples could be fitted")
    arr = np.array(samples)
    intervals = percentile_table(arr, tuple(point.parameter_names), ci)
    keys = tuple(derived[0])
    derived_intervals = percentile_table([[d[k] for k in keys] for d in derived], keys, ci)
    return FamilyBootstrap(
        fit=point,
        samples=arr,
        intervals=intervals,
        derived_intervals=derived_intervals,
        n_failed=failed,
        ci=ci,
    )
