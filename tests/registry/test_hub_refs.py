"""Refresh and reconciliation against the loopback Hub (real huggingface_hub client, real HTTP)."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest

from registry.catalog import embedded_catalog_path, load_catalog
from registry.errors import HubError
from registry.hub.client import HubUnreachableError, hub_target
from registry.hub.refs import list_suite_repos, reconcile, refresh_catalog
from registry.user_cache import refreshed_catalog_path

from .conftest import SERVED_REPOS, served_rows
from .hub_server import FakeRepo, checkpoint_files


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_listing_follows_pages_and_keeps_only_suite_repos(fake_hub):
    fake_hub.state.add_repo(FakeRepo("tomg-group-umd/Gemstone-notashape")).add_branch("main", {})
    fake_hub.state.add_repo(FakeRepo("tomg-group-umd/Other-Gemstone-1x1")).add_branch("main", {})
    repos = list_suite_repos(hub_target(fake_hub.endpoint))
    assert repos == sorted(SERVED_REPOS)
    pages = fake_hub.state.requests("GET", "/api/models?")
    assert len(pages) == 2  # 4 listed repos, 2 per page: the client followed the Link header once
    assert "cursor=2" in str(pages[1]["path"])


def test_refresh_pins_commits_and_reports_new_missing_moved(fake_hub):
    rows = served_rows()
    state = fake_hub.state
    moved_repo, moved_rev = rows["repo_id"][0], rows["revision"][0]
    gone_repo, gone_rev = rows["repo_id"][1], rows["revision"][1]
    del state.repos[gone_repo].branches[gone_rev]
    new_commit = state.repos[moved_repo].add_branch(
        "step_00099999", checkpoint_files(moved_repo, "x")
    )
    catalog = rows.with_columns(
        commit=pl.when(pl.arange(0, pl.len()) == 0)
        .then(pl.lit("0" * 40))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    embedded_before = _digest(embedded_catalog_path())

    result = refresh_catalog(catalog, max_workers=2)

    report = result.reconciliation
    assert report.counts() == {
        "pinned": rows.height - 2, "unchanged": 0, "moved": 1, "new": 1, "missing": 1,
        "repos_missing": 0, "repos_not_in_catalog": 0,
    }  # fmt: skip
    assert (report.moved[0].repo_id, report.moved[0].revision) == (moved_repo, moved_rev)
    assert report.moved[0].new_commit == state.repos[moved_repo].branches[moved_rev]
    assert (report.new[0].revision, report.new[0].new_commit) == ("step_00099999", new_commit)
    assert (report.missing[0].repo_id, report.missing[0].revision) == (gone_repo, gone_rev)
    assert set(report.main_commits) == set(SERVED_REPOS)

    assert result.catalog_path == refreshed_catalog_path()
    written = pl.read_parquet(result.catalog_path)
    assert written.schema == catalog.schema
    expected = [
        state.repos[r].branches.get(v) for r, v in rows.select("repo_id", "revision").iter_rows()
    ]
    assert written["commit"].to_list() == expected
    assert json.loads(result.report_path.read_text())["counts"]["moved"] == 1
    assert (
        load_catalog().source == refreshed_catalog_path()
    )  # later commands use the refreshed copy
    assert _digest(embedded_catalog_path()) == embedded_before  # the package was not written to
    assert not list(result.catalog_path.parent.glob("*.tmp"))


def test_reconcile_marks_whole_missing_repositories():
    rows = served_rows()
    branches = {SERVED_REPOS[0]: {"main": "a" * 40}, SERVED_REPOS[1]: None}
    refreshed, report = reconcile(rows, branches)
    assert report.repos_missing == (SERVED_REPOS[1],)
    assert len(report.missing) == rows.height
    assert refreshed["commit"].null_count() == rows.height


def test_refresh_offline_mode_names_what_still_works(fake_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnreachableError, match=r"everything else .* works offline"):
        refresh_catalog(served_rows())
    assert fake_hub.state.log == []
    assert not refreshed_catalog_path().exists()


def test_refresh_without_network_fails_fast_with_the_offline_message(hub_env):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(HubUnreachableError, match="no connection"):
        refresh_catalog(served_rows(), endpoint=closed)


def test_gated_repository_gets_an_access_message(fake_hub):
    repo = fake_hub.state.repos[SERVED_REPOS[0]]
    repo.token, repo.gated = "hf_other", True
    with pytest.raises(HubError, match=r"gated.*HF_TOKEN"):
        refresh_catalog(served_rows())
