"""Bootstrap resampling, warm-started refits and percentile intervals on the paper's hot set."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from fitting.bootstrap import (
    Interval,
    bootstrap_approach3,
    params_tokens_intervals,
    percentile_interval,
    resample_counts,
    width_depth_intervals,
)
from fitting.errors import FitInputError
from fitting.laws import objective
from registry.embedded import embedded_path

PARAMETERS = embedded_path("upstream", "gemstones", "parameters")


def _published(name: str) -> np.ndarray:
    raw = json.loads((PARAMETERS / name).read_text())
    return np.array(
        raw["coefficients"]["0"] + raw["exponents"]["0"] + [raw["irreducible_error"]["0"]]
    )


@pytest.fixture(scope="module")
def hot() -> pl.DataFrame:
    return pl.read_ndjson(
        embedded_path("upstream", "gemstones", "wandb_dfs", "wandb_df_for_fitting_hot.jsonl")
    )


@pytest.fixture(scope="module")
def hot_arrays(hot):
    x = hot.select("params_active_precise", "tokens").to_numpy().astype(np.float64)
    return np.log(x), np.log(hot["final_loss"].to_numpy()), hot["run_name"].to_numpy()


@pytest.fixture(scope="module")
def by_mode(hot_arrays):
    log_x, log_loss, groups = hot_arrays
    theta = _published("approach3_params_tokens_hot_delta1e-4.json")
    return {
        by: bootstrap_approach3(
            log_x,
            log_loss,
            theta,
            variables=("params", "tokens"),
            groups=groups,
            n_resamples=200,
            by=by,
            seed=0,
            chunk=200,
        )
        for by in ("runs", "points")
    }


def test_resample_counts_by_runs_keep_runs_whole(hot):
    groups = hot["run_name"].to_numpy()
    counts = resample_counts(groups, 50, by="runs", seed=3)
    assert counts.shape == (50, groups.size)
    for label in np.unique(groups):
        block = counts[:, groups == label]
        assert np.all(block == block[:, :1])  # every point of a run has its run's count
    # 22 runs of 10 checkpoints each: 22 draws of 10 points.
    assert {int(np.sum(groups == label)) for label in np.unique(groups)} == {10}
    np.testing.assert_array_equal(counts.sum(axis=1), np.full(50, 220.0))
    np.testing.assert_array_equal(counts, resample_counts(groups, 50, by="runs", seed=3))
    assert not np.array_equal(counts, resample_counts(groups, 50, by="runs", seed=4))


def test_resample_counts_by_points_sum_to_n():
    counts = resample_counts(np.repeat(["a", "b"], 5), 20, by="points", seed=0)
    np.testing.assert_array_equal(counts.sum(axis=1), np.full(20, 10.0))
    assert counts.max() > 1  # with replacement


def test_resampling_rejects_bad_input():
    with pytest.raises(FitInputError, match="valid: runs, points"):
        resample_counts(["a", "b"], 5, by="shapes")  # type: ignore[arg-type]
    with pytest.raises(FitInputError, match="at least 2 runs"):
        resample_counts(["a", "a"], 5, by="runs")
    with pytest.raises(FitInputError, match="level"):
        percentile_interval([1.0, 2.0], 1.5, name="x", level=1.5)


def test_refits_improve_each_resample_objective(by_mode, hot_arrays):
    log_x, log_loss, groups = hot_arrays
    result = by_mode["runs"]
    counts = resample_counts(groups, 200, by="runs", seed=0)
    for i in range(0, 200, 40):
        start_value = objective(result.theta_hat, log_x, log_loss, 1e-4, counts[i])
        assert result.objective[i] <= start_value + 1e-12
    assert result.usable.all()
    assert result.converged.mean() > 0.9


def test_intervals_contain_the_point_estimate(by_mode):
    for result in by_mode.values():
        intervals = result.parameter_intervals() + params_tokens_intervals(result, [1e20, 1e22])
        assert len(intervals) == 6 + 3 + 6
        for interval in intervals:
            assert isinstance(interval, Interval)
            assert interval.contains(interval.estimate), interval


def test_intervals_are_wider_by_runs_than_by_points(by_mode):
    runs = {
        (iv.name, iv.budget): iv
        for iv in by_mode["runs"].parameter_intervals()
        + params_tokens_intervals(by_mode["runs"], [1e20, 1e22])
    }
    points = {
        (iv.name, iv.budget): iv
        for iv in by_mode["points"].parameter_intervals()
        + params_tokens_intervals(by_mode["points"], [1e20, 1e22])
    }
    for key in [
        ("alpha_params", None),
        ("a_params", None),
        ("e", None),
        ("E", None),
        ("N_opt", 1e20),
        ("N_opt", 1e22),
        ("D_opt", 1e20),
        ("D_opt", 1e22),
        ("tokens_per_param", 1e20),
        ("tokens_per_param", 1e22),
    ]:
        assert runs[key].width > points[key].width, key


def test_width_depth_intervals_on_a_few_resamples():
    from fitting.frontier import paper_shape_grid
    from registry.suites.gemstones.architecture import flops_per_token, parameter_count

    df = pl.read_ndjson(
        embedded_path("upstream", "gemstones", "wandb_dfs", "wandb_df_for_fitting_hot.jsonl")
    )
    variables = ("width", "depth", "params", "tokens")
    x = df.select("width", "depth", "params_active_precise", "tokens").to_numpy().astype(float)
    theta = _published("approach3_width_depth_params_tokens_hot_delta1e-4.json")
    result = bootstrap_approach3(
        np.log(x),
        np.log(df["final_loss"].to_numpy()),
        theta,
        variables=variables,
        groups=df["run_name"].to_numpy(),
        n_resamples=16,
        seed=1,
        chunk=16,
        max_steps=200,
    )
    grid = paper_shape_grid(width_stride=16, depths_per_width=100)
    intervals = width_depth_intervals(result, [1e21], flops_per_token, parameter_count, grid=grid)
    names = [iv.name for iv in intervals]
    assert names == ["width", "depth", "width_depth_ratio", "params", "tokens", "tokens_per_param"]
    width = intervals[0]
    assert 500 < width.estimate < 10_000 and width.lower <= width.upper
