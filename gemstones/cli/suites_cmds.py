"""``gemstones suites list | show``: the registered checkpoint suites, and the ``--suite`` option.

Every ``registry`` command takes ``--suite NAME`` (default ``gemstones``); an unknown name exits 2
with ``error: unknown suite 'x'; available: gemstones, pythia``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .app import suites_app
from .output import TableFormat, dumps_json, echo_frame

if TYPE_CHECKING:  # imported where used: `gemstones --help` stays fast
    from registry.suites import Suite

SuiteOption = Annotated[
    str,
    typer.Option(
        "--suite",
        help="Checkpoint suite: gemstones (default) or pythia; `gemstones suites list` shows all.",
    ),
]
FormatOption = Annotated[TableFormat, typer.Option("--format", help="table, csv or json.")]


def suite_summary(suite: Suite) -> dict[str, Any]:
    """One suite's facts and its catalog's counts (from the current catalog of that suite).

    Args:
        suite: A registered suite.

    Returns:
        name, title, organisation, repos, branches (distinct branch names), checkpoints, variants,
        shapes, has_losses (any measured ``val_loss``), has_time_model (any ``gpu_hours``).

    Example:
        >>> from registry.suites import get_suite
        >>> suite_summary(get_suite("pythia"))["branches"]  # doctest: +SKIP
        154
    """
    from registry.catalog import load_catalog

    frame = load_catalog(suite=suite.name).frame
    return {
        "name": suite.name,
        "title": suite.title,
        "organisation": suite.organisation,
        "repos": frame["repo_id"].n_unique(),
        "branches": frame["revision"].n_unique(),
        "checkpoints": frame.height,
        "variants": ",".join(suite.variants),
        "shapes": frame["shape"].n_unique(),
        "has_losses": _has_values(frame, "val_loss"),
        "has_time_model": _has_values(frame, "gpu_hours"),
    }


def _has_values(frame: Any, column: str) -> bool:
    return column in frame.columns and frame[column].is_not_null().any()


@suites_app.command("list")
def list_suites(fmt: FormatOption = TableFormat.table) -> None:
    """List the registered suites with their repositories, branches and checkpoints."""
    import polars as pl

    from registry.suites import SUITES

    rows = [suite_summary(suite) for suite in SUITES.values()]
    echo_frame(pl.DataFrame(rows), fmt)


@suites_app.command("show")
def show_suite(
    name: Annotated[str, typer.Argument(help="A suite name, e.g. pythia.")],
    fmt: FormatOption = TableFormat.table,
) -> None:
    """Show one suite: naming rules, Hub listing, download assumptions, and its shapes."""
    import polars as pl

    from registry.catalog import load_catalog
    from registry.suites import get_suite

    suite = get_suite(name)
    frame = load_catalog(suite=suite.name).frame
    shapes = (
        frame.group_by("shape", maintain_order=True)
        .agg(
            pl.col("width").first(),
            pl.col("depth").first(),
            pl.col("params").first(),
            pl.col("params_non_embedding").first(),
            pl.col("flops_per_token").first(),
            repos=pl.col("repo_id").n_unique(),
            checkpoints=pl.len(),
        )
        .sort("width", "depth")
    )
    record: dict[str, Any] = {
        **suite_summary(suite),
        "repo_pattern": suite.repo_pattern,
        "hub_search": f"author={suite.organisation} search={suite.search}",
        "probe_repo": suite.probe_repo,
        "tokens_per_step": suite.tokens_per_step,
        "sequence_length": suite.sequence_length,
        "main_alias": suite.main_alias,
        "paper_sets": ",".join(suite.paper_sets),
        "download_estimate": (
            f"{suite.bytes_per_param} bytes/param, tokenizer {suite.tokenizer_bytes:,} B, "
            f"config {suite.config_bytes:,} B per checkpoint"
        ),
        "source": suite.source,
    }
    if fmt is TableFormat.json:
        typer.echo(dumps_json({**record, "shapes": shapes.to_dicts()}))
        return
    if fmt is TableFormat.csv:
        echo_frame(shapes, fmt)
        return
    width = max(len(key) for key in record)
    for key, value in record.items():
        typer.echo(f"{key:<{width}}  {'' if value is None else value}")
    echo_frame(shapes, fmt)
