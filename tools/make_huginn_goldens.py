"""Make the Huginn golden files from the reference PyTorch modeling code (run with torch).

The reference, ``raven_modeling_minimal.py`` with its ``raven_config_minimal.py`` (Apache-2.0,
github seal-rg/recurrent-pretraining, ``recpre/``; also in the Hub repo tomg-group-umd/huginn-0125),
is NOT part of this repository: pass the folder holding both files. This script builds tiny random
models with the reference classes, saves them in the published format (``config.json`` from the
reference config class, safetensors with the reference tensor names) and records, from one
explicit initial state:

- the logits at r = 1, 4 and 8 (``RavenForCausalLM.forward(..., input_states=..., num_steps=r)``);
- the reference's token-by-token adaptive-compute forward (``forward_with_adaptive_compute``)
  under a KL and a latent-difference exit, with its random state initialisation replaced by
  slices of the same initial state: per-token steps and logits.

Usage (in an environment with torch + transformers + safetensors)::

    python tools/make_huginn_goldens.py --reference /path/to/recpre \
        --out tests/gemstones/data_huginn

The JAX tests (tests/gemstones/test_huginn.py) compare against these files without torch.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np

TINY = {
    # published layout in miniature: tied embeddings, qk bias, no adapter bias, default rope base
    "tiny_a": {
        "n_embd": 64,
        "n_heads": 4,
        "n_layers_in_prelude": 1,
        "n_layers_in_recurrent_block": 2,
        "n_layers_in_coda": 1,
        "intermediate_size": 128,
        "vocab_size": 256,
        "tie_embeddings": True,
        "qk_bias": True,
        "bias": False,
        "mean_recurrence": 8,
        "mean_backprop_depth": 4,
        "block_size": 64,
    },
    # the other switches: separate head, adapter bias, no qk bias, another rope base; sharded
    "tiny_b": {
        "n_embd": 32,
        "n_heads": 4,
        "n_layers_in_prelude": 2,
        "n_layers_in_recurrent_block": 2,
        "n_layers_in_coda": 2,
        "intermediate_size": 64,
        "vocab_size": 272,
        "tie_embeddings": False,
        "qk_bias": False,
        "bias": True,
        "rope_base": 10_000.0,
        "mean_recurrence": 8,
        "mean_backprop_depth": 4,
        "block_size": 64,
    },
    # the published layer layout in miniature (prelude 2, core 4, coda 2), which the reference's
    # "latest-m4" cache lookup (KV reuse under adaptive exits) hard-codes
    "tiny_c": {
        "n_embd": 32,
        "n_heads": 2,
        "n_layers_in_prelude": 2,
        "n_layers_in_recurrent_block": 4,
        "n_layers_in_coda": 2,
        "intermediate_size": 64,
        "vocab_size": 256,
        "tie_embeddings": True,
        "qk_bias": True,
        "bias": False,
        "mean_recurrence": 8,
        "mean_backprop_depth": 4,
        "block_size": 64,
    },
}
STEPS = (1, 4, 8)
BATCH, LENGTH = 2, 12
ADAPTIVE_LENGTH = 10
# exit criteria and thresholds, picked so that some tokens exit early and some do not
CRITERIA = (("kl", 5e-3), ("latent-diff", 0.1), ("entropy-diff", 1e-2), ("argmax-stability", 3))


def import_reference(folder: Path) -> types.ModuleType:
    """Import the reference modeling module as part of a synthetic package (it imports its config
    module relatively)."""
    package = types.ModuleType("huginn_reference")
    package.__path__ = [str(folder)]
    sys.modules["huginn_reference"] = package
    for name in ("raven_config_minimal", "raven_modeling_minimal"):
        spec = importlib.util.spec_from_file_location(
            f"huginn_reference.{name}", folder / f"{name}.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["huginn_reference.raven_modeling_minimal"]


def build(ref: types.ModuleType, fields: dict, seed: int):
    import torch

    torch.manual_seed(seed)
    config = ref.RavenConfig(**fields, n_layers=0)
    config.n_layers = (
        config.n_layers_in_prelude + config.n_layers_in_recurrent_block + config.n_layers_in_coda
    )
    model = ref.RavenForCausalLM(config).float().eval()
    with torch.no_grad():  # non-trivial norms and biases, so that the goldens exercise them
        for name, p in model.named_parameters():
            if "norm" in name or "ln_f" in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif "qk_bias" in name or name.endswith("adapter.bias"):
                p.copy_(0.2 * torch.randn_like(p))
    return model


def save_checkpoint(model, out: Path, shards: int) -> list[str]:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    model.config.to_json_file(str(out / "config.json"))
    state = {
        k: v.detach().contiguous().clone()
        for k, v in model.state_dict().items()
        if k != "freqs_cis" and not (k == "lm_head.weight" and model.config.tie_embeddings)
    }
    names = sorted(state)
    if shards == 1:
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        return names
    weight_map = {}
    for i in range(shards):
        part = names[i::shards]
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({k: state[k] for k in part}, str(out / file), metadata={"format": "pt"})
        weight_map.update({k: file for k in part})
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return names


def adaptive(ref, model, ids, state, criterion: str, threshold: float, lookup: str = "full"):
    """The reference's token-by-token adaptive forward, initial states taken from ``state``."""
    import torch

    position = {"i": 0}

    def fixed_state(embedded, scale=1.0):
        i = position["i"]
        position["i"] += 1
        return state[:, i : i + 1].clone()

    model.initialize_state = fixed_state
    evaluator = ref.get_adaptive_exit_evaluator(model, criterion, threshold)
    with torch.no_grad():
        cache = ref.HuginnDynamicCache(lookup_strategy=lookup)
        out = model.forward_with_adaptive_compute(ids, evaluator, past_key_values=cache)
    del model.initialize_state
    return out.logits.numpy(), np.asarray(out.stats["compute_steps"], np.int32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="folder with the reference")
    parser.add_argument("--out", type=Path, default=Path("tests/gemstones/data_huginn"))
    args = parser.parse_args()
    import safetensors
    import torch
    import transformers

    torch.set_num_threads(1)
    ref = import_reference(args.reference)
    provenance = {
        "reference_sha256": {
            name: hashlib.sha256((args.reference / name).read_bytes()).hexdigest()
            for name in ("raven_modeling_minimal.py", "raven_config_minimal.py")
        },
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "models": {},
    }
    for seed, (name, fields) in enumerate(TINY.items()):
        model = build(ref, fields, seed)
        folder = args.out / name
        tensors = save_checkpoint(model, folder, shards=1 if name == "tiny_a" else 2)
        gen = torch.Generator().manual_seed(100 + seed)
        ids = torch.randint(0, fields["vocab_size"], (BATCH, LENGTH), generator=gen)
        with torch.no_grad():
            embeds = model.transformer.wte(ids)
        torch.manual_seed(200 + seed)
        state = model.initialize_state(embeds).detach()  # the reference's random initial state
        goldens = {"input_ids": ids.numpy().astype(np.int32), "init_state": state.numpy()}
        with torch.no_grad():
            for r in STEPS:
                out = model(ids, input_states=state, num_steps=r)
                goldens[f"logits_r{r}"] = out.logits.float().numpy()
                goldens[f"latents_r{r}"] = out.latent_states.float().numpy()
        one_ids, one_state = ids[:1, :ADAPTIVE_LENGTH], state[:1, :ADAPTIVE_LENGTH]
        for criterion, threshold in CRITERIA:
            logits, steps = adaptive(ref, model, one_ids, one_state, criterion, threshold)
            key = criterion.replace("-", "_")
            goldens[f"adaptive_{key}_logits"] = logits
            goldens[f"adaptive_{key}_steps"] = steps
            goldens[f"adaptive_{key}_threshold"] = np.float64(threshold)
        if name == "tiny_c":
            logits, steps = adaptive(ref, model, one_ids, one_state, "kl", 5e-3, "latest-m4")
            goldens["adaptive_kl_latest_logits"] = logits
            goldens["adaptive_kl_latest_steps"] = steps
            goldens["adaptive_kl_latest_threshold"] = np.float64(5e-3)
        np.savez_compressed(folder / "goldens.npz", **goldens)
        provenance["models"][name] = {
            "seed": seed,
            "tensors": len(tensors),
            "adaptive_steps": {
                k: goldens[k].tolist()
                for k in goldens
                if k.startswith("adaptive_") and "steps" in k
            },
        }
        print(name, provenance["models"][name])
    (args.out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
