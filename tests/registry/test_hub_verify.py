"""Verification of branches and weights against the loopback Hub."""

from __future__ import annotations

import pytest

from registry.hub.client import HubUnreachableError
from registry.hub.files import check_safe_repo_path, safetensors_shards_missing
from registry.hub.verify import verify_checkpoints

from .conftest import served_rows
from .hub_server import checkpoint_files


def test_clean_hub_verifies_without_problems(fake_hub):
    rows = served_rows()
    report = verify_checkpoints(rows, max_workers=2)
    assert report.ok and report.checked == rows.height == 6
    assert report.to_dict()["weight_bytes"] == sum(
        len(files["model.safetensors"])
        for repo in fake_hub.state.repos.values()
        for files in repo.commits.values()
    )


def test_reports_duplicates_missing_branches_and_missing_weights(fake_hub):
    rows = served_rows()
    (repo_a, rev_a1), (_, rev_a2), (_, rev_a3) = (
        rows.select("repo_id", "revision").head(3).iter_rows()
    )
    (repo_b, rev_b1), (_, rev_b2), (_, rev_b3) = (
        rows.select("repo_id", "revision").tail(3).iter_rows()
    )
    hub_a, hub_b = fake_hub.state.repos[repo_a], fake_hub.state.repos[repo_b]
    # Two different branches serving byte-identical weights (the classic broken-suite failure).
    hub_a.add_branch(rev_a1, checkpoint_files(repo_a, rev_a1, weights_seed=7), salt="dup")
    hub_a.add_branch(rev_a2, checkpoint_files(repo_a, rev_a2, weights_seed=7), salt="dup")
    # A branch with only pickled weights, one with no weights, one deleted.
    pickled = {
        k: v for k, v in checkpoint_files(repo_b, rev_b1).items() if k != "model.safetensors"
    }
    hub_b.add_branch(rev_b1, {**pickled, "pytorch_model.bin": b"\x80\x04pickle"}, salt="pkl")
    hub_b.add_branch(rev_b2, pickled, salt="none")
    del hub_b.branches[rev_b3]

    report = verify_checkpoints(rows, max_workers=3)

    found = sorted((p.kind, p.checkpoint) for p in report.problems)
    assert found == sorted([
        ("duplicate_weights", f"{repo_a}@{rev_a1}"),
        ("duplicate_weights", f"{repo_a}@{rev_a2}"),
        ("pickle_only", f"{repo_b}@{rev_b1}"),
        ("missing_weights", f"{repo_b}@{rev_b2}"),
        ("missing_branch", f"{repo_b}@{rev_b3}"),
    ])  # fmt: skip
    assert report.duplicate_groups == ((f"{repo_a}@{rev_a1}", f"{repo_a}@{rev_a2}"),)
    assert not report.ok and f"{repo_a}@{rev_a3}" not in {p.checkpoint for p in report.problems}


def test_moved_branch_is_reported_against_the_pin(fake_hub):
    rows = served_rows().head(1)
    repo, revision = rows["repo_id"][0], rows["revision"][0]
    pinned = fake_hub.state.repos[repo].branches[revision]
    fake_hub.state.repos[repo].add_branch(revision, checkpoint_files(repo, revision), salt="moved")
    report = verify_checkpoints(rows.with_columns(commit=rows["commit"].fill_null(pinned)))
    assert [p.kind for p in report.problems] == ["moved_branch"]
    assert report.listings[0].commit == pinned  # files were read at the pinned commit


def test_verify_offline(fake_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnreachableError):
        verify_checkpoints(served_rows())


def test_shard_and_name_rules():
    assert safetensors_shards_missing(
        ["model-00001-of-00003.safetensors", "model-00003-of-00003.safetensors"]
    ) == ["model-00002-of-00003.safetensors"]
    assert check_safe_repo_path("sub/config.json", "r", "main") == "sub/config.json"
    for bad in ("../x.json", "/etc/passwd", "a/../../b", "C:\\x", "\\\\host\\share"):
        with pytest.raises(Exception, match="escape"):
            check_safe_repo_path(bad, "r", "main")
