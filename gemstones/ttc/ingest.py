"""Read test-time-compute evaluations into one tidy table (one row per model, task, metric and r).

Sources:

- lm-eval-harness (0.4.x) results files, or folders holding them (searched recursively): lm-eval
  names them ``results_<timestamp>.json`` inside ``--output_path``, or ``<stem>_<timestamp>.json``
  next to it when ``--output_path`` ends in ``.json``; both are found. The layout used: ``results``
  maps each task and each group to ``{"<metric>,<filter>": value, "<metric>_stderr,<filter>":
  stderr, "alias": ...}``; ``groups`` repeats the group aggregates and ``group_subtasks`` maps each
  group to its members; ``configs`` holds each task's config (its ``output_type`` and
  ``generation_kwargs``); ``n-samples`` maps tasks to ``{"original": N, "effective": n}``;
  ``n-shot`` maps tasks to the number of few-shot examples (``configs[task].num_fewshot`` is the
  fallback); ``config`` holds ``model``, ``model_args`` (a ``"k=v,k=v"`` string or a dict) and
  ``gen_kwargs`` (string, dict or null); ``chat_template`` / ``chat_template_sha`` say whether a chat
  template was applied.
- Plain CSV files: the tidy columns themselves; the layout of the Huginn-0125 reference table
  (``model, checkpoint_tokens, task, metric_note, n_fewshot, recurrence, accuracy_pct``;
  percentages become fractions); or a wide table as papers print them, one row per (checkpoint,
  recurrence) and one column per task (``--wide``, or detected: a recurrence column and no ``task``
  column; see ``read_wide_rows``).

The number of recurrences r of each task follows how lm-eval passes settings: ``gen_kwargs`` reach
only ``generate_until`` tasks (lm-eval merges them into ``configs[task].generation_kwargs``), so a
generative task's r is its ``num_steps`` there (else in ``config.gen_kwargs``, else the model's
``mean_recurrence``), and every other task's r is ``mean_recurrence=`` in ``config.model_args``. A
file may therefore carry a model-level ``mean_recurrence`` and a different generation ``num_steps``.
r is never read from the file name, which lm-eval fills with a timestamp, and must be a whole number
from 1 to ``MAX_RECURRENCE``.

Group aggregates (lm-eval's own ``mmlu``, ``bbh`` ...) are not rows by default: they average their
subtasks, which are rows already. ``include_groups=True`` keeps them (chance level and r of a group
follow from its subtasks). Files without r, malformed JSON, files without results, metric entries
without a value and bad numbers (an n-shot of 5.5, an r of 1e300) are errors naming the file; nothing
is silently dropped (a stderr of "N/A" or a missing stderr is kept as null, since a value without a
stderr is still a measurement).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from fitting.recurrent_compute import (
    HUGINN_0125,
    RecurrentDepthArchitecture,
    forward_flops_per_token,
)
from gemstones.errors import GemstonesInputError

TIDY_SCHEMA: dict[str, type[pl.DataType]] = {
    "model": pl.String,
    "checkpoint": pl.String,
    "task": pl.String,
    "metric": pl.String,
    "filter": pl.String,
    "n_shot": pl.Int64,
    "chat_template": pl.String,
    "output_type": pl.String,
    "r": pl.Int64,
    "value": pl.Float64,
    "stderr": pl.Float64,
    "n": pl.Int64,
    "source": pl.String,
    "flops_per_token": pl.Float64,
}
"""Columns of the tidy table. ``chat_template`` is null when none was applied, else its sha (or
name); ``output_type`` is lm-eval's (``multiple_choice``, ``generate_until``, ...) when known;
``n`` is the number of scored items (lm-eval's effective n-samples); ``source`` is the file
each row came from; ``flops_per_token`` is the forward matmul FLOPs per token at r (see
``fitting.recurrent_compute``) when the architecture is known, else null."""

KNOWN_ARCHITECTURES: dict[str, RecurrentDepthArchitecture] = {"huginn-0125": HUGINN_0125}
"""Architectures recognised by a model name that ends with the key (e.g. tomg-group-umd/huginn-0125)."""

_ARCH_FIELDS = tuple(RecurrentDepthArchitecture.__dataclass_fields__)

HUGINN_COLUMNS = (
    "model",
    "checkpoint_tokens",
    "task",
    "metric_note",
    "n_fewshot",
    "recurrence",
    "accuracy_pct",
)
_REQUIRED_TIDY = ("model", "task", "metric", "r", "value")

MAX_RECURRENCE = 1_000_000
"""The largest recurrence count accepted from a file (Huginn-0125 is evaluated up to r = 64)."""

RECURRENCE_COLUMNS = ("r", "recurrence", "recurrences", "num_steps", "mean_recurrence")
"""Column names that hold the recurrence count in a wide table."""

WIDE_ID_COLUMNS = ("model", "checkpoint", "checkpoint_tokens", "metric", "filter", "n_shot")
"""Columns of a wide table that describe a row rather than name a task."""

_TIMESTAMPED = re.compile(r"_\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(\.\d+)?\.json$")


# ----------------------------------------------------------------------------------------------
# Finding files.


def is_result_file_name(name: str) -> bool:
    """Whether a file name is one lm-eval gives results: ``results*.json``, or ``<stem>_<timestamp>.json``
    (what ``--output_path <stem>.json`` produces)."""
    return (name.startswith("results") and name.endswith(".json")) or bool(
        _TIMESTAMPED.search(name)
    )


def find_result_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into result files: folders give their lm-eval results files.

    A folder is searched recursively for ``results*.json`` (``--output_path <folder>``) and
    ``<stem>_<timestamp>.json`` (``--output_path <stem>.json``); per-sample ``samples_*.jsonl`` files
    are not results.

    Raises:
        GemstonesInputError: a path does not exist, or a folder holds no results file.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                f for f in path.rglob("*.json") if f.is_file() and is_result_file_name(f.name)
            )
            if not found:
                raise GemstonesInputError(
                    f"{path}: folder holds no lm-eval results file (results_*.json or "
                    "<name>_<timestamp>.json, searched recursively)"
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise GemstonesInputError(f"{path}: no such file or folder")
    if not files:
        raise GemstonesInputError("no result files given; pass lm-eval JSON files, folders or CSVs")
    return files


def read_results(
    paths: str | Path | Iterable[str | Path],
    *,
    include_groups: bool = False,
    wide: bool | None = None,
) -> pl.DataFrame:
    """Read lm-eval results JSON files, folders of them and CSVs into one tidy table.

    Args:
        paths: one path or many; folders are searched recursively for results files.
        include_groups: keep lm-eval group aggregates (``mmlu``, ``bbh`` ...) as rows.
        wide: CSVs are wide tables (True), never (False), or detected per file (None).

    Returns:
        A polars DataFrame with the columns of ``TIDY_SCHEMA``, sorted by model, checkpoint, task,
        metric, filter, r.

    Raises:
        GemstonesInputError: a file is malformed, partial, has a bad number or no recurrence count.

    Example:
        >>> frame = read_results("runs/", include_groups=False)  # doctest: +SKIP
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    for file in find_result_files(paths):
        if file.suffix.lower() == ".csv":
            rows.extend(read_csv_rows(file, wide=wide))
        else:
            rows.extend(read_lm_eval_rows(file, include_groups=include_groups))
    frame = pl.DataFrame(rows, schema=TIDY_SCHEMA, orient="row")
    return frame.sort(["model", "checkpoint", "task", "metric", "filter", "r"], nulls_last=True)


# ----------------------------------------------------------------------------------------------
# Compute axis.


def architecture_from_args(args: Mapping[str, Any]) -> RecurrentDepthArchitecture | None:
    """A recurrent-depth architecture spelled out in model_args (all of its fields), else None.

    The fields are those of ``RecurrentDepthArchitecture`` (hidden, heads, head_dim, mlp_width,
    mlp_matrices, vocab, prelude_layers, core_layers, coda_layers, adapter_inputs, layer_vectors,
    tied_embedding, final_norm); ``gemstones recurrent run`` writes them for its tiny models.
    """
    if not all(name in args for name in _ARCH_FIELDS):
        return None
    values: dict[str, Any] = {}
    for name in _ARCH_FIELDS:
        raw = args[name]
        if name in ("tied_embedding", "final_norm"):
            values[name] = (
                raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
            )
        else:
            number = float(raw)
            if not (math.isfinite(number) and 0 <= number <= _MAX_DIMENSION) or number % 1:
                raise ValueError(
                    f"{name}={raw!r} must be a whole number from 0 to {_MAX_DIMENSION:.0e}"
                )
            values[name] = int(number)
    return RecurrentDepthArchitecture(**values)


_MAX_DIMENSION = 10**9
"""The largest architecture field (width, layers, vocabulary) accepted from model_args."""


def known_architecture(model: str) -> RecurrentDepthArchitecture | None:
    """The built-in architecture of a model name (matched by its last path component), else None."""
    return KNOWN_ARCHITECTURES.get(model.rsplit("/", 1)[-1].lower())


def _flops(architecture: RecurrentDepthArchitecture | None, r: int) -> float | None:
    return None if architecture is None else float(forward_flops_per_token(architecture, r))


# ----------------------------------------------------------------------------------------------
# lm-eval JSON.


def parse_key_values(text: str) -> dict[str, str]:
    """Parse lm-eval's ``"k=v,k=v"`` argument strings (as in ``--model_args``) into a dict."""
    result: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise GemstonesInputError(f"argument {part!r} in {text!r} is not of the form key=value")
        result[key.strip()] = value.strip()
    return result


def _as_mapping(value: Any, where: str, file: Path) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            return parse_key_values(value)
        except GemstonesInputError as bad:
            raise GemstonesInputError(f"{file}: {where}: {bad}") from None
    raise GemstonesInputError(
        f"{file}: {where} must be a 'k=v,...' string or an object, got {value!r}"
    )


def _as_recurrence(value: Any, where: str, file: Path) -> int:
    if isinstance(value, bool):
        raise GemstonesInputError(f"{file}: {where}={value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise GemstonesInputError(f"{file}: {where}={value!r} is not a number") from None
    if not math.isfinite(number) or number < 1 or number != int(number):
        raise GemstonesInputError(f"{file}: {where}={value!r} must be a positive whole number")
    if number > MAX_RECURRENCE:
        raise GemstonesInputError(
            f"{file}: {where}={value!r} is beyond the largest accepted recurrence count "
            f"{MAX_RECURRENCE:,}"
        )
    return int(number)


def _model_recurrence(document: Mapping[str, Any], file: Path) -> tuple[int | None, int | None]:
    """The model-level r (``mean_recurrence`` in model_args) and the run-level generation r
    (``num_steps`` in ``config.gen_kwargs``), each None when absent."""
    config = document.get("config")
    if not isinstance(config, Mapping):
        raise GemstonesInputError(
            f"{file}: no 'config' object, so no recurrence count: lm-eval writes r as "
            "mean_recurrence= in config.model_args or num_steps= in config.gen_kwargs"
        )
    model_args = _as_mapping(config.get("model_args"), "config.model_args", file)
    gen_kwargs = _as_mapping(config.get("gen_kwargs"), "config.gen_kwargs", file)
    model_r = (
        _as_recurrence(model_args["mean_recurrence"], "config.model_args mean_recurrence", file)
        if "mean_recurrence" in model_args
        else None
    )
    gen_r = (
        _as_recurrence(gen_kwargs["num_steps"], "config.gen_kwargs num_steps", file)
        if "num_steps" in gen_kwargs
        else None
    )
    if model_r is None and gen_r is None:
        raise GemstonesInputError(
            f"{file}: no recurrence count: expected mean_recurrence= in config.model_args or "
            "num_steps= in config.gen_kwargs (r is never read from the file name)"
        )
    return model_r, gen_r


def _task_config(document: Mapping[str, Any], task: str) -> Mapping[str, Any]:
    configs = document.get("configs")
    if isinstance(configs, Mapping) and isinstance(configs.get(task), Mapping):
        return configs[task]
    return {}


def task_recurrence(
    document: Mapping[str, Any], task: str, output_type: str | None, file: Path
) -> int:
    """The recurrence count r a task was evaluated at.

    lm-eval passes ``gen_kwargs`` only to ``generate_until`` tasks (merged into their
    ``configs[task].generation_kwargs``): a generative task's r is ``num_steps`` there, else in
    ``config.gen_kwargs``, else the model's ``mean_recurrence``; any other task's r is
    ``mean_recurrence``. A task of unknown output type takes the one r the file states, and is an
    error when the two differ.

    Raises:
        GemstonesInputError: no r applies to the task (the message names the file and the task).
    """
    model_r, gen_r = _model_recurrence(document, file)
    if output_type == "generate_until":
        generation = _as_mapping(
            _task_config(document, task).get("generation_kwargs"),
            f"configs[{task!r}].generation_kwargs",
            file,
        )
        if "num_steps" in generation:
            return _as_recurrence(
                generation["num_steps"], f"configs[{task!r}].generation_kwargs num_steps", file
            )
        if gen_r is not None:
            return gen_r
        if model_r is not None:
            return model_r
    elif output_type is not None:
        if model_r is not None:
            return model_r
        raise GemstonesInputError(
            f"{file}: task {task!r} is {output_type}, and lm-eval passes gen_kwargs (num_steps="
            f"{gen_r}) only to generate_until tasks: its r must be mean_recurrence= in "
            "config.model_args, which is missing"
        )
    else:
        stated = {v for v in (model_r, gen_r) if v is not None}
        if len(stated) == 1:
            return stated.pop()
        raise GemstonesInputError(
            f"{file}: task {task!r} has no output_type in 'configs', so it is unknown whether it "
            f"ran at mean_recurrence={model_r} or at gen_kwargs num_steps={gen_r}"
        )
    raise AssertionError("unreachable")  # pragma: no cover


def recurrence_of(document: Mapping[str, Any], file: Path) -> int:
    """The one recurrence count r of an lm-eval results document whose tasks all share it.

    Kept for callers that need a single r per file; ``read_lm_eval_rows`` reads each task's own r
    with ``task_recurrence``.

    Raises:
        GemstonesInputError: no r, or the model-level and generation counts differ.
    """
    model_r, gen_r = _model_recurrence(document, file)
    stated = {v for v in (model_r, gen_r) if v is not None}
    if len(stated) > 1:
        raise GemstonesInputError(
            f"{file}: mean_recurrence={model_r} and num_steps={gen_r} differ: r depends on the "
            "task's output_type (see task_recurrence)"
        )
    return stated.pop()


def _number_or_none(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None  # lm-eval writes "N/A" for stderrs it could not compute
    return number if math.isfinite(number) else None


def group_names(document: Mapping[str, Any]) -> set[str]:
    """Names of lm-eval groups: the keys of ``groups`` and of ``group_subtasks`` with members.

    (lm-eval lists plain tasks in ``group_subtasks`` with an empty list in some 0.4 releases.)
    """
    names: set[str] = set()
    subtasks = document.get("group_subtasks")
    if isinstance(subtasks, Mapping):
        names.update(name for name, members in subtasks.items() if members)
    groups = document.get("groups")
    if isinstance(groups, Mapping):
        names.update(groups)
    return names


def _leaf_tasks(document: Mapping[str, Any], group: str, groups: set[str]) -> list[str]:
    """The tasks under a group, through nested groups (bounded by the document's size)."""
    subtasks = document.get("group_subtasks")
    members = subtasks.get(group, []) if isinstance(subtasks, Mapping) else []
    leaves: list[str] = []
    seen = {group}
    pending = [m for m in members if isinstance(m, str)]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in groups and isinstance(subtasks, Mapping):
            pending.extend(m for m in subtasks.get(name, []) if isinstance(m, str))
        else:
            leaves.append(name)
    return sorted(leaves)


def _output_type(document: Mapping[str, Any], task: str, leaves: list[str] | None) -> str | None:
    """A task's lm-eval output_type; a group's when all its subtasks share one."""
    if leaves is None:
        value = _task_config(document, task).get("output_type")
        return value if isinstance(value, str) and value else None
    kinds = {_output_type(document, leaf, None) for leaf in leaves}
    return kinds.pop() if len(kinds) == 1 else None


def _effective_n(document: Mapping[str, Any], task: str, file: Path) -> int | None:
    samples = document.get("n-samples")
    if not isinstance(samples, Mapping) or task not in samples:
        return None
    entry = samples[task]
    raw = entry.get("effective", entry.get("original")) if isinstance(entry, Mapping) else entry
    number = _number_or_none(raw)
    if number is None or number <= 0 or number != int(number) or number > _MAX_COUNT:
        raise GemstonesInputError(
            f"{file}: n-samples of task {task!r} is {entry!r}; expected a positive count up to "
            f"{_MAX_COUNT:.0e}"
        )
    return int(number)


def _whole_or_error(value: Any, where: str, file: Path) -> int:
    number = _number_or_none(value)
    if number is None or number < 0 or number != int(number) or number > MAX_SHOTS:
        raise GemstonesInputError(
            f"{file}: {where} = {value!r}; expected a whole number of examples from 0 to {MAX_SHOTS}"
        )
    return int(number)


MAX_SHOTS = 10_000
"""The largest few-shot count accepted from a file."""


def _n_shot(document: Mapping[str, Any], task: str, file: Path) -> int | None:
    shots = document.get("n-shot")
    if isinstance(shots, Mapping) and shots.get(task) is not None:
        return _whole_or_error(shots[task], f"n-shot of task {task!r}", file)
    value = _task_config(document, task).get("num_fewshot")
    if value is None:
        return None
    return _whole_or_error(value, f"configs[{task!r}].num_fewshot", file)


def _chat_template(document: Mapping[str, Any]) -> str | None:
    sha = document.get("chat_template_sha")
    if isinstance(sha, str) and sha:
        return sha
    template = document.get("chat_template")
    if isinstance(template, str) and template:
        return template
    return None


def _model_and_checkpoint(document: Mapping[str, Any], file: Path) -> tuple[str, str | None]:
    config = document.get("config") or {}
    model_args = _as_mapping(config.get("model_args"), "config.model_args", file)
    model = model_args.get("pretrained") or document.get("model_name") or config.get("model")
    if not model:
        raise GemstonesInputError(
            f"{file}: no model name (expected pretrained= in config.model_args, or model_name)"
        )
    checkpoint = model_args.get("revision")
    return str(model), None if checkpoint in (None, "") else str(checkpoint)


def _load_document(file: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as bad:
        raise GemstonesInputError(
            f"{file}: not valid JSON ({bad.msg} at line {bad.lineno}, column {bad.colno})"
        ) from None
    except RecursionError:
        raise GemstonesInputError(f"{file}: JSON nested too deeply to be lm-eval results") from None
    except (OSError, UnicodeDecodeError) as bad:
        raise GemstonesInputError(f"{file}: cannot be read ({bad})") from None
    if not isinstance(document, Mapping):
        raise GemstonesInputError(
            f"{file}: expected a JSON object with 'results', got {type(document).__name__}"
        )
    results = document.get("results")
    if not isinstance(results, Mapping) or not results:
        raise GemstonesInputError(
            f"{file}: no 'results' object with at least one task: not an lm-eval results file"
        )
    return document


def read_lm_eval_rows(file: Path, *, include_groups: bool = False) -> list[dict[str, Any]]:
    """Tidy rows of one lm-eval-harness results JSON file.

    Every ``"<metric>,<filter>"`` entry of every task becomes a row; its stderr comes from
    ``"<metric>_stderr,<filter>"`` when present. Group aggregates become rows only with
    ``include_groups`` (with a null n: lm-eval's group stderr is pooled, not binomial).

    Raises:
        GemstonesInputError: bad JSON, no ``results``, no r for a task, a bad n-shot or n-samples,
            a task listed in ``n-samples`` or ``configs`` but absent from ``results``, a task entry
            without any metric value, a stderr without its value, or a non-numeric value.
    """
    document = _load_document(file)
    results = document["results"]
    _model_recurrence(document, file)  # a 'config' object that states some r, checked first
    model, checkpoint = _model_and_checkpoint(document, file)
    model_args = _as_mapping(document["config"].get("model_args"), "config.model_args", file)
    try:
        architecture = architecture_from_args(model_args) or known_architecture(model)
    except (ValueError, TypeError, OverflowError) as bad:
        raise GemstonesInputError(
            f"{file}: architecture fields in config.model_args: {bad}"
        ) from None
    chat = _chat_template(document)
    groups = group_names(document)
    for listing in ("n-samples", "configs"):
        listed = document.get(listing)
        if isinstance(listed, Mapping):
            missing = sorted(set(listed) - set(results))
            if missing:
                raise GemstonesInputError(
                    f"{file}: tasks {missing} appear in '{listing}' but have no results (partial file?)"
                )
    rows: list[dict[str, Any]] = []
    for task, entry in results.items():
        if not isinstance(entry, Mapping):
            raise GemstonesInputError(f"{file}: results[{task!r}] must be an object, got {entry!r}")
        metric_keys = [k for k in entry if "," in k and "_stderr," not in k]
        stderr_keys = [k for k in entry if "_stderr," in k]
        for key in stderr_keys:
            metric_name, _, filter_name = key.partition("_stderr,")
            if f"{metric_name},{filter_name}" not in entry:
                raise GemstonesInputError(
                    f"{file}: task {task!r} has {key!r} but no value '{metric_name},{filter_name}'"
                )
        is_group = task in groups
        if is_group and not include_groups:
            continue  # an aggregate of rows read from its subtasks; fitted only when asked
        if not metric_keys:
            if is_group:
                continue  # a group header without an aggregate: its subtasks carry the values
            raise GemstonesInputError(
                f"{file}: task {task!r} has no metric value (keys: {sorted(entry)})"
            )
        leaves = _leaf_tasks(document, task, groups) if is_group else None
        output_type = _output_type(document, task, leaves)
        if leaves:
            leaf_r = {
                task_recurrence(document, leaf, _output_type(document, leaf, None), file)
                for leaf in leaves
            }
            if len(leaf_r) > 1:
                raise GemstonesInputError(
                    f"{file}: group {task!r} mixes subtasks run at r = {sorted(leaf_r)}; it has no "
                    "single r (fit its subtasks instead)"
                )
            r = leaf_r.pop()
        else:
            r = task_recurrence(document, task, output_type, file)
        n = None if is_group else _effective_n(document, task, file)
        shots = _n_shot(document, task, file)
        flops = _flops(architecture, r)
        for key in metric_keys:
            metric_name, _, filter_name = key.partition(",")
            value = _number_or_none(entry[key])
            if value is None:
                raise GemstonesInputError(
                    f"{file}: task {task!r} metric {key!r} has no numeric value ({entry[key]!r})"
                )
            rows.append(
                {
                    "model": model,
                    "checkpoint": checkpoint,
                    "task": str(task),
                    "metric": metric_name,
                    "filter": filter_name,
                    "n_shot": shots,
                    "chat_template": chat,
                    "output_type": output_type,
                    "r": r,
                    "value": value,
                    "stderr": _number_or_none(entry.get(f"{metric_name}_stderr,{filter_name}")),
                    "n": n,
                    "source": str(file),
                    "flops_per_token": flops,
                }
            )
    return rows


# ----------------------------------------------------------------------------------------------
# CSV.


def _huginn_metric(note: str) -> str:
    note = note.strip()
    return note if note.isidentifier() else "acc_or_acc_norm"


def read_csv_rows(file: Path, *, wide: bool | None = None) -> list[dict[str, Any]]:
    """Tidy rows of a CSV in the tidy layout, the Huginn-0125 reference layout or a wide layout.

    The Huginn layout's ``metric_note`` becomes the metric when it is one name (``acc``,
    ``acc_norm``) and ``acc_or_acc_norm`` when the note leaves it open; ``accuracy_pct`` is divided by
    100; the checkpoint is ``checkpoint_tokens`` (e.g. ``800e9``); filter is ``none``. Wide tables:
    see ``read_wide_rows``.

    Args:
        file: the CSV.
        wide: read as a wide table (True), never (False), or when detected (None: a recurrence
            column of ``RECURRENCE_COLUMNS`` and no ``task`` column).

    Raises:
        GemstonesInputError: unknown layout, an empty or ragged file, or a row with a missing or bad
            value.
    """
    columns, records = _read_csv(file)
    huginn = all(c in columns for c in HUGINN_COLUMNS)
    detected = "task" not in columns and any(c in columns for c in RECURRENCE_COLUMNS)
    if wide or (wide is None and not huginn and detected):
        return read_wide_rows(file, columns, records)
    if not huginn and not all(c in columns for c in _REQUIRED_TIDY):
        raise GemstonesInputError(
            f"{file}: unknown CSV layout {list(columns)}; expected the tidy columns "
            f"{list(TIDY_SCHEMA)[:-1]} (at least {list(_REQUIRED_TIDY)}), the Huginn table "
            f"columns {list(HUGINN_COLUMNS)}, or a wide table (a recurrence column, one of "
            f"{list(RECURRENCE_COLUMNS)}, and one column per task)"
        )
    rows = []
    for line, record in enumerate(records, start=2):
        where = f"{file}:{line}"
        if huginn:
            pct = _required_number(record["accuracy_pct"], "accuracy_pct", where)
            model = _required_text(record["model"], "model", where)
            r = _as_recurrence(record["recurrence"], "recurrence", Path(where))
            rows.append(
                {
                    "model": model,
                    "checkpoint": record["checkpoint_tokens"] or None,
                    "task": _required_text(record["task"], "task", where),
                    "metric": _huginn_metric(record["metric_note"]),
                    "filter": "none",
                    "n_shot": _optional_int(record["n_fewshot"], "n_fewshot", where),
                    "chat_template": None,
                    "output_type": None,
                    "r": r,
                    "value": pct / 100.0,
                    "stderr": None,
                    "n": None,
                    "source": str(file),
                    "flops_per_token": _flops(known_architecture(model), r),
                }
            )
        else:
            model = _required_text(record["model"], "model", where)
            r = _as_recurrence(record["r"], "r", Path(where))
            flops = _number_or_none(record.get("flops_per_token") or None)
            rows.append(
                {
                    "model": model,
                    "checkpoint": record.get("checkpoint") or None,
                    "task": _required_text(record["task"], "task", where),
                    "metric": _required_text(record["metric"], "metric", where),
                    "filter": record.get("filter") or "none",
                    "n_shot": _optional_int(record.get("n_shot"), "n_shot", where),
                    "chat_template": record.get("chat_template") or None,
                    "output_type": record.get("output_type") or None,
                    "r": r,
                    "value": _required_number(record["value"], "value", where),
                    "stderr": _number_or_none(record.get("stderr") or None),
                    "n": _optional_int(record.get("n"), "n", where),
                    "source": str(file),
                    "flops_per_token": flops
                    if flops is not None
                    else _flops(known_architecture(model), r),
                }
            )
    return rows


def _read_csv(file: Path) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    """The header and rows of a UTF-8 CSV; ragged rows and empty files are errors."""
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = tuple(reader.fieldnames or ())
            records = list(reader)
    except UnicodeDecodeError as bad:
        raise GemstonesInputError(
            f"{file}: not UTF-8 text (byte {bad.object[bad.start]:#04x} at offset {bad.start}); "
            "save the CSV as UTF-8"
        ) from None
    except (OSError, csv.Error) as bad:
        raise GemstonesInputError(f"{file}: cannot be read as CSV ({bad})") from None
    if not columns:
        raise GemstonesInputError(f"{file}: CSV is empty (no header row)")
    if not records:
        raise GemstonesInputError(f"{file}: CSV has no rows")
    for line, record in enumerate(records, start=2):
        if None in record or any(value is None for value in record.values()):
            extras = record.get(None) or []  # type: ignore[call-overload]
            present = sum(1 for k, v in record.items() if k is not None and v is not None)
            fields = present + len(extras)
            raise GemstonesInputError(
                f"{file}:{line}: row has {fields} fields but the header has {len(columns)}"
            )
    return columns, records


def read_wide_rows(
    file: Path, columns: tuple[str, ...], records: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """Tidy rows of a wide table: one row per (checkpoint, recurrence), one column per task.

    The recurrence column is the first of ``RECURRENCE_COLUMNS`` present; ``model``, ``checkpoint``
    (or ``checkpoint_tokens``), ``metric``, ``filter`` and ``n_shot`` columns describe the row when
    present (model defaults to the file's stem, metric to ``acc``, filter to ``none``); every other
    column is a task. Values are fractions, or percentages when any value exceeds 1 (then all must
    lie in [0, 100] and are divided by 100). An empty cell is a point that was not measured.

    Raises:
        GemstonesInputError: no recurrence or task column, a bad number, or values beyond 100.
    """
    r_column = next((c for c in RECURRENCE_COLUMNS if c in columns), None)
    if r_column is None:
        raise GemstonesInputError(
            f"{file}: a wide table needs a recurrence column (one of {list(RECURRENCE_COLUMNS)}); "
            f"columns: {list(columns)}"
        )
    tasks = [c for c in columns if c not in RECURRENCE_COLUMNS and c not in WIDE_ID_COLUMNS]
    if not tasks:
        raise GemstonesInputError(
            f"{file}: a wide table needs one column per task besides {r_column!r}; "
            f"columns: {list(columns)}"
        )
    cells: list[tuple[int, dict[str, str], str, float]] = []
    for line, record in enumerate(records, start=2):
        for task in tasks:
            raw = record[task].strip()
            if raw:
                cells.append((line, record, task, _required_number(raw, task, f"{file}:{line}")))
    if not cells:
        raise GemstonesInputError(f"{file}: the wide table has no values in {tasks}")
    percent = any(value > 1.0 for *_, value in cells)
    rows: list[dict[str, Any]] = []
    for line, record, task, value in cells:
        where = f"{file}:{line}"
        if value < 0 or value > (100.0 if percent else 1.0):
            raise GemstonesInputError(
                f"{where}: column {task!r} = {value!r}: wide-table values are fractions in [0, 1] "
                "or percentages in [0, 100]"
            )
        model = (record.get("model") or "").strip() or file.stem
        r = _as_recurrence(record[r_column], r_column, Path(where))
        checkpoint = record.get("checkpoint") or record.get("checkpoint_tokens") or None
        rows.append(
            {
                "model": model,
                "checkpoint": checkpoint,
                "task": task.strip(),
                "metric": (record.get("metric") or "").strip() or "acc",
                "filter": (record.get("filter") or "").strip() or "none",
                "n_shot": _optional_int(record.get("n_shot"), "n_shot", where),
                "chat_template": None,
                "output_type": None,
                "r": r,
                "value": value / 100.0 if percent else value,
                "stderr": None,
                "n": None,
                "source": str(file),
                "flops_per_token": _flops(known_architecture(model), r),
            }
        )
    return rows


def _required_text(value: str | None, column: str, where: str) -> str:
    if value is None or not value.strip():
        raise GemstonesInputError(f"{where}: column {column!r} is empty")
    return value.strip()


def _required_number(value: str | None, column: str, where: str) -> float:
    number = _number_or_none(value)
    if number is None:
        raise GemstonesInputError(f"{where}: column {column!r} = {value!r} is not a number")
    return number


_MAX_COUNT = 10**12
"""The largest item or example count accepted from a CSV cell."""


def _optional_int(value: str | None, column: str, where: str) -> int | None:
    if value is None or not str(value).strip():
        return None
    number = _number_or_none(value)
    if number is None or number < 0 or number != int(number) or number > _MAX_COUNT:
        raise GemstonesInputError(
            f"{where}: column {column!r} = {value!r} is not a whole number from 0 to {_MAX_COUNT:.0e}"
        )
    return int(number)
