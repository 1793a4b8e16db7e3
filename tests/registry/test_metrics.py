"""The metric registry describes every measurement column of the embedded catalog, and nothing else."""

from __future__ import annotations

import polars as pl
import pytest

from registry.catalog import CHECKPOINT_COLUMNS, embedded_catalog_path, measurement_columns
from registry.errors import RegistryInputError
from registry.metrics import (
    BENCHMARK_CHOICES,
    METRICS,
    Metric,
    MetricRegistry,
    benchmark_metric,
    evaluated_column,
    evaluated_metric,
    get_metric,
)


@pytest.fixture(scope="module")
def catalog() -> pl.DataFrame:
    return pl.read_parquet(embedded_catalog_path())


def test_every_measurement_column_is_described_and_every_metric_has_a_column(catalog) -> None:
    measured = measurement_columns(catalog)
    assert "val_loss" in measured and "bench_hellaswag_stderr" in measured
    assert not set(measured) & set(CHECKPOINT_COLUMNS)
    undescribed = [c for c in measured if METRICS.describing(c) is None]
    assert undescribed == []
    described = [c for name in METRICS for c in METRICS.get(name).columns]
    assert sorted(described) == sorted(measured)  # no metric without its column, none twice
    for name in CHECKPOINT_COLUMNS:  # the split names real columns
        assert name in catalog.columns


def test_the_catalog_metrics_are_four_losses_and_nine_benchmarks() -> None:
    assert METRICS.names("loss") == (
        "val_loss", "val_loss_fineweb", "val_loss_fineweb_edu", "val_loss_dclm",
    )  # fmt: skip
    accuracies = METRICS.metrics("accuracy")
    assert len(accuracies) == 9 == len(BENCHMARK_CHOICES)
    chance = {m.name: m.chance for m in accuracies}
    assert chance["bench_hellaswag"] == pytest.approx(0.25)
    assert chance["bench_commonsense_qa"] == pytest.approx(0.2)
    assert chance["bench_siqa"] == pytest.approx(1 / 3)
    assert chance["bench_piqa"] == chance["bench_winogrande"] == pytest.approx(0.5)
    for metric in METRICS.metrics():
        assert metric.source == "catalog" and "data/upstream/gemstones" in metric.provenance
        assert metric.direction == ("lower" if metric.kind == "loss" else "higher")
        assert (metric.chance is None) == (metric.kind == "loss")


def test_the_embedded_benchmarks_sit_above_their_chance_level(catalog) -> None:
    """Measured lighteval accuracies of the largest models are above chance (a check that each
    chance level is the right number of choices); the smallest early checkpoints are near it."""
    final = catalog.filter(pl.col("revision") == "main", pl.col("variant") == "main")
    for metric in METRICS.metrics("accuracy"):
        best = final[metric.name].max()
        floor = catalog[metric.name].min()
        assert best > metric.chance, metric.name
        assert floor > metric.chance - 0.1, metric.name  # no benchmark far below its chance level


def test_unknown_metrics_fail_with_a_typed_error_listing_the_available_ones() -> None:
    with pytest.raises(
        RegistryInputError, match=r"unknown metric 'perplexity'; available: val_loss, "
    ):
        get_metric("perplexity")
    with pytest.raises(
        RegistryInputError, match=r"unknown loss 'bench_piqa' \('bench_piqa' is an accuracy\)"
    ):
        METRICS.get_kind("bench_piqa", "loss", "loss")
    assert benchmark_metric("hellaswag").name == "bench_hellaswag"
    with pytest.raises(RegistryInputError, match="unknown benchmark 'bogus'; valid: arc_challenge"):
        benchmark_metric("bogus")


def test_registering_checks_kinds_chance_and_clashes() -> None:
    registry = METRICS.copy()
    toy = Metric("toy_loss", "loss", None, "nats", "catalog", "a test")
    assert registry.register(toy) is toy and registry.register(toy) is toy  # equal: kept
    assert "toy_loss" not in METRICS  # a copy is independent
    with pytest.raises(RegistryInputError, match="already registered"):
        registry.register(Metric("toy_loss", "loss", None, "bits", "catalog", "other"))
    with pytest.raises(RegistryInputError, match="'bench_piqa_stderr' is already described"):
        registry.register(Metric("bench_piqa_stderr", "loss", None, "", "catalog", ""))
    with pytest.raises(RegistryInputError, match="a loss has no chance level"):
        Metric("x", "loss", 0.5, "", "catalog", "")
    with pytest.raises(RegistryInputError, match="unknown kind 'score'"):
        Metric("x", "score", None, "", "catalog", "")  # type: ignore[arg-type]
    with pytest.raises(RegistryInputError, match=r"chance must be in \[0, 1\)"):
        Metric("x", "accuracy", 1.5, "", "catalog", "")
    assert MetricRegistry().names() == ()


def test_evaluated_columns_take_kind_and_unit_from_their_prefix() -> None:
    assert evaluated_column("eval_acc_norm_quiz").value == "acc_norm"
    assert evaluated_column("eval_acc_quiz").value == "acc"
    assert evaluated_column("eval_bpb_wiki").kind == "loss"
    assert evaluated_column("eval_loss_") is None and evaluated_column("val_loss") is None
    acc = evaluated_metric("eval_acc_quiz", chance=0.25, provenance="3 results")
    assert (acc.kind, acc.chance, acc.source) == ("accuracy", 0.25, "evaluated")
    assert acc.provenance.endswith("; 3 results")
    assert evaluated_metric("eval_loss_wiki", chance=0.3).chance is None  # losses: never
    with pytest.raises(
        RegistryInputError, match="not an evaluated metric column; valid: eval_loss_<name>"
    ):
        evaluated_metric("eval_f1_x")
