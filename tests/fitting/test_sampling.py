"""Repeated sampling: the unbiased pass@k estimator, the (scaled) Beta fit and coverage curves.

Data are drawn (seeded) from known Beta distributions of per-problem success probability, as
Schaeffer et al. (2025) model them, with binomial sample counts per problem.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest

from fitting.errors import FitInputError
from fitting.sampling import (
    BetaFit,
    CoverageCurve,
    coverage_curve,
    default_k_grid,
    fit_coverage,
    fit_problems,
    fit_success_distribution,
    pass_at_k,
    samples_for_coverage,
    validate_counts,
)
from fitting.ttc import COVERAGE_FORMS, fit_curve, fit_ttc


def _draw(alpha, beta, scale, problems, samples, seed):
    rng = np.random.default_rng(seed)
    p = scale * rng.beta(alpha, beta, size=problems)
    return p, np.full(problems, samples), rng.binomial(samples, p)


def _exact(n, c, k):
    if n - c < k:
        return 1.0
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [
        (10, 0, 1),
        (10, 3, 1),
        (10, 3, 5),
        (10, 8, 3),
        (200, 1, 64),
        (200, 150, 100),
        (5000, 70, 100),  # both counts > 64: the log-gamma path
        (5000, 3000, 2500),
        (100_000, 1, 1),  # pass@1 = 1e-5 needs relative, not absolute, accuracy
    ],
)
def test_pass_at_k_matches_exact_binomial_ratios(n, c, k):
    got = float(pass_at_k([n], [c], k)[0])
    assert got == pytest.approx(_exact(n, c, k), rel=1e-9, abs=1e-15)


def test_pass_at_1_is_the_success_fraction_and_pass_at_n_is_any_success():
    n, c = np.array([8, 8, 8, 8]), np.array([0, 1, 4, 8])
    assert pass_at_k(n, c, 1) == pytest.approx(c / n)
    assert pass_at_k(n, c, 8).tolist() == [0.0, 1.0, 1.0, 1.0]


def test_estimator_is_unbiased_against_a_direct_monte_carlo():
    """Mean over repeated draws of c equals the mean fraction solved by k fresh attempts."""
    rng = np.random.default_rng(7)
    p = rng.beta(0.5, 2.5, size=300)
    n, k, replicates = 20, 5, 400
    counts = rng.binomial(n, p, size=(replicates, p.size))
    estimates = np.array([pass_at_k(np.full(p.size, n), row, k).mean() for row in counts])
    attempts = rng.random((replicates, p.size, k)) < p[None, :, None]
    direct = attempts.any(axis=2).mean(axis=1)  # the Monte-Carlo coverage of k attempts
    truth = float((1 - (1 - p) ** k).mean())
    se = math.sqrt(estimates.var(ddof=1) / replicates + direct.var(ddof=1) / replicates)
    assert abs(estimates.mean() - direct.mean()) < 4 * se
    assert abs(estimates.mean() - truth) < 4 * estimates.std(ddof=1) / math.sqrt(replicates)
    plug_in = np.array([(1 - (1 - row / n) ** k).mean() for row in counts])
    assert abs(plug_in.mean() - truth) > 10 * se  # the naive 1-(1-c/n)^k is visibly biased


@pytest.mark.parametrize(
    ("n", "c", "message"),
    [
        ([10], [11], "c must be <= n"),
        ([10], [-1], "c must be >= 0"),
        ([10.5], [1], "n must be a whole number"),
        ([10], [1.5], "c must be a whole number"),
        ([0], [0], "n must be >= 1"),
        ([10, 10], [1], "n has 2 values but c has 1"),
    ],
)
def test_bad_counts_are_refused(n, c, message):
    with pytest.raises(FitInputError, match=message):
        validate_counts(n, c)


def test_k_beyond_the_samples_is_refused():
    with pytest.raises(FitInputError, match="k=20 exceeds"):
        pass_at_k([10, 30], [1, 1], 20)
    assert default_k_grid(100) == (1, 2, 4, 8, 16, 32, 64, 100)


def test_beta_pass_at_k_matches_the_closed_form_and_monte_carlo():
    from scipy.special import betaln

    fit = BetaFit("beta", 0.4, 3.0, 1.0, 0.0, 0.0, 1)
    ks = np.array([1, 10, 1000])
    closed = 1 - np.exp(betaln(0.4, 3.0 + ks) - betaln(0.4, 3.0))
    assert fit.pass_at_k(ks) == pytest.approx(closed, rel=1e-10)
    scaled = BetaFit("scaled_beta", 0.4, 3.0, 0.6, 0.0, 0.0, 1)
    p = 0.6 * np.random.default_rng(3).beta(0.4, 3.0, size=400_000)
    for k in (1, 7, 50):
        assert float(scaled.pass_at_k([k])[0]) == pytest.approx(
            float((1 - (1 - p) ** k).mean()), abs=3e-3
        )


@pytest.mark.parametrize(("alpha", "beta", "scale"), [(0.4, 3.0, 0.8), (0.6, 2.0, 1.0)])
def test_distribution_fit_recovers_the_beta_and_its_exponent(alpha, beta, scale):
    _, n, c = _draw(alpha, beta, scale, problems=1500, samples=128, seed=11)
    fits = {f.form: f for f in fit_success_distribution(n, c)}
    assert set(fits) == {"beta", "scaled_beta"}
    scaled = fits["scaled_beta"]
    assert scaled.alpha == pytest.approx(alpha, abs=0.05)
    assert scaled.exponent == scaled.alpha
    if scale < 1:
        assert scaled.scale == pytest.approx(scale, abs=0.1)
    assert scaled.mean == pytest.approx(scale * alpha / (alpha + beta), rel=0.08)


def test_large_k_law_of_the_distribution_has_exponent_alpha():
    """Schaeffer et al.: -log pass@k ~ A k^-alpha at large k, A = Gamma(a) / (B(a, b) s^a)."""
    fit = BetaFit("scaled_beta", 0.45, 3.0, 0.7, 0.0, 0.0, 1)
    ks = np.array([4096, 8192, 16384, 32768, 65536], dtype=float)
    power = fit_curve(ks, fit.pass_at_k(ks), form="exp_power")
    assert -power.parameters["b"] == pytest.approx(0.45, abs=0.01)
    ratio = -np.log(fit.pass_at_k(ks)) * ks**0.45 / fit.prefactor
    assert np.all(np.diff(ratio) < 0) and ratio[-1] == pytest.approx(1.0, abs=0.015)


def test_exp_power_recovers_brown_parameters_from_aggregate_coverage():
    rng = np.random.default_rng(5)
    ks = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    a, b, problems = -2.0, -0.35, 2000
    coverage = rng.binomial(problems, np.exp(a * ks**b)) / problems
    res = fit_coverage(ks, coverage, n_problems=np.full(ks.size, problems), bootstrap=60, seed=2)
    fit = res.result.fit
    assert fit.form == "exp_power"
    assert fit.parameters["a"] == pytest.approx(a, abs=0.06)
    assert fit.parameters["b"] == pytest.approx(b, abs=0.02)
    # A 90% interval misses the truth one time in ten (15 of 19 seeds covered it when measured),
    # so check that its width accounts for the error rather than that it covers this one draw.
    lo, hi = res.result.parameter_ci["b"]
    assert lo < fit.parameters["b"] < hi and abs(fit.parameters["b"] - b) < hi - lo
    assert res.exponent_ci == pytest.approx((-hi, -lo))
    k90 = (math.log(0.9) / a) ** (1 / b)
    # k90 lies 9x beyond the largest k: the small error in b grows to ~20% there.
    assert res.samples_for_coverage[0.9] == pytest.approx(k90, rel=0.3)
    lo90, hi90 = res.samples_ci["0.9"]
    assert lo90 < res.samples_for_coverage[0.9] < hi90 and hi90 - lo90 > abs(k90 - lo90) / 2
    assert "points treated as independent" in res.result.noise
    assert "samples_extrapolated" in {w.code for w in res.warnings}  # k99 lies far beyond 512


@pytest.mark.slow
def test_per_problem_fit_recovers_exponents_with_intervals():
    alpha, beta, scale = 0.5, 3.0, 0.8
    _, n, c = _draw(alpha, beta, scale, problems=1200, samples=128, seed=21)
    res = fit_problems(n, c, bootstrap=40, seed=4)
    assert res.source == "problems" and res.unsolved == int((c == 0).sum())
    assert set(f.form for f in res.result.alternatives) == set(COVERAGE_FORMS)
    # Truth for the curve's exponent over the measured k: exp_power fitted to the exact curve.
    true_dist = BetaFit("scaled_beta", alpha, beta, scale, 0.0, 0.0, 1)
    ks = np.asarray(res.curve.k, dtype=float)
    truth_b = -fit_curve(ks, true_dist.pass_at_k(ks), form="exp_power").parameters["b"]
    assert res.exponent == pytest.approx(truth_b, abs=0.03)
    lo, hi = res.exponent_ci
    assert lo < res.exponent < hi
    assert res.distribution.alpha == pytest.approx(alpha, abs=0.06)
    a_lo, a_hi = res.distribution_ci["alpha"]
    assert a_lo < alpha < a_hi
    assert res.distribution_ci["b"] == pytest.approx((-a_hi, -a_lo))
    k_lo, k_hi = res.samples_ci["0.5"]
    assert k_lo <= res.samples_for_coverage[0.5] <= k_hi


def test_coverage_curve_stderr_and_unsolved_problems():
    curve = coverage_curve([4, 4, 4], [0, 2, 4], k=[1, 4])
    assert isinstance(curve, CoverageCurve)
    assert curve.coverage == pytest.approx((0.5, 2 / 3))
    assert curve.stderr[0] == pytest.approx(0.5 / math.sqrt(3))
    with pytest.raises(FitInputError, match="no problem was solved"):
        fit_problems([10, 10], [0, 0], bootstrap=0)


def test_samples_for_coverage_of_a_saturating_curve_is_infinite():
    ks = np.array([1, 2, 4, 8, 16, 32, 64], dtype=float)
    sig = fit_curve(ks, 0.6 / (1 + (6 / ks) ** 1.5), form="sigmoid")
    assert math.isinf(samples_for_coverage(sig, 0.9))
    assert float(sig.predict(samples_for_coverage(sig, 0.3))) == pytest.approx(0.3, abs=1e-6)
    with pytest.raises(FitInputError, match="strictly between"):
        samples_for_coverage(sig, 1.0)


def test_exp_power_needs_chance_zero_and_two_points():
    with pytest.raises(FitInputError, match="floor 0"):
        fit_ttc([1, 2, 4], [0.3, 0.4, 0.5], chance=0.25, forms=("exp_power",))
    res = fit_ttc([1, 8], [0.3, 0.6], forms=COVERAGE_FORMS, bootstrap=10)
    assert res.fit.form == "exp_power" and "exact_interpolant" in res.warning_codes
    assert {w.code for w in res.warnings} >= {"form_not_fitted"}


def test_sampling_record_is_strict_json():
    from fitting.sampling import SamplingCurve, sampling_record
    from fitting.ttc import TaskCurve

    _, n, c = _draw(0.5, 2.0, 1.0, problems=60, samples=16, seed=2)
    res = fit_problems(n, c, bootstrap=5, distributions=("beta",))
    task = TaskCurve("m", None, "t", "coverage", None, None, None, "k", res.result, res.curve.k)
    record = sampling_record(SamplingCurve(task, res))

    def refuse(constant):
        raise ValueError(constant)

    back = json.loads(json.dumps(record, allow_nan=False), parse_constant=refuse)
    assert back["kind"] == "sampling" and back["x"] == "k" and "k95" in back
    assert back["distribution"]["form"] == "beta"
    assert back["distribution"]["implied_exp_power"]["b"] == pytest.approx(-res.distribution.alpha)
