"""The tiny recurrent-depth model: architecture arithmetic, truncated backprop, a short real run."""

from __future__ import annotations

import numpy as np
import pytest

from fitting.recurrent_compute import forward_flops_per_token
from gemstones.errors import GemstonesInputError
from gemstones.runs import recurrent
from gemstones.ttc.ingest import read_results


@pytest.fixture(scope="module")
def trained():
    config = recurrent.RecurrentRunConfig(length=8, train_steps=350, seed=0)
    return recurrent.train(config)


def test_parameter_count_matches_the_architecture_arithmetic():
    config = recurrent.RecurrentRunConfig(hidden=24)
    params = recurrent.init_params(config, 0)
    arch = recurrent.architecture(config)
    assert sum(int(np.asarray(v).size) for v in params.values()) == arch.total_parameters()
    assert forward_flops_per_token(arch, 3) == 2 * 2 * 24 + 3 * 2 * (
        arch.core_parameters() + arch.adapter_parameters()
    )


def test_truncated_forward_equals_the_full_forward_in_value():
    import jax
    import jax.numpy as jnp

    full_fn = jax.jit(recurrent.forward)
    truncated_fn = jax.jit(recurrent.forward_truncated, static_argnums=3)
    config = recurrent.RecurrentRunConfig(length=8, hidden=16)
    params = recurrent.init_params(config, 1)
    bits, _ = recurrent.parity_batch(np.random.default_rng(0), 4, 8)
    for r in (1, 3, 9):
        full = full_fn(params, jnp.asarray(bits), r)
        truncated = truncated_fn(params, jnp.asarray(bits), r, 4)
        np.testing.assert_allclose(np.asarray(full), np.asarray(truncated), rtol=1e-5, atol=1e-5)


def test_parity_targets_are_prefix_parities():
    bits, targets = recurrent.parity_batch(np.random.default_rng(0), 3, 10)
    for row, target in zip(bits, targets, strict=True):
        assert target.tolist() == [sum(row[: i + 1]) % 2 for i in range(10)]


def test_a_short_run_climbs_from_near_chance(trained):
    acc = recurrent.accuracy_by_r(trained, [1, 2, 16])
    assert acc[1] < 0.62  # near chance: only the first position is knowable after one step
    assert acc[16] > acc[1] + 0.2
    assert acc[16] > 0.8
    exits = recurrent.adaptive_exit(trained, [1.0, 1e-7], max_r=16)
    assert exits[0].mean_steps < exits[1].mean_steps <= 16
    assert exits[1].accuracy >= exits[0].accuracy


def test_results_files_round_trip_through_ingestion(trained, tmp_path):
    accuracies = {1: 0.55, 4: 0.8, 16: 0.99}
    files = recurrent.write_results(trained.config, accuracies, tmp_path)
    frame = read_results(tmp_path / recurrent.RESULTS_DIR)
    assert len(files) == 3
    assert dict(zip(frame["r"], frame["value"], strict=True)) == accuracies
    assert frame["task"].unique().to_list() == ["parity_len8"]
    assert frame["n"].unique().to_list() == [trained.config.eval_sequences * 8]
    arch = recurrent.architecture(trained.config)
    assert frame["flops_per_token"].to_list() == [
        float(forward_flops_per_token(arch, r)) for r in (1, 4, 16)
    ]


def test_save_load_and_mismatched_settings(trained, tmp_path):
    recurrent.save_model(trained, tmp_path)
    loaded = recurrent.load_model(tmp_path, expected=trained.config)
    assert loaded is not None
    np.testing.assert_array_equal(loaded.params["adapter"], trained.params["adapter"])
    other = recurrent.RecurrentRunConfig(length=8, train_steps=351, seed=0)
    with pytest.raises(GemstonesInputError, match="train_steps"):
        recurrent.load_model(tmp_path, expected=other)


def test_r_lists_and_bad_settings():
    assert recurrent.parse_r_list("1,2,4,...,64") == [1, 2, 4, 8, 16, 32, 64]
    assert recurrent.parse_r_list("2,4,6,...,12") == [2, 4, 6, 8, 10, 12]
    assert recurrent.parse_r_list("8,1,3") == [1, 3, 8]
    for bad in ("0,1", "a,b", "1,...", ""):
        with pytest.raises(GemstonesInputError):
            recurrent.parse_r_list(bad)
    with pytest.raises(GemstonesInputError, match="unknown task"):
        recurrent.RecurrentRunConfig(task="addition")
