"""The JAX Huginn against golden logits of the reference PyTorch code (see data_huginn/PROVENANCE.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gemstones.errors import GemstonesInputError
from gemstones.models import huginn

DATA = Path(__file__).parent / "data_huginn"
MODELS = ("tiny_a", "tiny_b")
TOL = 1e-4


@pytest.fixture(scope="module", params=MODELS)
def tiny(request):
    model = huginn.load_huginn(DATA / request.param)
    with np.load(DATA / request.param / "goldens.npz") as goldens:
        return model, dict(goldens)


def test_every_recurrence_matches_the_reference_at_r_1_4_8(tiny):
    model, g = tiny
    out = huginn.huginn_logits(
        model.params,
        model.config,
        g["input_ids"],
        num_steps=8,
        init_state=g["init_state"],
        return_steps=True,
    )
    for r in (1, 4, 8):
        np.testing.assert_allclose(np.asarray(out.step_logits[r - 1]), g[f"logits_r{r}"], atol=TOL)
    np.testing.assert_allclose(np.asarray(out.logits), g["logits_r8"], atol=TOL)
    normed = huginn._rms_norm(out.latents, model.params["ln_f"], model.config.norm_eps)
    np.testing.assert_allclose(np.asarray(normed), g["latents_r8"], atol=TOL)


def test_a_single_r_forward_matches_the_reference(tiny):
    model, g = tiny
    out = huginn.huginn_logits(
        model.params, model.config, g["input_ids"], num_steps=4, init_state=g["init_state"]
    )
    np.testing.assert_allclose(np.asarray(out.logits), g["logits_r4"], atol=TOL)
    assert out.step_logits is None


@pytest.mark.slow
def test_incremental_decoding_with_the_cache_matches_the_full_reference_forward(tiny):
    model, g = tiny
    ids, state = g["input_ids"], g["init_state"]
    cache = huginn.init_cache(model.config, batch=ids.shape[0], max_len=ids.shape[1], max_steps=4)
    out, cache = huginn.huginn_cached(
        model.params, model.config, ids[:, :8], cache, num_steps=4, init_state=state[:, :8]
    )
    pieces = [np.asarray(out.logits)]
    for pos in range(8, ids.shape[1]):
        out, cache = huginn.huginn_cached(
            model.params,
            model.config,
            ids[:, pos : pos + 1],
            cache,
            num_steps=4,
            init_state=state[:, pos : pos + 1],
        )
        pieces.append(np.asarray(out.logits))
    assert int(cache.length) == ids.shape[1]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), g["logits_r4"], atol=TOL)


@pytest.mark.slow
def test_adaptive_exits_take_the_reference_steps_and_logits(tiny):
    model, g = tiny
    for criterion in ("kl", "latent-diff", "entropy-diff", "argmax-stability"):
        key = criterion.replace("-", "_")
        n = g[f"adaptive_{key}_steps"].size
        out = huginn.adaptive_forward(
            model.params,
            model.config,
            g["input_ids"][:1, :n],
            criterion=criterion,
            threshold=float(g[f"adaptive_{key}_threshold"]),
            max_steps=8,
            init_state=g["init_state"][:1, :n],
        )
        assert np.asarray(out.steps)[0].tolist() == g[f"adaptive_{key}_steps"].tolist(), criterion
        np.testing.assert_allclose(
            np.asarray(out.logits), g[f"adaptive_{key}_logits"], atol=TOL, err_msg=criterion
        )


@pytest.mark.slow
def test_a_batch_exits_per_sequence_as_the_reference_does_one_sequence():
    model = huginn.load_huginn(DATA / "tiny_a")
    with np.load(DATA / "tiny_a" / "goldens.npz") as g:
        ids, state = g["input_ids"][:, :10], g["init_state"][:, :10]
        steps, logits = g["adaptive_kl_steps"], g["adaptive_kl_logits"]
        threshold = float(g["adaptive_kl_threshold"])
    out = huginn.adaptive_forward(
        model.params,
        model.config,
        ids,
        criterion="kl",
        threshold=threshold,
        max_steps=8,
        init_state=state,
    )
    assert np.asarray(out.steps)[0].tolist() == steps.tolist()
    np.testing.assert_allclose(np.asarray(out.logits)[:1], logits, atol=TOL)
    assert np.asarray(out.steps).min() < 8 <= np.asarray(out.steps).max()
    # with a criterion that never fires every token runs max_steps: the plain forward at r = 8
    full = huginn.adaptive_forward(
        model.params, model.config, ids, criterion="none", max_steps=8, init_state=state
    )
    assert (np.asarray(full.steps) == 8).all()
    with np.load(DATA / "tiny_a" / "goldens.npz") as g:
        np.testing.assert_allclose(np.asarray(full.logits), g["logits_r8"][:, :10], atol=TOL)


@pytest.mark.slow
def test_the_initial_state_is_explicit():
    model = huginn.load_huginn(DATA / "tiny_a")
    ids = [[1, 2, 3]]
    with pytest.raises(GemstonesInputError, match="init_state=<array> or seed=<int>"):
        huginn.huginn_logits(model.params, model.config, ids, num_steps=2)
    a = huginn.huginn_logits(model.params, model.config, ids, num_steps=2, seed=3)
    b = huginn.huginn_logits(model.params, model.config, ids, num_steps=2, init_state=a.init_state)
    c = huginn.huginn_logits(model.params, model.config, ids, num_steps=2, seed=4)
    np.testing.assert_allclose(np.asarray(a.logits), np.asarray(b.logits), atol=1e-6)
    assert not np.allclose(np.asarray(a.logits), np.asarray(c.logits), atol=1e-3)
    # the reference's scale: a normal truncated at 3 std of std sqrt(2 / 5), i.e. std ~0.62
    state = np.asarray(huginn.initial_state(model.config, (4, 64, 64), seed=0))
    assert 0.55 < state.std() < 0.68 and np.abs(state).max() <= 3 * np.sqrt(2 / 5) + 1e-5


def test_bad_arguments_say_what_is_valid():
    model = huginn.load_huginn(DATA / "tiny_a")
    with pytest.raises(GemstonesInputError, match=r"valid token ids are 0\.\.255"):
        huginn.huginn_logits(model.params, model.config, [[1, 256]], num_steps=1, seed=0)
    with pytest.raises(GemstonesInputError, match="num_steps=0"):
        huginn.huginn_logits(model.params, model.config, [[1]], num_steps=0, seed=0)
    with pytest.raises(GemstonesInputError, match="init_state has shape"):
        huginn.huginn_logits(
            model.params, model.config, [[1]], num_steps=1, init_state=np.zeros((1, 2, 64))
        )
    cache = huginn.init_cache(model.config, batch=1, max_len=2, max_steps=2)
    with pytest.raises(GemstonesInputError, match="exceeds the cache's max_steps=2"):
        huginn.huginn_cached(model.params, model.config, [[1]], cache, num_steps=3, seed=0)
    with pytest.raises(GemstonesInputError, match="do not fit"):
        huginn.huginn_cached(model.params, model.config, [[1, 2, 3]], cache, num_steps=1, seed=0)
    with pytest.raises(GemstonesInputError, match="cache_lookup='some'; valid: full, latest"):
        huginn.adaptive_forward(
            model.params,
            model.config,
            [[1]],
            criterion="kl",
            max_steps=2,
            seed=0,
            cache_lookup="some",
        )
    with pytest.raises(GemstonesInputError, match="unknown exit criterion 'fast'"):
        huginn.adaptive_forward(
            model.params, model.config, [[1]], criterion="fast", max_steps=2, seed=0
        )


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(DATA / name, target)
    return target


def test_loading_errors_name_the_problem(tmp_path):
    folder = _copy("tiny_b", tmp_path)
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(
        GemstonesInputError, match=r"missing shard 'model-00002-of-00002\.safetensors'"
    ):
        huginn.load_huginn(folder)

    folder = _copy("tiny_a", tmp_path / "x")
    raw = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**raw, "n_embd": 32}))
    with pytest.raises(GemstonesInputError, match=r"tensor 'transformer\.wte\.weight' has shape"):
        huginn.load_huginn(folder)
    (folder / "config.json").write_text(json.dumps({**raw, "mlp_class_name": "BaseMLP"}))
    with pytest.raises(GemstonesInputError, match="mlp_class_name='BaseMLP' is not supported"):
        huginn.load_huginn(folder)
    (folder / "config.json").write_text(json.dumps({**raw, "model_type": "llama"}))
    with pytest.raises(GemstonesInputError, match="not a Huginn model"):
        huginn.load_huginn(folder)
    del raw["n_layers_in_coda"]
    (folder / "config.json").write_text(json.dumps(raw))
    with pytest.raises(GemstonesInputError, match="missing field"):
        huginn.load_huginn(folder)
    (folder / "config.json").write_text(json.dumps({**raw, "n_layers_in_coda": 1}))
    (folder / "model.safetensors").write_bytes(b"\x10\x00")
    with pytest.raises(GemstonesInputError, match=r"corrupt safetensors file 'model\.safetensors'"):
        huginn.load_huginn(folder)
    with pytest.raises(GemstonesInputError, match="not a checkpoint folder"):
        huginn.load_huginn(tmp_path / "nowhere")


def test_bfloat16_checkpoints_load(tmp_path):
    import ml_dtypes
    import safetensors.numpy

    folder = _copy("tiny_a", tmp_path)
    tensors = safetensors.numpy.load_file(folder / "model.safetensors")  # float32: numpy reads it
    header, chunks, offset = {}, [], 0
    for name, value in sorted(tensors.items()):
        data = np.asarray(value, np.float32).astype(ml_dtypes.bfloat16).tobytes()
        header[name] = {
            "dtype": "BF16",
            "shape": list(value.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    blob = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(
        len(blob).to_bytes(8, "little") + blob + b"".join(chunks)
    )
    model = huginn.load_huginn(folder, dtype="bfloat16")
    assert str(model.params["wte"].dtype) == "bfloat16"
    with np.load(DATA / "tiny_a" / "goldens.npz") as g:
        out = huginn.huginn_logits(
            model.params, model.config, g["input_ids"], num_steps=4, init_state=g["init_state"]
        )
        # bfloat16 keeps ~3 significant digits; the prediction is still the reference's
        agree = (np.asarray(out.logits).argmax(-1) == g["logits_r4"].argmax(-1)).mean()
    assert agree > 0.8


@pytest.mark.slow
def test_config_round_trips_and_init_params_have_the_checkpoint_shapes():
    model = huginn.load_huginn(DATA / "tiny_b")
    config = huginn.HuginnConfig.from_dict(model.config.to_dict())
    assert config == model.config
    params = huginn.init_params(config, seed=0)
    flat = huginn.params_to_tensors(config, params)
    assert {k: v.shape for k, v in flat.items()} == huginn.tensor_shapes(config)
    assert "lm_head.weight" in flat and "transformer.adapter.bias" in flat


@pytest.mark.slow
def test_published_layout_in_miniature_and_kv_reuse_under_exits_match_the_reference():
    """tiny_c has the published prelude 2 / core 4 / coda 2 layout, which the reference's
    "latest-m4" cache lookup assumes; ``cache_lookup="latest"`` is that lookup."""
    model = huginn.load_huginn(DATA / "tiny_c")
    with np.load(DATA / "tiny_c" / "goldens.npz") as g:
        g = dict(g)
    out = huginn.huginn_logits(
        model.params,
        model.config,
        g["input_ids"],
        num_steps=8,
        init_state=g["init_state"],
        return_steps=True,
    )
    for r in (1, 4, 8):
        np.testing.assert_allclose(np.asarray(out.step_logits[r - 1]), g[f"logits_r{r}"], atol=TOL)
    for lookup, key in (("full", "adaptive_kl"), ("latest", "adaptive_kl_latest")):
        n = g[f"{key}_steps"].size
        adaptive = huginn.adaptive_forward(
            model.params,
            model.config,
            g["input_ids"][:1, :n],
            criterion="kl",
            threshold=float(g[f"{key}_threshold"]),
            max_steps=8,
            init_state=g["init_state"][:1, :n],
            cache_lookup=lookup,
        )
        assert np.asarray(adaptive.steps)[0].tolist() == g[f"{key}_steps"].tolist(), lookup
        np.testing.assert_allclose(
            np.asarray(adaptive.logits), g[f"{key}_logits"], atol=TOL, err_msg=lookup
        )
    # the two lookups differ once a token has exited before a later token's last recurrence
    assert not np.allclose(g["adaptive_kl_logits"], g["adaptive_kl_latest_logits"], atol=1e-2)
