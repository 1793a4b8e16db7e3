"""Reading lm-eval-harness results and plain CSVs into the tidy test-time-compute table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from gemstones.errors import GemstonesInputError
from gemstones.ttc.ingest import TIDY_SCHEMA, is_result_file_name, read_results

DATA = Path(__file__).resolve().parent / "data_ttc"
HUGINN = (
    Path(__file__).resolve().parents[2] / "data" / "upstream" / "huginn" / "huginn-0125_table1.csv"
)


def test_r_per_row_comes_from_the_config_never_the_file_name():
    frame = read_results(DATA / "runs")
    assert list(frame.columns) == list(TIDY_SCHEMA)
    # 6 files x 2 tasks x 2 metrics
    assert frame.height == 24
    assert sorted(frame["r"].unique().to_list()) == [1, 2, 4, 8, 16, 32]
    by_file = dict(zip(frame["source"], frame["r"], strict=True))
    misleading = next(s for s in by_file if "results_r64_" in s)
    assert (
        by_file[misleading] == 16
    )  # mean_recurrence=16 and num_steps=16 inside; "r64" in the name
    row = frame.filter(
        (pl.col("task") == "hellaswag") & (pl.col("metric") == "acc_norm") & (pl.col("r") == 8)
    )
    assert row["value"].item() == pytest.approx(0.57)
    assert row["stderr"].item() == pytest.approx(0.0048)
    assert row["n"].item() == 10042
    assert row["filter"].item() == "none"
    assert row["n_shot"].item() == 0
    assert row["model"].item() == "tomg-group-umd/huginn-0125"
    assert row["checkpoint"].item() == "main"
    assert row["chat_template"].item() is None
    assert set(frame["metric"]) == {"acc", "acc_norm"}
    # the model is known: FLOPs per token follow from r
    assert row["flops_per_token"].item() == pytest.approx(3.855e9 + 8 * 3.2747e9, rel=1e-4)


def test_files_and_folders_mix():
    early = sorted((DATA / "runs" / "early").glob("*.json"))
    frame = read_results([*early, DATA / "runs" / "late"])
    assert frame.height == 24


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("results_no_r.json", "no recurrence count"),
        ("results_truncated.json", "not valid JSON"),
        ("results_no_results.json", "no 'results'"),
        ("results_stderr_without_value.json", "no value 'acc,none'"),
        ("results_partial.json", r"\['piqa'\] appear in 'n-samples'"),
        ("results_value_na.json", "no numeric value"),
    ],
)
def test_malformed_files_fail_naming_the_file(name, message):
    with pytest.raises(GemstonesInputError, match=message) as info:
        read_results(DATA / "bad" / name)
    assert name in str(info.value)


def test_one_bad_file_in_a_folder_fails_the_whole_read(tmp_path):
    shutil.copytree(DATA / "runs", tmp_path / "runs")
    shutil.copy(DATA / "bad" / "results_no_r.json", tmp_path / "runs" / "results_no_r.json")
    with pytest.raises(GemstonesInputError, match=r"results_no_r\.json"):
        read_results(tmp_path / "runs")


def test_a_value_without_stderr_is_kept():
    frame = read_results(DATA / "results_stderr_na.json")
    assert frame.height == 1
    assert frame["stderr"].item() is None
    assert frame["value"].item() == pytest.approx(0.6)


def test_huginn_table_csv_converts_percentages():
    frame = read_results(HUGINN)
    assert frame.height == 32
    assert set(frame["r"]) == {4, 8, 16, 32}
    row = frame.filter((pl.col("task") == "hellaswag") & (pl.col("r") == 16))
    assert row["value"].item() == pytest.approx(0.6467)
    assert row["metric"].item() == "acc_norm"
    assert frame.filter(pl.col("task") == "sciq")["metric"].unique().to_list() == [
        "acc_or_acc_norm"
    ]


def test_tidy_csv_round_trip_and_bad_csvs(tmp_path):
    frame = read_results(DATA / "runs")
    path = tmp_path / "tidy.csv"
    frame.drop("source").write_csv(path)
    again = read_results(path)
    assert again.drop("source").equals(frame.drop("source"))
    (tmp_path / "odd.csv").write_text("a,b\n1,2\n")
    with pytest.raises(GemstonesInputError, match="unknown CSV layout"):
        read_results(tmp_path / "odd.csv")
    (tmp_path / "gap.csv").write_text("model,task,metric,r,value\nm,arc_easy,acc,4,\n")
    with pytest.raises(GemstonesInputError, match=r"gap\.csv:2"):
        read_results(tmp_path / "gap.csv")
    with pytest.raises(GemstonesInputError, match="no such file"):
        read_results(tmp_path / "missing.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GemstonesInputError, match="no lm-eval results"):
        read_results(tmp_path / "empty")


# ----------------------------------------------------------------------------------------------
# lm-eval 0.4.13 files: groups, per-task r, --output_path naming, bad numbers (issue 10, section 6).

SWEEP = DATA / "lm_eval_0413"


def _sweep_document(name: str = "huginn_sweep_2025-03-01T09-10-11.100001.json") -> dict:
    return json.loads((SWEEP / name).read_text())


def test_output_path_json_files_are_found_by_folder_search():
    """`lm_eval --output_path huginn_sweep.json` writes huginn_sweep_<timestamp>.json."""
    frame = read_results(SWEEP)
    assert frame["source"].n_unique() == 4
    assert all(Path(s).name.startswith("huginn_sweep_2025-") for s in frame["source"].unique())
    assert is_result_file_name("huginn_sweep_2025-03-01T09-10-11.100001.json")
    assert is_result_file_name("results_2025-03-01T09-10-11.json")
    assert not is_result_file_name("samples_gsm8k_2025-03-01T09-10-11.100001.jsonl")
    assert not is_result_file_name("config.json")


def test_group_aggregates_are_skipped_unless_asked():
    frame = read_results(SWEEP)
    assert set(frame["task"]) == {"arc_easy", "gsm8k", "mmlu_abstract_algebra", "mmlu_anatomy"}
    with_groups = read_results(SWEEP, include_groups=True)
    groups = with_groups.filter(pl.col("task").is_in(["mmlu", "mmlu_stem"]))
    assert groups.height == 8
    assert groups["n"].null_count() == 8  # pooled group stderr, not a binomial count
    assert set(groups["output_type"]) == {"multiple_choice"}
    assert sorted(groups.filter(pl.col("task") == "mmlu")["r"]) == [4, 8, 16, 32]


def test_num_steps_applies_only_to_generate_until_tasks():
    """The last run has mean_recurrence=32 for the model and num_steps=64 for generation."""
    frame = read_results(SWEEP)
    last = frame.filter(pl.col("source").str.contains("12-40-51"))
    r_of = dict(zip(last["task"], last["r"], strict=False))
    assert r_of["arc_easy"] == 32 and r_of["mmlu_anatomy"] == 32
    assert r_of["gsm8k"] == 64
    gsm = frame.filter(pl.col("task") == "gsm8k")
    assert set(gsm["filter"]) == {"strict-match", "flexible-extract"}
    assert set(gsm["output_type"]) == {"generate_until"} and set(gsm["n_shot"]) == {5}
    assert sorted(gsm["r"].unique()) == [4, 8, 16, 64]
    assert set(frame.filter(pl.col("task") == "arc_easy")["r"]) == {4, 8, 16, 32}


def _mutated(tmp_path: Path, change) -> Path:
    document = _sweep_document()
    change(document)
    path = tmp_path / "results_2025-03-01T09-10-11.100001.json"
    path.write_text(json.dumps(document))
    return path


def _drop_mean_recurrence(d):
    d["config"]["model_args"].pop("mean_recurrence")


def _huge_architecture(d):
    from fitting.recurrent_compute import RecurrentDepthArchitecture

    d["config"]["model_args"].update(
        dict.fromkeys(RecurrentDepthArchitecture.__dataclass_fields__, 2)
    )
    d["config"]["model_args"]["hidden"] = 1e300


def _set(path, value):
    def change(d):
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_drop_mean_recurrence, "'arc_easy' is multiple_choice, and lm-eval passes gen_kwargs"),
        (_set(("n-shot", "arc_easy"), "5.5"), r"n-shot of task 'arc_easy' = '5.5'"),
        (_set(("n-shot", "arc_easy"), "five"), r"n-shot of task 'arc_easy' = 'five'"),
        (_set(("n-shot", "arc_easy"), True), r"n-shot of task 'arc_easy' = True"),
        (_set(("config", "model_args", "mean_recurrence"), 1e300), "beyond the largest"),
        (_set(("config", "model_args", "mean_recurrence"), "1e300"), "beyond the largest"),
        (_set(("config", "model_args", "mean_recurrence"), "eight"), "'eight' is not a number"),
        (_set(("config", "model_args", "mean_recurrence"), 2.5), "positive whole number"),
        (_set(("config", "gen_kwargs"), {"num_steps": "abc"}), "'abc' is not a number"),
        (
            _set(("configs", "gsm8k", "generation_kwargs", "num_steps"), -3),
            "positive whole number",
        ),
        (_set(("results", "arc_easy", "acc,none"), "high"), "no numeric value"),
        (_set(("n-samples", "gsm8k"), {"original": 1319, "effective": 13.5}), "positive count"),
        (_set(("n-samples", "gsm8k"), {"original": 1, "effective": 1e300}), "positive count up"),
        (_huge_architecture, r"architecture fields in config.model_args: hidden=1e\+300"),
    ],
)
def test_bad_lm_eval_values_fail_naming_file_and_value(tmp_path, change, message):
    path = _mutated(tmp_path, change)
    with pytest.raises(GemstonesInputError, match=message) as info:
        read_results(path)
    assert path.name in str(info.value) and "\n" not in str(info.value)


def test_unknown_output_type_with_two_different_r_is_ambiguous(tmp_path):
    def change(d):
        d["configs"]["arc_easy"].pop("output_type")
        d["config"]["gen_kwargs"] = {"num_steps": 7}

    with pytest.raises(GemstonesInputError, match="unknown whether it ran at mean_recurrence=4"):
        read_results(_mutated(tmp_path, change))


def test_a_group_over_subtasks_at_different_r_has_no_r(tmp_path):
    def change(d):
        d["group_subtasks"]["mix"] = ["arc_easy", "gsm8k"]
        d["groups"]["mix"] = {"acc,none": 0.3, "alias": "mix"}
        d["results"]["mix"] = {"acc,none": 0.3, "alias": "mix"}
        d["configs"]["gsm8k"]["generation_kwargs"]["num_steps"] = 9

    path = _mutated(tmp_path, change)
    assert "mix" not in set(read_results(path)["task"])  # skipped by default: no error
    with pytest.raises(
        GemstonesInputError, match=r"group 'mix' mixes subtasks run at r = \[4, 9\]"
    ):
        read_results(path, include_groups=True)


def test_wide_table_reads_like_the_long_one():
    wide = read_results(DATA / "huginn_table1_wide.csv")
    long = read_results(HUGINN)
    assert wide.height == long.height == 32
    key = ["task", "r"]
    joined = wide.select(*key, "value").join(long.select(*key, "value"), on=key, suffix="_long")
    assert joined.height == 32
    assert (joined["value"] - joined["value_long"]).abs().max() < 1e-12
    assert set(wide["checkpoint"]) == {"800e9"} and set(wide["metric"]) == {"acc"}
    assert wide["flops_per_token"].null_count() == 0  # huginn-0125 is a known architecture


def test_wide_tables_forced_fractions_and_bad_cells(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("num_steps,task_a,task_b\n1,0.30,\n4,0.55,0.41\n")
    with pytest.raises(GemstonesInputError, match="unknown CSV layout"):
        read_results(plain, wide=False)
    assert read_results(plain).height == 3  # detected: a recurrence column and no task column
    frame = read_results(plain, wide=True)
    values = dict(zip(zip(frame["task"], frame["r"], strict=True), frame["value"], strict=True))
    assert values[("task_a", 4)] == pytest.approx(0.55) and ("task_b", 1) not in values
    (tmp_path / "over.csv").write_text("recurrence,a\n1,50\n2,150\n")
    with pytest.raises(GemstonesInputError, match=r"over\.csv:3: column 'a' = 150.0"):
        read_results(tmp_path / "over.csv")
    (tmp_path / "text.csv").write_text("recurrence,a\n1,0.5\n2,n/a\n")
    with pytest.raises(GemstonesInputError, match=r"text\.csv:3: column 'a' = 'n/a'"):
        read_results(tmp_path / "text.csv")
    (tmp_path / "notask.csv").write_text("model,recurrence\nm,1\n")
    with pytest.raises(GemstonesInputError, match="one column per task"):
        read_results(tmp_path / "notask.csv")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "CSV is empty"),
        (b"model,task,metric,r,value\n", "CSV has no rows"),
        (b"model,task,metric,r,value\nm,arc_easy,acc,4,0.5,extra\n", "row has 6 fields"),
        (b"model,task,metric,r,value\nm,arc_easy,acc,4\n", "row has 4 fields"),
        (b"model,task,metric,r,value\nm,arc\xe9,acc,4,0.5\n", "not UTF-8"),
        (b"model,task,metric,r,value,n_shot\nm,arc_easy,acc,4,0.5,5.5\n", "'5.5' is not a whole"),
        (b"model,task,metric,r,value,n\nm,arc_easy,acc,4,0.5,1e300\n", "'1e300' is not a whole"),
        (b"model,task,metric,r,value\nm,arc_easy,acc,1e300,0.5\n", "beyond the largest"),
    ],
)
def test_bad_csvs_fail_with_the_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(GemstonesInputError, match=message) as info:
        read_results(path)
    assert "bad.csv" in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "cannot be read"),
        (b'{"results": {"arc_easy": {"acc,none": 0.5}}, "config": []}', "no 'config' object"),
        (b"[1, 2]", "expected a JSON object"),
    ],
)
def test_unreadable_json_fails_naming_the_file(tmp_path, content, message):
    path = tmp_path / "results_odd.json"
    path.write_bytes(content)
    with pytest.raises(GemstonesInputError, match=message) as info:
        read_results(path)
    assert "results_odd.json" in str(info.value)
