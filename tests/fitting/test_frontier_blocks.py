"""Frontier evaluation in bounded blocks: the same answers whatever the block size."""

from __future__ import annotations

import numpy as np

from fitting.frontier import (
    bruteforce_frontier,
    optima_at_budgets,
    paper_flop_edges,
    paper_shape_grid,
    paper_token_grid,
)
from registry.suites.gemstones.architecture import flops_per_token, parameter_count

VARIABLES = ("width", "depth", "params", "tokens")
THETA = np.array([1.296, -0.236, 6.477, 10.221, 0.307, 0.507, 0.393, 0.483, 0.6])


def _params(width, depth):
    return np.asarray(parameter_count(width, depth), dtype=np.float64)


def _flops(width, depth):
    return np.asarray(flops_per_token(width, depth), dtype=np.float64)


def test_optima_at_budgets_do_not_depend_on_the_block_size() -> None:
    grid = paper_shape_grid(width_stride=32, depths_per_width=60)
    thetas = THETA + np.random.default_rng(0).normal(scale=0.03, size=(12, THETA.size))
    budgets = np.array([1e19, 1e21, 1e23])
    whole = optima_at_budgets(thetas, VARIABLES, budgets, _flops, _params, grid=grid)
    for elements in (5000, 7):  # shapes split into blocks, down to one shape at a time
        blocks = optima_at_budgets(
            thetas, VARIABLES, budgets, _flops, _params, grid=grid, chunk_elements=elements
        )
        for name in ("width", "depth", "params", "tokens", "loss"):
            np.testing.assert_array_equal(getattr(blocks, name), getattr(whole, name))


def test_bruteforce_frontier_does_not_depend_on_the_block_size() -> None:
    grid = paper_shape_grid(width_stride=64, depths_per_width=40)
    tokens = paper_token_grid()[::10]
    edges = paper_flop_edges()
    whole = bruteforce_frontier(
        THETA, VARIABLES, _flops, _params, grid=grid, tokens=tokens, edges=edges
    )
    for elements in (1000, 17):  # blocks over tokens as well as shapes
        blocks = bruteforce_frontier(
            THETA,
            VARIABLES,
            _flops,
            _params,
            grid=grid,
            tokens=tokens,
            edges=edges,
            chunk_elements=elements,
        )
        for name in ("width", "depth", "tokens", "cost", "loss"):
            np.testing.assert_array_equal(getattr(blocks, name), getattr(whole, name))
