"""The JAX Gemma forward pass against goldens recorded with transformers' GemmaForCausalLM (torch).

The checkpoints and goldens in data_models/ were written by tools/make_gemma_goldens.py (see
data_models/PROVENANCE.md); these tests need neither torch nor transformers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from gemstones.errors import GemstonesInputError
from gemstones.models import (
    ARCHITECTURES,
    GemmaConfig,
    ModelLoadError,
    WeightReader,
    load_model,
    load_tokenizer,
)
from gemstones.models.loading import _chunked_logprobs

DATA = Path(__file__).parent / "data_models"
NAMES = ["gemma_gqa_untied", "gemma_tied_rope5_sharded", "gemma_mha_wide_heads"]


def goldens(name: str) -> tuple[dict, dict]:
    arrays = np.load(DATA / name / "goldens.npz")
    return {k: arrays[k] for k in arrays.files}, json.loads(
        (DATA / name / "goldens.json").read_text()
    )


def row_losses(model, ids: np.ndarray, mask: np.ndarray) -> list[float]:
    targets = np.concatenate([ids[:, 1:], np.zeros_like(ids[:, :1])], axis=1)
    logp = np.asarray(model.token_logprobs(ids, targets, mask), dtype=np.float64)
    return [float(-logp[r, : int(mask[r].sum()) - 1].mean()) for r in range(len(ids))]


@pytest.fixture(scope="module", params=NAMES)
def fp32_case(request):
    return request.param, load_model(DATA / request.param)


def test_fp32_logits_match_transformers(fp32_case):
    name, model = fp32_case
    arrays, gold = goldens(name)
    ids, mask = arrays["input_ids"], arrays["attention_mask"]
    logits = np.asarray(model.logits(ids, mask))
    assert logits.shape == (*ids.shape, model.vocab_size)
    assert logits.dtype == np.float32
    real = mask.astype(bool)  # padded positions are not part of the comparison
    np.testing.assert_allclose(logits[real], arrays["logits_fp32"][real], atol=1e-4, rtol=1e-5)
    # the goldens have logits of order ten, so the tolerance is a tight one
    assert gold["logit_std_fp32"] > 1.0
    np.testing.assert_allclose(row_losses(model, ids, mask), gold["row_loss_fp32"], atol=1e-4)
    assert model.num_parameters == gold["num_parameters"]


def test_padding_mask_changes_nothing_before_the_padding(fp32_case):
    _, model = fp32_case
    arrays, _ = goldens(fp32_case[0])
    ids, mask = arrays["input_ids"][2:3], arrays["attention_mask"][2:3]
    n = int(mask.sum())
    alone = np.asarray(model.logits(ids[:, :n]))
    padded = np.asarray(model.logits(ids, mask))[:, :n]
    np.testing.assert_allclose(padded, alone, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_bf16_load_matches_transformers_in_bf16(name):
    model = load_model(DATA / name, dtype="bfloat16")
    arrays, gold = goldens(name)
    assert model.dtype == "bfloat16"
    assert model.params["embed"].dtype == jnp.bfloat16
    ids, mask = arrays["input_ids"], arrays["attention_mask"]
    logits = np.asarray(model.logits(ids, mask).astype(jnp.float32))
    real = mask.astype(bool)
    # bfloat16 keeps 8 significant bits: allow a few units in the last place of logits up to ~30
    np.testing.assert_allclose(logits[real], arrays["logits_bf16"][real], atol=0.1, rtol=2**-5)
    np.testing.assert_allclose(row_losses(model, ids, mask), gold["row_loss_bf16"], atol=0.05)


def test_config_reads_both_rope_layouts_and_the_activation():
    old = load_model(
        DATA / "gemma_gqa_untied"
    ).config  # transformers-4 layout: top-level rope_theta
    new = load_model(DATA / "gemma_tied_rope5_sharded").config  # transformers-5: rope_parameters
    assert isinstance(old, GemmaConfig)
    assert (old.rope_theta, new.rope_theta) == (10000.0, 500000.0)
    assert (old.num_attention_heads, old.num_key_value_heads, old.head_dim) == (2, 1, 128)
    assert not old.tie_word_embeddings and new.tie_word_embeddings
    assert old.hidden_activation == "gelu_pytorch_tanh"


def test_sharded_index_and_tied_head_load():
    model = load_model(DATA / "gemma_tied_rope5_sharded")
    assert "lm_head" not in model.params
    assert len(list((DATA / "gemma_tied_rope5_sharded").glob("model-*.safetensors"))) > 1
    assert model.params["layers"]["q"].shape == (2, 64, 64)


def test_architecture_registry_lists_gemma_and_refuses_unknown():
    assert "gemma" in ARCHITECTURES.names()
    with pytest.raises(ModelLoadError, match=r"unknown architecture .*'llama'.*available: gemma"):
        ARCHITECTURES.get("llama")


def test_tokenizer_loads_and_must_fit_the_model():
    tok = load_tokenizer(DATA / "gemma_gqa_untied", vocab_size=320)
    assert tok.get_vocab_size() == 300
    assert tok.decode(tok.encode("café au lait").ids) == "café au lait"
    with pytest.raises(ModelLoadError, match=r"does not fit the model's vocab_size 256"):
        load_tokenizer(DATA / "gemma_gqa_untied" / "tokenizer.json", vocab_size=256)
    with pytest.raises(ModelLoadError, match=r"no tokenizer.json"):
        load_tokenizer(DATA / "gemma_mha_wide_heads")


def test_out_of_vocabulary_ids_are_refused(fp32_case):
    _, model = fp32_case
    with pytest.raises(ValueError, match=r"outside the model's vocabulary"):
        model.logits(np.array([[0, model.vocab_size]]))


# -- bad checkpoints ---------------------------------------------------------------------------------


def copy_model(tmp_path: Path, name: str = "gemma_gqa_untied") -> Path:
    folder = tmp_path / name
    shutil.copytree(DATA / name, folder)
    return folder


def edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model_type": "llama"}, "unknown architecture .*'llama'"),
        ({"hidden_activation": "silu"}, "unsupported hidden_activation 'silu'"),
        ({"hidden_activation": None, "hidden_act": "relu"}, "unsupported hidden_act 'relu'"),
        ({"attention_bias": True}, "unsupported attention_bias True"),
        ({"rope_theta": None, "rope_parameters": {"rope_type": "linear", "rope_theta": 1e4, "factor": 2.0}},
         "unsupported rope_parameters.rope_type 'linear'"),
        ({"num_key_value_heads": 3}, "num_key_value_heads 3 does not divide num_attention_heads 2"),
        ({"hidden_size": None}, "required field 'hidden_size' is missing"),
        ({"head_dim": None}, "required field 'head_dim' is missing"),
        ({"num_key_value_heads": None}, "required field 'num_key_value_heads' is missing"),
        ({"num_hidden_layers": "2"}, "num_hidden_layers '2' is not a positive integer"),
        ({"hidden_size": 128}, "tensor 'model.layers.0.input_layernorm.weight' has shape"),
        ({"num_hidden_layers": 3}, "tensor 'model.layers.2.input_layernorm.weight' is missing"),
    ],
)  # fmt: skip
def test_unsupported_or_inconsistent_config_names_the_field(tmp_path, changes, message):
    folder = copy_model(tmp_path)
    edit_config(folder, **changes)
    with pytest.raises(ModelLoadError, match=message) as info:
        load_model(folder)
    assert isinstance(info.value, GemstonesInputError)  # the CLI turns it into exit 2
    assert "\n" not in str(info.value)


def test_missing_shard_is_named(tmp_path):
    folder = copy_model(tmp_path, "gemma_tied_rope5_sharded")
    (folder / "model-00003-of-00005.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"missing shard 'model-00003-of-00005.safetensors'"):
        load_model(folder)


def test_corrupt_header_is_named(tmp_path):
    folder = copy_model(tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes((10**12).to_bytes(8, "little") + data[8:])
    with pytest.raises(ModelLoadError, match=r"corrupt safetensors file 'model.safetensors'"):
        load_model(folder)
    (folder / "model.safetensors").write_bytes(data[:8] + b"{garbage" + data[16:])
    with pytest.raises(ModelLoadError, match=r"corrupt safetensors file"):
        load_model(folder)


def test_untied_config_without_lm_head_is_refused(tmp_path):
    folder = copy_model(tmp_path, "gemma_tied_rope5_sharded")
    edit_config(folder, tie_word_embeddings=False)
    with pytest.raises(ModelLoadError, match=r"no 'lm_head.weight'"):
        load_model(folder)


def test_missing_files_and_bad_dtype(tmp_path):
    with pytest.raises(ModelLoadError, match=r"does not exist"):
        load_model(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match=r"no config.json"):
        load_model(empty)
    folder = copy_model(tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"no weights in"):
        load_model(folder)
    with pytest.raises(ModelLoadError, match=r"unknown dtype 'float16'"):
        load_model(DATA / "gemma_gqa_untied", dtype="float16")


def test_weight_reader_without_index_reads_every_file(tmp_path):
    folder = copy_model(tmp_path, "gemma_tied_rope5_sharded")
    (folder / "model.safetensors.index.json").unlink()
    reader = WeightReader(folder)
    assert "model.norm.weight" in reader
    assert len(reader.names()) == 20  # 9 per layer x 2, embeddings, final norm
    fresh = load_model(folder)
    reference = load_model(DATA / "gemma_tied_rope5_sharded")
    ids = np.arange(12).reshape(2, 6)
    np.testing.assert_allclose(
        np.asarray(fresh.logits(ids)), np.asarray(reference.logits(ids)), atol=1e-6
    )


def test_token_logprobs_are_the_log_softmax_of_the_logits(fp32_case):
    _, model = fp32_case
    arrays, _ = goldens(fp32_case[0])
    ids, mask = arrays["input_ids"], arrays["attention_mask"]
    targets = np.roll(ids, -1, axis=1)
    logits = np.asarray(model.logits(ids, mask), dtype=np.float64)
    logits -= logits.max(-1, keepdims=True)
    want = np.take_along_axis(logits, targets[..., None], -1)[..., 0] - np.log(
        np.exp(logits).sum(-1)
    )
    got = np.asarray(model.token_logprobs(ids, targets, mask))
    np.testing.assert_allclose(got[mask.astype(bool)], want[mask.astype(bool)], atol=1e-4)


def test_chunked_vocabulary_projection_matches_the_whole_one():
    rng = np.random.default_rng(0)
    hidden = jnp.asarray(rng.standard_normal((2, 13, 8)), dtype=jnp.float32)
    weight = jnp.asarray(rng.standard_normal((50, 8)), dtype=jnp.float32)
    targets = jnp.asarray(rng.integers(0, 50, (2, 13)))
    logits = np.asarray(hidden @ weight.T, dtype=np.float64)
    logz = np.log(np.exp(logits).sum(-1))
    want = np.take_along_axis(logits, np.asarray(targets)[..., None], -1)[..., 0] - logz
    for chunk in (1, 4, 5, 13, 256):  # chunks that do and do not divide the 13 positions
        got = np.asarray(_chunked_logprobs(hidden, weight, targets, chunk))
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_config_json_that_is_not_an_object_is_refused(tmp_path):
    folder = copy_model(tmp_path)
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match=r"expected a JSON object"):
        load_model(folder)
    (folder / "config.json").write_text("{oops")
    with pytest.raises(ModelLoadError, match=r"not valid JSON"):
        load_model(folder)


def test_loading_and_scoring_never_import_torch():
    code = (
        "import sys; from gemstones.models import load_model; import gemstones.evaluate.metrics; "
        f"load_model({str(DATA / 'gemma_tied_rope5_sharded')!r}); "
        "print(sorted(m for m in ('torch', 'transformers', 'flax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("block", [5, 8])
def test_blockwise_attention_matches_transformers(monkeypatch, block):
    """Blocks of queries smaller than the 24-token goldens, so several blocks (and a ragged last
    one) meet the causal and padding masks."""
    from gemstones.models import gemma

    monkeypatch.setattr(gemma, "ATTENTION_BLOCK", block)
    model = load_model(DATA / "gemma_gqa_untied")
    arrays, _ = goldens("gemma_gqa_untied")
    ids, mask = jnp.asarray(arrays["input_ids"]), jnp.asarray(arrays["attention_mask"])
    logits = np.asarray(gemma.forward(model.params, ids, mask, model.config))
    real = arrays["attention_mask"].astype(bool)
    np.testing.assert_allclose(logits[real], arrays["logits_fp32"][real], atol=1e-4, rtol=1e-5)
