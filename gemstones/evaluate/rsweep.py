"""r-sweeps of a recurrent-depth model on the evaluation engine.

One work unit per setting: a fixed number of recurrences r (1..64), or an exit criterion with a
cap (``kl:1e-3`` stops a token once the KL divergence between successive steps' next-token
distributions falls below 1e-3; see :mod:`gemstones.models.huginn_exits`). Each unit measures
multiple-choice accuracy (:func:`~gemstones.evaluate.metrics.multiple_choice`) and/or corpus loss
(:func:`~gemstones.evaluate.metrics.corpus_loss`) with the model at that setting, and the mean
recurrences per token it forwarded. Units run through :mod:`gemstones.execute` (local or Ray);
each result is saved atomically as it arrives, so an interrupted sweep resumes where it stopped.

The sweep folder holds::

    sweep.json              what was swept (model, inputs, their fingerprint)
    units/<key>.json        one record per unit
    lm_eval/results_<timestamp>.json   one lm-eval-harness results file per fixed r
                            (config.model_args mean_recurrence=r): ``gemstones ttc fit DIR`` reads them
    sweep.csv               the tidy table: one row per setting, task and metric, with mean_steps

Exit-criterion settings are in ``sweep.csv`` and ``units/`` only: as lm-eval files they would
repeat the cap's r with other values and blur the fitted curve.

Example:
    >>> settings = sweep_settings([1, 2, 4], [("kl", 1e-3)])  # doctest: +SKIP
    >>> run_rsweep("model/", out="sweep/", settings=settings, tasks="tasks.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gemstones.errors import GemstonesInputError

SWEEP_FILE = "sweep.json"
UNITS_DIR = "units"
RESULTS_DIR = "lm_eval"
TABLE_FILE = "sweep.csv"
MAX_SETTINGS = 128
"""The most settings (r values plus exit settings) one sweep runs."""


@dataclass(frozen=True)
class Setting:
    """One point of a sweep: ``r`` recurrences, or an exit ``criterion`` at ``threshold`` capped at r.

    Example:
        >>> Setting(8).key, Setting(64, "kl", 1e-3).key
        ('r008', 'exit-kl-0.001-r064')
    """

    r: int
    criterion: str | None = None
    threshold: float = 0.0

    @property
    def key(self) -> str:
        """A file-name-safe identifier."""
        if self.criterion is None:
            return f"r{self.r:03d}"
        return f"exit-{self.criterion}-{self.threshold:g}-r{self.r:03d}"

    @property
    def label(self) -> str:
        """How tables print it: ``r=8`` or ``kl:0.001 (cap 64)``."""
        if self.criterion is None:
            return f"r={self.r}"
        return f"{self.criterion}:{self.threshold:g} (cap {self.r})"


def parse_exit(text: str) -> tuple[str, float]:
    """Parse ``NAME`` or ``NAME:THRESHOLD`` (e.g. ``kl:1e-3``); a bare name takes the reference's
    default threshold.

    Raises:
        GemstonesInputError: an unknown criterion (the valid ones are named) or a bad threshold.

    Example:
        >>> parse_exit("kl:1e-2"), parse_exit("latent-diff")
        (('kl', 0.01), ('latent-diff', 0.03))
    """
    from gemstones.models import huginn_exits

    name, sep, value = text.strip().partition(":")
    name = name.strip()
    if name not in huginn_exits.DEFAULT_THRESHOLDS or name == "none":
        valid = ", ".join(c for c in huginn_exits.CRITERIA if c != "none")
        raise GemstonesInputError(
            f"--exit {text!r}: unknown exit criterion {name!r}; valid: {valid}"
        )
    if not sep:
        return name, float(huginn_exits.DEFAULT_THRESHOLDS[name])
    try:
        threshold = float(value)
    except ValueError:
        raise GemstonesInputError(
            f"--exit {text!r}: threshold {value!r} is not a number (e.g. {name}:1e-3)"
        ) from None
    if not math.isfinite(threshold) or threshold < 0:
        raise GemstonesInputError(f"--exit {text!r}: threshold must be a finite number >= 0")
    return name, threshold


def parse_r_values(text: str) -> list[int]:
    """Parse ``--r`` (``1,2,4,...,64`` allowed) and check every value lies in 1..64.

    Raises:
        GemstonesInputError: a bad list or a value out of range, naming it and the range.
    """
    from gemstones.models.huginn import MAX_EVAL_STEPS
    from gemstones.runs.recurrent import parse_r_list

    values = parse_r_list(text)
    bad = [v for v in values if v > MAX_EVAL_STEPS]
    if bad:
        raise GemstonesInputError(
            f"--r {text!r}: r={bad[0]} is out of range; valid: whole numbers 1..{MAX_EVAL_STEPS}"
        )
    return values


def sweep_settings(
    rs: Sequence[int], exits: Sequence[tuple[str, float]] = (), cap: int | None = None
) -> list[Setting]:
    """Fixed-r settings for ``rs`` and exit settings capped at ``cap`` (default ``max(rs)``).

    Raises:
        GemstonesInputError: no r, r out of range, too many settings.
    """
    from gemstones.models.huginn import check_eval_steps

    if not rs:
        raise GemstonesInputError("no r values to sweep; pass e.g. --r 1,2,4,8")
    values = sorted({check_eval_steps(int(r)) for r in rs})
    top = check_eval_steps(cap if cap is not None else values[-1])
    settings = [Setting(r) for r in values]
    settings += [Setting(top, name, float(threshold)) for name, threshold in dict.fromkeys(exits)]
    if len(settings) > MAX_SETTINGS:
        raise GemstonesInputError(
            f"{len(settings)} settings; one sweep runs at most {MAX_SETTINGS}"
        )
    return settings


@dataclass(frozen=True)
class SweepUnit:
    """One setting of one sweep (picklable: a Ray worker loads the model from ``model``).

    Attributes:
        model: the checkpoint folder.
        tokenizer: ``tokenizer.json`` or its folder.
        tasks: a multiple-choice JSONL file, or None.
        corpus: a corpus file (text, JSONL, parquet), or None.
        setting: r or the exit rule.
        seed: the initial-state seed.
        context: tokens per model input (None: the model's limit, at most 2048).
        batch_size: model inputs per forward pass.
        dtype: ``float32`` or ``bfloat16``.
        fingerprint: the hash of the sweep's inputs (see :func:`fingerprint`).
    """

    model: str
    tokenizer: str
    tasks: str | None
    corpus: str | None
    setting: Setting
    seed: int = 0
    context: int | None = None
    batch_size: int = 8
    dtype: str = "float32"
    fingerprint: str = ""

    @property
    def key(self) -> str:
        return self.setting.key


def describe_unit(unit: SweepUnit) -> str:
    """How errors name a unit."""
    return f"{Path(unit.model).name} {unit.setting.label}"


class _StepMeter:
    """A loaded recurrent model that adds up the recurrences of every real token it forwards (the
    metrics call ``token_logprobs``; padding is not counted)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.config = model.config
        self.vocab_size = model.vocab_size
        self.steps = 0.0
        self.tokens = 0

    def token_logprobs(self, ids: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> Any:
        logprobs, steps = self.model.token_logprobs_and_steps(ids, targets, mask)
        real = np.asarray(mask, dtype=bool)
        self.steps += float(np.asarray(steps)[real].sum())
        self.tokens += int(real.sum())
        return logprobs

    def take(self) -> float:
        """Mean recurrences per forwarded token since the last call; resets the count."""
        mean = self.steps / self.tokens if self.tokens else math.nan
        self.steps, self.tokens = 0.0, 0
        return mean


@functools.lru_cache(maxsize=4)
def _load(model: str, tokenizer: str, dtype: str) -> tuple[Any, Any]:
    from gemstones.models import load_model, load_tokenizer

    loaded = load_model(model, dtype=dtype)
    if loaded.num_steps is None:
        raise GemstonesInputError(
            f"{model}: a {loaded.family.name} model has no recurrence to sweep; r-sweeps need a "
            "recurrent-depth (huginn_raven) checkpoint"
        )
    return loaded, load_tokenizer(tokenizer, vocab_size=loaded.vocab_size)


@functools.lru_cache(maxsize=4)
def _items(path: str) -> tuple[Any, ...]:
    from gemstones.evaluate.inputs import read_tasks

    return tuple(read_tasks(path))


@functools.lru_cache(maxsize=4)
def _documents(path: str) -> tuple[str, ...]:
    from gemstones.evaluate.inputs import read_corpus

    return tuple(read_corpus(path))


def run_unit(unit: SweepUnit) -> dict[str, Any]:
    """Measure one setting: accuracy on ``tasks`` and/or loss on ``corpus``, and mean steps.

    Returns:
        A JSON-ready record: the setting, ``mc`` and ``loss`` summaries (or None), their mean
        recurrences per token, seconds and the finishing time (UTC, ISO 8601).
    """
    from gemstones.evaluate.metrics import corpus_loss, multiple_choice

    started = time.perf_counter()
    base, tokenizer = _load(unit.model, unit.tokenizer, unit.dtype)
    s = unit.setting
    exit_rule = None if s.criterion is None else (s.criterion, s.threshold)
    meter = _StepMeter(base.with_steps(s.r, seed=unit.seed, exit=exit_rule))
    record: dict[str, Any] = {
        "key": unit.key,
        "r": s.r,
        "criterion": s.criterion,
        "threshold": s.threshold if s.criterion else None,
        "seed": unit.seed,
        "fingerprint": unit.fingerprint,
        "mc": None,
        "loss": None,
    }
    if unit.tasks is not None:
        mc = multiple_choice(
            meter, tokenizer, _items(unit.tasks), context=unit.context, batch_size=unit.batch_size
        )
        summary = mc.to_dict()
        for bulky in ("loglikelihoods", "predictions", "predictions_norm", "answers"):
            summary.pop(bulky)
        record["mc"] = {**summary, "mean_steps": meter.take()}
    if unit.corpus is not None:
        loss = corpus_loss(
            meter,
            tokenizer,
            _documents(unit.corpus),
            context=unit.context,
            batch_size=unit.batch_size,
        )
        nll = np.asarray(loss.document_nll) / np.maximum(np.asarray(loss.document_bytes), 1)
        record["loss"] = {
            "loss": loss.loss,
            "bits_per_byte": loss.bits_per_byte,
            # spread of per-document bits per byte over documents (None for one document)
            "bits_per_byte_stderr": float(np.std(nll / math.log(2), ddof=1) / math.sqrt(nll.size))
            if nll.size > 1
            else None,
            "tokens": loss.tokens,
            "bytes": loss.bytes,
            "documents": loss.documents,
            "mean_steps": meter.take(),
        }
    record["seconds"] = time.perf_counter() - started
    record["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    return record


class UnitFolder:
    """Unit records as ``<folder>/<key>.json``, written atomically; a record of another
    fingerprint does not count as done."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint

    def path(self, unit: SweepUnit) -> Path:
        return self.folder / f"{unit.key}.json"

    def read(self, unit: SweepUnit) -> dict[str, Any] | None:
        try:
            record = json.loads(self.path(unit).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if record.get("fingerprint") == self.fingerprint else None

    def records(self) -> list[dict[str, Any]]:
        """Every record of this fingerprint, fixed r first (by r), then exit settings."""
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and record.get("fingerprint") == self.fingerprint:
                found.append(record)
        return sorted(
            found, key=lambda r: (r["criterion"] is not None, r["r"], str(r["criterion"]), r["key"])
        )

    def is_done(self, unit: SweepUnit) -> bool:
        return self.read(unit) is not None

    def save(self, unit: SweepUnit, result: dict[str, Any]) -> None:
        from registry.atomic import write_json_atomic

        write_json_atomic(result, self.path(unit))


def _file_digest(path: Path, digest: Any) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def fingerprint(
    model: Path, tokenizer: Path, tasks: Path | None, corpus: Path | None, options: dict[str, Any]
) -> str:
    """A hash of what decides a sweep's numbers: the model's config.json and weight file names and
    sizes, the tokenizer, the task and corpus files, and the options (seed, context, dtype...)."""
    digest = hashlib.sha256()
    _file_digest(model / "config.json", digest)
    for weights in sorted(model.glob("*.safetensors")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    token_file = tokenizer / "tokenizer.json" if tokenizer.is_dir() else tokenizer
    for path in (token_file, tasks, corpus):
        digest.update(b"|")
        if path is not None:
            _file_digest(path, digest)
    digest.update(json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()[:16]


_TASK_RE = re.compile(r"[^a-z0-9_]+")


def task_name(path: str | Path) -> str:
    """An lm-eval-style task name from a file name: ``My Tasks.jsonl`` -> ``my_tasks``."""
    name = _TASK_RE.sub("_", Path(path).name.split(".")[0].lower()).strip("_")
    return name or "task"


def _timestamp(finished: str) -> str:
    """lm-eval's file-name timestamp (``2025-03-01T09-10-11.100001``) of an ISO time."""
    when = dt.datetime.fromisoformat(finished)
    return when.strftime("%Y-%m-%dT%H-%M-%S.%f")


def lm_eval_document(
    record: dict[str, Any], *, model_name: str, tasks: str | None, corpus: str | None
) -> dict[str, Any]:
    """An lm-eval-harness results document for one fixed-r unit record (what
    :func:`gemstones.ttc.ingest.read_lm_eval_rows` reads; ``model_args`` carries
    ``mean_recurrence=r``)."""
    results: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    samples: dict[str, Any] = {}
    higher: dict[str, Any] = {}
    if record["mc"] is not None and tasks is not None:
        name, mc = task_name(tasks), record["mc"]
        results[name] = {
            "alias": name,
            "acc,none": mc["acc"],
            "acc_stderr,none": _finite_or_na(mc["acc_stderr"]),
            "acc_norm,none": mc["acc_norm"],
            "acc_norm_stderr,none": _finite_or_na(mc["acc_norm_stderr"]),
        }
        configs[name] = {
            "task": name,
            "output_type": "multiple_choice",
            "num_fewshot": 0,
            "metadata": {"chance": mc["chance"], "mean_steps": mc["mean_steps"]},
        }
        samples[name] = {"original": mc["items"], "effective": mc["items"]}
        higher[name] = {"acc": True, "acc_norm": True}
    if record["loss"] is not None and corpus is not None:
        name, loss = task_name(corpus), record["loss"]
        if name in results:
            name += "_corpus"
        results[name] = {
            "alias": name,
            "bits_per_byte,none": loss["bits_per_byte"],
            "bits_per_byte_stderr,none": _finite_or_na(loss["bits_per_byte_stderr"]),
        }
        configs[name] = {
            "task": name,
            "output_type": "loglikelihood_rolling",
            "num_fewshot": 0,
            "metadata": {"mean_steps": loss["mean_steps"], "tokens": loss["tokens"]},
        }
        samples[name] = {"original": loss["documents"], "effective": loss["documents"]}
        higher[name] = {"bits_per_byte": False}
    return {
        "results": results,
        "group_subtasks": {name: [] for name in results},
        "configs": configs,
        "versions": {name: 1.0 for name in results},
        "n-shot": {name: 0 for name in results},
        "higher_is_better": higher,
        "n-samples": samples,
        "config": {
            "model": "gemstones-huginn",
            "model_args": {
                "pretrained": model_name,
                "mean_recurrence": record["r"],
                "seed": record["seed"],
            },
            "batch_size": None,
            "device": "cpu",
            "limit": None,
            "gen_kwargs": None,
            "random_seed": record["seed"],
        },
        "git_hash": None,
        "date": dt.datetime.fromisoformat(record["finished"]).timestamp(),
        "model_name": model_name,
        "chat_template": None,
        "chat_template_sha": None,
    }


def _finite_or_na(value: Any) -> Any:
    return value if isinstance(value, int | float) and math.isfinite(value) else "N/A"


def tidy_table(
    records: Sequence[dict[str, Any]], *, model_name: str, tasks: str | None, corpus: str | None
) -> pl.DataFrame:
    """One row per (setting, task, metric): r (the cap under an exit rule), criterion, threshold,
    value, stderr, n, mean_steps and seconds."""
    rows = []
    for rec in records:
        base = {
            "model": model_name,
            "setting": Setting(rec["r"], rec["criterion"], rec["threshold"] or 0.0).label,
            "r": rec["r"],
            "criterion": rec["criterion"],
            "threshold": rec["threshold"],
        }
        if rec["mc"] is not None and tasks is not None:
            mc = rec["mc"]
            for metric in ("acc", "acc_norm"):
                rows.append(
                    {
                        **base,
                        "task": task_name(tasks),
                        "metric": metric,
                        "value": mc[metric],
                        "stderr": mc[f"{metric}_stderr"],
                        "n": mc["items"],
                        "chance": mc["chance"],
                        "mean_steps": mc["mean_steps"],
                        "seconds": rec["seconds"],
                    }
                )
        if rec["loss"] is not None and corpus is not None:
            loss = rec["loss"]
            for metric in ("loss", "bits_per_byte"):
                rows.append(
                    {
                        **base,
                        "task": task_name(corpus),
                        "metric": metric,
                        "value": loss[metric],
                        "stderr": loss["bits_per_byte_stderr"]
                        if metric == "bits_per_byte"
                        else None,
                        "n": loss["documents"],
                        "chance": None,
                        "mean_steps": loss["mean_steps"],
                        "seconds": rec["seconds"],
                    }
                )
    schema = {
        "model": pl.String, "setting": pl.String, "r": pl.Int64, "criterion": pl.String,
        "threshold": pl.Float64, "task": pl.String, "metric": pl.String, "value": pl.Float64,
        "stderr": pl.Float64, "n": pl.Int64, "chance": pl.Float64, "mean_steps": pl.Float64,
        "seconds": pl.Float64,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


@dataclass(frozen=True)
class RSweepResult:
    """What :func:`run_rsweep` did.

    Attributes:
        out: the sweep folder.
        table: the tidy table (also ``out/sweep.csv``): every setting measured in ``out`` on
            these inputs, this run's and earlier runs'.
        files: the lm-eval results files (one per fixed r in ``table``).
        ran: unit keys run now; ``skipped``: keys already done.
        chance: the task's chance level (for ``ttc fit --chance``), or None without tasks.
    """

    out: Path
    table: pl.DataFrame
    files: tuple[Path, ...]
    ran: tuple[str, ...]
    skipped: tuple[str, ...]
    chance: dict[str, float]

    def fit_command(self) -> str:
        """The ``gemstones ttc fit`` command line for these results."""
        levels = " ".join(f"--chance {t}={c:g}" for t, c in self.chance.items())
        return f"gemstones ttc fit {self.out / RESULTS_DIR} {levels}".strip()


def _check_inputs(model: Path, tokenizer: Path, tasks: Path | None, corpus: Path | None) -> None:
    if tasks is None and corpus is None:
        raise GemstonesInputError("nothing to measure: pass --tasks FILE and/or --corpus FILE")
    if not (model / "config.json").is_file():
        raise GemstonesInputError(f"--model {model}: no config.json there (a checkpoint folder)")
    token_file = tokenizer / "tokenizer.json" if tokenizer.is_dir() else tokenizer
    if not token_file.is_file():
        raise GemstonesInputError(
            f"--tokenizer {tokenizer}: no tokenizer.json (pass --tokenizer FILE)"
        )
    for option, path in (("--tasks", tasks), ("--corpus", corpus)):
        if path is not None and not path.is_file():
            raise GemstonesInputError(f"{option} {path}: no such file")


def default_model_name(model: Path) -> str:
    """``<parent>/<folder>`` of a checkpoint folder, as Hub names read (``huginn_bytes/model``)."""
    folder = Path(model).resolve()
    return f"{folder.parent.name}/{folder.name}" if folder.parent.name else folder.name


def run_rsweep(
    model: str | Path,
    *,
    out: str | Path,
    settings: Sequence[Setting],
    tasks: str | Path | None = None,
    corpus: str | Path | None = None,
    tokenizer: str | Path | None = None,
    seed: int = 0,
    context: int | None = None,
    batch_size: int = 8,
    dtype: str = "float32",
    executor: Any = None,
    resources: Any = None,
    on_result: Callable[[SweepUnit, dict[str, Any]], None] | None = None,
    model_name: str | None = None,
) -> RSweepResult:
    """Run (or resume) an r-sweep and write its lm-eval files and tidy table.

    Args:
        model: a recurrent-depth checkpoint folder (``model_type`` ``huginn_raven``).
        out: the sweep folder (created; a folder holding a sweep of other inputs is refused).
        settings: from :func:`sweep_settings`.
        tasks: multiple-choice JSONL (:func:`gemstones.evaluate.inputs.read_tasks`).
        corpus: a corpus file (:func:`gemstones.evaluate.inputs.read_corpus`).
        tokenizer: ``tokenizer.json`` or its folder (default: the model folder).
        seed: the initial-state seed (the same at every setting).
        context, batch_size, dtype: as in :func:`gemstones.evaluate.metrics.multiple_choice`.
        executor: a :class:`gemstones.execute.Executor` (default local).
        resources: per-unit :class:`gemstones.execute.Resources`.
        on_result: called as each unit's record is saved.
        model_name: the model's name in the results (default: :func:`default_model_name`).

    Returns:
        An :class:`RSweepResult`.

    Raises:
        GemstonesInputError: bad inputs or a folder of another sweep.
        UnitsFailed: some units failed (the others are saved; rerun to resume).

    Example:
        >>> run_rsweep("bytes_lm", out="sweep", settings=sweep_settings([1, 4]),
        ...            tasks="cloze.jsonl")  # doctest: +SKIP
    """
    from gemstones.execute import DEFAULT_RESOURCES, get_executor, run_units
    from registry.atomic import write_json_atomic, write_text_atomic

    model, out = Path(model), Path(out)
    tokenizer = Path(tokenizer) if tokenizer is not None else model
    tasks = Path(tasks) if tasks is not None else None
    corpus = Path(corpus) if corpus is not None else None
    _check_inputs(model, tokenizer, tasks, corpus)
    if not settings:
        raise GemstonesInputError("no settings to sweep")
    options = {"seed": seed, "context": context, "batch_size": batch_size, "dtype": dtype}
    key = fingerprint(model, tokenizer, tasks, corpus, options)
    manifest: dict[str, Any] = {
        "model": str(model.resolve()),
        "tokenizer": str(tokenizer.resolve()),
        "tasks": None if tasks is None else str(tasks.resolve()),
        "corpus": None if corpus is None else str(corpus.resolve()),
        "options": options,
        "fingerprint": key,
    }
    if (out / SWEEP_FILE).is_file():
        try:
            previous = json.loads((out / SWEEP_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
        if previous.get("fingerprint") != key:
            raise GemstonesInputError(
                f"--out {out} holds a sweep of other inputs (model, data or options differ); "
                "use another folder"
            )
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(manifest, out / SWEEP_FILE)
    units = [
        SweepUnit(
            model=manifest["model"],
            tokenizer=manifest["tokenizer"],
            tasks=manifest["tasks"],
            corpus=manifest["corpus"],
            setting=s,
            seed=seed,
            context=context,
            batch_size=batch_size,
            dtype=dtype,
            fingerprint=key,
        )
        for s in settings
    ]
    store = UnitFolder(out / UNITS_DIR, key)
    executor = executor if executor is not None else get_executor("local")
    summary = run_units(
        executor,
        run_unit,
        units,
        store=store,
        resources=resources if resources is not None else DEFAULT_RESOURCES,
        on_result=on_result,
    )
    records = store.records()  # this run's settings and earlier ones on the same inputs
    model_name = model_name or default_model_name(model)
    folder = out / RESULTS_DIR
    folder.mkdir(exist_ok=True)
    written: list[Path] = []
    for rec in records:
        if rec["criterion"] is not None:
            continue
        document = lm_eval_document(
            rec, model_name=model_name, tasks=manifest["tasks"], corpus=manifest["corpus"]
        )
        path = folder / f"results_{_timestamp(rec['finished'])}.json"
        if path in written:  # two units finished in the same microsecond
            path = path.with_name(f"{path.stem}_r{rec['r']:03d}.json")
        write_text_atomic(json.dumps(document, indent=2) + "\n", path)
        written.append(path)
    for stale in set(folder.glob("results_*.json")) - set(written):
        stale.unlink()  # left by a sweep of other inputs: the r values must come from one model
    table = tidy_table(
        records, model_name=model_name, tasks=manifest["tasks"], corpus=manifest["corpus"]
    )
    write_text_atomic(table.write_csv(), out / TABLE_FILE)
    chance = {}
    if tasks is not None and records[0]["mc"] is not None:
        chance[task_name(tasks)] = float(records[0]["mc"]["chance"])
    return RSweepResult(
        out=out,
        table=table,
        files=tuple(sorted(written)),
        ran=tuple(u.key for u in summary.ran),
        skipped=tuple(u.key for u in summary.skipped),
        chance=chance,
    )


def settings_record(settings: Sequence[Setting]) -> list[dict[str, Any]]:
    """The settings as JSON-ready dicts."""
    return [asdict(s) for s in settings]
