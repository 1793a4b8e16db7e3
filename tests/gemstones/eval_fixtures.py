"""Tiny Gemma checkpoints in the Hugging Face layout, corpora and task files for the evaluation tests.

A checkpoint is what ``transformers``' ``GemmaForCausalLM.save_pretrained`` writes, built here with
numpy, ``safetensors`` and ``tokenizers`` (no torch): ``config.json`` (``model_type: gemma``),
``model.safetensors`` with the Hugging Face tensor names, and a ``tokenizer.json`` (byte-level BPE
over the 256 bytes plus three special tokens).

With ``bigram_text`` the weights are not random noise: the embedding is one-hot (hidden >= vocab),
the blocks add only small noise, and the LM head holds the log-probabilities of a byte bigram model
counted on ``bigram_text`` (add-one smoothing), so ``logits[v] = log P(v | previous byte)``. More
counting text gives a lower held-out loss, which is what a training curve looks like; the loss is
measured, not planted.

``eval_hub_state`` serves such checkpoints from the loopback Hub (``tests/registry/hub_server.py``)
at pinned commits, one branch per catalog row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gemstones.runs.recurrent_lm import byte_symbols  # GPT-2's byte -> symbol table
from tests.registry.hub_server import FakeRepo, HubState

SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>")
VOCAB_SIZE = 264  # 256 bytes + 3 specials, padded to a multiple of 8 as model vocabularies are


def byte_level_tokenizer() -> Any:
    """A byte-level BPE tokenizer: token id = byte value (0..255), then the special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {symbol: byte for byte, symbol in enumerate(byte_symbols())}
    assert set(vocab) == set(pre_tokenizers.ByteLevel.alphabet())
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    return tokenizer


def tokenizer_json(vocab_extra: int = 0) -> bytes:
    """``tokenizer.json`` of :func:`byte_level_tokenizer`, with ``vocab_extra`` more special tokens."""
    tokenizer = byte_level_tokenizer()
    if vocab_extra:
        tokenizer.add_special_tokens([f"<extra_{i}>" for i in range(vocab_extra)])
    return tokenizer.to_str().encode()


def gemma_config(
    *,
    hidden: int,
    layers: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    intermediate: int,
    vocab_size: int = VOCAB_SIZE,
    tied: bool = False,
) -> dict[str, Any]:
    """A transformers-4 style Gemma ``config.json``."""
    return {
        "architectures": ["GemmaForCausalLM"],
        "model_type": "gemma",
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh",
        "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "tie_word_embeddings": tied,
        "pad_token_id": 256,
        "eos_token_id": 257,
        "bos_token_id": 258,
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
    }


def _bigram_log_probs(text: str, vocab_size: int) -> np.ndarray:
    """(vocab, vocab) matrix: [previous, next] = log P(next | previous), add-one over the 256 bytes."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
    counts = np.ones((vocab_size, 256))
    np.add.at(counts, (data[:-1], data[1:]), 1.0)
    probs = counts / counts.sum(axis=1, keepdims=True)
    log_probs = np.full((vocab_size, vocab_size), -30.0)
    log_probs[:, :256] = np.log(probs)
    return log_probs


def gemma_tensors(
    config: dict[str, Any], *, seed: int, bigram_text: str | None = None
) -> dict[str, np.ndarray]:
    """The ``GemmaForCausalLM`` state dict (Hugging Face names, (out, in) matrices), float32."""
    rng = np.random.default_rng(seed)
    h, v = config["hidden_size"], config["vocab_size"]
    nh, nkv, hd = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    inter = config["intermediate_size"]
    block_std = 1e-4 if bigram_text is not None else 0.2

    def normal(*shape: int, std: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    tensors: dict[str, np.ndarray] = {}
    if bigram_text is not None:
        if h < v:
            raise ValueError("a bigram checkpoint needs hidden_size >= vocab_size")
        tensors["model.embed_tokens.weight"] = np.eye(v, h, dtype=np.float32)
    else:
        tensors["model.embed_tokens.weight"] = normal(v, h, std=1.0)
    for i in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{i}"
        tensors[f"{prefix}.input_layernorm.weight"] = normal(h, std=0.1)
        tensors[f"{prefix}.self_attn.q_proj.weight"] = normal(nh * hd, h)
        tensors[f"{prefix}.self_attn.k_proj.weight"] = normal(nkv * hd, h)
        tensors[f"{prefix}.self_attn.v_proj.weight"] = normal(nkv * hd, h)
        tensors[f"{prefix}.self_attn.o_proj.weight"] = normal(h, nh * hd, std=block_std)
        tensors[f"{prefix}.post_attention_layernorm.weight"] = normal(h, std=0.1)
        tensors[f"{prefix}.mlp.gate_proj.weight"] = normal(inter, h)
        tensors[f"{prefix}.mlp.up_proj.weight"] = normal(inter, h)
        tensors[f"{prefix}.mlp.down_proj.weight"] = normal(h, inter, std=block_std)
    tensors["model.norm.weight"] = (
        np.zeros(h, np.float32) if bigram_text is not None else normal(h, std=0.1)
    )
    if not config["tie_word_embeddings"]:
        if bigram_text is not None:
            head = np.zeros((v, h), np.float32)
            head[:, :v] = (_bigram_log_probs(bigram_text, v).T / math.sqrt(h)).astype(np.float32)
            tensors["lm_head.weight"] = head
        else:
            tensors["lm_head.weight"] = normal(v, h, std=0.05)
    return tensors


def tiny_gemma_files(
    *,
    seed: int = 0,
    bigram_text: str | None = None,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 2,
    kv_heads: int = 1,
    head_dim: int = 16,
    intermediate: int = 64,
    tied: bool = False,
    tokenizer_extra: int = 0,
) -> dict[str, bytes]:
    """The files of a tiny Gemma checkpoint, as ``save_pretrained`` names them.

    With ``bigram_text`` the hidden size is raised to the vocabulary size (see the module doc).
    """
    from safetensors.numpy import save

    if bigram_text is not None:
        hidden = max(hidden, VOCAB_SIZE)
    config = gemma_config(
        hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
        intermediate=intermediate, tied=tied,
    )  # fmt: skip
    tensors = gemma_tensors(config, seed=seed, bigram_text=bigram_text)
    return {
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
        "config.json": json.dumps(config, indent=2).encode(),
        "generation_config.json": b'{"bos_token_id": 258, "eos_token_id": 257, "pad_token_id": 256}',
        "model.safetensors": save(tensors, metadata={"format": "pt"}),
        "tokenizer.json": tokenizer_json(tokenizer_extra),
        "tokenizer_config.json": b'{"model_max_length": 512}',
    }


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (name -> content) into ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def write_tiny_gemma(folder: Path, **options: Any) -> Path:
    """Write a tiny Gemma checkpoint into ``folder`` (see :func:`tiny_gemma_files`)."""
    return write_files(folder, tiny_gemma_files(**options))


def training_text(n_bytes: int) -> str:
    """The first ``n_bytes`` of the Python standard library's source (real text to count bigrams on)."""
    from gemstones.runs.corpus import load_stdlib_corpus

    data = load_stdlib_corpus(max(2 * n_bytes, 20_000)).train[:n_bytes]
    return bytes(data.tolist()).decode("utf-8", errors="ignore")


def held_out_documents(count: int = 6, size: int = 300) -> list[str]:
    """Real documents the bigram models never counted: docstrings of ``json``, ``pathlib``, ``textwrap``."""
    import inspect
    import json as json_module
    import pathlib
    import textwrap

    docs: list[str] = []
    for module in (json_module, pathlib, textwrap):
        for _, member in inspect.getmembers(module):
            doc = inspect.getdoc(member)
            if doc and len(doc) >= size and len(docs) < count and doc[:size] not in docs:
                docs.append(doc[:size])
    return docs[:count]


def write_corpus(path: Path, documents: list[str] | None = None) -> Path:
    """A JSONL corpus with a ``text`` field."""
    docs = documents if documents is not None else held_out_documents()
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


TASKS = (
    {"question": "The capital of France is", "choices": ["Paris", "a banana", "42"], "answer": 0},
    {"question": "def add(a, b): return", "choices": ["a + b", "Paris"], "answer": 0},
    {"question": "import os\nimport", "choices": ["sys", "zzzz qqq"], "answer": 0},
    {"question": "for i in", "choices": ["range(10):", "))))(((("], "answer": 0},
)


def write_tasks(path: Path, rows: tuple[dict[str, Any], ...] = TASKS) -> Path:
    """A multiple-choice task file (JSONL: question, choices, answer)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def eval_hub_state(
    rows: pl.DataFrame,
    *,
    base_bytes: int = 4_000,
    text_bytes: Callable[[str, int], int] | None = None,
) -> HubState:
    """A loopback Hub with one branch per catalog row holding a tiny bigram Gemma checkpoint.

    The k-th revision (by step) of each repository counts ``text_bytes(repo_id, k)`` bytes of
    training text (default ``base_bytes * 2**k``), so later revisions are better models; ``main``
    points at the last one.
    """
    count = text_bytes if text_bytes is not None else (lambda _repo, k: base_bytes * 2**k)
    state = HubState()
    for repo_id in rows["repo_id"].unique(maintain_order=True).to_list():
        repo = state.add_repo(FakeRepo(repo_id))
        revisions = rows.filter(pl.col("repo_id") == repo_id).sort("step")["revision"].to_list()
        for k, revision in enumerate(revisions):
            text = training_text(count(repo_id, k))
            repo.add_branch(revision, tiny_gemma_files(seed=k, bigram_text=text, layers=1))
        repo.branches["main"] = repo.branches[revisions[-1]]
    return state
