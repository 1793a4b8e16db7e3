"""``gemstones registry list | show | stats``: offline queries of the checkpoint catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .app import registry_app
from .output import FormatOption, TableFormat, dumps_json, echo_frame, echo_record, echo_text
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

if TYPE_CHECKING:  # imported where used: `gemstones --help` stays fast
    import polars as pl

#: Columns shown by ``registry list`` unless ``--columns`` asks for others.
DEFAULT_LIST_COLUMNS = (
    "repo_id",
    "revision",
    "variant",
    "params",
    "step",
    "tokens",
    "flops",
    "gpu_hours",
    "val_loss",
)

#: Largest ``--limit`` accepted (a bound, not a default: the catalog is far smaller).
MAX_LIMIT = 1_000_000_000


def _check_columns(frame: pl.DataFrame, columns: list[str]) -> None:
    from registry.errors import RegistryInputError

    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise RegistryInputError(
            f"unknown column {unknown[0]!r}; valid columns: {', '.join(frame.columns)}"
        )


@registry_app.command("list")
def list_checkpoints(
    variant: VariantOption = None,
    width: WidthOption = None,
    depth: DepthOption = None,
    shape: ShapeOption = None,
    min_tokens: MinTokensOption = None,
    max_tokens: MaxTokensOption = None,
    in_set: InSetOption = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="Comma-separated columns to show ('all' for every column)."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help=f"Show at most this many rows (1 to {MAX_LIMIT:,})."),
    ] = None,
    fmt: FormatOption = TableFormat.table,
    suite: SuiteOption = "gemstones",
) -> None:
    """List checkpoints matching the filters (of the Gemstones suite unless --suite)."""
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        from registry.errors import RegistryInputError

        raise RegistryInputError(f"--limit {limit} is out of range; valid: 1 to {MAX_LIMIT:,}")
    from registry.catalog import load_catalog

    selected = select_from_catalog(
        load_catalog(suite=suite), variant=variant, width=width, depth=depth, shape=shape,
        min_tokens=min_tokens, max_tokens=max_tokens, in_set=in_set,
    )  # fmt: skip
    frame = selected.frame
    chosen = (
        [c for c in DEFAULT_LIST_COLUMNS if c in frame.columns]  # a suite may lack some
        if columns is None
        else (frame.columns if columns == "all" else columns.split(","))
    )
    _check_columns(frame, chosen)
    frame = frame.select(chosen)
    if limit is not None:
        frame = frame.head(limit)
    echo_frame(frame, fmt)
    if fmt is TableFormat.table:
        typer.echo(f"{frame.height} of {len(selected)} matching checkpoints", err=True)


@registry_app.command("show")
def show_checkpoint(
    checkpoint: Annotated[
        str,
        typer.Argument(
            help="REPO_ID@REVISION, e.g. tomg-group-umd/Gemstone-1024x28@step_00002385."
        ),
    ],
    fmt: FormatOption = TableFormat.table,
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite", help="The checkpoint's suite (default: the one its repo id names)."
        ),
    ] = None,
) -> None:
    """Show every recorded fact about one checkpoint (of any suite: its repo id names it)."""
    import polars as pl

    from registry.catalog import load_catalog
    from registry.suites import suite_of_repo

    if suite is None:
        owner = suite_of_repo(checkpoint.partition("@")[0])
        suite = owner.name if owner is not None else None
    row = load_catalog(suite=suite).get(checkpoint)
    if fmt is TableFormat.json:
        typer.echo(dumps_json(row))
    elif fmt is TableFormat.csv:
        echo_frame(pl.DataFrame([row]), fmt)
    else:
        echo_record(row, fmt)


@registry_app.command("stats")
def stats(fmt: FormatOption = TableFormat.table, suite: SuiteOption = "gemstones") -> None:
    """Count checkpoints, checkpoints per variant, shapes and repositories."""
    import polars as pl

    from registry.catalog import load_catalog

    catalog = load_catalog(suite=suite)
    counts = catalog.counts()
    counts["source"] = str(catalog.source)
    if fmt is TableFormat.json:
        typer.echo(dumps_json(counts))
        return
    rows = [
        {
            "variant": v,
            "checkpoints": counts["per_variant"][v],
            "shapes": counts["shapes_per_variant"][v],
        }
        for v in counts["per_variant"]
    ]
    rows.append(
        {"variant": "all", "checkpoints": counts["checkpoints"], "shapes": counts["shapes"]}
    )
    echo_frame(pl.DataFrame(rows), TableFormat.csv if fmt is TableFormat.csv else TableFormat.table)
    if fmt is TableFormat.table:
        echo_text(
            f"{counts['repositories']} repositories, {counts['pinned']} checkpoints pinned to a commit"
        )
        echo_text(f"catalog: {counts['source']}")
