"""Rendering tables and records for the terminal as text, CSV or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

from registry.atomic import dumps_strict_json

if TYPE_CHECKING:  # polars is imported where used: `gemstones --help` stays fast
    import polars as pl


class TableFormat(StrEnum):
    """Output formats of commands that print a table."""

    table = "table"
    csv = "csv"
    json = "json"


def dumps_json(payload: Any) -> str:
    """Strict JSON text (NaN and infinities written as ``null``), so any JSON reader accepts it.

    Every ``--format json`` output goes through here.

    Example:
        >>> print(dumps_json({"A": float("inf")}))
        {
          "A": null
        }
    """
    return dumps_strict_json(payload, indent=2)


def echo_frame(frame: pl.DataFrame, fmt: TableFormat, *, float_precision: int = 6) -> None:
    """Print ``frame`` as an aligned text table, CSV, or a JSON list of records."""
    import polars as pl

    if fmt is TableFormat.csv:
        flat = frame.with_columns(
            pl.col(c).list.join(";")
            for c, dtype in frame.schema.items()
            if dtype == pl.List(pl.Utf8)
        )
        typer.echo(flat.write_csv(), nl=False)
    elif fmt is TableFormat.json:
        typer.echo(dumps_json(frame.to_dicts()))
    else:
        with pl.Config(
            tbl_rows=-1,
            tbl_cols=-1,
            tbl_width_chars=1000,
            tbl_hide_dataframe_shape=True,
            tbl_hide_column_data_types=True,
            tbl_formatting="ASCII_FULL_CONDENSED",
            float_precision=float_precision,
            fmt_str_lengths=80,
            thousands_separator=",",
        ):
            typer.echo(str(frame))
