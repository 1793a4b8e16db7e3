"""A tiny recurrent-depth model in JAX: prefix parity, trained on a CPU in seconds.

The model follows the recurrent-depth recipe of Huginn-0125 (arXiv 2502.05171) at toy scale:

- a *prelude* embeds the input bits (here only the embedding);
- a *core* block is iterated r times on a latent state s; at every iteration an adapter reads the
  state, the state of the left neighbour and the re-injected prelude output ``[s_i, s_{i-1}, e_i]``
  (the core is locality-restricted: information moves one position per iteration), then a residual
  MLP and a norm follow;
- a *coda* (final norm and the tied embedding as LM head) decodes each position.

Task ``parity``: given L random bits, predict at every position i the parity of bits 0..i.
Position i needs information from position 0, which travels one position per iteration, so about
i + 1 iterations are needed and the per-position accuracy rises with r from near chance (1/2) to
1 at r ~ L: longer sequences saturate later. Training draws r at random per batch (uniform on
1..L + 4) and backpropagates through the last k iterations only (truncated backprop; the earlier
ones run under ``stop_gradient``), as Huginn does.

Adaptive exit: a position stops iterating (its state freezes) once the KL divergence between its
output distributions at successive iterations falls below a threshold; we report the mean number
of iterations used and the accuracy.

JAX is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fitting.recurrent_compute import RecurrentDepthArchitecture, forward_flops_per_token
from gemstones.errors import GemstonesInputError
from gemstones.readers import read_json_file
from gemstones.runs.optim import warmup_cosine_adamw
from registry.atomic import check_output_dir, savez_atomic, write_csv_atomic, write_json_atomic

TASKS = ("parity",)
#: Upper bounds of a run's settings (tiny CPU runs; one argument must not start unbounded work).
LIMITS = {
    "length": 1024,
    "hidden": 1024,
    "train_steps": 1_000_000,
    "batch_size": 4096,
    "backprop_steps": 64,
    "eval_sequences": 100_000,
    "seed": 2**32 - 1,
}
#: Largest recurrence count evaluated, and most r values in one run.
MAX_R = 4096
MAX_R_VALUES = 256
MAX_EXIT_THRESHOLDS = 64
PARAMETER_NAMES = ("embed", "adapter", "mlp_in", "mlp_out", "norm_mlp", "norm_state", "norm_final")
_EPS = 1e-6


@dataclass(frozen=True)
class RecurrentRunConfig:
    """Settings of one tiny recurrent-depth run.

    Attributes:
        task: the task (only ``parity``).
        length: bits per sequence (the task's difficulty).
        hidden: width of the state.
        train_steps: optimizer steps.
        batch_size: sequences per step.
        max_train_r: largest r drawn in training (default length + 4).
        backprop_steps: k, iterations backpropagated through (the last k of the r).
        learning_rate: peak AdamW learning rate (cosine decay after a short warm-up).
        eval_sequences: sequences per evaluated r (every position is one scored item).
        seed: seeds the initialisation, the training batches, the r draws and the evaluation set.
    """

    task: str = "parity"
    length: int = 16
    hidden: int = 32
    train_steps: int = 1500
    batch_size: int = 32
    max_train_r: int | None = None
    backprop_steps: int = 4
    learning_rate: float = 5e-3
    eval_sequences: int = 512
    seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise GemstonesInputError(f"unknown task {self.task!r}; valid: {', '.join(TASKS)}")
        for name, high in LIMITS.items():
            value = getattr(self, name)
            low = 0 if name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise GemstonesInputError(
                    f"{name}={value!r} is out of range; valid: whole numbers {low} to {high:,}"
                )
        if self.max_train_r is not None and not 1 <= self.max_train_r <= MAX_R:
            raise GemstonesInputError(
                f"max_train_r={self.max_train_r} is out of range; valid: 1 to {MAX_R:,}"
            )
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise GemstonesInputError(
                f"learning_rate={self.learning_rate!r} must be a positive, finite number"
            )

    @property
    def train_r(self) -> int:
        """Largest r drawn during training."""
        return self.max_train_r if self.max_train_r is not None else self.length + 4

    @property
    def task_name(self) -> str:
        """Task name in result files, e.g. ``parity_len16`` (chance 1/2 via the ``parity`` prefix)."""
        return f"{self.task}_len{self.length}"

    @property
    def model_name(self) -> str:
        return f"gemstones/recurrent-{self.task}-len{self.length}-h{self.hidden}"

    @property
    def checkpoint(self) -> str:
        return f"steps{self.train_steps}-seed{self.seed}"


def architecture(config: RecurrentRunConfig) -> RecurrentDepthArchitecture:
    """The tiny model in the vocabulary of ``fitting.recurrent_compute``.

    No prelude or coda layers, one core layer without attention (plain MLP of 4h, two norm
    vectors), an adapter of 3h -> h, vocabulary 2, tied embedding, a final norm.
    """
    h = config.hidden
    return RecurrentDepthArchitecture(
        hidden=h,
        heads=0,
        head_dim=0,
        mlp_width=4 * h,
        mlp_matrices=2,
        vocab=2,
        prelude_layers=0,
        core_layers=1,
        coda_layers=0,
        adapter_inputs=3,
        layer_vectors=2,
        tied_embedding=True,
        final_norm=True,
    )


# ----------------------------------------------------------------------------------------------
# Data.


def parity_batch(
    rng: np.random.Generator, batch: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random bit sequences and their prefix parities, both int32 of shape (batch, length)."""
    bits = rng.integers(0, 2, size=(batch, length), dtype=np.int32)
    return bits, np.cumsum(bits, axis=1, dtype=np.int32) % 2


# ----------------------------------------------------------------------------------------------
# Model.


def init_params(config: RecurrentRunConfig, seed: int) -> dict[str, Any]:
    """Initial parameters (float32): scaled normal matrices, unit norm weights."""
    import jax
    import jax.numpy as jnp

    h = config.hidden
    keys = jax.random.split(jax.random.PRNGKey(seed), 4)

    def normal(key: Any, shape: tuple[int, int], fan_in: int) -> Any:
        return jax.random.normal(key, shape, jnp.float32) / math.sqrt(fan_in)

    return {
        "embed": jax.random.normal(keys[0], (2, h), jnp.float32),
        "adapter": normal(keys[1], (3 * h, h), 3 * h),
        "mlp_in": normal(keys[2], (h, 4 * h), h),
        "mlp_out": normal(keys[3], (4 * h, h), 4 * h) * 0.5,
        "norm_mlp": jnp.ones((h,), jnp.float32),
        "norm_state": jnp.ones((h,), jnp.float32),
        "norm_final": jnp.ones((h,), jnp.float32),
    }


def _rms_norm(x: Any, weight: Any) -> Any:
    import jax.numpy as jnp

    return x * (weight / jnp.sqrt(jnp.mean(x * x, axis=-1, keepdims=True) + _EPS))


def prelude(params: dict[str, Any], bits: Any) -> Any:
    """Embed the bits: (batch, length) -> (batch, length, hidden)."""
    import jax

    # a one-hot matmul rather than a gather: its gradient avoids a slow scatter-add on CPU
    return jax.nn.one_hot(bits, 2, dtype=params["embed"].dtype) @ params["embed"]


def core_step(params: dict[str, Any], state: Any, injected: Any) -> Any:
    """One core iteration: adapter on [s_i, s_{i-1}, e_i], residual MLP, norm."""
    import jax
    import jax.numpy as jnp

    left = jnp.pad(state, ((0, 0), (1, 0), (0, 0)))[:, :-1]
    mixed = jnp.concatenate([state, left, injected], axis=-1) @ params["adapter"]
    hidden = jax.nn.gelu(_rms_norm(mixed, params["norm_mlp"]) @ params["mlp_in"])
    return _rms_norm(mixed + hidden @ params["mlp_out"], params["norm_state"])


def coda(params: dict[str, Any], state: Any) -> Any:
    """Logits over the two classes (tied embedding as the head)."""
    return _rms_norm(state, params["norm_final"]) @ params["embed"].T


def forward(params: dict[str, Any], bits: Any, r: Any) -> Any:
    """Logits after r core iterations (r may be a traced integer)."""
    import jax
    import jax.numpy as jnp

    injected = prelude(params, bits)
    state = jnp.zeros_like(injected)
    state = jax.lax.fori_loop(0, r, lambda _, s: core_step(params, s, injected), state)
    return coda(params, state)


def forward_truncated(params: dict[str, Any], bits: Any, r: Any, k: int) -> Any:
    """Logits after r iterations with gradients through the last min(r, k) iterations only."""
    import jax
    import jax.numpy as jnp

    injected = prelude(params, bits)
    frozen_params = jax.lax.stop_gradient(params)
    frozen_injected = jax.lax.stop_gradient(injected)
    state = jnp.zeros_like(injected)
    free = jnp.maximum(r - k, 0)
    state = jax.lax.fori_loop(
        0, free, lambda _, s: core_step(frozen_params, s, frozen_injected), state
    )
    state = jax.lax.stop_gradient(state)
    first_active = k - jnp.minimum(r, k)
    for i in range(k):  # unrolled: k is small and static, and XLA runs this faster than a scan
        state = jnp.where(i >= first_active, core_step(params, state, injected), state)
    return coda(params, state)


# ----------------------------------------------------------------------------------------------
# Training.


@dataclass(frozen=True)
class TrainedModel:
    """A trained tiny model: its config, parameters (numpy) and training record."""

    config: RecurrentRunConfig
    params: dict[str, np.ndarray]
    final_loss: float
    train_seconds: float

    @property
    def parameter_count(self) -> int:
        return int(sum(v.size for v in self.params.values()))


def train(
    config: RecurrentRunConfig, progress: Callable[[int, float], None] | None = None
) -> TrainedModel:
    """Train the tiny model on its task.

    Args:
        config: the run settings.
        progress: called as ``progress(step, loss)`` after every step (for progress bars).

    Returns:
        The trained model; ``final_loss`` is the mean cross-entropy over the last 50 steps.
    """
    import jax
    import jax.numpy as jnp
    import optax

    rng = np.random.default_rng(config.seed)
    params = init_params(config, config.seed)
    optimizer = warmup_cosine_adamw(config.learning_rate, config.train_steps)
    opt_state = optimizer.init(params)
    k = config.backprop_steps

    def loss_fn(p: Any, bits: Any, targets: Any, r: Any) -> Any:
        logits = forward_truncated(p, bits, r, k)
        return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()

    @jax.jit
    def step(p: Any, state: Any, bits: Any, targets: Any, r: Any) -> tuple[Any, Any, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(p, bits, targets, r)
        updates, state = optimizer.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    start = time.perf_counter()
    recent: list[float] = []
    for i in range(config.train_steps):
        bits, targets = parity_batch(rng, config.batch_size, config.length)
        r = int(rng.integers(1, config.train_r + 1))
        params, opt_state, loss = step(
            params, opt_state, jnp.asarray(bits), jnp.asarray(targets), jnp.int32(r)
        )
        if progress is not None or i >= config.train_steps - 50:
            value = float(loss)
            recent.append(value)
            if progress is not None:
                progress(i + 1, value)
    seconds = time.perf_counter() - start
    tail = recent[-50:]
    return TrainedModel(
        config=config,
        params={name: np.asarray(value) for name, value in params.items()},
        final_loss=float(np.mean(tail)) if tail else math.nan,
        train_seconds=seconds,
    )


# ----------------------------------------------------------------------------------------------
# Evaluation.


def _eval_set(
    config: RecurrentRunConfig, length: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(10_000 + config.seed)
    return parity_batch(rng, config.eval_sequences, length or config.length)


def accuracy_by_r(
    model: TrainedModel, rs: Sequence[int], length: int | None = None
) -> dict[int, float]:
    """Per-position accuracy at each r on a fixed, seeded evaluation set.

    Args:
        model: the trained model.
        rs: recurrence counts to evaluate.
        length: sequence length to evaluate on (default: the training length).

    Returns:
        ``{r: accuracy}``; each value averages ``eval_sequences * length`` scored positions.
    """
    import jax
    import jax.numpy as jnp

    bits, targets = _eval_set(model.config, length)
    params = {k: jnp.asarray(v) for k, v in model.params.items()}
    predict = jax.jit(lambda p, b, r: jnp.argmax(forward(p, b, r), axis=-1))
    out = {}
    check_r_values(rs)
    for r in rs:
        guesses = np.asarray(predict(params, jnp.asarray(bits), jnp.int32(r)))
        out[int(r)] = float((guesses == targets).mean())
    return out


@dataclass(frozen=True)
class AdaptiveExit:
    """Accuracy and compute of the KL-based adaptive exit at one threshold.

    Attributes:
        threshold: KL (nats) between successive output distributions below which a position exits.
        mean_steps: mean core iterations per position.
        accuracy: per-position accuracy.
        max_r: the iteration cap.
    """

    threshold: float
    mean_steps: float
    accuracy: float
    max_r: int


def adaptive_exit(
    model: TrainedModel, thresholds: Sequence[float], max_r: int = 64, length: int | None = None
) -> list[AdaptiveExit]:
    """Evaluate the adaptive exit at several KL thresholds.

    A position iterates until KL(p_t || p_{t-1}) between its output distributions at successive
    iterations is below the threshold (or ``max_r`` is reached); from then on its state is frozen
    (its neighbours keep reading the frozen state). The first iteration always runs.

    Returns:
        One ``AdaptiveExit`` per threshold.
    """
    import jax
    import jax.numpy as jnp

    check_r_values([max_r])
    check_exit_thresholds(thresholds)
    bits, targets = _eval_set(model.config, length)
    params = {k: jnp.asarray(v) for k, v in model.params.items()}

    @jax.jit
    def run(p: Any, b: Any, threshold: Any) -> tuple[Any, Any]:
        injected = prelude(p, b)
        state = core_step(p, jnp.zeros_like(injected), injected)
        logp = jax.nn.log_softmax(coda(p, state))
        done = jnp.zeros(b.shape, bool)
        steps = jnp.ones(b.shape, jnp.int32)

        def body(_: Any, carry: tuple[Any, Any, Any, Any]) -> tuple[Any, Any, Any, Any]:
            s, lp, dn, st = carry
            proposed = core_step(p, s, injected)
            s = jnp.where(dn[..., None], s, proposed)
            new_lp = jax.nn.log_softmax(coda(p, s))
            kl = jnp.sum(jnp.exp(new_lp) * (new_lp - lp), axis=-1)
            st = st + (~dn).astype(jnp.int32)
            dn = dn | (kl < threshold)
            return s, jnp.where(dn[..., None], lp * 0 + new_lp, new_lp), dn, st

        state, logp, done, steps = jax.lax.fori_loop(1, max_r, body, (state, logp, done, steps))
        return jnp.argmax(logp, axis=-1), steps

    results = []
    for threshold in thresholds:
        guesses, steps = run(params, jnp.asarray(bits), jnp.float32(threshold))
        results.append(
            AdaptiveExit(
                threshold=float(threshold),
                mean_steps=float(np.asarray(steps).mean()),
                accuracy=float((np.asarray(guesses) == targets).mean()),
                max_r=max_r,
            )
        )
    return results


def check_exit_thresholds(thresholds: Sequence[float]) -> None:
    """At most ``MAX_EXIT_THRESHOLDS`` thresholds, each a finite KL divergence >= 0.

    Raises:
        GemstonesInputError: naming the count or the first bad threshold.
    """
    if len(thresholds) > MAX_EXIT_THRESHOLDS:
        raise GemstonesInputError(
            f"{len(thresholds)} exit thresholds; at most {MAX_EXIT_THRESHOLDS} are evaluated"
        )
    bad = [t for t in thresholds if not (math.isfinite(t) and t >= 0)]
    if bad:
        raise GemstonesInputError(
            f"exit threshold {bad[0]!r} must be a finite KL divergence >= 0 (e.g. 1e-3)"
        )


def exit_frame(exits: Sequence[AdaptiveExit]) -> pl.DataFrame:
    """The adaptive-exit trade-off as a table: threshold, mean_steps, accuracy, max_r."""
    return pl.DataFrame([asdict(e) for e in exits])


def write_exit_frame(exits: Sequence[AdaptiveExit], out: Path) -> Path:
    """Write the adaptive-exit table to ``out/adaptive_exit.csv`` atomically; returns the path."""
    path = Path(out) / EXIT_FILE
    write_csv_atomic(exit_frame(exits), path)
    return path


def check_r_values(rs: Sequence[int]) -> None:
    """Every r must be a whole number from 1 to ``MAX_R``, and at most ``MAX_R_VALUES`` of them.

    Raises:
        GemstonesInputError: naming the first bad value, or the count.
    """
    if len(rs) > MAX_R_VALUES:
        raise GemstonesInputError(
            f"{len(rs):,} r values; at most {MAX_R_VALUES} are evaluated in one run"
        )
    for r in rs:
        if isinstance(r, bool) or not isinstance(r, int | np.integer) or not 1 <= r <= MAX_R:
            raise GemstonesInputError(f"r={r!r} is out of range; valid: 1 to {MAX_R:,}")


# ----------------------------------------------------------------------------------------------
# Saving, loading and result files.

CONFIG_FILE = "run.json"
PARAMS_FILE = "params.npz"
CURVE_FILE = "curve.csv"
EXIT_FILE = "adaptive_exit.csv"
RESULTS_DIR = "lm_eval"


def save_model(model: TrainedModel, out: Path) -> None:
    """Write ``params.npz`` and ``run.json`` (settings, loss, time) into ``out``, each atomically.

    ``run.json`` is written last: a run folder with a ``run.json`` has its parameters.
    """
    savez_atomic(Path(out) / PARAMS_FILE, model.params)
    record = {
        "config": asdict(model.config),
        "final_loss": model.final_loss,
        "train_seconds": model.train_seconds,
        "parameters": model.parameter_count,
    }
    write_json_atomic(record, Path(out) / CONFIG_FILE)


def load_model(out: Path, expected: RecurrentRunConfig | None = None) -> TrainedModel | None:
    """Load a saved run from ``out``; None when there is none.

    Raises:
        GemstonesInputError: the saved run's settings differ from ``expected``, or its files are
            unreadable.
    """
    config_path, params_path = out / CONFIG_FILE, out / PARAMS_FILE
    if not config_path.is_file() or not params_path.is_file():
        return None
    try:
        record = read_json_file(config_path, "saved run")
        config = RecurrentRunConfig(**record["config"])
        with np.load(params_path) as arrays:
            params = {name: arrays[name] for name in PARAMETER_NAMES}
    except (OSError, ValueError, KeyError, TypeError) as bad:
        raise GemstonesInputError(
            f"{out}: saved run is unreadable ({bad}); remove it or pick another --out"
        ) from None
    if expected is not None and config != expected:
        theirs, ours = asdict(config), asdict(expected)
        diff = {k: (theirs[k], ours[k]) for k in ours if theirs[k] != ours[k]}
        raise GemstonesInputError(
            f"{out} holds a run with other settings (saved, requested): {diff}; use another --out"
        )
    return TrainedModel(
        config,
        params,
        float(record.get("final_loss", math.nan)),
        float(record.get("train_seconds", math.nan)),
    )


def _model_args(config: RecurrentRunConfig, r: int) -> dict[str, Any]:
    arch = asdict(architecture(config))
    return {
        "pretrained": config.model_name,
        "revision": config.checkpoint,
        "mean_recurrence": r,
        **arch,
    }


def lm_eval_document(config: RecurrentRunConfig, r: int, accuracy: float, n: int) -> dict[str, Any]:
    """An lm-eval-harness-like results document for one r (the layout ``read_results`` reads)."""
    task = config.task_name
    stderr = math.sqrt(accuracy * (1 - accuracy) / (n - 1)) if n > 1 else None
    return {
        "results": {task: {"alias": task, "acc,none": accuracy, "acc_stderr,none": stderr}},
        "group_subtasks": {task: []},
        "configs": {
            task: {
                "task": task,
                "output_type": "multiple_choice",
                "num_fewshot": 0,
                "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
                "metadata": {"version": 1.0, "length": config.length},
            }
        },
        "versions": {task: 1.0},
        "n-shot": {task: 0},
        "higher_is_better": {task: {"acc": True}},
        "n-samples": {task: {"original": n, "effective": n}},
        "config": {
            "model": "gemstones-recurrent",
            "model_args": _model_args(config, r),
            "batch_size": config.eval_sequences,
            "device": "cpu",
            "limit": None,
            "gen_kwargs": None,
            "random_seed": config.seed,
        },
        "git_hash": None,
        "date": time.time(),
        "model_name": config.model_name,
        "chat_template": None,
        "chat_template_sha": None,
    }


def curve_frame(config: RecurrentRunConfig, accuracies: dict[int, float]) -> pl.DataFrame:
    """The tidy table of one run (the columns of ``gemstones.ttc.ingest.TIDY_SCHEMA`` but source)."""
    n = config.eval_sequences * config.length
    arch = architecture(config)
    rows = []
    for r, acc in sorted(accuracies.items()):
        rows.append(
            {
                "model": config.model_name,
                "checkpoint": config.checkpoint,
                "task": config.task_name,
                "metric": "acc",
                "filter": "none",
                "n_shot": 0,
                "chat_template": None,
                "r": r,
                "value": acc,
                "stderr": math.sqrt(acc * (1 - acc) / (n - 1)),
                "n": n,
                "flops_per_token": float(forward_flops_per_token(arch, r)),
            }
        )
    return pl.DataFrame(rows)


def write_results(
    config: RecurrentRunConfig, accuracies: dict[int, float], out: Path
) -> list[Path]:
    """Write ``curve.csv`` and one lm-eval-like ``results_*.json`` per r under ``out/lm_eval``.

    Every file is written atomically; results files of an earlier evaluation that this one does
    not rewrite are removed only after all new files are in place.

    Returns:
        The JSON files written (their names carry an index, never read back: r is inside).
    """
    folder = Path(out) / RESULTS_DIR
    n = config.eval_sequences * config.length
    written = []
    for index, (r, acc) in enumerate(sorted(accuracies.items())):
        path = folder / f"results_{config.checkpoint}_{index:03d}.json"
        write_json_atomic(lm_eval_document(config, r, acc, n), path)
        written.append(path)
    write_csv_atomic(curve_frame(config, accuracies), Path(out) / CURVE_FILE)
    keep = set(written)
    for old in folder.glob("results_*.json"):
        if old not in keep:
            old.unlink()
    return written


def check_run_folder(out: Path) -> Path:
    """Check that ``out`` (and ``out/lm_eval``) can be folders, before any training.

    Raises:
        OutputPathError: one of them is a file or sits under a file.
    """
    check_output_dir(out, "--out")
    check_output_dir(Path(out) / RESULTS_DIR, "--out")
    return Path(out)


@dataclass(frozen=True)
class RecurrentRun:
    """The outcome of ``run``: the model, its accuracy per r, the files written, whether loaded."""

    model: TrainedModel
    accuracies: dict[int, float]
    files: tuple[Path, ...]
    loaded: bool


def run(
    config: RecurrentRunConfig,
    rs: Sequence[int],
    out: Path,
    progress: Callable[[int, float], None] | None = None,
) -> RecurrentRun:
    """Train (or load the saved run in ``out``), evaluate at every r and write the result files.

    The output folder is checked before training, so a path that cannot be a folder costs nothing.

    Raises:
        GemstonesInputError: no or out-of-range r values, or a saved run with other settings.
        OutputPathError: ``out`` (or ``out/lm_eval``) is a file or sits under one.
    """
    if not rs:
        raise GemstonesInputError("no r values to evaluate; pass e.g. --r 1,2,4,8")
    check_r_values(list(rs))
    check_run_folder(out)
    model = load_model(out, expected=config)
    loaded = model is not None
    if model is None:
        model = train(config, progress)
        save_model(model, out)
    accuracies = accuracy_by_r(model, sorted(set(rs)))
    files = write_results(config, accuracies, out)
    return RecurrentRun(model, accuracies, tuple(files), loaded)


def parse_r_list(text: str) -> list[int]:
    """Parse ``"1,2,4,...,64"`` (a trailing ``...`` continues a doubling or constant-step sequence).

    Values run from 1 to ``MAX_R`` (4096), at most ``MAX_R_VALUES`` (256) of them; the bounds are
    checked before a ``...`` is expanded.

    Raises:
        GemstonesInputError: an empty entry, a non-integer, a value out of range, too many values,
            or a ``...`` that cannot be continued.

    Example:
        >>> parse_r_list("1,2,...,16")
        [1, 2, 4, 8, 16]
    """
    parts = [p.strip() for p in text.split(",")]
    if any(not p for p in parts):
        raise GemstonesInputError(f"--r {text!r} has an empty value; e.g. 1,2,4,...,64")
    values: list[int] = []
    for i, part in enumerate(parts):
        if part in ("...", "…"):
            if len(values) < 2 or i + 1 >= len(parts):
                raise GemstonesInputError(
                    f"--r {text!r}: '...' needs two values before and one after it"
                )
            end = _positive_int(parts[i + 1], text)
            a, b = values[-2], values[-1]
            nxt: Callable[[int], int]
            if b == 2 * a:
                nxt = lambda v: 2 * v  # noqa: E731
            elif b > a:
                nxt = partial(operator.add, b - a)
            else:
                raise GemstonesInputError(
                    f"--r {text!r}: '...' continues increasing sequences only"
                )
            v = nxt(b)
            while v < end:
                values.append(v)
                if len(values) > MAX_R_VALUES:
                    raise GemstonesInputError(
                        f"--r {text!r} expands to more than {MAX_R_VALUES} values; "
                        f"at most {MAX_R_VALUES} are evaluated in one run"
                    )
                v = nxt(v)
            continue
        values.append(_positive_int(part, text))
    if not values:
        raise GemstonesInputError(f"--r {text!r} holds no values; e.g. 1,2,4,...,64")
    result = sorted(set(values))
    if len(result) > MAX_R_VALUES:
        raise GemstonesInputError(
            f"--r {text!r} has {len(result)} values; at most {MAX_R_VALUES} are evaluated in one run"
        )
    return result


def _positive_int(part: str, text: str) -> int:
    try:
        value = int(part)
    except ValueError:
        raise GemstonesInputError(f"--r {text!r}: {part!r} is not a whole number") from None
    if not 1 <= value <= MAX_R:
        raise GemstonesInputError(
            f"--r {text!r}: {value} is out of range; r must be >= 1 and <= {MAX_R:,}"
        )
    return value
