"""Test-time-compute curve fits: forms, objectives, AIC, summaries, flags, Huginn's Table 1."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from fitting.errors import FitInputError
from fitting.ttc import chance_level, fit_curve, fit_ttc

HUGINN = (
    Path(__file__).resolve().parents[2] / "data" / "upstream" / "huginn" / "huginn-0125_table1.csv"
)


def _huginn_points() -> dict[str, tuple[list[float], list[float]]]:
    points: dict[str, tuple[list[float], list[float]]] = {}
    with HUGINN.open() as handle:
        for row in csv.DictReader(handle):
            xs, ys = points.setdefault(row["task"], ([], []))
            xs.append(float(row["recurrence"]))
            ys.append(float(row["accuracy_pct"]) / 100.0)
    return points


@pytest.fixture(scope="module")
def huginn_fits():
    return {
        task: fit_ttc(x, y, chance=chance_level(task), bootstrap=60, seed=1)
        for task, (x, y) in _huginn_points().items()
    }


def test_huginn_saturation_picture(huginn_fits):
    """HellaSwag, ARC and SciQ saturate by r ~ 16; WinoGrande and OBQA are still climbing at 32."""
    for task in ("hellaswag", "arc_easy", "arc_challenge", "sciq"):
        res = huginn_fits[task]
        assert res.fit.form == "sigmoid"
        assert res.r95 < 18, (task, res.r95)
        assert not res.still_climbing, task
    for task in ("winogrande", "openbookqa"):
        assert huginn_fits[task].still_climbing, task
    assert huginn_fits["winogrande"].r95 > 32
    assert huginn_fits["openbookqa"].last_doubling_gain > 0.05
    assert not any(res.overthinking for res in huginn_fits.values())


def test_huginn_summaries_are_ordered_and_cis_cover(huginn_fits):
    for task, res in huginn_fits.items():
        assert res.r50 < res.r90 < res.r95, task
        assert res.fit.chance < res.ceiling <= 1.0
        lo, hi = res.ci["r95"]
        assert lo <= hi
    hs = huginn_fits["hellaswag"]
    assert hs.ceiling == pytest.approx(0.657, abs=0.01)
    assert hs.ci["A"][0] <= hs.ceiling <= hs.ci["A"][1]


def test_r_q_definition_holds_on_the_fitted_curve(huginn_fits):
    res = huginn_fits["arc_easy"]
    c, a = res.fit.chance, res.ceiling
    for q, rq in ((0.5, res.r50), (0.9, res.r90), (0.95, res.r95)):
        assert float(res.fit.predict(rq)) == pytest.approx(c + q * (a - c), abs=1e-9)


def test_binomial_fit_recovers_a_known_sigmoid():
    rng = np.random.default_rng(0)
    x = np.array([1, 2, 4, 8, 16, 32, 64], dtype=float)
    c, a, x50, k = 0.5, 0.95, 6.0, 2.5
    p = c + (a - c) / (1 + (x50 / x) ** k)
    n = np.full_like(x, 4000)
    y = rng.binomial(n.astype(int), p) / n
    res = fit_ttc(x, y, chance=c, n=n, bootstrap=100, seed=3)
    assert res.fit.objective == "binomial"
    assert res.fit.form == "sigmoid"
    assert res.fit.parameters["A"] == pytest.approx(a, abs=0.01)
    assert res.fit.parameters["x50"] == pytest.approx(x50, rel=0.08)
    true_r95 = x50 * 19 ** (1 / k)
    lo, hi = res.ci["r95"]
    assert lo < true_r95 < hi
    assert not res.still_climbing


def test_aic_prefers_the_exponential_on_exponential_data():
    x = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32], dtype=float)
    y = 0.25 + 0.6 * (1 - np.exp(-x / 5.0))
    res = fit_ttc(x, y, chance=0.25, n=np.full_like(x, 20000), bootstrap=0)
    assert res.fit.form == "exponential"
    assert res.fit.parameters["tau"] == pytest.approx(5.0, rel=0.02)
    assert res.r50 == pytest.approx(5.0 * math.log(2), rel=0.02)


def test_loss_forms_fit_a_power_law():
    x = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    y = 2.0 + 1.5 * x**-0.7
    res = fit_ttc(x, y, loss=True, bootstrap=0)
    assert res.fit.form == "power"
    assert res.ceiling == pytest.approx(2.0, rel=1e-3)
    assert res.r50 == pytest.approx(0.5 ** (-1 / 0.7), rel=1e-2)


def test_overthinking_is_flagged_beyond_noise_only():
    x = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    n = np.full_like(x, 5000)
    falls = np.array([0.55, 0.7, 0.85, 0.9, 0.88, 0.80])
    assert fit_ttc(x, falls, chance=0.5, n=n, bootstrap=0).overthinking
    wiggles = np.array([0.55, 0.7, 0.85, 0.9, 0.902, 0.899])
    assert not fit_ttc(x, wiggles, chance=0.5, n=n, bootstrap=0).overthinking


def test_flops_axis_gives_the_same_shape():
    x = np.array([4, 8, 16, 32], dtype=float)
    y = np.array([0.4346, 0.5854, 0.6467, 0.6521])
    flops = 3.8552e9 + x * 3.2747e9
    by_r = fit_curve(x, y, chance=0.25)
    by_flops = fit_curve(flops, y, chance=0.25)
    assert by_flops.parameters["A"] == pytest.approx(by_r.parameters["A"], abs=0.01)
    assert by_flops.parameters["x50"] > 1e9


def test_bad_input_raises_fit_input_error():
    with pytest.raises(FitInputError, match="convert percentages"):
        fit_ttc([1, 2, 4], [30.0, 40.0, 50.0], chance=0.25)
    with pytest.raises(FitInputError, match="positive"):
        fit_ttc([0, 2, 4], [0.3, 0.4, 0.5], chance=0.25)
    with pytest.raises(FitInputError, match="at least 2"):
        fit_ttc([4], [0.3], chance=0.25)
    with pytest.raises(FitInputError, match="no chance level"):
        chance_level("my_new_task")
    assert chance_level("mmlu_abstract_algebra") == 0.25
    assert chance_level("my_new_task", {"my_new_task": 0.1}) == 0.1


# ----------------------------------------------------------------------------------------------
# Few points: identifiability, noise floors, extrapolation warnings (issue 10, section 5).

TWO_POINT = {  # r = 1 and r = 32 only, as a paper table prints them (chance as in CHANCE_LEVELS)
    "arc_easy": (0.31, 0.699),
    "arc_challenge": (0.22, 0.382),
    "hellaswag": (0.29, 0.652),
    "mmlu": (0.24, 0.314),
    "openbookqa": (0.26, 0.388),
    "piqa": (0.55, 0.762),
    "sciq": (0.33, 0.935),
    "winogrande": (0.50, 0.594),
}


def _width(interval: tuple[float, float], value: float) -> float:
    lo, hi = interval
    return (hi - lo) / max(abs(value), 1e-12)


@pytest.fixture(scope="module")
def two_point_fits():
    return {
        task: fit_ttc([1, 32], list(ys), chance=chance_level(task), bootstrap=40, seed=2)
        for task, ys in TWO_POINT.items()
    }


def test_two_point_curves_refuse_the_sigmoid_and_say_they_interpolate(two_point_fits):
    for task, res in two_point_fits.items():
        assert res.distinct_x == 2, task
        assert [f.form for f in res.alternatives] == ["exponential"], task
        assert res.warning_codes[:2] == ("exact_interpolant", "form_not_fitted"), task
        assert res.still_climbing, task
        assert "assumed n=1000" in res.noise, task


def test_two_point_intervals_are_never_zero_width(two_point_fits):
    """Before: 15 of 20 such r95 intervals had zero width (every resample was the same curve)."""
    for task, res in two_point_fits.items():
        assert _width(res.ci["r95"], res.r95) > 0.05, (task, res.ci["r95"])
        assert res.ci["A"][1] - res.ci["A"][0] > 0.005, (task, res.ci["A"])


def test_two_point_extrapolation_is_warned_about(two_point_fits):
    """ARC-Challenge's ceiling 0.998 from 0.382 measured, r95 ~ 500 from r <= 32: both warned."""
    res = two_point_fits["arc_challenge"]
    assert {"ceiling_extrapolated", "r95_extrapolated"} <= set(res.warning_codes)
    assert res.r95 > 4 * 32
    calm = two_point_fits["arc_easy"]  # climbs to 0.70, curve bends within the data
    assert "ceiling_extrapolated" not in calm.warning_codes


def test_a_form_with_more_parameters_than_distinct_r_is_refused():
    with pytest.raises(FitInputError, match=r"2 distinct x .*sigmoid needs 3"):
        fit_ttc([1, 32], [0.3, 0.7], chance=0.25, forms=["sigmoid"])
    with pytest.raises(FitInputError, match=r"sigmoid needs 3"):
        fit_curve([1, 1, 32], [0.3, 0.31, 0.7], chance=0.25, form="sigmoid")
    with pytest.raises(FitInputError, match="power needs 3, exp_decay needs 3"):
        fit_ttc([1, 32], [3.0, 2.5], loss=True)


def test_known_n_gives_binomial_resampling_of_an_exact_interpolant():
    res = fit_ttc([1, 32], [0.30, 0.70], chance=0.25, n=[1000, 1000], bootstrap=40, seed=0)
    assert res.fit.objective == "binomial" and res.noise == "binomial with the given n"
    assert "exact_interpolant" in res.warning_codes
    assert _width(res.ci["A"], res.ceiling) > 0.02
    assert _width(res.ci["r95"], res.r95) > 0.2


def test_the_noise_floor_follows_the_assumed_n():
    x, y = [1, 32], [0.30, 0.70]
    small = fit_ttc(x, y, chance=0.25, bootstrap=40, seed=0, assumed_n=100)
    large = fit_ttc(x, y, chance=0.25, bootstrap=40, seed=0, assumed_n=100_000)
    assert "assumed n=100 " in small.noise and "assumed n=100000" in large.noise
    assert _width(small.ci["r95"], small.r95) > 3 * _width(large.ci["r95"], large.r95) > 0
    with pytest.raises(FitInputError, match="assumed_n"):
        fit_ttc(x, y, chance=0.25, assumed_n=0)
    with pytest.raises(FitInputError, match="seed=-1"):
        fit_ttc(x, y, chance=0.25, seed=-1)


def test_huginn_ceiling_intervals_are_not_zero_width(huginn_fits):
    """Before: PiQA's ceiling interval was [0.763, 0.763]."""
    for task, res in huginn_fits.items():
        lo, hi = res.ci["A"]
        assert hi - lo > 0.005, (task, res.ci["A"])
        assert lo <= res.ceiling <= hi, task


def test_huginn_warnings_single_out_winogrande(huginn_fits):
    assert {"ceiling_extrapolated", "r95_extrapolated"} <= set(
        huginn_fits["winogrande"].warning_codes
    )
    for task in ("hellaswag", "arc_easy", "arc_challenge", "sciq", "piqa"):
        assert huginn_fits[task].warnings == (), task


def test_r50_far_below_the_data_and_a_ceiling_at_one_are_flagged():
    early = fit_ttc([4, 8, 16, 32], [0.89, 0.9, 0.9, 0.905], chance=0.25, bootstrap=0)
    assert early.r50 < 1 and "r50_extrapolated" in early.warning_codes
    steep = fit_ttc([1, 2, 4, 8, 16], [0.3, 0.5, 0.7, 0.9, 0.99], chance=0.25, bootstrap=0)
    assert steep.ceiling > 0.999 and "A" in steep.fit.at_bound
    assert "parameter_at_bound" in steep.warning_codes


def test_generative_tasks_default_to_chance_zero():
    assert chance_level("gsm8k") == 0.0
    assert chance_level("bbh_cot_fewshot_navigate", output_type="generate_until") == 0.0
    assert chance_level("piqa", output_type="generate_until") == 0.5  # the table wins
    with pytest.raises(FitInputError, match="=0 for a generative one"):
        chance_level("bbh_cot_fewshot_navigate", output_type="multiple_choice")


def test_curve_records_are_strict_json():
    import json

    from fitting.ttc import TaskCurve, curve_record

    res = fit_ttc([1, 32], [0.30, 0.70], chance=0.25, bootstrap=0)
    broken = dataclasses.replace(res, r95=math.inf, drop_z=math.nan)
    curve = TaskCurve("m", None, "arc_easy", "acc", "none", 0, None, "r", broken, (1, 32))
    record = curve_record(curve)
    text = json.dumps(record, allow_nan=False)
    assert record["r95"] is None and record["drop_z"] is None
    assert json.loads(text)["warnings"][0]["code"] == "exact_interpolant"
