"""The one bootstrap engine, the one percentile interval and the one log-log line fit."""

from __future__ import annotations

import numpy as np
import pytest

from fitting.bootstrap import (
    ByPoints,
    ByRuns,
    Parametric,
    check_bootstrap_options,
    resample_counts,
    resampler_for,
    run_bootstrap,
)
from fitting.errors import FitInputError
from fitting.stats import fit_log_linear, percentile_bounds, percentile_table


@pytest.mark.parametrize("n_runs", [2, 3, 7, 22])
def test_batched_weights_are_the_one_by_one_draws(n_runs):
    """Approach-3 refits take all weights at once; the loops draw one resample at a time. Same
    seed, same resamples: that is what lets every bootstrap share one engine."""
    labels = np.repeat([f"run{i}" for i in range(n_runs)], 3)
    for resampler in (ByRuns(labels), ByPoints(labels.size)):
        batched = resampler.weight_matrix(40, np.random.default_rng(5))
        rng = np.random.default_rng(5)
        one_by_one = np.stack([resampler.draw(rng).weights for _ in range(40)])
        np.testing.assert_array_equal(batched, one_by_one)
    by = "runs"
    np.testing.assert_array_equal(
        resample_counts(labels, 40, by=by, seed=5),
        ByRuns(labels).weight_matrix(40, np.random.default_rng(5)),
    )


def test_by_runs_keeps_runs_whole_and_counts_runs():
    labels = np.array(["b", "a", "b", "c", "a"])
    sample = ByRuns(labels).draw(np.random.default_rng(0))
    assert sample.run_counts is not None and sample.run_counts.sum() == 3
    # weights are the run counts of each point's run (labels sorted: a, b, c)
    np.testing.assert_array_equal(sample.weights, sample.run_counts[[1, 0, 1, 2, 0]])


def test_resampler_for_says_how_it_resamples():
    assert resampler_for(None, 40).description == "by points (40 points)"
    assert resampler_for(["a", "b", "a"], 3).description == "by runs (2 runs)"
    assert resampler_for(["a", "b", "a"], 3, "points").name == "points"
    with pytest.raises(FitInputError, match="needs run labels"):
        resampler_for(None, 3, "runs")
    with pytest.raises(FitInputError, match="3 labels for 4 points"):
        resampler_for(["a", "b", "a"], 4)


def test_run_bootstrap_is_seeded_and_counts_failures():
    data = np.arange(10.0)

    def mean_unless_small(sample):
        value = float(data[sample.picks].mean())
        if value < 3.5:
            raise FitInputError("too small")
        return value

    first = run_bootstrap(mean_unless_small, ByPoints(10), n_resamples=300, seed=9)
    again = run_bootstrap(mean_unless_small, ByPoints(10), n_resamples=300, seed=9)
    assert first.values == again.values
    assert first.n_failed > 0 and len(first.values) + first.n_failed == 300
    assert first.resampled_by == "points" and first.description == "by points (10 points)"


def test_parametric_resampler_feeds_simulated_responses():
    reps = run_bootstrap(
        lambda s: float(s.y.mean()),
        Parametric(lambda rng: rng.normal(5.0, 1.0, size=50), noise="N(5, 1)"),
        n_resamples=200,
        seed=1,
    )
    assert reps.description == "parametric (N(5, 1))"
    assert np.mean(reps.values) == pytest.approx(5.0, abs=0.05)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 0, 0.95), "n_resamples must be 1 to 100,000"),
        ((100_001, 0, 0.95), "n_resamples"),
        ((10, -1, 0.95), "seed must be 0 to 4,294,967,295"),
        ((10, 2**32, 0.95), "seed"),
        ((10, 0, 1.0), "level=1.0 must lie strictly between 0 and 1"),
    ],
)
def test_bootstrap_options_have_one_set_of_bounds(args, message):
    with pytest.raises(FitInputError, match=message):
        check_bootstrap_options(*args)


def test_percentile_bounds_drop_or_rank_non_finite_values():
    lo, hi = percentile_bounds([1.0, 2.0, 3.0, np.nan, np.inf], 0.5, axis=None)
    assert (float(lo), float(hi)) == pytest.approx((1.5, 2.5))
    table = percentile_table([(1.0, 1.0), (2.0, np.inf), (3.0, np.inf)], ("x", "k"), 0.5)
    assert table["x"] == pytest.approx((1.5, 2.5))
    assert table["k"][1] == np.inf  # an end that falls among the infinite draws is infinite
    assert percentile_table([], ("x",), 0.9) == {}
    with pytest.raises(FitInputError, match="no finite"):
        percentile_bounds([np.nan], 0.9, axis=None)


def test_log_linear_fit_recovers_a_power_law_with_t_intervals():
    rng = np.random.default_rng(3)
    x = np.geomspace(1e18, 1e22, 30)
    y = 0.02 * x**0.5 * np.exp(rng.normal(0, 0.01, x.size))
    line = fit_log_linear(np.log(x), np.log(y))
    assert line.slope == pytest.approx(0.5, abs=0.01)
    assert line.dof == 28 and line.n == 30
    lo, hi = line.t_interval(1, 0.95)
    assert lo < line.slope < hi and hi - lo < 0.02
    # a plane: log y on two log variables
    w, d = np.meshgrid(np.geomspace(256, 4096, 5), np.arange(2.0, 12.0))
    z = 3.0 * w.ravel() ** 0.4 * d.ravel() ** -0.1
    plane = fit_log_linear(np.column_stack([np.log(w.ravel()), np.log(d.ravel())]), np.log(z))
    assert plane.coefficients == pytest.approx([np.log(3.0), 0.4, -0.1], abs=1e-9)
    exact = fit_log_linear(np.log([1.0, 2.0]), np.log([3.0, 6.0]))
    assert exact.dof == 0 and np.isnan(exact.stderr).all()
    with pytest.raises(FitInputError, match="needs at least as many points"):
        fit_log_linear(np.log([1.0]), np.log([2.0]))
