"""Read repeated-sampling tables (pass@k / coverage against samples k) from CSV and JSON Lines.

Two layouts, detected from the columns (CSV header, or the keys of the first JSON Lines object):

- per problem: one row per problem with its id, the samples drawn n and the correct ones c
  (``problem_id, n, c``; aliases below), optionally ``model`` and ``task``. This is what the
  unbiased pass@k estimator and the Beta fit of ``fitting.sampling`` need.
- aggregate: one row per k with the coverage (fraction of problems solved by at least one of k
  samples) and optionally the number of problems (``k, coverage[, n_problems]``), optionally
  ``model`` and ``task``.

``model`` defaults to the file's stem and ``task`` to ``all``. Every bad cell is an error naming the
file, the line and the value: a count that is not a whole number, negative, c > n, a coverage
outside [0, 1], a problem id or a k given twice in one (model, task). Nothing is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from fitting.sampling import COVERAGE_COLUMNS, MAX_PROBLEMS, MAX_SAMPLES, PROBLEM_COLUMNS
from gemstones.errors import GemstonesInputError
from gemstones.ttc.ingest import _number_or_none, _read_csv

PROBLEM_ALIASES: dict[str, tuple[str, ...]] = {
    "problem_id": ("problem_id", "problem", "id", "question_id"),
    "n": ("n", "num_samples", "n_samples", "samples"),
    "c": ("c", "num_correct", "n_correct", "correct"),
}
"""Accepted column names of the per-problem layout (first match wins)."""

COVERAGE_ALIASES: dict[str, tuple[str, ...]] = {
    "k": ("k", "num_samples", "samples"),
    "coverage": ("coverage", "pass_at_k", "pass@k"),
    "n_problems": ("n_problems", "num_problems", "problems"),
}
"""Accepted column names of the aggregate layout (``n_problems`` optional)."""

PROBLEM_SCHEMA: dict[str, type[pl.DataType]] = {
    "model": pl.String,
    "task": pl.String,
    "problem_id": pl.String,
    "n": pl.Int64,
    "c": pl.Int64,
    "source": pl.String,
}
COVERAGE_SCHEMA: dict[str, type[pl.DataType]] = {
    "model": pl.String,
    "task": pl.String,
    "k": pl.Int64,
    "coverage": pl.Float64,
    "n_problems": pl.Int64,
    "source": pl.String,
}
assert (
    tuple(PROBLEM_SCHEMA)[:5] == PROBLEM_COLUMNS and tuple(COVERAGE_SCHEMA)[:5] == COVERAGE_COLUMNS
)

MAX_K = 10**12
"""The largest k accepted in an aggregate table."""

SAMPLING_SUFFIXES = (".csv", ".jsonl")


def _pick(columns: Iterable[str], aliases: tuple[str, ...]) -> str | None:
    present = set(columns)
    return next((name for name in aliases if name in present), None)


def _present(columns: Iterable[str], aliases: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """The column each key reads (the first alias present); keys with no column are left out."""
    picked = {key: _pick(columns, names) for key, names in aliases.items()}
    return {key: name for key, name in picked.items() if name is not None}


def sampling_layout(columns: Iterable[str]) -> str | None:
    """``"problems"``, ``"aggregate"`` or None (not a sampling table), from the column names.

    Example:
        >>> sampling_layout(["problem_id", "n", "c"]), sampling_layout(["k", "coverage"])
        ('problems', 'aggregate')
    """
    names = tuple(columns)
    if all(_pick(names, PROBLEM_ALIASES[key]) for key in ("problem_id", "n", "c")):
        return "problems"
    if _pick(names, COVERAGE_ALIASES["k"]) and _pick(names, COVERAGE_ALIASES["coverage"]):
        return "aggregate"
    return None


def _jsonl_records(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of a JSON Lines file."""
    try:
        with file.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as bad:
                    raise GemstonesInputError(
                        f"{file}:{line_number}: not JSON ({bad.msg} at column {bad.colno})"
                    ) from None
                if not isinstance(record, dict):
                    raise GemstonesInputError(
                        f"{file}:{line_number}: expected a JSON object per line, got "
                        f"{type(record).__name__}"
                    )
                yield line_number, record
    except UnicodeDecodeError:
        raise GemstonesInputError(f"{file}: not UTF-8 text; save it as UTF-8") from None
    except OSError as bad:
        raise GemstonesInputError(f"{file}: cannot be read ({bad.strerror})") from None


def _records(file: Path) -> tuple[tuple[str, ...], list[tuple[int, dict[str, Any]]]]:
    """The column names and the (line, record) pairs of a CSV or JSON Lines file."""
    if file.suffix.lower() == ".jsonl":
        records = []
        for item in _jsonl_records(file):
            records.append(item)
            if len(records) > MAX_PROBLEMS:
                raise GemstonesInputError(f"{file}: more than {MAX_PROBLEMS:,} rows")
        if not records:
            raise GemstonesInputError(f"{file}: no JSON objects")
        return tuple(records[0][1]), records
    columns, rows = _read_csv(file)
    if len(rows) > MAX_PROBLEMS:
        raise GemstonesInputError(f"{file}: {len(rows):,} rows, more than {MAX_PROBLEMS:,}")
    return columns, list(enumerate(rows, start=2))


def is_sampling_table(path: str | Path) -> bool:
    """Whether a path is a sampling table: any JSON Lines file, or a CSV in a sampling layout.

    lm-eval results (``.json``), folders and CSVs of recurrence curves are not.
    """
    file = Path(path)
    if not file.is_file() or file.suffix.lower() not in SAMPLING_SUFFIXES:
        return False
    if file.suffix.lower() == ".jsonl":
        return True  # no other input is JSON Lines: its reader names what is wrong with it
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            header = handle.readline().strip().split(",")
    except (GemstonesInputError, OSError, UnicodeDecodeError):
        return False
    return sampling_layout(h.strip().strip('"') for h in header) is not None


def _whole(value: Any, column: str, where: str, low: int, high: int) -> int:
    number = None if isinstance(value, bool) else _number_or_none(value)
    if number is None or number != int(number):
        raise GemstonesInputError(f"{where}: column {column!r} = {value!r} is not a whole number")
    if not low <= number <= high:
        raise GemstonesInputError(
            f"{where}: column {column!r} = {value!r} must lie from {low} to {high:,}"
        )
    return int(number)


def _text(value: Any, default: str) -> str:
    text = "" if value is None else str(value).strip()
    return text or default


def read_problem_rows(file: Path) -> list[dict[str, Any]]:
    """Rows of a per-problem table (see the module docstring).

    Raises:
        GemstonesInputError: the layout is not per-problem, or a row is bad (n not a whole number
            from 1 to ``MAX_SAMPLES``, c not a whole number >= 0, c > n, an empty problem id, or an
            id repeated within a model and task).
    """
    columns, records = _records(file)
    if sampling_layout(columns) != "problems":
        raise GemstonesInputError(_layout_message(file, columns))
    names = _present(columns, PROBLEM_ALIASES)
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for line, record in records:
        where = f"{file}:{line}"
        raw_id = record.get(names["problem_id"])
        problem = _text(raw_id, "")
        if not problem:
            raise GemstonesInputError(f"{where}: column {names['problem_id']!r} is empty")
        n = _whole(record.get(names["n"]), names["n"], where, 1, MAX_SAMPLES)
        c = _whole(record.get(names["c"]), names["c"], where, 0, MAX_SAMPLES)
        if c > n:
            raise GemstonesInputError(
                f"{where}: problem {problem!r} has c={c} correct of n={n} samples; c must be <= n"
            )
        model, task = _text(record.get("model"), file.stem), _text(record.get("task"), "all")
        key = (model, task, problem)
        if key in seen:
            raise GemstonesInputError(
                f"{where}: problem {problem!r} of {model} / {task} appears again (first at line "
                f"{seen[key]}); give each problem once, with its counts summed"
            )
        seen[key] = line
        rows.append(
            {
                "model": model,
                "task": task,
                "problem_id": problem,
                "n": n,
                "c": c,
                "source": str(file),
            }
        )
    return rows


def read_coverage_rows(file: Path) -> list[dict[str, Any]]:
    """Rows of an aggregate table: k, coverage in [0, 1] and optionally the number of problems.

    Raises:
        GemstonesInputError: the layout is not aggregate, or a row is bad (k not a whole number
            from 1 to ``MAX_K``, coverage not in [0, 1], a bad problem count, a repeated k).
    """
    columns, records = _records(file)
    if sampling_layout(columns) != "aggregate":
        raise GemstonesInputError(_layout_message(file, columns))
    names = _present(columns, COVERAGE_ALIASES)
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, int], int] = {}
    for line, record in records:
        where = f"{file}:{line}"
        k = _whole(record.get(names["k"]), names["k"], where, 1, MAX_K)
        raw = record.get(names["coverage"])
        coverage = None if isinstance(raw, bool) else _number_or_none(raw)
        if coverage is None or not 0.0 <= coverage <= 1.0:
            raise GemstonesInputError(
                f"{where}: column {names['coverage']!r} = {raw!r} must be a fraction in [0, 1]"
            )
        problems_raw = record.get(names["n_problems"]) if "n_problems" in names else None
        problems = (
            None
            if problems_raw is None or str(problems_raw).strip() == ""
            else _whole(problems_raw, str(names["n_problems"]), where, 1, MAX_PROBLEMS)
        )
        model, task = _text(record.get("model"), file.stem), _text(record.get("task"), "all")
        key = (model, task, k)
        if key in seen:
            raise GemstonesInputError(
                f"{where}: k={k} of {model} / {task} appears again (first at line {seen[key]})"
            )
        seen[key] = line
        rows.append(
            {
                "model": model,
                "task": task,
                "k": k,
                "coverage": coverage,
                "n_problems": problems,
                "source": str(file),
            }
        )
    return rows


def _layout_message(file: Path, columns: Iterable[str]) -> str:
    return (
        f"{file}: not a sampling table (columns {list(columns)}); expected per-problem columns "
        f"problem_id, n, c (aliases {PROBLEM_ALIASES}) or aggregate columns k, coverage"
        f"[, n_problems]"
    )


def read_sampling_tables(
    paths: Iterable[str | Path],
) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """Read sampling tables into one per-problem frame and one aggregate frame (None when absent).

    Args:
        paths: CSV or JSON Lines files, each in one of the two layouts.

    Returns:
        ``(problems, aggregate)``: polars DataFrames with ``PROBLEM_SCHEMA`` / ``COVERAGE_SCHEMA``.

    Raises:
        GemstonesInputError: a path is missing, not .csv/.jsonl, not a sampling layout, or has a
            bad row (the message names the file and line).

    Example:
        >>> problems, aggregate = read_sampling_tables(["gsm8k_samples.csv"])  # doctest: +SKIP
    """
    problem_rows: list[dict[str, Any]] = []
    coverage_rows: list[dict[str, Any]] = []
    for raw in paths:
        file = Path(raw)
        if not file.is_file():
            raise GemstonesInputError(f"{file}: no such file (sampling tables are .csv or .jsonl)")
        if file.suffix.lower() not in SAMPLING_SUFFIXES:
            raise GemstonesInputError(
                f"{file}: a sampling table must be .csv or .jsonl, got {file.suffix or 'no suffix'!r}"
            )
        columns, _ = _records(file)
        layout = sampling_layout(columns)
        if layout == "problems":
            problem_rows.extend(read_problem_rows(file))
        elif layout == "aggregate":
            coverage_rows.extend(read_coverage_rows(file))
        else:
            raise GemstonesInputError(_layout_message(file, columns))
    problems = (
        pl.DataFrame(problem_rows, schema=PROBLEM_SCHEMA, orient="row") if problem_rows else None
    )
    if problems is not None:
        repeated = (
            problems.group_by(["model", "task", "problem_id"], maintain_order=True)
            .agg(pl.col("source").unique(maintain_order=True), pl.len())
            .filter(pl.col("len") > 1)
        )
        if repeated.height:
            first = repeated.row(0, named=True)
            raise GemstonesInputError(
                f"problem {first['problem_id']!r} of {first['model']} / {first['task']} appears "
                f"in {', '.join(first['source'])}; give each problem once, with its counts summed"
            )
    aggregate = (
        pl.DataFrame(coverage_rows, schema=COVERAGE_SCHEMA, orient="row").sort(
            ["model", "task", "k"], maintain_order=True
        )
        if coverage_rows
        else None
    )
    return problems, aggregate
