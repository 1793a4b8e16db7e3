"""Evaluation results: one JSON file per (repository, commit, metric set), and their catalog columns.

A :class:`MetricSet` is what was measured and how: the kind (``loss`` on a corpus, or ``mc``
multiple-choice accuracy on a task file), a short name, the data file's sha256 and the options that
change the numbers (context, packing, dtype...). Its :attr:`MetricSet.id` keys the result file::

    <results dir>/<org>/<repo>/<commit>/<kind>-<name>-<hash>.json

written atomically by the driver of a sweep (:class:`ResultStore`), so a file that exists is a
finished unit. The results folder is ``<gemstones cache>/evaluations`` unless given (``--out``).

Results join the catalog as metric columns, by ``(repo_id, commit)`` (or ``(repo_id, revision)`` for
catalog rows not pinned to a commit): ``eval_loss_<name>`` and ``eval_bpb_<name>`` for a corpus,
``eval_acc_<name>`` and ``eval_acc_norm_<name>`` for a task file. A design fits one by naming it,
``loss = "eval_loss_mycorpus"`` in ``[selection]``. When a checkpoint was evaluated more than once
under the same name (other options), the newest result is used.

Evaluated columns are metrics: :func:`metric_registry` is the catalog's metric registry
(``registry.metrics.METRICS``) with one :class:`registry.metrics.Metric` per evaluated column
found in the results, its kind from the metric set and, for accuracies, its chance level from the
number of choices when the results record it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from gemstones.errors import GemstonesInputError
from registry.atomic import write_json_atomic
from registry.metrics import (
    EVAL_PREFIX,
    EVALUATED_COLUMNS,
    METRICS,
    Metric,
    MetricRegistry,
    evaluated_metric,
)
from registry.user_cache import user_cache_dir

#: Per metric kind: (value in the result record, catalog column prefix, metric kind for fits);
#: the naming rules are ``registry.metrics.EVALUATED_COLUMNS``.
METRIC_VALUES: dict[str, tuple[tuple[str, str, str], ...]] = {
    kind: tuple((rule.value, rule.prefix, rule.kind) for rule in rules)
    for kind, rules in EVALUATED_COLUMNS.items()
}
KINDS = tuple(METRIC_VALUES)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,47}$")
RECORD_SCHEMA = 1


def default_results_dir() -> Path:
    """``<gemstones cache>/evaluations`` (``GEMSTONES_CACHE`` or ``~/.cache/gemstones``)."""
    return user_cache_dir() / "evaluations"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def metric_name_from(path: Path) -> str:
    """A default metric name from a data file name: ``My Corpus.jsonl`` -> ``my_corpus``."""
    name = re.sub(r"[^a-z0-9]+", "_", Path(path).stem.lower()).strip("_")[:48]
    return name or "data"


def check_metric_name(name: str) -> str:
    """Return ``name`` if it can be part of a column name, else raise GemstonesInputError."""
    if not _NAME_RE.match(name):
        raise GemstonesInputError(
            f"--name {name!r} is not valid; use 1-48 lowercase letters, digits or _ (starting with a letter or digit)"
        )
    return name


@dataclass(frozen=True)
class MetricSet:
    """What a unit measures.

    Attributes:
        kind: ``loss`` (corpus loss and bits per byte) or ``mc`` (multiple-choice accuracy).
        name: short name used in column names (``eval_loss_<name>``).
        data: the corpus or task file (absolute path).
        data_sha256: its content hash (a changed file is a different metric set).
        options: the options that change the numbers, as sorted ``(key, value)`` pairs.
    """

    kind: str
    name: str
    data: str
    data_sha256: str
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise GemstonesInputError(
                f"unknown metric kind {self.kind!r}; valid: {', '.join(KINDS)}"
            )
        check_metric_name(self.name)

    @classmethod
    def of_file(cls, kind: str, data: Path, name: str | None = None, **options: Any) -> MetricSet:
        """The metric set for ``data`` (hashed now); ``name`` defaults to the file's stem."""
        path = Path(data).resolve()
        if not path.is_file():
            raise GemstonesInputError(f"data file {str(data)!r} does not exist")
        return cls(
            kind=kind,
            name=check_metric_name(name) if name is not None else metric_name_from(path),
            data=str(path),
            data_sha256=file_sha256(path),
            options=tuple(sorted((k, v) for k, v in options.items() if v is not None)),
        )

    @property
    def id(self) -> str:
        """``<kind>-<name>-<12 hex>``: the hash covers the kind, the data's sha256 and the options."""
        identity = json.dumps([self.kind, self.data_sha256, list(self.options)], default=str)
        return f"{self.kind}-{self.name}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"

    @property
    def option_dict(self) -> dict[str, Any]:
        """The options as a dictionary."""
        return dict(self.options)

    @property
    def columns(self) -> dict[str, str]:
        """Result value -> catalog column, e.g. ``{"loss": "eval_loss_wiki", ...}``."""
        return {value: f"{prefix}_{self.name}" for value, prefix, _ in METRIC_VALUES[self.kind]}

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the result record."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "data": self.data,
            "data_sha256": self.data_sha256,
            "options": self.option_dict,
        }


def result_path(root: Path, repo_id: str, commit: str, metric_id: str) -> Path:
    """Where the result of ``metric_id`` on ``repo_id`` at ``commit`` is kept."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        raise GemstonesInputError(f"commit {commit!r} is not a hexadecimal commit id")
    return Path(root) / repo_id / commit / f"{metric_id}.json"


class ResultStore:
    """The results folder; a :class:`gemstones.execute.UnitStore` for evaluation units.

    Args:
        root: the folder (default :func:`default_results_dir`).

    Example:
        >>> store = ResultStore()          # doctest: +SKIP
        >>> store.frame().columns[:4]       # doctest: +SKIP
        ['repo_id', 'revision', 'commit', 'metric']
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_results_dir()

    def path(self, unit: Any) -> Path:
        """The result file of a unit (anything with ``repo_id``, ``commit`` and ``metric``)."""
        return result_path(self.root, unit.repo_id, unit.commit, unit.metric.id)

    def is_done(self, unit: Any) -> bool:
        """True when the unit's result file exists (files are only ever written whole)."""
        return self.path(unit).is_file()

    def save(self, unit: Any, record: dict[str, Any]) -> None:
        """Write the unit's record atomically (again: the same file, replaced)."""
        write_json_atomic(record, self.path(unit))

    def read(self, unit: Any) -> dict[str, Any]:
        """The saved record of a unit."""
        return _read_record(self.path(unit))

    def records(self) -> list[dict[str, Any]]:
        """Every saved record, sorted by repository, revision and metric."""
        if not self.root.is_dir():
            return []
        found = [_read_record(p) for p in sorted(self.root.glob("*/*/*/*.json"))]
        return sorted(found, key=lambda r: (r["repo_id"], r["revision"], r["metric"]["id"]))

    def frame(self) -> pl.DataFrame:
        """One row per saved result (see :func:`records_frame`)."""
        return records_frame(self.records())


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GemstonesInputError(f"result file {str(path)!r} cannot be read: {error}") from None
    if not isinstance(record, dict) or record.get("schema") != RECORD_SCHEMA:
        raise GemstonesInputError(
            f"result file {str(path)!r} is not a gemstones evaluation result (schema {RECORD_SCHEMA})"
        )
    return record


RECORD_COLUMNS = (
    "repo_id", "revision", "commit", "metric", "kind", "loss", "bits_per_byte", "tokens",
    "bytes", "documents", "acc", "acc_norm", "n", "seconds", "created", "metric_set",
)  # fmt: skip


def flat_record(record: dict[str, Any]) -> dict[str, Any]:
    """A result record as one flat row: identity, then the measured values."""
    metric = record["metric"]
    row: dict[str, Any] = {
        "repo_id": record.get("repo_id"),
        "revision": record.get("revision"),
        "commit": record.get("commit"),
        "metric": metric["name"],
        "kind": metric["kind"],
    }
    row.update(record["values"])
    row.update(
        seconds=record.get("seconds"), created=record.get("created"), metric_set=metric["id"]
    )
    return row


def records_frame(records: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """Flat rows of records; the common columns first (``RECORD_COLUMNS``), then any others."""
    rows = [flat_record(r) for r in records]
    if not rows:
        return pl.DataFrame(
            schema={c: pl.Utf8 for c in ("repo_id", "revision", "commit", "metric")}
        )
    frame = pl.DataFrame(rows, infer_schema_length=None)
    first = [c for c in RECORD_COLUMNS if c in frame.columns]
    return frame.select(*first, *[c for c in frame.columns if c not in first])


def metric_long(records: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """Results as (repo_id, revision, commit, column, value, created): one row per catalog cell."""
    rows = []
    for record in records:
        metric = record["metric"]
        for value_name, prefix, _ in METRIC_VALUES[metric["kind"]]:
            value = record["values"].get(value_name)
            rows.append(
                {
                    "repo_id": record["repo_id"],
                    "revision": record["revision"],
                    "commit": record["commit"],
                    "column": f"{prefix}_{metric['name']}",
                    "value": None if value is None else float(value),
                    "created": record.get("created") or "",
                }
            )
    schema = {"repo_id": pl.Utf8, "revision": pl.Utf8, "commit": pl.Utf8, "column": pl.Utf8,
              "value": pl.Float64, "created": pl.Utf8}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def _wide(long: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    newest = long.sort("created").unique([*keys, "column"], keep="last", maintain_order=True)
    return newest.pivot(on="column", index=keys, values="value", sort_columns=True)


def join_results(frame: pl.DataFrame, records: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """Add one column per evaluated metric to catalog rows.

    Rows pinned to a commit take the result of that commit; rows without a commit (a catalog that
    was never refreshed) take the newest result of their revision. Unevaluated rows get null.

    Args:
        frame: catalog rows (``repo_id``, ``revision``, ``commit``).
        records: result records (:meth:`ResultStore.records`).

    Returns:
        ``frame`` in its order with the metric columns appended.
    """
    long = metric_long(records)
    if long.is_empty():
        return frame
    assert all(c.startswith(EVAL_PREFIX) for c in long["column"].unique().to_list())
    clashes = sorted(set(long["column"].unique().to_list()) & set(frame.columns))
    if clashes:
        raise GemstonesInputError(f"evaluated column {clashes[0]!r} is already a catalog column")
    columns = sorted(long["column"].unique().to_list())
    indexed = frame.with_row_index("__row")
    pinned = indexed.filter(pl.col("commit").is_not_null()).join(
        _wide(long, ["repo_id", "commit"]), on=["repo_id", "commit"], how="left"
    )
    unpinned = indexed.filter(pl.col("commit").is_null()).join(
        _wide(long, ["repo_id", "revision"]), on=["repo_id", "revision"], how="left"
    )
    joined = pl.concat([pinned, unpinned], how="diagonal_relaxed").sort("__row").drop("__row")
    return joined.select(*frame.columns, *[pl.col(c).cast(pl.Float64) for c in columns])


def with_results(catalog: Any, results_dir: Path | None = None) -> Any:
    """The catalog (a ``Catalog`` or a polars frame) with the evaluated metric columns joined."""
    records = ResultStore(results_dir).records()
    if hasattr(catalog, "frame"):
        import dataclasses

        return dataclasses.replace(catalog, frame=join_results(catalog.frame, records))
    return join_results(catalog, records)


def evaluated_metrics(records: Iterable[dict[str, Any]]) -> list[Metric]:
    """One metric per evaluated column in ``records``, sorted by column.

    An accuracy's chance level is the results' ``chance`` (mean of 1 / number of choices, written
    by ``gemstones eval`` for task files) when every result of the column agrees on it, else None.

    Example:
        >>> [m.name for m in evaluated_metrics(ResultStore().records())]  # doctest: +SKIP
        ['eval_bpb_wiki', 'eval_loss_wiki']
    """
    chances: dict[str, set[float | None]] = {}
    sets: dict[str, set[str]] = {}
    for record in records:
        metric = record["metric"]
        chance = record["values"].get("chance")
        for _, prefix, _ in METRIC_VALUES[metric["kind"]]:
            column = f"{prefix}_{metric['name']}"
            chances.setdefault(column, set()).add(None if chance is None else float(chance))
            sets.setdefault(column, set()).add(str(metric.get("data") or metric["id"]))
    out = []
    for column in sorted(chances):
        known = chances[column]
        chance = next(iter(known)) if len(known) == 1 else None
        data = sorted(sets[column])
        where = f"data {data[0]}" if len(data) == 1 else f"{len(data)} data files"
        out.append(evaluated_metric(column, chance=chance, provenance=where))
    return out


def metric_registry(
    results_dir: Path | None = None, records: Iterable[dict[str, Any]] | None = None
) -> MetricRegistry:
    """The catalog's metrics plus the evaluated ones whose results exist.

    Args:
        results_dir: the results folder (default :func:`default_results_dir`); ignored when
            ``records`` is given.
        records: result records already read.

    Returns:
        A copy of ``registry.metrics.METRICS`` with :func:`evaluated_metrics` registered.

    Example:
        >>> metric_registry().get("val_loss").kind  # doctest: +SKIP
        'loss'
    """
    found = ResultStore(results_dir).records() if records is None else records
    registry = METRICS.copy()
    for metric in evaluated_metrics(found):
        registry.register(metric)
    return registry
