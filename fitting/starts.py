"""Start grids for multi-start approach-3 fits, and screening of a grid before polishing.

The Gemstones paper (arXiv 2502.06857, following Chinchilla's approach 3) runs L-BFGS-B from every
point of a product grid: alpha_i in {0, .5, 1, 1.5, 2}, a_i in {0, 5, ..., 25}, e in {-1, -.5, ..., 1},
i.e. 30^k * 5 starts (4,500 / 135,000 / 4,050,000 for k = 2 / 3 / 4). Almost all of those starts
end in the same few basins, so we *screen* instead: evaluate the objective at every grid point
(vectorised, in chunks, reusing per-variable power-law tables), keep the best few hundred, and
polish only those (see ``fitting.approach3.solve_from_starts``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fitting.errors import FitInputError
from fitting.laws import DEFAULT_DELTA, POWER_SUM, huber, validate_delta
from fitting.lm_engine import resolve_engine


@dataclass(frozen=True)
class StartGrid:
    """A product grid of starts: every (a_i, alpha_i) pair for every variable, times every e.

    Attributes:
        coefficients: values tried for each a_i (natural-log scale).
        exponents: values tried for each alpha_i.
        irreducible: values tried for e.
    """

    coefficients: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
    exponents: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0)
    irreducible: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)

    def size(self, k: int) -> int:
        """Number of starts for a k-variable law."""
        return (len(self.coefficients) * len(self.exponents)) ** k * len(self.irreducible)

    def term_pairs(self) -> np.ndarray:
        """All (a, alpha) pairs of one variable, shape (P, 2)."""
        a, alpha = np.meshgrid(self.coefficients, self.exponents, indexing="ij")
        return np.column_stack([a.ravel(), alpha.ravel()]).astype(np.float64)

    def starts_at(self, flat_indices: np.ndarray, k: int) -> np.ndarray:
        """The starts (paper layout, shape (m, 2k+1)) at positions of the flattened grid.

        Position order: variable 1's pair varies slowest, e fastest.
        """
        pairs = self.term_pairs()
        n_pairs, n_e = len(pairs), len(self.irreducible)
        flat = np.asarray(flat_indices, dtype=np.int64)
        e_index = flat % n_e
        rest = flat // n_e
        pair_index = np.empty((flat.size, k), dtype=np.int64)
        for i in range(k - 1, -1, -1):
            pair_index[:, i] = rest % n_pairs
            rest = rest // n_pairs
        chosen = pairs[pair_index]  # (m, k, 2)
        e = np.asarray(self.irreducible, dtype=np.float64)[e_index]
        return POWER_SUM.layout(k).join(chosen[..., 0], chosen[..., 1], e)

    def all_starts(self, k: int) -> np.ndarray:
        """Materialise the whole grid, shape (size(k), 2k+1); only sensible for small k."""
        return self.starts_at(np.arange(self.size(k)), k)


PAPER_GRID = StartGrid()


@dataclass(frozen=True)
class ScreenedStarts:
    """The best grid points by objective value.

    Attributes:
        starts: the kept starts, best first, shape (m, 2k+1).
        objectives: their objective on the screening points, shape (m,).
        n_evaluated: how many grid points were evaluated.
        n_screen_points: how many data points the screening objective used.
    """

    starts: np.ndarray
    objectives: np.ndarray
    n_evaluated: int
    n_screen_points: int


def screening_subsample(n: int, max_points: int, seed: int) -> np.ndarray:
    """Indices of the points used to screen: all of them, or a seeded sorted random subset."""
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_points, replace=False))


def _hopeless_pairs(
    pairs: np.ndarray, log_x_column: np.ndarray, log_loss: np.ndarray, factor: float
) -> np.ndarray:
    """Pairs whose term alone exceeds ``factor`` times the loss at every point (bool, (P,))."""
    log_term = pairs[:, 0:1] - pairs[:, 1:2] * log_x_column[None, :]  # (P, n)
    return np.all(log_term - log_loss[None, :] > np.log(factor), axis=1)


def screen_grid(
    grid: StartGrid,
    log_x: np.ndarray,
    log_loss: np.ndarray,
    *,
    keep: int = 256,
    delta: float = DEFAULT_DELTA,
    weights: np.ndarray | None = None,
    max_points: int = 256,
    seed: int = 0,
    chunk_elements: int = 1 << 22,
    prune_factor: float = 10.0,
    engine: str | None = None,
) -> ScreenedStarts:
    """Evaluate the objective at every grid point and keep the ``keep`` best.

    Exact pruning first: a grid point containing a term ``exp(a) x^-alpha`` that alone exceeds
    ``prune_factor`` times the loss at every point has every log residual below ``-log(factor)``, so
    its objective is at least ``sum(w) * delta * (log(factor) - delta/2)``; such (a, alpha) pairs are
    skipped, and the result is checked against that bound (falling back to the full grid when the
    bound could have mattered). The surviving grid is enumerated as (combinations of the first k-1
    variables' pairs) x (last variable's pairs) x (e values) from per-variable power-law tables, so
    each chunk costs one gather-add per variable plus a log and a Huber per point, in float64 (JAX
    or numpy, see ``engine``).

    Args:
        grid: the start grid.
        log_x: natural logs of the variables, (n, k).
        log_loss: natural logs of the losses, (n,).
        keep: how many starts to return.
        delta: Huber threshold.
        weights: optional per-point weights (n,).
        max_points: screen on at most this many points (a seeded random subset of larger data sets);
            the polish always uses every point.
        seed: seed of that subset.
        chunk_elements: approximate number of (start, point) pairs per vectorised chunk.
        prune_factor: the pruning threshold above (``inf`` disables pruning).
        engine: ``"numpy"``, ``"jax"``, ``"auto"`` or None (``GEMSTONES_FIT_ENGINE``, default
            ``auto``: numpy when grid x screening points and ``keep`` x screening points are
            small; see ``fitting.lm_engine.resolve_engine``). Both give the same values up to
            rounding.

    Returns:
        ``ScreenedStarts``, best first; ties broken by grid position, so the result is deterministic.
        ``n_evaluated`` counts the whole grid (pruned points are bounded, not skipped blindly).
    """
    n, k = log_x.shape
    if k < 1:
        raise FitInputError("screening needs at least one variable")
    delta = validate_delta(delta)
    subset = screening_subsample(n, max_points, seed)
    lx, ly = log_x[subset], log_loss[subset]
    w = np.ones(len(subset)) if weights is None else np.asarray(weights, np.float64)[subset]
    pairs = grid.term_pairs()
    total = grid.size(k)
    keep = min(keep, total)
    engine = resolve_engine(engine, keep * len(subset), total * len(subset))
    all_pairs = [np.arange(len(pairs))] * k
    if np.isfinite(prune_factor):
        alive = [
            np.flatnonzero(~_hopeless_pairs(pairs, lx[:, i], ly, prune_factor)) for i in range(k)
        ]
        n_alive = int(np.prod([len(a) for a in alive])) * len(grid.irreducible)
        bound = float(np.sum(w)) * delta * (np.log(prune_factor) - delta / 2)
        if n_alive >= keep:
            values, index = _screen_pairs(
                grid, pairs, alive, lx, ly, w, keep, delta, chunk_elements, engine
            )
            if values[-1] < bound:
                return _screened(grid, index, values, total, len(subset), k)
    values, index = _screen_pairs(
        grid, pairs, all_pairs, lx, ly, w, keep, delta, chunk_elements, engine
    )
    return _screened(grid, index, values, total, len(subset), k)


def _screened(grid, index, values, total, n_points, k) -> ScreenedStarts:
    order = np.lexsort((np.arange(len(values)), values))
    return ScreenedStarts(
        starts=grid.starts_at(index[order], k),
        objectives=values[order],
        n_evaluated=total,
        n_screen_points=n_points,
    )


_CHUNK_KERNEL: dict[str, Callable[..., Any]] = {}
TABLE_ROW_STEP = 6
"""The last variable's table is padded to a multiple of this many rows (one compile per bucket)."""
NUMPY_CHUNK_ELEMENTS = 1 << 20
"""(start, point) pairs per chunk of the numpy engine's screen (cache-sized; same values)."""


def _grid_objectives(head_ids, tables, exp_e, ly, w, sizes, delta, xp):
    """Objectives of the grid points under a chunk of "heads", in ``xp`` (numpy or jax.numpy).

    A head is one combination of the first k-1 variables' alive pairs; under it lie every alive
    pair of the last variable times every e value. Returns the flattened (heads, rows, e) values.
    """
    k = len(tables)
    base = xp.zeros((head_ids.shape[0], ly.shape[0]))
    rest = head_ids
    for i in range(k - 2, -1, -1):
        base = base + tables[i][rest % sizes[i]]
        rest = rest // sizes[i]
    pred = base[:, None, :] + tables[k - 1][None, :, :]
    pred = pred[:, :, None, :] + exp_e[None, None, :, None]
    values = xp.sum(huber(ly - xp.log(pred), delta, xp) * w, axis=-1)
    return values.reshape(-1)


def _chunk_objectives(head_ids, tables, exp_e, ly, w, sizes, delta, engine="jax"):
    """``_grid_objectives`` in numpy, or jitted in JAX once per bucket of shapes.

    ``sizes`` (the alive pair count of each variable) is traced, not static, and the tables are
    padded (rows, and zero-weight points), so data sets of other sizes reuse the compiled kernel.
    """
    if engine == "numpy":
        return _grid_objectives(head_ids, tables, exp_e, ly, w, sizes, delta, np)
    if "kernel" not in _CHUNK_KERNEL:
        import jax
        import jax.numpy as jnp

        def kernel(head_ids, tables, exp_e, ly, w, sizes, delta):
            return _grid_objectives(head_ids, tables, exp_e, ly, w, sizes, delta, jnp)

        _CHUNK_KERNEL["kernel"] = jax.jit(kernel, static_argnames=("delta",))
    return _CHUNK_KERNEL["kernel"](head_ids, tables, exp_e, ly, w, sizes, delta)


def _screen_pairs(
    grid: StartGrid,
    pairs: np.ndarray,
    alive: list[np.ndarray],
    lx: np.ndarray,
    ly: np.ndarray,
    w: np.ndarray,
    keep: int,
    delta: float,
    chunk_elements: int,
    engine: str = "jax",
) -> tuple[np.ndarray, np.ndarray]:
    """Objective of every grid point built from the ``alive`` pairs; the ``keep`` best.

    Returns:
        (values, flat grid positions), best first, ties broken by grid position.
    """
    if engine == "numpy":
        chunk_elements = min(chunk_elements, NUMPY_CHUNK_ELEMENTS)
        return _screen_chunks(grid, pairs, alive, lx, ly, w, keep, delta, chunk_elements, engine)
    import jax

    with jax.enable_x64(True):
        return _screen_chunks(grid, pairs, alive, lx, ly, w, keep, delta, chunk_elements, engine)


def _screen_chunks(grid, pairs, alive, lx, ly, w, keep, delta, chunk_elements, engine):
    """``_screen_pairs``'s work, chunk by chunk over the heads (under x64 for JAX)."""
    k = lx.shape[1]
    n_pairs = len(pairs)
    e_values = np.asarray(grid.irreducible, dtype=np.float64)
    n_e = len(e_values)
    sizes = [len(a) for a in alive]
    head_count = int(np.prod(sizes[:-1])) if k > 1 else 1
    last = alive[-1]
    # JAX: pad to buckets (one compiled kernel per bucket): points to a power of two (zero
    # weight), the last table's rows to a multiple of TABLE_ROW_STEP. numpy compiles nothing.
    # Either way the other tables hold every pair (only the alive rows are ever gathered).
    if engine == "numpy":
        n_points, last_rows = len(ly), len(last)
    else:
        n_points = max(8, 1 << max(0, (len(ly) - 1).bit_length()))
        last_rows = -(-len(last) // TABLE_ROW_STEP) * TABLE_ROW_STEP
    rows_per_head = last_rows * n_e
    heads_per_chunk = max(1, chunk_elements // max(1, rows_per_head * n_points))
    heads_per_chunk = 1 << (min(heads_per_chunk, head_count).bit_length() - 1)
    padded_lx = np.zeros((n_points, k))
    padded_lx[: len(ly)] = lx
    padded_ly = np.zeros(n_points)
    padded_ly[: len(ly)] = ly
    padded_w = np.zeros(n_points)
    padded_w[: len(ly)] = w
    tables = []
    for i, a in enumerate(alive):
        # tables[i][p, j] = exp(a_p - alpha_p * log x_ij) for the alive pairs of variable i
        rows = last_rows if i == k - 1 else n_pairs
        table = np.ones((rows, n_points))
        table[: len(a)] = np.exp(pairs[a, 0:1] - pairs[a, 1:2] * padded_lx[None, :, i])
        tables.append(table)
    tables_t = tuple(tables)
    exp_e = np.exp(e_values)
    sizes_a = np.asarray(sizes, dtype=np.int64)

    best_values = np.empty(0)
    best_index = np.empty(0, dtype=np.int64)
    for start in range(0, head_count, heads_per_chunk):
        heads = np.arange(start, start + heads_per_chunk, dtype=np.int64)
        real = heads < head_count
        values = np.asarray(
            _chunk_objectives(
                np.where(real, heads, 0),
                tables_t,
                exp_e,
                padded_ly,
                padded_w,
                sizes_a,
                delta,
                engine,
            )
        )
        values = values.reshape(heads_per_chunk, last_rows, n_e)[real][:, : len(last)]
        # flat grid position of every evaluated point (variable 1 slowest, e fastest)
        flat = np.zeros(int(real.sum()), dtype=np.int64)
        rest = heads[real]
        digits = []
        for i in range(k - 2, -1, -1):
            digits.append(alive[i][rest % sizes[i]])
            rest = rest // sizes[i]
        for digit in reversed(digits):
            flat = flat * n_pairs + digit
        flat = (flat[:, None, None] * n_pairs + last[None, :, None]) * n_e + np.arange(n_e)
        values = np.where(np.isfinite(values), values, np.inf).reshape(-1)
        merged_v = np.concatenate([best_values, values])
        merged_i = np.concatenate([best_index, flat.reshape(-1)])
        order = np.lexsort((merged_i, merged_v))[:keep]
        best_values, best_index = merged_v[order], merged_i[order]
    return best_values, best_index
