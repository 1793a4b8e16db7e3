"""Download curated subsets of the suite, pinned to commits, verified by hash, with a manifest.

Steps (``download_checkpoints``):

1. **Pin.** Each checkpoint is fetched at its catalog ``commit``. Rows without one (a catalog that was
   never refreshed) are resolved once, at download time, from the repository's branches
   (``list_repo_refs``); the commit used is written to the manifest and the plan says the catalog was
   not pinned (``gemstones registry refresh`` pins it for good).
2. **Plan.** The file listing of each commit (``list_repo_tree``, with sizes and LFS sha256) picks the
   files of the requested categories. Names that would escape the target folder are refused; pickled
   weights (``*.bin``, ``*.pt``) are refused unless ``allow_pickle``. The total size is exact.
3. **Limit.** ``max_bytes`` refuses a plan larger than the limit before anything is fetched.
4. **Fetch.** ``hf_hub_download(revision=<commit>)`` per file in a pool of ``max_workers`` threads,
   into the standard Hugging Face cache or under ``to/<repo name>/<revision>/``. A dropped connection
   is resumed by ``huggingface_hub`` with an HTTP Range request; a failed transfer leaves no file
   behind (the library writes to a temporary file and renames it only when complete). Re-running after
   an interruption reuses every completed file and fetches only the rest.
5. **Check and record.** Each file's sha256 (and git oid for non-LFS files) is compared with the
   Hub's; a mismatch deletes the file. A JSON manifest of what is on disk, with hashes, is written
   atomically.

A download killed outright (``kill -9``, power loss) leaves ``huggingface_hub``'s temporary
``*.incomplete`` file behind; the library names it uniquely per attempt, so it is never resumed. Before
fetching a file, its leftovers are removed while holding the library's own lock for that file (a
download running in another process holds it, and its file is left alone). A failed run that deleted
files an earlier manifest lists (a hash mismatch, or ``huggingface_hub`` removing an outdated copy
before re-fetching it) rewrites that manifest without them, so it never lists a file that is gone.

Offline, :func:`estimate_download` sizes a subset from the catalog alone (parameters x bytes per
parameter, plus typical config/tokenizer sizes).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl

from ..atomic import write_json_atomic
from ..errors import HubError, RegistryInputError
from ..suites.gemstones.suite import GEMSTONES
from ..user_cache import user_cache_dir
from .client import (
    HubTarget,
    HubUnreachableError,
    default_hub_cache,
    hub_errors,
    hub_target,
    install_request_bounds,
    probe_hub,
    require_commit_id,
    require_online,
)
from .files import (
    RemoteFile,
    categorize,
    check_safe_repo_path,
    git_blob_sha1_of_file,
    is_pickle,
    sha256_of_file,
)
from .refs import list_branches, suite_of_rows
from .verify import list_branch_files

#: Bytes per parameter assumed by offline estimates of the default suite (Gemstones: float32
#: safetensors). Each suite states its own (``Suite.bytes_per_param``, ``tokenizer_bytes``,
#: ``config_bytes``): assumptions, not measurements; an online dry run reads the exact sizes.
DEFAULT_BYTES_PER_PARAM = GEMSTONES.bytes_per_param
CONFIG_BYTES_ESTIMATE = GEMSTONES.config_bytes
TOKENIZER_BYTES_ESTIMATE = GEMSTONES.tokenizer_bytes
MANIFEST_NAME = "gemstones-manifest.json"
_PARTIAL_SUFFIX = ".incomplete"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedFile:
    """One file to fetch: where it lives on the Hub and what it must hash to."""

    repo_id: str
    revision: str
    commit: str
    path: str
    size: int
    blob_id: str
    sha256: str | None
    category: str


@dataclass(frozen=True)
class DownloadPlan:
    """What a download will fetch, with exact sizes from the Hub.

    Attributes:
        checkpoints: Number of checkpoints.
        files: Every file to fetch.
        notes: Facts the user should know (e.g. commits resolved at download time).
    """

    checkpoints: int
    files: tuple[PlannedFile, ...]
    notes: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def summary(self) -> str:
        return f"{self.checkpoints} checkpoints, {len(self.files)} files, {format_bytes(self.total_bytes)}"


@dataclass(frozen=True)
class DownloadEstimate:
    """An offline size estimate from the catalog (no network)."""

    checkpoints: int
    total_bytes: int
    categories: tuple[str, ...]
    assumptions: tuple[str, ...]

    def summary(self) -> str:
        return f"{self.checkpoints} checkpoints, about {format_bytes(self.total_bytes)} (estimate)"


@dataclass(frozen=True)
class ManifestEntry:
    """One file on disk after a download."""

    repo_id: str
    revision: str
    commit: str
    path: str
    local_path: str
    size: int
    sha256: str
    verified_against: str  # "lfs-sha256" or "git-oid"


@dataclass(frozen=True)
class DownloadResult:
    """What is on disk after a download and where its manifest is."""

    plan: DownloadPlan
    entries: tuple[ManifestEntry, ...]
    manifest_path: Path
    destination: str


def format_bytes(count: float) -> str:
    """Human-readable size in decimal units (1 GB = 1e9 bytes), e.g. ``12.3 GB``."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def estimate_download(
    rows: pl.DataFrame,
    categories: tuple[str, ...],
    *,
    bytes_per_param: int | None = None,
) -> DownloadEstimate:
    """Estimate the size of a subset from the catalog alone (works offline).

    The rows' suite (their ``suite`` column, else Gemstones) gives the typical weight, tokenizer
    and config sizes.

    Args:
        rows: Catalog rows of one suite (needs ``params``).
        categories: Subset of ``("config", "tokenizer", "weights")``.
        bytes_per_param: Storage bytes per parameter of the weights (4 = float32, 2 = bfloat16);
            None = the suite's (Gemstones 4, Pythia 2).

    Raises:
        RegistryInputError: rows of several suites.
    """
    suite = suite_of_rows(rows)
    if bytes_per_param is None:
        bytes_per_param = suite.bytes_per_param
    count = rows.height
    total = 0
    assumptions: list[str] = []
    if "weights" in categories:
        total += int(rows["params"].sum()) * bytes_per_param
        dtype = {4: "float32", 2: "bfloat16/float16"}.get(
            bytes_per_param, f"{bytes_per_param}-byte"
        )
        assumptions.append(
            f"weights = params x {bytes_per_param} bytes (safetensors assumed {dtype}; not verified offline)"
        )
    if "config" in categories:
        total += count * suite.config_bytes
        assumptions.append(f"config ~ {format_bytes(suite.config_bytes)} per checkpoint")
    if "tokenizer" in categories:
        total += count * suite.tokenizer_bytes
        assumptions.append(f"tokenizer ~ {format_bytes(suite.tokenizer_bytes)} per checkpoint")
    return DownloadEstimate(count, total, tuple(categories), tuple(assumptions))


def check_size_limit(total_bytes: int, max_bytes: int | None) -> None:
    """Raise RegistryInputError if ``total_bytes`` exceeds ``max_bytes`` (None = no limit)."""
    if max_bytes is not None and total_bytes > max_bytes:
        raise RegistryInputError(
            f"the selected subset needs {format_bytes(total_bytes)} ({total_bytes} bytes), more than "
            f"--max-bytes {max_bytes}; narrow the selection or raise the limit"
        )


def select_files(
    files: tuple[RemoteFile, ...],
    categories: tuple[str, ...],
    *,
    repo_id: str,
    revision: str,
    allow_pickle: bool = False,
) -> list[RemoteFile]:
    """The files of one checkpoint to fetch for ``categories`` (safetensors only unless allowed).

    Raises:
        HubError: a server file name would escape the target folder, or the only weights are pickles
            and ``allow_pickle`` is False.
    """
    for remote in files:
        check_safe_repo_path(remote.path, repo_id, revision)
    chosen = [f for f in files if categorize(f.path) in categories]
    if "weights" in categories:
        safetensors = [f for f in chosen if f.path.endswith(".safetensors")]
        pickles = [f for f in chosen if is_pickle(f.path)]
        if not safetensors and pickles and not allow_pickle:
            names = ", ".join(f.path for f in pickles)
            raise HubError(
                f"{repo_id}@{revision} has only pickled weights ({names}), which can run code when "
                "loaded; refusing them (pass --allow-pickle to fetch them anyway)"
            )
        if safetensors or not allow_pickle:
            chosen = [f for f in chosen if not is_pickle(f.path)]
    return chosen


def _resolve_commits(
    target: HubTarget, rows: list[tuple[str, str, str | None]]
) -> tuple[dict[tuple[str, str], str], list[str]]:
    """Commit of each (repo, revision): the catalog's pin, else the branch's current target."""
    unpinned_repos = sorted({repo for repo, _, commit in rows if commit is None})
    branches = {repo: list_branches(target, repo) for repo in unpinned_repos}
    resolved: dict[tuple[str, str], str] = {}
    for repo, revision, commit in rows:
        if commit is not None:
            resolved[(repo, revision)] = require_commit_id(
                commit,
                f"the catalog's pin of {repo}@{revision} (run `gemstones registry refresh` to re-pin)",
            )
            continue
        repo_branches = branches[repo]
        if repo_branches is None:
            raise HubError(
                f"{repo} is not on the Hub or is private (HTTP 401/404): if it is private, set HF_TOKEN or "
                "run `hf auth login`; otherwise run `gemstones registry refresh`"
            )
        if revision not in repo_branches:
            raise HubError(
                f"branch {revision} of {repo} is not on the Hub (404, branch gone); "
                "run `gemstones registry refresh` and `gemstones registry verify`"
            )
        resolved[(repo, revision)] = repo_branches[revision]
    notes = []
    unpinned = sum(1 for _, _, commit in rows if commit is None)
    if unpinned:
        notes.append(
            f"the catalog is not pinned for {unpinned} checkpoint(s): their branches were resolved to "
            "commits now (recorded in the manifest); `gemstones registry refresh` pins the catalog"
        )
    return resolved, notes


def plan_download(
    rows: pl.DataFrame,
    categories: tuple[str, ...],
    *,
    endpoint: str | None = None,
    token: str | None = None,
    allow_pickle: bool = False,
    max_workers: int = 4,
) -> DownloadPlan:
    """List the exact files (and sizes) a download of ``rows`` would fetch. Needs the Hub."""
    require_online()
    target = hub_target(endpoint, token)
    triples = list(rows.select("repo_id", "revision", "commit").iter_rows())
    if triples:
        probe_hub(target, triples[0][0])
    commits, notes = _resolve_commits(target, triples)

    def files_of(triple: tuple[str, str, str | None]) -> list[PlannedFile]:
        repo, revision, _ = triple
        commit = commits[(repo, revision)]
        listed = list_branch_files(target, repo, commit)
        chosen = select_files(
            listed, categories, repo_id=repo, revision=revision, allow_pickle=allow_pickle
        )
        return [
            PlannedFile(
                repo, revision, commit, f.path, f.size, f.blob_id, f.sha256, categorize(f.path)
            )
            for f in chosen
        ]

    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        per_checkpoint = list(pool.map(files_of, triples))
    files = tuple(f for group in per_checkpoint for f in group)
    return DownloadPlan(checkpoints=len(triples), files=files, notes=tuple(notes))


def _progress_class(on_bytes: Callable[[int], None]) -> type:
    """A tqdm-compatible class for ``hf_hub_download(tqdm_class=...)`` that forwards byte counts."""

    class _ByteForwarder:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __enter__(self) -> _ByteForwarder:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: float | None = 1) -> None:
            if n:
                on_bytes(int(n))

        def close(self) -> None:
            return None

    return _ByteForwarder


def _remove_download(local: Path) -> None:
    """Delete a downloaded file and, in the HF cache, the blob its snapshot link points to."""
    if local.is_symlink():
        blob = local.resolve()
        local.unlink(missing_ok=True)
        blob.unlink(missing_ok=True)
    else:
        local.unlink(missing_ok=True)


def _partials_and_lock(
    planned: PlannedFile, *, cache_dir: Path | None, local_dir: Path | None
) -> tuple[Path, Path, str]:
    """Where ``huggingface_hub`` keeps the temporary files of ``planned`` and the lock guarding them.

    Returns:
        (folder of the temporary files, lock file, name prefix of the temporary files). The etag
        that names them is the LFS sha256 or the git oid, both checked hex strings.
    """
    etag = planned.sha256 or planned.blob_id
    if local_dir is not None:
        from huggingface_hub._local_folder import get_local_download_paths

        paths = get_local_download_paths(local_dir, planned.path)
        incomplete = paths.incomplete_path(etag)
        return incomplete.parent, paths.lock_path, incomplete.name[: -len(_PARTIAL_SUFFIX)]
    from huggingface_hub.file_download import repo_folder_name

    folder = repo_folder_name(repo_id=planned.repo_id, repo_type="model")
    assert cache_dir is not None
    return cache_dir / folder / "blobs", cache_dir / ".locks" / folder / f"{etag}.lock", etag


def remove_stale_partials(
    planned: PlannedFile, *, cache_dir: Path | None, local_dir: Path | None
) -> list[Path]:
    """Delete the ``*.incomplete`` leftovers of ``planned`` from killed downloads; return them.

    Runs under ``huggingface_hub``'s lock for the file; if another process holds it (a download in
    progress), nothing is touched.
    """
    from filelock import Timeout
    from huggingface_hub.utils import WeakFileLock

    folder, lock_path, prefix = _partials_and_lock(
        planned, cache_dir=cache_dir, local_dir=local_dir
    )
    if not folder.is_dir():
        return []
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    removed: list[Path] = []
    try:
        with WeakFileLock(lock_path, timeout=0.05):
            for candidate in folder.iterdir():
                name = candidate.name
                if name.endswith(_PARTIAL_SUFFIX) and (
                    name == prefix + _PARTIAL_SUFFIX or name.startswith(prefix + ".")
                ):
                    candidate.unlink(missing_ok=True)
                    removed.append(candidate)
    except Timeout:
        return []
    if removed:
        _log.info("removed %d stale partial download(s) of %s", len(removed), planned.path)
    return removed


def _fetch_one(
    planned: PlannedFile,
    target: HubTarget,
    *,
    cache_dir: Path | None,
    to: Path | None,
    tqdm_class: type,
) -> ManifestEntry:
    from huggingface_hub import hf_hub_download

    what = f"downloading {planned.path} of {planned.repo_id}@{planned.revision}"
    local_dir = None
    if to is not None:
        local_dir = to / PurePosixPath(planned.repo_id).name / planned.revision
    remove_stale_partials(planned, cache_dir=cache_dir, local_dir=local_dir)
    with hub_errors(what, timeouts=target.timeouts):
        local = Path(
            hf_hub_download(
                planned.repo_id,
                planned.path,
                revision=planned.commit,
                cache_dir=None if local_dir is not None else cache_dir,
                local_dir=local_dir,
                endpoint=target.endpoint,
                token=target.token,
                tqdm_class=tqdm_class,
                etag_timeout=target.timeouts.etag,
            )
        )
    digest = sha256_of_file(local)
    if planned.sha256 is not None:
        expected, actual, kind = planned.sha256, digest, "lfs-sha256"
    else:
        expected, actual, kind = planned.blob_id, git_blob_sha1_of_file(local), "git-oid"
    if expected != actual:
        _remove_download(local)
        raise HubError(
            f"{planned.repo_id}@{planned.revision}/{planned.path}: content hash {actual[:12]} differs from "
            f"the Hub's {expected[:12]}; the file was deleted; re-run the download"
        )
    return ManifestEntry(
        planned.repo_id,
        planned.revision,
        planned.commit,
        planned.path,
        str(local),
        local.stat().st_size,
        digest,
        kind,
    )


def execute_download(
    plan: DownloadPlan,
    *,
    to: Path | None = None,
    cache_dir: Path | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    max_workers: int = 4,
    manifest_path: Path | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> DownloadResult:
    """Fetch every file of ``plan`` (bounded concurrency), verify hashes, write the manifest.

    Args:
        plan: From :func:`plan_download`.
        to: A plain folder (files under ``to/<repo name>/<revision>/``); None = the Hugging Face cache.
        cache_dir: The Hugging Face cache to use when ``to`` is None (default: the standard one).
        endpoint: Hub URL (default ``HF_ENDPOINT`` or https://huggingface.co).
        token: Explicit token; default ``HF_TOKEN`` or the login token.
        max_workers: Files fetched at once.
        manifest_path: Where to write the manifest (default ``to/gemstones-manifest.json``, or
            ``<gemstones cache>/downloads/gemstones-manifest.json`` for the HF cache).
        on_bytes: Called with each chunk size as bytes arrive (progress bars).

    Raises:
        HubError: offline, unauthorised, branch gone, server error, broken transfer or hash mismatch.
            Files completed before the failure stay (verified) and are reused by the next run.
    """
    require_online()
    target = hub_target(endpoint, token)
    cache = None if to is not None else (cache_dir or default_hub_cache())
    lock = threading.Lock()

    def count(n: int) -> None:
        if on_bytes is not None:
            with lock:
                on_bytes(n)

    tqdm_class = _progress_class(count)
    entries: list[ManifestEntry] = []
    destination = str(to) if to is not None else str(cache)
    if manifest_path is None:
        manifest_path = (
            (to / MANIFEST_NAME)
            if to is not None
            else user_cache_dir() / "downloads" / MANIFEST_NAME
        )
    install_request_bounds()
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        futures = [
            pool.submit(_fetch_one, planned, target, cache_dir=cache, to=to, tqdm_class=tqdm_class)
            for planned in plan.files
        ]
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        wait(futures)  # let the files in flight finish or fail before the manifest is looked at
        failures = [
            f.exception() for f in futures if f.done() and not f.cancelled() and f.exception()
        ]
        if failures:
            completed = [
                f.result() for f in futures if f.done() and not f.cancelled() and not f.exception()
            ]
            prune_manifest(manifest_path, completed)
            raise failures[0]  # type: ignore[misc]
        entries = [future.result() for future in futures]
    write_json_atomic(
        {
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "endpoint": target.display,
            "destination": destination,
            "checkpoints": plan.checkpoints,
            "total_bytes": sum(entry.size for entry in entries),
            "notes": list(plan.notes),
            "files": [asdict(entry) for entry in entries],
        },
        manifest_path,
    )
    return DownloadResult(plan, tuple(entries), manifest_path, destination)


def prune_manifest(manifest_path: Path, completed: list[ManifestEntry]) -> int:
    """After a failed run, make an existing manifest list only files that are still on disk.

    Entries whose file is gone or changed size are dropped; files this run completed and verified
    replace the entries of the same local path. Nothing is written when no manifest exists (a first
    run that fails leaves none) or when it is not a manifest this package wrote.

    Returns:
        The number of entries dropped.
    """
    try:
        document = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
        files = document["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        return 0
    fresh = {entry.local_path: asdict(entry) for entry in completed}
    kept: list[dict[str, Any]] = []
    dropped = 0
    for item in files:
        local = item.get("local_path")
        if local in fresh:
            kept.append(fresh.pop(local))
        elif isinstance(local, str) and _on_disk_with_size(Path(local), item.get("size")):
            kept.append(item)
        else:
            dropped += 1
    kept.extend(fresh.values())
    if dropped == 0 and len(kept) == len(files):
        return 0
    stamp = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    notes = [str(n) for n in document.get("notes", []) if isinstance(n, str)]
    notes.append(
        f"{stamp}: a later download failed; {dropped} file(s) no longer on disk were removed "
        "from this manifest; re-run the download to fetch them again"
    )
    document.update(files=kept, total_bytes=sum(int(f.get("size", 0)) for f in kept), notes=notes)
    write_json_atomic(document, manifest_path)
    return dropped


def _on_disk_with_size(path: Path, size: object) -> bool:
    try:
        return path.is_file() and path.stat().st_size == size
    except OSError:
        return False


def download_checkpoints(
    rows: pl.DataFrame,
    *,
    files: tuple[str, ...] = ("config", "tokenizer"),
    to: Path | None = None,
    cache_dir: Path | None = None,
    dry_run: bool = False,
    max_bytes: int | None = None,
    allow_pickle: bool = False,
    max_workers: int = 4,
    endpoint: str | None = None,
    token: str | None = None,
    manifest_path: Path | None = None,
    bytes_per_param: int | None = None,
    on_plan: Callable[[DownloadPlan], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> DownloadPlan | DownloadEstimate | DownloadResult:
    """Plan, check and fetch a subset of checkpoints (the library face of ``registry download``).

    Args:
        rows: Catalog rows to fetch.
        files: Categories among ``config``, ``tokenizer``, ``weights``.
        to: Plain folder; None = the standard Hugging Face cache.
        cache_dir: Hugging Face cache override when ``to`` is None.
        dry_run: Only plan: returns a DownloadPlan (exact, from the Hub) or, when the Hub cannot be
            reached, a DownloadEstimate from the catalog.
        max_bytes: Refuse a subset larger than this (checked on the estimate too when offline).
        allow_pickle: Accept pickled ``*.bin``/``*.pt`` weights when no safetensors exist.
        max_workers: Concurrent requests/downloads.
        endpoint: Hub URL; token: explicit token (default ``HF_TOKEN``/login).
        manifest_path: Manifest location override.
        bytes_per_param: Bytes per parameter for offline estimates (None = the rows' suite's).
        on_plan: Called with the plan before any file is fetched.
        on_bytes: Called with byte counts as data arrives.

    Returns:
        DownloadEstimate (dry run, Hub unreachable), DownloadPlan (dry run) or DownloadResult.
    """
    if rows.height == 0:
        raise RegistryInputError("no checkpoint selected; nothing to download")
    if dry_run:
        try:
            plan = plan_download(
                rows,
                files,
                endpoint=endpoint,
                token=token,
                allow_pickle=allow_pickle,
                max_workers=max_workers,
            )
        except HubUnreachableError:
            estimate = estimate_download(rows, files, bytes_per_param=bytes_per_param)
            check_size_limit(estimate.total_bytes, max_bytes)
            return estimate
        check_size_limit(plan.total_bytes, max_bytes)
        return plan
    plan = plan_download(
        rows,
        files,
        endpoint=endpoint,
        token=token,
        allow_pickle=allow_pickle,
        max_workers=max_workers,
    )
    check_size_limit(plan.total_bytes, max_bytes)
    if on_plan is not None:
        on_plan(plan)
    return execute_download(
        plan,
        to=to,
        cache_dir=cache_dir,
        endpoint=endpoint,
        token=token,
        max_workers=max_workers,
        manifest_path=manifest_path,
        on_bytes=on_bytes,
    )


#: Public name for callers that delete files they downloaded (``gemstones eval --no-keep-weights``).
remove_download = _remove_download
