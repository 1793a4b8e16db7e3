"""Compressibility of Adam's second moments across runs, and its trend with width, depth and lr.

Input is a tidy sweep table with one row per (run, step, tensor, candidate axes):
``run, width, depth, lr, step, tensor, layer_type, shape, axes, snr`` (axes and shape in text form,
in the layout of the model that produced it). For each run, SlimAdam rules are derived exactly as in
:func:`fitting.snr.derive_rules` (norm layers never compressed) and summarised per layer type:

* ``fraction_saved``: second-moment entries saved / entries of that layer type;
* ``best_axes``: the most common rule among the layer type's tensors (``"none"`` for no rule);
* ``best_snr``: mean over the layer type's tensors of the largest candidate mean SNR.

The trend is ordinary least squares of ``log(best_snr)`` on ``log(width)``, ``log(lr)`` and, when the
sweep varies it, ``log(depth)``, separately per layer type.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from fitting.errors import FitInputError
from fitting.snr import (
    DEFAULT_CUTOFF,
    NORM_LAYER_TYPE,
    SNR_COLUMNS,
    choose_rule,
    flax_layout,
    format_axes,
    mean_snr_over_steps,
    parse_axes,
    parse_shape,
    require_columns,
    second_moment_entries,
)

RUN_COLUMNS = ("run", "width", "depth", "lr")
SWEEP_COLUMNS = (*RUN_COLUMNS, "step", "tensor", "layer_type", "shape", "axes", "snr")


def validate_sweep_frame(frame: pl.DataFrame) -> None:
    """Raise :class:`FitInputError` unless ``frame`` has every sweep column and at least one row."""
    require_columns(frame, SWEEP_COLUMNS, "sweep table")


def tensor_rules(
    frame: pl.DataFrame,
    cutoff: float = DEFAULT_CUTOFF,
    layout: Callable[[int, str], tuple[str, ...]] = flax_layout,
) -> pl.DataFrame:
    """Rules of every tensor of every run of a sweep.

    Returns:
        One row per (run, tensor): run columns, ``layer_type``, ``shape``, ``rule`` (axes text or
        ``"none"``), ``rule_names`` (axis names in ``layout``, e.g. ``"fan_out"``), ``best_snr``
        (largest candidate mean SNR), ``entries`` and ``kept_entries``.
    """
    validate_sweep_frame(frame)
    means = mean_snr_over_steps(
        frame.select(*SNR_COLUMNS, *RUN_COLUMNS, "layer_type"), by=RUN_COLUMNS
    )
    layer_types = frame.select("run", "tensor", "layer_type").unique(subset=["run", "tensor"])
    means = means.join(layer_types, on=["run", "tensor"], how="left")
    rows = []
    for key, group in means.group_by([*RUN_COLUMNS, "tensor"], maintain_order=True):
        layer_type = str(group["layer_type"][0])
        shape = parse_shape(group["shape"][0])
        candidates = {
            parse_axes(a): float(s) for a, s in zip(group["axes"], group["snr"], strict=True)
        }
        rule = None if layer_type == NORM_LAYER_TYPE else choose_rule(candidates, cutoff)
        finite = [s for s in candidates.values() if math.isfinite(s)]
        names = layout(len(shape), layer_type)
        rows.append(
            {
                **dict(zip([*RUN_COLUMNS, "tensor"], key, strict=True)),
                "layer_type": layer_type,
                "shape": group["shape"][0],
                "rule": "none" if rule is None else format_axes(rule),
                "rule_names": "none" if rule is None else "+".join(names[a] for a in rule),
                "best_snr": max(finite) if finite else math.nan,
                "entries": math.prod(shape),
                "kept_entries": second_moment_entries(shape, rule),
            }
        )
    return pl.DataFrame(rows)


def compressibility(
    frame: pl.DataFrame,
    cutoff: float = DEFAULT_CUTOFF,
    layout: Callable[[int, str], tuple[str, ...]] = flax_layout,
) -> pl.DataFrame:
    """Per run and layer type: fraction of second-moment entries saved, best axes and SNR.

    Also one row per run with ``layer_type == "all"`` (every tensor, norms included in the total).
    ``layout`` names the axes of ``best_axes`` (flax for our JAX runs, torch for the upstream CSV).
    """
    rules = tensor_rules(frame, cutoff, layout)
    per_type = (
        rules.group_by([*RUN_COLUMNS, "layer_type"], maintain_order=True)
        .agg(
            pl.len().alias("tensors"),
            pl.col("entries").sum(),
            pl.col("kept_entries").sum(),
            pl.col("rule_names").alias("best_axes"),
            pl.col("best_snr").filter(pl.col("best_snr").is_not_nan()).mean().alias("best_snr"),
        )
        .with_columns(pl.col("best_axes").map_elements(_most_common, return_dtype=pl.Utf8))
    )
    overall = rules.group_by(RUN_COLUMNS, maintain_order=True).agg(
        pl.lit("all").alias("layer_type"),
        pl.len().cast(pl.UInt32).alias("tensors"),
        pl.col("entries").sum(),
        pl.col("kept_entries").sum(),
        pl.lit("-").alias("best_axes"),
        pl.col("best_snr").filter(pl.col("best_snr").is_not_nan()).mean().alias("best_snr"),
    )
    table = pl.concat([per_type.with_columns(pl.col("tensors").cast(pl.UInt32)), overall])
    return table.with_columns(
        (1 - pl.col("kept_entries") / pl.col("entries")).alias("fraction_saved")
    ).sort([*RUN_COLUMNS, "layer_type"])


def _most_common(values: pl.Series | list[str]) -> str:
    counts = Counter(list(values))
    return max(counts.items(), key=lambda item: (item[1], item[0] != "none"))[0]


@dataclass(frozen=True)
class SnrTrend:
    """Least-squares fit ``log(best_snr) = intercept + sum_j slope_j * log(x_j)`` for one layer type.

    Attributes:
        layer_type: the layer type fitted.
        variables: names of the regressors (``"width"``, ``"lr"``, and ``"depth"`` when varied).
        intercept: fitted intercept.
        slopes: fitted slope per variable (elasticity of SNR in that variable).
        slope_stderr: standard errors of the slopes (NaN with no residual degrees of freedom).
        r_squared: coefficient of determination.
        n: number of runs used.
    """

    layer_type: str
    variables: tuple[str, ...]
    intercept: float
    slopes: tuple[float, ...]
    slope_stderr: tuple[float, ...]
    r_squared: float
    n: int

    def slope(self, variable: str) -> float:
        """Slope of one variable (KeyError-free: NaN when not fitted)."""
        return (
            self.slopes[self.variables.index(variable)] if variable in self.variables else math.nan
        )


def fit_snr_trends(
    summary: pl.DataFrame, variables: Sequence[str] = ("width", "depth", "lr")
) -> list[SnrTrend]:
    """Fit :class:`SnrTrend` per layer type from the output of :func:`compressibility`.

    Variables that take a single value in the sweep are dropped (they cannot be identified).
    """
    trends = []
    usable = summary.filter(pl.col("layer_type") != "all")
    for (layer_type,), group in usable.group_by("layer_type", maintain_order=True):
        group = group.filter(pl.col("best_snr").is_not_nan() & (pl.col("best_snr") > 0))
        varied = tuple(v for v in variables if group[v].n_unique() > 1)
        if group.height < len(varied) + 1:
            continue
        trends.append(_least_squares(str(layer_type), group, varied))
    if not trends:
        raise FitInputError(
            "no layer type has enough runs to fit a trend (need more runs than variables)"
        )
    return trends


def _least_squares(layer_type: str, group: pl.DataFrame, variables: tuple[str, ...]) -> SnrTrend:
    from fitting.stats import fit_log_linear

    y = np.log(group["best_snr"].to_numpy())
    logs = [np.log(group[v].cast(pl.Float64).to_numpy()) for v in variables]
    plane = fit_log_linear(np.column_stack(logs) if logs else np.empty((y.size, 0)), y)
    coef, residual = plane.coefficients, plane.residuals
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(residual @ residual) / total if total > 0 else math.nan
    stderr = tuple(float(v) for v in plane.stderr[1:])
    return SnrTrend(
        layer_type=layer_type,
        variables=variables,
        intercept=float(coef[0]),
        slopes=tuple(float(c) for c in coef[1:]),
        slope_stderr=stderr,
        r_squared=r2,
        n=len(y),
    )


def trends_frame(trends: Sequence[SnrTrend]) -> pl.DataFrame:
    """A table of trends: one row per layer type, slope and stderr per variable."""
    rows = []
    for t in trends:
        row: dict[str, object] = {"layer_type": t.layer_type, "n": t.n, "r_squared": t.r_squared}
        for v in ("width", "depth", "lr"):
            row[f"slope_log_{v}"] = t.slope(v)
            row[f"stderr_log_{v}"] = (
                t.slope_stderr[t.variables.index(v)] if v in t.variables else math.nan
            )
        rows.append(row)
    return pl.DataFrame(rows)
