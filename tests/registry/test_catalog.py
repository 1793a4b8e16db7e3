"""The embedded catalog: rebuilt from upstream, complete, exact, and queryable."""

from __future__ import annotations

import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from registry.catalog import Catalog, embedded_catalog_path, load_catalog
from registry.errors import RegistryInputError
from registry.suites.gemstones import naming
from registry.suites.gemstones.build import PAPER_SETS, build_catalog, read_paper_set, upstream_dir


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(prefer_refreshed=False)


def test_rebuilding_from_upstream_reproduces_the_committed_catalog(catalog: Catalog) -> None:
    assert_frame_equal(build_catalog(), catalog.frame)
    assert catalog.source == embedded_catalog_path()


def test_counts_per_variant(catalog: Catalog) -> None:
    counts = catalog.counts()
    assert counts["checkpoints"] == 5049
    assert counts["per_variant"] == {"main": 22 * 175, "lr_ablation": 20 * 50, "cooldown": 199}
    assert counts["shapes"] == 22
    assert catalog.frame.select("repo_id", "revision").is_duplicated().sum() == 0


def test_main_variant_every_477_steps_to_350b(catalog: Catalog) -> None:
    main = catalog.select(variant="main")
    per_shape = main.frame.group_by("shape").agg(
        pl.len(),
        first=pl.col("step").min(),
        last=pl.col("step").max(),
        gaps=pl.col("step").sort().diff().unique(),
    )
    assert per_shape.height == 22
    assert set(per_shape["len"]) == {175}
    assert set(per_shape["first"]) == {477}
    assert set(per_shape["last"]) == {83475}
    assert {tuple(g.drop_nulls()) for g in per_shape["gaps"]} == {(477,)}
    assert main.frame["tokens"].max() == 83475 * 4_194_304
    last = main.select(step=83475)
    assert set(last.frame["revision"]) == {"main"}


def test_example_rows_by_naming_rules(catalog: Catalog) -> None:
    row = catalog.get("tomg-group-umd/Gemstone-1024x28@step_00002385")
    assert row["val_loss"] == 3.1010556221
    assert row["tokens"] == 2385 * 4_194_304
    assert row["params"] == 543_482_880
    cooldown = catalog.get(
        "tomg-group-umd/Gemstone-1024x28_cooldown@step_00002385_cooldown_00002622"
    )
    assert cooldown["cooldown_start_step"] == 2385
    assert cooldown["step"] == 2622
    ablation = catalog.select(variant="lr_ablation", shape="1024x28")
    assert set(ablation.frame["repo_id"]) == {"tomg-group-umd/Gemstone-1024x28_lr_ablation"}


@pytest.mark.parametrize("name", PAPER_SETS)
def test_every_upstream_loss_is_reproduced_exactly(catalog: Catalog, name: str) -> None:
    upstream = read_paper_set(name)
    rows = catalog.select(in_set=name).frame
    if name == "cool_begin":
        ours = rows.select("run_name", step="cooldown_start_step", loss="cooldown_start_val_loss")
    else:
        ours = rows.select("run_name", "step", loss="val_loss")
    theirs = upstream.select("run_name", "step", loss="final_loss")
    assert_frame_equal(ours.sort("run_name", "step"), theirs.sort("run_name", "step"))


def test_other_losses_and_benchmarks_match_their_sources(catalog: Catalog) -> None:
    source = json.loads(
        (
            upstream_dir() / "other_validation_losses" / "dclm_losses" / "Gemstone-768x3.json"
        ).read_text()
    )
    for revision, loss in source.items():
        assert catalog.get(f"tomg-group-umd/Gemstone-768x3@{revision}")["val_loss_dclm"] == loss
    bench = pl.read_parquet(upstream_dir() / "benchmarks" / "light_eval_df.parquet")
    index = next(c for c in bench.columns if c.startswith("__index"))
    row = bench.filter(pl.col(index) == "Gemstone-1024x28-step_00002385").row(0, named=True)
    ours = catalog.get("tomg-group-umd/Gemstone-1024x28@step_00002385")
    assert ours["bench_hellaswag"] == row["hellaswag"]
    assert ours["bench_arc_challenge"] == row["arc:challenge"]
    measured = catalog.frame.filter(pl.col("bench_hellaswag").is_not_null())
    assert measured.height == 22 * 35
    assert set(measured["variant"]) == {"main"}


def test_flops_and_gpu_hours_columns(catalog: Catalog) -> None:
    frame = catalog.frame
    assert (frame["flops"] == frame["flops_per_token"] * frame["tokens"].cast(pl.Float64)).all()
    expected = frame["seconds_per_step"] * frame["step"] * frame["num_nodes"] * 8 / 3600
    assert (frame["gpu_hours"] - expected).abs().max() < 1e-9


def test_repo_ids_and_revisions_follow_the_naming_rules(catalog: Catalog) -> None:
    for row in catalog.frame.select(
        "repo_id", "revision", "width", "depth", "variant", "step"
    ).iter_rows(named=True):
        assert naming.parse_repo_id(row["repo_id"]) == naming.RepoName(
            row["width"], row["depth"], row["variant"]
        )
        step, _ = naming.parse_revision(row["revision"])
        assert step in (None, row["step"])


def test_filters(catalog: Catalog) -> None:
    assert len(catalog.select(in_set="hot")) == 220
    assert len(catalog.select(width=512, variant="main")) == 5 * 175
    assert len(catalog.select(shape=["1024x28", "768x3"], variant="main")) == 2 * 175
    window = catalog.select(variant="main", min_tokens=100e9, max_tokens=110e9)
    assert window.frame["tokens"].min() >= 100e9 and window.frame["tokens"].max() <= 110e9
    assert len(catalog.select(where=pl.col("val_loss") < 0)) == 0
    assert catalog.select(step=2385, variant="main").frame["step"].unique().to_list() == [2385]
    assert len(catalog.select(depth=[3, 7])) > 0
    assert catalog.to_pandas().shape == catalog.frame.shape


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variant": "hot"}, "unknown variant 'hot'; valid variants: main, lr_ablation, cooldown"),
        ({"in_set": "warm"}, "unknown paper set 'warm'"),
        ({"shape": "1024x29"}, "unknown shape '1024x29'"),
        ({"min_tokens": 2e9, "max_tokens": 1e9}, "larger than max_tokens"),
    ],
)
def test_bad_filters_name_the_value(catalog: Catalog, kwargs: dict, message: str) -> None:
    with pytest.raises(RegistryInputError, match=message):
        catalog.select(**kwargs)


def test_unknown_checkpoint_suggests_neighbours(catalog: Catalog) -> None:
    with pytest.raises(RegistryInputError, match="closest: step_00002385"):
        catalog.get("tomg-group-umd/Gemstone-1024x28@step_00002384")
    with pytest.raises(RegistryInputError, match="did you mean tomg-group-umd/Gemstone-1024x28"):
        catalog.get("tomg-group-umd/Gemstone-1024x29@main")
    with pytest.raises(RegistryInputError, match="not a Gemstones repository id"):
        catalog.get("gpt2@main")


def test_refreshed_catalog_is_preferred_when_present(tmp_path, monkeypatch) -> None:
    from registry.atomic import write_parquet_atomic
    from registry.user_cache import refreshed_catalog_path

    monkeypatch.setenv("GEMSTONES_CACHE", str(tmp_path))
    pinned = load_catalog().frame.head(3).with_columns(commit=pl.lit("a" * 40))
    write_parquet_atomic(pinned, refreshed_catalog_path())
    loaded = load_catalog()
    assert len(loaded) == 3 and loaded.source == refreshed_catalog_path()
    assert len(load_catalog(prefer_refreshed=False)) == 5049
