"""The ``isoflop`` family: Chinchilla approach 2, ``N*(C) = G C^a`` from parabolas of log loss in
log N at fixed FLOP budgets along the training trajectories (see :func:`fit_isoflop`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from fitting.errors import FitInputError
from fitting.laws.base import FamilyFit, LawFamily
from fitting.result import ResultMixin

# --------------------------------------------------------------------------- isoflop


@dataclass(frozen=True)
class IsoflopFit(ResultMixin):
    """Approach 2: ``N*(C) = G * C^a`` from per-budget parabolas.

    Attributes:
        budgets: FLOP budgets with an interior parabola minimum, shape (b,).
        optimal_params: N* at each budget, shape (b,).
        optimal_loss: the parabola's minimum loss at each budget, shape (b,).
        params_exponent: a (slope of log N* on log C).
        params_intercept: log G.
        tokens_exponent: slope of log D* = log(C / (6 N*)) on log C, i.e. 1 - a.
        n_budgets_tried: budgets with enough runs to fit a parabola.
        n_runs: runs (distinct N) in the data.
    """

    budgets: np.ndarray
    optimal_params: np.ndarray
    optimal_loss: np.ndarray
    params_exponent: float
    params_intercept: float
    tokens_exponent: float
    n_budgets_tried: int
    n_runs: int

    def optimal_params_at(self, flops: np.ndarray | float) -> np.ndarray:
        """N*(C) from the fitted line."""
        return (
            np.exp(self.params_intercept)
            * np.asarray(flops, dtype=np.float64) ** self.params_exponent
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "params_exponent": self.params_exponent,
            "params_intercept": self.params_intercept,
            "tokens_exponent": self.tokens_exponent,
            "n_budgets": int(self.budgets.size),
            "n_budgets_tried": self.n_budgets_tried,
            "n_runs": self.n_runs,
            "budgets": self.budgets.tolist(),
            "optimal_params": self.optimal_params.tolist(),
            "optimal_loss": self.optimal_loss.tolist(),
        }


def interpolate_at_budgets(
    run: np.ndarray, flops: np.ndarray, loss: np.ndarray, budgets: np.ndarray
) -> np.ndarray:
    """Each run's loss at each budget, linear in (log C, log L) between its checkpoints.

    Args:
        run: run id of each point (n,).
        flops: cumulative FLOPs of each point (n,).
        loss: loss of each point (n,).
        budgets: FLOP budgets (b,).

    Returns:
        (r, b) losses, ``nan`` where a budget is outside a run's checkpoints; rows follow
        ``np.unique(run)``.
    """
    runs = np.unique(run)
    out = np.full((runs.size, budgets.size), np.nan)
    log_b = np.log(budgets)
    for i, r in enumerate(runs):
        mask = run == r
        order = np.argsort(flops[mask])
        lc, ll = np.log(flops[mask][order]), np.log(loss[mask][order])
        inside = (log_b >= lc[0]) & (log_b <= lc[-1])
        if lc.size >= 2:
            out[i, inside] = np.exp(np.interp(log_b[inside], lc, ll))
    return out


def fit_isoflop(
    run: Any,
    params: Any,
    flops: Any,
    loss: Any,
    *,
    n_budgets: int = 24,
    min_runs: int = 5,
    weights_by_run: Mapping[Any, float] | None = None,
) -> IsoflopFit:
    """Chinchilla approach 2 (IsoFLOP profiles) along training trajectories.

    For each of ``n_budgets`` log-spaced FLOP budgets inside the range every run can reach, each
    run's loss at the budget is interpolated between its checkpoints (log-log), a parabola
    ``log L = c2 (log N)^2 + c1 log N + c0`` is fitted over the runs that reach it (at least
    ``min_runs``), and its minimum N* is kept when the parabola is convex and the minimum lies
    inside the runs' N range. ``log N*`` is then regressed on ``log C``.

    Args:
        run: run id per point (n,).
        params: parameter count of each point's run (n,).
        flops: cumulative training FLOPs per point (n,).
        loss: loss per point (n,).
        n_budgets: budgets to try.
        min_runs: fewest runs a budget's parabola may use.
        weights_by_run: optional multiplicity of each run (bootstrap by runs).

    Returns:
        :class:`IsoflopFit`.

    Raises:
        FitInputError: bad shapes or fewer than 2 budgets with an interior minimum.

    Example:
        >>> # fit = fit_isoflop(table["run_name"], table["params"], table["flops"], table["loss"])
    """
    run = np.asarray(run)
    n_arr = np.asarray(params, dtype=np.float64)
    c_arr = np.asarray(flops, dtype=np.float64)
    l_arr = np.asarray(loss, dtype=np.float64)
    if not (run.shape == n_arr.shape == c_arr.shape == l_arr.shape) or run.ndim != 1:
        raise FitInputError("isoflop needs run, params, flops and loss of equal length (n,)")
    if np.any(
        ~np.isfinite(c_arr) | (c_arr <= 0) | ~np.isfinite(l_arr) | (l_arr <= 0) | (n_arr <= 0)
    ):
        raise FitInputError("isoflop needs positive, finite params, flops and loss")
    if not 3 <= min_runs <= 10_000 or not 2 <= n_budgets <= 10_000:
        raise FitInputError(f"need 3 <= min_runs and 2 <= n_budgets; got {min_runs}, {n_budgets}")
    runs = np.unique(run)
    run_n = np.array([n_arr[run == r][0] for r in runs])
    mult = (
        np.ones(runs.size)
        if weights_by_run is None
        else np.array([float(weights_by_run.get(r, 0.0)) for r in runs])
    )
    positive = c_arr[c_arr > 0]
    budgets = np.exp(np.linspace(np.log(positive.min()), np.log(positive.max()), n_budgets))
    grid = interpolate_at_budgets(run, c_arr, l_arr, budgets)
    keep_c, keep_n, keep_l = [], [], []
    tried = 0
    for j, c in enumerate(budgets):
        ok = np.isfinite(grid[:, j]) & (mult > 0)
        if np.count_nonzero(ok) < min_runs or np.unique(run_n[ok]).size < 3:
            continue
        tried += 1
        log_n, log_l, w = np.log(run_n[ok]), np.log(grid[ok, j]), mult[ok]
        c2, c1, _ = np.polyfit(log_n, log_l, 2, w=np.sqrt(w))
        if c2 <= 0:
            continue
        vertex = -c1 / (2 * c2)
        if not log_n.min() < vertex < log_n.max():
            continue
        keep_c.append(c)
        keep_n.append(np.exp(vertex))
        keep_l.append(float(np.exp(np.polyval([c2, c1, _], vertex))))
    if len(keep_c) < 2:
        raise FitInputError(
            f"isoflop: only {len(keep_c)} budget(s) of {tried} have an interior minimum; need 2"
        )
    from fitting.stats import fit_log_linear

    line = fit_log_linear(np.log(keep_c), np.log(keep_n))
    slope, intercept = line.slope, line.intercept
    return IsoflopFit(
        budgets=np.array(keep_c),
        optimal_params=np.array(keep_n),
        optimal_loss=np.array(keep_l),
        params_exponent=float(slope),
        params_intercept=float(intercept),
        tokens_exponent=float(1.0 - slope),
        n_budgets_tried=tried,
        n_runs=int(runs.size),
    )


@dataclass(frozen=True)
class IsoflopBootstrap(ResultMixin):
    """Percentile intervals of approach 2's exponents over resamples by runs."""

    fit: IsoflopFit
    params_exponent_ci: tuple[float, float]
    tokens_exponent_ci: tuple[float, float]
    resamples: np.ndarray
    n_failed: int
    ci: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            **self.fit.as_dict(),
            "params_exponent_ci": list(self.params_exponent_ci),
            "tokens_exponent_ci": list(self.tokens_exponent_ci),
            "ci": self.ci,
            "n_resamples": int(self.resamples.size),
            "n_failed": self.n_failed,
        }


def bootstrap_isoflop(
    run: Any,
    params: Any,
    flops: Any,
    loss: Any,
    *,
    n_resamples: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    **kwargs: Any,
) -> IsoflopBootstrap:
    """:func:`fit_isoflop` with a percentile interval from resampling whole runs with replacement.

    Resamples whose fit fails (fewer than 2 interior minima) are counted in ``n_failed``.
    """
    if not 1 <= n_resamples <= 100_000 or not 0 < ci < 1:
        raise FitInputError(
            f"need 1 <= n_resamples <= 100000 and 0 < ci < 1; got {n_resamples}, {ci}"
        )
    from fitting.bootstrap import ByRuns, Resample, run_bootstrap
    from fitting.stats import percentile_bounds

    point = fit_isoflop(run, params, flops, loss, **kwargs)
    resampler = ByRuns(np.asarray(run))
    runs = resampler.labels.tolist()

    def refit(sample: Resample) -> float:
        weights = dict(zip(runs, np.asarray(sample.run_counts), strict=True))
        return fit_isoflop(
            run, params, flops, loss, weights_by_run=weights, **kwargs
        ).params_exponent

    replicas = run_bootstrap(refit, resampler, n_resamples=n_resamples, seed=seed)
    arr, failed = np.array(replicas.values), replicas.n_failed
    if arr.size < 2:
        raise FitInputError("isoflop bootstrap: fewer than 2 resamples could be fitted")
    lo, hi = (float(v) for v in percentile_bounds(arr, ci, nonfinite="rank"))
    return IsoflopBootstrap(
        fit=point,
        params_exponent_ci=(float(lo), float(hi)),
        tokens_exponent_ci=(float(1 - hi), float(1 - lo)),
        resamples=arr,
        n_failed=failed,
        ci=ci,
    )


class Isoflop(LawFamily):
    """Chinchilla approach 2 as a family: ``N*(C) = exp(log_G) C^a`` (see :func:`fit_isoflop`).

    ``fit(x, y)`` takes x = (run id, params, flops) columns and y = loss.
    """

    name = "isoflop"
    description = "approach 2: parabolas in log N per FLOP budget, N*(C) = G C^a"
    inputs = ("run", "params", "flops")
    parameter_names = ("log_G", "a")
    labels: ClassVar[Mapping[str, str]] = {"x": "FLOPs", "y": "N*"}

    def predict(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        log_g, a = np.asarray(params, dtype=np.float64)
        c = np.asarray(x, dtype=np.float64)
        c = c[:, -1] if c.ndim == 2 else c
        return np.exp(log_g) * c**a

    def constraints(self, inputs: Sequence[str] | None = None) -> dict[str, str]:
        return {"log_G": "real (closed form)", "a": "real (closed form)"}

    def start_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.zeros((1, 2))  # the fit is closed-form

    def fit(
        self, x: Any, y: Any, weights: Any = None, options: Mapping[str, Any] | None = None
    ) -> FamilyFit:
        """Fit with :func:`fit_isoflop` (options ``n_budgets``, ``min_runs``).

        ``weights`` (per point) count each run by its points' weight (its multiplicity in a
        bootstrap by runs, as :func:`bootstrap_isoflop` counts it).
        """
        opts = dict(options or {})
        x_arr = np.asarray(x, dtype=np.float64)
        if x_arr.ndim != 2 or x_arr.shape[1] != 3:
            raise FitInputError(
                f"isoflop needs x with columns run, params, flops; got {x_arr.shape}"
            )
        by_run: dict[Any, float] | None = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64).reshape(-1)
            if w.shape != (x_arr.shape[0],):
                raise FitInputError(f"weights must have {x_arr.shape[0]} entries; got {w.shape}")
            maxima: dict[Any, float] = {}
            for run, weight in zip(x_arr[:, 0].tolist(), w.tolist(), strict=True):
                maxima[run] = max(maxima.get(run, 0.0), weight)
            by_run = maxima
        result = fit_isoflop(
            x_arr[:, 0],
            x_arr[:, 1],
            x_arr[:, 2],
            np.asarray(y, dtype=np.float64),
            n_budgets=int(opts.get("n_budgets", 24)),
            min_runs=int(opts.get("min_runs", 5)),
            weights_by_run=by_run,
        )
        resid = np.log(result.optimal_params) - (
            result.params_intercept + result.params_exponent * np.log(result.budgets)
        )
        return FamilyFit(
            family=self.name,
            inputs=self.inputs,
            parameter_names=self.parameter_names,
            params=(result.params_intercept, result.params_exponent),
            objective=float(np.sum(resid**2)),
            objective_name="least squares of log N* on log C",
            n_points=int(np.asarray(y).size),
            extra={"isoflop": result.as_dict()},
        )

    def derived(self, fit: FamilyFit) -> dict[str, float]:
        return {"params_exponent": fit.param("a"), "tokens_exponent": 1.0 - fit.param("a")}
