"""Small JAX runs on the standard-library corpus record the second-moment SNR of every tensor."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from fitting.snr_trends import SWEEP_COLUMNS
from gemstones.errors import GemstonesInputError
from gemstones.runs.corpus import load_stdlib_corpus, sample_batch
from gemstones.runs.transformer import TransformerConfig
from gemstones.snr.slimadam import second_moment_size
from gemstones.snr.sweep import (
    RunSpec,
    build_optimizer,
    record_schedule,
    run_sweep,
    sweep_specs,
    train,
)


def test_corpus_is_real_deterministic_python_source() -> None:
    corpus = load_stdlib_corpus(200_000)
    assert corpus.n_tokens == 200_000
    assert corpus.files[0] == "__future__.py"
    text = bytes(corpus.train[:20_000]).decode("utf-8", errors="replace")
    assert "def " in text and "import " in text
    again = load_stdlib_corpus.__wrapped__(200_000)
    np.testing.assert_array_equal(corpus.train, again.train)
    batch = sample_batch(corpus.train, 4, 32, np.random.default_rng(0))
    assert batch.shape == (4, 33) and batch.dtype == np.int32 and batch.max() < 256


def test_record_schedule_starts_at_one_and_ends_at_the_last_step() -> None:
    assert record_schedule(300, 4) == (1, 100, 200, 300)
    assert record_schedule(5, 1) == (5,)
    assert record_schedule(3, 8) == (1, 2, 3)


def test_bad_run_settings_are_rejected() -> None:
    with pytest.raises(GemstonesInputError, match="steps"):
        RunSpec(steps=0)
    with pytest.raises(GemstonesInputError, match="multiple of head_dim"):
        TransformerConfig(width=40)
    with pytest.raises(GemstonesInputError, match="at least one width"):
        sweep_specs([], [1], [1e-3], RunSpec())


@pytest.fixture(scope="module")
def tiny_sweep() -> tuple[pl.DataFrame, pl.DataFrame]:
    spec = RunSpec(width=16, depth=1, steps=20, batch_size=8, seq_len=32, n_records=3)
    return run_sweep(sweep_specs([16], [1], [1e-2], spec))


def test_tiny_runs_record_finite_snr_for_every_tensor(tiny_sweep) -> None:
    table, runs = tiny_sweep
    assert table.columns == list(SWEEP_COLUMNS)
    assert runs["run"].to_list() == ["w16_d1_lr0.01"]
    first = table.filter(pl.col("run") == "w16_d1_lr0.01")
    tensors = set(first["tensor"])
    assert len(tensors) == 12  # wte, wpe, ln_1, q, k, v, o, ln_2, up, down, ln_f, lm_head
    assert sorted(first["step"].unique()) == [1, 10, 20]
    types = dict(first.select("tensor", "layer_type").unique().iter_rows())
    assert types["h.0.attn.q_proj.kernel"] == "attention_query"
    assert types["h.0.mlp.down_proj.kernel"] == "mlp_down"
    assert types["wpe"] == "position_embedding" and types["ln_f.scale"] == "norm"
    # every tensor, every candidate, every recorded step: a finite positive SNR
    assert table.height == 3 * (9 * 3 + 3 * 1)  # 9 matrices x 3 candidates, 3 norms x 1
    assert table["snr"].is_finite().all() and (table["snr"] > 0).all()
    assert runs["final_train_loss"][0] < math.log(256) - 0.5  # well below uniform over bytes


def test_slimadam_training_lowers_the_loss_with_a_smaller_state() -> None:
    spec = RunSpec(width=16, depth=1, steps=20, batch_size=8, seq_len=32, lr=1e-2, n_records=1)

    def rule(name: str, param) -> tuple[int, ...] | None:
        return (0,) if param.ndim == 2 else None

    slim = train(spec, rules=rule, slim=True, record_snr=False)
    assert slim.losses[-5:].mean() < slim.losses[:5].mean() - 0.5
    adamw_state = build_optimizer(spec).init(slim.params)
    kept = second_moment_size(slim.opt_state).entries
    # rule (0,) keeps axis 1: wte 16, wpe 16, q/k/v/o 4 x 16, up 64, down 16, lm_head 256; 3 norms of 16
    assert kept == 16 + 16 + 4 * 16 + 64 + 16 + 256 + 3 * 16
    assert second_moment_size(adamw_state).entries == slim.n_params
