"""``gemstones registry refresh | verify | download``: the Hub side of the registry.

Exit codes: 0 success; 1 a Hub failure (offline, no answer within the timeouts, 401/403, 404, 429 or
5xx after retries, a malformed answer, an unusable cached catalog) or, for ``verify``, problems found,
or, for ``refresh``, repositories that could not be re-verified (their pins are kept); 2 a usage
mistake (bad option value, empty selection, subset over ``--max-bytes``, ``HF_ENDPOINT`` that is not a
URL, a timeout variable that is not a number). Progress goes to stderr so that ``--json`` output on
stdout stays machine-readable. ``--format table|csv|json`` as everywhere (``--json`` is its hidden, deprecated
old spelling).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from gemstones.errors import GemstonesInputError

from .app import registry_app
from .output import (
    FormatOption,
    JsonAliasOption,
    TableFormat,
    dumps_json,
    echo_frame,
    echo_record,
    resolve_format,
)
from .selection import (
    DepthOption,
    InSetOption,
    MaxTokensOption,
    MinTokensOption,
    ShapeOption,
    VariantOption,
    WidthOption,
    select_from_catalog,
)
from .suites_cmds import SuiteOption

_SIZE_UNITS = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
               "T": 10**12, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip
_SIZE_RE = re.compile(r"^\s*(?P<number>\d+(?:\.\d*)?)\s*(?P<unit>[a-zA-Z]*)\s*$")

WorkersOption = Annotated[
    int, typer.Option("--workers", min=1, max=32, help="Concurrent Hub requests.")
]
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint", help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)."),
]
DesignOption = Annotated[
    str | None,
    typer.Option(
        "--design", help="Select the checkpoints of a design (e.g. hot) instead of filters."
    ),
]


def parse_size(text: str) -> int:
    """Parse ``500000``, ``500MB``, ``2.5GB`` or ``1GiB`` into bytes (decimal units unless ``iB``)."""
    match = _SIZE_RE.match(text)
    unit = match["unit"].upper() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise GemstonesInputError(
            f"--max-bytes: cannot read {text!r} as a size; use bytes or a unit: 500MB, 2.5GB, 1GiB, 1TB"
        )
    return int(float(match["number"]) * _SIZE_UNITS[unit])


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _select_rows(design: str | None, filters: dict[str, str | None], suite: str = "gemstones"):
    """Rows of the suite's current catalog chosen by ``--design`` or by the ``registry list`` filters."""
    from registry.catalog import load_catalog
    from registry.suites import DEFAULT_SUITE, get_suite

    catalog = load_catalog(suite=suite)
    if design is None:
        return select_from_catalog(catalog, **filters).frame
    if get_suite(suite).name != DEFAULT_SUITE:
        raise GemstonesInputError(
            f"--design selects Gemstones checkpoints; it cannot be combined with --suite {suite} "
            "(use the --variant/--shape/... filters)"
        )
    if any(value is not None for value in filters.values()):
        raise GemstonesInputError(
            "--design cannot be combined with --variant/--width/--depth/... filters"
        )
    return _design_rows(design, catalog)


def _design_rows(name: str, catalog: Any) -> Any:
    """Rows (one per checkpoint) that the design ``name`` selects from ``catalog``."""
    from gemstones.scaling.designs import load_design, select_rows

    selected = select_rows(load_design(name), catalog)
    frame = getattr(selected, "frame", selected)
    return frame.unique(subset=["repo_id", "revision"], maintain_order=True)


def _progress(total: int, description: str, *, bytes_mode: bool = False):
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    counter = [DownloadColumn(), TransferSpeedColumn()] if bytes_mode else [MofNCompleteColumn()]
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), *counter, TimeRemainingColumn(),
        console=_stderr_console(), transient=False,
    )  # fmt: skip
    task = progress.add_task(description, total=total)
    return progress, task


@registry_app.command("refresh")
def refresh_command(
    output_format: FormatOption = TableFormat.table,
    as_json: JsonAliasOption = False,
    workers: WorkersOption = 4,
    endpoint: EndpointOption = None,
    suite: SuiteOption = "gemstones",
) -> None:
    """List the suite's repositories and branches on the Hub, pin every checkpoint to its commit.

    Reconciles with the current catalog (new, missing and moved branches) and writes the refreshed
    catalog atomically to the user cache (never into the package); later commands use it. A pin is
    never dropped: repositories whose branches cannot be read keep their commits, are listed, and the
    command exits 1. Nothing is written when no repository could be read.
    """
    from registry.catalog import load_catalog
    from registry.hub.refs import RefreshIncompleteError, refresh_catalog

    catalog = load_catalog(suite=suite, on_bad_cache="raise")  # never overwrite a cache to look at
    repos = catalog.frame["repo_id"].n_unique()
    progress, task = _progress(repos, "branches")
    incomplete: RefreshIncompleteError | None = None
    with progress:
        try:
            result = refresh_catalog(
                catalog.frame,
                endpoint=endpoint,
                max_workers=workers,
                on_repo_done=lambda _repo: progress.advance(task),
                suite=suite,
            )
        except RefreshIncompleteError as error:
            incomplete, result = error, error.result
    _print_refresh(result, resolve_format(output_format, as_json))
    if incomplete is not None:
        raise incomplete  # printed by the CLI as one `error:` line, exit 1


def _print_refresh(result: Any, fmt: TableFormat) -> None:
    """The refresh summary: JSON, CSV (the counts), or counts and the first changes of each kind."""
    report = result.reconciliation
    if fmt is TableFormat.json:
        payload = {
            "catalog": str(result.catalog_path),
            "report": str(result.report_path),
            **report.to_dict(),
        }
        typer.echo(dumps_json(payload))
        return
    if fmt is TableFormat.csv:
        echo_record({"catalog": str(result.catalog_path), "report": str(result.report_path),
                     **report.counts(), "repos_unverified": len(report.unverified)}, fmt)  # fmt: skip
        return
    counts = {**report.counts(), "repos_unverified": len(report.unverified)}
    typer.echo(f"refreshed catalog: {result.catalog_path}  (report: {result.report_path})")
    width = max(len(name) for name in counts)
    for name, value in counts.items():
        typer.echo(f"  {name:<{width}}  {value:>6}")
    for title, changes in (
        ("moved", report.moved),
        ("new", report.new),
        ("missing", report.missing),
    ):
        for change in changes[:10]:
            old = (change.old_commit or "-")[:12]
            new = (change.new_commit or "-")[:12]
            typer.echo(f"  {title:<8} {change.repo_id}@{change.revision}  {old} -> {new}")
        if len(changes) > 10:
            typer.echo(f"  {title:<8} ... and {len(changes) - 10} more (see the report)")
    for repo in sorted(report.unverified)[:10]:
        typer.echo(f"  {'kept':<8} {repo}  (not re-verified; previous commits kept)")


@registry_app.command("verify")
def verify_command(
    variant: VariantOption = None,
    width: WidthOption = None,
    depth: DepthOption = None,
    shape: ShapeOption = None,
    min_tokens: MinTokensOption = None,
    max_tokens: MaxTokensOption = None,
    in_set: InSetOption = None,
    design: DesignOption = None,
    output_format: FormatOption = TableFormat.table,
    as_json: JsonAliasOption = False,
    workers: WorkersOption = 4,
    endpoint: EndpointOption = None,
    suite: SuiteOption = "gemstones",
) -> None:
    """Check the selected checkpoints on the Hub: branches present, weights present, no duplicates.

    Reads each branch's file metadata (sizes, LFS sha256). Exits 1 when a problem is found.
    """
    from registry.hub.verify import verify_checkpoints

    filters = {"variant": variant, "width": width, "depth": depth, "shape": shape,
               "min_tokens": min_tokens, "max_tokens": max_tokens, "in_set": in_set}  # fmt: skip
    rows = _select_rows(design, filters, suite)
    progress, task = _progress(rows.height, "checkpoints")
    with progress:
        report = verify_checkpoints(
            rows,
            endpoint=endpoint,
            max_workers=workers,
            on_checkpoint_done=lambda _c: progress.advance(task),
        )
    fmt = resolve_format(output_format, as_json)
    if fmt is TableFormat.json:
        typer.echo(dumps_json(report.to_dict()))
    elif fmt is TableFormat.csv:
        import polars as pl

        rows = [
            {"kind": p.kind, "checkpoint": p.checkpoint, "detail": p.detail}
            for p in report.problems
        ]
        schema = {"kind": pl.Utf8, "checkpoint": pl.Utf8, "detail": pl.Utf8}
        echo_frame(pl.DataFrame(rows, schema=schema), fmt)
    else:
        typer.echo(f"checked {report.checked} checkpoints: {len(report.problems)} problem(s)")
        for problem in report.problems:
            typer.echo(f"  {problem.kind:<18} {problem.checkpoint}  {problem.detail}")
        for group in report.expected_duplicate_groups:
            typer.echo(
                f"  {'same_init':<18} {', '.join(group)}  (may share weights; not a problem)"
            )
    if not report.ok:
        raise typer.Exit(code=1)


@registry_app.command("download")
def download_command(
    variant: VariantOption = None,
    width: WidthOption = None,
    depth: DepthOption = None,
    shape: ShapeOption = None,
    min_tokens: MinTokensOption = None,
    max_tokens: MaxTokensOption = None,
    in_set: InSetOption = None,
    design: DesignOption = None,
    files: Annotated[
        str, typer.Option("--files", help="config, tokenizer, weights or all (comma-separated).")
    ] = "config,tokenizer",
    to: Annotated[
        Path | None,
        typer.Option("--to", help="Plain folder (DIR/<repo>/<revision>/); default: the HF cache."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the count and size; fetch nothing.")
    ] = False,
    max_bytes: Annotated[
        str | None,
        typer.Option("--max-bytes", help="Refuse a subset larger than this (e.g. 20GB)."),
    ] = None,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle", help="Accept pickled *.bin/*.pt weights when no safetensors."
        ),
    ] = False,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="Where to write the JSON manifest.")
    ] = None,
    output_format: FormatOption = TableFormat.table,
    as_json: JsonAliasOption = False,
    workers: WorkersOption = 4,
    endpoint: EndpointOption = None,
    suite: SuiteOption = "gemstones",
) -> None:
    """Download a curated subset, pinned to commits, safetensors only, with a manifest of hashes.

    Select by the `registry list` filters or by --design. --dry-run prints the count and total bytes
    (exact from the Hub, or estimated from the catalog when the Hub is not reachable).
    """
    from registry.hub.download import (
        DownloadEstimate,
        DownloadPlan,
        download_checkpoints,
        format_bytes,
    )
    from registry.hub.files import parse_files_choice

    fmt = resolve_format(output_format, as_json)
    categories = parse_files_choice(files)
    limit = parse_size(max_bytes) if max_bytes is not None else None
    filters = {"variant": variant, "width": width, "depth": depth, "shape": shape,
               "min_tokens": min_tokens, "max_tokens": max_tokens, "in_set": in_set}  # fmt: skip
    rows = _select_rows(design, filters, suite)
    label = f"design {design}" if design else "selection"
    state: dict[str, Any] = {}

    def on_plan(plan: DownloadPlan) -> None:
        typer.echo(f"{label}: {plan.summary()} -> {to or 'the Hugging Face cache'}", err=True)
        for note in plan.notes:
            typer.echo(f"note: {note}", err=True)
        progress, task = _progress(plan.total_bytes, "downloading", bytes_mode=True)
        progress.start()
        state["progress"], state["task"] = progress, task

    def on_bytes(count: int) -> None:
        if "progress" in state:
            state["progress"].advance(state["task"], count)

    try:
        result = download_checkpoints(
            rows, files=categories, to=to, dry_run=dry_run, max_bytes=limit, allow_pickle=allow_pickle,
            max_workers=workers, endpoint=endpoint, manifest_path=manifest, on_plan=on_plan, on_bytes=on_bytes,
        )  # fmt: skip
    finally:
        if "progress" in state:
            state["progress"].stop()
    if isinstance(result, DownloadEstimate):
        payload = {
            "dry_run": True, "exact": False, "checkpoints": result.checkpoints, "files": list(categories),
            "total_bytes": result.total_bytes, "assumptions": list(result.assumptions),
            "note": "estimated from the catalog: the Hub is not reachable; the actual download needs the Hub",
        }  # fmt: skip
        if fmt is not TableFormat.table:
            echo_record(payload, fmt)
            return
        typer.echo(f"dry run ({label}, {', '.join(categories)}): {result.summary()}")
        for assumption in result.assumptions:
            typer.echo(f"  assumes {assumption}")
        typer.echo(
            "  the Hub is not reachable: sizes are estimated from the catalog; the actual download needs the Hub"
        )
        return
    if isinstance(result, DownloadPlan):
        if fmt is not TableFormat.table:
            echo_record({
                "dry_run": True, "exact": True, "checkpoints": result.checkpoints, "files": len(result.files),
                "total_bytes": result.total_bytes, "notes": list(result.notes),
            }, fmt)  # fmt: skip
            return
        typer.echo(
            f"dry run ({label}, {', '.join(categories)}): {result.summary()} (exact, from the Hub)"
        )
        for note in result.notes:
            typer.echo(f"  note: {note}")
        return
    total = sum(entry.size for entry in result.entries)
    if fmt is not TableFormat.table:
        echo_record({"manifest": str(result.manifest_path), "destination": result.destination,
                     "files": len(result.entries), "total_bytes": total}, fmt)  # fmt: skip
        return
    typer.echo(
        f"downloaded {len(result.entries)} files ({format_bytes(total)}) of {result.plan.checkpoints} "
        f"checkpoints to {result.destination}; hashes verified; manifest: {result.manifest_path}"
    )
