"""Refresh the catalog from the Hub: list the suite's repositories and branches, pin their commits.

``huggingface_hub`` calls: ``HfApi.list_models(author=suite.organisation, search=suite.search)``
(``GET /api/models``; Gemstones: ``author="tomg-group-umd", search="Gemstone-"``; the suite's naming
rule keeps its own repositories) and ``HfApi.list_repo_refs(repo)`` (``GET /api/models/{repo}/refs``) per repository.
Reconciliation compares the Hub's branches with the current catalog (the refreshed copy when there is
one, else the embedded one):

- **new**: a branch on the Hub that has no catalog row (``main`` excluded: it aliases the last checkpoint);
- **missing**: a catalog row whose branch is not on the Hub; its commit becomes null. A row of a whole
  repository the Hub does not have keeps whatever commit it had (the Hub answers "not found" for a
  private repository and a bad token too, so this is no proof the pin is wrong);
- **moved**: a row pinned to a commit whose branch now points elsewhere; the refreshed catalog records
  the new commit and the report lists old -> new so a changed checkpoint does not go unnoticed;
- **pinned**: a row that had no commit and now has one.

A pin is only ever replaced by a commit the Hub reported for that branch. A repository whose branches
cannot be read (401/403, 5xx, a timeout, HTML or a wrong-shaped answer, an invalid commit id), or that
had pins and now answers "not found", is **unverified**: its rows keep their previous commits, the report
lists it with the reason, and :func:`refresh_catalog` raises :class:`RefreshIncompleteError` after
writing (the CLI exits 1). If no repository could be read, nothing is written.

The refreshed catalog (same schema, ``commit`` filled) is written atomically to
``registry.user_cache.refreshed_catalog_path()``, next to a JSON report; never into the package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..atomic import write_json_atomic, write_parquet_atomic
from ..errors import HubAnswerError, HubError, RegistryInputError
from ..suites import Suite, get_suite
from .client import (
    HubTarget,
    HubUnreachableError,
    get_json,
    hub_answer,
    hub_api,
    hub_errors,
    hub_target,
    probe_hub,
    require_commit_id,
    require_online,
)

REPORT_NAME = "refresh_report.json"
#: Failed repositories named in a one-line error before "and N more".
_NAMED_FAILURES = 3

BranchCommits = Mapping[str, str]  # branch name -> target commit


@dataclass(frozen=True)
class BranchChange:
    """One branch whose status changed between the catalog and the Hub."""

    repo_id: str
    revision: str
    old_commit: str | None
    new_commit: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "repo_id": self.repo_id,
            "revision": self.revision,
            "old_commit": self.old_commit,
            "new_commit": self.new_commit,
        }


@dataclass(frozen=True)
class Reconciliation:
    """How the Hub's branches compare with the catalog.

    Attributes:
        new: Branches on the Hub without a catalog row (``main`` excluded).
        missing: Catalog rows whose branch is not on the Hub (commit set to null).
        moved: Pinned rows whose branch now points to another commit.
        pinned: Rows that had no commit and got one.
        unchanged: Rows whose commit did not change.
        repos_missing: Catalog repositories the Hub does not have.
        repos_not_in_catalog: Suite repositories on the Hub that the catalog does not know.
        main_commits: Commit of each repository's ``main`` branch.
        unverified: Repository -> why its branches could not be read; its rows kept their commits.
        kept: Rows whose previous commit was kept without re-verification.
    """

    new: tuple[BranchChange, ...]
    missing: tuple[BranchChange, ...]
    moved: tuple[BranchChange, ...]
    pinned: tuple[BranchChange, ...]
    unchanged: int
    repos_missing: tuple[str, ...]
    repos_not_in_catalog: tuple[str, ...]
    main_commits: Mapping[str, str] = field(default_factory=dict)
    unverified: Mapping[str, str] = field(default_factory=dict)
    kept: int = 0

    def counts(self) -> dict[str, int]:
        """Number of branches in each class, for a summary line."""
        return {
            "pinned": len(self.pinned),
            "unchanged": self.unchanged,
            "moved": len(self.moved),
            "new": len(self.new),
            "missing": len(self.missing),
            "repos_missing": len(self.repos_missing),
            "repos_not_in_catalog": len(self.repos_not_in_catalog),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: counts and every changed branch."""
        return {
            "counts": self.counts(),
            "new": [change.to_dict() for change in self.new],
            "missing": [change.to_dict() for change in self.missing],
            "moved": [change.to_dict() for change in self.moved],
            "pinned": [change.to_dict() for change in self.pinned],
            "repos_missing": list(self.repos_missing),
            "repos_not_in_catalog": list(self.repos_not_in_catalog),
            "main_commits": dict(sorted(self.main_commits.items())),
            "unverified": dict(sorted(self.unverified.items())),
            "kept_unverified": self.kept,
        }


@dataclass(frozen=True)
class RefreshResult:
    """What ``refresh_catalog`` did: the reconciliation, the refreshed frame and where it was written."""

    reconciliation: Reconciliation
    catalog: pl.DataFrame
    catalog_path: Path | None
    report_path: Path | None


class RefreshIncompleteError(HubError):
    """Some repositories could not be re-verified; their previous commits were kept.

    Raised by :func:`refresh_catalog` after it wrote what it could verify; ``result`` holds it.
    """

    def __init__(self, message: str, result: RefreshResult) -> None:
        super().__init__(message)
        self.result = result


def is_suite_repo(repo_id: str, suite: str | Suite | None = None) -> bool:
    """True for a repository of ``suite`` (default Gemstones: ``tomg-group-umd/Gemstone-{w}x{d}[...]``)."""
    return get_suite(suite).owns_repo(repo_id)


def report_name(suite: str | Suite | None = None) -> str:
    """File name of the refresh report next to the refreshed catalog (one per suite)."""
    chosen = get_suite(suite)
    return REPORT_NAME if chosen.name == "gemstones" else f"refresh_report_{chosen.name}.json"


def suite_of_rows(catalog: pl.DataFrame, suite: str | Suite | None = None) -> Suite:
    """The suite of catalog rows: ``suite`` if given, else their ``suite`` column, else Gemstones.

    Raises:
        RegistryInputError: an unknown suite, rows of several suites, or rows of another suite
            than the one given.
    """
    names = (
        catalog["suite"].unique(maintain_order=True).to_list() if "suite" in catalog.columns else []
    )
    if len(names) > 1:
        raise RegistryInputError(
            f"the rows belong to several suites ({', '.join(map(str, names))}); "
            "refresh, verify or download one suite at a time"
        )
    chosen = get_suite(suite if suite is not None else (names[0] if names else None))
    if names and names[0] != chosen.name:
        raise RegistryInputError(f"the rows are {names[0]} checkpoints, not {chosen.name}")
    return chosen


def list_suite_repos(target: HubTarget, suite: str | Suite | None = None) -> list[str]:
    """Repository ids of the suite on the Hub (organisation listing filtered by the naming rule).

    Args:
        target: The Hub.
        suite: A registered suite (default Gemstones): its ``organisation``, ``search`` term and
            naming rule (``owns_repo``) decide what belongs.
    """
    chosen = get_suite(suite)
    api = hub_api(target)
    what = f"listing the models of {chosen.organisation}"
    with hub_errors(what, timeouts=target.timeouts), hub_answer(what):
        ids = [
            model.id for model in api.list_models(author=chosen.organisation, search=chosen.search)
        ]
    if not all(isinstance(repo_id, str) for repo_id in ids):
        raise HubAnswerError(f"the Hub's answer while {what} has a model without a string id")
    return sorted(repo_id for repo_id in ids if chosen.owns_repo(repo_id))


def parse_refs(payload: Any, repo_id: str) -> dict[str, str]:
    """Branch -> commit from a ``GET /api/models/{repo}/refs`` answer, checked strictly.

    Raises:
        HubAnswerError: not an object with a ``branches`` list of ``{name, targetCommit}`` objects,
            a branch name that is not a plain string, or a commit that is not 40 hex characters.
    """
    where = f"the branches of {repo_id}"
    branches = payload.get("branches") if isinstance(payload, dict) else None
    if not isinstance(branches, list):
        raise HubAnswerError(
            f"the Hub's answer for {where} is not an object with a 'branches' list "
            f"(got {type(payload).__name__}); check HF_ENDPOINT points at a Hugging Face Hub"
        )
    found: dict[str, str] = {}
    for item in branches:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name or "\x00" in name:
            raise HubAnswerError(f"the Hub's answer for {where} has a branch without a valid name")
        found[name] = require_commit_id(item.get("targetCommit"), f"branch {name} of {repo_id}")
    return found


def list_branches(target: HubTarget, repo_id: str) -> dict[str, str] | None:
    """Branch -> target commit of one repository; None if the Hub says it has no such repository.

    The Hub answers ``RepoNotFound`` (401 without a token, 404 with one) both for a missing repository
    and for a private one the caller cannot see; both read as "not on the Hub" here. A gated
    repository (403) raises a HubError that says how to get access. 429 and 5xx answers are retried
    with ``huggingface_hub``'s back-off; a malformed answer raises HubAnswerError.
    """
    from huggingface_hub import errors as hf

    what = f"listing the branches of {repo_id}"
    with hub_errors(what, timeouts=target.timeouts):
        try:
            payload = get_json(target, f"/api/models/{repo_id}/refs", what)
        except hf.GatedRepoError:
            raise
        except hf.RepositoryNotFoundError:
            return None
    return parse_refs(payload, repo_id)


def fetch_suite_branches(
    target: HubTarget,
    repos: list[str],
    *,
    max_workers: int = 4,
    on_repo_done: Callable[[str], None] | None = None,
) -> dict[str, dict[str, str] | HubError | None]:
    """Branches of each repository, fetched with at most ``max_workers`` requests in flight.

    Once one lookup finds the Hub unreachable (no connection, no answer within the timeouts, after
    ``huggingface_hub``'s retries), lookups not yet started are not attempted: each would wait out
    the same timeouts and retries.

    Returns:
        Repository -> branch commits, None when the Hub has no such repository, or the HubError that
        stopped its lookup (the other repositories are still looked up).
    """
    unreachable: list[HubUnreachableError] = []

    def one(repo: str) -> tuple[str, dict[str, str] | HubError | None]:
        outcome: dict[str, str] | HubError | None
        if unreachable:
            outcome = HubUnreachableError(
                f"not looked up: an earlier lookup failed: {unreachable[0]}"
            )
        else:
            try:
                outcome = list_branches(target, repo)
            except HubUnreachableError as failure:
                unreachable.append(failure)
                outcome = failure
            except HubError as failure:
                outcome = failure
        if on_repo_done is not None:
            on_repo_done(repo)
        return repo, outcome

    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        return dict(pool.map(one, repos))


def reconcile(
    catalog: pl.DataFrame,
    hub_branches: Mapping[str, BranchCommits | None],
    listed_repos: list[str] | None = None,
    unverified: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, Reconciliation]:
    """Compare the catalog with the Hub's branches and return the re-pinned catalog.

    Pure: no network. Column order and dtypes of ``catalog`` are kept; only ``commit`` changes, and
    only to a commit the Hub reported (or to null for a branch of a readable repository that is gone).

    Args:
        catalog: The current catalog (needs ``repo_id``, ``revision``, ``commit``).
        hub_branches: For every repository looked up: branch -> commit, or None if it is not on the Hub.
        listed_repos: Suite repositories the organisation listing returned (for ``repos_not_in_catalog``).
        unverified: Repository -> why its branches could not be read; its rows keep their commits.

    Returns:
        The re-pinned catalog and the report.

    Example:
        >>> frame = pl.DataFrame({"repo_id": ["o/r"], "revision": ["b"], "commit": ["a" * 40]})
        >>> reconcile(frame, {}, unverified={"o/r": "HTTP 401"})[0]["commit"][0] == "a" * 40
        True
    """
    unverified = dict(unverified or {})
    catalog_repos = set(catalog["repo_id"].unique().to_list())
    found = {
        (repo, branch): commit
        for repo, branches in hub_branches.items()
        if branches is not None
        for branch, commit in branches.items()
    }
    new_commits: list[str | None] = []
    missing: list[BranchChange] = []
    moved: list[BranchChange] = []
    pinned: list[BranchChange] = []
    unchanged = kept = 0
    for repo, revision, old in catalog.select("repo_id", "revision", "commit").iter_rows():
        if repo in unverified or (hub_branches.get(repo) is None and old is not None):
            new_commits.append(old)  # never drop a pin that could not be re-verified
            kept += old is not None
            continue
        commit = found.get((repo, revision))
        new_commits.append(commit)
        change = BranchChange(repo, revision, old, commit)
        if commit is None:
            missing.append(change)
        elif old is None:
            pinned.append(change)
        elif old != commit:
            moved.append(change)
        else:
            unchanged += 1
    known = set(zip(catalog["repo_id"].to_list(), catalog["revision"].to_list(), strict=True))
    new = [
        BranchChange(repo, branch, None, commit)
        for (repo, branch), commit in sorted(found.items())
        if branch != "main" and (repo, branch) not in known
    ]
    listed = set(listed_repos or []) | {repo for repo, b in hub_branches.items() if b is not None}
    report = Reconciliation(
        new=tuple(new),
        missing=tuple(missing),
        moved=tuple(moved),
        pinned=tuple(pinned),
        unchanged=unchanged,
        repos_missing=tuple(
            sorted(
                repo
                for repo in catalog_repos
                if hub_branches.get(repo) is None and repo not in unverified
            )
        ),
        repos_not_in_catalog=tuple(sorted(listed - catalog_repos)),
        main_commits={
            repo: branches["main"]
            for repo, branches in hub_branches.items()
            if branches is not None and "main" in branches
        },
        unverified=unverified,
        kept=kept,
    )
    refreshed = catalog.with_columns(pl.Series("commit", new_commits, dtype=pl.Utf8))
    return refreshed, report


def refresh_catalog(
    catalog: pl.DataFrame,
    *,
    destination: Path | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    max_workers: int = 4,
    write: bool = True,
    on_repo_done: Callable[[str], None] | None = None,
    suite: str | Suite | None = None,
) -> RefreshResult:
    """List the suite on the Hub, reconcile it with ``catalog`` and write the refreshed catalog.

    Args:
        catalog: The current catalog frame.
        destination: Where to write the parquet (default ``refreshed_catalog_path()``).
        endpoint: Hub URL (default ``HF_ENDPOINT`` or https://huggingface.co).
        token: Explicit token; default ``HF_TOKEN`` or the login token.
        max_workers: Concurrent refs requests.
        write: False to reconcile only (nothing written).
        on_repo_done: Called with each repository id once its branches are known (progress).
        suite: The suite to list (default: the rows' ``suite`` column, else Gemstones); it names
            the organisation, search term, naming rule and probe repository.

    Returns:
        The reconciliation, the refreshed frame and the paths written.

    Raises:
        HubError: offline, the listing failed, or no repository's branches could be read (nothing
            is written).
        RefreshIncompleteError: some repositories could not be re-verified; what could be verified
            was written, their rows kept their previous commits (``error.result`` has the details).

    Example:
        >>> from registry.catalog import load_catalog
        >>> result = refresh_catalog(load_catalog().frame)  # doctest: +SKIP
        >>> result.reconciliation.counts()["pinned"]  # doctest: +SKIP
        14000
    """
    chosen = suite_of_rows(catalog, suite)
    require_online()
    target = hub_target(endpoint, token)
    probe_hub(target, str(catalog["repo_id"][0]) if catalog.height else chosen.probe_repo)
    listed = list_suite_repos(target, chosen)
    repos = sorted(set(listed) | set(catalog["repo_id"].unique().to_list()))
    outcomes = fetch_suite_branches(
        target, repos, max_workers=max_workers, on_repo_done=on_repo_done
    )
    branches, unverified = _classify(catalog, outcomes, listed)
    if not any(value is not None for value in branches.values()):
        if unverified:
            raise HubError(
                f"no repository's branches could be read from the Hub at {target.display}; "
                f"the catalog was not changed: {_failure_summary(unverified)}"
            )
        raise HubError(
            f"the Hub at {target.display} lists no {chosen.repo_pattern} repositories; "
            "the catalog was not changed"
        )
    refreshed, report = reconcile(catalog, branches, listed, unverified)
    catalog_path = report_path = None
    if write:
        from ..user_cache import refreshed_catalog_path

        catalog_path = destination or refreshed_catalog_path(chosen.name)
        write_parquet_atomic(refreshed, catalog_path)
        report_path = catalog_path.parent / report_name(chosen)
        write_json_atomic({"endpoint": target.display, **report.to_dict()}, report_path)
    result = RefreshResult(report, refreshed, catalog_path, report_path)
    if unverified:
        where = f"written to {catalog_path}" if catalog_path else "not written (write=False)"
        raise RefreshIncompleteError(
            f"could not re-verify {len(unverified)} of {len(repos)} repositories, so their "
            f"{report.kept} pinned checkpoint(s) kept their previous commits; the rest was refreshed "
            f"({where}): {_failure_summary(unverified)}",
            result,
        )
    return result


def _classify(
    catalog: pl.DataFrame,
    outcomes: Mapping[str, dict[str, str] | HubError | None],
    listed: list[str],
) -> tuple[dict[str, dict[str, str] | None], dict[str, str]]:
    """Split lookups into readable/missing repositories and unverified ones (with the reason).

    "Not found" is believed only for a repository that the organisation listing did not return and
    whose rows have no pin: otherwise it contradicts what is known (a bad token, a private repository).
    """
    pinned_repos = set(catalog.filter(pl.col("commit").is_not_null())["repo_id"].to_list())
    listed_set = set(listed)
    branches: dict[str, dict[str, str] | None] = {}
    unverified: dict[str, str] = {}
    for repo, outcome in outcomes.items():
        if isinstance(outcome, HubError):
            unverified[repo] = str(outcome)
        elif outcome is None and repo in listed_set:
            unverified[repo] = (
                "the model listing shows it, but its branches answer 'repository not found' "
                "(HTTP 401/404): a private or gated repository, or a token without access"
            )
        elif outcome is None and repo in pinned_repos:
            unverified[repo] = (
                "the Hub answers 'repository not found' (HTTP 401/404) for a repository with pinned "
                "checkpoints: deleted, made private, or a token without access"
            )
        else:
            branches[repo] = outcome
    return branches, unverified


def _failure_summary(unverified: Mapping[str, str]) -> str:
    """``repo (reason); repo (reason); ... and N more`` on one line."""
    items = sorted(unverified.items())
    named = "; ".join(f"{repo} ({reason})" for repo, reason in items[:_NAMED_FAILURES])
    more = len(items) - _NAMED_FAILURES
    return named + (f"; and {more} more (see the report)" if more > 0 else "")
