"""Law families: the registry, each family's fit on synthetic laws with known parameters, the
asymmetric (overestimate-penalty) objective, approach 2 on the catalog, and the profile of
cool_end's tokens exponent."""

from __future__ import annotations

import numpy as np
import pytest

from fitting.errors import FitInputError
from fitting.laws import (
    REGISTRY,
    LawFamily,
    Registry,
    asymmetric_huber,
    bootstrap_isoflop,
    fit_isoflop,
    prediction_interval,
    profile_power_sum,
)


def test_registry_lists_the_families_and_names_them_in_errors():
    assert REGISTRY.names() == ("power_sum", "isoflop", "loss_to_loss", "sigmoid_accuracy")
    assert all(isinstance(REGISTRY.get(n), LawFamily) for n in REGISTRY.names())
    with pytest.raises(FitInputError, match="unknown law family 'nope'; available: power_sum"):
        REGISTRY.get("nope")
    own = Registry[int]("thing")
    own.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        own.register("a", 2)


def test_asymmetric_huber_penalises_only_overestimates():
    r = np.array([-0.1, 0.1, 1e-5])
    base = asymmetric_huber(r, 1e-4)
    heavy = asymmetric_huber(r, 1e-4, 5.0)
    assert base[0] == pytest.approx(base[1])
    assert heavy[0] == pytest.approx(base[0])
    assert heavy[1] == pytest.approx(5 * base[1])
    assert base[2] == pytest.approx(0.5e-10)


def test_loss_to_loss_recovers_a_shifted_power_law():
    rng = np.random.default_rng(0)
    lx = rng.uniform(2.3, 4.0, 300)
    truth = (1.8, 1.5, 1.3, 0.8)
    ly = 1.5 + 1.3 * (lx - 1.8) ** 0.8
    fit = REGISTRY.get("loss_to_loss").fit(lx, ly * np.exp(rng.normal(0, 1e-4, lx.size)))
    assert fit.params == pytest.approx(truth, rel=0.05)
    assert fit.predict(np.array([3.0]))[0] == pytest.approx(1.5 + 1.3 * 1.2**0.8, rel=1e-3)


def test_sigmoid_accuracy_recovers_its_parameters_with_the_chance_floor():
    rng = np.random.default_rng(1)
    loss = rng.uniform(2.0, 4.0, 200)
    acc = 0.25 + (0.8 - 0.25) / (1 + np.exp(3.0 * (loss - 2.8)))
    fit = REGISTRY.get("sigmoid_accuracy").fit(
        loss, acc + rng.normal(0, 0.002, loss.size), options={"chance": 0.25}
    )
    assert fit.param("top") == pytest.approx(0.8, abs=0.02)
    assert fit.param("k") == pytest.approx(3.0, rel=0.1)
    assert fit.param("L0") == pytest.approx(2.8, abs=0.03)
    assert fit.param("chance") == 0.25
    with pytest.raises(FitInputError, match="chance"):
        REGISTRY.get("sigmoid_accuracy").fit(loss, acc, options={"chance": 1.5})


def _synthetic_runs(alpha=0.34, beta=0.28):
    """Trajectories of L = E + A N^-alpha + B D^-beta, checkpoints every 2B tokens, C = 6ND."""
    sizes = np.geomspace(3e7, 3e9, 15)
    run, n, c, loss = [], [], [], []
    for i, size in enumerate(sizes):
        tokens = np.arange(1, 101) * 2e9
        run += [i] * tokens.size
        n += [size] * tokens.size
        c += list(6 * size * tokens)
        loss += list(1.7 + 400 * size**-alpha + 400 * tokens**-beta)
    return np.array(run), np.array(n), np.array(c), np.array(loss)


def test_isoflop_recovers_the_compute_optimal_exponent():
    alpha, beta = 0.34, 0.28
    fit = fit_isoflop(*_synthetic_runs(alpha, beta), n_budgets=16)
    # the exact optimum of E + A N^-a + B (C/6N)^-b is N* ∝ C^(b/(a+b))
    assert fit.params_exponent == pytest.approx(beta / (alpha + beta), abs=0.02)
    assert fit.tokens_exponent == pytest.approx(1 - fit.params_exponent)
    assert fit.budgets.size >= 5


def test_isoflop_rejects_bad_input():
    run, n, c, loss = _synthetic_runs()
    with pytest.raises(FitInputError, match="equal length"):
        fit_isoflop(run[:-1], n, c, loss)
    with pytest.raises(FitInputError, match="positive"):
        fit_isoflop(run, n, c, -loss)


def test_isoflop_on_hot_477_agrees_with_approach_1_within_its_interval():
    """Known answer: approach 1 on hot_477 gives a params exponent of 0.499."""
    from gemstones.scaling.designs import design_table, load_design

    table = design_table(load_design("hot_477"))
    boot = bootstrap_isoflop(
        table["run_name"].to_numpy(),
        table["params"].to_numpy(),
        table["flops"].to_numpy(),
        table["loss"].to_numpy(),
        n_resamples=200,
        seed=0,
    )
    low, high = boot.params_exponent_ci
    assert low < 0.499380216082636 < high
    assert 0.5 < boot.fit.params_exponent < 0.7  # measured 0.594
    assert boot.n_failed == 0


def test_prediction_interval_is_wider_than_the_confidence_band():
    rng = np.random.default_rng(2)
    theta = np.array([6.0, 7.0, 0.3, 0.3, 0.5])
    thetas = theta + rng.normal(0, 0.002, (1000, 5))
    log_x = np.log([[1e9, 1e11]])
    residuals = rng.normal(0, 0.05, 500)  # noise dominates the parameters
    low, mid, high = prediction_interval(thetas, log_x, residuals, level=0.9)
    from fitting.laws import log_prediction

    preds = np.exp([log_prediction(t, log_x)[0] for t in thetas])
    band_low, band_high = np.percentile(preds, [5, 95])
    assert low[0] < band_low < band_high < high[0]
    assert low[0] < mid[0] < high[0]


@pytest.mark.slow
def test_profile_shows_how_flat_cool_end_tokens_exponent_is():
    """cool_end's tokens exponent: 0.586 here, 0.690 in the paper; both inside the profile
    interval, the objective differing by under 1% between them."""
    from gemstones.scaling.designs import design_table, load_design

    table = design_table(load_design("cool_end"))
    x, y = table.select("params", "tokens").to_numpy(), table["loss"].to_numpy()
    fit = REGISTRY.get("power_sum").fit(x, y, options={"n_polish": 64})
    assert fit.param("alpha_tokens") == pytest.approx(0.586, abs=0.01)
    profile = profile_power_sum(
        x,
        y,
        fit.params,
        variables=["params", "tokens"],
        parameter="alpha_tokens",
        values=np.linspace(0.45, 0.75, 7),
    )
    low, high = profile.interval
    assert low < 0.586 < 0.690 < high
    ratios = profile.objectives / profile.best_objective
    assert np.all(ratios >= 1 - 1e-9)
    assert ratios[np.argmin(np.abs(profile.values - 0.70))] < 1.01


@pytest.mark.slow
def test_overestimate_penalty_moves_the_fit_to_the_lower_envelope():
    rng = np.random.default_rng(3)
    n = np.repeat(np.geomspace(5e7, 2e9, 8), 10)
    d = np.tile(np.geomspace(1e10, 2e11, 10), 8)
    clean = 1.8 + np.exp(6.0) * n**-0.3 + np.exp(7.0) * d**-0.3
    noisy = clean * np.exp(np.abs(rng.normal(0, 0.03, clean.size)))  # under-tuned: only higher
    x = np.column_stack([n, d])
    plain = REGISTRY.get("power_sum").fit(x, noisy, options={"n_polish": 32})
    envelope = REGISTRY.get("power_sum").fit(
        x, noisy, options={"n_polish": 32, "overestimate_penalty": 20.0}
    )
    gap_plain = np.median(np.log(plain.predict(x)) - np.log(clean))
    gap_envelope = np.median(np.log(envelope.predict(x)) - np.log(clean))
    assert abs(gap_envelope) < abs(gap_plain)
    with pytest.raises(FitInputError, match="overestimate_penalty"):
        REGISTRY.get("power_sum").fit(x, noisy, options={"overestimate_penalty": 0.5})
