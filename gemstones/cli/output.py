"""Rendering tables and records for the terminal as text, CSV or JSON."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # polars is imported where used: `gemstones --help` stays fast
    import polars as pl


class TableFormat(StrEnum):
    """Output formats of commands that print a table."""

    table = "table"
    csv = "csv"
    json = "json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def dumps_json(payload: Any) -> str:
    """JSON text with NaN/inf written as null, so any JSON reader accepts it."""
    return json.dumps(_jsonable(payload), indent=2, default=str)


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
