"""Prescriptions of a fitted design: compute-/time-optimal allocations at budgets, with CIs.

Glue between a fitted design (``gemstones.scaling.designs.DesignFit``) and the pure mathematics of
``fitting.prescriptions``, ``fitting.frontier`` and ``fitting.bootstrap``: it supplies the suite's
architecture arithmetic (parameters and FLOPs per token of a shape, with the design's embedding
accounting) and a time model fitted to the measured step times, and returns polars tables.

Typical use::

    fitted = fit_design(load_design("hot"))
    table = prescription_table(fitted, [1e20, 1e21, 1e22])
    print(format_prescriptions(table))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from fitting.approach1 import Approach1Fit
from fitting.bootstrap import MAX_RESAMPLES as _MAX_RESAMPLES
from fitting.bootstrap import MAX_SEED as _MAX_SEED
from gemstones.errors import GemstonesInputError
from registry.suites.gemstones import architecture as arch

if TYPE_CHECKING:
    from fitting.approach3 import Approach3Fit
    from fitting.bootstrap import BootstrapResult, ResampleBy
    from fitting.frontier import Frontier
    from gemstones.scaling.designs import DesignFit

RESOURCES = ("flops", "gpu_hours")
RESOURCE_LABELS = {"flops": "FLOPs", "gpu_hours": "GPU hours"}
GPU_HOUR_EDGES_LOG10 = (1.0, 9.0)
"""Default GPU-hour buckets: 13 log-uniform buckets from 10 to 1e9 GPU hours (about the same span
as the paper's 1e18..1e26 FLOPs at the suite's measured throughput)."""


# --------------------------------------------------------------------------- architecture


def params_function(
    design: Any | None = None,
) -> Callable[[ArrayLike, ArrayLike], NDArray[np.float64]]:
    """Parameter count of a shape under a design's embedding accounting (the fit's ``params``).

    Args:
        design: a ``Design`` (None: total parameters, embeddings included).

    Returns:
        A vectorised ``params(width, depth)``.
    """
    matrices = 0
    if design is not None and not design.law.embeddings:
        accounting = design.law.embedding_accounting
        if accounting == "paper":
            accounting = "input_only" if design.law.approach == 3 else "input_and_head"
        matrices = 1 if accounting == "input_only" else 2

    def params(width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        return arch.parameter_count(width, depth) - matrices * arch.embedding_parameter_count(width)

    return params


# --------------------------------------------------------------------------- time model


@dataclass(frozen=True)
class TimeModel:
    """GPU hours per training token of a shape, from measured step times.

    Model: per-GPU throughput (FLOP/s) = exp(intercept) * w^width_exponent * d^depth_exponent,
    fitted by least squares in logs to the suite's runs; GPU hours per token =
    flops_per_token(w, d) / throughput / 3600. Outside the measured shapes the throughput is
    clipped to the measured range (extrapolated efficiency never exceeds what was observed).

    Attributes:
        intercept, width_exponent, depth_exponent: the log-linear throughput model.
        throughput_range: (min, max) measured FLOP/s per GPU.
        n_runs: runs the model was fitted to.
        rms_log_error: root-mean-square log residual of the fit.
    """

    intercept: float
    width_exponent: float
    depth_exponent: float
    throughput_range: tuple[float, float]
    n_runs: int
    rms_log_error: float

    def throughput(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        """Predicted FLOP/s per GPU, clipped to the measured range."""
        w = np.asarray(width, dtype=np.float64)
        d = np.asarray(depth, dtype=np.float64)
        log_t = self.intercept + self.width_exponent * np.log(w) + self.depth_exponent * np.log(d)
        return np.clip(np.exp(log_t), *self.throughput_range)

    def gpu_hours_per_token(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        """GPU hours to train one token on this shape."""
        return arch.flops_per_token(width, depth) / self.throughput(width, depth) / 3600.0


def fit_time_model(
    width: ArrayLike, depth: ArrayLike, seconds_per_step: ArrayLike, num_nodes: ArrayLike
) -> TimeModel:
    """Fit ``TimeModel`` to one measurement per run (duplicates are fine: they are averaged out).

    GPU seconds per token = seconds_per_step * num_nodes * 8 / tokens_per_step; throughput =
    flops_per_token / that.

    Raises:
        GemstonesInputError: fewer than 3 distinct shapes, or non-positive measurements.
    """
    w = np.asarray(width, dtype=np.float64)
    d = np.asarray(depth, dtype=np.float64)
    sps = np.asarray(seconds_per_step, dtype=np.float64)
    nodes = np.asarray(num_nodes, dtype=np.float64)
    ok = np.isfinite(sps) & (sps > 0) & np.isfinite(nodes) & (nodes > 0)
    w, d, sps, nodes = w[ok], d[ok], sps[ok], nodes[ok]
    if np.unique(np.stack([w, d]), axis=1).shape[1] < 3:
        raise GemstonesInputError("a time model needs step times of at least 3 distinct shapes")
    gpu_seconds_per_token = sps * nodes * arch.GPUS_PER_NODE / arch.TOKENS_PER_STEP
    log_throughput = np.log(arch.flops_per_token(w, d) / gpu_seconds_per_token)
    from fitting.stats import fit_log_linear

    plane = fit_log_linear(np.column_stack([np.log(w), np.log(d)]), log_throughput)
    coef, residual = plane.coefficients, plane.residuals
    measured = np.exp(log_throughput)
    return TimeModel(
        intercept=float(coef[0]),
        width_exponent=float(coef[1]),
        depth_exponent=float(coef[2]),
        throughput_range=(float(measured.min()), float(measured.max())),
        n_runs=int(np.unique(np.stack([w, d]), axis=1).shape[1]),
        rms_log_error=float(np.sqrt(np.mean(residual**2))),
    )


def time_model_from_catalog(catalog: Any | None = None) -> TimeModel:
    """The time model of the suite's main runs, from the catalog's seconds_per_step and num_nodes."""
    if catalog is None:
        from registry.catalog import load_catalog

        catalog = load_catalog().frame
    frame: pl.DataFrame = catalog.frame if hasattr(catalog, "frame") else catalog
    runs = (
        frame.filter(pl.col("variant") == "main")
        .group_by("width", "depth")
        .agg(pl.col("seconds_per_step").median(), pl.col("num_nodes").median())
        .drop_nulls()
    )
    return fit_time_model(runs["width"], runs["depth"], runs["seconds_per_step"], runs["num_nodes"])


def cost_function(resource: str, time_model: TimeModel | None = None) -> Callable:
    """Cost per token of a shape: FLOPs per token, or GPU hours per token (needs a time model)."""
    if resource == "flops":
        return arch.flops_per_token
    if resource == "gpu_hours":
        if time_model is None:
            time_model = time_model_from_catalog()
        return time_model.gpu_hours_per_token
    raise GemstonesInputError(f"unknown resource {resource!r}; valid: {', '.join(RESOURCES)}")


def default_edges(resource: str) -> NDArray[np.float64]:
    """The default bucket edges: the paper's for FLOPs, ``GPU_HOUR_EDGES_LOG10`` for GPU hours."""
    from fitting.frontier import PAPER_BUCKET_COUNT, paper_flop_edges

    if resource == "flops":
        return paper_flop_edges()
    return 10.0 ** np.linspace(*GPU_HOUR_EDGES_LOG10, PAPER_BUCKET_COUNT + 1)


# --------------------------------------------------------------------------- fits


def _approach3(fitted: DesignFit) -> Approach3Fit:
    return fitted.require_approach3()


def fit_arrays(
    fitted: DesignFit,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[Any] | None]:
    """``(log_x (n, k), log_loss (n,), run labels (n,) or None)`` of a fitted approach-3 design.

    Run labels come from a ``run_name`` column; a table without one (``fit --data``) is
    resampled by shape (``width`` x ``depth``) when it has both, else by points (labels None).
    """
    fit = _approach3(fitted)
    table = fitted.table
    x = table.select(list(fit.variables)).to_numpy().astype(np.float64)
    groups: NDArray[Any] | None
    if "run_name" in table.columns:
        groups = table["run_name"].to_numpy()
    elif {"width", "depth"} <= set(table.columns):
        # A run is a shape when widths and depths exist.
        groups = (table["width"].cast(pl.Utf8) + "x" + table["depth"].cast(pl.Utf8)).to_numpy()
    else:
        groups = None
    return np.log(x), np.log(table["loss"].to_numpy().astype(np.float64)), groups


#: Most bootstrap refits one call may ask for, and the seed range (the engine's bounds).
MAX_RESAMPLES = _MAX_RESAMPLES
MAX_SEED = _MAX_SEED
#: Most budgets one prescription or frontier table may ask for.
MAX_BUDGETS = 1_000


def check_resamples(n_resamples: int, option: str = "--resamples") -> int:
    """``n_resamples`` if it is a whole number from 1 to ``MAX_RESAMPLES``."""
    if isinstance(n_resamples, bool) or not 1 <= n_resamples <= MAX_RESAMPLES:
        raise GemstonesInputError(
            f"{option} {n_resamples!r} is out of range; valid: 1 to {MAX_RESAMPLES:,}"
        )
    return n_resamples


def check_seed(seed: int, option: str = "--seed") -> int:
    """``seed`` if it is a whole number from 0 to 2**32-1."""
    if isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise GemstonesInputError(f"{option} {seed!r} is out of range; valid: 0 to {MAX_SEED:,}")
    return seed


def check_ci(level: float, option: str = "--ci") -> float:
    """``level`` if it lies strictly between 0 and 1 (e.g. 0.95)."""
    if isinstance(level, bool) or not 0.0 < level < 1.0:
        raise GemstonesInputError(
            f"{option} {level!r} is out of range; valid: strictly between 0 and 1, e.g. 0.95"
        )
    return float(level)


def bootstrap_design(
    fitted: DesignFit,
    *,
    n_resamples: int = 1000,
    by: ResampleBy | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> BootstrapResult:
    """Bootstrap refits of a fitted approach-3 design (``fitting.bootstrap.BootstrapResult``).

    Resamples runs when the table names them (see ``fit_arrays``), else points; ``by="points"``
    forces points. The result's ``description`` says which (e.g. "by points (40 points)").

    Raises:
        GemstonesInputError: ``n_resamples`` outside 1..``MAX_RESAMPLES`` or ``seed`` outside
            0..2**32-1.
    """
    from gemstones.compile_cache import apply_fit_engine

    apply_fit_engine()
    from fitting.bootstrap import bootstrap_approach3

    check_resamples(n_resamples)
    check_seed(seed)

    fit = _approach3(fitted)
    log_x, log_loss, groups = fit_arrays(fitted)
    return bootstrap_approach3(
        log_x,
        log_loss,
        fit.theta,
        variables=fit.variables,
        groups=groups,
        n_resamples=n_resamples,
        by=by,
        seed=seed,
        delta=fit.delta,
        progress=progress,
    )


#: Row names that differ from the fitter's parameter names: ``e`` is log E, and a name that differs
#: from ``E`` only by case is ambiguous in JSON, CSV and spreadsheets.
QUANTITY_NAMES = {"e": "log_E"}


def _interval_rows(
    intervals: Sequence[Any], source: str, extra: dict[str, Any]
) -> list[dict[str, Any]]:
    return [
        {
            "quantity": QUANTITY_NAMES.get(iv.name, iv.name),
            "budget": iv.budget,
            "estimate": iv.estimate,
            "lower": iv.lower,
            "upper": iv.upper,
            "level": iv.level,
            "method": source,
            **extra,
        }
        for iv in intervals
    ]


PRESCRIPTION_SCHEMA = {
    "quantity": pl.Utf8,
    "budget": pl.Float64,
    "estimate": pl.Float64,
    "lower": pl.Float64,
    "upper": pl.Float64,
    "level": pl.Float64,
    "method": pl.Utf8,
    "resource": pl.Utf8,
    "n_resamples": pl.Int64,
    "resampled_by": pl.Utf8,
}


def prescription_table(
    fitted: DesignFit,
    budgets: ArrayLike,
    *,
    resource: str = "flops",
    n_resamples: int = 1000,
    by: ResampleBy | None = None,
    seed: int = 0,
    level: float = 0.95,
    bootstrap: Any | None = None,
    time_model: TimeModel | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """Prescriptions of a fitted design at budgets, with confidence intervals, as one long table.

    - Approach 3, params–tokens law: parameters (a_i, alpha_i, e, E), a, b, G, and per budget
      N_opt, D_opt, tokens_per_param (closed forms, 6ND FLOPs), bootstrap percentile CIs.
    - Approach 3, width–depth laws: parameters, and per budget the optimal width, depth,
      width_depth_ratio, params, tokens, tokens_per_param on the shape grid (exact FLOPs or GPU
      hours per token), bootstrap percentile CIs.
    - Approach 1: per budget params, tokens, tokens_per_param from the fitted lines, regression
      (t) CIs.

    Args:
        fitted: a ``gemstones.scaling.designs.DesignFit``.
        budgets: budgets in ``resource`` units (FLOPs, or GPU hours).
        resource: ``"flops"`` or ``"gpu_hours"`` (width–depth laws and approach 1 only).
        n_resamples, by, seed: the bootstrap (approach 3).
        level: confidence level.
        bootstrap: a precomputed ``BootstrapResult`` to reuse (skips the refits).
        time_model: for ``resource="gpu_hours"`` (default: fitted from the catalog).
        progress: bootstrap progress callback ``(done, total)``.

    Returns:
        A polars DataFrame with columns quantity, budget (null when budget-free), estimate, lower,
        upper, level, method, resource, n_resamples, resampled_by.
    """
    budget_arr = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    if budget_arr.size == 0 or np.any(~np.isfinite(budget_arr) | (budget_arr <= 0)):
        raise GemstonesInputError(f"budgets must be positive numbers; got {budget_arr.tolist()}")
    if resource not in RESOURCES:
        raise GemstonesInputError(f"unknown resource {resource!r}; valid: {', '.join(RESOURCES)}")
    design = fitted.design
    extra: dict[str, Any] = {"resource": resource}
    if isinstance(fitted.fit, Approach1Fit):
        from fitting.prescriptions import approach1_prescription

        table = fitted.table
        resource_column = design.fit.resource
        if resource_column != resource:
            raise GemstonesInputError(
                f"design {design.name!r} fits approach 1 on {resource_column}; budgets must be in "
                f"{RESOURCE_LABELS[resource_column]}"
            )
        eff = fitted.fit.efficient
        result = approach1_prescription(
            table[resource_column].to_numpy()[eff],
            table["params"].to_numpy()[eff],
            table["tokens"].to_numpy()[eff],
            budget_arr,
            level,
        )
        rows = []
        for name in ("params", "tokens", "tokens_per_param"):
            estimate, lower, upper = getattr(result, name)
            for j, budget in enumerate(budget_arr):
                rows.append(
                    {
                        "quantity": name,
                        "budget": float(budget),
                        "estimate": float(estimate[j]),
                        "lower": float(lower[j]),
                        "upper": float(upper[j]),
                        "level": level,
                        "method": "approach1-regression",
                        **extra,
                        "n_resamples": None,
                        "resampled_by": None,
                    }
                )
        return pl.DataFrame(rows, schema=PRESCRIPTION_SCHEMA)

    from fitting.bootstrap import params_tokens_intervals, width_depth_intervals

    fit = _approach3(fitted)
    if bootstrap is None:
        bootstrap = bootstrap_design(
            fitted, n_resamples=n_resamples, by=by, seed=seed, progress=progress
        )
    extra |= {"n_resamples": bootstrap.n_resamples, "resampled_by": bootstrap.by}
    rows = _interval_rows(bootstrap.parameter_intervals(level), "bootstrap", extra)
    if set(fit.variables) == {"params", "tokens"}:
        if resource != "flops":
            raise GemstonesInputError(
                "the closed-form prescriptions of a params–tokens law are in FLOPs (6ND); use "
                "--resource flops or a width–depth law"
            )
        rows += _interval_rows(
            params_tokens_intervals(bootstrap, budget_arr, level), "closed-form+bootstrap", extra
        )
    else:
        rows += _interval_rows(
            width_depth_intervals(
                bootstrap,
                budget_arr,
                cost_function(resource, time_model),
                params_function(design),
                level=level,
            ),
            "grid+bootstrap",
            extra,
        )
    return pl.DataFrame(rows, schema=PRESCRIPTION_SCHEMA)


def format_prescriptions(table: pl.DataFrame, description: str | None = None) -> str:
    """Plain-text rendering of a prescription table: one line per quantity and budget.

    ``description``: the bootstrap's resampler in words (``BootstrapResult.description``, e.g.
    "by points (40 points)"); default "by <resampled_by>".
    """
    lines = []
    header = f"{'quantity':<18} {'budget':>10} {'estimate':>12} {'lower':>12} {'upper':>12}"
    level = table["level"][0] if table.height else 0.95
    lines.append(f"{header}   ({level:.0%} CI)")
    for row in table.iter_rows(named=True):
        budget = "" if row["budget"] is None else f"{row['budget']:.3g}"
        lines.append(
            f"{row['quantity']:<18} {budget:>10} {row['estimate']:>12.5g} "
            f"{row['lower']:>12.5g} {row['upper']:>12.5g}"
        )
    if table.height and table["n_resamples"][0] is not None:
        how = description or f"by {table['resampled_by'][0]}"
        lines.append(f"bootstrap: {table['n_resamples'][0]} resamples {how}")
    return "\n".join(lines)


def print_prescriptions(fitted: DesignFit, budgets: ArrayLike, **options: Any) -> pl.DataFrame:
    """Compute, print and return the prescription table (the ``gemstones fit --budgets`` hook).

    Bootstrap progress is shown on stderr; ``options`` go to ``prescription_table`` (pass
    ``bootstrap=`` to print the intervals of resamples already drawn, e.g. those a figure shows).
    """
    import typer
    from rich.progress import Progress

    bootstrap = options.get("bootstrap")
    with Progress(transient=True, disable=bootstrap is not None) as progress:
        task = progress.add_task("bootstrap refits", total=options.get("n_resamples", 1000))
        options.setdefault(
            "progress", lambda done, total: progress.update(task, completed=done, total=total)
        )
        table = prescription_table(fitted, budgets, **options)
    warn_about_flags(fitted)
    typer.echo(format_prescriptions(table, getattr(bootstrap, "description", None)))
    return table


def warn_about_flags(fitted: DesignFit) -> None:
    """Print the fit's degeneracy flags (e.g. a vanishing irreducible loss) to stderr, if any."""
    import typer

    flags = fitted.flags
    if flags:
        typer.echo(
            f"warning: the fit of {fitted.design.name!r} is flagged {', '.join(flags)}; "
            "read its prescriptions with care",
            err=True,
        )


# --------------------------------------------------------------------------- frontier


def design_frontier(
    fitted: DesignFit,
    *,
    resource: str = "flops",
    edges: ArrayLike | None = None,
    grid: Any | None = None,
    time_model: TimeModel | None = None,
) -> Frontier:
    """The exact bucketed frontier (``fitting.frontier.Frontier``) of a fitted approach-3 design.

    Shapes and token counts are the paper's grid; buckets are the paper's 13 FLOP buckets (or
    ``default_edges("gpu_hours")``). A params–tokens law is evaluated on the same grid (the
    paper's right-hand column).
    """
    from fitting.frontier import compute_frontier

    fit = _approach3(fitted)
    return compute_frontier(
        fit.theta,
        fit.variables,
        cost_function(resource, time_model),
        params_function(fitted.design),
        grid=grid,
        edges=default_edges(resource) if edges is None else edges,
        resource=RESOURCE_LABELS[resource],
    )


def frontier_frame(frontier: Any) -> pl.DataFrame:
    """A ``Frontier`` as a polars DataFrame (one row per bucket)."""
    columns = frontier.columns()
    frame = pl.DataFrame(
        {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}
    )
    return frame.with_columns(pl.col("width", "depth", "params", "tokens").round(0).cast(pl.Int64))


def budget_optima_frame(
    fitted: DesignFit,
    budgets: ArrayLike,
    *,
    resource: str = "flops",
    grid: Any | None = None,
    time_model: TimeModel | None = None,
) -> pl.DataFrame:
    """Optimal shape and tokens of a fitted design at exact budgets (point estimates, paper grid)."""
    from fitting.frontier import optima_at_budgets, paper_shape_grid

    fit = _approach3(fitted)
    optima = optima_at_budgets(
        fit.theta,
        fit.variables,
        budgets,
        cost_function(resource, time_model),
        params_function(fitted.design),
        grid=paper_shape_grid() if grid is None else grid,
    )
    return pl.DataFrame(
        {
            "budget": optima.budgets,
            "width": optima.width[0].astype(np.int64),
            "depth": optima.depth[0].astype(np.int64),
            "width_depth_ratio": optima.width_depth_ratio[0],
            "params": np.round(optima.params[0]).astype(np.int64),
            "tokens": np.round(optima.tokens[0]).astype(np.int64),
            "tokens_per_param": optima.tokens_per_param[0],
            "loss": optima.loss[0],
        }
    )
