"""Approach 1: the published hot_477 prescription lines, hulls, buckets, line statistics."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy import stats

from fitting.approach1 import bucket_minimisers, fit_approach1, fit_line, lower_convex_hull
from fitting.errors import FitInputError
from registry.embedded import embedded_path
from registry.suites.gemstones.architecture import flops_per_token


def _published(label: str) -> dict:
    path = embedded_path(
        "upstream", "gemstones", "parameters", f"approach1_{label}_vs_flops_hot477.json"
    )
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def hot_477() -> pl.DataFrame:
    return pl.read_ndjson(
        embedded_path("upstream", "gemstones", "wandb_dfs", "wandb_df_for_fitting_hot_477.jsonl")
    )


def test_hot_477_reproduces_published_slopes_and_intercepts(hot_477):
    tokens = hot_477["tokens"].to_numpy().astype(float)
    flops = flops_per_token(hot_477["width"].to_numpy(), hot_477["depth"].to_numpy()) * tokens
    fit = fit_approach1(
        flops, hot_477["final_loss"].to_numpy(), hot_477["params_active_precise"].to_numpy(), tokens
    )
    params, tokens_line = _published("params"), _published("tokens")
    assert fit.params.slope == pytest.approx(params["coef"][0], abs=1e-3)
    assert fit.tokens.slope == pytest.approx(tokens_line["coef"][0], abs=1e-3)
    # natural logs and the paper's FLOPs accounting reproduce the lines to rounding
    assert fit.params.slope == pytest.approx(0.499380216082636, abs=1e-9)
    assert fit.params.intercept == pytest.approx(params["intercept"], abs=1e-9)
    assert fit.tokens.intercept == pytest.approx(tokens_line["intercept"], abs=1e-9)
    assert fit.efficient.size == 21
    assert fit.tokens_per_param.slope == pytest.approx(
        fit.tokens.slope - fit.params.slope, abs=1e-12
    )
    lo, hi = fit.params.slope_ci
    assert lo < fit.params.slope < hi


def test_6nd_flops_do_not_reproduce_the_paper(hot_477):
    tokens = hot_477["tokens"].to_numpy().astype(float)
    params = hot_477["params_active_precise"].to_numpy().astype(float)
    fit = fit_approach1(6 * params * tokens, hot_477["final_loss"].to_numpy(), params, tokens)
    assert abs(fit.params.slope - 0.499380216082636) > 0.01


def test_lower_convex_hull_small_example():
    x = np.array([0.0, 1.0, 2.0, 3.0, 1.5, 2.0])
    y = np.array([3.0, 1.0, 0.5, 0.4, 2.0, 0.9])
    hull = lower_convex_hull(x, y)
    assert hull.tolist() == [0, 1, 2, 3]
    # a point above a chord is dropped
    assert lower_convex_hull(np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 0.0])).tolist() == [
        0,
        2,
    ]


def test_bucket_minimisers_pick_the_lowest_loss_per_bucket():
    resource = np.array([1.0, 1.5, 10.0, 12.0, 100.0])
    loss = np.array([3.0, 2.5, 2.0, 2.2, 1.0])
    chosen = bucket_minimisers(resource, loss, n_buckets=2)
    assert chosen.tolist() == [1, 4]


def test_fit_line_matches_scipy_linregress():
    rng = np.random.default_rng(0)
    x = np.linspace(40, 50, 15)
    y = 0.5 * x - 3 + rng.normal(0, 0.05, x.size)
    line = fit_line(x, y, "params")
    ref = stats.linregress(x, y)
    assert line.slope == pytest.approx(ref.slope, rel=1e-12)
    assert line.intercept == pytest.approx(ref.intercept, rel=1e-12)
    assert line.slope_stderr == pytest.approx(ref.stderr, rel=1e-10)
    assert line.intercept_stderr == pytest.approx(ref.intercept_stderr, rel=1e-10)
    assert line.predict(np.exp(45.0)) == pytest.approx(np.exp(line.slope * 45.0 + line.intercept))


def test_bad_inputs_raise_fit_input_errors():
    with pytest.raises(FitInputError, match="resource must be positive"):
        fit_approach1([1.0, -1.0], [2.0, 2.0], [1.0, 1.0], [1.0, 1.0])
    with pytest.raises(FitInputError, match="no data points"):
        fit_approach1([], [], [], [])
    with pytest.raises(FitInputError, match="unknown approach-1 method"):
        fit_approach1([1.0, 2.0], [2.0, 1.0], [1.0, 1.0], [1.0, 2.0], method="median")
