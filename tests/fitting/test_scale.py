"""The fitter's machinery for large data: size buckets, chunked sums, queued slots, subsample refine."""

from __future__ import annotations

import numpy as np
import pytest

from fitting.approach3 import (
    _points_per_chunk,
    fit_approach3,
    padded_point_count,
    solve_from_starts,
)
from fitting.laws import chunked_objective, log_prediction, objective


def _synthetic(n: int, seed: int = 0, sigma: float = 0.01):
    rng = np.random.default_rng(seed)
    x = np.column_stack([10 ** rng.uniform(7, 10, n), 10 ** rng.uniform(9, 12, n)])
    theta = np.array([5.5, 8.5, 0.3, 0.4, 0.5])
    log_loss = log_prediction(theta, np.log(x)) + sigma * rng.standard_normal(n)
    return x, np.exp(log_loss), theta


def test_padded_sizes_are_buckets_with_bounded_padding() -> None:
    chunk = 4096
    sizes = np.unique(np.geomspace(1, 3e6, 400).astype(int))
    padded = np.array([padded_point_count(int(n), chunk) for n in sizes])
    assert np.all(padded >= sizes)
    small = sizes > 16
    assert np.all(padded[small] <= np.ceil(sizes[small] * 1.125))  # at most 12.5% padding
    # beyond one chunk, the bucket splits into at most 16 equal power-of-two chunks below the limit
    big = padded[padded > chunk]
    assert np.all(np.minimum(chunk, big & -big) * 16 >= np.minimum(big, 16 * chunk))
    # many sizes share a bucket: a new data size rarely means a new compiled program
    assert np.unique(padded).size < sizes.size / 2
    assert padded_point_count(220, chunk) == padded_point_count(224, chunk) == 224
    assert _points_per_chunk(1) > _points_per_chunk(256) >= 256


def test_chunked_objective_equals_objective() -> None:
    x, loss, theta = _synthetic(5000)
    log_x, log_loss = np.log(x), np.log(loss)
    weights = np.random.default_rng(1).uniform(0, 2, size=loss.size)
    whole = objective(theta, log_x, log_loss, 1e-4, weights)
    assert chunked_objective(theta, log_x, log_loss, 1e-4, weights) == whole  # one chunk
    assert chunked_objective(theta, log_x, log_loss, 1e-4, weights, chunk=333) == pytest.approx(
        whole, rel=1e-12
    )


def test_chunked_accumulation_matches_one_chunk() -> None:
    """Many chunks (scan over points) and one chunk reach the same solution."""
    x, loss, _ = _synthetic(3000)
    log_x, log_loss = np.log(x), np.log(loss)
    starts = np.array([[5.0, 8.0, 0.25, 0.35, 0.4], [6.0, 9.0, 0.35, 0.45, 0.6]])
    one = solve_from_starts(starts, log_x, log_loss)
    # 2**17 / 4096 slots = 32 points per chunk floor -> 256: many chunks for 3000 points
    many = solve_from_starts(starts, log_x, log_loss, slots=4096)
    assert _points_per_chunk(4096) < log_loss.size
    np.testing.assert_allclose(many.objective, one.objective, rtol=1e-9)
    np.testing.assert_allclose(many.theta, one.theta, atol=1e-5)


def test_queued_slots_give_each_start_the_same_solution() -> None:
    x, loss, theta = _synthetic(200)
    log_x, log_loss = np.log(x), np.log(loss)
    rng = np.random.default_rng(2)
    starts = theta + rng.normal(scale=0.3, size=(40, theta.size))
    weights = rng.integers(0, 3, size=(40, log_loss.size)).astype(np.float64)
    together = solve_from_starts(starts, log_x, log_loss, weights=weights, max_steps=300)
    queued = solve_from_starts(
        starts, log_x, log_loss, weights=weights, max_steps=300, slots=8, round_steps=7
    )
    np.testing.assert_allclose(queued.objective, together.objective, rtol=1e-12)
    # the same per-start arithmetic, up to rounding (batches of other shapes vectorise differently)
    np.testing.assert_allclose(queued.theta, together.theta, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(queued.converged, together.converged)
    assert np.mean(queued.steps == together.steps) > 0.9
    seen = []
    solve_from_starts(
        starts[:10], log_x, log_loss, slots=4, round_steps=5, progress=lambda d, t: seen.append(d)
    )
    assert seen == sorted(seen) and seen[-1] == 10


@pytest.mark.slow
def test_large_data_path_refines_on_a_subsample_then_polishes_few() -> None:
    """Above max_refine_points the fit converges on a subsample first; it still recovers the law."""
    x, loss, theta = _synthetic(3000, seed=3)
    small = fit_approach3(x, loss, variables=["params", "tokens"], max_refine_points=512, n_final=2)
    full = fit_approach3(x, loss, variables=["params", "tokens"])
    assert small.objective <= full.objective * (1 + 1e-9)
    np.testing.assert_allclose(small.exponents, theta[2:4], atol=0.02)
    assert small.n_converged >= 1 and "not_converged" not in small.flags
