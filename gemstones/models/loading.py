"""Load a checkpoint folder (``config.json``, safetensors, ``tokenizer.json``) into a JAX model.

Architectures are registered in :data:`ARCHITECTURES`, keyed by the ``model_type`` of ``config.json``.
A family says how to parse its config, read its weights and run its forward pass; the loader and the
metrics know nothing else about it. Two families are registered: ``gemma`` (the suite) and the
recurrent-depth ``huginn_raven``, whose number of recurrences r, initial-state seed and exit rule
are part of its config: :meth:`LoadedModel.with_steps` sets them, and
:meth:`LoadedModel.token_logprobs_and_steps` also returns the recurrences each token used. A new
family registers itself the same way::

    ARCHITECTURES.register("my_type", ModelFamily(name="my_type", ...))
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import tokenizers

from fitting.named_registry import Registry
from gemstones.errors import GemstonesInputError
from gemstones.models import gemma, huginn
from gemstones.models.errors import ModelLoadError
from gemstones.models.weights import WeightReader

DTYPES: dict[str, Any] = {
    "float32": jnp.float32,
    "fp32": jnp.float32,
    "bfloat16": jnp.bfloat16,
    "bf16": jnp.bfloat16,
}


@dataclass(frozen=True)
class ModelFamily:
    """One architecture: how to read its config and weights and run it.

    Attributes:
        name: the ``model_type`` it serves.
        parse_config: ``config.json`` mapping -> a frozen, hashable config with ``vocab_size``.
        load_params: ``(config, WeightReader, dtype) -> params`` pytree of JAX arrays.
        forward: ``(params, input_ids, attention_mask, config) -> logits (batch, seq, vocab)``;
            pure and jittable, ``config`` static.
        hidden_states: optional ``forward`` without the output layer, ``(batch, seq, hidden)``;
            with ``output_weight`` (params -> ``(vocab, hidden)``) it lets scoring project onto the
            vocabulary a slice of positions at a time instead of holding all the logits.
        forward_with_steps: optional ``forward`` that also returns the computation each position
            used, ``(logits, steps (batch, seq))``: recurrences per token for a recurrent-depth
            family whose config carries ``num_steps``.
    """

    name: str
    parse_config: Callable[[Mapping[str, Any]], Any]
    load_params: Callable[[Any, WeightReader, Any], Any]
    forward: Callable[[Any, jax.Array, jax.Array | None, Any], jax.Array]
    hidden_states: Callable[[Any, jax.Array, jax.Array | None, Any], jax.Array] | None = None
    output_weight: Callable[[Any], jax.Array] | None = None
    forward_with_steps: (
        Callable[[Any, jax.Array, jax.Array | None, Any], tuple[jax.Array, jax.Array]] | None
    ) = None


ARCHITECTURES: Registry[ModelFamily] = Registry(
    "architecture (config.json model_type)", ModelLoadError
)
ARCHITECTURES.register(
    "gemma",
    ModelFamily(
        name="gemma",
        parse_config=gemma.GemmaConfig.from_dict,
        load_params=gemma.load_params,
        forward=gemma.forward,
        hidden_states=gemma.hidden_states,
        output_weight=gemma.output_weight,
    ),
)

ARCHITECTURES.register(
    huginn.MODEL_TYPE,
    ModelFamily(
        name=huginn.MODEL_TYPE,
        parse_config=huginn.HuginnEvalConfig.from_dict,
        load_params=huginn.eval_load_params,
        forward=huginn.eval_forward,
        forward_with_steps=huginn.eval_forward_with_steps,
    ),
)


# Positions projected onto the vocabulary at once when scoring: 256 x 50304 float32 logits per row.
SCORE_CHUNK = 256


def _chunked_logprobs(
    hidden: jax.Array, weight: jax.Array, targets: jax.Array, chunk: int
) -> jax.Array:
    """log_softmax(hidden @ weight.T)[targets], a slice of ``chunk`` positions at a time."""
    b, s, d = hidden.shape
    chunk = min(chunk, s)
    pad = -s % chunk
    hidden = jnp.pad(hidden, ((0, 0), (0, pad), (0, 0)))
    targets = jnp.pad(targets, ((0, 0), (0, pad)))
    n = (s + pad) // chunk
    hs = hidden.reshape(b, n, chunk, d).transpose(1, 0, 2, 3)
    ts = targets.reshape(b, n, chunk).transpose(1, 0, 2)

    def one(args: tuple[jax.Array, jax.Array]) -> jax.Array:
        h, t = args
        logits = jnp.einsum("bcd,vd->bcv", h, weight).astype(jnp.float32)
        picked = jnp.take_along_axis(logits, t[..., None], axis=-1)[..., 0]
        return picked - jax.nn.logsumexp(logits, axis=-1)

    return jax.lax.map(one, (hs, ts)).transpose(1, 0, 2).reshape(b, s + pad)[:, :s]


def _token_logprobs(
    family: ModelFamily,
    config: Any,
    params: Any,
    input_ids: jax.Array,
    targets: jax.Array,
    attention_mask: jax.Array | None,
) -> jax.Array:
    if family.hidden_states is not None and family.output_weight is not None:
        hidden = family.hidden_states(params, input_ids, attention_mask, config)
        return _chunked_logprobs(hidden, family.output_weight(params), targets, SCORE_CHUNK)
    logits = family.forward(params, input_ids, attention_mask, config).astype(jnp.float32)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]


def _token_logprobs_and_steps(
    family: ModelFamily,
    config: Any,
    params: Any,
    input_ids: jax.Array,
    targets: jax.Array,
    attention_mask: jax.Array | None,
) -> tuple[jax.Array, jax.Array]:
    assert family.forward_with_steps is not None
    logits, steps = family.forward_with_steps(params, input_ids, attention_mask, config)
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0], steps


@functools.lru_cache(maxsize=32)
def _compiled(
    family: ModelFamily, config: Any
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any] | None]:
    """Jitted logits, token log-probabilities and (for a family that counts them) log-probabilities
    with steps, shared by every checkpoint of one shape (a sweep over the revisions of a run
    compiles once)."""

    def logits(params: Any, ids: jax.Array, mask: jax.Array | None) -> jax.Array:
        return family.forward(params, ids, mask, config)

    with_steps = (
        jax.jit(functools.partial(_token_logprobs_and_steps, family, config))
        if family.forward_with_steps is not None
        else None
    )
    return (
        jax.jit(logits),
        jax.jit(functools.partial(_token_logprobs, family, config)),
        with_steps,
    )


@dataclass(frozen=True)
class LoadedModel:
    """A checkpoint in memory, ready to score tokens.

    Attributes:
        config: the parsed, frozen configuration (e.g. :class:`~gemstones.models.gemma.GemmaConfig`).
        params: the weights, a pytree of JAX arrays in ``dtype``.
        family: the registered architecture that runs it.
        dtype: ``"float32"`` or ``"bfloat16"``.
        path: the folder it was read from.

    Example:
        >>> model = load_model("tests/gemstones/data_models/gemma_gqa_untied")
        >>> model.logits(np.zeros((1, 4), dtype=np.int32)).shape
        (1, 4, 320)
    """

    config: Any
    params: Any
    family: ModelFamily
    dtype: str = "float32"
    path: Path | None = None
    _logits: Callable[..., jax.Array] = field(init=False, repr=False, compare=False)
    _logprobs: Callable[..., jax.Array] = field(init=False, repr=False, compare=False)
    _with_steps: Callable[..., Any] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        logits, logprobs, with_steps = _compiled(self.family, self.config)
        object.__setattr__(self, "_logits", logits)
        object.__setattr__(self, "_logprobs", logprobs)
        object.__setattr__(self, "_with_steps", with_steps)

    @property
    def num_steps(self) -> int | None:
        """Recurrences per token of a recurrent-depth model (the cap under an exit rule); None for
        a fixed-depth one."""
        steps = getattr(self.config, "num_steps", None)
        return None if steps is None else int(steps)

    def with_steps(
        self,
        num_steps: int,
        *,
        seed: int | None = None,
        exit: tuple[str, float] | None = None,
    ) -> LoadedModel:
        """The same weights evaluated at ``num_steps`` recurrences (a recurrent-depth model only).

        Args:
            num_steps: r, 1..64 (with ``exit``, the cap).
            seed: seeds the initial state (default: keep the current one, 0 after loading).
            exit: ``(criterion, threshold)`` from :mod:`gemstones.models.huginn_exits`, e.g.
                ``("kl", 1e-3)``; None runs every position ``num_steps`` times.

        Raises:
            GemstonesInputError: a fixed-depth model, r out of range, an unknown criterion.

        Example:
            >>> model = load_model("tests/gemstones/data_huginn/tiny_a")
            >>> model.with_steps(8, exit=("kl", 1e-3)).config.exit_criterion
            'kl'
        """
        if self.num_steps is None:
            raise GemstonesInputError(
                f"{self.family.name} models have no recurrence count; with_steps needs a "
                f"recurrent-depth model ({huginn.MODEL_TYPE})"
            )
        changes: dict[str, Any] = {"num_steps": num_steps}
        if seed is not None:
            changes["seed"] = seed
        if exit is not None:
            changes["exit_criterion"], changes["exit_threshold"] = exit[0], float(exit[1])
        else:
            changes["exit_criterion"], changes["exit_threshold"] = None, 0.0
        config = dataclasses.replace(self.config, **changes)
        return dataclasses.replace(self, config=config)

    @property
    def vocab_size(self) -> int:
        """Rows of the output layer."""
        return int(self.config.vocab_size)

    @property
    def num_parameters(self) -> int:
        """Stored parameters (a tied head counted once)."""
        return int(sum(np.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(self.params)))

    def _check_ids(self, input_ids: np.ndarray) -> jax.Array:
        ids = np.asarray(input_ids)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"input_ids must be a 2-D integer array, got {ids.dtype} {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"token id {int(ids.max()) if ids.max() >= self.vocab_size else int(ids.min())} "
                f"is outside the model's vocabulary [0, {self.vocab_size})"
            )
        return jnp.asarray(ids, dtype=jnp.int32)

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray | None = None) -> jax.Array:
        """Next-token logits, ``(batch, seq, vocab)`` in the model's dtype (jitted per shape).

        Args:
            input_ids: ``(batch, seq)`` token ids.
            attention_mask: ``(batch, seq)`` 1 = token, 0 = right padding; None for all ones.
        """
        mask = None if attention_mask is None else jnp.asarray(attention_mask, dtype=jnp.int32)
        return self._logits(self.params, self._check_ids(input_ids), mask)

    def token_logprobs(
        self,
        input_ids: np.ndarray,
        targets: np.ndarray,
        attention_mask: np.ndarray | None = None,
    ) -> jax.Array:
        """``log p(targets[b, t] | input_ids[b, :t+1])`` in float32, ``(batch, seq)``.

        Only these numbers leave the device, not the logits.
        """
        mask = None if attention_mask is None else jnp.asarray(attention_mask, dtype=jnp.int32)
        return self._logprobs(
            self.params, self._check_ids(input_ids), self._check_ids(targets), mask
        )

    def token_logprobs_and_steps(
        self,
        input_ids: np.ndarray,
        targets: np.ndarray,
        attention_mask: np.ndarray | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        """As :meth:`token_logprobs`, with the recurrences each position used, ``(batch, seq)``.

        Raises:
            GemstonesInputError: the family does not count steps (a fixed-depth model).
        """
        if self._with_steps is None:
            raise GemstonesInputError(f"{self.family.name} models do not count recurrences")
        mask = None if attention_mask is None else jnp.asarray(attention_mask, dtype=jnp.int32)
        return self._with_steps(
            self.params, self._check_ids(input_ids), self._check_ids(targets), mask
        )


def read_config(folder: Path) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint folder as a dict.

    Raises:
        ModelLoadError: no folder, no ``config.json``, or not a JSON object.
    """
    path = Path(folder) / "config.json"
    if not Path(folder).is_dir():
        raise ModelLoadError(f"model folder {folder} does not exist")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"no config.json in {folder}") from None
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return raw


def load_model(path: str | Path, *, dtype: str = "float32") -> LoadedModel:
    """Load a local checkpoint folder into JAX.

    Args:
        path: a folder with ``config.json`` and ``model.safetensors`` (or a sharded
            ``model.safetensors.index.json``), e.g. a ``snapshot_download`` of a suite revision.
        dtype: ``"float32"`` or ``"bfloat16"``; stored weights are cast to it.

    Returns:
        A :class:`LoadedModel`.

    Raises:
        ModelLoadError: unsupported ``model_type`` or config field (the message names it), missing
            shard, corrupt safetensors header, a tensor of the wrong shape, or an unknown dtype.

    Example:
        >>> model = load_model("tests/gemstones/data_models/gemma_gqa_untied", dtype="bfloat16")
        >>> model.config.num_key_value_heads, model.num_parameters
        (1, 951552)
    """
    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; choose one of: float32, bfloat16")
    folder = Path(path)
    raw = read_config(folder)
    if "model_type" not in raw:
        raise ModelLoadError(f"config.json in {folder} has no 'model_type'")
    family = ARCHITECTURES.get(str(raw["model_type"]))
    config = family.parse_config(raw)
    params = family.load_params(config, WeightReader(folder), DTYPES[dtype])
    canonical = "bfloat16" if DTYPES[dtype] == jnp.bfloat16 else "float32"
    return LoadedModel(config=config, params=params, family=family, dtype=canonical, path=folder)


def load_tokenizer(path: str | Path, *, vocab_size: int | None = None) -> tokenizers.Tokenizer:
    """Read ``tokenizer.json`` (a file, or the folder holding it) with the ``tokenizers`` library.

    Args:
        path: ``tokenizer.json`` or its folder.
        vocab_size: the model's vocabulary; when given, a tokenizer that can emit an id at or
            above it is refused.

    Raises:
        ModelLoadError: no or unreadable ``tokenizer.json``, or a vocabulary that does not fit.

    Example:
        >>> tok = load_tokenizer("tests/gemstones/data_models/gemma_gqa_untied", vocab_size=320)
        >>> tok.get_vocab_size()
        300
    """
    file = Path(path)
    if file.is_dir():
        file = file / "tokenizer.json"
    if not file.is_file():
        raise ModelLoadError(f"no tokenizer.json at {file}")
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(file))
    except Exception as err:  # the Rust bindings raise a bare Exception
        raise ModelLoadError(f"{file}: not a readable tokenizer.json: {err}") from None
    if vocab_size is not None:
        check_tokenizer_fits(tokenizer, vocab_size, where=str(file))
    return tokenizer


def check_tokenizer_fits(
    tokenizer: tokenizers.Tokenizer, vocab_size: int, *, where: str = ""
) -> None:
    """Refuse a tokenizer whose largest id (added tokens included) is not below ``vocab_size``.

    Raises:
        ModelLoadError: naming both sizes.
    """
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    largest = max(vocab.values(), default=-1)
    if largest >= vocab_size:
        source = f"{where}: " if where else ""
        raise ModelLoadError(
            f"{source}tokenizer vocabulary ({len(vocab)} entries, largest id {largest}) does not fit "
            f"the model's vocab_size {vocab_size}"
        )
