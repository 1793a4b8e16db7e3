"""Result files and their catalog columns: metric-set identity, the store, joins by commit or revision."""

from __future__ import annotations

import json
from types import SimpleNamespace

import polars as pl
import pytest

from gemstones.errors import GemstonesInputError
from gemstones.evaluate.results import MetricSet, ResultStore, join_results, metric_name_from

COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


def _record(repo, revision, commit, name, loss, created, kind="loss"):
    values = {"loss": loss, "bits_per_byte": loss / 0.7, "tokens": 10}
    if kind == "mc":
        values = {"acc": loss, "acc_norm": loss, "n": 4}
    return {
        "schema": 1,
        "repo_id": repo,
        "revision": revision,
        "commit": commit,
        "metric": {"id": f"{kind}-{name}-000000000000", "kind": kind, "name": name},
        "values": values,
        "created": created,
    }


def test_a_metric_set_is_keyed_by_content_and_options(tmp_path) -> None:
    data = tmp_path / "My Corpus.jsonl"
    data.write_text('{"text": "a"}\n')
    first = MetricSet.of_file("loss", data, context=128, packing="pack")
    assert first.name == "my_corpus" == metric_name_from(data)
    assert first.id.startswith("loss-my_corpus-") and len(first.id.split("-")[-1]) == 12
    assert MetricSet.of_file("loss", data, packing="pack", context=128).id == first.id
    assert MetricSet.of_file("loss", data, context=256, packing="pack").id != first.id
    assert MetricSet.of_file("loss", data, name="wiki", context=128, packing="pack").columns == {
        "loss": "eval_loss_wiki",
        "bits_per_byte": "eval_bpb_wiki",
    }
    data.write_text('{"text": "b"}\n')
    assert MetricSet.of_file("loss", data, context=128, packing="pack").id != first.id
    with pytest.raises(GemstonesInputError, match="--name 'Wiki-1'"):
        MetricSet.of_file("loss", data, name="Wiki-1")
    with pytest.raises(GemstonesInputError, match="unknown metric kind 'bleu'"):
        MetricSet("bleu", "x", str(data), "0")


def test_the_store_writes_one_file_per_unit_and_reads_them_back(tmp_path) -> None:
    store = ResultStore(tmp_path)
    metric = SimpleNamespace(id="loss-wiki-0123456789ab")
    unit = SimpleNamespace(repo_id="org/model", commit=COMMIT_A, metric=metric)
    assert not store.is_done(unit)
    record = _record("org/model", "step_1", COMMIT_A, "wiki", 3.0, "2026-01-01T00:00:00+00:00")
    store.save(unit, record)
    assert store.is_done(unit)
    assert store.path(unit) == tmp_path / "org/model" / COMMIT_A / "loss-wiki-0123456789ab.json"
    assert store.records() == [record]
    frame = store.frame()
    assert frame.columns[:5] == ["repo_id", "revision", "commit", "metric", "kind"]
    assert frame["loss"].to_list() == [3.0]
    with pytest.raises(GemstonesInputError, match="not a hexadecimal commit"):
        store.path(SimpleNamespace(repo_id="org/model", commit="../../etc", metric=metric))
    store.path(unit).write_text("{ half a reco")
    with pytest.raises(GemstonesInputError, match="cannot be read"):
        store.records()


def test_results_join_by_commit_when_pinned_and_by_revision_otherwise() -> None:
    catalog = pl.DataFrame(
        {
            "repo_id": ["org/m", "org/m", "org/m", "org/n"],
            "revision": ["step_1", "step_2", "step_3", "step_1"],
            "commit": [COMMIT_A, None, "c" * 40, None],
            "val_loss": [3.0, 2.9, 2.8, 3.5],
        }
    )
    records = [
        _record("org/m", "step_1", COMMIT_A, "wiki", 2.0, "2026-01-01T00:00:00+00:00"),
        # the branch step_1 moved to another commit later: the pinned row keeps its own commit
        _record("org/m", "step_1", COMMIT_B, "wiki", 9.0, "2026-02-01T00:00:00+00:00"),
        _record("org/m", "step_2", COMMIT_B, "wiki", 1.5, "2026-01-01T00:00:00+00:00"),
        _record("org/m", "step_2", COMMIT_B, "wiki", 1.4, "2026-03-01T00:00:00+00:00"),
        _record("org/n", "step_1", COMMIT_A, "quiz", 0.75, "2026-01-01T00:00:00+00:00", "mc"),
    ]
    joined = join_results(catalog, records)
    assert joined.columns == [
        *catalog.columns,
        "eval_acc_norm_quiz",
        "eval_acc_quiz",
        "eval_bpb_wiki",
        "eval_loss_wiki",
    ]
    assert joined["revision"].to_list() == catalog["revision"].to_list()  # order kept
    assert joined["eval_loss_wiki"].to_list() == [2.0, 1.4, None, None]  # newest of step_2
    assert joined["eval_acc_quiz"].to_list() == [None, None, None, 0.75]
    assert join_results(catalog, []) is catalog
    with pytest.raises(GemstonesInputError, match="already a catalog column"):
        join_results(catalog.with_columns(eval_loss_wiki=pl.lit(1.0)), records)


def test_a_design_on_an_unevaluated_metric_names_the_evaluated_ones(tmp_path) -> None:
    from gemstones.scaling.designs import design_table, parse_design

    store = tmp_path / "evals"
    record = _record(
        "tomg-group-umd/Gemstone-256x23", "step_00000477", COMMIT_A, "wiki", 4.0, "2026"
    )
    path = store / record["repo_id"] / COMMIT_A / "loss-wiki-000000000000.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    design = parse_design(
        {"selection": {"loss": "eval_loss_wiki", "results": str(store), "shapes": ["256x23"]}},
        path=str(tmp_path / "d.toml"),
    )
    table = design_table(design)
    assert table["revision"].to_list() == ["step_00000477"] and table["loss"].to_list() == [4.0]
    other = parse_design({"selection": {"loss": "eval_loss_news", "results": str(store)}})
    with pytest.raises(GemstonesInputError, match="eval_bpb_wiki, eval_loss_wiki"):
        design_table(other)


def test_evaluated_columns_join_the_metric_registry_with_kind_and_chance(tmp_path) -> None:
    from gemstones.evaluate.results import metric_registry
    from registry.metrics import METRICS

    quiz = _record("org/n", "step_1", COMMIT_A, "quiz", 0.75, "2026", "mc")
    quiz["values"]["chance"] = 0.375  # 2- and 4-choice items: mean of 1 / choices
    old_quiz = _record("org/n", "step_2", COMMIT_B, "quiz", 0.5, "2026", "mc")
    old_quiz["values"]["chance"] = 0.375
    blind = _record("org/n", "step_1", COMMIT_A, "blind", 0.5, "2026", "mc")  # no chance recorded
    wiki = _record("org/m", "step_1", COMMIT_A, "wiki", 2.0, "2026")
    registry = metric_registry(records=[quiz, old_quiz, blind, wiki])
    evaluated = [m for m in registry.metrics() if m.source == "evaluated"]
    assert [m.name for m in evaluated] == [
        "eval_acc_blind", "eval_acc_norm_blind", "eval_acc_norm_quiz", "eval_acc_quiz",
        "eval_bpb_wiki", "eval_loss_wiki",
    ]  # fmt: skip
    assert registry.get("eval_acc_quiz").chance == pytest.approx(0.375)
    assert registry.get("eval_acc_norm_quiz").kind == "accuracy"
    assert registry.get("eval_acc_blind").chance is None
    assert registry.get("eval_bpb_wiki").unit == "bits per byte"
    assert registry.get("eval_loss_wiki").kind == "loss"
    assert "eval_loss_wiki" not in METRICS  # the embedded registry is left alone
    quiz_other = _record("org/n", "step_3", COMMIT_B, "quiz", 0.6, "2026", "mc")
    quiz_other["values"]["chance"] = 0.25  # another task file under the same name
    assert metric_registry(records=[quiz, quiz_other]).get("eval_acc_quiz").chance is None
    store = tmp_path / "evals"  # from a results folder
    path = store / wiki["repo_id"] / COMMIT_A / "loss-wiki-000000000000.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(wiki))
    assert "eval_loss_wiki" in metric_registry(store)
    assert metric_registry(tmp_path / "nothing").names() == METRICS.names()
