"""Reading the user's files: every failure becomes a one-line ``GemstonesInputError``.

Tables (CSV, parquet, JSON lines), JSON and TOML documents are read here and nowhere else in the
user-facing layer, so the errors of polars, pyarrow, ``json``, ``tomllib``, text decoding and the
file system are translated in one place, into a message that names the file, what is wrong and
what is valid. Values that must be numbers are checked by :func:`numeric_columns`, which names
the first offending row and value.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "empty.csv"
    >>> bad.touch()  # an empty file
    >>> read_table(bad)
    Traceback (most recent call last):
    ...
    gemstones.errors.GemstonesInputError: data file '...empty.csv' is empty; a table needs a header row and data rows
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from gemstones.errors import GemstonesInputError

TABLE_SUFFIXES = (".csv", ".parquet", ".jsonl", ".ndjson")
#: Largest text document (JSON, TOML) read: these are settings files, not data.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024

_POLARS_ERRORS: tuple[type[BaseException], ...] = (pl.exceptions.PolarsError,)
if hasattr(pl.exceptions, "PanicException"):  # a Rust panic inside polars (a BaseException)
    _POLARS_ERRORS = (*_POLARS_ERRORS, pl.exceptions.PanicException)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def existing_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a ``Path`` if it is a readable file.

    Raises:
        GemstonesInputError: it does not exist or is a folder.
    """
    file = Path(path)
    if file.is_dir():
        raise GemstonesInputError(f"{what} {str(file)!r} is a folder, not a file")
    if not file.is_file():
        raise GemstonesInputError(f"{what} {str(file)!r} does not exist")
    return file


def read_text_file(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of a small file (a settings document).

    Raises:
        GemstonesInputError: missing, unreadable, larger than ``MAX_DOCUMENT_BYTES`` or not UTF-8.
    """
    file = existing_file(path, what)
    try:
        size = file.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise GemstonesInputError(
                f"{what} {str(file)!r} has {size:,} bytes; at most {MAX_DOCUMENT_BYTES:,} are read"
            )
        return file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise GemstonesInputError(
            f"{what} {str(file)!r} is not UTF-8 text (byte {error.start}: {error.object[error.start : error.start + 1]!r})"
        ) from None
    except OSError as error:
        raise GemstonesInputError(
            f"cannot read {what} {str(file)!r}: {error.strerror or error}"
        ) from None


def read_json_file(path: str | Path, what: str = "JSON file") -> Any:
    """Parse a JSON document.

    Raises:
        GemstonesInputError: unreadable, not UTF-8, not JSON, or nested too deeply.
    """
    text = read_text_file(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise GemstonesInputError(
            f"{what} {str(path)!r} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise GemstonesInputError(f"{what} {str(path)!r} is nested too deeply to read") from None


def read_toml_file(path: str | Path, what: str = "TOML file") -> dict[str, Any]:
    """Parse a TOML document.

    Raises:
        GemstonesInputError: unreadable, binary, not TOML, or nested too deeply.
    """
    text = read_text_file(path, what)
    if "\x00" in text:
        raise GemstonesInputError(f"{what} {str(path)!r} is binary, not TOML text")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise GemstonesInputError(
            f"{what} {str(path)!r} is not valid TOML: {_first_line(error)}"
        ) from None
    except RecursionError:
        raise GemstonesInputError(f"{what} {str(path)!r} is nested too deeply to read") from None


def read_table(
    path: str | Path,
    what: str = "data file",
    *,
    schema_overrides: Mapping[str, Any] | None = None,
    suffixes: Sequence[str] = TABLE_SUFFIXES,
) -> pl.DataFrame:
    """Read a CSV, parquet or JSON-lines table (chosen by the suffix).

    Args:
        path: the file.
        what: how to name it in messages (``"data file"``, ``"SNR CSV"``).
        schema_overrides: CSV only: column dtypes to read with (e.g. keep text columns as text).
        suffixes: the suffixes accepted here.

    Returns:
        The table, with at least one column.

    Raises:
        GemstonesInputError: missing, unsupported suffix, empty, ragged, not UTF-8, not the
            format its suffix says, or without columns.

    Example:
        >>> read_table("runs.csv").columns  # doctest: +SKIP
        ['params', 'tokens', 'loss']
    """
    file = existing_file(path, what)
    suffix = file.suffix.lower()
    if suffix not in suffixes:
        raise GemstonesInputError(
            f"unsupported {what} {file.name!r}; valid suffixes: {', '.join(suffixes)}"
        )
    try:
        if file.stat().st_size == 0:
            raise GemstonesInputError(
                f"{what} {str(file)!r} is empty; a table needs a header row and data rows"
            )
        if suffix == ".csv":
            frame = pl.read_csv(file, schema_overrides=schema_overrides, infer_schema_length=10_000)
        elif suffix == ".parquet":
            frame = pl.read_parquet(file)
        else:
            frame = pl.read_ndjson(file)
    except GemstonesInputError:
        raise
    except pl.exceptions.NoDataError:
        raise GemstonesInputError(
            f"{what} {str(file)!r} is empty; a table needs a header row and data rows"
        ) from None
    except _POLARS_ERRORS as error:
        raise GemstonesInputError(_table_problem(file, what, suffix, error)) from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise GemstonesInputError(
            f"cannot read {what} {str(file)!r}: {_first_line(error)}"
        ) from None
    if not frame.columns:
        raise GemstonesInputError(f"{what} {str(file)!r} has no columns")
    return frame


def _table_problem(file: Path, what: str, suffix: str, error: BaseException) -> str:
    """A one-line description of why polars could not read ``file`` (polars' own first line)."""
    kind = {".csv": "CSV", ".parquet": "parquet", ".jsonl": "JSON lines", ".ndjson": "JSON lines"}
    return (
        f"{what} {str(file)!r} is not a readable {kind[suffix]} table (not UTF-8 text, ragged "
        f"rows or another format?): {_first_line(error)}"
    )


def numeric_columns(
    frame: pl.DataFrame,
    columns: Sequence[str],
    source: str,
    *,
    dtype: Any = pl.Float64,
    allow_missing: bool = False,
) -> pl.DataFrame:
    """``frame`` with ``columns`` cast to ``dtype``; every value must be a number.

    Args:
        frame: the table.
        columns: the columns that must hold numbers.
        source: the file's name, for messages.
        dtype: ``pl.Float64`` or an integer dtype (then a fractional value is an error too).
        allow_missing: keep empty cells as nulls instead of refusing them.

    Raises:
        GemstonesInputError: a missing value or a value that is not a number, naming its
            (1-based, data) row, column and text.

    Example:
        >>> numeric_columns(pl.DataFrame({"step": ["1", "x"]}), ["step"], "snr.csv", dtype=pl.Int64)
        Traceback (most recent call last):
        ...
        gemstones.errors.GemstonesInputError: snr.csv: row 2, column 'step': 'x' is not a whole number
    """
    casts = []
    for column in columns:
        values = frame[column]
        if values.dtype.is_nested() or values.dtype in (pl.Boolean, pl.Object):
            raise GemstonesInputError(
                f"{source}: column {column!r} holds {values.dtype} values, not numbers"
            )
        try:
            as_float = values.cast(pl.Float64, strict=False)
        except _POLARS_ERRORS:
            raise GemstonesInputError(
                f"{source}: column {column!r} holds {values.dtype} values, not numbers"
            ) from None
        if dtype.is_integer():
            converted = as_float.cast(dtype, strict=False)
            bad = converted.is_null() | (converted.cast(pl.Float64) != as_float).fill_null(True)
        else:
            converted = as_float.cast(dtype)
            bad = converted.is_null()
        if allow_missing:
            bad = bad & values.is_not_null()
        if bad.any():
            row = int(bad.arg_true()[0])
            original = values[row]
            if original is None:
                raise GemstonesInputError(
                    f"{source}: row {row + 1} has no value in column {column!r} (a short row?); "
                    "every row needs one value per column"
                )
            kind = "a whole number" if dtype.is_integer() else "a number"
            raise GemstonesInputError(
                f"{source}: row {row + 1}, column {column!r}: {original!r} is not {kind}"
            )
        casts.append(converted.alias(column))
    return frame.with_columns(casts)


__all__ = [
    "MAX_DOCUMENT_BYTES",
    "TABLE_SUFFIXES",
    "existing_file",
    "numeric_columns",
    "read_json_file",
    "read_table",
    "read_text_file",
    "read_toml_file",
]
