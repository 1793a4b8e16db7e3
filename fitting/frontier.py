"""Compute-optimal (and time-optimal) frontiers of width–depth laws over a grid of shapes.

The Gemstones paper (arXiv 2502.06857, ``approach_3_brute_force.py`` in its MIT-licensed
repository) finds its width–depth prescriptions by brute force: it evaluates a fitted law on every
combination of about 1,000 widths x up to 800 depths x 500 token counts (~319M rows), then keeps,
per log-FLOPs bucket, the combination of least predicted loss. This module returns the same
answer exactly, in about a second, from one observation:

    For a fixed shape (w, d) the predicted loss depends on the token count D only through the
    single term exp(a_D) D^(-alpha_D), which is monotone in D. The cost of a run is
    ``cost_per_token(w, d) * D``, so within a cost bucket the best token count of that shape is
    at one end of the bucket's token range: the largest grid token count whose cost still fits
    in the bucket (or the smallest, if the fitted exponent is negative).

So per bucket we evaluate one or two candidates per shape instead of 500, and the law splits into
a shape part (computed once per shape) plus a token part (computed once per token count).

The cost per token is a function argument: FLOPs per token for the compute frontier, GPU hours per
token (from a fitted time model) for the time frontier. Parameters per shape are a function
argument too: ``fitting`` never imports the suite's architecture arithmetic (``registry``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, localcontext
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fitting.errors import FitInputError
from fitting.laws import POWER_SUM, log_prediction
from fitting.result import ResultMixin

ShapeFunction = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]
"""A vectorised function of (width, depth) arrays, e.g. parameter count or FLOPs per token."""

FRONTIER_VARIABLES = ("width", "depth", "params", "tokens")
"""Variables a law may use to be evaluated on a shape grid."""

# The paper's grid (approach_3_brute_force.py, ``make_data`` and ``main``).
PAPER_WIDTH_RANGE_LOG2 = (8, 17)
PAPER_WIDTH_COUNT = 2**10 + 1
PAPER_DEPTHS_PER_WIDTH = 800
PAPER_MAX_DEPTH_PER_WIDTH = 2**4
PAPER_MIN_WIDTH_PER_DEPTH = 2**11
PAPER_TOKEN_RANGE_LOG10 = (9.0, 13.5)
PAPER_TOKEN_COUNT = 500
PAPER_FLOP_RANGE_LOG10 = (18.0, 26.0)
PAPER_BUCKET_COUNT = 13
PAPER_GRID_SHAPES = 637_594
"""Shapes in ``paper_shape_grid()``: exact floors, the same on every machine."""


@dataclass(frozen=True)
class ShapeGrid:
    """A set of candidate shapes, stored flat: one entry per (width, depth) pair.

    Attributes:
        width: widths, shape (P,), float64 (integers in value).
        depth: depths, shape (P,), float64 (integers in value).
    """

    width: NDArray[np.float64]
    depth: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.width.shape[0])


# --------------------------------------------------------------------------- exact integer grids
#
# The paper builds its grids as ``int(logspace(...))``: it truncates floating-point powers. Where a
# power lands within rounding error of an integer (every grid endpoint, e.g. 10**log10(2)), the
# truncated value depends on how the host's ``pow`` rounds: numpy on an AVX-512 Xeon gives 637,733
# shapes, scalar libm 637,724, another host 637,728. Here each value is instead the exact
# mathematical floor of the real number the paper's expression denotes, decided in three tiers:
#
# 1. a float64 estimate settles every value whose floor cannot change within a relative error of
#    ``_ESTIMATE_RTOL`` (1e-9, about a million times any libm's error);
# 2. the rest are recomputed in 60-digit decimal arithmetic (software, the same on every host);
# 3. the few still within 1e-40 of an integer (the endpoints, which *are* integers) are decided by
#    exact integer arithmetic: n <= v  <=>  n^Q <= N for the integers with v^Q = N.
#
# So the grids are a pure function of their arguments, identical on every machine.

_ESTIMATE_RTOL = 1e-9
_DECIMAL_DIGITS = 60
_DECIMAL_RTOL = Decimal("1e-40")
_MAX_LOG10_DENOMINATOR = 1000


def _estimate_geometric(low: int, high: int, count: int, root: int) -> NDArray[np.float64]:
    """Float64 estimates of ``(low^(m-k) * high^k)^(1/(m*root))`` for k = 0..m, m = count - 1."""
    k = np.arange(count, dtype=np.float64)
    m = count - 1
    return np.exp((math.log(low) * (m - k) + math.log(high) * k) / (m * root))


def _exact_floor(low: int, high: int, m: int, root: int, k: int) -> int:
    """Exact floor of ``v = (low^(m-k) * high^k)^(1/(m*root))`` (tiers 2 and 3 above)."""
    if root == 1 and k in (0, m):  # the integer endpoints themselves
        return low if k == 0 else high
    with localcontext() as context:
        context.prec = _DECIMAL_DIGITS
        log_v = (Decimal(low).ln() * (m - k) + Decimal(high).ln() * k) / (m * root)
        value = log_v.exp()
        below = int((value * (1 - _DECIMAL_RTOL)).to_integral_value(rounding=ROUND_FLOOR))
        above = int((value * (1 + _DECIMAL_RTOL)).to_integral_value(rounding=ROUND_FLOOR))
    if below == above:
        return below
    # v lies within 1e-40 of the integer ``above``: floor(v) is ``above`` iff above^Q <= N, with
    # the exponents reduced by gcd(k, m) so that the endpoints cost almost nothing.
    g = math.gcd(k, m)
    m_reduced, k_reduced = m // g, k // g
    power = low ** (m_reduced - k_reduced) * high**k_reduced
    return above if above ** (m_reduced * root) <= power else above - 1


def exact_geometric_floor(low: int, high: int, count: int, root: int = 1) -> NDArray[np.int64]:
    """Floors of ``count`` log-spaced values from ``low^(1/root)`` to ``high^(1/root)``, exactly.

    Value k (k = 0..m, m = count - 1) is ``v_k = (low^(m-k) * high^k)^(1/(m*root))``, the k-th
    entry of ``logspace(log10(low)/root, log10(high)/root, count)`` in exact arithmetic; the result
    is ``floor(v_k)``, independent of how the host rounds floating-point powers.

    Args:
        low, high: positive integers, ``low <= high``.
        count: number of values (>= 2).
        root: the values span ``low^(1/root)`` .. ``high^(1/root)`` (e.g. root 2 for 10^13.5).

    Returns:
        int64 floors, shape (count,), non-decreasing.

    Example:
        >>> exact_geometric_floor(1, 16, 5).tolist()  # 1, 2, 4, 8, 16 exactly
        [1, 2, 4, 8, 16]
    """
    if not (0 < low <= high) or count < 2 or root < 1:
        raise FitInputError(
            f"need 0 < low <= high, count >= 2 and root >= 1; got {low}, {high}, {count}, {root}"
        )
    estimate = _estimate_geometric(low, high, count, root)
    below = np.floor(estimate * (1.0 - _ESTIMATE_RTOL))
    above = np.floor(estimate * (1.0 + _ESTIMATE_RTOL))
    floors = below.astype(np.int64)
    for k in np.flatnonzero(below != above):
        floors[k] = _exact_floor(low, high, count - 1, root, int(k))
    return floors


def _power_of_ten(log10_value: float) -> tuple[int, int]:
    """``(N, q)`` with ``10^log10_value = N^(1/q)``, reading the value as its shortest decimal."""
    exponent = Fraction(repr(float(log10_value)))
    if exponent.denominator > _MAX_LOG10_DENOMINATOR or not 0 <= exponent <= 100:
        raise FitInputError(
            f"a token-grid end must be a log10 value in [0, 100] with at most 3 decimals; "
            f"got {log10_value!r}"
        )
    return 10**exponent.numerator, exponent.denominator


def paper_shape_grid(
    width_stride: int = 1, depths_per_width: int = PAPER_DEPTHS_PER_WIDTH
) -> ShapeGrid:
    """The paper's shape grid: 1,025 log-spaced widths 2^8..2^17, depths up to 16 w.

    Widths are the distinct ``floor(2^(8 + 9 i / 1024))``, i = 0..1024 (1,025 values); for each
    width the depths are the distinct ``floor(lo^(1 - j/799) (16 w)^(j/799))``, j = 0..799, with
    ``lo = max(1, w // 2048)`` (456 to 798 distinct values, from ``lo`` to ``16 w`` inclusive):
    PAPER_GRID_SHAPES (637,594) shapes in all. This is the paper's
    ``int(logspace(log10(lo), log10(16 w), 800))`` with the floors taken exactly
    (``exact_geometric_floor``), so the grid is the same on every machine; the paper's float
    truncation gave 637,724 to 637,733 shapes depending on the host's ``pow``.

    Args:
        width_stride: keep every ``width_stride``-th width (1 = the paper's grid); a coarser grid
            for many repeated evaluations (bootstrap).
        depths_per_width: log-spaced depth samples per width before de-duplication (paper: 800).

    Returns:
        The flat ``ShapeGrid``.

    Example:
        >>> len(paper_shape_grid()) == PAPER_GRID_SHAPES
        True
    """
    if width_stride < 1 or depths_per_width < 2:
        raise FitInputError(
            f"width_stride must be >= 1 and depths_per_width >= 2; got {width_stride}, "
            f"{depths_per_width}"
        )
    low, high = (2**p for p in PAPER_WIDTH_RANGE_LOG2)
    widths = np.unique(exact_geometric_floor(low, high, PAPER_WIDTH_COUNT))[::width_stride]
    all_w, all_d = [], []
    for width in widths.tolist():
        low_depth = max(1, width // PAPER_MIN_WIDTH_PER_DEPTH)
        depths = np.unique(
            exact_geometric_floor(low_depth, width * PAPER_MAX_DEPTH_PER_WIDTH, depths_per_width)
        )
        all_w.append(np.full(depths.shape, width, dtype=np.float64))
        all_d.append(depths.astype(np.float64))
    return ShapeGrid(np.concatenate(all_w), np.concatenate(all_d))


def paper_token_grid(low_log10: float = PAPER_TOKEN_RANGE_LOG10[0]) -> NDArray[np.float64]:
    """The paper's token grid: ``int(logspace(9, 13.5, 500))``, floors taken exactly.

    Args:
        low_log10: log10 of the smallest token count (8.5 for the paper's 120B+ set); at most
            three decimals, so the grid has an exact integer form.

    Returns:
        500 strictly increasing token counts (float64, integers in value), the same on every
        machine (see ``exact_geometric_floor``).

    Example:
        >>> paper_token_grid()[[0, -1]].tolist()
        [1000000000.0, 31622776601683.0]
    """
    low, low_root = _power_of_ten(low_log10)
    high, high_root = _power_of_ten(PAPER_TOKEN_RANGE_LOG10[1])
    root = math.lcm(low_root, high_root)
    low, high = low ** (root // low_root), high ** (root // high_root)
    if low >= high:
        raise FitInputError(
            f"low_log10 must be below {PAPER_TOKEN_RANGE_LOG10[1]}; got {low_log10!r}"
        )
    return exact_geometric_floor(low, high, PAPER_TOKEN_COUNT, root).astype(np.float64)


def paper_flop_edges() -> NDArray[np.float64]:
    """The paper's bucket edges: 13 buckets, log-uniform from 1e18 to 1e26 FLOPs."""
    low, high = PAPER_FLOP_RANGE_LOG10
    return 10.0 ** np.linspace(low, high, PAPER_BUCKET_COUNT + 1)


def _check_law(theta: NDArray[np.float64], variables: Sequence[str]) -> tuple[str, ...]:
    variables = tuple(variables)
    unknown = [v for v in variables if v not in FRONTIER_VARIABLES]
    if unknown:
        raise FitInputError(
            f"a frontier law may only use {', '.join(FRONTIER_VARIABLES)}; got {unknown}"
        )
    POWER_SUM.layout(variables).check(theta)
    return variables


def _shape_log_variables(
    grid: ShapeGrid, variables: Sequence[str], params_fn: ShapeFunction | None
) -> dict[str, NDArray[np.float64]]:
    logs: dict[str, NDArray[np.float64]] = {
        "width": np.log(grid.width),
        "depth": np.log(grid.depth),
    }
    if "params" in variables:
        if params_fn is None:
            raise FitInputError("the law uses 'params': pass params_fn(width, depth)")
        logs["params"] = np.log(np.asarray(params_fn(grid.width, grid.depth), dtype=np.float64))
    return logs


def _split_law(
    theta: NDArray[np.float64],
    variables: Sequence[str],
    shape_logs: dict[str, NDArray[np.float64]],
) -> tuple[NDArray[np.float64], float, float]:
    """Shape part of the predicted loss (P,), and the token term's (log coefficient, exponent)."""
    return POWER_SUM.frontier_parts(theta, variables, shape_logs)


class _AllocationRatios:
    """Derived ratios of an allocation that has ``width``, ``depth``, ``params`` and ``tokens``."""

    width: NDArray[np.float64]
    depth: NDArray[np.float64]
    params: NDArray[np.float64]
    tokens: NDArray[np.float64]

    @property
    def width_depth_ratio(self) -> NDArray[np.float64]:
        """Optimal width / depth."""
        return self.width / self.depth

    @property
    def tokens_per_param(self) -> NDArray[np.float64]:
        """Optimal tokens per parameter."""
        return self.tokens / self.params


@dataclass(frozen=True)
class Frontier(_AllocationRatios, ResultMixin):
    """The least-loss configuration per cost bucket (one row per non-empty bucket).

    Attributes:
        resource: what the cost measures, e.g. ``"FLOPs"`` or ``"GPU hours"``.
        bucket_low, bucket_high: the bucket's cost range (low exclusive except for the first bucket).
        width, depth, params, tokens: the optimal configuration.
        cost: its cost (``cost_per_token(w, d) * tokens``), inside the bucket.
        loss: its predicted loss.
        evaluated: how many (shape, token) candidates the search evaluated.
    """

    resource: str
    bucket_low: NDArray[np.float64]
    bucket_high: NDArray[np.float64]
    width: NDArray[np.float64]
    depth: NDArray[np.float64]
    params: NDArray[np.float64]
    tokens: NDArray[np.float64]
    cost: NDArray[np.float64]
    loss: NDArray[np.float64]
    evaluated: int = field(default=0)

    def __len__(self) -> int:
        return int(self.width.shape[0])

    def columns(self) -> dict[str, NDArray[np.float64]]:
        """All columns by name, in display order (for a table, CSV or JSON)."""
        return {
            "bucket_low": self.bucket_low,
            "bucket_high": self.bucket_high,
            "width": self.width,
            "depth": self.depth,
            "width_depth_ratio": self.width_depth_ratio,
            "params": self.params,
            "tokens": self.tokens,
            "tokens_per_param": self.tokens_per_param,
            "cost": self.cost,
            "loss": self.loss,
        }


def _bucket_token_index(
    rate: NDArray[np.float64], tokens: NDArray[np.float64], limit: float, inclusive: bool
) -> NDArray[np.int64]:
    """Per shape, the index of the largest token count with ``rate * t <= limit`` (or ``< limit``).

    Exact under float64 rounding: a searchsorted guess is corrected by evaluating the products.
    Returns -1 where no token count qualifies.
    """
    index = np.searchsorted(tokens, limit / rate, side="right") - 1
    n = tokens.shape[0]

    def fits(i: NDArray[np.int64]) -> NDArray[np.bool_]:
        product = rate * tokens[np.clip(i, 0, n - 1)]
        ok = product <= limit if inclusive else product < limit
        return ok & (i >= 0) & (i < n)

    # Step down while the guess overshoots, up while the next one still fits (at most one step).
    index = np.where(fits(index) | (index < 0), index, index - 1)
    index = np.where(fits(index + 1), index + 1, index)
    return index


def compute_frontier(
    theta: ArrayLike,
    variables: Sequence[str],
    cost_per_token: ShapeFunction,
    params_fn: ShapeFunction,
    *,
    grid: ShapeGrid | None = None,
    tokens: ArrayLike | None = None,
    edges: ArrayLike | None = None,
    resource: str = "FLOPs",
) -> Frontier:
    """The exact brute-force frontier of a law over a (shape x token) grid, bucketed by cost.

    Equivalent to evaluating the law on every (width, depth, tokens) combination, dropping those
    whose cost is outside ``[edges[0], edges[-1]]``, assigning the rest to buckets
    ``[e0, e1], (e1, e2], ...`` (the paper's ``pd.cut(..., include_lowest=True)``) and keeping the
    least predicted loss per bucket; but it evaluates at most two token counts per shape and bucket.

    Args:
        theta: law parameters ``[a_1..a_k, alpha_1..alpha_k, e]``.
        variables: the law's variables, a subset of width, depth, params, tokens, in theta order.
        cost_per_token: cost of one training token for a shape, e.g. FLOPs per token.
        params_fn: parameter count of a shape (reported, and used when the law has ``params``).
        grid: candidate shapes (default: the paper's 637,594 shapes).
        tokens: candidate token counts, ascending (default: the paper's 500).
        edges: bucket edges in cost units, ascending (default: 13 buckets from 1e18 to 1e26).
        resource: the cost's name, carried into the result.

    Returns:
        A ``Frontier`` with one row per non-empty bucket.
    """
    theta_arr = np.asarray(theta, dtype=np.float64).reshape(-1)
    variables = _check_law(theta_arr, variables)
    grid = paper_shape_grid() if grid is None else grid
    token_grid = paper_token_grid() if tokens is None else np.asarray(tokens, dtype=np.float64)
    bucket_edges = paper_flop_edges() if edges is None else np.asarray(edges, dtype=np.float64)
    if token_grid.ndim != 1 or token_grid.size == 0 or np.any(np.diff(token_grid) <= 0):
        raise FitInputError("tokens must be a non-empty, strictly increasing 1-D array")
    if bucket_edges.ndim != 1 or bucket_edges.size < 2 or np.any(np.diff(bucket_edges) <= 0):
        raise FitInputError("edges must be a strictly increasing 1-D array of at least 2 values")

    shape_logs = _shape_log_variables(grid, variables, params_fn)
    shape_part, token_a, token_alpha = _split_law(theta_arr, variables, shape_logs)
    token_part = np.exp(token_a - token_alpha * np.log(token_grid))
    rate = np.asarray(cost_per_token(grid.width, grid.depth), dtype=np.float64)
    params = np.asarray(params_fn(grid.width, grid.depth), dtype=np.float64)

    rows: list[tuple[float, float, int, int, float]] = []
    evaluated = 0
    for j in range(bucket_edges.size - 1):
        low, high = float(bucket_edges[j]), float(bucket_edges[j + 1])
        top = _bucket_token_index(rate, token_grid, high, inclusive=True)
        # The first bucket includes its lower edge; the others exclude it.
        below = _bucket_token_index(rate, token_grid, low, inclusive=j > 0)
        bottom = below + 1
        valid = (top >= bottom) & (top >= 0)
        if not np.any(valid):
            continue
        shapes = np.flatnonzero(valid)
        candidates = [top[shapes]] if token_alpha > 0 else [top[shapes], bottom[shapes]]
        best_loss, best_shape, best_token = np.inf, -1, -1
        for token_index in candidates:
            loss = shape_part[shapes] + token_part[token_index]
            evaluated += loss.size
            i = int(np.argmin(loss))
            if loss[i] < best_loss:
                best_loss, best_shape, best_token = (
                    float(loss[i]),
                    int(shapes[i]),
                    int(token_index[i]),
                )
        rows.append((low, high, best_shape, best_token, best_loss))

    shape_idx = np.array([r[2] for r in rows], dtype=np.int64)
    token_idx = np.array([r[3] for r in rows], dtype=np.int64)
    return Frontier(
        resource=resource,
        bucket_low=np.array([r[0] for r in rows]),
        bucket_high=np.array([r[1] for r in rows]),
        width=grid.width[shape_idx],
        depth=grid.depth[shape_idx],
        params=params[shape_idx],
        tokens=token_grid[token_idx],
        cost=rate[shape_idx] * token_grid[token_idx],
        loss=np.array([r[4] for r in rows]),
        evaluated=evaluated,
    )


def bruteforce_frontier(
    theta: ArrayLike,
    variables: Sequence[str],
    cost_per_token: ShapeFunction,
    params_fn: ShapeFunction,
    *,
    grid: ShapeGrid,
    tokens: ArrayLike,
    edges: ArrayLike,
    resource: str = "FLOPs",
    chunk_shapes: int = 4096,
    chunk_elements: int = 1 << 20,
) -> Frontier:
    """Reference implementation: evaluate the law on every (shape, token) pair, vectorised numpy.

    This is the paper's procedure (without its row-by-row ``apply``), kept to check
    ``compute_frontier`` and to time it against. It works through blocks of at most
    ``chunk_shapes`` shapes and ``chunk_elements`` (shape, token) pairs, so peak memory does not
    depend on the size of either grid.
    """
    theta_arr = np.asarray(theta, dtype=np.float64).reshape(-1)
    variables = _check_law(theta_arr, variables)
    token_grid = np.asarray(tokens, dtype=np.float64)
    bucket_edges = np.asarray(edges, dtype=np.float64)
    n_buckets = bucket_edges.size - 1
    best_loss = np.full(n_buckets, np.inf)
    best_shape = np.full(n_buckets, -1, dtype=np.int64)
    best_token = np.full(n_buckets, -1, dtype=np.int64)
    log_tokens = np.log(token_grid)
    # blocks of at most ~chunk_elements (shape, token) pairs, whatever the sizes of both grids
    token_block = max(1, min(token_grid.size, chunk_elements))
    shape_block = max(1, min(chunk_shapes, chunk_elements // token_block))
    for start in range(0, len(grid), shape_block):
        stop = min(start + shape_block, len(grid))
        sub = ShapeGrid(grid.width[start:stop], grid.depth[start:stop])
        logs = _shape_log_variables(sub, variables, params_fn)
        rate = np.asarray(cost_per_token(sub.width, sub.depth), dtype=np.float64)
        for t_start in range(0, token_grid.size, token_block):
            t_stop = min(t_start + token_block, token_grid.size)
            cost = rate[:, None] * token_grid[None, t_start:t_stop]  # (p, t)
            columns = []
            for name in variables:
                if name == "tokens":
                    columns.append(np.broadcast_to(log_tokens[None, t_start:t_stop], cost.shape))
                else:
                    columns.append(np.broadcast_to(logs[name][:, None], cost.shape))
            log_x = np.stack(columns, axis=-1).reshape(-1, len(variables))
            loss = np.exp(log_prediction(theta_arr, log_x)).reshape(cost.shape)
            # Buckets [e0, e1], (e1, e2], ...: right-closed, the lowest edge included.
            bucket = np.searchsorted(bucket_edges, cost, side="left") - 1
            bucket = np.where(cost == bucket_edges[0], 0, bucket)
            inside = (cost >= bucket_edges[0]) & (cost <= bucket_edges[-1])
            for j in range(n_buckets):
                mask = inside & (bucket == j)
                if not np.any(mask):
                    continue
                masked = np.where(mask, loss, np.inf)
                flat = int(np.argmin(masked))
                if masked.flat[flat] < best_loss[j]:
                    best_loss[j] = masked.flat[flat]
                    p, t = np.unravel_index(flat, masked.shape)
                    best_shape[j], best_token[j] = start + int(p), t_start + int(t)
    keep = best_shape >= 0
    shape_idx, token_idx = best_shape[keep], best_token[keep]
    width, depth = grid.width[shape_idx], grid.depth[shape_idx]
    rate = np.asarray(cost_per_token(width, depth), dtype=np.float64)
    return Frontier(
        resource=resource,
        bucket_low=bucket_edges[:-1][keep],
        bucket_high=bucket_edges[1:][keep],
        width=width,
        depth=depth,
        params=np.asarray(params_fn(width, depth), dtype=np.float64),
        tokens=token_grid[token_idx],
        cost=rate * token_grid[token_idx],
        loss=best_loss[keep],
        evaluated=len(grid) * token_grid.size,
    )


@dataclass(frozen=True)
class BudgetOptima(_AllocationRatios, ResultMixin):
    """Optimal configurations at exact budgets, for one or many parameter vectors.

    Token counts are continuous (``budget / cost_per_token``); shapes come from the grid.
    Arrays have shape (m, b): m parameter vectors (e.g. bootstrap resamples) by b budgets.
    """

    budgets: NDArray[np.float64]
    width: NDArray[np.float64]
    depth: NDArray[np.float64]
    params: NDArray[np.float64]
    tokens: NDArray[np.float64]
    loss: NDArray[np.float64]


def optima_at_budgets(
    thetas: ArrayLike,
    variables: Sequence[str],
    budgets: ArrayLike,
    cost_per_token: ShapeFunction,
    params_fn: ShapeFunction,
    *,
    grid: ShapeGrid | None = None,
    chunk: int = 16,
    chunk_elements: int = 1 << 20,
) -> BudgetOptima:
    """The least-loss shape at each exact budget, spending the whole budget on tokens.

    For every parameter vector and budget C, each grid shape trains on ``C / cost_per_token``
    tokens; the shape of least predicted loss wins. Vectorised over parameter vectors (bootstrap
    resamples) in chunks of ``chunk``.

    Args:
        thetas: parameter vectors, shape (2k+1,) or (m, 2k+1).
        variables: the law's variables (subset of width, depth, params, tokens).
        budgets: budgets in cost units, shape (b,).
        cost_per_token: cost of one token for a shape (FLOPs or GPU hours per token).
        params_fn: parameter count of a shape.
        grid: candidate shapes (default: the paper's grid with every 4th width, 200 depths per
            width: about 2.5% resolution in width, 40k shapes).
        chunk: at most this many parameter vectors evaluated together.
        chunk_elements: at most about this many (vector, budget, shape) losses held at once, so
            peak memory does not depend on the grid size (blocks of shapes keep a running best).

    Returns:
        ``BudgetOptima`` with arrays of shape (m, b).
    """
    theta_arr = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    variables = _check_law(theta_arr[0], variables)
    budget_arr = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    if np.any(~np.isfinite(budget_arr) | (budget_arr <= 0)):
        raise FitInputError(f"budgets must be positive and finite; got {budget_arr.tolist()}")
    grid = paper_shape_grid(width_stride=4, depths_per_width=200) if grid is None else grid
    logs = _shape_log_variables(grid, variables, params_fn)
    rate = np.asarray(cost_per_token(grid.width, grid.depth), dtype=np.float64)
    log_tokens = np.log(budget_arr)[:, None] - np.log(rate)[None, :]  # (b, P)
    params = np.asarray(params_fn(grid.width, grid.depth), dtype=np.float64)
    layout = POWER_SUM.layout(variables)
    m = theta_arr.shape[0]
    n_shapes, n_budgets = rate.size, budget_arr.size
    # blocks of at most ~chunk_elements (theta, budget, shape) triples, whatever the grid size
    shape_block = max(1, min(n_shapes, chunk_elements // n_budgets))
    theta_block = max(1, min(chunk, chunk_elements // (n_budgets * shape_block)))
    best = np.zeros((m, n_budgets), dtype=np.int64)
    best_loss = np.full((m, n_budgets), np.inf)
    for start in range(0, m, theta_block):
        th = theta_arr[start : start + theta_block]  # (c, 2k+1)
        rows = slice(start, start + th.shape[0])
        for s_start in range(0, n_shapes, shape_block):
            cols = slice(s_start, min(s_start + shape_block, n_shapes))
            a, alpha, e = layout.split(th)
            loss = np.exp(e)[:, None, None] * np.ones((1, n_budgets, cols.stop - s_start))
            for i, name in enumerate(variables):
                if name == "tokens":
                    log_x = log_tokens[None, :, cols]
                else:
                    log_x = logs[name][None, None, cols]
                loss = loss + np.exp(a[:, i, None, None] - alpha[:, i, None, None] * log_x)
            idx = np.argmin(loss, axis=-1)  # (c, b), first of equal minima
            value = np.take_along_axis(loss, idx[..., None], axis=-1)[..., 0]
            improved = value < best_loss[rows]  # strict: an earlier shape wins ties
            best[rows] = np.where(improved, idx + s_start, best[rows])
            best_loss[rows] = np.where(improved, value, best_loss[rows])
    tokens = budget_arr[None, :] / rate[best]
    return BudgetOptima(
        budgets=budget_arr,
        width=grid.width[best],
        depth=grid.depth[best],
        params=params[best],
        tokens=tokens,
        loss=best_loss,
    )
