"""Loss, bits per byte and multiple-choice accuracy, against numbers recorded with transformers.

The per-document NLL sums and per-choice log-likelihoods in data_models/*/goldens.json come from
GemmaForCausalLM (tools/make_gemma_goldens.py); corpus and task readers are checked on real files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gemstones.errors import GemstonesInputError
from gemstones.evaluate.metrics import (
    EvaluationInputError,
    MCItem,
    corpus_loss,
    multiple_choice,
    read_corpus,
    read_tasks,
)
from gemstones.models import ModelLoadError, load_model, load_tokenizer

DATA = Path(__file__).parent / "data_models"
EVAL = Path(__file__).parent / "data_eval"
MODEL = DATA / "gemma_gqa_untied"


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(MODEL, vocab_size=320)


@pytest.fixture(scope="module")
def gold():
    return json.loads((MODEL / "goldens.json").read_text())


@pytest.fixture(scope="module")
def docs(gold):
    return [d["text"] for d in gold["documents"]]


def test_whole_document_sums_match_transformers(model, tok, gold, docs):
    result = corpus_loss(model, tok, docs, context=64, packing="truncate", batch_size=2)
    want = [d["nll_sum"] for d in gold["documents"]]
    np.testing.assert_allclose(result.document_nll, want, rtol=1e-5, atol=1e-3)
    assert result.document_tokens == tuple(d["scored"] for d in gold["documents"])
    assert result.tokens == sum(result.document_tokens)
    assert result.documents == 3
    assert result.loss == pytest.approx(sum(want) / result.tokens, rel=1e-5)
    # the first token of each document is unscored: its bytes are not counted
    full = [len(t.encode()) for t in docs]
    first = [len(tok.decode([tok.encode(t).ids[0]]).encode()) for t in docs]
    assert list(result.document_bytes) == [f - s for f, s in zip(full, first, strict=True)]
    assert result.bits_per_byte == pytest.approx(
        result.nll_sum / math.log(2) / result.bytes, rel=1e-12
    )


@pytest.mark.slow
def test_sliding_scores_every_token_once_whatever_the_window(model, tok, gold, docs):
    whole = corpus_loss(model, tok, docs, context=64, packing="sliding")
    np.testing.assert_allclose(
        whole.document_nll, [d["nll_sum"] for d in gold["documents"]], atol=1e-3
    )
    for context, stride in [(8, 3), (16, 15), (5, 1)]:
        small = corpus_loss(model, tok, docs, context=context, packing="sliding", stride=stride)
        assert small.document_tokens == whole.document_tokens
        assert small.document_bytes == whole.document_bytes
        # a shorter history changes the loss of the later tokens (a real windowing, not a copy)
        assert not np.allclose(small.document_nll, whole.document_nll, atol=1e-2)


def test_truncate_keeps_the_first_context_tokens(model, tok, docs):
    result = corpus_loss(model, tok, docs, context=8, packing="truncate")
    assert result.document_tokens == (8, 8, 8)
    for text, nbytes in zip(docs, result.document_bytes, strict=True):
        enc = tok.encode(text)
        assert nbytes == len(text[enc.offsets[0][1] : enc.offsets[8][1]].encode())
    first8 = corpus_loss(model, tok, [tok.decode(tok.encode(docs[0]).ids[:9])], context=64)
    assert result.document_nll[0] == pytest.approx(first8.document_nll[0], abs=1e-3)


def test_pack_concatenates_and_scores_all_but_the_first_token(model, tok, docs):
    packed = corpus_loss(model, tok, docs, context=16, packing="pack", batch_size=3)
    lengths = [len(tok.encode(t).ids) for t in docs]
    assert packed.tokens == sum(lengths) - 1
    assert packed.document_tokens == (lengths[0] - 1, lengths[1], lengths[2])
    assert packed.bytes == sum(len(t.encode()) for t in docs) - 1  # "S" is not scored
    # the one context window that holds only document 0 gives the same numbers as scoring it alone
    alone = corpus_loss(model, tok, docs[:1], context=16, packing="pack")
    assert packed.document_nll[0] == pytest.approx(alone.document_nll[0], abs=1e-3)


def test_prefix_token_scores_every_token_and_counts_every_byte(model, tok, docs):
    result = corpus_loss(model, tok, docs, context=64, packing="truncate", prefix_token_id=0)
    assert result.document_tokens == tuple(len(tok.encode(t).ids) for t in docs)
    assert result.document_bytes == tuple(len(t.encode()) for t in docs)


@pytest.mark.slow
def test_batch_size_does_not_change_results(model, tok, docs):
    one = corpus_loss(model, tok, docs, context=16, packing="sliding", batch_size=1)
    many = corpus_loss(model, tok, docs, context=16, packing="sliding", batch_size=5)
    np.testing.assert_allclose(one.document_nll, many.document_nll, atol=1e-4)
    assert one.to_dict()["document_tokens"] == list(many.document_tokens)
    assert set(one.to_dict()) >= {"loss", "bits_per_byte", "tokens", "bytes", "document_nll"}


def test_loss_arguments_are_checked(model, tok, docs):
    with pytest.raises(EvaluationInputError, match=r"unknown packing 'stack'; choose one of"):
        corpus_loss(model, tok, docs, packing="stack")
    with pytest.raises(EvaluationInputError, match=r"context 4096 exceeds"):
        corpus_loss(model, tok, docs, context=4096)
    with pytest.raises(EvaluationInputError, match=r"stride 8 must be"):
        corpus_loss(model, tok, docs, context=8, packing="sliding", stride=8)
    with pytest.raises(EvaluationInputError, match=r"nothing to score"):
        corpus_loss(model, tok, ["a", ""], context=8)
    with pytest.raises(EvaluationInputError, match=r"no documents"):
        corpus_loss(model, tok, [], context=8)
    small = load_model(DATA / "gemma_mha_wide_heads")
    with pytest.raises(ModelLoadError, match=r"does not fit the model's vocab_size 256"):
        corpus_loss(small, tok, docs, context=8)


def test_multiple_choice_matches_transformers_and_lm_eval_rules(model, tok, gold):
    items = [
        MCItem(i["context"], tuple(i["choices"]), i["answer"]) for i in gold["multiple_choice"]
    ]
    result = multiple_choice(model, tok, items, context=64, batch_size=4)
    for got, item in zip(result.loglikelihoods, gold["multiple_choice"], strict=True):
        np.testing.assert_allclose(got, item["loglikelihoods"], rtol=1e-5, atol=1e-3)
    lls = [np.array(x) for x in result.loglikelihoods]
    assert result.predictions == tuple(int(np.argmax(x)) for x in lls)
    lengths = [np.array([len(c) for c in it.choices], dtype=float) for it in items]
    assert result.predictions_norm == tuple(
        int(np.argmax(x / n)) for x, n in zip(lls, lengths, strict=True)
    )
    assert result.acc == np.mean(np.array(result.predictions) == 0)
    assert result.chance == pytest.approx(1 / 3)
    # answers set to what the model prefers: every item right
    right = [
        MCItem(it.context, it.choices, p) for it, p in zip(items, result.predictions, strict=True)
    ]
    assert multiple_choice(model, tok, right, context=64).acc == 1.0


def test_multiple_choice_reads_the_task_file(model, tok):
    items = read_tasks(EVAL / "tasks.jsonl")
    result = multiple_choice(model, tok, items, context=64)
    assert result.items == 3
    assert result.answers == (0, 0, 0)
    assert 0.0 <= result.acc <= 1.0 and 0.0 <= result.acc_norm <= 1.0
    assert math.isfinite(result.acc_stderr)
    assert json.loads(json.dumps(result.to_dict()))["loglikelihoods"][2][1] < 0


def test_multiple_choice_empty_context_needs_a_prefix(model, tok):
    items = [{"context": "", "choices": ["fox", "dog"], "answer": 1}]
    with pytest.raises(EvaluationInputError, match=r"empty context"):
        multiple_choice(model, tok, items, context=32)
    result = multiple_choice(model, tok, items, context=32, prefix_token_id=0)
    assert len(result.loglikelihoods[0]) == 2


def test_every_returned_value_is_a_registered_metric():
    from registry.metrics import EVALUATED_COLUMNS, evaluated_column

    values = {column.value: column for group in EVALUATED_COLUMNS.values() for column in group}
    assert {"loss", "bits_per_byte", "acc", "acc_norm"} <= set(values)
    assert values["loss"].kind == "loss" and values["acc"].kind == "accuracy"
    assert evaluated_column("eval_acc_norm_quiz").value == "acc_norm"


# -- readers -----------------------------------------------------------------------------------------


def test_read_corpus_formats(tmp_path):
    assert len(read_corpus(EVAL / "corpus.jsonl")) == 3
    (tmp_path / "a.jsonl").write_text('{"body": "one"}\n{"body": "two"}\n')
    assert read_corpus(tmp_path / "a.jsonl", field="body") == ["one", "two"]
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("second")
    (folder / "a.txt").write_text("first\nline")
    (folder / "sub" / "c.txt").write_text("third")
    assert read_corpus(folder) == ["first\nline", "second", "third"]
    assert read_corpus(folder / "b.txt") == ["second"]
    pq.write_table(
        pa.table({"content": ["x y", None, "z"], "n": [1, 2, 3]}), tmp_path / "c.parquet"
    )
    assert read_corpus(tmp_path / "c.parquet", column="content") == ["x y", "z"]


@pytest.mark.parametrize(
    ("name", "content", "kwargs", "message"),
    [
        ("e.jsonl", b"\n\n", {}, r"is empty"),
        ("e.txt", b"   \n", {}, r"is empty"),
        ("b.txt", b"abc\x00\x01def", {}, r"looks binary"),
        ("l.txt", "caf\u00e9".encode("latin-1"), {}, r"not UTF-8 text"),
        (
            "f.jsonl",
            b'{"text": "ok"}\n{"body": "no"}\n',
            {},
            r"line 2: no 'text' field \(found: body\)",
        ),
        ("t.jsonl", b'{"text": 3}\n', {}, r"line 1: field 'text' is int"),
        ("j.jsonl", b'{"text": "ok"}\n{oops\n', {}, r"line 2: not valid JSON"),
        ("x.csv", b"text\nhello\n", {}, r"unknown format '.csv'"),
    ],
)
def test_read_corpus_refuses_bad_input(tmp_path, name, content, kwargs, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(EvaluationInputError, match=message) as info:
        read_corpus(tmp_path / name, **kwargs)
    assert isinstance(info.value, GemstonesInputError)


def test_read_corpus_parquet_and_path_errors(tmp_path):
    pq.write_table(pa.table({"body": ["a"], "n": [1]}), tmp_path / "c.parquet")
    with pytest.raises(EvaluationInputError, match=r"no column 'text'; columns: body, n"):
        read_corpus(tmp_path / "c.parquet")
    with pytest.raises(EvaluationInputError, match=r"column 'n' is int64"):
        read_corpus(tmp_path / "c.parquet", column="n")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(EvaluationInputError, match=r"not a readable parquet"):
        read_corpus(tmp_path / "bad.parquet")
    with pytest.raises(EvaluationInputError, match=r"does not exist"):
        read_corpus(tmp_path / "missing.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvaluationInputError, match=r"holds no .txt files"):
        read_corpus(tmp_path / "empty")


def test_read_tasks_accepts_question_or_context():
    items = read_tasks(EVAL / "tasks.jsonl")
    assert items[1] == MCItem(
        "A checkpoint is saved every",
        ("two billion tokens", "day", "width and depth of the model"),
        0,
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"context": "q", "choices": ["a", "b"]}, r"line 2: no 'answer'"),
        ({"context": "q", "choices": ["a", "b"], "answer": 2}, r"line 2: answer 2 is out of range for 2 choices"),
        ({"context": "q", "choices": ["a", "b"], "answer": -1}, r"answer -1 is out of range"),
        ({"context": "q", "choices": ["a", "b"], "answer": True}, r"answer True is not an integer"),
        ({"context": "q", "choices": ["a", "b"], "answer": "0"}, r"answer '0' is not an integer"),
        ({"context": "q", "choices": ["a"], "answer": 0}, r"at least two non-empty strings"),
        ({"context": "q", "choices": ["a", ""], "answer": 0}, r"at least two non-empty strings"),
        ({"choices": ["a", "b"], "answer": 0}, r"needs a string 'context'"),
        (["q", "a"], r"expected a JSON object"),
    ],
)  # fmt: skip
def test_read_tasks_refuses_bad_rows(tmp_path, row, message):
    good = {"context": "q", "choices": ["a", "b"], "answer": 0}
    (tmp_path / "t.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(EvaluationInputError, match=message):
        read_tasks(tmp_path / "t.jsonl")


def test_read_tasks_empty_or_missing(tmp_path):
    (tmp_path / "t.jsonl").write_text("\n")
    with pytest.raises(EvaluationInputError, match=r"has no items"):
        read_tasks(tmp_path / "t.jsonl")
    with pytest.raises(EvaluationInputError, match=r"does not exist"):
        read_tasks(tmp_path / "nope.jsonl")
    (tmp_path / "b.jsonl").write_bytes(b"\x00\x01\x02")
    with pytest.raises(EvaluationInputError, match=r"looks binary"):
        read_tasks(tmp_path / "b.jsonl")
