"""Every public result round-trips through to_dict/from_dict and strict JSON, and has a summary
line and an HTML view."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from fitting.result import Result, ResultMixin


def _synthetic_runs(alpha: float = 0.34, beta: float = 0.28):
    """Runs of 6 sizes along tokens with loss E + A N^-a + B D^-b (approach 2/3 can fit them)."""
    sizes = np.geomspace(1e7, 1e9, 6)
    run, n, c, loss = [], [], [], []
    for i, size in enumerate(sizes):
        tokens = np.geomspace(1e8, 1e11, 30)
        run += [f"r{i}"] * tokens.size
        n += [size] * tokens.size
        c += list(6 * size * tokens)
        loss += list(1.7 + 400 * size**-alpha + 410 * tokens**-beta)
    return np.array(run), np.array(n), np.array(c), np.array(loss)


@pytest.fixture(scope="module")
def results() -> dict[str, ResultMixin]:
    from fitting.approach1 import fit_approach1
    from fitting.approach3 import Approach3Fit
    from fitting.bootstrap import BootstrapResult, frontier_bands, params_tokens_intervals
    from fitting.frontier import ShapeGrid, compute_frontier, optima_at_budgets
    from fitting.laws import (
        FamilyBootstrap,
        FamilyFit,
        bootstrap_isoflop,
        fit_isoflop,
    )
    from fitting.prescriptions import approach1_prescription, fit_power_line
    from fitting.sampling import fit_coverage
    from fitting.ttc import fit_ttc

    run, n, c, loss = _synthetic_runs()
    tokens = c / (6 * n)
    # Built by hand (compiling the approach-3 solver takes tens of seconds; its results are
    # tested elsewhere): the protocol is what is under test.
    theta = np.array([np.log(400.0), np.log(410.0), 0.34, 0.28, np.log(1.7)])
    a3 = Approach3Fit(
        variables=("params", "tokens"),
        exponents=(0.34, 0.28),
        coefficients=(float(theta[0]), float(theta[1])),
        irreducible_error=float(theta[4]),
        objective=1.5e-6,
        delta=1e-4,
        theta=theta,
        n_points=int(loss.size),
        n_starts=4096,
        n_polished=64,
        n_converged=8,
        flags=(),
    )
    rng = np.random.default_rng(0)
    thetas = theta + rng.normal(0.0, 0.01, (6, 5))
    thetas[2, 0] = np.nan  # a failed refit
    boot = BootstrapResult(
        variables=a3.variables,
        by="runs",
        seed=0,
        delta=1e-4,
        theta_hat=theta,
        thetas=thetas,
        objective=np.array([1.0, 2.0, np.inf, 1.5, 1.2, 1.1]) * 1e-6,
        converged=np.array([True, True, False, True, True, True]),
        n_groups=6,
        description="by runs (6 runs)",
    )
    widths, depths = np.meshgrid([256.0, 512.0, 1024.0], [4.0, 8.0, 16.0])
    grid = ShapeGrid(widths.ravel(), depths.ravel())

    def cost(w, d):
        return 6.0 * 12.0 * d * w**2

    def params(w, d):
        return 12.0 * d * w**2

    out: dict[str, ResultMixin] = {
        "Approach3Fit": a3,
        "BootstrapResult": boot,
        "Interval": params_tokens_intervals(boot, [1e20])[0],
        "Approach1Fit": fit_approach1(c, loss, n, tokens),
        "PowerLine": fit_power_line([1.0, 2.0, 4.0, 8.0], [3.0, 5.0, 11.0, 20.0]),
        "Approach1Prescription": approach1_prescription(
            [1e18, 1e19, 1e20, 1e21], [1e8, 3e8, 1e9, 3e9], [2e9, 6e9, 2e10, 6e10], [1e22]
        ),
        "Frontier": compute_frontier(
            a3.theta, a3.variables, cost, params, grid=grid, edges=[1e16, 1e18, 1e20]
        ),
        "BudgetOptima": optima_at_budgets(a3.theta, a3.variables, [1e18], cost, params, grid=grid),
        "FrontierBands": frontier_bands(boot, [1e18, 1e19], cost, params, grid=grid),
        "IsoflopFit": fit_isoflop(run, n, c, loss, n_budgets=12),
        "IsoflopBootstrap": bootstrap_isoflop(run, n, c, loss, n_resamples=4, n_budgets=12),
    }
    family_fit = FamilyFit(
        family="loss_to_loss",
        inputs=("loss_x",),
        parameter_names=("K", "kappa", "E_x", "E_y"),
        params=(1.1, 0.9, 0.5, float("nan")),
        objective=0.25,
        objective_name="huber",
        n_points=15,
        flags=("E_y_at_bound",),
        extra={"note": "by hand", "residual_scale": float("inf")},
    )
    family = FamilyBootstrap(
        fit=family_fit,
        samples=np.array([[1.0, 0.8, 0.4, 0.1], [1.2, 1.0, 0.6, 0.2]]),
        intervals={"K": (1.0, 1.2), "kappa": (0.8, 1.0)},
        derived_intervals={"slope": (0.1, float("inf"))},
        n_failed=1,
        ci=0.95,
    )
    out["FamilyFit"], out["FamilyBootstrap"] = family.fit, family
    ttc = fit_ttc([1, 2, 4, 8, 16, 32], [0.3, 0.45, 0.6, 0.7, 0.74, 0.75], chance=0.25, bootstrap=8)
    out["TTCResult"], out["CurveFit"] = ttc, ttc.fit
    coverage = fit_coverage(
        [1, 2, 4, 8, 16, 32, 64, 128],
        [0.30, 0.41, 0.52, 0.62, 0.70, 0.77, 0.82, 0.86],
        bootstrap=0,
    )
    out["SamplingResult"] = coverage
    return out


def _check_types(original: object, rebuilt: object) -> None:
    """Same classes all the way down: arrays stay arrays, tuples stay tuples, results results."""
    assert type(original) is type(rebuilt), (type(original), type(rebuilt))
    if dataclasses.is_dataclass(original):
        for field in dataclasses.fields(original):
            _check_types(getattr(original, field.name), getattr(rebuilt, field.name))
    elif isinstance(original, np.ndarray):
        assert original.shape == rebuilt.shape  # type: ignore[union-attr]
    elif isinstance(original, (tuple, list)):
        for a, b in zip(original, rebuilt, strict=True):  # type: ignore[call-overload]
            _check_types(a, b)


@pytest.mark.parametrize(
    "name",
    [
        "Approach3Fit",
        "BootstrapResult",
        "Interval",
        "Approach1Fit",
        "PowerLine",
        "Approach1Prescription",
        "Frontier",
        "BudgetOptima",
        "FrontierBands",
        "IsoflopFit",
        "IsoflopBootstrap",
        "FamilyFit",
        "FamilyBootstrap",
        "TTCResult",
        "CurveFit",
        "SamplingResult",
    ],
)
def test_result_round_trips_through_strict_json(results, name):
    result = results[name]
    assert isinstance(result, Result)
    text = json.dumps(result.to_dict(), allow_nan=False)
    rebuilt = type(result).from_dict(json.loads(text))
    assert json.dumps(rebuilt.to_dict(), allow_nan=False) == text
    _check_types(result, rebuilt)
    line = result.summary()
    assert line and "\n" not in line and len(line) < 1000
    assert result._repr_html_().startswith("<table>")


def test_non_finite_numbers_survive_the_round_trip():
    from fitting.bootstrap import Interval

    interval = Interval("k90", 12.0, 3.0, float("inf"), 0.95, budget=float("nan"))
    data = json.loads(json.dumps(interval.to_dict(), allow_nan=False))
    assert data["upper"] == "inf" and data["budget"] == "nan"
    back = Interval.from_dict(data)
    assert back.upper == float("inf") and np.isnan(back.budget)


def test_summaries_name_the_numbers(results):
    interval = results["Interval"]
    assert interval.summary() == (
        f"a: {interval.estimate:.4g} [{interval.lower:.4g}, {interval.upper:.4g}] (95%)"
    )
    ttc = results["TTCResult"]
    assert ttc.summary().startswith(f"{ttc.fit.form}: A=") and "(95% CI)" in ttc.summary()
    assert results["BootstrapResult"].summary() == (
        "bootstrap: 6 resamples by runs (6 runs), seed 0, 5 usable"
    )
