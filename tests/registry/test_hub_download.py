"""Pinned, verified, resumable downloads from the loopback Hub."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from registry.catalog import load_catalog
from registry.errors import HubError, RegistryInputError
from registry.hub.client import HubUnreachableError
from registry.hub.download import (
    DEFAULT_BYTES_PER_PARAM,
    DownloadEstimate,
    DownloadPlan,
    DownloadResult,
    download_checkpoints,
    estimate_download,
)
from registry.hub.refs import refresh_catalog

from .conftest import SECRET_TOKEN, served_rows


def _served(fake_hub, repo: str, revision: str, path: str) -> bytes:
    return fake_hub.state.repos[repo].commits[fake_hub.state.repos[repo].branches[revision]][path]


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and ".cache" not in p.parts)


def test_pinned_download_into_the_hf_cache_with_manifest(fake_hub, hub_env):
    pinned = refresh_catalog(served_rows()).catalog.head(2)
    result = download_checkpoints(pinned, files=("config", "weights"), max_workers=3)
    assert isinstance(result, DownloadResult)
    assert len(result.entries) == 4 and result.destination == str(hub_env / "hf" / "hub")
    for entry in result.entries:
        content = _served(fake_hub, entry.repo_id, entry.revision, entry.path)
        assert entry.commit == fake_hub.state.repos[entry.repo_id].branches[entry.revision]
        assert Path(entry.local_path).read_bytes() == content
        assert entry.sha256 == hashlib.sha256(content).hexdigest()
        assert f"/snapshots/{entry.commit}/" in entry.local_path
    manifest = json.loads(result.manifest_path.read_text())
    assert [f["sha256"] for f in manifest["files"]] == [e.sha256 for e in result.entries]
    assert manifest["notes"] == []  # the catalog was pinned: nothing resolved at download time
    resolves = fake_hub.state.requests(contains="/resolve/")
    assert resolves and all(
        any(f"/resolve/{c}/" in str(r["path"]) for c in pinned["commit"].to_list())
        for r in resolves
    )  # requested by commit, never by branch name
    # refresh: probe + 2 repos; download: probe only (pinned rows need no branch lookup)
    assert len(fake_hub.state.requests("GET", "/refs")) == 4


def test_unpinned_catalog_is_resolved_at_download_time_and_noted(fake_hub, hub_env):
    rows = served_rows().head(1)
    result = download_checkpoints(rows, files=("config",), to=hub_env / "out")
    assert "not pinned" in result.plan.notes[0]
    entry = result.entries[0]
    assert entry.commit == fake_hub.state.repos[entry.repo_id].branches[entry.revision]
    assert (
        Path(entry.local_path)
        == hub_env / "out" / entry.repo_id.split("/")[1] / entry.revision / "config.json"
    )
    assert (
        json.loads((hub_env / "out" / "gemstones-manifest.json").read_text())["files"][0]["commit"]
        == entry.commit
    )


def test_dropped_connection_is_resumed_with_a_range_request(fake_hub, hub_env, monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(
        hf_constants, "DOWNLOAD_CHUNK_SIZE", 64
    )  # so the partial body reaches the disk
    fake_hub.state.drop_once.add("model.safetensors")
    rows = served_rows().head(1)
    result = download_checkpoints(rows, files=("weights",), to=hub_env / "out")
    content = _served(fake_hub, rows["repo_id"][0], rows["revision"][0], "model.safetensors")
    assert Path(result.entries[0].local_path).read_bytes() == content
    ranges = [r["range"] for r in fake_hub.state.requests("GET", "/cdn/")]
    assert ranges[0] is None and ranges[1] == f"bytes={len(content) // 2 // 64 * 64}-"
    assert int(ranges[1].split("=")[1].rstrip("-")) > 0


def test_server_error_midway_leaves_no_partial_file_and_rerun_resumes(fake_hub, hub_env):
    rows = served_rows().head(2)
    out = hub_env / "out"
    fake_hub.state.fail_500.add("model.safetensors")
    with pytest.raises(HubError, match=r"HTTP 500.*nothing partial"):
        download_checkpoints(rows, files=("config", "weights"), to=out, max_workers=1)
    names = [p.name for p in _files_under(out)]
    assert "model.safetensors" not in names and not any(n.endswith(".incomplete") for n in names)
    assert not (out / "gemstones-manifest.json").exists()
    assert len(fake_hub.state.requests("GET", "config.json")) >= 1  # work done before the failure

    fake_hub.state.fail_500.clear()
    result = download_checkpoints(rows, files=("config", "weights"), to=out, max_workers=1)
    assert len(result.entries) == 4
    # Over both runs each config file was fetched exactly once: completed files are reused.
    assert len(fake_hub.state.requests("GET", "config.json")) == 2


def test_deleted_branch_gives_a_404_message(fake_hub):
    rows = served_rows().head(1)
    del fake_hub.state.repos[rows["repo_id"][0]].branches[rows["revision"][0]]
    with pytest.raises(HubError, match="branch gone"):
        download_checkpoints(rows, files=("config",))
    pinned = rows.with_columns(commit=pl.lit("f" * 40))
    with pytest.raises(HubError, match="404"):
        download_checkpoints(pinned, files=("config",))


def test_private_repository_needs_a_token(fake_hub, hub_env, monkeypatch):
    rows = served_rows().head(1)
    fake_hub.state.repos[rows["repo_id"][0]].token = SECRET_TOKEN
    pinned = rows.with_columns(
        commit=pl.lit(fake_hub.state.repos[rows["repo_id"][0]].branches[rows["revision"][0]])
    )
    with pytest.raises(HubError, match=r"401.*HF_TOKEN") as refused:
        download_checkpoints(pinned, files=("config", "weights"))
    assert "no token was sent" in str(refused.value)

    monkeypatch.setenv("HF_TOKEN", SECRET_TOKEN)
    result = download_checkpoints(pinned, files=("config", "weights"), to=hub_env / "out")
    assert len(result.entries) == 2
    hub_auth = {r["authorization"] for r in fake_hub.state.log if r["role"] == "hub"}
    assert f"Bearer {SECRET_TOKEN}" in hub_auth
    assert all(
        r["authorization"] is None for r in fake_hub.state.log if r["role"] == "cdn"
    )  # not sent to the CDN
    assert SECRET_TOKEN not in result.manifest_path.read_text()


def test_offline_mode_refuses_downloads_but_dry_run_estimates(fake_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = served_rows()
    with pytest.raises(HubUnreachableError, match="need the Hub"):
        download_checkpoints(rows)
    estimate = download_checkpoints(rows, files=("weights",), dry_run=True)
    assert isinstance(estimate, DownloadEstimate)
    assert estimate.total_bytes == int(rows["params"].sum()) * DEFAULT_BYTES_PER_PARAM
    assert fake_hub.state.log == []


def test_estimate_of_the_hot_set_is_params_times_bytes():
    hot = load_catalog(prefer_refreshed=False).select(in_set="hot").frame
    estimate = estimate_download(hot, ("weights",), bytes_per_param=2)
    assert estimate.checkpoints == hot.height == 220
    assert estimate.total_bytes == 2 * sum(hot["params"].to_list())
    assert "bfloat16" in estimate.assumptions[0]


@pytest.mark.parametrize("bad_name", ["../escape.json", "/abs/config.json"])
def test_file_names_escaping_the_target_are_refused(fake_hub, hub_env, bad_name):
    rows = served_rows().head(1)
    repo = fake_hub.state.repos[rows["repo_id"][0]]
    files = repo.commits[repo.branches[rows["revision"][0]]]
    repo.add_branch(rows["revision"][0], {**files, bad_name: b"{}"}, salt="evil")
    with pytest.raises(HubError, match="escape the download folder"):
        download_checkpoints(rows, files=("config", "tokenizer", "weights"), to=hub_env / "out")
    assert not (hub_env / "out").exists() and not (hub_env / "escape.json").exists()
    assert fake_hub.state.requests(contains="/resolve/") == []


def test_max_bytes_refuses_before_fetching(fake_hub, hub_env):
    rows = served_rows().head(2)
    plan = download_checkpoints(rows, files=("config", "weights"), dry_run=True)
    assert isinstance(plan, DownloadPlan) and plan.checkpoints == 2 and len(plan.files) == 4
    with pytest.raises(RegistryInputError, match="max-bytes"):
        download_checkpoints(
            rows, files=("config", "weights"), max_bytes=plan.total_bytes - 1, to=hub_env / "o"
        )
    assert fake_hub.state.requests(contains="/resolve/") == []
    result = download_checkpoints(
        rows, files=("config", "weights"), max_bytes=plan.total_bytes, to=hub_env / "o"
    )
    assert sum(e.size for e in result.entries) == plan.total_bytes


def test_pickled_weights_are_refused_unless_allowed(fake_hub, hub_env):
    rows = served_rows().head(1)
    repo = fake_hub.state.repos[rows["repo_id"][0]]
    repo.add_branch(
        rows["revision"][0],
        {"config.json": b"{}", "pytorch_model.bin": b"\x80\x04K\x01."},
        salt="p",
    )
    with pytest.raises(HubError, match=r"pickled.*--allow-pickle"):
        download_checkpoints(rows, files=("weights",), to=hub_env / "out")
    result = download_checkpoints(rows, files=("weights",), to=hub_env / "out", allow_pickle=True)
    assert [e.path for e in result.entries] == ["pytorch_model.bin"]


@pytest.mark.parametrize("bad", ["../../../tmp/evil", "main", "F" * 40])
def test_a_catalog_pinned_to_an_invalid_commit_is_refused_before_any_path(fake_hub, hub_env, bad):
    from registry.errors import HubAnswerError

    rows = served_rows().head(1).with_columns(commit=pl.lit(bad))
    with pytest.raises(HubAnswerError, match=r"catalog's pin .* not a commit id"):
        download_checkpoints(rows, files=("config",), to=hub_env / "out")
    assert not (hub_env / "out").exists() and not (hub_env / "hf").exists()
    assert fake_hub.state.requests(contains="/resolve/") == []


def test_stale_partials_in_the_hf_cache_are_removed_unless_another_download_holds_the_lock(
    fake_hub, hub_env
):
    from huggingface_hub.utils import WeakFileLock

    from registry.hub.download import _partials_and_lock, plan_download, remove_stale_partials

    rows = refresh_catalog(served_rows()).catalog.head(1)
    plan = plan_download(rows, ("weights",))
    (planned,) = plan.files
    cache = hub_env / "hf" / "hub"
    folder, lock, prefix = _partials_and_lock(planned, cache_dir=cache, local_dir=None)
    folder.mkdir(parents=True)
    stale = [folder / f"{prefix}.1a2b3c4d.incomplete", folder / f"{prefix}.incomplete"]
    other = folder / (
        "0" * 64 + ".1a2b3c4d.incomplete"
    )  # another file's leftover: not ours to judge
    for path in [*stale, other]:
        path.write_bytes(b"half")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(lock):  # a download in progress elsewhere: hands off
        assert remove_stale_partials(planned, cache_dir=cache, local_dir=None) == []
    assert all(p.exists() for p in stale)
    result = download_checkpoints(rows, files=("weights",))
    assert not any(p.exists() for p in stale) and other.exists()
    assert Path(result.entries[0].local_path).read_bytes() == _served(
        fake_hub, planned.repo_id, planned.revision, planned.path
    )
