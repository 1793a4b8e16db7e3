"""``gemstones eval loss | mc`` on one local checkpoint: outputs, and one-line errors on bad input.

The checkpoints are tiny Gemma models in the Hugging Face layout (tests/gemstones/eval_fixtures.py).
"""

from __future__ import annotations

import json
import math
import struct

import polars as pl
import pytest

from gemstones.cli import main

from .eval_fixtures import (
    held_out_documents,
    training_text,
    write_corpus,
    write_tasks,
    write_tiny_gemma,
)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(args)
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A bigram checkpoint, a random one, a corpus and a task file."""
    root = tmp_path_factory.mktemp("eval_cli")
    return {
        "bigram": write_tiny_gemma(root / "bigram", bigram_text=training_text(60_000), layers=1),
        "random": write_tiny_gemma(root / "random", seed=3),
        "corpus": write_corpus(root / "held_out.jsonl"),
        "tasks": write_tasks(root / "tasks.jsonl"),
        "root": root,
    }


def test_loss_json_carries_loss_bits_per_byte_and_tokens(files, capsys) -> None:
    code, out, err = run(
        ["eval", "loss", "--model", str(files["bigram"]), "--corpus", str(files["corpus"]),
         "--context", "128", "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(out)
    assert record["metric"] == "held_out" and record["model"] == str(files["bigram"])
    assert record["tokens"] > 0 and record["num_parameters"] > 0
    # a bigram model counted on Python source beats the uniform distribution over 259 tokens
    assert 0 < record["loss"] < math.log(259)
    n_bytes = sum(len(d.encode()) for d in held_out_documents())
    assert record["bits_per_byte"] > 0
    assert record["bytes"] <= n_bytes


def test_the_better_model_has_the_lower_loss_in_every_format(files, capsys) -> None:
    losses = {}
    for which in ("bigram", "random"):
        code, out, _ = run(
            ["eval", "loss", "--model", str(files[which]), "--corpus", str(files["corpus"]),
             "--context", "128", "--format", "csv"],
            capsys,
        )  # fmt: skip
        assert code == 0
        losses[which] = pl.read_csv(out.encode())["loss"][0]
    assert losses["bigram"] < losses["random"]
    code, out, _ = run(
        ["eval", "loss", "--model", str(files["bigram"]), "--corpus", str(files["corpus"]),
         "--context", "128"],
        capsys,
    )  # fmt: skip
    assert code == 0 and "bits_per_byte" in out and "loss" in out


def test_multiple_choice_reports_acc_and_acc_norm(files, capsys) -> None:
    code, out, err = run(
        ["eval", "mc", "--model", str(files["bigram"]), "--tasks", str(files["tasks"]),
         "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(out)
    assert record["n"] == 4
    assert 0 <= record["acc"] <= 1 and 0 <= record["acc_norm"] <= 1


def _expect_user_error(args, capsys, *fragments: str) -> str:
    code, out, err = run(args, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _broken_checkpoint(files, name, change):
    folder = write_tiny_gemma(files["root"] / name, seed=1)
    change(folder)
    return folder


def test_an_unsupported_config_is_refused_naming_the_field(files, capsys) -> None:
    def llama(folder):
        config = json.loads((folder / "config.json").read_text())
        config["model_type"] = "llama"
        (folder / "config.json").write_text(json.dumps(config))

    folder = _broken_checkpoint(files, "llama", llama)
    _expect_user_error(
        ["eval", "loss", "--model", str(folder), "--corpus", str(files["corpus"])], capsys,
        "model_type", "llama",
    )  # fmt: skip


def test_a_missing_shard_and_a_corrupt_header_are_refused(files, capsys) -> None:
    def shard_missing(folder):
        (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
        index = {
            "metadata": {"total_size": 1},
            "weight_map": {
                "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                "lm_head.weight": "model-00002-of-00002.safetensors",
            },
        }
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))

    def corrupt_header(folder):
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(struct.pack("<Q", 10**12) + data[8:])

    for name, change, fragment in (
        ("sharded", shard_missing, "model-00002-of-00002.safetensors"),
        ("corrupt", corrupt_header, "model.safetensors"),
    ):
        folder = _broken_checkpoint(files, name, change)
        _expect_user_error(
            ["eval", "loss", "--model", str(folder), "--corpus", str(files["corpus"])], capsys,
            fragment,
        )  # fmt: skip


def test_a_tokenizer_larger_than_the_vocabulary_is_refused(files, capsys) -> None:
    folder = write_tiny_gemma(files["root"] / "big_tokenizer", seed=2, tokenizer_extra=40)
    _expect_user_error(
        ["eval", "loss", "--model", str(folder), "--corpus", str(files["corpus"])], capsys,
        "tokenizer",
    )  # fmt: skip


def test_empty_or_binary_corpora_are_refused(files, capsys) -> None:
    empty = files["root"] / "empty.txt"
    empty.write_text("")
    binary = files["root"] / "weights.bin.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    for corpus in (empty, binary):
        _expect_user_error(
            ["eval", "loss", "--model", str(files["bigram"]), "--corpus", str(corpus)], capsys,
            corpus.name,
        )  # fmt: skip


def test_task_rows_without_an_answer_or_out_of_range_are_refused(files, capsys) -> None:
    rows = {
        "no_answer.jsonl": ({"question": "q", "choices": ["a", "b"]},),
        "out_of_range.jsonl": ({"question": "q", "choices": ["a", "b"], "answer": 2},),
    }
    for name, content in rows.items():
        tasks = write_tasks(files["root"] / name, content)
        _expect_user_error(
            ["eval", "mc", "--model", str(files["bigram"]), "--tasks", str(tasks)], capsys,
            name,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--model", "x/y@main", "--shape", "768x3"], "give exactly one of"),
        ([], "give exactly one of"),
        (["--model", "not a repo"], "neither a folder nor REPO@REVISION"),
        (["--shape", "1x1"], "unknown shape"),
        (["--design", "no_such_design"], "unknown design"),
        (["--model", "a/b", "--executor", "dask"], "unknown executor 'dask'"),
        (["--shape", "768x3", "--address", "auto"], "--address goes with --executor ray"),
        (["--model", "a/b", "--name", "Bad Name"], "--name 'Bad Name'"),
    ],
)
def test_bad_selections_exit_2_with_one_line(files, capsys, args, fragment) -> None:
    _expect_user_error(["eval", "loss", "--corpus", str(files["corpus"]), *args], capsys, fragment)


def test_a_missing_corpus_is_named(files, capsys) -> None:
    _expect_user_error(
        ["eval", "loss", "--model", str(files["bigram"]), "--corpus", "nope.jsonl"], capsys,
        "nope.jsonl",
    )  # fmt: skip


def test_dry_run_needs_hub_checkpoints(files, capsys) -> None:
    _expect_user_error(
        ["eval", "loss", "--model", str(files["bigram"]), "--corpus", str(files["corpus"]),
         "--dry-run"],
        capsys, "--dry-run",
    )  # fmt: skip
