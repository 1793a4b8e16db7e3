"""The small Huginn language model on real text: truncated backprop, the r sampler, a short real run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gemstones.errors import GemstonesInputError
from gemstones.models import huginn
from gemstones.runs import recurrent_lm as lm
from gemstones.ttc.ingest import read_results

SMALL = lm.RecurrentLMConfig(
    n_embd=32,
    n_heads=2,
    prelude=1,
    core=1,
    coda=1,
    mlp=64,
    seq_len=32,
    batch_size=8,
    train_steps=120,
    mean_recurrence=4,
    backprop_depth=2,
    learning_rate=5e-3,
    corpus_bytes=100_000,
    eval_sequences=24,
)


def test_the_recurrence_sampler_follows_the_poisson_lognormal_schedule():
    rng = np.random.default_rng(0)
    draws = np.array([lm.sample_recurrence(rng, 32, 8) for _ in range(4000)])
    free, grad = draws[:, 0], draws[:, 1]
    total = free + grad
    # E[p] = mean + 1 (Poisson of a log-normal rate of mean 32, plus one)
    assert abs(total.mean() - 33) < 1.0
    assert total.min() >= 1 and grad.max() == 8 and (grad == np.minimum(total, 8)).all()
    # heavier tail than a Poisson alone (the log-normal rate has sigma 1/2)
    assert total.std() > 1.5 * math.sqrt(33)


@pytest.mark.slow
def test_truncated_forward_equals_the_inference_forward_in_value():
    import jax
    import jax.numpy as jnp

    hc = SMALL.huginn_config()
    params = huginn.init_params(hc, 1)
    ids = np.random.default_rng(0).integers(0, 256, (2, 8)).astype(np.int32)
    state = huginn.initial_state(hc, (2, 8, hc.n_embd), 5)
    full = huginn.huginn_logits(params, hc, ids, num_steps=5, init_state=state).logits
    fn = jax.jit(lm.forward_truncated, static_argnums=(1, 6))
    for free, grad in ((3, 2), (4, 1)):
        truncated = fn(params, hc, jnp.asarray(ids), state, free, grad, 2)
        np.testing.assert_allclose(np.asarray(truncated), np.asarray(full), atol=1e-5)

    # gradients reach only through the last grad_steps iterations: with all iterations free
    # (grad_steps = 0) nothing flows into the core
    grad_fn = jax.jit(
        jax.grad(lambda p, free, grad: fn(p, hc, jnp.asarray(ids), state, free, grad, 2).sum())
    )

    def core_grad(free, grad):
        g = grad_fn(params, free, grad)
        return float(jnp.abs(g["core_block"][0]["mlp.fc.weight"]).sum())

    assert core_grad(5, 0) == 0.0 and core_grad(3, 2) > 0.0


@pytest.fixture(scope="module")
def trained():
    return lm.train(SMALL)


@pytest.mark.slow
def test_held_out_loss_falls_with_recurrence_after_a_short_real_training(trained):
    assert trained.final_loss < math.log(256) - 1.5  # learnt byte statistics: well below uniform
    points = {p.r: p for p in lm.curve(trained, [1, 2, 4, 8])}
    # one recurrence from a random state is worse than several; more never hurts much
    assert points[4].loss < points[1].loss - 0.01
    assert points[8].loss < points[1].loss - 0.01
    assert points[8].loss < points[4].loss + 0.02
    assert points[1].n == SMALL.eval_sequences * SMALL.seq_len


@pytest.mark.slow
def test_run_writes_files_that_the_curve_readers_read_and_reloads(trained, tmp_path):
    lm.save(trained, tmp_path)
    result = lm.run(SMALL, [1, 2, 4], tmp_path, exit_settings=[("kl", 1e-2), ("none", 0.0)])
    assert result.loaded
    frame = read_results([tmp_path / lm.CURVE_FILE])
    acc = frame.filter(frame["metric"] == "acc").sort("r")
    assert acc["r"].to_list() == [1, 2, 4]
    assert (acc["flops_per_token"].diff().drop_nulls() > 0).all()
    kl, none = result.exits
    assert none.mean_steps == 4.0 and 1.0 <= kl.mean_steps <= 4.0
    np.testing.assert_allclose(none.loss, result.points[-1].loss, rtol=1e-6)
    with pytest.raises(GemstonesInputError, match="other settings"):
        lm.run(lm.RecurrentLMConfig(**{**SMALL.__dict__, "seed": 1}), [1], tmp_path)


def test_bad_settings_name_the_value():
    with pytest.raises(GemstonesInputError, match="train_steps=0"):
        lm.RecurrentLMConfig(train_steps=0)
    with pytest.raises(GemstonesInputError, match="n_heads=5"):
        lm.RecurrentLMConfig(n_heads=5)
