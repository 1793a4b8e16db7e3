"""Sweeps of evaluations: checkpoints x one metric set, as resumable, pinned work units.

A sweep turns catalog rows into :class:`EvalUnit` s, one per (repository, commit, metric set):

1. **Pin and plan.** The pinned downloader (:func:`registry.hub.download.plan_download`) resolves each
   row to its commit and lists the exact files (config, tokenizer, safetensors weights) and sizes.
2. **Skip what is done.** A unit whose result file exists in the :class:`ResultStore` is not run.
3. **Run.** Each unit (on any :mod:`gemstones.execute` executor) downloads its files through
   :func:`registry.hub.download.execute_download` (hash-checked, resumable), loads the model
   (:func:`gemstones.models.load_model`), measures the metric
   (:mod:`gemstones.evaluate.metrics`) and returns a record; with ``keep_weights=False`` it deletes
   the weights it fetched (never files that were in the cache before).
4. **Record.** The driver writes each record atomically as it arrives, so an interrupted sweep
   resumes where it stopped and a unit retried after a worker died is recorded once. A unit that
   fails records nothing.

Example::

    from gemstones.evaluate.sweep import EvalSettings, plan_units, run_sweep
    from gemstones.evaluate.results import MetricSet, ResultStore
    from gemstones.execute import get_executor
    from registry.catalog import load_catalog

    rows = load_catalog().select(shape="256x23", max_tokens=10e9).frame
    metric = MetricSet.of_file("loss", "wiki.jsonl", context=2048, packing="pack")
    units, plan = plan_units(rows, metric, EvalSettings())
    with get_executor("local") as executor:
        run_sweep(units, executor=executor, store=ResultStore())
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gemstones.errors import GemstonesInputError
from gemstones.execute import DEFAULT_RESOURCES, Executor, Resources, RunSummary, run_units
from registry.hub.client import default_hub_cache, hub_target
from registry.hub.download import (
    DownloadPlan,
    PlannedFile,
    estimate_download,
    execute_download,
    plan_download,
    remove_download,
)

from .results import RECORD_SCHEMA, MetricSet, ResultStore, file_sha256

#: File categories a unit downloads.
CATEGORIES = ("config", "tokenizer", "weights")
#: Assumed UTF-8 bytes per token for dry-run FLOPs estimates (English text with a ~50k BPE
#: vocabulary); an assumption, stated in the estimate, not a measurement.
BYTES_PER_TOKEN_ESTIMATE = 4.0
#: Values every result of a kind must carry.
REQUIRED_VALUES = {"loss": ("loss", "bits_per_byte", "tokens"), "mc": ("acc", "acc_norm", "n")}
#: Metric options passed through to the metric functions when set.
LOSS_OPTIONS = ("context", "stride", "prefix_token_id")
MC_OPTIONS = ("context", "prefix_token_id")
#: Context assumed by estimates when none is given (the suite's training sequence length).
DEFAULT_CONTEXT = 2048


@dataclass(frozen=True)
class EvalSettings:
    """How units run (none of this changes the numbers; the metric set holds what does).

    Attributes:
        batch_size: sequences per forward pass.
        keep_weights: keep downloaded weights in the cache after evaluating (False deletes the
            weights a unit fetched itself).
        endpoint: the Hub (default ``HF_ENDPOINT`` or huggingface.co), resolved by the driver.
        cache_dir: the Hugging Face cache the units download into (default: the standard one).
        manifest_dir: where each unit's download manifest is written (default: ``<results>/manifests``).
    """

    batch_size: int = 8
    keep_weights: bool = True
    endpoint: str | None = None
    cache_dir: str | None = None
    manifest_dir: str | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise GemstonesInputError(f"--batch-size must be >= 1; got {self.batch_size}")


@dataclass(frozen=True)
class EvalUnit:
    """One checkpoint at one commit, one metric set: the files to fetch and what to measure."""

    repo_id: str
    revision: str
    commit: str
    files: tuple[PlannedFile, ...]
    metric: MetricSet
    settings: EvalSettings

    @property
    def label(self) -> str:
        """``repo_id@revision``."""
        return f"{self.repo_id}@{self.revision}"

    @property
    def download_bytes(self) -> int:
        """Bytes of the unit's files."""
        return sum(f.size for f in self.files)


def describe_unit(unit: Any) -> str:
    """How failure messages name a unit."""
    return unit.label if isinstance(unit, EvalUnit) else str(unit)


# --------------------------------------------------------------------------- measuring


def load_metric_data(metric: MetricSet) -> Any:
    """Read and validate the metric's corpus (documents) or task file (items).

    Raises:
        GemstonesInputError: an empty or binary corpus, malformed tasks, or a file that changed
            since the sweep was planned.
    """
    from gemstones.evaluate.metrics import read_corpus, read_tasks

    path = Path(metric.data)
    if not path.is_file() or file_sha256(path) != metric.data_sha256:
        raise GemstonesInputError(
            f"{metric.data} changed (or vanished) since the sweep was planned; re-run the command"
        )
    options = metric.option_dict
    if metric.kind == "loss":
        return read_corpus(path, field=options.get("field", "text"), column=options.get("column"))
    return read_tasks(path)


def _plain(value: Any) -> Any:
    """Numpy scalars and arrays, tuples and nested sequences as plain JSON-able Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _split_fields(result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A metric result's scalar fields (``values``) and its sequences (``details``: per document,
    per item), JSON-ready."""
    is_instance = dataclasses.is_dataclass(result) and not isinstance(result, type)
    fields = dataclasses.asdict(result) if is_instance else dict(vars(result))
    values: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for key, value in fields.items():
        value = _plain(value)
        if isinstance(value, list):
            details[key] = value
        elif isinstance(value, bool | int | float | str) or value is None:
            values[key] = value
    return values, details


def measure(
    model: Any, tokenizer: Any, metric: MetricSet, data: Any, *, batch_size: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the metric on a loaded model.

    Returns:
        ``(values, details)``: scalars (loss, bits_per_byte, tokens, ...; acc, acc_norm, n, ...)
        and sequences (per-document sums, per-item log-likelihoods).
    """
    from gemstones.evaluate import metrics

    options = metric.option_dict
    result: metrics.LossResult | metrics.MCResult
    if metric.kind == "loss":
        passed = {key: options[key] for key in LOSS_OPTIONS if key in options}
        result = metrics.corpus_loss(
            model, tokenizer, data, packing=options["packing"], batch_size=batch_size, **passed
        )
    else:
        passed = {key: options[key] for key in MC_OPTIONS if key in options}
        result = metrics.multiple_choice(model, tokenizer, data, batch_size=batch_size, **passed)
    values, details = _split_fields(result)
    if metric.kind == "mc" and "n" not in values and "items" in values:
        values["n"] = values["items"]  # the number of items, under the name results use
    missing = [key for key in REQUIRED_VALUES[metric.kind] if key not in values]
    if missing:  # pragma: no cover - a contract check on the metric library
        raise RuntimeError(f"{metric.kind} result lacks {missing}")
    return values, details


def evaluate_folder(
    folder: Path, metric: MetricSet, *, batch_size: int = 8, data: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Evaluate a checkpoint folder (config.json, safetensors, tokenizer.json).

    Args:
        folder: the checkpoint.
        metric: what to measure.
        batch_size: sequences per forward pass.
        data: the already-read corpus or tasks (default: read from ``metric.data``).

    Returns:
        ``(values, model_facts)``: the metric values (with the sequences under ``details``), and
        ``num_parameters`` and ``dtype``.

    Raises:
        GemstonesInputError: an unsupported config, a missing shard, a corrupt safetensors header
            (``gemstones.models.ModelLoadError``), a tokenizer that does not fit, bad data.
    """
    from gemstones.models import load_model, load_tokenizer

    if data is None:
        data = load_metric_data(metric)
    dtype = metric.option_dict.get("dtype", "float32")
    model = load_model(folder, dtype=dtype)
    tokenizer = load_tokenizer(folder)
    values, details = measure(model, tokenizer, metric, data, batch_size=batch_size)
    facts = {"num_parameters": int(model.num_parameters), "dtype": dtype, "details": details}
    return values, facts


def _cached_path(planned: PlannedFile, cache_dir: Path) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        planned.repo_id, planned.path, cache_dir=cache_dir, revision=planned.commit
    )
    return Path(found) if isinstance(found, str) else None


def evaluate_unit(unit: EvalUnit) -> dict[str, Any]:
    """Download, evaluate and describe one unit (runs on a worker); returns its result record.

    With ``keep_weights=False`` the weights fetched by this unit are deleted afterwards, whether the
    evaluation succeeded or not (and its download manifest with them); weights already in the cache
    before are left alone. The record lists every file with its size and hashes either way.
    """
    started = time.perf_counter()
    settings = unit.settings
    cache = Path(settings.cache_dir) if settings.cache_dir else default_hub_cache()
    data = load_metric_data(unit.metric)
    weights = [f for f in unit.files if f.category == "weights"]
    fetched_here = [f for f in weights if _cached_path(f, cache) is None]
    manifest = None
    if settings.manifest_dir is not None:
        name = unit.repo_id.replace("/", "__")
        manifest = Path(settings.manifest_dir) / name / f"{unit.commit}.json"
    try:
        download = execute_download(
            DownloadPlan(checkpoints=1, files=unit.files),
            cache_dir=cache,
            endpoint=settings.endpoint,
            manifest_path=manifest,
        )
        config = next(e for e in download.entries if e.path == "config.json")
        values, model = evaluate_folder(
            Path(config.local_path).parent, unit.metric, batch_size=settings.batch_size, data=data
        )
        details = model.pop("details")
    finally:
        if not settings.keep_weights:
            for planned in fetched_here:
                local = _cached_path(planned, cache)
                if local is not None:
                    remove_download(local)
            if manifest is not None:  # it would list deleted files; the record keeps the hashes
                manifest.unlink(missing_ok=True)
    return {
        "schema": RECORD_SCHEMA,
        "repo_id": unit.repo_id,
        "revision": unit.revision,
        "commit": unit.commit,
        "metric": unit.metric.to_dict(),
        "values": values,
        "details": details,
        "model": model,
        "files": [
            {"path": f.path, "size": f.size, "sha256": f.sha256, "blob_id": f.blob_id}
            for f in unit.files
        ],
        "seconds": round(time.perf_counter() - started, 3),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------- planning


def checkpoint_rows(checkpoints: Sequence[tuple[str, str]]) -> pl.DataFrame:
    """Rows for :func:`plan_units` from ``(repo_id, revision)`` pairs; a 40-hex revision is a commit."""
    import re

    rows = [
        {
            "repo_id": repo,
            "revision": revision,
            "commit": revision if re.fullmatch(r"[0-9a-f]{40}", revision) else None,
        }
        for repo, revision in checkpoints
    ]
    return pl.DataFrame(rows, schema={"repo_id": pl.Utf8, "revision": pl.Utf8, "commit": pl.Utf8})


def units_from_plan(
    plan: DownloadPlan, metric: MetricSet, settings: EvalSettings
) -> list[EvalUnit]:
    """One unit per (repository, revision, commit) of a download plan, in plan order."""
    groups: dict[tuple[str, str, str], list[PlannedFile]] = {}
    for planned in plan.files:
        groups.setdefault((planned.repo_id, planned.revision, planned.commit), []).append(planned)
    units = []
    for (repo, revision, commit), files in groups.items():
        names = {f.path for f in files}
        if "config.json" not in names or not any(f.category == "weights" for f in files):
            raise GemstonesInputError(
                f"{repo}@{revision} (commit {commit[:12]}) has no config.json or no safetensors "
                "weights; it cannot be evaluated"
            )
        units.append(EvalUnit(repo, revision, commit, tuple(files), metric, settings))
    return units


def plan_units(
    rows: pl.DataFrame,
    metric: MetricSet,
    settings: EvalSettings,
    *,
    token: str | None = None,
) -> tuple[list[EvalUnit], DownloadPlan]:
    """Pin every row to a commit and list its files on the Hub; one unit per checkpoint.

    Args:
        rows: catalog rows (``repo_id``, ``revision``, ``commit``; a null commit is resolved now).
        metric: the metric set.
        settings: how the units run (its ``endpoint`` is used for the listing).
        token: an explicit Hub token (default ``HF_TOKEN`` / login).

    Raises:
        HubError: the Hub cannot be reached or a branch is gone.
        GemstonesInputError: a checkpoint without config.json or safetensors weights.
    """
    if rows.height == 0:
        raise GemstonesInputError("no checkpoint selected; nothing to evaluate")
    plan = plan_download(rows, CATEGORIES, endpoint=settings.endpoint, token=token)
    return units_from_plan(plan, metric, settings), plan


@dataclass(frozen=True)
class SweepEstimate:
    """What a sweep will cost: checkpoints, bytes to download, evaluation FLOPs.

    Attributes:
        checkpoints: units in the sweep.
        done: units whose results already exist (None when commits are unknown offline).
        download_bytes: bytes of config, tokenizer and weights (exact when ``exact``).
        flops: forward FLOPs of the evaluation under the paper's accounting (None when a
            checkpoint's shape is unknown).
        tokens_per_checkpoint: estimated tokens evaluated per checkpoint.
        exact: sizes read from the Hub (True) or estimated from the catalog (False).
        assumptions: what the estimate assumes.
    """

    checkpoints: int
    done: int | None
    download_bytes: int
    flops: float | None
    tokens_per_checkpoint: float
    exact: bool
    assumptions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the ``--format json`` output)."""
        return dataclasses.asdict(self)


def _item_text_bytes(item: Any) -> int:
    """Bytes a multiple-choice item feeds the model: its question once per choice, plus each choice."""

    def get(key: str) -> Any:
        return item.get(key) if isinstance(item, dict) else getattr(item, key, None)

    question = str(get("question") or get("context") or "")
    choices = [str(c) for c in (get("choices") or [])]
    return sum(len(question.encode()) + len(c.encode()) + 1 for c in choices)


def estimate_tokens(metric: MetricSet, data: Any) -> float:
    """Estimated tokens evaluated per checkpoint, from the data's UTF-8 bytes."""
    if metric.kind == "loss":
        documents = list(data)
        total = sum(len(str(d).encode()) for d in documents) / BYTES_PER_TOKEN_ESTIMATE
        if metric.option_dict.get("packing") == "truncate":
            context = metric.option_dict.get("context", DEFAULT_CONTEXT)
            total = min(total, len(documents) * context)
        return float(total)
    return float(sum(_item_text_bytes(item) for item in data) / BYTES_PER_TOKEN_ESTIMATE)


def estimate_sweep(
    rows: pl.DataFrame,
    metric: MetricSet,
    data: Any,
    *,
    units: Sequence[EvalUnit] | None = None,
    plan: DownloadPlan | None = None,
    store: ResultStore | None = None,
) -> SweepEstimate:
    """Size a sweep: exact bytes from a Hub ``plan`` when given, else catalog estimates.

    FLOPs = forward FLOPs per token of each checkpoint's shape at the metric's context
    (:func:`registry.suites.gemstones.architecture.forward_flops_per_token`) x the estimated tokens.
    """
    from registry.suites.gemstones.architecture import forward_flops_per_token

    tokens = estimate_tokens(metric, data)
    context = int(metric.option_dict.get("context", DEFAULT_CONTEXT))
    assumptions = [f"tokens ~ UTF-8 bytes / {BYTES_PER_TOKEN_ESTIMATE:g} per checkpoint"]
    flops = None
    if {"width", "depth"} <= set(rows.columns) and rows["width"].null_count() == 0:
        per_token = forward_flops_per_token(
            rows["width"].to_numpy(), rows["depth"].to_numpy(), context
        )
        flops = float(np.sum(per_token) * tokens)
        assumptions.append(f"forward FLOPs per token of each shape at context {context}")
    if plan is not None:
        done = None
        if units is not None and store is not None:
            done = sum(1 for unit in units if store.is_done(unit))
        count = len(units) if units is not None else plan.checkpoints
        return SweepEstimate(count, done, plan.total_bytes, flops, tokens, True, tuple(assumptions))
    if "params" not in rows.columns:
        raise GemstonesInputError(
            "the Hub is unreachable and the checkpoints are not in the catalog"
        )
    estimate = estimate_download(rows, CATEGORIES)
    return SweepEstimate(
        rows.height,
        None,
        estimate.total_bytes,
        flops,
        tokens,
        False,
        (*assumptions, *estimate.assumptions),
    )


def resolve_settings(
    *,
    batch_size: int = 8,
    keep_weights: bool = True,
    store: ResultStore | None = None,
    endpoint: str | None = None,
    cache_dir: Path | None = None,
) -> EvalSettings:
    """Settings with the endpoint and cache resolved now (in the driver), for the workers."""
    return EvalSettings(
        batch_size=batch_size,
        keep_weights=keep_weights,
        endpoint=hub_target(endpoint).endpoint,
        cache_dir=str(cache_dir or default_hub_cache()),
        manifest_dir=str((store or ResultStore()).root / "manifests"),
    )


def run_sweep(
    units: Sequence[EvalUnit],
    *,
    executor: Executor,
    store: ResultStore,
    resources: Resources = DEFAULT_RESOURCES,
    on_result: Callable[[EvalUnit, dict[str, Any]], None] | None = None,
) -> RunSummary:
    """Run the units not done yet on ``executor``, saving each record in ``store`` as it arrives.

    Raises:
        gemstones.execute.UnitsFailed: some units failed (the others are saved).
    """
    return run_units(
        executor, evaluate_unit, list(units), store=store, resources=resources, on_result=on_result
    )
