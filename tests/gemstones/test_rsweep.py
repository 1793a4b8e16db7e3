"""r-sweeps of recurrent-depth models on the evaluation engine: the Huginn family in the loader,
the metrics at a given r and under exit criteria, the sweep (local, resumed), lm-eval files read back
by ``ttc fit``, and bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gemstones.cli import main
from gemstones.errors import GemstonesInputError
from gemstones.evaluate.metrics import corpus_loss, multiple_choice
from gemstones.models import huginn, load_model, load_tokenizer
from gemstones.ttc.ingest import read_results

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "gemstones" / "data_huginn" / "tiny_a"
BYTES = ROOT / "data" / "recurrent" / "huginn_bytes"
GEMMA = ROOT / "tests" / "gemstones" / "data_models" / "gemma_gqa_untied"


def _run(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    out, err = capsys.readouterr()
    return stop.value.code, out, err


def _few_tasks(tmp_path: Path, n: int) -> Path:
    lines = (BYTES / "cloze.jsonl").read_text().splitlines()[:n]
    path = tmp_path / "cloze.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_load_model_runs_huginn_at_an_explicit_r_and_seed():
    model = load_model(TINY)
    assert model.family.name == "huginn_raven" and model.config.num_steps == 8  # mean_recurrence
    ids = np.array([[1, 5, 9, 200, 3, 7]], dtype=np.int32)
    at4 = model.with_steps(4, seed=3)
    state = huginn.eval_state(at4.config, ids.shape, model.params["wte"].dtype)
    reference = huginn.huginn_logits(
        model.params, model.config.arch, ids, num_steps=4, init_state=state
    ).logits
    np.testing.assert_allclose(np.asarray(at4.logits(ids)), np.asarray(reference), atol=1e-5)
    # a sequence scores the same alone and next to a longer one (state per position, no padding leak)
    pair = np.zeros((2, 10), dtype=np.int32)
    pair[0, :6], pair[1] = ids[0], np.arange(10)
    alone = np.asarray(at4.token_logprobs(ids, ids))
    batched = np.asarray(at4.token_logprobs(pair, pair, (pair > 0) | (np.arange(10) < 6)))
    np.testing.assert_allclose(batched[0, :6], alone[0], atol=1e-5)
    # another seed is another initial state; r changes the logits
    assert not np.allclose(np.asarray(model.with_steps(4, seed=4).logits(ids)), reference)
    assert not np.allclose(np.asarray(model.with_steps(1, seed=3).logits(ids)), reference)


@pytest.mark.slow
def test_exit_rules_count_steps_per_token_and_bad_settings_are_refused():
    model = load_model(TINY)
    ids = np.arange(1, 17, dtype=np.int32)[None]
    _, fixed = model.with_steps(12).token_logprobs_and_steps(ids, ids)
    assert (np.asarray(fixed) == 12).all()
    _, steps = model.with_steps(12, exit=("kl", 1e-2)).token_logprobs_and_steps(ids, ids)
    steps = np.asarray(steps)
    assert steps.min() >= 1 and steps.max() <= 12 and steps.mean() < 12
    with pytest.raises(
        GemstonesInputError, match=r"r=65 is out of range; valid: whole numbers 1\.\.64"
    ):
        model.with_steps(65)
    with pytest.raises(GemstonesInputError, match="r=0 is out of range"):
        model.with_steps(0)
    with pytest.raises(GemstonesInputError, match="unknown exit criterion 'bogus'"):
        model.with_steps(4, exit=("bogus", 1.0))
    with pytest.raises(GemstonesInputError, match="no recurrence count"):
        load_model(GEMMA).with_steps(4)


@pytest.mark.slow
def test_corpus_loss_and_multiple_choice_score_a_huginn_model(tmp_path):
    model = load_model(BYTES / "model")
    tok = load_tokenizer(BYTES / "model", vocab_size=model.vocab_size)
    items = [json.loads(line) for line in _few_tasks(tmp_path, 6).read_text().splitlines()]
    docs = [json.loads(line)["text"] for line in (BYTES / "heldout.jsonl").read_text().splitlines()]
    one = corpus_loss(model.with_steps(1), tok, docs[:4], context=64, batch_size=4)
    eight = corpus_loss(model.with_steps(8), tok, docs[:4], context=64, batch_size=4)
    assert one.tokens == eight.tokens == sum(len(d.encode()) for d in docs[:4]) - 1  # packed
    assert eight.bits_per_byte < one.bits_per_byte  # trained to use its recurrence
    mc = multiple_choice(model.with_steps(8), tok, items, batch_size=8)
    assert mc.items == 6 and mc.chance == pytest.approx(0.25)


def _sweep_argv(out: Path, tasks: Path, *extra: str) -> list[str]:
    return [
        "recurrent",
        "sweep",
        "--model",
        str(BYTES / "model"),
        "--tasks",
        str(tasks),
        "--out",
        str(out),
        "--batch-size",
        "16",
        *extra,
    ]


@pytest.mark.slow
def test_local_sweep_writes_lm_eval_files_that_ttc_reads_and_resumes(tmp_path, capsys):
    tasks = _few_tasks(tmp_path, 8)
    out = tmp_path / "sweep"
    argv = _sweep_argv(out, tasks, "--r", "1,2,4", "--exit", "kl:1e-2", "--corpus")
    argv.append(str(BYTES / "heldout.jsonl"))
    code, stdout, err = _run(argv, capsys)
    assert code in (0, None), err
    assert "fit: gemstones ttc fit" in stdout and "--chance cloze=0.25" in stdout
    files = sorted((out / "lm_eval").glob("results_*.json"))
    assert len(files) == 3
    frame = read_results(out / "lm_eval")
    assert sorted(set(frame["r"].to_list())) == [1, 2, 4]
    assert set(frame["metric"].to_list()) == {"acc", "acc_norm", "bits_per_byte"}
    assert (frame.filter(frame["metric"] == "acc")["n"] == 8).all()
    csv = pl.read_csv(out / "sweep.csv")
    exit_rows = csv.filter(pl.col("criterion") == "kl")
    assert exit_rows.height == 4 and (exit_rows["mean_steps"] <= 4).all()
    assert (csv.filter(pl.col("r") == 2, pl.col("criterion").is_null())["mean_steps"] == 2).all()

    # rerun: nothing runs again, the same files are rewritten
    (out / "units" / "r002.json").unlink()
    code, stdout, err = _run(argv, capsys)
    assert code in (0, None), err
    assert "r=2: done" in err and "r=1: done" not in err
    assert "3 of 4 settings were already done" in err
    assert sorted((out / "lm_eval").glob("results_*.json"))[0] == files[0]
    assert len(list((out / "lm_eval").glob("results_*.json"))) == 3

    # another r on the same inputs adds to the folder (nothing measured is dropped)
    more = [*argv[: argv.index("--r")], "--r", "8", *argv[argv.index("--r") + 2 :]]
    code, _, err = _run([a for a in more if a not in ("--exit", "kl:1e-2")], capsys)
    assert code in (0, None), err
    assert sorted(set(read_results(out / "lm_eval")["r"].to_list())) == [1, 2, 4, 8]

    # the same folder with other data is refused
    (tmp_path / "x").mkdir()
    other = _few_tasks(tmp_path / "x", 5)
    code, _, err = _run(_sweep_argv(out, other, "--r", "1"), capsys)
    assert code == 2 and err.startswith("error: --out") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--r", "1,2,65"], "r=65 is out of range; valid: whole numbers 1..64"),
        (["--r", "0,1"], "r must be >= 1"),
        (["--r", "1", "--exit", "bogus:1"], "unknown exit criterion 'bogus'; valid: kl,"),
        (["--r", "1", "--exit", "kl:abc"], "threshold 'abc' is not a number"),
        (["--r", "1", "--exit-cap", "100", "--exit", "kl"], "r=100 is out of range"),
    ],
)
def test_bad_sweep_inputs_are_one_line_errors(tmp_path, capsys, extra, message):
    code, _, err = _run(_sweep_argv(tmp_path / "s", BYTES / "cloze.jsonl", *extra), capsys)
    assert code == 2
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_a_fixed_depth_model_or_no_data_is_refused(tmp_path, capsys):
    code, _, err = _run(
        ["recurrent", "sweep", "--model", str(BYTES / "model"), "--out", str(tmp_path / "s")],
        capsys,
    )
    assert code == 2 and "pass --tasks FILE and/or --corpus FILE" in err
    gemma = tmp_path / "gemma"
    shutil.copytree(GEMMA, gemma)
    argv = ["recurrent", "sweep", "--model", str(gemma), "--r", "1", "--out", str(tmp_path / "g")]
    code, _, err = _run([*argv, "--tasks", str(BYTES / "cloze.jsonl")], capsys)
    assert code == 2 and "has no recurrence to sweep" in err and len(err.strip().splitlines()) == 1
