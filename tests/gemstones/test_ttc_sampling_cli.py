"""`gemstones ttc fit` on repeated-sampling tables: per-problem and aggregate, CSV and JSONL.

``data_ttc/sampling/beta_problems.csv``: 400 problems of 128 samples each, p = 0.8 * Beta(0.4, 3)
per problem and c ~ Binomial(128, p), drawn with ``numpy.random.default_rng(14)`` (p first, then
c), model ``monkey-1b``, task ``synthetic_math``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from gemstones.cli import main

DATA = Path(__file__).resolve().parent / "data_ttc"
PROBLEMS = DATA / "sampling" / "beta_problems.csv"
HUGINN = (
    Path(__file__).resolve().parents[2] / "data" / "upstream" / "huginn" / "huginn-0125_table1.csv"
)


def _run(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    out, err = capsys.readouterr()
    return stop.value.code, out, err


def _strict(text):
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_per_problem_csv_gives_curve_distribution_and_exponents(capsys):
    code, out, _ = _run(
        ["ttc", "fit", str(PROBLEMS), "--x", "samples", "--format", "json", "--bootstrap", "10"],
        capsys,
    )
    assert code == 0
    (record,) = _strict(out)
    assert record["kind"] == "sampling" and record["source"] == "problems"
    assert record["model"] == "monkey-1b" and record["task"] == "synthetic_math"
    assert record["x"] == "k" and record["points"]["r"] == [1, 2, 4, 8, 16, 32, 64, 128]
    assert record["form"] in ("exp_power", "sigmoid", "exponential")
    assert set(record["aic"]) == {"exp_power", "sigmoid", "exponential"}
    assert 0.25 < record["exponent"] < 0.6
    dist = record["distribution"]
    assert dist["alpha"] == pytest.approx(0.4, abs=0.1)
    assert dist["implied_exp_power"]["b"] == pytest.approx(-dist["alpha"])
    assert record["unsolved"] > 0 and record["n_problems"] == 400
    assert record["samples_for_coverage"]["0.5"] < 128


@pytest.mark.slow
def test_sampling_tables_are_detected_and_fitted_next_to_recurrence_curves(tmp_path, capsys):
    rng = np.random.default_rng(3)
    p = rng.beta(0.6, 2.0, size=80)
    jsonl = tmp_path / "runs.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps({"model": "m", "task": "code", "problem": f"p{i}", "n": 32, "c": int(c)})
            for i, c in enumerate(rng.binomial(32, p))
        )
        + "\n"
    )
    aggregate = tmp_path / "coverage.csv"
    ks = [1, 2, 4, 8, 16, 32, 64, 128]
    aggregate.write_text(
        "k,coverage,n_problems\n" + "".join(f"{k},{np.exp(-1.5 * k**-0.4):.4f},500\n" for k in ks)
    )
    code, out, _ = _run(
        [
            "ttc",
            "fit",
            str(HUGINN),
            str(jsonl),
            str(aggregate),
            "--format",
            "json",
            "--bootstrap",
            "0",
            "--plot",
            str(tmp_path / "plots"),
        ],
        capsys,
    )
    assert code == 0
    records = _strict(out)
    recurrence = [r for r in records if r.get("kind") != "sampling"]
    sampling = {r["source"]: r for r in records if r.get("kind") == "sampling"}
    assert len(recurrence) == 8 and all(r["x"] == "r" for r in recurrence)
    assert set(sampling) == {"problems", "aggregate"}
    agg = sampling["aggregate"]
    assert agg["model"] == "coverage" and agg["form"] == "exp_power"
    assert agg["parameters"]["b"] == pytest.approx(-0.4, abs=0.01)
    assert agg["distribution"] is None and agg["objective"] == "binomial"
    assert sampling["problems"]["points"]["r"] == [1, 2, 4, 8, 16, 32]
    assert (tmp_path / "plots" / "runs_and_1_more__ttc_k.png").stat().st_size > 0
    assert (tmp_path / "plots" / "huginn-0125_table1__ttc_r.png").stat().st_size > 0


def test_csv_and_table_formats(capsys):
    code, out, _ = _run(
        ["ttc", "fit", str(PROBLEMS), "--format", "csv", "--bootstrap", "0"], capsys
    )
    assert code == 0
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["kind"] == "sampling" and row["x"] == "k" and row["distribution"]
    assert 0.2 < float(row["alpha"]) < 0.6 and float(row["k_for_0.9"]) > 128
    code, out, _ = _run(["ttc", "fit", str(HUGINN), "--format", "csv", "--bootstrap", "0"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 8 and {r["kind"] for r in rows} == {"recurrence"}
    code, out, _ = _run(["ttc", "fit", str(PROBLEMS), "--bootstrap", "0"], capsys)
    assert code == 0 and "coverage (pass@k) vs samples k" in out and "monkey-1b" in out


def _problems(tmp_path, body, name="bad.csv"):
    path = tmp_path / name
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("c_above_n.csv", "problem_id,n,c\nq1,10,3\nq2,10,11\n", "c=11 correct of n=10"),
        ("negative.csv", "problem_id,n,c\nq1,10,-1\n", "'c' = '-1' must lie from 0"),
        ("fraction.csv", "problem_id,n,c\nq1,10.5,3\n", "'n' = '10.5' is not a whole number"),
        ("word.csv", "problem_id,n,c\nq1,ten,3\n", "'n' = 'ten' is not a whole number"),
        ("zero_n.csv", "problem_id,n,c\nq1,0,0\n", "'n' = '0' must lie from 1"),
        ("twice.csv", "problem_id,n,c\nq1,10,3\nq1,10,4\n", "appears again (first at line 2)"),
        ("empty_id.csv", "problem_id,n,c\n,10,3\n", "'problem_id' is empty"),
        ("ragged.csv", "problem_id,n,c\nq1,10\n", "row has 2 fields"),
        ("cov.csv", "k,coverage\n1,0.3\n2,1.4\n", "must be a fraction in [0, 1]"),
        ("k_frac.csv", "k,coverage\n1.5,0.3\n", "'k' = '1.5' is not a whole number"),
        (
            "bad.jsonl",
            '{"problem_id": "a", "n": 4, "c": 1}\n{"problem_id": "b", "n": 4, \n',
            "bad.jsonl:2: not JSON",
        ),
        ("bool.jsonl", '{"problem_id": "a", "n": 4, "c": true}\n', "'c' = True"),
        ("list.jsonl", '[1, 2]\n{"problem_id": "a", "n": 4, "c": 1}\n', "expected a JSON object"),
        ("unsolved.csv", "problem_id,n,c\nq1,8,0\nq2,8,0\n", "no problem was solved"),
    ],
)
def test_bad_sampling_tables_get_one_line_and_exit_2(name, body, message, tmp_path, capsys):
    code, _, err = _run(["ttc", "fit", _problems(tmp_path, body, name), "--x", "samples"], capsys)
    assert code == 2, err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_samples_axis_refuses_other_inputs(tmp_path, capsys):
    code, _, err = _run(["ttc", "fit", str(PROBLEMS), str(HUGINN), "--x", "samples"], capsys)
    assert code == 2 and "is not a sampling table" in err and err.count("\n") == 1
    code, _, err = _run(["ttc", "fit", str(PROBLEMS), "--x", "tokens"], capsys)
    assert code == 2 and "valid: r, flops, samples" in err
    code, _, err = _run(["ttc", "fit", str(PROBLEMS), "--format", "xml"], capsys)
    assert code == 2 and "valid: table, csv, json" in err


def test_a_problem_repeated_across_files_is_refused(tmp_path, capsys):
    first = _problems(tmp_path, "problem_id,n,c\nq1,10,3\nq2,10,1\n", "a.csv")
    second = _problems(tmp_path, "problem_id,n,c\nq1,10,4\n", "b.csv")
    # Different models (each file's stem) may share problem ids.
    code, out, _ = _run(["ttc", "fit", first, second, "--bootstrap", "0"], capsys)
    assert code == 0 and "1 problems: the Beta fit" in out
    third = _problems(tmp_path, "model,problem_id,n,c\nm,q1,10,3\nm,q2,10,1\n", "c.csv")
    fourth = _problems(tmp_path, "model,problem_id,n,c\nm,q1,10,4\n", "d.csv")
    code, _, err = _run(["ttc", "fit", third, fourth, "--bootstrap", "0"], capsys)
    assert code == 2 and "problem 'q1' of m / all appears in" in err
