"""Read what a user evaluates on: a text corpus, or multiple-choice task rows.

Corpus formats (:func:`read_corpus`), one document per unit:

- a ``.txt`` file (the whole file is one document) or a folder of them (``*.txt``, recursively, sorted);
- ``.jsonl`` with a string field per line (``--field``, default ``text``); blank lines are skipped;
- ``.parquet`` with a string column (``column``, default the field name).

Task format (:func:`read_tasks`): JSONL, one item per line::

    {"context": "Question: 2 + 2 =\\nAnswer:", "choices": ["4", "5", "22"], "answer": 0}

``question`` is accepted in place of ``context``; ``answer`` is the 0-based index of the right choice;
at least two non-empty choices. Each choice is scored as the continuation ``" " + choice`` after the
context, as lm-eval does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gemstones.errors import GemstonesInputError

# Bound on one text file, so a mistaken path to a large binary fails fast rather than filling memory.
MAX_TEXT_BYTES = 2**31


class EvaluationInputError(GemstonesInputError):
    """A corpus or task file that cannot be evaluated; the message names the file, line or value."""


@dataclass(frozen=True)
class MCItem:
    """One multiple-choice question.

    Attributes:
        context: the text before the answer (may be empty: then a prefix token is needed).
        choices: the candidate answers, scored as continuations of the context.
        answer: index of the right choice.
    """

    context: str
    choices: tuple[str, ...]
    answer: int


def _decode_text(data: bytes, where: str) -> str:
    if b"\x00" in data:
        raise EvaluationInputError(
            f"{where} looks binary (it contains NUL bytes); expected UTF-8 text"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise EvaluationInputError(
            f"{where} is not UTF-8 text (invalid byte at offset {err.start}); binary input?"
        ) from None


def _read_bytes(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise EvaluationInputError(f"{path} is {size:,} bytes; text inputs are limited to 2 GiB")
    return path.read_bytes()


def _jsonl_rows(path: Path) -> list[tuple[int, Any]]:
    text = _decode_text(_read_bytes(path), str(path))
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as err:
            raise EvaluationInputError(
                f"{path} line {number}: not valid JSON ({err.msg})"
            ) from None
    return rows


def _corpus_from_jsonl(path: Path, field: str) -> list[str]:
    documents = []
    for number, row in _jsonl_rows(path):
        if not isinstance(row, dict) or field not in row:
            keys = ", ".join(sorted(row)) if isinstance(row, dict) else type(row).__name__
            raise EvaluationInputError(
                f"{path} line {number}: no {field!r} field (found: {keys}); choose the field with --field"
            )
        if not isinstance(row[field], str):
            raise EvaluationInputError(
                f"{path} line {number}: field {field!r} is {type(row[field]).__name__}, not a string"
            )
        documents.append(row[field])
    return documents


def _corpus_from_parquet(path: Path, column: str) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as err:
        raise EvaluationInputError(f"{path}: not a readable parquet file ({err})") from None
    if column not in schema.names:
        raise EvaluationInputError(
            f"{path}: no column {column!r}; columns: {', '.join(schema.names)}"
        )
    kind = schema.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise EvaluationInputError(f"{path}: column {column!r} is {kind}, not a string column")
    values = pq.read_table(path, columns=[column]).column(column).to_pylist()
    return [value for value in values if value is not None]


def read_corpus(path: str | Path, *, field: str = "text", column: str | None = None) -> list[str]:
    """Documents of a corpus file or folder.

    Args:
        path: a ``.txt`` file, a folder of ``.txt`` files, a ``.jsonl`` file or a ``.parquet`` file.
        field: the JSONL field holding the text.
        column: the parquet column holding the text (default: ``field``).

    Returns:
        The documents, in file order.

    Raises:
        EvaluationInputError: a missing path, an unknown extension, binary or non-UTF-8 text, a row
            without the field, or a corpus with no non-empty document.

    Example:
        >>> docs = read_corpus("tests/gemstones/data_eval/corpus.jsonl")
    """
    path = Path(path)
    if not path.exists():
        raise EvaluationInputError(f"corpus {path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise EvaluationInputError(f"corpus folder {path} holds no .txt files")
        documents = [_decode_text(_read_bytes(f), str(f)) for f in files]
    elif path.suffix == ".txt":
        documents = [_decode_text(_read_bytes(path), str(path))]
    elif path.suffix in (".jsonl", ".ndjson"):
        documents = _corpus_from_jsonl(path, field)
    elif path.suffix == ".parquet":
        documents = _corpus_from_parquet(path, column or field)
    else:
        raise EvaluationInputError(
            f"corpus {path}: unknown format {path.suffix or '(no extension)'!r}; "
            "use .txt, a folder of .txt, .jsonl or .parquet"
        )
    if not any(doc.strip() for doc in documents):
        raise EvaluationInputError(f"corpus {path} is empty: no document has any text")
    return documents


def _task_row(path: Path, number: int, row: Any) -> MCItem:
    where = f"{path} line {number}"
    if not isinstance(row, dict):
        raise EvaluationInputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    context = row.get("context", row.get("question"))
    if not isinstance(context, str):
        raise EvaluationInputError(f"{where}: needs a string 'context' (or 'question')")
    choices = row.get("choices")
    if (
        not isinstance(choices, list)
        or len(choices) < 2
        or not all(isinstance(c, str) and c for c in choices)
    ):
        raise EvaluationInputError(
            f"{where}: 'choices' must be a list of at least two non-empty strings"
        )
    if "answer" not in row:
        raise EvaluationInputError(f"{where}: no 'answer' (the 0-based index of the right choice)")
    answer = row["answer"]
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise EvaluationInputError(f"{where}: answer {answer!r} is not an integer index")
    if not 0 <= answer < len(choices):
        raise EvaluationInputError(
            f"{where}: answer {answer} is out of range for {len(choices)} choices (0..{len(choices) - 1})"
        )
    return MCItem(context=context, choices=tuple(choices), answer=answer)


def read_tasks(path: str | Path) -> list[MCItem]:
    """Multiple-choice items of a JSONL task file (format in the module docstring).

    Raises:
        EvaluationInputError: a missing or binary file, invalid JSON, a row with no answer, an
            answer out of range, fewer than two choices, or no rows at all; the line is named.

    Example:
        >>> items = read_tasks("tests/gemstones/data_eval/tasks.jsonl")
        >>> items[0].answer
        0
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationInputError(f"task file {path} does not exist")
    items = [_task_row(path, number, row) for number, row in _jsonl_rows(path)]
    if not items:
        raise EvaluationInputError(f"task file {path} has no items")
    return items


def as_items(items: Sequence[MCItem | dict]) -> list[MCItem]:
    """Accept :class:`MCItem` objects or task-row dicts (checked like file rows)."""
    return [
        item if isinstance(item, MCItem) else _task_row(Path("<items>"), i + 1, item)
        for i, item in enumerate(items)
    ]
