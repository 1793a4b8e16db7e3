"""Closed-form params–tokens prescriptions agree with brute force; approach-1 lines and CIs."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from fitting.errors import FitInputError
from fitting.prescriptions import (
    FLOPS_PER_PARAM_TOKEN,
    approach1_prescription,
    closed_form_allocation,
    fit_power_line,
    params_tokens_grid_optimum,
)
from registry.embedded import embedded_path
from registry.suites.gemstones.architecture import flops_per_token

BUDGETS = np.geomspace(1e18, 1e26, 17)


@pytest.fixture(scope="module")
def theta() -> np.ndarray:
    path = embedded_path(
        "upstream", "gemstones", "parameters", "approach3_params_tokens_hot_delta1e-4.json"
    )
    raw = json.loads(path.read_text())
    return np.array(
        raw["coefficients"]["0"] + raw["exponents"]["0"] + [raw["irreducible_error"]["0"]]
    )


def test_closed_form_matches_the_formulas(theta):
    alloc = closed_form_allocation(theta)
    alpha, beta = 0.2989180518, 0.6928331414
    assert float(alloc.a) == pytest.approx(beta / (alpha + beta), rel=1e-12)
    assert float(alloc.a + alloc.b) == pytest.approx(1.0)
    big_a, big_b = np.exp(5.4574988414), np.exp(14.9719740349)
    assert float(alloc.G) == pytest.approx((alpha * big_a / (beta * big_b)) ** (1 / (alpha + beta)))
    n, d = alloc.optimal_params(BUDGETS), alloc.optimal_tokens(BUDGETS)
    np.testing.assert_allclose(FLOPS_PER_PARAM_TOKEN * n * d, BUDGETS, rtol=1e-12)


def test_closed_form_agrees_with_bruteforce_within_grid_resolution(theta):
    alloc = closed_form_allocation(theta)
    grid = params_tokens_grid_optimum(theta, BUDGETS, points=24_001)
    error = np.abs(np.log(grid.params) - np.log(alloc.optimal_params(BUDGETS)))
    assert np.all(error <= grid.log_step / 2 + 1e-9), (error.max(), grid.log_step)
    error_d = np.abs(np.log(grid.tokens) - np.log(alloc.optimal_tokens(BUDGETS)))
    assert np.all(error_d <= grid.log_step / 2 + 1e-9)


def test_closed_form_respects_variable_order_and_batches(theta):
    swapped = theta[[1, 0, 3, 2, 4]]
    a = closed_form_allocation(theta)
    b = closed_form_allocation(swapped, ("tokens", "params"))
    assert float(a.G) == pytest.approx(float(b.G))
    many = closed_form_allocation(np.stack([theta, theta]))
    assert many.optimal_params(BUDGETS).shape == (2, BUDGETS.size)


def test_closed_form_rejects_other_laws(theta):
    with pytest.raises(FitInputError, match="params–tokens"):
        closed_form_allocation(np.zeros(7), ("width", "depth", "tokens"))
    bad = theta.copy()
    bad[2] = -0.1
    with pytest.raises(FitInputError, match="positive exponents"):
        closed_form_allocation(bad)


def test_power_line_recovers_a_known_line_with_honest_ci():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e18, 1e22, 40)
    y = np.exp(-2.0 + 0.5 * np.log(x) + rng.normal(0, 0.05, x.size))
    line = fit_power_line(x, y)
    assert line.slope == pytest.approx(0.5, abs=3 * line.slope_se)
    est, lo, hi = line.predict([1e20])
    truth = np.exp(-2.0 + 0.5 * np.log(1e20))
    assert lo[0] < truth < hi[0] and lo[0] < est[0] < hi[0]


def test_approach1_prescription_reproduces_the_published_hot477_slopes():
    from fitting.approach1 import lower_convex_hull

    path = embedded_path("upstream", "gemstones", "wandb_dfs", "wandb_df_for_fitting_hot_477.jsonl")
    df = pl.read_ndjson(path).filter(pl.col("step") > 0)
    flops = (
        flops_per_token(df["width"].to_numpy(), df["depth"].to_numpy()) * df["tokens"].to_numpy()
    )
    hull = lower_convex_hull(np.log(flops), np.log(df["final_loss"].to_numpy()))
    result = approach1_prescription(
        flops[hull],
        df["params_active_precise"].to_numpy()[hull],
        df["tokens"].to_numpy()[hull],
        [1e20, 1e22],
    )
    assert result.params_line.slope == pytest.approx(0.499380216082636, abs=1e-3)
    assert result.tokens_line.slope == pytest.approx(0.4809888232129201, abs=1e-3)
    est, lo, hi = result.params
    assert np.all(lo < est) and np.all(est < hi)
    np.testing.assert_allclose(
        result.tokens_per_param[0], result.tokens[0] / result.params[0], rtol=1e-9
    )
