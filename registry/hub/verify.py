"""Verify checkpoints on the Hub: branches exist, weights are there, and no two branches share weights.

For each selected checkpoint: the repository's branches (``HfApi.list_repo_refs``, one call per
repository) say whether the branch exists and where it points; the branch's file listing with LFS
metadata (``HfApi.list_repo_tree(recursive=True)``, ``GET /api/models/{repo}/tree/{rev}``) gives each
file's size and sha256. Problems reported:

- ``missing_repo`` / ``missing_branch``: the repository or branch is gone;
- ``moved_branch``: the catalog is pinned to a commit the branch no longer points to;
- ``missing_weights``: no ``*.safetensors`` (``pickle_only`` when only pickled weights exist);
- ``missing_shards``: a sharded checkpoint lacks some ``model-0000i-of-0000n.safetensors``;
- ``duplicate_weights``: different checkpoints serve byte-identical safetensors (same sha256s), the
  classic broken-branch failure of checkpoint suites. A group whose checkpoints the suite declares
  may share weights (:meth:`registry.suites.Suite.shared_weights_key`, e.g. Pythia's ``step0`` of a
  size and its deduped twin) is listed as expected instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from ..errors import HubAnswerError
from ..suites import suite_of_repo
from .client import (
    HubTarget,
    hub_answer,
    hub_api,
    hub_errors,
    hub_target,
    is_commit_id,
    is_sha256,
    probe_hub,
    require_commit_id,
    require_online,
)
from .files import RemoteFile, is_pickle, safetensors_shards_missing
from .refs import list_branches

ProblemKind = Literal[
    "missing_repo",
    "missing_branch",
    "moved_branch",
    "missing_weights",
    "pickle_only",
    "missing_shards",
    "duplicate_weights",
]


@dataclass(frozen=True)
class Problem:
    """One problem found on one checkpoint (``repo_id@revision``)."""

    kind: ProblemKind
    checkpoint: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "checkpoint": self.checkpoint, "detail": self.detail}


@dataclass(frozen=True)
class CheckpointListing:
    """The files of one checkpoint at the commit that was read."""

    checkpoint: str
    commit: str
    files: tuple[RemoteFile, ...]

    @property
    def safetensors(self) -> tuple[RemoteFile, ...]:
        return tuple(f for f in self.files if f.path.endswith(".safetensors"))

    @property
    def weight_bytes(self) -> int:
        return sum(f.size for f in self.safetensors)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification.

    Attributes:
        checked: Checkpoints examined.
        listings: Files found per checkpoint that exists.
        problems: Everything wrong, one entry per (kind, checkpoint).
        duplicate_groups: Sets of checkpoints serving identical safetensors (problems).
        expected_duplicate_groups: Identical sets the suite says may share weights (not problems).
    """

    checked: int
    listings: tuple[CheckpointListing, ...]
    problems: tuple[Problem, ...]
    duplicate_groups: tuple[tuple[str, ...], ...]
    expected_duplicate_groups: tuple[tuple[str, ...], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for problem in self.problems:
            counts[problem.kind] += 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "ok": self.ok,
            "problem_counts": self.counts(),
            "problems": [problem.to_dict() for problem in self.problems],
            "duplicate_groups": [list(group) for group in self.duplicate_groups],
            "expected_duplicate_groups": [list(g) for g in self.expected_duplicate_groups],
            "weight_bytes": sum(listing.weight_bytes for listing in self.listings),
        }


def list_branch_files(target: HubTarget, repo_id: str, revision: str) -> tuple[RemoteFile, ...]:
    """Every file of ``repo_id`` at ``revision`` with size, git oid and LFS sha256.

    Raises:
        HubAnswerError: the listing is not JSON or has the wrong shape, or a file entry lacks a
            string path, a non-negative size, a 40-hex oid or (for LFS files) a 64-hex sha256.
        HubError: the request failed (see :func:`registry.hub.client.hub_errors`).
    """
    from huggingface_hub.hf_api import RepoFile

    api = hub_api(target)
    what = f"listing the files of {repo_id}@{revision}"
    with hub_errors(what, timeouts=target.timeouts), hub_answer(what):
        entries = list(api.list_repo_tree(repo_id, revision=revision, recursive=True))
    return tuple(_remote_file(entry, what) for entry in entries if isinstance(entry, RepoFile))


def _remote_file(entry: Any, what: str) -> RemoteFile:
    """A checked RemoteFile from one ``RepoFile`` of a tree listing."""
    path, size, blob_id = entry.path, entry.size, entry.blob_id
    lfs = entry.lfs
    sha256 = getattr(lfs, "sha256", None) if lfs is not None else None
    problem = None
    if not isinstance(path, str) or not path:
        problem = "a file without a path"
    elif not isinstance(size, int) or isinstance(size, bool) or size < 0:
        problem = f"{path!r} without a valid size ({size!r})"
    elif not is_commit_id(blob_id):
        problem = f"{path!r} with an invalid git oid ({str(blob_id)[:50]!r})"
    elif lfs is not None and not is_sha256(sha256):
        problem = f"{path!r} with an invalid LFS sha256 ({str(sha256)[:70]!r})"
    if problem is not None:
        raise HubAnswerError(f"the Hub's answer while {what} lists {problem}")
    return RemoteFile(path=path, size=size, blob_id=blob_id, sha256=sha256)


def weight_problems(listing: CheckpointListing) -> list[Problem]:
    """Problems of one checkpoint's weight files (pure)."""
    paths = [f.path for f in listing.files]
    if not listing.safetensors:
        pickles = [p for p in paths if is_pickle(p)]
        if pickles:
            return [
                Problem(
                    "pickle_only", listing.checkpoint, f"only pickled weights: {', '.join(pickles)}"
                )
            ]
        return [Problem("missing_weights", listing.checkpoint, "no *.safetensors file")]
    missing = safetensors_shards_missing(paths)
    if missing:
        return [Problem("missing_shards", listing.checkpoint, f"missing {', '.join(missing)}")]
    return []


def weight_fingerprint(listing: CheckpointListing) -> tuple[str, ...] | None:
    """Sorted content hashes of a checkpoint's safetensors (LFS sha256, else git oid); None if none."""
    hashes = sorted(f.sha256 or f"git:{f.blob_id}" for f in listing.safetensors)
    return tuple(hashes) or None


def find_duplicate_weights(listings: list[CheckpointListing]) -> list[tuple[str, ...]]:
    """Groups of two or more checkpoints whose safetensors are byte-identical (pure)."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for listing in listings:
        fingerprint = weight_fingerprint(listing)
        if fingerprint is not None:
            groups[fingerprint].append(listing.checkpoint)
    return sorted(tuple(sorted(names)) for names in groups.values() if len(names) > 1)


def expected_duplicate(group: tuple[str, ...]) -> bool:
    """True when the suite of every checkpoint in ``group`` says they may share weights (pure)."""
    keys = set()
    for checkpoint in group:
        repo, _, revision = checkpoint.partition("@")
        suite = suite_of_repo(repo)
        keys.add(None if suite is None else suite.shared_weights_key(repo, revision))
    return len(keys) == 1 and None not in keys


def verify_checkpoints(
    rows: pl.DataFrame,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    max_workers: int = 4,
    on_checkpoint_done: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Verify the selected catalog rows against the Hub.

    Args:
        rows: Catalog rows (``repo_id``, ``revision``, ``commit``).
        endpoint: Hub URL (default ``HF_ENDPOINT`` or https://huggingface.co).
        token: Explicit token; default ``HF_TOKEN`` or the login token.
        max_workers: Concurrent Hub requests.
        on_checkpoint_done: Progress callback, called with each ``repo@revision``.

    Returns:
        A VerifyReport; ``report.ok`` is False when any problem was found.

    Raises:
        HubError: offline, unauthorised, or the Hub failed.
    """
    require_online()
    target = hub_target(endpoint, token)
    triples = list(rows.select("repo_id", "revision", "commit").iter_rows())
    repos = sorted({repo for repo, _, _ in triples})
    if repos:
        probe_hub(target, repos[0])
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        branches: Mapping[str, dict[str, str] | None] = dict(
            zip(repos, pool.map(lambda repo: list_branches(target, repo), repos), strict=True)
        )
    problems: list[Problem] = []
    to_list: list[tuple[str, str, str]] = []  # (checkpoint, repo, commit to read)
    for repo, revision, pinned in triples:
        checkpoint = f"{repo}@{revision}"
        repo_branches = branches[repo]
        if repo_branches is None:
            problems.append(Problem("missing_repo", checkpoint, f"{repo} is not on the Hub"))
            continue
        current = repo_branches.get(revision)
        if current is None:
            problems.append(
                Problem("missing_branch", checkpoint, f"branch {revision} is not on the Hub")
            )
            continue
        if pinned is not None and pinned != current:
            problems.append(
                Problem(
                    "moved_branch",
                    checkpoint,
                    f"pinned {pinned[:12]}, branch now at {current[:12]}",
                )
            )
        if pinned is not None:
            require_commit_id(pinned, f"the catalog's pin of {checkpoint}")
        to_list.append((checkpoint, repo, pinned or current))

    def listing_of(item: tuple[str, str, str]) -> CheckpointListing:
        checkpoint, repo, commit = item
        files = list_branch_files(target, repo, commit)
        if on_checkpoint_done is not None:
            on_checkpoint_done(checkpoint)
        return CheckpointListing(checkpoint, commit, files)

    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        listings = list(pool.map(listing_of, to_list))
    for listing in listings:
        problems.extend(weight_problems(listing))
    groups = find_duplicate_weights(listings)
    duplicates = [group for group in groups if not expected_duplicate(group)]
    expected = tuple(group for group in groups if expected_duplicate(group))
    for group in duplicates:
        for checkpoint in group:
            others = ", ".join(name for name in group if name != checkpoint)
            problems.append(
                Problem("duplicate_weights", checkpoint, f"same safetensors as {others}")
            )
    return VerifyReport(len(triples), tuple(listings), tuple(problems), tuple(duplicates), expected)
