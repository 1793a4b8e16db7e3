"""Small JAX training runs that record the SNR of Adam's second moments, and sweeps of them.

A run trains :mod:`gemstones.runs.transformer` on the standard-library byte corpus
(:mod:`gemstones.runs.corpus`) with AdamW (or SlimAdam given rules), gradient clipping at 1 and a
warmup-cosine learning-rate schedule, and at a schedule of steps computes, for every tensor and every
candidate axis set, the SNR of its second moment (:func:`fitting.snr.snr`). A sweep runs a grid of
widths x depths x learning rates and returns one tidy table with columns
``run, width, depth, lr, step, tensor, layer_type, shape, axes, snr`` (axes in the JAX layout).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fitting.snr import classify_layer, format_axes, format_shape, snr_by_candidate
from fitting.snr_trends import SWEEP_COLUMNS
from gemstones.errors import GemstonesInputError
from gemstones.readers import numeric_columns, read_table
from gemstones.snr.io import read_layer_map
from registry.atomic import write_table_atomic
from registry.embedded import embedded_path

#: Upper bounds of a run's settings: a sweep is small, CPU-sized work, and one argument must not
#: start unbounded work.
LIMITS = {
    "width": 4096,
    "depth": 64,
    "steps": 1_000_000,
    "batch_size": 4096,
    "seq_len": 4096,
    "n_records": 1000,
    "seed": 2**32 - 1,
}
MAX_LR = 10.0
#: Most runs one sweep may hold (widths x depths x learning rates).
MAX_RUNS = 256


@dataclass(frozen=True)
class RunSpec:
    """One training run.

    Attributes:
        width, depth: model shape (see :class:`gemstones.runs.transformer.TransformerConfig`).
        lr: peak learning rate.
        steps: optimizer steps.
        batch_size, seq_len: windows per batch and their length (bytes).
        seed: initialisation and data-order seed.
        warmup_fraction: linear warmup share of the steps; then cosine decay to 10% of ``lr``.
        b1, b2, eps, weight_decay, clip: optimizer settings (upstream GPT-2 values by default).
        n_records: number of steps at which SNR is recorded (always includes step 1 and the last).
    """

    width: int = 64
    depth: int = 2
    lr: float = 3e-3
    steps: int = 200
    batch_size: int = 16
    seq_len: int = 64
    seed: int = 0
    warmup_fraction: float = 0.1
    b1: float = 0.9
    b2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    clip: float = 1.0
    n_records: int = 8

    def __post_init__(self) -> None:
        for name, high in LIMITS.items():
            value = getattr(self, name)
            low = 0 if name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise GemstonesInputError(
                    f"{name} must be a whole number from {low} to {high:,}; got {value!r}"
                )
        if self.width % 16:
            raise GemstonesInputError(
                f"width {self.width} must be a multiple of 16 (the head size)"
            )
        if not (math.isfinite(self.lr) and 0 < self.lr <= MAX_LR):
            raise GemstonesInputError(f"lr must be a number in (0, {MAX_LR:g}]; got {self.lr!r}")

    @property
    def name(self) -> str:
        """Run name used in tables, e.g. ``w64_d2_lr0.003``."""
        return f"w{self.width}_d{self.depth}_lr{self.lr:g}"


@dataclass(frozen=True)
class RunResult:
    """Outcome of one run.

    Attributes:
        spec: the run.
        losses: training loss per step.
        val_loss: mean loss on fixed validation windows after training.
        snr: long table ``step, tensor, layer_type, shape, axes, snr`` (empty if not recorded).
        n_params: parameter count.
        seconds_per_step: median wall time of a training step after the first (compiling) one; SNR
            recording happens between steps and is not timed.
        params, opt_state: final parameters and optimizer state.
    """

    spec: RunSpec
    losses: np.ndarray = field(repr=False)
    val_loss: float
    snr: pl.DataFrame = field(repr=False)
    n_params: int
    seconds_per_step: float
    params: Any = field(repr=False)
    opt_state: Any = field(repr=False)

    @property
    def final_loss(self) -> float:
        """Mean training loss over the last 10% of steps (at least one)."""
        tail = max(1, self.losses.size // 10)
        return float(self.losses[-tail:].mean())


def record_schedule(steps: int, n_records: int) -> tuple[int, ...]:
    """Steps (1-based, after the update) at which SNR is recorded: step 1, then evenly to ``steps``."""
    if n_records <= 1 or steps == 1:
        return (steps,)
    spaced = np.linspace(0, steps, n_records).round().astype(int)[1:]
    return tuple(sorted({1, *(int(s) for s in spaced if s >= 1)}))


@lru_cache(maxsize=1)
def default_layer_map() -> dict[str, list[str]]:
    """The upstream SlimAdam layer map (embedded copy)."""
    return read_layer_map(embedded_path("upstream", "slimadam", "layer_map.json"))


def second_moments(opt_state: Any) -> Any:
    """The ``nu`` pytree of the first Adam-like state found inside an optax state."""
    if hasattr(opt_state, "nu") and hasattr(opt_state, "_fields"):
        return opt_state.nu
    if isinstance(opt_state, tuple | list):
        for child in opt_state:
            found = second_moments(child)
            if found is not None:
                return found
    return None


def snr_records(
    nu: Any, step: int, layer_map: dict[str, list[str]] | None = None
) -> list[dict[str, Any]]:
    """SNR of every tensor's second moment along every candidate axis set, as table rows."""
    import jax

    from gemstones.snr.slimadam import named_parameters

    layers = layer_map if layer_map is not None else default_layer_map()
    rows = []
    for name, value in named_parameters(jax.device_get(nu)).items():
        array = np.asarray(value)
        layer_type = classify_layer(name, layers)
        for axes, value_snr in snr_by_candidate(array).items():
            rows.append(
                {
                    "step": step,
                    "tensor": name,
                    "layer_type": layer_type,
                    "shape": format_shape(array.shape),
                    "axes": format_axes(axes),
                    "snr": value_snr,
                }
            )
    return rows


def build_optimizer(spec: RunSpec, rules: Any = None, slim: bool = False) -> Any:
    """Clip + AdamW (``slim=False``, optax's own) or clip + SlimAdam with ``rules``; decay on ndim >= 2."""
    import optax

    from gemstones.snr.slimadam import decay_mask, slimadam

    warmup = max(1, int(spec.warmup_fraction * spec.steps))
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, spec.lr, warmup, max(spec.steps, warmup + 1), end_value=0.1 * spec.lr
    )
    if slim:
        core = slimadam(
            schedule, rules, b1=spec.b1, b2=spec.b2, eps=spec.eps, weight_decay=spec.weight_decay
        )
    else:
        core = optax.adamw(
            schedule,
            b1=spec.b1,
            b2=spec.b2,
            eps=spec.eps,
            weight_decay=spec.weight_decay,
            mask=decay_mask,
        )
    return optax.chain(optax.clip_by_global_norm(spec.clip), core)


def train(
    spec: RunSpec,
    rules: Any = None,
    slim: bool = False,
    record_snr: bool = True,
    max_corpus_bytes: int = 2_000_000,
) -> RunResult:
    """Train one small transformer on the standard-library corpus, recording second-moment SNR.

    Args:
        spec: the run.
        rules: SlimAdam rules (pytree or function of the parameter name); used only with ``slim``.
        slim: use SlimAdam instead of optax's AdamW.
        record_snr: compute SNR at :func:`record_schedule` steps.
        max_corpus_bytes: size of the corpus read.

    Returns:
        A :class:`RunResult`.
    """
    import jax
    import optax

    from gemstones.runs.corpus import VOCAB_SIZE, load_stdlib_corpus, sample_batch
    from gemstones.runs.transformer import TransformerConfig, init_params, loss_fn, parameter_count

    config = TransformerConfig(
        width=spec.width, depth=spec.depth, vocab_size=VOCAB_SIZE, seq_len=spec.seq_len
    )
    corpus = load_stdlib_corpus(max_corpus_bytes)
    params = jax.jit(init_params, static_argnums=0)(config, jax.random.PRNGKey(spec.seed))
    optimizer = build_optimizer(spec, rules, slim)
    opt_state = jax.jit(optimizer.init)(params)

    @jax.jit
    def step_fn(params: Any, opt_state: Any, batch: Any) -> tuple[Any, Any, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(params, batch, config)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(spec.seed)
    records = set(record_schedule(spec.steps, spec.n_records)) if record_snr else set()
    rows: list[dict[str, Any]] = []
    losses = []
    timings = []
    for step in range(1, spec.steps + 1):
        batch = sample_batch(corpus.train, spec.batch_size, spec.seq_len, rng)
        start = time.perf_counter()
        params, opt_state, loss = step_fn(params, opt_state, batch)
        loss = float(loss)  # waits for the step
        if step > 1:
            timings.append(time.perf_counter() - start)
        losses.append(loss)
        if step in records:
            rows.extend(snr_records(second_moments(opt_state), step))
    val_rng = np.random.default_rng(12345)
    eval_fn = jax.jit(lambda p, b: loss_fn(p, b, config))
    val = [
        float(eval_fn(params, sample_batch(corpus.val, spec.batch_size, spec.seq_len, val_rng)))
        for _ in range(8)
    ]
    return RunResult(
        spec=spec,
        losses=np.asarray(losses),
        val_loss=float(np.mean(val)),
        snr=pl.DataFrame(rows) if rows else pl.DataFrame(),
        n_params=parameter_count(params),
        seconds_per_step=float(np.median(timings)) if timings else float("nan"),
        params=params,
        opt_state=opt_state,
    )


def sweep_specs(
    widths: Sequence[int], depths: Sequence[int], lrs: Sequence[float], base: RunSpec
) -> list[RunSpec]:
    """The grid of runs, widths outermost."""
    if not widths or not depths or not lrs:
        raise GemstonesInputError("a sweep needs at least one width, one depth and one lr")
    runs = len(widths) * len(depths) * len(lrs)
    if runs > MAX_RUNS:
        raise GemstonesInputError(
            f"the sweep has {len(widths)} widths x {len(depths)} depths x {len(lrs)} lrs = {runs:,} "
            f"runs; at most {MAX_RUNS} are allowed"
        )
    return [replace(base, width=w, depth=d, lr=lr) for w in widths for d in depths for lr in lrs]


def sweep_unit(spec: RunSpec) -> tuple[pl.DataFrame, dict[str, Any]]:
    """One run of a sweep as a work unit: train with AdamW, return its SNR rows and its summary row.

    Module-level and returning plain tables, so any executor (a Ray worker too) can run it.
    """
    result = train(spec)
    table = result.snr.with_columns(
        pl.lit(spec.name).alias("run"),
        pl.lit(spec.width).alias("width"),
        pl.lit(spec.depth).alias("depth"),
        pl.lit(spec.lr).alias("lr"),
    ).select(SWEEP_COLUMNS)
    row = {
        "run": spec.name,
        "width": spec.width,
        "depth": spec.depth,
        "lr": spec.lr,
        "steps": spec.steps,
        "n_params": result.n_params,
        "final_train_loss": result.final_loss,
        "val_loss": result.val_loss,
        "seconds_per_step": result.seconds_per_step,
    }
    return table, row


def run_sweep(
    specs: Sequence[RunSpec],
    on_step: Callable[[RunSpec], None] | None = None,
    *,
    executor: Any = None,
    resources: Any = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Run every spec with AdamW, recording SNR, on an executor (in this process by default).

    Args:
        specs: the runs (see :func:`sweep_specs`).
        on_step: called with each run's spec as it finishes (progress reporting).
        executor: a :class:`gemstones.execute.Executor` (default: the ``local`` one).
        resources: what each run asks of the executor (default: one CPU).

    Returns:
        ``(snr_table, runs_table)``: the tidy SNR table (:data:`fitting.snr_trends.SWEEP_COLUMNS`) and
        one row per run with its losses, parameter count and step time, both in the order of ``specs``.

    Raises:
        gemstones.execute.UnitsFailed: a run failed (after the others finished).
    """
    from gemstones.execute import DEFAULT_RESOURCES, LocalExecutor

    runner = executor if executor is not None else LocalExecutor()
    outputs = runner.map(
        sweep_unit,
        list(specs),
        resources=resources if resources is not None else DEFAULT_RESOURCES,
        on_result=None if on_step is None else (lambda spec, _: on_step(spec)),
    )
    pairs = [output for output in outputs if output is not None]  # a failed unit raised UnitsFailed
    tables = [table for table, _ in pairs]
    runs = [row for _, row in pairs]
    return pl.concat(tables), pl.DataFrame(runs)


def write_table(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a table as parquet (``.parquet``) or CSV (``.csv``), atomically."""
    out = Path(path)
    if out.suffix not in (".parquet", ".csv"):
        raise GemstonesInputError(f"output {out} must end in .parquet or .csv")
    write_table_atomic(frame, out)
    return out


def runs_table_path(out: str | Path) -> Path:
    """Where a sweep writing its SNR table to ``out`` writes the per-run table (``*_runs``)."""
    out = Path(out)
    return out.with_name(f"{out.stem}_runs{out.suffix}")


def read_sweep_table(path: str | Path) -> pl.DataFrame:
    """Read a sweep SNR table (parquet or CSV) written by :func:`write_table`; checks its columns.

    Raises:
        GemstonesInputError: a missing, empty or unreadable file, or another suffix.
        FitInputError: the table lacks the sweep's columns.
    """
    from fitting.snr_trends import validate_sweep_frame

    frame = read_table(
        path,
        "sweep table",
        schema_overrides={"shape": pl.Utf8, "axes": pl.Utf8},
        suffixes=(".parquet", ".csv"),
    )
    validate_sweep_frame(frame)
    name = Path(path).name
    frame = numeric_columns(frame, ["step"], name, dtype=pl.Int64)
    frame = numeric_columns(frame, ["width", "depth"], name, dtype=pl.Int64, allow_missing=True)
    return numeric_columns(frame, ["lr", "snr"], name, allow_missing=True)
