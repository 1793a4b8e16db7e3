"""Architecture arithmetic against the upstream tables."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from registry.suites.gemstones import architecture as arch
from registry.suites.gemstones.build import read_paper_set


@pytest.fixture(scope="module")
def upstream_shapes() -> pl.DataFrame:
    return (
        read_paper_set("hot_100b+_477").select("width", "depth", "params_active_precise").unique()
    )


def test_parameter_count_equals_params_active_precise_for_all_22_shapes(
    upstream_shapes: pl.DataFrame,
) -> None:
    assert upstream_shapes.height == 22
    ours = arch.parameter_count(
        upstream_shapes["width"].to_numpy(), upstream_shapes["depth"].to_numpy()
    )
    np.testing.assert_array_equal(ours, upstream_shapes["params_active_precise"].to_numpy())


def test_parameter_count_example_from_design() -> None:
    assert arch.parameter_count(1024, 28) == 543_482_880


def test_kv_groups_are_whole_for_three_heads() -> None:
    # width 384 has 3 heads of 128 and one KV group; half a group would add 13 * 49,152 parameters.
    assert arch.parameter_count(384, 13) == 66_758_784


def test_non_embedding_drops_embedding_and_head() -> None:
    assert (
        arch.parameter_count(1024, 28) - arch.non_embedding_parameter_count(1024, 28)
        == 2 * 50_304 * 1024
    )


def test_tokens_per_step() -> None:
    assert arch.TOKENS_PER_STEP == 4_194_304
    assert arch.tokens_at_step(2385) == 10_003_415_040
    table = read_paper_set("hot")
    np.testing.assert_array_equal(
        arch.tokens_at_step(table["step"].to_numpy()), table["tokens"].to_numpy()
    )


def test_flops_per_token_exceeds_six_n_by_attention_and_is_vectorised() -> None:
    widths = np.array([256, 1024, 3072])
    depths = np.array([23, 28, 12])
    per_token = arch.flops_per_token(widths, depths)
    assert per_token.shape == (3,)
    # The input embedding is a lookup, not a matmul: 6N without it is a lower bound, and the
    # attention scores add a sequence-length term on top.
    six_n_matmul = 6 * (
        arch.parameter_count(widths, depths) - arch.embedding_parameter_count(widths)
    )
    assert np.all(per_token > six_n_matmul)
    assert np.all(per_token < 2.0 * six_n_matmul)
    # Attention matters more for narrow models: the ratio falls with width.
    ratio = per_token / six_n_matmul
    assert ratio[0] > ratio[1] > ratio[2]
    assert per_token[1] == pytest.approx(arch.flops_per_token(1024, 28))


def test_flops_per_token_known_value() -> None:
    # Hand evaluation of the DESIGN.md formula for 1024x28 (T = 2048, V = 50304).
    w, d, t, v, h = 1024.0, 28.0, 2048.0, 50304.0, 128.0
    nq = nkv = w / h
    f = 4 * w
    p = 2 * t * (nq + nkv) * w * h + 3.5 * t * (nq + nkv / 2) * h
    s = t * t * h * nq + 3 * t * t * nq + 2 * t * t * h * nq
    o = 2 * t * w * h * nq
    m = 6 * t * w * f + 10 * t * f + 2 * w * t
    r = 14 * w * t
    fwd = d * (p + s + o + m + r) + 7 * w * t + 2 * t * w * v
    bwd = d * (2 * p + 2.5 * s + 2 * o) + 2 * (d * (m + r) + 7 * w * t + 2 * t * w * v)
    assert arch.flops_per_token(1024, 28) == pytest.approx((fwd + bwd) / t, rel=1e-15)


def test_gpu_hours() -> None:
    assert arch.gpu_hours(1.5, 100, 2) == pytest.approx(1.5 * 100 * 2 * 8 / 3600)


def test_heads_are_whole_for_widths_off_the_suite() -> None:
    # Widths on the paper's search grid need not be multiples of 128: heads truncate to int(w/128).
    # 300x10: 2 heads, 1 KV group; per block 300*(2+2)*128 + 128*2*300 + 3*300*1200 + 600 = 1,311,000;
    # plus embedding and LM head 2*50304*300 and the final norm 300.
    assert arch.parameter_count(300, 10) == 10 * 1_311_000 + 2 * 50_304 * 300 + 300 == 43_292_700
