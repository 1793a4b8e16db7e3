"""Build tiny random-weight Gemma checkpoints and their golden outputs with the reference implementation.

The oracle is ``transformers``' ``GemmaForCausalLM`` (PyTorch, CPU). This script is the only place in the
repository that imports torch; it runs in a side environment, never in the package or its tests::

    /work/oracle-venv/bin/python tools/make_gemma_goldens.py            # writes tests/gemstones/data_models
    /work/oracle-venv/bin/python tools/make_gemma_goldens.py --out DIR  # elsewhere

What it writes, per checkpoint folder (``save_pretrained`` output plus goldens):

- ``config.json``, ``model.safetensors`` (or shards + ``model.safetensors.index.json``);
- ``tokenizer.json`` where the tokenizer fits the vocabulary (a tiny byte-level BPE trained here on a
  few sentences, so nothing is downloaded);
- ``goldens.npz``: ``input_ids`` and ``attention_mask`` (int64), ``logits_fp32`` (float32, the oracle run
  in float32 on the stored weights), ``logits_bf16`` (float32 copy of the oracle run in bfloat16);
- ``goldens.json``: the oracle's mean next-token loss per row, per-document NLL sums of a small corpus
  (whole documents, first token unscored), and per-choice log-likelihoods of a few multiple-choice items
  split the way lm-eval splits context and continuation.

Weights are drawn with scales that give logits of order one to ten (the library's default init, std
0.02 and zero norm weights, would make a 1e-4 logit tolerance meaningless), rounded to bfloat16 so the
float32 oracle and the stored bfloat16 files hold the same numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np
import tokenizers
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GemmaConfig, GemmaForCausalLM

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "tests" / "gemstones" / "data_models"

TOKENIZER_TEXT = [
    "The Gemstones suite trains models of many widths and depths on the same data.",
    "Scaling laws relate the loss of a language model to its parameters and its training tokens.",
    "A checkpoint is saved every two billion tokens, and each one is a branch of the repository.",
    "Researchers evaluate the checkpoints on held-out text and on multiple choice questions.",
    "Wider models are not always better than deeper ones at the same compute budget.",
    "The quick brown fox jumps over the lazy dog; numbers like 1024, 2048 and 350 appear too.",
    "Café, naïve, façade: a few accented words keep the byte-level tokenizer honest.",
]

DOCUMENTS = [
    "Scaling laws relate the loss of a model to its width and depth.",
    "The quick brown fox jumps over the lazy dog.",
    "Checkpoints are saved every two billion tokens; café au lait.",
]

MC_ITEMS = [
    {
        "context": "Question: Which animal jumps over the lazy dog?\nAnswer:",
        "choices": ["the quick brown fox", "a cat", "the model"],
        "answer": 0,
    },
    {
        "context": "A checkpoint is saved every",
        "choices": ["two billion tokens", "day", "width and depth of the model"],
        "answer": 0,
    },
]

# name: (config kwargs, options)
SHAPES: dict[str, tuple[dict, dict]] = {
    # The suite's layout in miniature: head_dim 128, GQA with n_kv = n_h / 2, untied head; config.json
    # rewritten the way transformers 4 wrote the suite's files (top-level rope_theta, hidden_activation).
    "gemma_gqa_untied": (
        dict(
            vocab_size=320,
            hidden_size=256,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=128,
            rms_norm_eps=1e-6,
            tie_word_embeddings=False,
            max_position_embeddings=2048,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        ),
        dict(store="bfloat16", transformers4_config=True, tokenizer=True, shard=None),
    ),
    # Tied head, transformers 5's native config (rope_parameters), sharded weights, head_dim 16.
    "gemma_tied_rope5_sharded": (
        dict(
            vocab_size=384,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            rms_norm_eps=1e-6,
            tie_word_embeddings=True,
            max_position_embeddings=512,
            rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
        ),
        dict(store="float32", transformers4_config=False, tokenizer=True, shard="100KB"),
    ),
    # Plain multi-head attention whose heads are wider than the residual (n_h * head_dim = 2 * hidden),
    # a different eps, one layer; its vocabulary (256) is smaller than the tokenizer's (300).
    "gemma_mha_wide_heads": (
        dict(
            vocab_size=256,
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=128,
            rms_norm_eps=1e-5,
            tie_word_embeddings=False,
            max_position_embeddings=256,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        ),
        dict(store="bfloat16", transformers4_config=False, tokenizer=False, shard=None),
    ),
}


def build_tokenizer() -> Tokenizer:
    """A byte-level BPE with 300 entries (256 bytes, one special token, 43 merges)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TOKENIZER_TEXT, trainer=trainer)
    return tok


def randomize(model: GemmaForCausalLM, seed: int) -> None:
    """Draw every weight with a scale that makes logits of order one, then round to bfloat16."""
    gen = torch.Generator().manual_seed(seed)
    hidden = model.config.hidden_size
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                std = 0.3  # RMSNorm scales are (1 + w): keep them away from the identity
            elif "embed_tokens" in name:
                std = 1.0
            elif "lm_head" in name:
                std = 3.0 / math.sqrt(hidden)
            else:
                std = 1.0 / math.sqrt(p.shape[1])
            p.copy_(torch.randn(p.shape, generator=gen) * std)
            p.copy_(p.to(torch.bfloat16).to(torch.float32))


def fixed_inputs(vocab: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two full rows and one right-padded row of token ids."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, size=(3, 24), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[2, 17:] = 0
    ids[2, 17:] = 0
    return ids, mask


def row_losses(logits: torch.Tensor, ids: np.ndarray, mask: np.ndarray) -> list[float]:
    """Mean next-token NLL per row over positions whose target is a real token."""
    logp = torch.log_softmax(logits.double(), dim=-1)
    out = []
    for r in range(ids.shape[0]):
        n = int(mask[r].sum())
        tgt = torch.as_tensor(ids[r, 1:n])
        out.append(float(-logp[r, : n - 1].gather(-1, tgt[:, None]).mean()))
    return out


def sequence_logprob(model: GemmaForCausalLM, ids: list[int]) -> np.ndarray:
    """log p(ids[i] | ids[:i]) for i >= 1, float64."""
    with torch.no_grad():
        logits = model(torch.as_tensor([ids])).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    return logp[:-1].gather(-1, torch.as_tensor(ids[1:])[:, None])[:, 0].numpy()


def text_goldens(model: GemmaForCausalLM, tok: Tokenizer) -> dict:
    docs = []
    for text in DOCUMENTS:
        ids = tok.encode(text).ids
        lp = sequence_logprob(model, ids)
        docs.append({"text": text, "ids": ids, "nll_sum": float(-lp.sum()), "scored": len(ids) - 1})
    items = []
    for item in MC_ITEMS:
        ctx_ids = tok.encode(item["context"]).ids
        lls = []
        for choice in item["choices"]:
            whole = tok.encode(item["context"] + " " + choice).ids
            lp = sequence_logprob(model, whole)
            lls.append(float(lp[len(ctx_ids) - 1 :].sum()))
        items.append({**item, "loglikelihoods": lls})
    return {"documents": docs, "multiple_choice": items}


def rewrite_as_transformers4(folder: Path) -> None:
    """Write config.json the way transformers 4 did: top-level rope_theta and hidden_activation."""
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    rope = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rope["rope_theta"]
    cfg["hidden_act"] = "gelu"
    cfg["hidden_activation"] = "gelu_pytorch_tanh"
    cfg["torch_dtype"] = cfg.pop("dtype", "bfloat16")
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def build_one(name: str, out: Path, tok: Tokenizer, seed: int) -> dict:
    kwargs, opts = SHAPES[name]
    config = GemmaConfig(**kwargs)
    torch.manual_seed(seed)
    model = GemmaForCausalLM(config).eval()
    randomize(model, seed)
    if config.tie_word_embeddings:
        model.tie_weights()
    folder = out / name
    if folder.exists():
        shutil.rmtree(folder)
    stored = model.to(getattr(torch, opts["store"]))
    save_kwargs = {"max_shard_size": opts["shard"]} if opts["shard"] else {}
    stored.save_pretrained(folder, **save_kwargs)
    if opts["transformers4_config"]:
        rewrite_as_transformers4(folder)
    if opts["tokenizer"]:
        tok.save(str(folder / "tokenizer.json"))

    # The oracle reads back exactly what was written (config rewrite included).
    fp32 = GemmaForCausalLM.from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager"
    )
    bf16 = GemmaForCausalLM.from_pretrained(
        folder, dtype=torch.bfloat16, attn_implementation="eager"
    )
    fp32.eval()
    bf16.eval()
    ids, mask = fixed_inputs(config.vocab_size, seed)
    with torch.no_grad():
        lf = fp32(torch.as_tensor(ids), attention_mask=torch.as_tensor(mask)).logits
        lb = bf16(torch.as_tensor(ids), attention_mask=torch.as_tensor(mask)).logits
    np.savez_compressed(
        folder / "goldens.npz",
        input_ids=ids,
        attention_mask=mask,
        logits_fp32=lf.numpy().astype(np.float32),
        logits_bf16=lb.float().numpy(),
    )
    goldens = {
        "row_loss_fp32": row_losses(lf, ids, mask),
        "row_loss_bf16": row_losses(lb.float(), ids, mask),
        "logit_std_fp32": float(lf[mask.astype(bool)].std()),
        "num_parameters": sum(p.numel() for p in fp32.parameters()),
    }
    if opts["tokenizer"]:
        goldens.update(text_goldens(fp32, tok))
    (folder / "goldens.json").write_text(json.dumps(goldens, indent=2) + "\n")
    return {
        "name": name,
        "logit_std": goldens["logit_std_fp32"],
        "params": goldens["num_parameters"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    rows = [build_one(name, args.out, tok, args.seed + i) for i, name in enumerate(SHAPES)]
    for row in rows:
        print(f"{row['name']}: {row['params']:,} parameters, logit std {row['logit_std']:.2f}")
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"tokenizers {tokenizers.__version__}"
    )


if __name__ == "__main__":
    main()
