"""The bootstrap engine: resamplers (by runs, by points, parametric), one replicate loop, and the
approach-3 refits with their percentile intervals.

One engine serves every bootstrap of the package: approach-3 fits and their prescriptions
(``bootstrap_approach3``), frontier bands (``optima_of_resamples``), IsoFLOP exponents and law
families (``fitting.laws``), test-time-compute curves (``fitting.ttc``, parametric) and
repeated-sampling curves (``fitting.sampling``, problems by points). A *resampler* draws one
resample from a numpy ``Generator``; :func:`run_bootstrap` seeds the generator once, draws
``n_resamples`` resamples in order and refits each; every interval is the percentile interval of
``fitting.stats``. The same seed gives the same resamples, whichever fit consumes them.

Resamplers:

- :class:`ByRuns`: checkpoints of one training run are not independent (they share the model, the
  data order and the learning-rate schedule), so draw as many runs as there are, with
  replacement, and give every checkpoint of a run the number of times its run was drawn.
- :class:`ByPoints`: draw points individually (a table without a run column).
- :class:`Parametric`: simulate new responses from the fitted model (test-time-compute curves).

A resample by runs or points is a vector of integer count weights over the original points, and
the weighted Huber objective of ``fitting.laws`` with those weights is exactly the objective of the
resampled data set. Approach-3 refits take all weights at once (:meth:`ByRuns.weight_matrix`, the
same draws as the one-by-one loop) and run them through the batched Levenberg-Marquardt solver
warm-started at the point estimate (``fitting.approach3.solve_from_starts``), queued through a fixed
number of slots, so 10,000 refits of a few hundred points take seconds. Intervals are percentile
intervals (Efron's percentile bootstrap) of the resampled values of each parameter and of each
derived quantity (computed per resample, then summarised).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fitting.bounds import DEFAULT_LEVEL, MAX_RESAMPLES, MAX_SEED
from fitting.errors import FitInputError
from fitting.laws import DEFAULT_DELTA
from fitting.result import ResultMixin
from fitting.stats import check_level, percentile_bounds

ResampleBy = Literal["runs", "points"]
RESAMPLE_MODES: tuple[str, ...] = ("runs", "points")
DEFAULT_RESAMPLES = 1000

T = TypeVar("T")


def check_bootstrap_options(
    n_resamples: int, seed: int, level: float = DEFAULT_LEVEL, *, min_resamples: int = 1
) -> None:
    """Check the three bootstrap options every command shares.

    Raises:
        FitInputError: ``n_resamples`` outside ``min_resamples..MAX_RESAMPLES``, ``seed`` outside
            0..2**32-1, or ``level`` outside (0, 1).
    """
    if isinstance(n_resamples, bool) or not min_resamples <= int(n_resamples) <= MAX_RESAMPLES:
        raise FitInputError(
            f"n_resamples must be {min_resamples} to {MAX_RESAMPLES:,}; got {n_resamples}"
        )
    if isinstance(seed, bool) or not 0 <= int(seed) <= MAX_SEED:
        raise FitInputError(f"seed must be 0 to {MAX_SEED:,}; got {seed}")
    check_level(level)


@dataclass(frozen=True)
class Interval(ResultMixin):
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

    def summary(self) -> str:
        """E.g. ``N_opt at 1e+21: 4.1e+09 [2.34e+09, 5.8e+09] (95%)``."""
        where = "" if self.budget is None else f" at {self.budget:.3g}"
        return (
            f"{self.name}{where}: {self.estimate:.4g} [{self.lower:.4g}, {self.upper:.4g}] "
            f"({self.level:.0%})"
        )


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
    try:
        lower, upper = percentile_bounds(samples, level, axis=None)
    except FitInputError:
        raise FitInputError(f"no finite bootstrap values of {name}") from None
    return Interval(name, float(estimate), float(lower), float(upper), float(level), budget)


# ------------------------------------------------------------------------------------ resamplers


@dataclass(frozen=True)
class Resample:
    """One bootstrap resample.

    Attributes:
        weights: how many times each original point is in the resample, shape (n,) (all ones
            for a parametric resample).
        picks: the units drawn, in draw order: point indices (by points) or run indices (by runs).
        run_counts: by runs, how many times each run (in sorted label order) was drawn.
        y: parametric, the simulated responses.
    """

    weights: NDArray[np.float64]
    picks: NDArray[np.int64]
    run_counts: NDArray[np.int64] | None = None
    y: NDArray[np.float64] | None = None


class Resampler(Protocol):
    """Draws one resample at a time from a numpy ``Generator``.

    ``name`` is ``"runs"``, ``"points"`` or ``"parametric"``; ``description`` says the same in
    words for the user (e.g. "by runs (22 runs)").
    """

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def draw(self, rng: np.random.Generator) -> Resample: ...


@dataclass(frozen=True)
class ByRuns:
    """Resample whole runs with replacement (``groups``: the run label of every point)."""

    groups: NDArray[Any]
    name: str = field(default="runs", init=False)

    def __post_init__(self) -> None:
        labels = np.asarray(self.groups).reshape(-1)
        if labels.size == 0:
            raise FitInputError("no points to resample")
        object.__setattr__(self, "groups", labels)
        if self.n_runs < 2:
            raise FitInputError(
                "resampling by runs needs at least 2 runs; got 1 (resample by points)"
            )

    @property
    def labels(self) -> NDArray[Any]:
        """The distinct runs, sorted (the order of ``Resample.run_counts``)."""
        return np.unique(self.groups)

    @property
    def run_of_point(self) -> NDArray[np.int64]:
        """Index into ``labels`` of every point."""
        return np.unique(self.groups, return_inverse=True)[1].reshape(-1)

    @property
    def n_runs(self) -> int:
        """Number of distinct runs."""
        return int(np.unique(self.groups).size)

    @property
    def description(self) -> str:
        return f"by runs ({self.n_runs} runs)"

    def draw(self, rng: np.random.Generator) -> Resample:
        picks = rng.integers(0, self.n_runs, self.n_runs)
        counts = np.bincount(picks, minlength=self.n_runs)
        return Resample(counts[self.run_of_point].astype(np.float64), picks, counts)

    def weight_matrix(self, n_resamples: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """The weights of ``n_resamples`` consecutive draws at once, shape (n_resamples, n)."""
        draws = rng.integers(0, self.n_runs, size=(n_resamples, self.n_runs))
        run_counts = np.zeros((n_resamples, self.n_runs))
        np.add.at(run_counts, (np.arange(n_resamples)[:, None], draws), 1.0)
        return run_counts[:, self.run_of_point]


@dataclass(frozen=True)
class ByPoints:
    """Resample the ``n`` points individually, with replacement."""

    n: int
    name: str = field(default="points", init=False)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise FitInputError("no points to resample")

    @property
    def description(self) -> str:
        return f"by points ({self.n} points)"

    def draw(self, rng: np.random.Generator) -> Resample:
        picks = rng.integers(0, self.n, size=self.n)
        return Resample(np.bincount(picks, minlength=self.n).astype(np.float64), picks)

    def weight_matrix(self, n_resamples: int, rng: np.random.Generator) -> NDArray[np.float64]:
        """The weights of ``n_resamples`` consecutive draws at once, shape (n_resamples, n)."""
        draws = rng.integers(0, self.n, size=(n_resamples, self.n))
        counts = np.zeros((n_resamples, self.n))
        np.add.at(counts, (np.arange(n_resamples)[:, None], draws), 1.0)
        return counts


@dataclass(frozen=True)
class Parametric:
    """Simulate new responses from a fitted model: ``simulate(rng)`` returns one data set's y."""

    simulate: Callable[[np.random.Generator], NDArray[np.float64]]
    noise: str = "the fitted model's noise"
    name: str = field(default="parametric", init=False)

    @property
    def description(self) -> str:
        return f"parametric ({self.noise})"

    def draw(self, rng: np.random.Generator) -> Resample:
        y = np.asarray(self.simulate(rng), dtype=np.float64)
        return Resample(np.ones(y.size), np.arange(y.size), None, y)


def resampler_for(groups: ArrayLike | None, n: int, by: ResampleBy | None = None) -> Resampler:
    """The resampler of a data set: by runs when run labels are given, else by points.

    Args:
        groups: run label of every point, or None (points are resampled).
        n: number of points.
        by: force ``"points"`` even with labels (``"runs"`` needs labels).

    Raises:
        FitInputError: an unknown ``by``, ``"runs"`` without labels, or labels of the wrong length.
    """
    if by is not None and by not in RESAMPLE_MODES:
        raise FitInputError(f"unknown resampling mode {by!r}; valid: {', '.join(RESAMPLE_MODES)}")
    if by == "points" or (groups is None and by is None):
        return ByPoints(int(n))
    if groups is None:
        raise FitInputError("resampling by runs needs run labels (groups); got none")
    labels = np.asarray(groups).reshape(-1)
    if labels.size != n:
        raise FitInputError(f"groups has {labels.size} labels for {n} points")
    return ByRuns(labels)


@dataclass(frozen=True)
class Replicates(Generic[T]):
    """What :func:`run_bootstrap` returns: the refits that succeeded, and how the data were drawn.

    Attributes:
        values: one refit result per successful resample, in draw order.
        n_resamples: resamples drawn.
        n_failed: resamples whose refit raised ``FitInputError``.
        seed: the generator's seed.
        resampled_by: the resampler's name; description: its description.
    """

    values: tuple[T, ...]
    n_resamples: int
    n_failed: int
    seed: int
    resampled_by: str
    description: str


def run_bootstrap(
    refit: Callable[[Resample], T],
    resampler: Resampler,
    *,
    n_resamples: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Replicates[T]:
    """Draw ``n_resamples`` resamples from one seeded generator and refit each.

    Args:
        refit: fits one resample; raise ``FitInputError`` when it cannot (counted as failed).
        resampler: :class:`ByRuns`, :class:`ByPoints`, :class:`Parametric` or your own.
        n_resamples: 1 to ``MAX_RESAMPLES``.
        seed: 0 to 2**32-1 (numpy's default generator).
        progress: optional ``progress(done, total)`` after each resample.

    Returns:
        :class:`Replicates`.

    Example:
        >>> data = np.array([1.0, 2.0, 3.0, 4.0])
        >>> reps = run_bootstrap(lambda r: float(data[r.picks].mean()), ByPoints(4), n_resamples=50)
        >>> reps.n_resamples, reps.n_failed, reps.resampled_by
        (50, 0, 'points')
    """
    check_bootstrap_options(n_resamples, seed)
    rng = np.random.default_rng(seed)
    values: list[T] = []
    failed = 0
    for done in range(1, n_resamples + 1):
        sample = resampler.draw(rng)
        try:
            values.append(refit(sample))
        except FitInputError:
            failed += 1
        if progress is not None:
            progress(done, n_resamples)
    return Replicates(
        values=tuple(values),
        n_resamples=int(n_resamples),
        n_failed=failed,
        seed=int(seed),
        resampled_by=resampler.name,
        description=resampler.description,
    )


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
        Row i equals the weights of the i-th ``draw`` of the same resampler and seed.
    """
    if by not in RESAMPLE_MODES:
        raise FitInputError(f"unknown resampling mode {by!r}; valid: {', '.join(RESAMPLE_MODES)}")
    if n_resamples < 1:
        raise FitInputError(f"n_resamples must be >= 1; got {n_resamples}")
    labels = np.asarray(groups).reshape(-1)
    resampler = ByPoints(labels.size) if by == "points" else ByRuns(labels)
    return resampler.weight_matrix(n_resamples, np.random.default_rng(seed))


def _parameter_names(variables: Sequence[str]) -> tuple[str, ...]:
    from fitting.laws import POWER_SUM

    return POWER_SUM.parameter_names_for(variables)


@dataclass(frozen=True)
class BootstrapResult(ResultMixin):
    """Resampled refits of an approach-3 law.

    Attributes:
        variables: the law's variables, in parameter order.
        by: the resampler's name, ``"runs"`` or ``"points"``.
        seed: the resampling seed.
        delta: the Huber threshold of the refits.
        theta_hat: the point estimate, shape (2k+1,).
        thetas: one refit per resample, shape (m, 2k+1).
        objective: each refit's objective on its resample, shape (m,).
        converged: whether each refit met the stopping rule, shape (m,).
        n_groups: runs (by runs) or points (by points) drawn per resample.
        seconds: wall time of the refits.
        description: the resampler in words, e.g. "by runs (22 runs)" (what the CLI prints).
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
    description: str = ""

    def summary(self) -> str:
        """One line: resamples, how they were drawn, and how many refits are usable."""
        how = self.description or f"by {self.by}"
        return (
            f"bootstrap: {self.n_resamples} resamples {how}, seed {self.seed}, "
            f"{int(self.usable.sum())} usable"
        )

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
    groups: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    by: ResampleBy | None = None,
    seed: int = 0,
    delta: float = DEFAULT_DELTA,
    chunk: int = 256,
    max_steps: int = 500,
    progress: Callable[[int, int], None] | None = None,
    resampler: ByRuns | ByPoints | None = None,
) -> BootstrapResult:
    """Refit an approach-3 law on bootstrap resamples, warm-started at the point estimate.

    Args:
        log_x: natural logs of the variables, shape (n, k) (as fitted).
        log_loss: natural logs of the losses, shape (n,).
        theta_hat: the point estimate ``[a..., alpha..., e]``, the start of every refit.
        variables: the law's variable names.
        groups: run label of every point, shape (n,); None resamples points.
        n_resamples: number of resamples.
        by: None (runs when ``groups`` is given, else points), ``"runs"`` or ``"points"``.
        seed: resampling seed.
        delta: Huber threshold (the fit's).
        chunk: resamples solved together (the solver's slots, rounded down to a power of two).
        max_steps: iteration cap per refit (warm starts need few).
        progress: optional callback ``progress(done, total)`` as refits finish.
        resampler: a ready :class:`ByRuns` or :class:`ByPoints` (overrides ``groups``/``by``).

    Returns:
        ``BootstrapResult``.

    Example:
        >>> # boot = bootstrap_approach3(log_x, log_loss, fit.theta, variables=fit.variables,
        >>> #                            groups=run_names, n_resamples=1000, seed=0)
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
    if n_resamples < 1:
        raise FitInputError(f"n_resamples must be >= 1; got {n_resamples}")
    if resampler is None:
        resampler = resampler_for(groups, ly.size, by)  # type: ignore[assignment]
    assert resampler is not None
    counts = resampler.weight_matrix(n_resamples, np.random.default_rng(seed))
    if counts.shape[1] != ly.size:
        raise FitInputError(f"the resampler draws {counts.shape[1]} points; the data has {ly.size}")
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
    n_groups = resampler.n_runs if isinstance(resampler, ByRuns) else ly.size
    return BootstrapResult(
        variables=variables,
        by=resampler.name,
        seed=int(seed),
        delta=float(delta),
        theta_hat=theta0,
        thetas=solution.theta,
        objective=solution.objective,
        converged=solution.converged,
        n_groups=int(n_groups),
        seconds=time.perf_counter() - started,
        description=resampler.description,
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


BAND_QUANTITIES = ("width", "depth", "width_depth_ratio", "params", "tokens", "tokens_per_param")


@dataclass(frozen=True)
class FrontierBands(ResultMixin):
    """Bootstrap percentile bands of the optimal configuration at a range of budgets.

    The bands of one ``BootstrapResult``: at any budget they are exactly the intervals that
    ``width_depth_intervals`` prints for that result, level and grid.

    Attributes:
        budgets: budgets (b,).
        estimate, lower, upper: quantity -> (b,) arrays (``BAND_QUANTITIES``).
        level: the band's central coverage.
        n_resamples: resamples of the bootstrap; by: its resampler's name; description: in words.
    """

    budgets: NDArray[np.float64]
    estimate: dict[str, NDArray[np.float64]]
    lower: dict[str, NDArray[np.float64]]
    upper: dict[str, NDArray[np.float64]]
    level: float
    n_resamples: int
    by: str
    description: str = ""

    QUANTITIES: ClassVar[tuple[str, ...]] = BAND_QUANTITIES


def frontier_bands(
    result: BootstrapResult,
    budgets: ArrayLike,
    cost_per_token: Callable,
    params_fn: Callable,
    *,
    level: float = DEFAULT_LEVEL,
    grid=None,
) -> FrontierBands:
    """Percentile bands of the optimum at ``budgets`` from the resamples of ``result``.

    Every band end is ``fitting.stats.percentile_bounds`` of the usable resamples' optima, the
    same numbers ``width_depth_intervals`` reports at those budgets.
    """
    budget_arr = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    point, samples = optima_of_resamples(result, budget_arr, cost_per_token, params_fn, grid=grid)
    lower, upper = {}, {}
    for name in BAND_QUANTITIES:
        values = np.asarray(getattr(samples, name), dtype=np.float64)
        lower[name], upper[name] = _band_ends(values, level)
    return FrontierBands(
        budgets=budget_arr,
        estimate={name: np.asarray(getattr(point, name))[0] for name in BAND_QUANTITIES},
        lower=lower,
        upper=upper,
        level=float(level),
        n_resamples=result.n_resamples,
        by=result.by,
        description=result.description,
    )


def _band_ends(
    values: NDArray[np.float64], level: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per budget (column), the percentile interval of the finite resampled values."""
    ends = [percentile_bounds(values[:, j], level, axis=None) for j in range(values.shape[1])]
    return (
        np.array([float(lo) for lo, _ in ends], dtype=np.float64),
        np.array([float(hi) for _, hi in ends], dtype=np.float64),
    )
