"""The Pythia suite: naming, the 154 branches, parameters against the published counts, the catalog,
and refresh / verify / download against the loopback Hub (real huggingface_hub client, real HTTP)."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from registry.catalog import embedded_catalog_path, load_catalog
from registry.errors import RegistryInputError
from registry.hub.client import hub_target
from registry.hub.download import download_checkpoints, estimate_download
from registry.hub.refs import list_suite_repos, refresh_catalog
from registry.hub.verify import verify_checkpoints
from registry.suites import SuiteRepo, get_suite, suite_names, suite_of_repo
from registry.suites.pythia import architecture as arch
from registry.suites.pythia import naming
from registry.suites.pythia.build import build_catalog
from registry.user_cache import refreshed_catalog_path

from .conftest import PYTHIA_SERVED_REPOS, pythia_served_rows
from .hub_server import pythia_checkpoint_files

PYTHIA = get_suite("pythia")

#: Published parameter counts (total, non-embedding) from the Pythia model cards, "Naming
#: convention and parameter count" (typed here independently of data/suites/pythia/architectures.csv).
PUBLISHED = {
    "70m": (70_426_624, 18_915_328),
    "160m": (162_322_944, 85_056_000),
    "410m": (405_334_016, 302_311_424),
    "1b": (1_011_781_632, 805_736_448),
    "1.4b": (1_414_647_808, 1_208_602_624),
    "2.8b": (2_775_208_960, 2_517_652_480),
    "6.9b": (6_857_302_016, 6_444_163_072),
    "12b": (11_846_072_320, 11_327_027_200),
}
#: Paper Table 1: layers, model dimension, heads.
TABLE_1 = {
    "70m": (6, 512, 8), "160m": (12, 768, 12), "410m": (24, 1024, 16), "1b": (16, 2048, 8),
    "1.4b": (24, 2048, 16), "2.8b": (32, 2560, 32), "6.9b": (32, 4096, 32), "12b": (36, 5120, 40),
}  # fmt: skip


def test_the_suites_registry_lists_both_and_rejects_unknown_names():
    assert suite_names()[:2] == ("gemstones", "pythia")
    with pytest.raises(
        RegistryInputError, match=r"unknown suite 'bert'; available: gemstones, pythia"
    ):
        get_suite("bert")
    assert suite_of_repo("EleutherAI/pythia-70m-deduped") is PYTHIA
    assert suite_of_repo("tomg-group-umd/Gemstone-768x3_cooldown").name == "gemstones"
    assert suite_of_repo("EleutherAI/pythia-70m-v0") is None


@pytest.mark.parametrize("size", naming.SIZES)
@pytest.mark.parametrize("variant", naming.VARIANTS)
def test_repo_ids_round_trip(size: str, variant: str):
    repo = PYTHIA.repo_id(size, variant)
    suffix = "-deduped" if variant == "deduped" else ""
    assert repo == f"EleutherAI/pythia-{size}{suffix}"
    layers, width, _ = TABLE_1[size]
    assert PYTHIA.parse_repo_id(repo) == SuiteRepo(size, width, layers, variant)


@pytest.mark.parametrize(
    "bad",
    [
        "EleutherAI/pythia-70m-v0",
        "EleutherAI/pythia-160m-seed1",
        "EleutherAI/pythia-70M",
        "EleutherAI/pythia-13b",
        "EleutherAI/gpt-neox-20b",
        "tomg-group-umd/Gemstone-768x3",
    ],
)
def test_other_repositories_are_not_pythia(bad: str):
    assert not PYTHIA.owns_repo(bad)
    with pytest.raises(RegistryInputError, match="not a Pythia repository id"):
        PYTHIA.parse_repo_id(bad)


def test_the_154_branches_and_their_tokens():
    steps = naming.STEPS
    assert len(steps) == 154
    assert steps[:11] == (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    assert steps[11:] == tuple(range(1000, 143_001, 1000))
    for step in steps:
        revision = PYTHIA.revision(step)
        assert revision == f"step{step}"
        assert PYTHIA.parse_revision(revision) == (step, None)
    assert PYTHIA.parse_revision("main") == (None, None)
    for bad in ("step_00001000", "step01", "step143001", "step-1", "global_step1000"):
        with pytest.raises(RegistryInputError, match="not a Pythia revision"):
            PYTHIA.parse_revision(bad)
    assert int(PYTHIA.tokens_at_step(1)) == 2_097_152 == 1024 * 2048
    assert int(PYTHIA.tokens_at_step(143_000)) == 299_892_736_000  # the model cards' total


def test_parameter_counts_equal_the_published_ones():
    """Tolerance: exact (0 parameters) for every size, total and non-embedding."""
    for shape in arch.shapes():
        layers, width, heads = TABLE_1[shape.size]
        assert (shape.depth, shape.width, shape.heads) == (layers, width, heads)
        total = int(PYTHIA.parameter_count(width, layers))
        non_embedding = int(PYTHIA.non_embedding_parameter_count(width, layers))
        assert (total, non_embedding) == PUBLISHED[shape.size], shape.size
    widths = [TABLE_1[s][1] for s in naming.SIZES]
    depths = [TABLE_1[s][0] for s in naming.SIZES]
    vectorised = PYTHIA.parameter_count(widths, depths)
    assert vectorised.tolist() == [float(PUBLISHED[s][0]) for s in naming.SIZES]
    with pytest.raises(RegistryInputError, match="not a Pythia shape"):
        PYTHIA.parameter_count(512, 7)


def test_flops_per_token_follow_the_stated_accounting():
    # pythia-70m by hand: 3 * (2 * (18,915,328 + 50,304 * 512) + 4 * 6 * 2048 * 512)
    assert float(PYTHIA.flops_per_token(512, 6)) == pytest.approx(343_523_328, rel=1e-12)
    # the 6N rule within 25% for every size (attention adds, the input embedding is free)
    for size, (total, _) in PUBLISHED.items():
        layers, width, _ = TABLE_1[size]
        ratio = float(PYTHIA.flops_per_token(width, layers)) / (6 * total)
        assert 0.75 < ratio < 1.25, size


def test_catalog_rebuilds_exactly_and_has_no_losses():
    built = build_catalog()
    committed = load_catalog(suite="pythia", prefer_refreshed=False)
    assert committed.source == embedded_catalog_path("pythia")
    assert_frame_equal(built, committed.frame)
    frame = committed.frame
    assert frame.height == 2 * 8 * 154 == 2464
    assert frame["repo_id"].n_unique() == 16 and set(frame["suite"]) == {"pythia"}
    per_repo = frame.group_by("repo_id").agg(pl.col("revision"))
    expected = [f"step{s}" for s in naming.STEPS]
    assert all(revisions == expected for revisions in per_repo["revision"].to_list())
    assert (frame["tokens"] == frame["step"] * 2_097_152).all()
    for column in ("val_loss", "val_loss_fineweb", "gpu_hours", "seconds_per_step"):
        assert frame[column].null_count() == frame.height
    gemstones = pl.read_parquet_schema(embedded_catalog_path())
    assert dict(frame.schema) == {k: v for k, v in gemstones.items() if not k.startswith("bench_")}


def test_default_catalog_is_still_gemstones():
    catalog = load_catalog(prefer_refreshed=False)
    assert len(catalog) == 5049 and set(catalog.frame["suite"]) == {"gemstones"}


def test_catalog_queries_use_the_suite_rules():
    catalog = load_catalog(suite="pythia", prefer_refreshed=False)
    assert catalog.shapes == list(naming.SIZES)
    assert len(catalog.select(variant="deduped", shape="70m")) == 154
    assert (
        len(catalog.select(width=2048, max_tokens=2_097_152)) == 2 * 2 * 2
    )  # 1b, 1.4b; steps 0, 1
    main = catalog.get("EleutherAI/pythia-410m")  # main is the same checkpoint as step143000
    assert (main["revision"], main["tokens"]) == ("step143000", 299_892_736_000)
    with pytest.raises(RegistryInputError, match=r"no checkpoint 'step3'; closest: step2, step4"):
        catalog.get("EleutherAI/pythia-410m@step3")
    with pytest.raises(RegistryInputError, match=r"valid variants: standard, deduped"):
        catalog.select(variant="main")
    with pytest.raises(RegistryInputError, match=r"is a pythia checkpoint.*suite='pythia'"):
        load_catalog(prefer_refreshed=False).get("EleutherAI/pythia-70m@step1")


def test_offline_estimate_uses_the_suite_sizes():
    rows = load_catalog(suite="pythia", prefer_refreshed=False).select(shape="12b").frame
    estimate = estimate_download(rows, ("weights", "tokenizer"))
    assert estimate.total_bytes == int(rows["params"].sum()) * 2 + rows.height * 2_200_000
    assert "params x 2 bytes" in estimate.assumptions[0]
    with pytest.raises(RegistryInputError, match="several suites"):
        estimate_download(
            pl.concat([rows.head(1), load_catalog(prefer_refreshed=False).frame.head(1)],
                      how="diagonal_relaxed"),
            ("weights",),
        )  # fmt: skip


# -- against the loopback Hub ---------------------------------------------------------------------


def test_listing_keeps_only_suite_repositories(pythia_hub):
    repos = list_suite_repos(hub_target(pythia_hub.endpoint), "pythia")
    assert repos == sorted(PYTHIA_SERVED_REPOS)  # -v0 and -seed1 are listed by the Hub, not kept
    listed = pythia_hub.state.requests("GET", "/api/models?")
    assert "author=EleutherAI" in str(listed[0]["path"]) and "search=pythia-" in str(
        listed[0]["path"]
    )


def test_refresh_pins_the_pythia_catalog_in_its_own_file(pythia_hub):
    catalog = load_catalog(suite="pythia").frame
    result = refresh_catalog(catalog, max_workers=4)
    report = result.reconciliation
    served = pythia_served_rows()
    assert report.counts()["pinned"] == served.height == 9
    assert report.counts()["repos_missing"] == 16 - 3
    assert result.catalog_path == refreshed_catalog_path("pythia")
    assert result.report_path.name == "refresh_report_pythia.json"
    assert not refreshed_catalog_path().exists()  # the Gemstones refreshed catalog is untouched
    pinned = load_catalog(suite="pythia")
    assert pinned.source == refreshed_catalog_path("pythia")
    commits = pinned.select(where=pl.col("commit").is_not_null()).frame
    state = pythia_hub.state
    assert sorted(commits.select("repo_id", "revision", "commit").iter_rows()) == sorted(
        (r, v, state.repos[r].branches[v])
        for r, v in served.select("repo_id", "revision").iter_rows()
    )


def test_refresh_refuses_rows_of_another_suite(pythia_hub):
    with pytest.raises(RegistryInputError, match="not gemstones"):
        refresh_catalog(pythia_served_rows(), suite="gemstones")


def test_verify_accepts_a_shared_initialisation_and_flags_duplicate_weights(pythia_hub):
    rows = pythia_served_rows()
    clean = verify_checkpoints(rows, max_workers=3)
    assert clean.ok and clean.checked == 9
    assert clean.expected_duplicate_groups == (
        ("EleutherAI/pythia-70m-deduped@step0", "EleutherAI/pythia-70m@step0"),
    )
    # step1 of pythia-160m now serves the final weights: a broken branch
    repo = pythia_hub.state.repos["EleutherAI/pythia-160m"]
    final = repo.commits[repo.branches["step143000"]]
    repo.add_branch("step1", dict(final), salt="broken")
    report = verify_checkpoints(rows, max_workers=3)
    found = sorted((p.kind, p.checkpoint) for p in report.problems)
    assert found == [
        ("duplicate_weights", "EleutherAI/pythia-160m@step1"),
        ("duplicate_weights", "EleutherAI/pythia-160m@step143000"),
    ]
    assert report.expected_duplicate_groups == clean.expected_duplicate_groups


def test_download_fetches_and_hashes_pythia_files(pythia_hub, tmp_path):
    rows = pythia_served_rows().filter(pl.col("revision") == "step1")
    plan = download_checkpoints(rows, files=("config", "weights"), dry_run=True)
    served = [
        pythia_checkpoint_files(r, "step1") for r in rows["repo_id"].to_list()
    ]  # fresh copies: same content as the Hub's
    assert plan.total_bytes == sum(
        len(f["config.json"]) + len(f["model.safetensors"]) for f in served
    )
    result = download_checkpoints(rows, files=("config", "weights"), to=tmp_path / "out")
    assert len(result.entries) == 2 * rows.height
    local = tmp_path / "out" / "pythia-70m" / "step1" / "model.safetensors"
    assert (
        local.read_bytes()
        == served[rows["repo_id"].to_list().index(PYTHIA_SERVED_REPOS[0])]["model.safetensors"]
    )


def test_a_corrupt_pythia_cache_falls_back_with_the_suite_named(hub_env, caplog):
    path = refreshed_catalog_path("pythia")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not parquet")
    catalog = load_catalog(suite="pythia")
    assert catalog.source == embedded_catalog_path("pythia") and len(catalog) == 2464
    assert "registry refresh --suite pythia" in caplog.text
    assert load_catalog().source == embedded_catalog_path()  # Gemstones is not affected
    with pytest.raises(RegistryInputError, match="valid paper sets: none in this suite"):
        catalog.select(in_set="hot")
