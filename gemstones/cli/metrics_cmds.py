"""``gemstones metrics list``: the metric registry (the catalog's measurement columns and the
evaluated metrics whose results exist)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import command_group
from .output import TableFormat, dumps_json, echo_frame

metrics_app = command_group(
    "metrics", "The metrics designs and laws can fit: catalog columns and evaluated results."
)

#: Columns of the text table (csv and json also carry the provenance and companion columns).
TABLE_COLUMNS = ("name", "kind", "chance", "direction", "unit", "source")


@metrics_app.command("list")
def metrics_list(
    results: Annotated[
        Path | None,
        typer.Option(
            "--results",
            help="Results folder of `gemstones eval --out` whose metrics to include; "
            "default: the user cache's.",
        ),
    ] = None,
    output_format: Annotated[
        TableFormat, typer.Option("--format", help="table | csv | json")
    ] = TableFormat.table,
) -> None:
    """List the registered metrics: name, kind (loss | accuracy), chance level, source."""
    import polars as pl

    from gemstones.evaluate.results import metric_registry

    records = [metric.to_dict() for metric in metric_registry(results).metrics()]
    if output_format is TableFormat.json:
        typer.echo(dumps_json(records))
        return
    frame = pl.DataFrame(records, schema_overrides={"chance": pl.Float64})
    if output_format is TableFormat.table:
        frame = frame.select(TABLE_COLUMNS)
    echo_frame(frame, output_format, float_precision=4)
