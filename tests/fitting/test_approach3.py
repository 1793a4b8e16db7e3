"""Approach-3 fitter: known answers from the Gemstones paper, synthetic recovery, flags, errors."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from fitting.approach3 import (
    FLAG_AT_GRID_EDGE,
    FLAG_COEFFICIENT_OVERFLOW,
    FLAG_EXPONENT_NEAR_ZERO,
    FLAG_NO_DEGREES_OF_FREEDOM,
    FLAG_NOT_IDENTIFIED,
    FLAG_VANISHING_E,
    Approach3Fit,
    degeneracy_flags,
    fit_approach3,
    identifiability_flags,
    solve_from_starts,
)
from fitting.errors import FitInputError
from fitting.laws import law_form, log_prediction, objective, validate_inputs
from fitting.starts import PAPER_GRID, StartGrid, screen_grid
from registry.embedded import embedded_path

PARAMS_TOKENS = ["params_active_precise", "tokens"]
WDPT = ["width", "depth", "params_active_precise", "tokens"]


def _published(name: str) -> dict:
    text = embedded_path("upstream", "gemstones", "parameters", name).read_text()
    record = json.loads(text)
    return {key: value["0"] for key, value in record.items()}


@pytest.fixture(scope="module")
def hot() -> pl.DataFrame:
    return pl.read_ndjson(
        embedded_path("upstream", "gemstones", "wandb_dfs", "wandb_df_for_fitting_hot.jsonl")
    )


@pytest.fixture(scope="module")
def hot_params_tokens_fit(hot: pl.DataFrame) -> Approach3Fit:
    return fit_approach3(
        hot.select(PARAMS_TOKENS).to_numpy(),
        hot["final_loss"].to_numpy(),
        variables=["params", "tokens"],
        delta=1e-4,
    )


@pytest.mark.parametrize(
    ("file_name", "columns"),
    [
        ("approach3_params_tokens_hot_delta1e-4.json", PARAMS_TOKENS),
        ("approach3_width_depth_params_tokens_hot_delta1e-4.json", WDPT),
    ],
)
def test_published_parameters_give_published_objective(hot, file_name, columns):
    published = _published(file_name)
    theta = np.array(
        [*published["coefficients"], *published["exponents"], published["irreducible_error"]]
    )
    log_x, log_loss = validate_inputs(hot.select(columns).to_numpy(), hot["final_loss"], columns)
    value = objective(theta, log_x, log_loss, delta=1e-4)
    # the file rounds to 10 significant digits
    assert value == pytest.approx(published["loss"], rel=1e-6)


def test_params_tokens_reaches_paper_objective(hot_params_tokens_fit):
    fit = hot_params_tokens_fit
    assert fit.objective <= 0.0002076018 + 1e-12
    assert fit.n_starts == 4500
    assert fit.n_points == 220
    assert fit.n_converged >= 1
    assert fit.flags == ()
    # the fit lies in the paper's basin (a lower objective, exponents within a few hundredths)
    assert fit.exponents[0] == pytest.approx(0.2989, abs=0.02)
    assert fit.exponents[1] == pytest.approx(0.6928, abs=0.05)


def test_params_tokens_result_layouts_and_predict(hot, hot_params_tokens_fit):
    fit = hot_params_tokens_fit
    assert pytest.approx(tuple(np.exp(fit.coefficients))) == fit.A
    assert pytest.approx(np.exp(fit.irreducible_error)) == fit.E
    x = hot.select(PARAMS_TOKENS).to_numpy().astype(float)
    natural = fit.E + fit.A[0] * x[:, 0] ** -fit.alpha[0] + fit.A[1] * x[:, 1] ** -fit.alpha[1]
    np.testing.assert_allclose(fit.predict(x), natural, rtol=1e-12)
    assert float(fit.predict(x[0])) == pytest.approx(natural[0], rel=1e-12)
    with pytest.raises(AttributeError):
        fit.objective = 0.0  # frozen


def test_fit_is_deterministic_for_a_seed(hot, hot_params_tokens_fit):
    again = fit_approach3(
        hot.select(PARAMS_TOKENS).to_numpy(),
        hot["final_loss"].to_numpy(),
        variables=["params", "tokens"],
        delta=1e-4,
        seed=0,
    )
    np.testing.assert_array_equal(again.theta, hot_params_tokens_fit.theta)
    assert again.objective == hot_params_tokens_fit.objective


@pytest.mark.slow
def test_width_depth_params_tokens_reaches_paper_objective(hot):
    fit = fit_approach3(
        hot.select(WDPT).to_numpy(),
        hot["final_loss"].to_numpy(),
        variables=["width", "depth", "params", "tokens"],
        delta=1e-4,
    )
    assert fit.objective <= 0.000111878 + 1e-12
    assert fit.n_starts == 4_050_000
    assert len(fit.exponents) == 4


def test_synthetic_law_is_recovered():
    rng = np.random.default_rng(1)
    params = np.exp(rng.uniform(np.log(5e7), np.log(3e9), 120))
    tokens = np.exp(rng.uniform(np.log(1e10), np.log(3e11), 120))
    truth = {"E": 1.7, "A": (400.0, 2000.0), "alpha": (0.34, 0.28)}
    loss = (
        truth["E"]
        + truth["A"][0] * params ** -truth["alpha"][0]
        + truth["A"][1] * tokens ** -truth["alpha"][1]
    )
    fit = fit_approach3(np.column_stack([params, tokens]), loss, variables=["params", "tokens"])
    assert fit.objective < 1e-12
    np.testing.assert_allclose(fit.exponents, truth["alpha"], atol=1e-3)
    np.testing.assert_allclose(fit.A, truth["A"], rtol=1e-2)
    assert pytest.approx(truth["E"], rel=1e-4) == fit.E


def test_pure_power_law_flags_vanishing_irreducible_error():
    x = np.geomspace(1e6, 1e10, 40)
    loss = 50.0 * x**-0.3
    fit = fit_approach3(x[:, None], loss, variables=["params"])
    assert FLAG_VANISHING_E in fit.flags
    assert fit.exponents[0] == pytest.approx(0.3, abs=1e-3)


def test_degeneracy_flags_on_crafted_parameters():
    k = 2
    assert degeneracy_flags(np.array([5.0, 10.0, 0.3, 0.5, 0.5]), k, PAPER_GRID) == ()
    flags = degeneracy_flags(np.array([5.0, 10.0, 1e-5, 0.5, 0.5]), k, PAPER_GRID)
    assert FLAG_EXPONENT_NEAR_ZERO in flags
    flags = degeneracy_flags(np.array([5.0, 10.0, 0.3, 2.5, 0.5]), k, PAPER_GRID)
    assert flags == (FLAG_AT_GRID_EDGE,)
    # coefficients depend on units: one outside the grid's span is not a flag
    assert degeneracy_flags(np.array([-5.0, 30.0, 0.3, 0.5, 0.5]), k, PAPER_GRID) == ()
    flags = degeneracy_flags(np.array([5.0, 10.0, 0.3, 0.5, -20.0]), k, None)
    assert flags == (FLAG_VANISHING_E,)


def test_screening_prunes_exactly(hot):
    log_x, log_loss = validate_inputs(
        hot.select(PARAMS_TOKENS).to_numpy(), hot["final_loss"], PARAMS_TOKENS
    )
    pruned = screen_grid(PAPER_GRID, log_x, log_loss, keep=50)
    full = screen_grid(PAPER_GRID, log_x, log_loss, keep=50, prune_factor=np.inf)
    np.testing.assert_array_equal(pruned.starts, full.starts)
    np.testing.assert_allclose(pruned.objectives, full.objectives, rtol=1e-12)
    # the screened values are the objective at those starts
    for start, value in zip(full.starts[:5], full.objectives[:5], strict=True):
        assert objective(start, log_x, log_loss, 1e-4) == pytest.approx(value, rel=1e-10)
    # and nothing on the grid is better than the best kept
    every = PAPER_GRID.all_starts(2)
    brute = np.array([objective(t, log_x, log_loss, 1e-4) for t in every[::7]])
    assert brute.min() >= full.objectives[0] - 1e-15
    assert PAPER_GRID.size(2) == 4500 and PAPER_GRID.size(3) == 135_000


def test_solve_from_starts_with_per_start_weights(hot):
    log_x, log_loss = validate_inputs(
        hot.select(PARAMS_TOKENS).to_numpy(), hot["final_loss"], PARAMS_TOKENS
    )
    start = np.array([5.4, 15.0, 0.3, 0.7, 0.77])
    weights = np.ones((2, log_loss.size))
    weights[1, ::2] = 0.0  # start 1 fits only the odd points
    solution = solve_from_starts(np.stack([start, start]), log_x, log_loss, weights=weights)
    assert solution.theta.shape == (2, 5)
    assert solution.objective.shape == (2,) and solution.converged.dtype == bool
    assert solution.converged.all()
    odd = solve_from_starts(start[None], log_x[1::2], log_loss[1::2])
    np.testing.assert_allclose(solution.objective[1], odd.objective[0], rtol=1e-6)
    assert solution.objective[0] == pytest.approx(
        objective(solution.theta[0], log_x, log_loss, 1e-4), rel=1e-12
    )


def test_explicit_starts_and_custom_grid_and_law_forms():
    x = np.geomspace(1e3, 1e6, 30)
    loss = 2.0 + 30.0 * x**-0.5
    fit = fit_approach3(x, loss, variables=["n"], start_grid=np.array([[3.0, 0.4, 0.5]]))
    assert fit.n_starts == 1 and fit.exponents[0] == pytest.approx(0.5, abs=1e-4)
    small = StartGrid(coefficients=(0.0, 5.0), exponents=(0.5, 1.0), irreducible=(0.0, 1.0))
    fit = fit_approach3(x, loss, variables=["n"], start_grid=small)
    assert fit.n_starts == 8 and pytest.approx(2.0, rel=1e-4) == fit.E
    assert law_form("width-depth-tokens").variables == ("width", "depth", "tokens")
    assert law_form(["a", "b"]).name == "a-b"
    with pytest.raises(FitInputError, match="unknown law 'nope'"):
        law_form("nope")


def test_log_prediction_is_stable_for_huge_terms():
    theta = np.array([800.0, 1.0, 0.0])
    value = log_prediction(theta, np.array([[1.0]]))
    assert np.isfinite(value).all() and value[0] == pytest.approx(800.0 - 1.0)


@pytest.mark.parametrize(
    ("x", "loss", "message"),
    [
        (np.array([[1.0, 2.0], [0.0, 3.0]]), np.array([2.0, 2.0]), r"params .*row\(s\) 1"),
        (np.array([[1.0, 2.0], [2.0, 3.0]]), np.array([2.0, np.nan]), r"loss .*row\(s\) 1"),
        (np.zeros((0, 2)), np.zeros(0), "no data points"),
        (np.ones((3, 3)), np.ones(3), "one column per variable"),
    ],
)
def test_bad_inputs_are_named(x, loss, message):
    with pytest.raises(FitInputError, match=message):
        fit_approach3(x, loss, variables=["params", "tokens"])


def test_float64_is_scoped_to_the_fit():
    import jax.numpy as jnp

    x = np.geomspace(1e3, 1e6, 20)
    fit = fit_approach3(x, 2.0 + 30.0 * x**-0.5, variables=["n"])
    assert fit.theta.dtype == np.float64 and fit.objective < 1e-20
    assert jnp.zeros(1).dtype == jnp.float32  # x64 was not left switched on


def test_analytic_jacobian_equals_autodiff():
    import jax
    import jax.numpy as jnp

    from fitting.laws import log_prediction_jacobian

    rng = np.random.default_rng(3)
    log_x = rng.uniform(5, 25, size=(7, 3))
    theta = np.concatenate(
        [rng.uniform(0, 20, (4, 3)), rng.uniform(0, 2, (4, 3)), rng.uniform(-1, 1, (4, 1))], axis=1
    )
    with jax.enable_x64(True):
        pred, jac = log_prediction_jacobian(jnp.asarray(theta), jnp.asarray(log_x))
        auto = jax.vmap(jax.jacfwd(lambda t: log_prediction(t, jnp.asarray(log_x), jnp)))(
            jnp.asarray(theta)
        )
        np.testing.assert_allclose(np.asarray(jac), np.asarray(auto), rtol=1e-12, atol=1e-14)
        expected = np.stack([log_prediction(t, log_x) for t in theta])
        np.testing.assert_allclose(np.asarray(pred), expected, rtol=1e-13)


@pytest.mark.slow
def test_lbfgs_method_agrees_with_default():
    x = np.geomspace(1e3, 1e6, 30)
    log_x, log_loss = validate_inputs(x, 2.0 + 30.0 * x**-0.5, ["n"])
    starts = np.array([[3.0, 0.4, 0.5], [4.0, 0.6, 0.8]])
    lm = solve_from_starts(starts, log_x, log_loss)
    lbfgs = solve_from_starts(starts, log_x, log_loss, method="lbfgs", max_steps=300)
    assert lm.objective.max() < 1e-12
    assert lbfgs.objective.max() < 1e-8
    np.testing.assert_allclose(lbfgs.theta[:, 1], 0.5, atol=1e-3)


# --- data that cannot determine a law ------------------------------------------------------------


@pytest.mark.parametrize("n_points", [1, 2, 3, 4])
def test_fewer_points_than_parameters_are_refused(hot, n_points):
    x = hot.select(PARAMS_TOKENS).to_numpy()[:: 220 // n_points][:n_points]
    loss = hot["final_loss"].to_numpy()[:: 220 // n_points][:n_points]
    message = rf"too few points: .* has 5 free parameters but the data have {n_points} point\(s\)"
    with pytest.raises(FitInputError, match=message):
        fit_approach3(x, loss, variables=["params", "tokens"])


def test_four_points_are_refused_for_the_nine_parameter_law(hot):
    rows = hot[::50].head(4)
    with pytest.raises(FitInputError, match="has 9 free parameters but the data have 4 point"):
        fit_approach3(rows.select(WDPT).to_numpy(), rows["final_loss"], variables=WDPT)


def test_repeated_or_zero_weight_rows_do_not_count_as_points(hot):
    x = np.tile(hot.select(PARAMS_TOKENS).to_numpy()[[0, 100]], (10, 1))  # 2 rows, 10 times each
    loss = np.tile(hot["final_loss"].to_numpy()[[0, 100]], 10)
    with pytest.raises(FitInputError, match=r"have 2 distinct point\(s\)"):
        fit_approach3(x, loss, variables=["params", "tokens"])
    x, loss = hot.select(PARAMS_TOKENS).to_numpy()[:6], hot["final_loss"].to_numpy()[:6]
    weights = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    with pytest.raises(FitInputError, match="too few points"):
        fit_approach3(x, loss, variables=["params", "tokens"], weights=weights)


def test_a_variable_without_variation_is_refused(hot):
    x = hot.select(PARAMS_TOKENS).to_numpy()[:50].astype(float)
    x[:, 0] = 1.5e8  # 50 points, one parameter count
    with pytest.raises(FitInputError, match=r"params does not vary: it is 1\.5e\+08 in all 50"):
        fit_approach3(x, hot["final_loss"].to_numpy()[:50], variables=["params", "tokens"])


def test_as_many_points_as_parameters_is_flagged(hot):
    rows = hot[::44].head(5)
    fit = fit_approach3(
        rows.select(PARAMS_TOKENS).to_numpy(), rows["final_loss"], variables=["params", "tokens"]
    )
    assert FLAG_NO_DEGREES_OF_FREEDOM in fit.flags


def test_a_variable_with_two_values_leaves_its_term_unidentified(hot):
    x = hot.select(PARAMS_TOKENS).to_numpy()[:60].astype(float)
    x[:, 0] = np.where(np.arange(60) % 2 == 0, 1e8, 4e8)
    loss = 1.8 + 400.0 * x[:, 0] ** -0.3 + 2000.0 * x[:, 1] ** -0.3
    fit = fit_approach3(x, loss, variables=["params", "tokens"])
    assert FLAG_NOT_IDENTIFIED in fit.flags
    assert "alpha_params" in fit.unidentified
    assert fit.as_dict()["unidentified_parameters"] == list(fit.unidentified)


def test_paper_fits_are_identified(hot, hot_params_tokens_fit):
    assert hot_params_tokens_fit.unidentified == ()
    # the published 4-variable optimum on the hot data: no weak direction either
    published = _published("approach3_width_depth_params_tokens_hot_delta1e-4.json")
    theta = np.array(
        [*published["coefficients"], *published["exponents"], published["irreducible_error"]]
    )
    log_x, _ = validate_inputs(hot.select(WDPT).to_numpy(), hot["final_loss"], WDPT)
    assert identifiability_flags(theta, log_x, WDPT, n_distinct=220) == ((), ())


def test_identifiability_flags_on_crafted_parameters():
    log_x = np.log(
        np.column_stack([np.geomspace(1e7, 1e9, 40), np.geomspace(1e10, 1e11, 40)[::-1]])
    )
    good = np.array([6.0, 7.0, 0.3, 0.3, 0.5])
    assert identifiability_flags(good, log_x, ["params", "tokens"]) == ((), ())
    # a term 1e-30 of the loss at every point: its coefficient and exponent are free
    tiny = np.array([-60.0, 7.0, 0.3, 0.3, 0.5])
    flags, names = identifiability_flags(tiny, log_x, ["params", "tokens"])
    assert flags == (FLAG_NOT_IDENTIFIED,) and names == ("a_params", "alpha_params")
    # log A beyond float64: flagged, and exactly n = 2k + 1 distinct points
    huge = np.array([800.0, 7.0, 40.0, 0.3, 0.5])
    flags, _ = identifiability_flags(huge, log_x, ["params", "tokens"], n_distinct=5)
    assert FLAG_COEFFICIENT_OVERFLOW in flags and FLAG_NO_DEGREES_OF_FREEDOM in flags


def test_overflowing_coefficients_stay_strict_json():
    fit = Approach3Fit(
        variables=("params",),
        exponents=(40.0,),
        coefficients=(800.0,),
        irreducible_error=800.5,
        objective=1e-3,
        delta=1e-4,
        theta=np.array([800.0, 40.0, 800.5]),
        n_points=10,
        n_starts=1,
        n_polished=1,
        n_converged=1,
        flags=(FLAG_COEFFICIENT_OVERFLOW,),
    )
    record = fit.as_dict()
    assert record["A"] == [None] and record["E"] is None
    assert record["coefficients"] == [800.0]  # the log scale is exact
    json.dumps(record, allow_nan=False)


def test_a_fit_to_noise_never_reports_non_finite_json(hot):
    """Shuffled losses: whatever basin the fit lands in, the record is strict JSON and an
    overflowing coefficient is flagged."""
    loss = np.random.default_rng(2).permutation(hot["final_loss"].to_numpy())
    fit = fit_approach3(hot.select(PARAMS_TOKENS).to_numpy(), loss, variables=["params", "tokens"])
    json.dumps(fit.as_dict(), allow_nan=False)
    assert np.all(np.isfinite(fit.theta))
    overflow = max(*fit.coefficients, fit.irreducible_error) > np.log(np.finfo(float).max)
    assert (FLAG_COEFFICIENT_OVERFLOW in fit.flags) == overflow


@pytest.mark.parametrize("delta", [np.inf, float("1e400"), np.nan, 0.0, -1e-4, "abc"])
def test_bad_delta_is_refused(delta):
    x = np.geomspace(1e3, 1e6, 20)
    with pytest.raises(FitInputError, match="delta"):
        fit_approach3(x, 2.0 + 30.0 * x**-0.5, variables=["n"], delta=delta)
    with pytest.raises(FitInputError, match="delta"):
        solve_from_starts(
            np.array([[3.0, 0.4, 0.5]]), np.log(x)[:, None], np.zeros(20), delta=delta
        )
    with pytest.raises(FitInputError, match="delta"):
        screen_grid(PAPER_GRID, np.log(x)[:, None], np.zeros(20), delta=delta)
