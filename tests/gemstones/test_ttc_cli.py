"""`gemstones ttc fit` and `gemstones recurrent run`: exit codes, JSON output, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemstones.cli import main

DATA = Path(__file__).resolve().parent / "data_ttc"
HUGINN = (
    Path(__file__).resolve().parents[2] / "data" / "upstream" / "huginn" / "huginn-0125_table1.csv"
)


def _run(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    out, err = capsys.readouterr()
    return stop.value.code, out, err


def test_fit_huginn_json_reports_r95_per_task(capsys, tmp_path):
    code, out, _ = _run(
        [
            "ttc",
            "fit",
            str(HUGINN),
            "--format",
            "json",
            "--bootstrap",
            "20",
            "--plot",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 0
    records = {rec["task"]: rec for rec in json.loads(out)}
    assert len(records) == 8
    assert records["hellaswag"]["r95"] < 18 and not records["hellaswag"]["still_climbing"]
    assert records["winogrande"]["still_climbing"] and records["openbookqa"]["still_climbing"]
    assert set(records["sciq"]["aic"]) == {"sigmoid", "exponential"}
    assert (tmp_path / "huginn-0125_table1__ttc_r.png").stat().st_size > 0 and (
        tmp_path / "huginn-0125_table1__ttc_r.pdf"
    ).stat().st_size > 0


def test_fit_lm_eval_folder_on_the_flops_axis(capsys):
    code, out, _ = _run(
        [
            "ttc",
            "fit",
            str(DATA / "runs"),
            "--x",
            "flops",
            "--metric",
            "acc_norm",
            "--format",
            "json",
            "--bootstrap",
            "0",
        ],
        capsys,
    )
    assert code == 0
    records = json.loads(out)
    assert {r["task"] for r in records} == {"arc_easy", "hellaswag"}
    assert all(r["objective"] == "binomial" and r["flops95"] > 1e10 for r in records)


def test_fit_table_output(capsys):
    code, out, _ = _run(["ttc", "fit", str(HUGINN), "--bootstrap", "0"], capsys)
    assert code == 0
    assert "winogrande" in out and "still climbing" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["ttc", "fit", str(DATA / "bad" / "results_no_r.json")],
            "results_no_r.json: no recurrence count",
        ),
        (["ttc", "fit", str(HUGINN), "--x", "tokens"], "--x 'tokens'"),
        (["ttc", "fit", str(HUGINN), "--format", "yaml"], "--format 'yaml'"),
        (["ttc", "fit", str(HUGINN), "--chance", "piqa"], "TASK=LEVEL"),
        (["recurrent", "run", "--task", "addition", "--train-steps", "1"], "unknown task"),
        (["recurrent", "run", "--r", "0,1", "--train-steps", "1"], "must be >= 1"),
    ],
)
def test_user_errors_exit_2_without_traceback(argv, message, capsys):
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_recurrent_run_writes_files_that_ttc_fit_reads(capsys, tmp_path):
    out_dir = tmp_path / "run"
    argv = [
        "recurrent",
        "run",
        "--task",
        "parity",
        "--length",
        "4",
        "--train-steps",
        "150",
        "--r",
        "1,2,4,8",
        "--out",
        str(out_dir),
        "--seed",
        "1",
    ]
    code, out, _ = _run(argv, capsys)
    assert code == 0 and "trained in" in out
    assert len(list((out_dir / "lm_eval").glob("results_*.json"))) == 4
    assert (out_dir / "curve.csv").is_file() and (out_dir / "adaptive_exit.csv").is_file()
    code, out, _ = _run(argv, capsys)  # second time: the saved run is loaded, not retrained
    assert code == 0 and "loaded" in out
    code, out, _ = _run(
        ["ttc", "fit", str(out_dir / "lm_eval"), "--format", "json", "--bootstrap", "0"], capsys
    )
    assert code == 0
    (record,) = json.loads(out)
    assert record["task"] == "parity_len4" and record["chance"] == 0.5
    assert record["points"]["r"] == [1, 2, 4, 8]


# ----------------------------------------------------------------------------------------------
# Issue 10: real lm-eval files, groups, few-point warnings, strict JSON, bad input, atomic plots.

SWEEP = DATA / "lm_eval_0413"


def _strict(text):
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_fit_lm_eval_sweep_skips_groups_and_labels_rows(capsys):
    code, out, _ = _run(["ttc", "fit", str(SWEEP), "--format", "json", "--bootstrap", "0"], capsys)
    assert code == 0
    records = _strict(out)
    keys = {(r["task"], r["metric"], r["filter"]) for r in records}
    assert ("gsm8k", "exact_match", "strict-match") in keys
    assert ("gsm8k", "exact_match", "flexible-extract") in keys
    assert not {"mmlu", "mmlu_stem"} & {r["task"] for r in records}
    gsm = next(r for r in records if r["task"] == "gsm8k")
    assert gsm["chance"] == 0.0 and gsm["output_type"] == "generate_until"
    assert gsm["points"]["r"] == [4, 8, 16, 64]
    arc = next(r for r in records if r["task"] == "arc_easy")
    assert arc["points"]["r"] == [4, 8, 16, 32] and arc["checkpoint"] == "main"


def test_groups_are_fitted_when_asked(capsys):
    code, out, _ = _run(
        ["ttc", "fit", str(SWEEP), "--groups", "--format", "json", "--bootstrap", "0"], capsys
    )
    assert code == 0
    tasks = [r["task"] for r in _strict(out)]
    assert tasks.count("mmlu") == 1 and tasks.count("mmlu_stem") == 1


def test_table_shows_checkpoint_and_filter_and_warnings(capsys):
    code, out, _ = _run(["ttc", "fit", str(SWEEP), "--bootstrap", "0"], capsys)
    assert code == 0
    header = next(line for line in out.splitlines() if "checkpoint" in line)
    assert "filter" in header and "model" in header
    assert "strict-match" in out and "flexible-extract" in out


def test_two_point_table_is_flagged_in_both_formats(capsys):
    csv_path = DATA / "two_point_r1_r32.csv"
    code, out, _ = _run(["ttc", "fit", str(csv_path), "--bootstrap", "20"], capsys)
    assert code == 0
    assert "exact interpolant" in out and "warning: recurrent-3b / final / arc_challenge" in out
    code, out, _ = _run(
        ["ttc", "fit", str(csv_path), "--format", "json", "--bootstrap", "20"], capsys
    )
    records = _strict(out)
    assert len(records) == 8
    for record in records:
        codes = [w["code"] for w in record["warnings"]]
        assert "exact_interpolant" in codes and record["form"] == "exponential"
        lo, hi = record["ci"]["r95"]
        assert hi > lo
        assert record["noise"].startswith("floor: binomial with an assumed n=")


def test_wide_table_is_detected_and_forced(capsys):
    wide = DATA / "huginn_table1_wide.csv"
    for extra in ([], ["--wide"]):
        code, out, _ = _run(
            ["ttc", "fit", str(wide), *extra, "--format", "json", "--bootstrap", "0"], capsys
        )
        assert code == 0
        assert len(_strict(out)) == 8


def test_unknown_chance_levels_are_named_together(tmp_path, capsys):
    path = tmp_path / "new.csv"
    path.write_text("recurrence,task_x,task_y\n1,0.3,0.4\n4,0.5,0.6\n8,0.6,0.7\n")
    code, _, err = _run(["ttc", "fit", str(path)], capsys)
    assert code == 2
    assert "2 task(s): task_x, task_y" in err and "0 for generative" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def _bad_file(tmp_path, change):
    document = json.loads(next(SWEEP.glob("huginn_sweep_*.json")).read_text())
    change(document)
    path = tmp_path / "results_bad.json"
    path.write_text(json.dumps(document))
    return str(path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (lambda t: ["ttc", "fit", str(HUGINN), "--seed", "-1"], "--seed -1"),
        (lambda t: ["ttc", "fit", str(HUGINN), "--bootstrap", str(10**9)], "--bootstrap"),
        (lambda t: ["ttc", "fit", str(HUGINN), "--assumed-n", "0"], "--assumed-n"),
        (lambda t: ["ttc", "fit", str(HUGINN), "--assumed-n", "inf"], "--assumed-n"),
        (lambda t: ["ttc", "fit", str(HUGINN), "--metric", ""], "--metric ''"),
        (lambda t: ["ttc", "fit", str(HUGINN), "--chance", "piqa=nan"], "TASK=LEVEL"),
        (lambda t: ["ttc", "fit", str(HUGINN), "--plot", str(HUGINN)], "is a file"),
        (
            lambda t: ["ttc", "fit", str(HUGINN), "--plot", str(HUGINN / "figs")],
            "sits under",
        ),
        (
            lambda t: [
                "ttc",
                "fit",
                _bad_file(t, lambda d: d["n-shot"].__setitem__("arc_easy", "5.5")),
            ],
            "n-shot of task 'arc_easy' = '5.5'",
        ),
        (
            lambda t: [
                "ttc",
                "fit",
                _bad_file(
                    t, lambda d: d["config"]["model_args"].__setitem__("mean_recurrence", 1e300)
                ),
            ],
            "beyond the largest accepted recurrence count",
        ),
        (
            lambda t: [
                "ttc",
                "fit",
                _bad_file(
                    t, lambda d: d["results"]["gsm8k"].__setitem__("exact_match,strict-match", [1])
                ),
            ],
            "no numeric value",
        ),
        (lambda t: ["ttc", "fit", str(DATA / "two_point_r1_r32.csv"), "--x", "flops"], "FLOPs"),
        (lambda t: ["recurrent", "run", "--r", "1,2,...,1000000000"], "<= 4,096"),
        (lambda t: ["recurrent", "run", "--r", ",".join(map(str, range(1, 300)))], "at most 256"),
        (lambda t: ["recurrent", "run", "--seed", "-1"], "seed=-1"),
        (lambda t: ["recurrent", "run", "--out", str(HUGINN)], "is a file"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(argv, message, tmp_path, capsys):
    code, _, err = _run(argv(tmp_path), capsys)
    assert code == 2, err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_a_failed_plot_write_leaves_the_old_plots(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from fitting.ttc import fit_table
    from gemstones.ttc.ingest import read_results
    from gemstones.ttc.plots import plot_curves

    curves = fit_table(read_results(HUGINN).head(8), bootstrap=0)
    written = plot_curves(curves, tmp_path)
    before = {p: p.read_bytes() for p in written}

    def full_disk(self, fname, **kwargs):
        fname.write(b"%PDF-partial")  # the atomic writer hands savefig an open temporary file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    with pytest.raises(OSError, match="No space"):
        plot_curves(curves, tmp_path)
    assert {p: p.read_bytes() for p in written} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def test_a_failed_results_write_keeps_the_previous_run(tmp_path, monkeypatch):
    from gemstones.runs import recurrent

    config = recurrent.RecurrentRunConfig(length=4, train_steps=10, seed=0)
    first = recurrent.write_results(config, {1: 0.5, 2: 0.6, 4: 0.7}, tmp_path)
    before = {p: p.read_bytes() for p in first}
    calls = []
    real = recurrent.write_json_atomic

    def fail_second(document, path, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(document, path, **kwargs)

    monkeypatch.setattr(recurrent, "write_json_atomic", fail_second)
    with pytest.raises(OSError):
        recurrent.write_results(config, {1: 0.55, 2: 0.65, 4: 0.75, 8: 0.8}, tmp_path)
    folder = tmp_path / recurrent.RESULTS_DIR
    assert sorted(folder.glob("results_*.json")) == sorted(first)
    assert all(json.loads(p.read_text())["results"] for p in first)
    assert first[1].read_bytes() == before[first[1]]  # the failed write left it as it was
