"""The Huginn-0125 recurrent-depth architecture in JAX (arXiv 2502.05171).

The model (published as ``tomg-group-umd/huginn-0125``) has three parts:

- a *prelude* of sandwich blocks embeds the tokens: ``e = prelude(wte[ids] * sqrt(n_embd))``;
- a *core* of sandwich blocks is iterated ``num_steps`` (r) times on a latent state ``s``; every
  iteration first mixes the state with the prelude output by a linear adapter,
  ``s <- core(adapter([s, e]))``; the state starts random (a truncated normal, "like-init");
- a *coda* of sandwich blocks decodes ``ln_f(s)``, followed by ``ln_f`` again and the LM head.

A sandwich block is ``x <- norm_2(x + attn(norm_1(x)))``, ``x <- norm_4(x + mlp(norm_3(x)))`` with
RMSNorm, causal self-attention with a bias on queries and keys and rotary embeddings over adjacent
pairs of each head's dimensions, and a gated SiLU MLP (one ``fc`` matrix whose two halves are the
SiLU branch and the gate). These facts follow the paper and the reference modeling code
(``raven_modeling_minimal.py``, Apache-2.0, github seal-rg/recurrent-pretraining); no code of it is
used here. The tensor names are the reference's, so its safetensors checkpoints load directly.

The random initial state of the reference is explicit here: pass ``init_state`` or a ``seed``.

Entry points: :func:`load_huginn` (config.json + safetensors shards), :func:`huginn_logits` (a
full forward at a given r, optionally with every iteration's latent and next-token logits),
:func:`init_cache` / :func:`huginn_cached` (a KV cache with one slot per block and recurrence, for
incremental decoding) and :func:`adaptive_forward` (token-by-token iteration with a per-token exit
criterion from :mod:`gemstones.models.huginn_exits`). The building blocks (:func:`embed`,
:func:`core_step`, :func:`decode`) are public so that training code can compose them (truncated
backprop through the recurrence, see :mod:`gemstones.runs.recurrent_lm`).

JAX is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from gemstones.errors import GemstonesInputError

if TYPE_CHECKING:
    import jax

MODEL_TYPE = "huginn_raven"
"""The ``model_type`` of Huginn checkpoints' config.json (the key for an architecture registry)."""

_SUPPORTED = {
    "block_class_name": ("SandwichBlock",),
    "norm_class_name": ("RMSNorm_llama",),
    "mlp_class_name": ("GatedMLP",),
    "nonlin_name": ("SiLU",),
    "injection_type": ("linear",),
    "state_init": ("like-init",),
}


@dataclass(frozen=True)
class HuginnConfig:
    """The architecture fields of a Huginn ``config.json``.

    Attributes:
        n_embd: width of the residual stream.
        n_heads: attention heads (as many key/value heads).
        n_layers_in_prelude: sandwich blocks before the recurrence.
        n_layers_in_recurrent_block: sandwich blocks in the iterated core.
        n_layers_in_coda: sandwich blocks after the recurrence.
        intermediate_size: width of each half of the gated MLP.
        vocab_size: rows of the embedding.
        padded_vocab_size: rows of the embedding and the head (the reference sets it to vocab_size).
        norm_eps: RMSNorm epsilon.
        qk_bias: whether queries and keys carry a learned bias.
        bias: whether the adapter has a bias.
        tie_embeddings: whether the LM head is the embedding.
        rope_base: rotary embedding base (theta).
        block_size: longest sequence the rotary table covers.
        mean_recurrence: mean r in training (the default r at inference).
        mean_backprop_depth: iterations backpropagated through in training (mean).
        injection_type: how the prelude output enters the core (only ``linear``).
        state_init: how the state starts (only ``like-init``: a truncated normal).
    """

    n_embd: int
    n_heads: int
    n_layers_in_prelude: int
    n_layers_in_recurrent_block: int
    n_layers_in_coda: int
    intermediate_size: int
    vocab_size: int
    padded_vocab_size: int
    norm_eps: float = 1e-6
    qk_bias: bool = True
    bias: bool = False
    tie_embeddings: bool = True
    rope_base: float = 50_000.0
    block_size: int = 4096
    mean_recurrence: int = 32
    mean_backprop_depth: int = 8
    injection_type: str = "linear"
    state_init: str = "like-init"

    def __post_init__(self) -> None:
        for name in (
            "n_embd",
            "n_heads",
            "n_layers_in_recurrent_block",
            "intermediate_size",
            "vocab_size",
            "padded_vocab_size",
            "block_size",
            "mean_recurrence",
        ):
            if getattr(self, name) < 1:
                raise GemstonesInputError(
                    f"huginn config: {name}={getattr(self, name)} must be >= 1"
                )
        for name in ("n_layers_in_prelude", "n_layers_in_coda", "mean_backprop_depth"):
            if getattr(self, name) < 0:
                raise GemstonesInputError(
                    f"huginn config: {name}={getattr(self, name)} must be >= 0"
                )
        if self.n_embd % self.n_heads or (self.n_embd // self.n_heads) % 2:
            raise GemstonesInputError(
                f"huginn config: n_embd={self.n_embd} must split into n_heads={self.n_heads} heads "
                "of an even size"
            )
        if self.padded_vocab_size < self.vocab_size:
            raise GemstonesInputError(
                f"huginn config: padded_vocab_size={self.padded_vocab_size} < "
                f"vocab_size={self.vocab_size}"
            )
        for name, valid in _SUPPORTED.items():
            if name in ("injection_type", "state_init") and getattr(self, name) not in valid:
                raise GemstonesInputError(
                    f"huginn config: {name}={getattr(self, name)!r} is not supported; "
                    f"valid: {', '.join(valid)}"
                )

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_heads

    @property
    def emb_scale(self) -> float:
        """The factor on the embedding (and the initial state): sqrt(n_embd)."""
        return math.sqrt(self.n_embd)

    @property
    def init_std(self) -> float:
        """The reference's base init std, sqrt(2 / (5 n_embd)), also the initial state's std."""
        return math.sqrt(2 / (5 * self.n_embd))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> HuginnConfig:
        """Read the fields of a Huginn ``config.json`` (extra keys are ignored).

        Raises:
            GemstonesInputError: a field is missing, of the wrong type, or names an unsupported
                block, norm, MLP, nonlinearity, injection or state initialisation.
        """
        raw = dict(raw)
        if "n_heads" not in raw and "num_attention_heads" in raw:
            raw["n_heads"] = raw["num_attention_heads"]
        if "padded_vocab_size" not in raw and "vocab_size" in raw:
            raw["padded_vocab_size"] = raw["vocab_size"]
        heads = raw.get("num_key_value_heads", raw.get("n_heads"))
        if heads != raw.get("n_heads"):
            raise GemstonesInputError(
                f"huginn config: num_key_value_heads={heads} differs from n_heads="
                f"{raw.get('n_heads')}; only full multi-head attention is supported"
            )
        for name, valid in _SUPPORTED.items():
            if name in raw and raw[name] not in valid:
                raise GemstonesInputError(
                    f"huginn config: {name}={raw[name]!r} is not supported; valid: {', '.join(valid)}"
                )
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in raw:
                kwargs[f.name] = raw[f.name]
        missing = [
            f.name for f in fields(cls) if f.name not in kwargs and f.default is f.default_factory
        ]
        if missing:
            raise GemstonesInputError(f"huginn config: missing field(s) {', '.join(missing)}")
        try:
            ints = {
                "n_embd",
                "n_heads",
                "n_layers_in_prelude",
                "n_layers_in_recurrent_block",
                "n_layers_in_coda",
                "intermediate_size",
                "vocab_size",
                "padded_vocab_size",
                "block_size",
                "mean_recurrence",
                "mean_backprop_depth",
            }
            for name in ints & kwargs.keys():
                if isinstance(kwargs[name], bool) or int(kwargs[name]) != kwargs[name]:
                    raise TypeError(name)
                kwargs[name] = int(kwargs[name])
            for name in ("norm_eps", "rope_base"):
                if name in kwargs:
                    kwargs[name] = float(kwargs[name])
            for name in ("qk_bias", "bias", "tie_embeddings"):
                if name in kwargs and not isinstance(kwargs[name], bool):
                    raise TypeError(name)
        except (TypeError, ValueError) as bad:
            raise GemstonesInputError(
                f"huginn config: field {bad} has the wrong type ({kwargs.get(str(bad))!r})"
            ) from None
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The config as ``config.json`` fields (with the reference's fixed class names)."""
        out: dict[str, Any] = {"model_type": MODEL_TYPE, "architectures": ["RavenForCausalLM"]}
        out.update({f.name: getattr(self, f.name) for f in fields(self)})
        out.update({name: valid[0] for name, valid in _SUPPORTED.items()})
        out["num_attention_heads"] = out["num_key_value_heads"] = self.n_heads
        out["n_layers"] = (
            self.n_layers_in_prelude + self.n_layers_in_recurrent_block + self.n_layers_in_coda
        )
        return out


# ----------------------------------------------------------------------------------------------
# Parameters: names, shapes, loading.

BLOCK_TENSORS = (
    "norm_1.weight",
    "attn.Wqkv.weight",
    "attn.qk_bias",
    "attn.proj.weight",
    "norm_2.weight",
    "mlp.fc.weight",
    "mlp.proj.weight",
    "norm_3.weight",
    "norm_4.weight",
)
"""Tensor names inside one sandwich block (reference layout: Linear weights are (out, in))."""

_PARTS = {"prelude": "n_layers_in_prelude", "core_block": "n_layers_in_recurrent_block"}
_PARTS["coda"] = "n_layers_in_coda"


def block_shapes(config: HuginnConfig) -> dict[str, tuple[int, ...]]:
    """Shape of each tensor of one sandwich block (``attn.qk_bias`` only when ``qk_bias``)."""
    e, h, d, i = config.n_embd, config.n_heads, config.head_dim, config.intermediate_size
    shapes = {
        "norm_1.weight": (e,),
        "attn.Wqkv.weight": (3 * e, e),
        "attn.qk_bias": (2, 1, h, d),
        "attn.proj.weight": (e, e),
        "norm_2.weight": (e,),
        "mlp.fc.weight": (2 * i, e),
        "mlp.proj.weight": (e, i),
        "norm_3.weight": (e,),
        "norm_4.weight": (e,),
    }
    if not config.qk_bias:
        del shapes["attn.qk_bias"]
    return shapes


def tensor_shapes(config: HuginnConfig) -> dict[str, tuple[int, ...]]:
    """Every checkpoint tensor's reference name and shape (no ``lm_head`` when tied).

    Example:
        >>> cfg = HuginnConfig(64, 4, 1, 2, 1, 128, 256, 256)
        >>> tensor_shapes(cfg)["transformer.adapter.weight"]
        (64, 128)
    """
    e, v = config.n_embd, config.padded_vocab_size
    out: dict[str, tuple[int, ...]] = {"transformer.wte.weight": (v, e)}
    for part, count in _PARTS.items():
        for layer in range(getattr(config, count)):
            for name, shape in block_shapes(config).items():
                out[f"transformer.{part}.{layer}.{name}"] = shape
    out["transformer.adapter.weight"] = (e, 2 * e)
    if config.bias:
        out["transformer.adapter.bias"] = (e,)
    out["transformer.ln_f.weight"] = (e,)
    if not config.tie_embeddings:
        out["lm_head.weight"] = (v, e)
    return out


def params_from_reader(config: HuginnConfig, get: Any, dtype: Any = "float32") -> dict[str, Any]:
    """Arrange reference-named tensors into the nested parameter tree of this module.

    The tree is ``{"wte", "lm_head" (absent when tied), "adapter", "adapter_bias" (when bias),
    "ln_f", "prelude": [block, ...], "core_block": [...], "coda": [...]}`` with each block a dict
    keyed by the names of :data:`BLOCK_TENSORS`. Extra tensors (``freqs_cis``, a tied
    ``lm_head.weight``) are ignored.

    Args:
        config: the architecture.
        get: ``(name, dtype, shape) -> array``, e.g. :meth:`gemstones.models.weights.WeightReader.get`
            (it raises on a missing tensor or another shape).
        dtype: the parameters' dtype.
    """
    expected = tensor_shapes(config)

    def take(name: str) -> Any:  # straight from the stored dtype (no float32 copy of bf16 weights)
        return get(name, dtype, expected[name])

    params: dict[str, Any] = {
        "wte": take("transformer.wte.weight"),
        "adapter": take("transformer.adapter.weight"),
        "ln_f": take("transformer.ln_f.weight"),
    }
    if config.bias:
        params["adapter_bias"] = take("transformer.adapter.bias")
    if not config.tie_embeddings:
        params["lm_head"] = take("lm_head.weight")
    for part, count in _PARTS.items():
        params[part] = [
            {name: take(f"transformer.{part}.{layer}.{name}") for name in block_shapes(config)}
            for layer in range(getattr(config, count))
        ]
    return params


def params_to_tensors(config: HuginnConfig, params: dict[str, Any]) -> dict[str, np.ndarray]:
    """The inverse of :func:`params_from_tensors`: flat reference-named float32 numpy arrays."""
    out = {
        "transformer.wte.weight": params["wte"],
        "transformer.adapter.weight": params["adapter"],
        "transformer.ln_f.weight": params["ln_f"],
    }
    if config.bias:
        out["transformer.adapter.bias"] = params["adapter_bias"]
    if not config.tie_embeddings:
        out["lm_head.weight"] = params["lm_head"]
    for part in _PARTS:
        for layer, block in enumerate(params[part]):
            for name, value in block.items():
                out[f"transformer.{part}.{layer}.{name}"] = value
    return {k: np.ascontiguousarray(np.asarray(v, dtype=np.float32)) for k, v in out.items()}


def read_config(path: Path) -> HuginnConfig:
    """Read ``config.json`` of a checkpoint folder into a :class:`HuginnConfig`."""
    file = path / "config.json"
    try:
        raw = json.loads(file.read_text())
    except (OSError, ValueError) as bad:
        raise GemstonesInputError(f"{file}: unreadable config ({bad})") from None
    if not isinstance(raw, dict):
        raise GemstonesInputError(f"{file}: config must be a JSON object")
    if raw.get("model_type", MODEL_TYPE) != MODEL_TYPE:
        raise GemstonesInputError(
            f"{file}: model_type {raw.get('model_type')!r} is not a Huginn model ({MODEL_TYPE!r})"
        )
    return HuginnConfig.from_dict(raw)


@dataclass(frozen=True)
class HuginnModel:
    """A loaded Huginn checkpoint: its config and parameter tree."""

    config: HuginnConfig
    params: dict[str, Any]
    path: Path | None = None


def load_huginn(path: str | Path, dtype: str = "float32") -> HuginnModel:
    """Load a Huginn checkpoint folder (``config.json`` + safetensors, single or sharded).

    Args:
        path: the folder.
        dtype: the parameters' dtype in JAX (``float32``, ``bfloat16``, ...).

    Returns:
        A :class:`HuginnModel`.

    Raises:
        GemstonesInputError: the folder, config or tensors are missing or inconsistent.

    Example:
        >>> model = load_huginn("tests/gemstones/data_huginn/tiny_a")  # doctest: +SKIP
        >>> out = huginn_logits(model.params, model.config, [[1, 2]], num_steps=4, seed=0)  # doctest: +SKIP
        >>> out.logits.shape  # doctest: +SKIP
        (1, 2, 256)
    """
    from gemstones.models.loading import DTYPES
    from gemstones.models.weights import WeightReader

    folder = Path(path)
    if not folder.is_dir():
        raise GemstonesInputError(f"{folder}: not a checkpoint folder")
    config = read_config(folder)
    params = params_from_reader(config, WeightReader(folder).get, DTYPES.get(dtype, dtype))
    return HuginnModel(config, params, folder)


def init_params(config: HuginnConfig, seed: int) -> dict[str, Any]:
    """Random parameters with the reference's scheme (truncated normals at 3 std, unit norms).

    Stds: ``sqrt(2 / (5 n_embd))`` for embedding, qkv, adapter, the gated MLP's first half and a
    separate head; that over ``sqrt(2 * effective depth)`` for the output projections and the
    MLP's gate half, where effective depth = prelude + coda + core * mean_recurrence. qk bias 0.
    """
    import jax
    import jax.numpy as jnp

    std = config.init_std
    depth = (
        config.n_layers_in_prelude
        + config.n_layers_in_coda
        + config.n_layers_in_recurrent_block * config.mean_recurrence
    )
    out_std = std / math.sqrt(2 * depth)
    shapes = tensor_shapes(config)
    keys = iter(jax.random.split(jax.random.PRNGKey(seed), len(shapes) + 1))

    def normal(shape: tuple[int, ...], s: float) -> Any:
        return jax.random.truncated_normal(next(keys), -3.0, 3.0, shape, jnp.float32) * s

    tensors: dict[str, Any] = {}
    for name, shape in shapes.items():
        if name.endswith(
            ("norm_1.weight", "norm_2.weight", "norm_3.weight", "norm_4.weight", "ln_f.weight")
        ):
            tensors[name] = jnp.ones(shape, jnp.float32)
        elif name.endswith(("qk_bias", "adapter.bias")):
            tensors[name] = jnp.zeros(shape, jnp.float32)
        elif name.endswith("mlp.fc.weight"):
            half = (shape[0] // 2, shape[1])
            tensors[name] = jnp.concatenate([normal(half, std), normal(half, out_std)])
        elif name.endswith(("attn.proj.weight", "mlp.proj.weight")):
            tensors[name] = normal(shape, out_std)
        else:
            tensors[name] = normal(shape, std)
    return params_from_reader(
        config, lambda name, dtype, shape: jnp.asarray(tensors[name], dtype=dtype)
    )


# ----------------------------------------------------------------------------------------------
# The forward pass.


def _rms_norm(x: jax.Array, weight: jax.Array, eps: float) -> Any:
    import jax.numpy as jnp

    x32 = x.astype(jnp.float32)
    normed = x32 * (1.0 / jnp.sqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + eps))
    return normed.astype(x.dtype) * weight


def rope_tables(config: HuginnConfig, positions: jax.Array) -> tuple[Any, Any]:
    """cos and sin of the rotary angles at ``positions`` (int array): shape (..., head_dim / 2)."""
    import jax.numpy as jnp

    d = config.head_dim
    inv = 1.0 / (config.rope_base ** (jnp.arange(0, d, 2, dtype=jnp.float32) / d))
    angles = jnp.asarray(positions, jnp.float32)[..., None] * inv
    return jnp.cos(angles), jnp.sin(angles)


def _rotate(x: jax.Array, cos: jax.Array, sin: jax.Array) -> Any:
    """Rotate adjacent pairs (x[2i], x[2i+1]) of the last axis; x: (B, S, H, D), cos: (S, D/2)."""
    import jax.numpy as jnp

    pairs = x.astype(jnp.float32).reshape(*x.shape[:-1], -1, 2)
    a, b = pairs[..., 0], pairs[..., 1]
    c, s = cos[:, None, :], sin[:, None, :]
    return jnp.stack([a * c - b * s, b * c + a * s], axis=-1).reshape(x.shape).astype(x.dtype)


class SlotCache(NamedTuple):
    """Keys and values of one attention slot (one block at one recurrence) for a whole batch.

    ``k`` and ``v``: (B, L, H, D); ``valid``: (B, L), which positions hold an entry.
    """

    k: jax.Array
    v: jax.Array
    valid: jax.Array


def _attention(
    p: dict[str, Any],
    x: jax.Array,
    config: HuginnConfig,
    cos: jax.Array,
    sin: jax.Array,
    slot: SlotCache | None,
    start: Any,
    active: Any,
) -> tuple[Any, SlotCache | None]:
    """Causal self-attention; with a slot cache, the new keys are written at ``start`` (rows where
    ``active``) and the queries attend to every valid cached position up to their own."""
    import jax
    import jax.numpy as jnp

    b, s, e = x.shape
    h, d = config.n_heads, config.head_dim
    qkv = x @ p["attn.Wqkv.weight"].T
    q, k, v = (t.reshape(b, s, h, d) for t in jnp.split(qkv, 3, axis=-1))
    if config.qk_bias:
        bias = p["attn.qk_bias"]
        q, k = q + bias[0], k + bias[1]
    q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
    if slot is None:
        keys, values = k, v
        mask = jnp.tril(jnp.ones((s, s), bool))[None, None]
    else:
        keep = active[:, None, None, None]
        old_k = jax.lax.dynamic_slice_in_dim(slot.k, start, s, axis=1)
        old_v = jax.lax.dynamic_slice_in_dim(slot.v, start, s, axis=1)
        old_valid = jax.lax.dynamic_slice_in_dim(slot.valid, start, s, axis=1)
        new_k = jnp.where(keep, k.astype(slot.k.dtype), old_k)
        new_v = jnp.where(keep, v.astype(slot.v.dtype), old_v)
        new_valid = jnp.where(active[:, None], True, old_valid)
        slot = SlotCache(
            jax.lax.dynamic_update_slice_in_dim(slot.k, new_k, start, axis=1),
            jax.lax.dynamic_update_slice_in_dim(slot.v, new_v, start, axis=1),
            jax.lax.dynamic_update_slice_in_dim(slot.valid, new_valid, start, axis=1),
        )
        keys, values = slot.k.astype(x.dtype), slot.v.astype(x.dtype)
        query_pos = start + jnp.arange(s)
        key_pos = jnp.arange(keys.shape[1])
        causal = key_pos[None, :] <= query_pos[:, None]
        # the query's own key is always visible, even for an inactive row (whose output is unused)
        own = key_pos[None, :] == query_pos[:, None]
        mask = (causal[None] & slot.valid[:, None, :]) | own[None]
        mask = mask[:, None]
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, keys).astype(jnp.float32) / math.sqrt(d)
    scores = jnp.where(mask, scores, -jnp.inf)
    weights = jax.nn.softmax(scores, axis=-1).astype(x.dtype)
    out = jnp.einsum("bhqk,bkhd->bqhd", weights, values).reshape(b, s, e)
    return out @ p["attn.proj.weight"].T, slot


def _block(
    p: dict[str, Any],
    x: jax.Array,
    config: HuginnConfig,
    cos: jax.Array,
    sin: jax.Array,
    slot: SlotCache | None = None,
    start: Any = 0,
    active: Any = None,
) -> tuple[Any, SlotCache | None]:
    """One sandwich block."""
    import jax
    import jax.numpy as jnp

    eps = config.norm_eps
    attn, slot = _attention(
        p, _rms_norm(x, p["norm_1.weight"], eps), config, cos, sin, slot, start, active
    )
    x = _rms_norm(attn + x, p["norm_2.weight"], eps)
    gate_in, up = jnp.split(
        _rms_norm(x, p["norm_3.weight"], eps) @ p["mlp.fc.weight"].T, 2, axis=-1
    )
    mlp = (jax.nn.silu(gate_in) * up) @ p["mlp.proj.weight"].T
    return _rms_norm(mlp + x, p["norm_4.weight"], eps), slot


def initial_state(
    config: HuginnConfig, shape: tuple[int, ...], seed: int, dtype: Any = None
) -> Any:
    """The reference's random initial state: a normal truncated at 3 std of std
    ``sqrt(2 / (5 n_embd))``, times ``sqrt(n_embd)``; ``shape`` is (B, S, n_embd)."""
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(seed)
    x = jax.random.truncated_normal(key, -3.0, 3.0, shape, jnp.float32)
    return (x * (config.init_std * config.emb_scale)).astype(dtype or jnp.float32)


def embed(
    params: dict[str, Any],
    config: HuginnConfig,
    input_ids: np.ndarray | jax.Array,
    positions: jax.Array,
) -> Any:
    """Scaled embedding and the prelude (no cache): (B, S) ids -> (B, S, n_embd)."""
    cos, sin = rope_tables(config, positions)
    x = _embed_tokens(params, config, input_ids)
    for block in params["prelude"]:
        x, _ = _block(block, x, config, cos, sin)
    return x


def _embed_tokens(
    params: dict[str, Any], config: HuginnConfig, input_ids: np.ndarray | jax.Array
) -> Any:
    import jax.numpy as jnp

    return jnp.take(params["wte"], jnp.asarray(input_ids), axis=0) * config.emb_scale


def core_step(
    params: dict[str, Any],
    config: HuginnConfig,
    state: jax.Array,
    embedded: jax.Array,
    positions: jax.Array,
) -> Any:
    """One recurrence (no cache): ``core(adapter([state, embedded]))``."""
    cos, sin = rope_tables(config, positions)
    x = _adapt(params, state, embedded)
    for block in params["core_block"]:
        x, _ = _block(block, x, config, cos, sin)
    return x


def _adapt(params: dict[str, Any], state: jax.Array, embedded: jax.Array) -> Any:
    import jax.numpy as jnp

    x = jnp.concatenate([state, embedded], axis=-1) @ params["adapter"].T
    if "adapter_bias" in params:
        x = x + params["adapter_bias"]
    return x


def decode(
    params: dict[str, Any], config: HuginnConfig, state: jax.Array, positions: jax.Array
) -> Any:
    """The coda on ``ln_f(state)``, ``ln_f`` and the head (no cache): float32 logits."""
    import jax.numpy as jnp

    cos, sin = rope_tables(config, positions)
    x = _rms_norm(state, params["ln_f"], config.norm_eps)
    for block in params["coda"]:
        x, _ = _block(block, x, config, cos, sin)
    return _head(params, config, x).astype(jnp.float32)


def _head(params: dict[str, Any], config: HuginnConfig, x: jax.Array) -> Any:
    x = _rms_norm(x, params["ln_f"], config.norm_eps)
    head = params["wte"] if config.tie_embeddings else params["lm_head"]
    return x @ head.T


@dataclass(frozen=True)
class HuginnOutput:
    """The result of :func:`huginn_logits`.

    Attributes:
        logits: (B, S, vocab) float32 next-token logits after ``num_steps`` recurrences.
        latents: (B, S, n_embd) the final state (before ``ln_f``).
        init_state: (B, S, n_embd) the initial state used.
        step_latents: (num_steps, B, S, n_embd) the state after each recurrence (when asked).
        step_logits: (num_steps, B, S, vocab) the logits decoded after each recurrence (when
            asked); ``step_logits[t]`` equals the logits of a run with ``num_steps = t + 1``.
    """

    logits: jax.Array
    latents: Any
    init_state: Any
    step_latents: Any = None
    step_logits: Any = None


def _check_steps(num_steps: int) -> int:
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1:
        raise GemstonesInputError(f"num_steps={num_steps!r} must be a whole number >= 1")
    return int(num_steps)


def _resolve_state(
    config: HuginnConfig, shape: tuple[int, ...], init_state: Any, seed: int | None, dtype: Any
) -> Any:
    import jax.numpy as jnp

    if init_state is not None:
        state = jnp.asarray(init_state, dtype)
        if state.shape != shape:
            raise GemstonesInputError(
                f"init_state has shape {tuple(state.shape)}; expected (batch, seq, n_embd) = {shape}"
            )
        return state
    if seed is None:
        raise GemstonesInputError(
            "the initial state is random in Huginn: pass init_state=<array> or seed=<int>"
        )
    return initial_state(config, shape, seed, dtype)


def _ids(config: HuginnConfig, input_ids: np.ndarray | jax.Array) -> Any:
    import jax.numpy as jnp

    ids = jnp.asarray(input_ids)
    if ids.ndim != 2 or not jnp.issubdtype(ids.dtype, jnp.integer):
        raise GemstonesInputError(
            f"input_ids must be integer (batch, seq); got {ids.dtype} of shape {tuple(ids.shape)}"
        )
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= config.padded_vocab_size):
        raise GemstonesInputError(
            f"input_ids hold {int(ids.min())}..{int(ids.max())}; valid token ids are "
            f"0..{config.padded_vocab_size - 1}"
        )
    if ids.shape[1] > config.block_size:
        raise GemstonesInputError(
            f"{ids.shape[1]} tokens exceed the model's block_size={config.block_size}"
        )
    return ids


def huginn_logits(
    params: dict[str, Any],
    config: HuginnConfig,
    input_ids: np.ndarray | jax.Array,
    *,
    num_steps: int,
    init_state: Any = None,
    seed: int | None = None,
    return_steps: bool = False,
) -> HuginnOutput:
    """The full forward pass at ``num_steps`` recurrences.

    Args:
        params: the parameter tree (:func:`load_huginn` or :func:`init_params`).
        config: the architecture.
        input_ids: (B, S) token ids.
        num_steps: r, the number of core iterations (>= 1).
        init_state: (B, S, n_embd) initial state; else one is drawn from ``seed``.
        seed: seeds the initial state when ``init_state`` is None.
        return_steps: also return every iteration's state and decoded logits.

    Returns:
        A :class:`HuginnOutput`.

    Example:
        >>> cfg = HuginnConfig(64, 4, 1, 2, 1, 128, 256, 256)
        >>> out = huginn_logits(init_params(cfg, 0), cfg, [[1, 2, 3]], num_steps=4, seed=0)
        >>> out.logits.shape
        (1, 3, 256)
    """
    num_steps = _check_steps(num_steps)
    ids = _ids(config, input_ids)
    dtype = params["wte"].dtype
    shape = (*ids.shape, config.n_embd)
    state = _resolve_state(config, shape, init_state, seed, dtype)
    return HuginnOutput(*_forward_jit(config, num_steps, return_steps)(params, ids, state))


_FORWARDS: dict[tuple[Any, ...], Any] = {}


def _forward_jit(config: HuginnConfig, num_steps: int, return_steps: bool) -> Any:
    import jax

    key = (config, num_steps, return_steps)
    if key not in _FORWARDS:
        if len(_FORWARDS) > 64:
            _FORWARDS.clear()

        def run(params: dict[str, Any], ids: Any, state: jax.Array) -> tuple[Any, ...]:
            return _run(params, config, ids, state, num_steps, return_steps)

        _FORWARDS[key] = jax.jit(run)
    return _FORWARDS[key]


def _run(
    params: dict[str, Any],
    config: HuginnConfig,
    ids: Any,
    state: jax.Array,
    num_steps: int,
    return_steps: bool,
) -> tuple[Any, ...]:
    """The traced forward: ``(logits, final, state[, step_latents, step_logits])``."""
    import jax

    positions = jax.numpy.arange(ids.shape[1])
    embedded = embed(params, config, ids, positions)

    def body(s: Any, _: Any) -> tuple[Any, Any]:
        s = core_step(params, config, s, embedded, positions)
        if not return_steps:
            return s, None
        return s, (s, decode(params, config, s, positions))

    final, steps = jax.lax.scan(body, state, None, length=num_steps)
    logits = decode(params, config, final, positions)
    if return_steps:
        return logits, final, state, steps[0], steps[1]
    return logits, final, state


# ----------------------------------------------------------------------------------------------
# The evaluation family: a checkpoint with a fixed r, initial-state seed and optional exit rule,
# registered in gemstones.models.loading.ARCHITECTURES under MODEL_TYPE.

MAX_EVAL_STEPS = 64
"""The largest r the evaluation engine runs (the paper's sweeps stop at 64)."""


@dataclass(frozen=True)
class HuginnEvalConfig:
    """A Huginn architecture with the settings that fix its outputs in evaluation.

    Attributes:
        arch: the architecture.
        num_steps: r, recurrences per token (1..:data:`MAX_EVAL_STEPS`); with an exit criterion,
            the cap.
        seed: seeds the initial state. Position t of every sequence starts from row t of one
            ``(block_size, n_embd)`` draw, so a sequence's score does not depend on its batch or
            padding, and every r starts from the same state.
        exit_criterion: a name of :data:`gemstones.models.huginn_exits.CRITERIA`, or None (run all
            ``num_steps``).
        exit_threshold: the criterion's threshold.

    Example:
        >>> from gemstones.models import load_model
        >>> model = load_model("tests/gemstones/data_huginn/tiny_a").with_steps(4, seed=0)
        >>> model.config.num_steps, model.config.vocab_size
        (4, 256)
    """

    arch: HuginnConfig
    num_steps: int
    seed: int = 0
    exit_criterion: str | None = None
    exit_threshold: float = 0.0

    def __post_init__(self) -> None:
        check_eval_steps(self.num_steps)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise GemstonesInputError(f"seed={self.seed!r} must be a whole number >= 0")
        if self.exit_criterion is not None:
            from gemstones.models import huginn_exits

            huginn_exits.check_criterion(self.exit_criterion)
            if not math.isfinite(self.exit_threshold) or self.exit_threshold < 0:
                raise GemstonesInputError(
                    f"exit threshold {self.exit_threshold!r} must be a finite number >= 0"
                )

    @property
    def vocab_size(self) -> int:
        """Rows of the output layer (the padded vocabulary)."""
        return self.arch.padded_vocab_size

    @property
    def max_position_embeddings(self) -> int:
        """The longest input: the rotary table's ``block_size``."""
        return self.arch.block_size

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> HuginnEvalConfig:
        """Read ``config.json``; r starts at its ``mean_recurrence`` (change it with
        :meth:`gemstones.models.LoadedModel.with_steps`), the seed at 0."""
        arch = HuginnConfig.from_dict(raw)
        return cls(arch, min(max(1, arch.mean_recurrence), MAX_EVAL_STEPS))


def check_eval_steps(num_steps: Any) -> int:
    """``num_steps`` if it is a whole number in 1..:data:`MAX_EVAL_STEPS`.

    Raises:
        GemstonesInputError: naming the value and the valid range.
    """
    if (
        isinstance(num_steps, bool)
        or not isinstance(num_steps, int | np.integer)
        or not 1 <= num_steps <= MAX_EVAL_STEPS
    ):
        raise GemstonesInputError(
            f"r={num_steps!r} is out of range; valid: whole numbers 1..{MAX_EVAL_STEPS}"
        )
    return int(num_steps)


def eval_load_params(config: HuginnEvalConfig, reader: Any, dtype: Any) -> dict[str, Any]:
    """``ModelFamily.load_params``: the parameter tree from a ``WeightReader``."""
    return params_from_reader(config.arch, reader.get, dtype)


def eval_state(config: HuginnEvalConfig, shape: tuple[int, ...], dtype: Any) -> Any:
    """The initial state of a (batch, seq) input: rows 0..seq-1 of one seeded
    ``(block_size, n_embd)`` draw, the same for every sequence of the batch."""
    import jax.numpy as jnp

    arch = config.arch
    table = initial_state(arch, (arch.block_size, arch.n_embd), config.seed, dtype)
    return jnp.broadcast_to(table[None, : shape[1]], (*shape, arch.n_embd))


def eval_forward_with_steps(
    params: dict[str, Any],
    input_ids: np.ndarray | jax.Array,
    attention_mask: Any,
    config: HuginnEvalConfig,
) -> tuple[Any, Any]:
    """Logits and recurrences used per position, ``(B, S, V)`` float32 and ``(B, S)`` int32.

    Without an exit criterion every position runs ``num_steps``. With one, the model runs to the
    cap and each position takes the logits of the first recurrence where the criterion fires
    (:func:`gemstones.models.huginn_exits.exit_steps`: exact when positions are scored
    independently, as likelihood evaluation does; a decode would also drop an exited token's later
    keys and values, see :func:`adaptive_forward`). Right padding needs no mask (causal attention);
    ``attention_mask`` is accepted for the family signature.
    """
    import jax.numpy as jnp

    del attention_mask
    ids = jnp.asarray(input_ids, jnp.int32)
    state = eval_state(config, ids.shape, params["wte"].dtype)
    if config.exit_criterion is None:
        logits, _, _ = _run(params, config.arch, ids, state, config.num_steps, False)
        return logits, jnp.full(ids.shape, config.num_steps, jnp.int32)
    from gemstones.models import huginn_exits

    _, _, _, step_latents, step_logits = _run(
        params, config.arch, ids, state, config.num_steps, True
    )
    steps, logits = huginn_exits.exit_steps(
        config.exit_criterion, config.exit_threshold, step_logits, step_latents, state
    )
    return logits, steps


def eval_forward(
    params: dict[str, Any],
    input_ids: np.ndarray | jax.Array,
    attention_mask: Any,
    config: HuginnEvalConfig,
) -> Any:
    """``ModelFamily.forward``: float32 logits at ``config.num_steps`` (or at each exit)."""
    return eval_forward_with_steps(params, input_ids, attention_mask, config)[0]


# ----------------------------------------------------------------------------------------------
# KV cache: one slot per prelude block, per (recurrence, core block) and per coda block.


class HuginnCache(NamedTuple):
    """Keys and values for incremental decoding.

    Slot ``i`` < prelude is prelude block i; slot ``prelude + t * core + j`` is core block j at
    recurrence t (t < ``max_steps``); the last ``coda`` slots are the coda blocks. A position's
    entry in a slot is valid once written; attention reads the valid entries only (a token that
    exited early has no entries at later recurrences, as in the reference's "full" cache lookup).

    Attributes:
        k, v: (slots, B, max_len, H, D).
        valid: (slots, B, max_len) bool.
        length: int32 scalar, positions filled.
    """

    k: jax.Array
    v: jax.Array
    valid: jax.Array
    length: Any

    def max_steps(self, config: HuginnConfig) -> int:
        """The most recurrences this cache holds slots for."""
        core = self.k.shape[0] - config.n_layers_in_prelude - config.n_layers_in_coda
        return core // config.n_layers_in_recurrent_block


def init_cache(
    config: HuginnConfig, batch: int, max_len: int, max_steps: int, dtype: str = "float32"
) -> HuginnCache:
    """An empty cache for ``batch`` sequences of up to ``max_len`` tokens and ``max_steps`` r."""
    import jax.numpy as jnp

    _check_steps(max_steps)
    if batch < 1 or max_len < 1:
        raise GemstonesInputError(f"cache: batch={batch} and max_len={max_len} must be >= 1")
    if max_len > config.block_size:
        raise GemstonesInputError(
            f"cache: max_len={max_len} exceeds the model's block_size={config.block_size}"
        )
    slots = (
        config.n_layers_in_prelude
        + max_steps * config.n_layers_in_recurrent_block
        + config.n_layers_in_coda
    )
    shape = (slots, batch, max_len, config.n_heads, config.head_dim)
    return HuginnCache(
        jnp.zeros(shape, dtype),
        jnp.zeros(shape, dtype),
        jnp.zeros(shape[:3], bool),
        jnp.int32(0),
    )


def _cached_block(
    block: dict[str, Any],
    x: jax.Array,
    config: HuginnConfig,
    cos: jax.Array,
    sin: jax.Array,
    cache: HuginnCache,
    index: Any,
    active: Any,
) -> tuple[Any, HuginnCache]:
    import jax

    def pick(a: Any) -> Any:
        return jax.lax.dynamic_index_in_dim(a, index, axis=0, keepdims=False)

    def put(a: Any, value: Any) -> Any:
        return jax.lax.dynamic_update_index_in_dim(a, value, index, axis=0)

    slot: SlotCache | None = SlotCache(pick(cache.k), pick(cache.v), pick(cache.valid))
    x, slot = _block(block, x, config, cos, sin, slot, cache.length, active)
    assert slot is not None
    return x, HuginnCache(
        put(cache.k, slot.k), put(cache.v, slot.v), put(cache.valid, slot.valid), cache.length
    )


def _cached_embed(
    params: dict[str, Any],
    config: HuginnConfig,
    ids: Any,
    cache: HuginnCache,
    cos: jax.Array,
    sin: jax.Array,
) -> tuple[Any, HuginnCache]:
    import jax.numpy as jnp

    active = jnp.ones(ids.shape[0], bool)
    x = _embed_tokens(params, config, ids)
    for i, block in enumerate(params["prelude"]):
        x, cache = _cached_block(block, x, config, cos, sin, cache, i, active)
    return x, cache


def _cached_core(
    params: dict[str, Any],
    config: HuginnConfig,
    state: jax.Array,
    embedded: jax.Array,
    cache: HuginnCache,
    step: Any,
    cos: jax.Array,
    sin: jax.Array,
    active: Any,
) -> tuple[Any, HuginnCache]:
    x = _adapt(params, state, embedded)
    base = config.n_layers_in_prelude + step * config.n_layers_in_recurrent_block
    for j, block in enumerate(params["core_block"]):
        x, cache = _cached_block(block, x, config, cos, sin, cache, base + j, active)
    return x, cache


def _cached_decode(
    params: dict[str, Any],
    config: HuginnConfig,
    state: jax.Array,
    cache: HuginnCache,
    cos: jax.Array,
    sin: jax.Array,
    active: Any,
) -> tuple[Any, HuginnCache]:
    import jax.numpy as jnp

    first = cache.k.shape[0] - config.n_layers_in_coda
    x = _rms_norm(state, params["ln_f"], config.norm_eps)
    for i, block in enumerate(params["coda"]):
        x, cache = _cached_block(block, x, config, cos, sin, cache, first + i, active)
    return _head(params, config, x).astype(jnp.float32), cache


_CACHED: dict[tuple[Any, ...], Any] = {}


def huginn_cached(
    params: dict[str, Any],
    config: HuginnConfig,
    input_ids: np.ndarray | jax.Array,
    cache: HuginnCache,
    *,
    num_steps: int,
    init_state: Any = None,
    seed: int | None = None,
) -> tuple[HuginnOutput, HuginnCache]:
    """Forward ``input_ids`` (the next tokens after those in ``cache``) and extend the cache.

    A prefill is a call with the prompt on an empty cache; decoding is a call per new token. With
    the same initial states, the logits equal those of :func:`huginn_logits` on the whole sequence.

    Args:
        params, config: the model.
        input_ids: (B, S) the next S tokens of each sequence.
        cache: from :func:`init_cache` or a previous call; its ``max_steps`` >= ``num_steps``.
        num_steps: r for these tokens.
        init_state: (B, S, n_embd) initial states of these tokens; else drawn from ``seed``.
        seed: seeds the initial state when ``init_state`` is None.

    Returns:
        ``(output, cache)``: the :class:`HuginnOutput` of these tokens (no per-step arrays) and
        the extended cache.

    Example:
        >>> cfg = HuginnConfig(64, 4, 1, 2, 1, 128, 256, 256)
        >>> p = init_params(cfg, 0)
        >>> cache = init_cache(cfg, batch=1, max_len=8, max_steps=4)
        >>> out, cache = huginn_cached(p, cfg, [[5, 6]], cache, num_steps=4, seed=1)
        >>> out, cache = huginn_cached(p, cfg, [[7]], cache, num_steps=4, seed=2)
        >>> int(cache.length)
        3
    """
    import jax

    num_steps = _check_steps(num_steps)
    ids = _ids(config, input_ids)
    if num_steps > cache.max_steps(config):
        raise GemstonesInputError(
            f"num_steps={num_steps} exceeds the cache's max_steps={cache.max_steps(config)}"
        )
    if ids.shape[0] != cache.k.shape[1]:
        raise GemstonesInputError(
            f"batch {ids.shape[0]} differs from the cache's {cache.k.shape[1]}"
        )
    if int(cache.length) + ids.shape[1] > cache.k.shape[2]:
        raise GemstonesInputError(
            f"cache holds {int(cache.length)} of {cache.k.shape[2]} positions; "
            f"{ids.shape[1]} more do not fit"
        )
    dtype = params["wte"].dtype
    state = _resolve_state(config, (*ids.shape, config.n_embd), init_state, seed, dtype)
    key = (config, num_steps)
    if key not in _CACHED:

        def run(params: dict[str, Any], ids: Any, state: jax.Array, cache: HuginnCache) -> Any:
            import jax.numpy as jnp

            cos, sin = rope_tables(config, cache.length + jnp.arange(ids.shape[1]))
            active = jnp.ones(ids.shape[0], bool)
            embedded, cache = _cached_embed(params, config, ids, cache, cos, sin)

            def body(carry: Any, step: Any) -> tuple[Any, None]:
                s, c = carry
                s, c = _cached_core(params, config, s, embedded, c, step, cos, sin, active)
                return (s, c), None

            (final, cache), _ = jax.lax.scan(body, (state, cache), jnp.arange(num_steps))
            logits, cache = _cached_decode(params, config, final, cache, cos, sin, active)
            return logits, final, cache._replace(length=cache.length + ids.shape[1])

        _CACHED[key] = jax.jit(run)
    logits, final, cache = _CACHED[key](params, ids, state, cache)
    return HuginnOutput(logits, final, state), cache


# ----------------------------------------------------------------------------------------------
# Adaptive compute: token by token, each token iterating until an exit criterion fires.


@dataclass(frozen=True)
class AdaptiveOutput:
    """The result of :func:`adaptive_forward`.

    Attributes:
        logits: (B, S, vocab) each token's logits at its exit.
        steps: (B, S) recurrences each token used (1..max_steps).
        init_state: (B, S, n_embd) the initial states used.
    """

    logits: jax.Array
    steps: Any
    init_state: Any


_ADAPTIVE: dict[tuple[Any, ...], Any] = {}
CACHE_LOOKUPS = ("full", "latest")


def _fill_later_recurrences(
    config: HuginnConfig, cache: HuginnCache, steps: Any, max_steps: int
) -> HuginnCache:
    """Copy each sequence's keys and values of its last recurrence (per core block) at the current
    position into the slots of the recurrences it skipped."""
    import jax
    import jax.numpy as jnp

    first, core = config.n_layers_in_prelude, config.n_layers_in_recurrent_block
    last = jnp.maximum(steps - 1, 0)  # (B,)
    batch = steps.shape[0]

    def fill(a: Any) -> Any:
        block = a[first : first + max_steps * core]
        block = block.reshape(max_steps, core, *a.shape[1:])  # (T, C, B, L, ...)
        column = jax.lax.dynamic_slice_in_dim(block, cache.length, 1, axis=3)
        tail = [1] * (column.ndim - 4)
        index = jnp.broadcast_to(last.reshape(1, 1, batch, 1, *tail), (1, *column.shape[1:]))
        source = jnp.take_along_axis(column, index, axis=0)
        later = jnp.arange(max_steps)[:, None] > last[None, :]  # (T, B)
        column = jnp.where(later.reshape(max_steps, 1, batch, 1, *tail), source, column)
        block = jax.lax.dynamic_update_slice_in_dim(block, column, cache.length, axis=3)
        return a.at[first : first + max_steps * core].set(block.reshape(-1, *a.shape[1:]))

    return HuginnCache(fill(cache.k), fill(cache.v), fill(cache.valid), cache.length)


def adaptive_forward(
    params: dict[str, Any],
    config: HuginnConfig,
    input_ids: np.ndarray | jax.Array,
    *,
    criterion: str,
    threshold: float | None = None,
    max_steps: int,
    min_steps: int = 0,
    init_state: Any = None,
    seed: int | None = None,
    cache_lookup: str = "full",
) -> AdaptiveOutput:
    """Run a sequence token by token, each token iterating until ``criterion`` says stop.

    This is the reference's adaptive-compute forward (its ``forward_with_adaptive_compute``):
    after every recurrence the coda decodes the state and the criterion compares it with the
    previous step; a token that exits writes no keys and values at later recurrences, and later
    tokens attend only to the entries that exist. Sequences in a batch exit independently (the
    cache is masked per sequence), so batching does not change any sequence's result.

    Args:
        params, config: the model.
        input_ids: (B, S) tokens.
        criterion: a name of :data:`gemstones.models.huginn_exits.CRITERIA`.
        threshold: the criterion's threshold (default: the reference's).
        max_steps: the recurrence cap.
        min_steps: recurrences before the criterion is first checked.
        init_state: (B, S, n_embd) initial states; else drawn from ``seed``.
        seed: seeds the initial states when ``init_state`` is None.
        cache_lookup: what a later token's recurrence t attends to for an earlier token that
            exited before t: ``full`` (the reference's default) skips that token; ``latest`` uses
            the earlier token's keys and values of the same core block at its last recurrence
            (the reference's ``latest-m4`` strategy, the paper's KV-cache reuse).

    Returns:
        An :class:`AdaptiveOutput`.
    """
    import jax
    import jax.numpy as jnp

    from gemstones.models import huginn_exits as exits

    exits.check_criterion(criterion)
    if cache_lookup not in CACHE_LOOKUPS:
        raise GemstonesInputError(
            f"cache_lookup={cache_lookup!r}; valid: {', '.join(CACHE_LOOKUPS)}"
        )
    max_steps = _check_steps(max_steps)
    if min_steps < 0:
        raise GemstonesInputError(f"min_steps={min_steps} must be >= 0")
    value = exits.DEFAULT_THRESHOLDS[criterion] if threshold is None else float(threshold)
    ids = _ids(config, input_ids)
    batch, length = ids.shape
    dtype = params["wte"].dtype
    states = _resolve_state(config, (batch, length, config.n_embd), init_state, seed, dtype)
    key = (config, max_steps, min_steps, cache_lookup)
    if key not in _ADAPTIVE:
        vocab = config.padded_vocab_size

        def token(
            params: dict[str, Any],
            tok: Any,
            state: jax.Array,
            cache: HuginnCache,
            rule: Any,
            thr: Any,
        ) -> Any:
            batch = tok.shape[0]
            cos, sin = rope_tables(config, cache.length + jnp.arange(1))
            embedded, cache = _cached_embed(params, config, tok, cache, cos, sin)
            carry = (
                state,
                exits.init_exit_state(state[:, 0], vocab),
                jnp.zeros(batch, bool),
                jnp.zeros(batch, jnp.int32),
                jnp.zeros((batch, vocab), jnp.float32),
                cache,
                jnp.int32(0),
            )

            def cond(c: Any) -> Any:
                return (c[6] < max_steps) & ~jnp.all(c[2])

            def body(c: Any) -> Any:
                s, ex, done, steps, logits, cache, t = c
                active = ~done
                new, cache = _cached_core(params, config, s, embedded, cache, t, cos, sin, active)
                s = jnp.where(active[:, None, None], new, s)
                out, cache = _cached_decode(params, config, s, cache, cos, sin, active)
                stop, _, new_ex = exits.check_exit_by_index(rule, thr, ex, s[:, 0], out[:, 0])
                ex = jax.tree_util.tree_map(
                    lambda a, b: jnp.where(active.reshape(-1, *[1] * (a.ndim - 1)), a, b),
                    new_ex,
                    ex,
                )
                logits = jnp.where(active[:, None], out[:, 0], logits)
                steps = steps + active.astype(jnp.int32)
                done = done | (active & stop & (t >= min_steps))
                return s, ex, done, steps, logits, cache, t + 1

            _, _, _, steps, logits, cache, _ = jax.lax.while_loop(cond, body, carry)
            if cache_lookup == "latest":
                cache = _fill_later_recurrences(config, cache, steps, max_steps)
            return logits, steps, cache._replace(length=cache.length + 1)

        _ADAPTIVE[key] = jax.jit(token)
    run = _ADAPTIVE[key]
    rule = jnp.int32(exits.CRITERIA.index(criterion))
    cache = init_cache(config, batch, length, max_steps, str(dtype))
    all_logits, all_steps = [], []
    for pos in range(length):
        logits, steps, cache = run(
            params, ids[:, pos : pos + 1], states[:, pos : pos + 1], cache, rule, jnp.float32(value)
        )
        all_logits.append(logits)
        all_steps.append(steps)
    return AdaptiveOutput(jnp.stack(all_logits, axis=1), jnp.stack(all_steps, axis=1), states)


# ----------------------------------------------------------------------------------------------
# Saving in the checkpoint format.


def write_safetensors(tensors: dict[str, np.ndarray], path: Path) -> None:
    """Write tensors as one float32 safetensors file, atomically (the ``safetensors`` library's format)."""
    from safetensors.numpy import save

    from registry.atomic import write_bytes_atomic

    arrays = {
        name: np.ascontiguousarray(value, dtype=np.float32) for name, value in tensors.items()
    }
    write_bytes_atomic(save(arrays, metadata={"format": "pt"}), path)


def save_huginn(path: str | Path, config: HuginnConfig, params: dict[str, Any]) -> Path:
    """Save a model as a Huginn checkpoint folder (``config.json`` + ``model.safetensors``, float32)
    that :func:`load_huginn` and the reference code read.

    Returns:
        The folder.
    """
    from registry.atomic import write_json_atomic

    folder = Path(path)
    write_safetensors(params_to_tensors(config, params), folder / "model.safetensors")
    write_json_atomic(config.to_dict(), folder / "config.json")
    return folder


def recurrent_architecture(config: HuginnConfig) -> Any:
    """The model in the vocabulary of ``fitting.recurrent_compute`` (parameter and FLOP counts).

    Example:
        >>> from fitting.recurrent_compute import HUGINN_0125
        >>> published = HuginnConfig(5280, 55, 2, 4, 2, 17920, 65536, 65536)
        >>> recurrent_architecture(published) == HUGINN_0125
        True
    """
    from fitting.recurrent_compute import RecurrentDepthArchitecture

    return RecurrentDepthArchitecture(
        hidden=config.n_embd,
        heads=config.n_heads,
        head_dim=config.head_dim,
        mlp_width=config.intermediate_size,
        mlp_matrices=3,
        vocab=config.padded_vocab_size,
        prelude_layers=config.n_layers_in_prelude,
        core_layers=config.n_layers_in_recurrent_block,
        coda_layers=config.n_layers_in_coda,
        adapter_inputs=2,
        layer_vectors=4 + (2 if config.qk_bias else 0),
        tied_embedding=config.tie_embeddings,
        final_norm=True,
    )
