"""Rendering tables and records for the terminal as text, CSV or JSON.

One output vocabulary for every command that prints results:

- ``--format table|csv|json`` (:data:`FormatOption`): ``table`` is for people and fits the terminal
  (``COLUMNS``, else the terminal's width; unlimited when piped); ``csv`` is one header line and one
  line per row; ``json`` is strict JSON (``null``, never ``NaN`` or ``Infinity``), a list of records
  for a table and one object for a single result.
- Progress, ``wrote PATH`` lines and notes go to stderr when the format is ``csv`` or ``json``, so
  stdout stays machine-readable.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from registry.atomic import dumps_strict_json

if TYPE_CHECKING:  # polars is imported where used: `gemstones --help` stays fast
    import polars as pl


class TableFormat(StrEnum):
    """Output formats of commands that print results."""

    table = "table"
    csv = "csv"
    json = "json"


FORMAT_CHOICES = tuple(f.value for f in TableFormat)


def parse_format(value: str | TableFormat) -> TableFormat | str:
    """``--format``'s parser: a :class:`TableFormat`, or the text as given for :func:`check_format`."""
    if isinstance(value, TableFormat):
        return value
    text = str(value).strip().lower()
    return TableFormat(text) if text in FORMAT_CHOICES else str(value)


def check_format(value: TableFormat | str) -> TableFormat:
    """``--format``'s check (a callback, so the error is a typed input error: exit 2, one line).

    Raises:
        GemstonesInputError: not table, csv or json.
    """
    if isinstance(value, TableFormat):
        return value
    from gemstones.errors import GemstonesInputError

    raise GemstonesInputError(f"unknown --format {value!r}; valid: {', '.join(FORMAT_CHOICES)}")


#: The one ``--format`` option of every command that prints results.
FormatOption = Annotated[
    TableFormat,
    typer.Option(
        "--format",
        parser=parse_format,
        callback=check_format,
        metavar="[" + "|".join(FORMAT_CHOICES) + "]",
        help="Output format: table (for people), csv, or json (strict: null, never NaN/Infinity).",
    ),
]

#: ``--json``: the old spelling of ``--format json``, kept hidden so existing scripts still work.
JsonAliasOption = Annotated[
    bool, typer.Option("--json", hidden=True, help="Deprecated: use --format json.")
]


def resolve_format(fmt: TableFormat, as_json: bool = False) -> TableFormat:
    """The format asked for: ``--json`` (deprecated) wins over the default ``--format table``.

    Raises:
        GemstonesInputError: ``--json`` together with ``--format csv``.
    """
    if not as_json:
        return fmt
    if fmt is TableFormat.csv:
        from gemstones.errors import GemstonesInputError

        raise GemstonesInputError("--json contradicts --format csv; give only --format json")
    return TableFormat.json


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


def terminal_width() -> int | None:
    """Width that table output must fit: ``COLUMNS`` if set, else the terminal's, else None.

    None (no limit) when stdout is not a terminal and ``COLUMNS`` is unset, so piped tables are
    never folded.
    """
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def fit_text(text: str, width: int | None = None) -> str:
    """``text`` with every line longer than the terminal folded (continuations indented 4)."""
    width = terminal_width() if width is None else width
    if width is None:
        return text
    lines: list[str] = []
    for line in text.splitlines():
        if len(line) <= width:
            lines.append(line)
            continue
        lines.extend(
            textwrap.wrap(
                line,
                width=width,
                subsequent_indent="    ",
                break_long_words=True,
                break_on_hyphens=False,
                drop_whitespace=True,
            )
            or [""]
        )
    return "\n".join(lines)


def echo_text(text: str, *, err: bool = False) -> None:
    """Print plain text, folded to the terminal width."""
    typer.echo(fit_text(text), err=err)


def _cell(value: Any, float_precision: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value != 0 and (abs(value) >= 1e9 or abs(value) < 10 ** (-float_precision)):
            return f"{value:.{float_precision}g}"
        return f"{value:,.{float_precision}f}".rstrip("0").rstrip(".")
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def render_frame(frame: pl.DataFrame, *, width: int | None = None, float_precision: int = 6) -> str:
    """``frame`` as an aligned text table that fits ``width`` characters (None: no limit).

    Example:
        >>> import polars as pl
        >>> print(render_frame(pl.DataFrame({"a": [1.5], "b": ["x"]})))  # doctest: +SKIP
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.ASCII, show_edge=True)
    numeric = {name for name, dtype in frame.schema.items() if dtype.is_numeric()}
    for name in frame.columns:
        table.add_column(
            name, justify="right" if name in numeric else "left", overflow="fold", no_wrap=False
        )
    for row in frame.iter_rows():
        table.add_row(*(_cell(value, float_precision) for value in row))
    console = Console(
        width=width if width is not None else 100_000,
        file=None,
        force_terminal=False,
        color_system=None,
        highlight=False,
        soft_wrap=False,
        record=True,
    )
    with console.capture() as captured:
        console.print(table, crop=True)
    lines = [line.rstrip() for line in captured.get().splitlines()]
    return "\n".join(lines)


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
        typer.echo(render_frame(frame, width=terminal_width(), float_precision=float_precision))


def echo_record(record: dict[str, Any], fmt: TableFormat) -> None:
    """Print one result: ``key  value`` lines, a one-row CSV, or one JSON object."""
    import polars as pl

    if fmt is TableFormat.json:
        typer.echo(dumps_json(record))
    elif fmt is TableFormat.csv:
        flat = {
            k: (";".join(map(str, v)) if isinstance(v, list | tuple) else v)
            for k, v in record.items()
            if not isinstance(v, dict)
        }
        echo_frame(pl.DataFrame([flat]), fmt)
    else:
        width = max((len(k) for k in record), default=0)
        echo_text(
            "\n".join(
                f"{key:<{width}}  {'' if value is None else value}" for key, value in record.items()
            )
        )
