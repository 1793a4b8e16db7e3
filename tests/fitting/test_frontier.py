"""The exact fast frontier agrees with brute-force grid evaluation; the paper's grid is reproduced."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fitting import frontier
from fitting.errors import FitInputError
from fitting.frontier import (
    PAPER_GRID_SHAPES,
    ShapeGrid,
    bruteforce_frontier,
    compute_frontier,
    exact_geometric_floor,
    optima_at_budgets,
    paper_flop_edges,
    paper_shape_grid,
    paper_token_grid,
)
from fitting.laws import log_prediction
from registry.embedded import embedded_path
from registry.suites.gemstones.architecture import flops_per_token, parameter_count

WDPT = ("width", "depth", "params", "tokens")


def _published(name: str) -> np.ndarray:
    raw = json.loads(embedded_path("upstream", "gemstones", "parameters", name).read_text())
    return np.array(
        raw["coefficients"]["0"] + raw["exponents"]["0"] + [raw["irreducible_error"]["0"]]
    )


@pytest.fixture(scope="module")
def wdpt_theta() -> np.ndarray:
    return _published("approach3_width_depth_params_tokens_hot_delta1e-4.json")


@pytest.fixture(scope="module")
def pt_theta() -> np.ndarray:
    return _published("approach3_params_tokens_hot_delta1e-4.json")


@pytest.fixture(scope="module")
def reduced_grid() -> ShapeGrid:
    return paper_shape_grid(width_stride=8, depths_per_width=120)


def test_paper_grid_matches_the_papers_construction():
    grid = paper_shape_grid()
    widths = np.unique(grid.width)
    assert widths.size == 1025
    assert widths[0] == 256 and widths[-1] == 2**17
    # 637,594 on every machine: each value is the exact floor of the real number the paper's
    # int(logspace(...)) denotes, so nothing depends on how the host's pow rounds (the paper's
    # float truncation gave 637,724 to 637,733 depending on the host).
    assert len(grid) == PAPER_GRID_SHAPES == 637_594
    # per width, the depths run from max(1, w // 2048) to 16 w inclusive (both exact integers)
    for width in widths[::64]:
        depths = grid.depth[grid.width == width]
        assert depths.min() == max(1, width // 2048) and depths.max() == 16 * width
        assert 456 <= depths.size <= 798 and np.all(np.diff(depths) > 0)
    tokens = paper_token_grid()
    assert tokens.size == 500 and np.all(np.diff(tokens) > 0)
    assert tokens[0] == 1e9 and tokens[-1] == math.isqrt(10**27)  # floor(10^13.5)
    assert paper_token_grid(8.5)[0] == math.isqrt(10**17)  # floor(10^8.5)
    edges = paper_flop_edges()
    assert edges.size == 14 and edges[0] == 1e18 and edges[-1] == pytest.approx(1e26)


def _reference_floor(low: int, high: int, count: int, root: int, k: int) -> int:
    """Largest n with n^(m*root) <= low^(m-k) high^k (m = count - 1), by integer bisection."""
    m = count - 1
    power, exponent = low ** (m - k) * high**k, m * root
    lo, hi = 0, 1
    while hi**exponent <= power:
        hi *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if mid**exponent <= power else (lo, mid)
    return lo


@pytest.mark.parametrize(
    ("low", "high", "count", "root", "every"),
    [
        (1, 16, 5, 1, 1),  # 1, 2, 4, 8, 16: every value an exact integer
        (2, 2**12 * 16, 800, 1, 7),  # a depth row of the paper's grid
        (64, 2**21, 800, 1, 7),  # the widest depth row
        (2**8, 2**17, 1025, 1, 16),  # the widths
        (10**18, 10**27, 500, 2, 25),  # the tokens, 10^9 .. 10^13.5
    ],
)
def test_exact_geometric_floor_equals_integer_arithmetic(low, high, count, root, every):
    floors = exact_geometric_floor(low, high, count, root)
    picks = sorted({0, count - 1, *range(0, count, every)})
    expected = [_reference_floor(low, high, count, root, k) for k in picks]
    assert floors[picks].tolist() == expected


def _perturbed(estimate_fn, ulps: int | None, seed: int = 0):
    """``estimate_fn`` with its float results moved by ``ulps`` units (None: random, 1e-11 rel.)."""

    def moved(*args):
        values = estimate_fn(*args)
        if ulps is None:
            rng = np.random.default_rng(seed)
            return values * (1.0 + rng.uniform(-1e-11, 1e-11, values.shape))
        direction = np.inf if ulps > 0 else -np.inf
        for _ in range(abs(ulps)):
            values = np.nextafter(values, direction)
        return values

    return moved


def test_grids_do_not_depend_on_how_the_host_rounds(monkeypatch):
    """Float estimates off by a few ulps (another libm, SIMD pow) give exactly the same grids."""
    shapes, tokens, wide = paper_shape_grid(), paper_token_grid(), paper_token_grid(8.5)
    original = frontier._estimate_geometric
    for ulps in (1, -1, 4, -4, None):
        monkeypatch.setattr(frontier, "_estimate_geometric", _perturbed(original, ulps))
        moved = paper_shape_grid()
        np.testing.assert_array_equal(moved.width, shapes.width)
        np.testing.assert_array_equal(moved.depth, shapes.depth)
        np.testing.assert_array_equal(paper_token_grid(), tokens)
        np.testing.assert_array_equal(paper_token_grid(8.5), wide)
    # Control: plain truncation of the floats (no exact tiers) is not robust to the same moves.
    monkeypatch.setattr(frontier, "_ESTIMATE_RTOL", 0.0)
    monkeypatch.setattr(frontier, "_estimate_geometric", _perturbed(original, -1))
    assert len(paper_shape_grid()) != PAPER_GRID_SHAPES


def test_bad_token_grid_ends_are_rejected():
    with pytest.raises(FitInputError, match="at most 3 decimals"):
        paper_token_grid(math.pi)
    with pytest.raises(FitInputError, match=r"below 13\.5"):
        paper_token_grid(14.0)
    with pytest.raises(FitInputError, match="low <= high"):
        exact_geometric_floor(8, 2, 5)


def _assert_frontiers_agree(fast, brute, theta, variables) -> None:
    """The fast frontier's choice is a valid candidate of brute force's least loss, per bucket.

    Losses are compared to 1e-12, not configurations bit for bit: where two candidates tie to
    rounding, which one wins can depend on how the host rounds exp/log, and either is right.
    """
    assert len(fast) == len(brute)
    np.testing.assert_array_equal(fast.bucket_low, brute.bucket_low)
    np.testing.assert_allclose(fast.loss, brute.loss, rtol=1e-12)
    columns = {"width": fast.width, "depth": fast.depth, "params": fast.params}
    columns["tokens"] = fast.tokens
    x = np.column_stack([columns[name] for name in variables])
    np.testing.assert_allclose(np.exp(log_prediction(theta, np.log(x))), brute.loss, rtol=1e-12)
    first = np.arange(len(fast)) == 0
    assert np.all(fast.cost <= fast.bucket_high)
    assert np.all((fast.cost > fast.bucket_low) | (first & (fast.cost == fast.bucket_low)))


@pytest.mark.parametrize("variables_name", ["wdpt", "pt", "wdt"])
def test_frontier_equals_bruteforce_on_reduced_grid(
    variables_name, wdpt_theta, pt_theta, reduced_grid
):
    if variables_name == "wdpt":
        theta, variables = wdpt_theta, WDPT
    elif variables_name == "pt":
        theta, variables = pt_theta, ("params", "tokens")
    else:  # a width-depth-tokens law made from the 4-variable one (drop the params term)
        theta = np.delete(wdpt_theta, [2, 6])
        variables = ("width", "depth", "tokens")
    tokens = paper_token_grid()[::4]
    fast = compute_frontier(
        theta, variables, flops_per_token, parameter_count, grid=reduced_grid, tokens=tokens
    )
    brute = bruteforce_frontier(
        theta,
        variables,
        flops_per_token,
        parameter_count,
        grid=reduced_grid,
        tokens=tokens,
        edges=paper_flop_edges(),
    )
    assert len(fast) == len(brute) == 13
    _assert_frontiers_agree(fast, brute, theta, variables)
    assert fast.evaluated < brute.evaluated / 10


@pytest.mark.parametrize("variables_name", ["wdpt", "pt"])
def test_frontier_equals_bruteforce_on_a_sample_of_the_full_grid(
    variables_name, wdpt_theta, pt_theta
):
    """3,000 random shapes of the full 637,594-shape grid, with all 500 token counts."""
    theta, variables = (
        (wdpt_theta, WDPT) if variables_name == "wdpt" else (pt_theta, ("params", "tokens"))
    )
    full = paper_shape_grid()
    pick = np.sort(np.random.default_rng(7).choice(len(full), size=3000, replace=False))
    sample = ShapeGrid(full.width[pick], full.depth[pick])
    options = {"grid": sample, "tokens": paper_token_grid()}
    fast = compute_frontier(theta, variables, flops_per_token, parameter_count, **options)
    brute = bruteforce_frontier(
        theta, variables, flops_per_token, parameter_count, edges=paper_flop_edges(), **options
    )
    assert len(fast) == len(brute) >= 10
    _assert_frontiers_agree(fast, brute, theta, variables)


def test_frontier_handles_a_negative_token_exponent(wdpt_theta, reduced_grid):
    theta = wdpt_theta.copy()
    theta[7] = -0.05  # loss grows with tokens: the best token count is the bucket's smallest
    tokens = paper_token_grid()[::4]
    fast = compute_frontier(
        theta, WDPT, flops_per_token, parameter_count, grid=reduced_grid, tokens=tokens
    )
    brute = bruteforce_frontier(
        theta,
        WDPT,
        flops_per_token,
        parameter_count,
        grid=reduced_grid,
        tokens=tokens,
        edges=paper_flop_edges(),
    )
    _assert_frontiers_agree(fast, brute, theta, WDPT)


def test_bucket_edges_are_right_closed_with_the_lowest_edge_included():
    grid = ShapeGrid(np.array([1.0]), np.array([1.0]))
    tokens = np.array([1.0, 2.0, 4.0, 8.0])
    edges = np.array([1.0, 2.0, 4.0, 8.0])

    def cost(w, d):
        return np.ones_like(w)

    def params(w, d):
        return np.full_like(w, 10.0)

    theta = np.array([0.0, 0.0, 0.5, 0.5, -1.0])  # params, tokens
    fast = compute_frontier(
        theta, ("params", "tokens"), cost, params, grid=grid, tokens=tokens, edges=edges
    )
    brute = bruteforce_frontier(
        theta, ("params", "tokens"), cost, params, grid=grid, tokens=tokens, edges=edges
    )
    # [1, 2] holds tokens 1 and 2 -> 2; (2, 4] holds 4; (4, 8] holds 8.
    np.testing.assert_array_equal(fast.tokens, [2.0, 4.0, 8.0])
    np.testing.assert_array_equal(brute.tokens, fast.tokens)


def test_optima_at_budgets_spend_the_budget_and_match_a_loop(wdpt_theta, reduced_grid):
    budgets = np.array([1e19, 1e21, 1e23])
    optima = optima_at_budgets(
        wdpt_theta, WDPT, budgets, flops_per_token, parameter_count, grid=reduced_grid
    )
    spent = optima.tokens[0] * flops_per_token(optima.width[0], optima.depth[0])
    np.testing.assert_allclose(spent, budgets, rtol=1e-12)
    # Brute force for one budget: evaluate every shape directly.
    rate = flops_per_token(reduced_grid.width, reduced_grid.depth)
    x = np.column_stack(
        [
            reduced_grid.width,
            reduced_grid.depth,
            parameter_count(reduced_grid.width, reduced_grid.depth),
            1e21 / rate,
        ]
    )
    every_loss = np.exp(log_prediction(wdpt_theta, np.log(x)))
    chosen = (reduced_grid.width == optima.width[0, 1]) & (reduced_grid.depth == optima.depth[0, 1])
    assert np.sum(chosen) == 1  # a grid shape, whose loss is the least (to rounding)
    assert every_loss[chosen][0] == pytest.approx(every_loss.min(), rel=1e-12)
    assert optima.loss[0, 1] == pytest.approx(every_loss.min(), rel=1e-12)
    # Batched over parameter vectors equals one at a time.
    thetas = np.stack([wdpt_theta, wdpt_theta + 0.01, wdpt_theta - 0.01])
    batched = optima_at_budgets(
        thetas, WDPT, budgets, flops_per_token, parameter_count, grid=reduced_grid, chunk=2
    )
    for i, theta in enumerate(thetas):
        single = optima_at_budgets(
            theta, WDPT, budgets, flops_per_token, parameter_count, grid=reduced_grid
        )
        np.testing.assert_allclose(batched.loss[i], single.loss[0], rtol=1e-12)


def test_frontier_prescription_grows_with_budget(wdpt_theta):
    frontier = compute_frontier(
        wdpt_theta, WDPT, flops_per_token, parameter_count, grid=paper_shape_grid(width_stride=4)
    )
    assert np.all(np.diff(frontier.params) > 0)
    assert np.all(np.diff(frontier.loss) < 0)
    # The paper's hot law puts ~20 tokens/param near 1e20 FLOPs and far fewer at 1e25.
    assert 10 < frontier.tokens_per_param[2] < 40
    assert frontier.tokens_per_param[-1] < 0.5


def test_bad_laws_are_rejected(wdpt_theta):
    with pytest.raises(FitInputError, match="may only use"):
        compute_frontier(np.zeros(5), ("params", "flops"), flops_per_token, parameter_count)
    with pytest.raises(FitInputError, match="needs 9"):
        compute_frontier(wdpt_theta[:7], WDPT, flops_per_token, parameter_count)
    with pytest.raises(FitInputError, match="budgets"):
        optima_at_budgets(wdpt_theta, WDPT, [-1.0], flops_per_token, parameter_count)
