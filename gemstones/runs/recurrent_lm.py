"""A small Huginn-architecture language model trained on CPU on real text, with genuine curves in r.

The model is :mod:`gemstones.models.huginn` at toy scale (bytes as tokens, vocabulary 256), trained on
the Python standard library's own source (:mod:`gemstones.runs.corpus`, always present offline) as
Huginn was trained (arXiv 2502.05171, section 3.3, and its reference ``randomized_iteration_sampler``):

- every step draws the recurrence from a Poisson-lognormal distribution around ``mean_recurrence``:
  ``tau ~ LogNormal(log(mean) - sigma^2 / 2, sigma)`` with sigma = 1/2, ``p = Poisson(tau) + 1``;
- gradients flow through the last ``k = min(p, backprop_depth)`` iterations only; the first
  ``max(p - backprop_depth, 0)`` run without gradient (truncated backpropagation);
- the state starts random at every step (the reference's "like-init"), so the model learns to work
  from any starting state, which is what makes it improve with r at test time.

Held-out loss and next-byte accuracy at r = 1 ... R come out of one forward pass to R (the decoded
logits of every iteration). Exit criteria (:mod:`gemstones.models.huginn_exits`) trade recurrences
for loss; :func:`exit_tradeoff` measures both.

JAX is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fitting.recurrent_compute import forward_flops_per_token
from gemstones.errors import GemstonesInputError
from gemstones.models import huginn
from gemstones.models import huginn_exits as exits
from gemstones.runs import corpus as corpus_mod
from gemstones.runs.optim import warmup_cosine_adamw

SIGMA = 0.5
"""Standard deviation of the log-normal rate of the recurrence sampler (the reference's value)."""


@dataclass(frozen=True)
class RecurrentLMConfig:
    """Settings of one small recurrent-depth language model run.

    Attributes:
        n_embd, n_heads, prelude, core, coda, mlp: the Huginn shape (``mlp`` is intermediate_size).
        seq_len: bytes per training and evaluation window.
        batch_size: windows per step.
        train_steps: optimizer steps.
        mean_recurrence: mean r drawn in training.
        backprop_depth: iterations backpropagated through (at most).
        learning_rate: peak AdamW learning rate (warm-up, cosine decay).
        corpus_bytes: bytes of standard-library source read (10% held out).
        eval_sequences: held-out windows evaluated.
        seed: seeds initialisation, batches, r draws, initial states and the evaluation set.
    """

    n_embd: int = 64
    n_heads: int = 4
    prelude: int = 1
    core: int = 2
    coda: int = 1
    mlp: int = 128
    seq_len: int = 64
    batch_size: int = 16
    train_steps: int = 600
    mean_recurrence: int = 8
    backprop_depth: int = 4
    learning_rate: float = 3e-3
    corpus_bytes: int = 400_000
    eval_sequences: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "n_embd",
            "n_heads",
            "core",
            "mlp",
            "seq_len",
            "batch_size",
            "train_steps",
            "mean_recurrence",
            "backprop_depth",
            "eval_sequences",
        ):
            if getattr(self, name) < 1:
                raise GemstonesInputError(f"{name}={getattr(self, name)} must be >= 1")
        for name in ("prelude", "coda"):
            if getattr(self, name) < 0:
                raise GemstonesInputError(f"{name}={getattr(self, name)} must be >= 0")
        if not self.learning_rate > 0:
            raise GemstonesInputError(f"learning_rate={self.learning_rate} must be positive")
        self.huginn_config()  # validates the shape (heads dividing the width, ...)

    def huginn_config(self) -> huginn.HuginnConfig:
        """The architecture as a :class:`~gemstones.models.huginn.HuginnConfig` (bytes: vocab 256)."""
        return huginn.HuginnConfig(
            n_embd=self.n_embd,
            n_heads=self.n_heads,
            n_layers_in_prelude=self.prelude,
            n_layers_in_recurrent_block=self.core,
            n_layers_in_coda=self.coda,
            intermediate_size=self.mlp,
            vocab_size=corpus_mod.VOCAB_SIZE,
            padded_vocab_size=corpus_mod.VOCAB_SIZE,
            block_size=self.seq_len,
            mean_recurrence=self.mean_recurrence,
            mean_backprop_depth=self.backprop_depth,
        )

    @property
    def model_name(self) -> str:
        return f"gemstones/huginn-bytes-e{self.n_embd}-c{self.core}-r{self.mean_recurrence}"

    @property
    def checkpoint(self) -> str:
        return f"steps{self.train_steps}-seed{self.seed}"


def sample_recurrence(
    rng: np.random.Generator, mean_recurrence: int, backprop_depth: int
) -> tuple[int, int]:
    """Draw (iterations without gradient, iterations with gradient) as Huginn's training does.

    ``tau ~ LogNormal(log(mean) - sigma^2/2, sigma)``, ``p = Poisson(tau) + 1``; then
    ``(max(p - backprop_depth, 0), min(p, backprop_depth))``. The mean of ``p`` is ``mean + 1``
    (the reference's convention).

    Example:
        >>> n, k = sample_recurrence(np.random.default_rng(0), 8, 4)
        >>> 1 <= k <= 4 and n >= 0
        True
    """
    mu = math.log(mean_recurrence) - SIGMA**2 / 2
    rate = rng.lognormal(mu, SIGMA)
    p = int(rng.poisson(rate)) + 1
    return max(p - backprop_depth, 0), min(p, backprop_depth)


def forward_truncated(
    params: dict[str, Any],
    config: huginn.HuginnConfig,
    ids: Any,
    state: Any,
    free_steps: Any,
    grad_steps: Any,
    depth: int,
) -> Any:
    """Logits after ``free_steps + grad_steps`` recurrences, gradients through the last
    ``grad_steps`` (<= ``depth``, static) only. The same functions as the inference forward.
    """
    import jax
    import jax.numpy as jnp

    positions = jnp.arange(ids.shape[1])
    embedded = huginn.embed(params, config, ids, positions)
    frozen, frozen_embedded = jax.lax.stop_gradient(params), jax.lax.stop_gradient(embedded)
    state = jax.lax.fori_loop(
        0,
        free_steps,
        lambda _, s: huginn.core_step(frozen, config, s, frozen_embedded, positions),
        state,
    )
    state = jax.lax.stop_gradient(state)
    first = depth - grad_steps
    for i in range(depth):  # unrolled: depth is small and static
        stepped = huginn.core_step(params, config, state, embedded, positions)
        state = jnp.where(i >= first, stepped, state)
    return huginn.decode(params, config, state, positions)


@dataclass(frozen=True)
class TrainedLM:
    """A trained model: settings, parameter tree, training record."""

    config: RecurrentLMConfig
    params: dict[str, Any]
    final_loss: float
    train_seconds: float
    mean_train_r: float

    @property
    def huginn_config(self) -> huginn.HuginnConfig:
        return self.config.huginn_config()

    @property
    def parameter_count(self) -> int:
        return int(sum(np.asarray(v).size for v in _leaves(self.params)))


def _leaves(tree: Any) -> list[Any]:
    import jax

    return jax.tree_util.tree_leaves(tree)


def train(
    config: RecurrentLMConfig, progress: Callable[[int, float], None] | None = None
) -> TrainedLM:
    """Train the model on the standard-library byte corpus.

    Args:
        config: the run settings.
        progress: called as ``progress(step, loss)`` after every step.

    Returns:
        The trained model; ``final_loss`` is the mean training loss (nats/byte) over the last 50
        steps, ``mean_train_r`` the mean recurrence drawn.
    """
    import jax
    import jax.numpy as jnp
    import optax

    hc = config.huginn_config()
    data = corpus_mod.load_stdlib_corpus(config.corpus_bytes)
    rng = np.random.default_rng(config.seed)
    params = huginn.init_params(hc, config.seed)
    optimizer = warmup_cosine_adamw(config.learning_rate, config.train_steps, b2=0.95)
    opt_state = optimizer.init(params)
    depth = config.backprop_depth

    def loss_fn(p: Any, window: Any, seed: Any, free: Any, grad: Any) -> Any:
        ids, targets = window[:, :-1], window[:, 1:]
        state = huginn.initial_state(hc, (*ids.shape, hc.n_embd), seed)
        logits = forward_truncated(p, hc, ids, state, free, grad, depth)
        return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()

    @jax.jit
    def step(p: Any, s: Any, window: Any, seed: Any, free: Any, grad: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(p, window, seed, free, grad)
        updates, s = optimizer.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    start = time.perf_counter()
    recent: list[float] = []
    drawn = 0
    for i in range(config.train_steps):
        window = corpus_mod.sample_batch(data.train, config.batch_size, config.seq_len, rng)
        free, grad = sample_recurrence(rng, config.mean_recurrence, depth)
        drawn += free + grad
        params, opt_state, loss = step(
            params,
            opt_state,
            jnp.asarray(window),
            jnp.int32(rng.integers(0, 2**31 - 1)),
            jnp.int32(free),
            jnp.int32(grad),
        )
        if progress is not None or i >= config.train_steps - 50:
            value = float(loss)
            recent.append(value)
            if progress is not None:
                progress(i + 1, value)
    return TrainedLM(
        config=config,
        params=params,
        final_loss=float(np.mean(recent[-50:])) if recent else math.nan,
        train_seconds=time.perf_counter() - start,
        mean_train_r=drawn / config.train_steps,
    )


# ----------------------------------------------------------------------------------------------
# Evaluation.


def eval_windows(config: RecurrentLMConfig) -> np.ndarray:
    """The held-out windows: ``eval_sequences`` evenly spaced windows of ``seq_len + 1`` bytes."""
    val = corpus_mod.load_stdlib_corpus(config.corpus_bytes).val
    span = config.seq_len + 1
    if val.size < span:
        raise GemstonesInputError(
            f"held-out text of {val.size} bytes is shorter than a window of {span}"
        )
    starts = np.linspace(0, val.size - span, config.eval_sequences).astype(np.int64)
    return np.stack([val[s : s + span] for s in starts]).astype(np.int32)


@dataclass(frozen=True)
class StepOutputs:
    """Every recurrence's held-out predictions of one full-depth run (numpy).

    Attributes:
        step_logits: (R, N, S, 256) logits after each recurrence.
        step_latents: (R, N, S, E) states after each recurrence.
        init_state: (N, S, E) the initial state.
        targets: (N, S) next bytes.
    """

    step_logits: np.ndarray
    step_latents: np.ndarray
    init_state: np.ndarray
    targets: np.ndarray


def step_outputs(model: TrainedLM, max_r: int, chunk: int = 16) -> StepOutputs:
    """Run the held-out windows to ``max_r`` recurrences, keeping every recurrence's outputs.

    The initial states are fixed by the run's seed, so every r sees the same starting point.
    """
    if max_r < 1:
        raise GemstonesInputError(f"max_r={max_r} must be >= 1")
    hc = model.huginn_config
    windows = eval_windows(model.config)
    ids, targets = windows[:, :-1], windows[:, 1:]
    states = np.asarray(
        huginn.initial_state(hc, (*ids.shape, hc.n_embd), 20_000 + model.config.seed)
    )
    logits, latents = [], []
    for lo in range(0, ids.shape[0], chunk):
        out = huginn.huginn_logits(
            model.params,
            hc,
            ids[lo : lo + chunk],
            num_steps=max_r,
            init_state=states[lo : lo + chunk],
            return_steps=True,
        )
        logits.append(np.asarray(out.step_logits))
        latents.append(np.asarray(out.step_latents))
    return StepOutputs(
        np.concatenate(logits, axis=1), np.concatenate(latents, axis=1), states, targets
    )


def _loss_and_accuracy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    lg = logits.astype(np.float64).reshape(-1, logits.shape[-1])
    tg = targets.reshape(-1)
    lg = lg - lg.max(axis=-1, keepdims=True)
    logp = lg - np.log(np.exp(lg).sum(axis=-1, keepdims=True))
    return float(-logp[np.arange(tg.size), tg].mean()), float((lg.argmax(-1) == tg).mean())


@dataclass(frozen=True)
class CurvePoint:
    """Held-out quality at one r: loss (nats/byte), bits per byte, next-byte accuracy, items."""

    r: int
    loss: float
    bits_per_byte: float
    accuracy: float
    n: int


def curve(
    model: TrainedLM, rs: Sequence[int], outputs: StepOutputs | None = None
) -> list[CurvePoint]:
    """Held-out loss and accuracy at every r in ``rs`` (one forward pass to max(rs)).

    Example:
        >>> cfg = RecurrentLMConfig(n_embd=32, mlp=64, seq_len=32, train_steps=5, eval_sequences=4)
        >>> [p.r for p in curve(train(cfg), [1, 2])]  # doctest: +SKIP
        [1, 2]
    """
    if not rs or min(rs) < 1:
        raise GemstonesInputError(f"r values {list(rs)} must be >= 1 (e.g. 1,2,4,8)")
    rs = sorted(set(int(r) for r in rs))
    if outputs is None or outputs.step_logits.shape[0] < rs[-1]:
        outputs = step_outputs(model, rs[-1])
    points = []
    for r in rs:
        loss, acc = _loss_and_accuracy(outputs.step_logits[r - 1], outputs.targets)
        points.append(CurvePoint(r, loss, loss / math.log(2), acc, int(outputs.targets.size)))
    return points


def exit_tradeoff(
    model: TrainedLM,
    settings: Sequence[tuple[str, float]],
    max_steps: int,
    outputs: StepOutputs | None = None,
) -> list[exits.StepAccount]:
    """Mean steps per token and held-out loss/accuracy under exit criteria.

    Every position exits at the first recurrence where its criterion fires (at most ``max_steps``)
    and is scored on that recurrence's prediction, from the outputs of one full-depth run; see
    :func:`gemstones.models.huginn_exits.exit_steps` for what this leaves out and
    :func:`gemstones.models.huginn.adaptive_forward` for the exact token-by-token decode.

    Args:
        model: the trained model.
        settings: (criterion, threshold) pairs.
        max_steps: the recurrence cap.
        outputs: precomputed :func:`step_outputs` (to at least ``max_steps``).
    """
    if outputs is None or outputs.step_logits.shape[0] < max_steps:
        outputs = step_outputs(model, max_steps)
    results = []
    for name, threshold in settings:
        steps, chosen = exits.exit_steps(
            name,
            threshold,
            outputs.step_logits[:max_steps],
            outputs.step_latents[:max_steps],
            outputs.init_state,
        )
        results.append(exits.account(name, threshold, steps, chosen, outputs.targets, max_steps))
    return results


def adaptive_tradeoff(
    model: TrainedLM,
    settings: Sequence[tuple[str, float]],
    max_steps: int,
    sequences: int = 8,
    cache_lookup: str = "latest",
) -> list[exits.StepAccount]:
    """As :func:`exit_tradeoff`, with the exact token-by-token decode (per-token KV cache slots)
    on the first ``sequences`` held-out windows; ``cache_lookup`` as in
    :func:`gemstones.models.huginn.adaptive_forward`."""
    hc = model.huginn_config
    windows = eval_windows(model.config)[:sequences]
    ids, targets = windows[:, :-1], windows[:, 1:]
    states = huginn.initial_state(hc, (*ids.shape, hc.n_embd), 20_000 + model.config.seed)
    results = []
    for name, threshold in settings:
        out = huginn.adaptive_forward(
            model.params,
            hc,
            ids,
            criterion=name,
            threshold=threshold,
            max_steps=max_steps,
            init_state=states,
            cache_lookup=cache_lookup,
        )
        results.append(exits.account(name, threshold, out.steps, out.logits, targets, max_steps))
    return results


# ----------------------------------------------------------------------------------------------
# Result files.

CURVE_FILE = "curve.csv"
EXIT_FILE = "exits.csv"
RUN_FILE = "run.json"
MODEL_DIR = "model"
TASK = "stdlib_bytes"


def curve_frame(model: TrainedLM, points: Sequence[CurvePoint]) -> pl.DataFrame:
    """The curve as tidy rows (``gemstones.ttc.ingest`` columns but source): next-byte ``acc``
    (binomial stderr) and ``bits_per_byte`` (stderr null) per r."""
    arch = huginn.recurrent_architecture(model.huginn_config)
    rows = []
    for p in points:
        common = {
            "model": model.config.model_name,
            "checkpoint": model.config.checkpoint,
            "task": TASK,
            "filter": "none",
            "n_shot": 0,
            "chat_template": None,
            "r": p.r,
            "n": p.n,
            "flops_per_token": float(forward_flops_per_token(arch, p.r)),
        }
        stderr = math.sqrt(p.accuracy * (1 - p.accuracy) / (p.n - 1)) if p.n > 1 else None
        rows.append({**common, "metric": "acc", "value": p.accuracy, "stderr": stderr})
        rows.append({**common, "metric": "bits_per_byte", "value": p.bits_per_byte, "stderr": None})
    columns = ["model", "checkpoint", "task", "metric", "filter", "n_shot", "chat_template", "r"]
    columns += ["value", "stderr", "n", "flops_per_token"]
    return pl.DataFrame(rows).select(columns)


TOKENIZER_FILE = "tokenizer.json"


def byte_symbols() -> list[str]:
    """The printable stand-in of each byte used by byte-level BPE tokenizers (GPT-2's table:
    printable Latin-1 bytes stand for themselves, the others map to 256 + i)."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    symbols, extra = {}, 0
    for b in range(256):
        if b in keep:
            symbols[b] = chr(b)
        else:
            symbols[b] = chr(256 + extra)
            extra += 1
    return [symbols[b] for b in range(256)]


def byte_tokenizer() -> Any:
    """A ``tokenizers`` tokenizer whose ids are the UTF-8 bytes of the text (id = byte value), the
    vocabulary of these byte-level models, so the evaluation engine can score them.

    Example:
        >>> byte_tokenizer().encode("hé").ids
        [104, 195, 169]
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {symbol: b for b, symbol in enumerate(byte_symbols())}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def write_byte_tokenizer(folder: Path) -> Path:
    """Write :func:`byte_tokenizer` as ``folder/tokenizer.json`` (atomically)."""
    from registry.atomic import write_text_atomic

    path = Path(folder) / TOKENIZER_FILE
    write_text_atomic(byte_tokenizer().to_str(pretty=True), path)
    return path


def cloze_tasks(
    config: RecurrentLMConfig, n: int, *, context: int = 48, span: int = 8, choices: int = 4
) -> list[dict[str, Any]]:
    """Multiple-choice items from the held-out bytes: which ``span``-byte continuation follows a
    ``context``-byte stretch of source code? The distractors are spans from elsewhere in the held-
    out text. Items start where a space ends the context (so lm-eval's target delimiter, one space,
    is the text's own) and use printable ASCII lines only. Deterministic in ``config.seed``.

    Returns:
        Task rows (``context``, ``choices``, ``answer``) for :func:`gemstones.evaluate.inputs.read_tasks`.
    """
    if not 1 <= n <= 100_000 or choices < 2:
        raise GemstonesInputError(f"n={n} must be in 1..100000 and choices={choices} >= 2")
    val = corpus_mod.load_stdlib_corpus(config.corpus_bytes).val
    printable = (val >= 32) & (val < 127)
    spans = []
    for start in np.flatnonzero(val[context : -span - 1] == ord(" ")) + context:
        if printable[start - context : start + span + 1].all() and val[start + 1] != ord(" "):
            spans.append(int(start))
    if len(spans) < n + choices:
        raise GemstonesInputError(
            f"the held-out text has {len(spans)} usable positions; ask for fewer than {n} items"
        )
    rng = np.random.default_rng(30_000 + config.seed)
    picked = rng.choice(len(spans), size=n, replace=False)
    text = val.tobytes().decode("latin-1")
    rows = []
    for index in picked:
        pos = spans[int(index)]
        truth = text[pos + 1 : pos + 1 + span]
        options = [truth]
        while len(options) < choices:
            other = spans[int(rng.integers(len(spans)))]
            candidate = text[other + 1 : other + 1 + span]
            if candidate not in options:
                options.append(candidate)
        order = rng.permutation(choices)
        rows.append(
            {
                "context": text[pos - context : pos],
                "choices": [options[i] for i in order],
                "answer": int(np.flatnonzero(order == 0)[0]),
            }
        )
    return rows


def save(model: TrainedLM, out: Path) -> Path:
    """Save the model as a Huginn checkpoint under ``out/model`` and the run record as
    ``out/run.json``."""
    from registry.atomic import write_json_atomic

    folder = huginn.save_huginn(out / MODEL_DIR, model.huginn_config, model.params)
    write_byte_tokenizer(folder)
    record = {
        "config": asdict(model.config),
        "final_loss": model.final_loss,
        "train_seconds": model.train_seconds,
        "mean_train_r": model.mean_train_r,
        "parameters": model.parameter_count,
        "corpus": corpus_mod.load_stdlib_corpus(model.config.corpus_bytes).source,
    }
    write_json_atomic(record, out / RUN_FILE)
    return folder


def load(out: Path, expected: RecurrentLMConfig | None = None) -> TrainedLM | None:
    """Load a saved run from ``out``; None when there is none.

    Raises:
        GemstonesInputError: the saved run is unreadable or has other settings than ``expected``.
    """
    if not (out / RUN_FILE).is_file():
        return None
    try:
        record = json.loads((out / RUN_FILE).read_text())
        config = RecurrentLMConfig(**record["config"])
    except (OSError, ValueError, KeyError, TypeError) as bad:
        raise GemstonesInputError(f"{out}: saved run is unreadable ({bad})") from None
    if expected is not None and config != expected:
        theirs, ours = asdict(config), asdict(expected)
        diff = {k: (theirs[k], ours[k]) for k in ours if theirs[k] != ours[k]}
        raise GemstonesInputError(
            f"{out} holds a run with other settings (saved, requested): {diff}; use another --out"
        )
    loaded = huginn.load_huginn(out / MODEL_DIR)
    return TrainedLM(
        config,
        loaded.params,
        float(record.get("final_loss", math.nan)),
        float(record.get("train_seconds", math.nan)),
        float(record.get("mean_train_r", math.nan)),
    )


@dataclass(frozen=True)
class LMRun:
    """The outcome of :func:`run`."""

    model: TrainedLM
    points: tuple[CurvePoint, ...]
    exits: tuple[exits.StepAccount, ...]
    files: tuple[Path, ...]
    loaded: bool


DEFAULT_EXITS: tuple[tuple[str, float], ...] = (
    ("kl", 1e-3),
    ("kl", 1e-2),
    ("entropy-diff", 1e-3),
    ("latent-diff", 0.03),
    ("argmax-stability", 5),
)


def run(
    config: RecurrentLMConfig,
    rs: Sequence[int],
    out: Path,
    exit_settings: Sequence[tuple[str, float]] = DEFAULT_EXITS,
    progress: Callable[[int, float], None] | None = None,
) -> LMRun:
    """Train (or load the run saved in ``out``), evaluate at every r and under exit criteria (cap
    max(rs)), and write ``curve.csv``, ``exits.csv``, ``run.json`` and the model."""
    from registry.atomic import write_text_atomic

    if not rs:
        raise GemstonesInputError("no r values to evaluate; pass e.g. 1,2,4,8,16")
    model = load(out, expected=config)
    loaded = model is not None
    if model is None:
        model = train(config, progress)
        save(model, out)
    max_r = max(rs)
    outputs = step_outputs(model, max_r)
    points = curve(model, rs, outputs)
    accounts = exit_tradeoff(model, exit_settings, max_r, outputs)
    write_text_atomic(curve_frame(model, points).write_csv(), out / CURVE_FILE)
    write_text_atomic(pl.DataFrame([asdict(a) for a in accounts]).write_csv(), out / EXIT_FILE)
    files = (out / CURVE_FILE, out / EXIT_FILE, out / RUN_FILE, out / MODEL_DIR)
    return LMRun(model, tuple(points), tuple(accounts), files, loaded)
