"""SNR statistic, rule derivation and the upstream SlimAdam reference (GPT-2 small, lr 3e-4)."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from fitting.errors import FitInputError
from fitting.snr import (
    FLAX_DENSE,
    TORCH_LINEAR,
    candidate_axes,
    choose_rule,
    classify_layer,
    compression_summary,
    convert_rule,
    convert_rules,
    derive_rules,
    format_axes,
    is_norm,
    mean_snr_over_steps,
    parse_axes,
    parse_shape,
    rule_differences,
    second_moment_entries,
    snr,
    tensor_shapes,
)
from fitting.snr_trends import compressibility, fit_snr_trends
from gemstones.errors import GemstonesInputError
from gemstones.snr.io import (
    read_layer_map,
    read_rules_json,
    read_snr_csv,
    rules_to_json,
    write_snr_csv,
)
from registry.embedded import embedded_path

REFERENCE = embedded_path("upstream", "slimadam")
SNR_CSV = REFERENCE / "snr_data" / "gpt2-small_fineweb-edu_adam_lr3e-4_T5000.csv"
RULES_JSON = REFERENCE / "rules" / "slimadam_C1.0_rules_from_lr3e-4.json"


@pytest.fixture(scope="module")
def reference_frame() -> pl.DataFrame:
    return read_snr_csv(SNR_CSV)


@pytest.fixture(scope="module")
def layer_map() -> dict[str, list[str]]:
    return read_layer_map(REFERENCE / "layer_map.json")


# --- the statistic -------------------------------------------------------------------------------


def test_separable_second_moment_has_analytic_snr() -> None:
    v = np.outer([1.0, 3.0], [1.0, 2.0, 3.0, 4.0])
    assert snr(v, (1,)) == pytest.approx(5.0, rel=1e-12)  # mean(b)^2/var(b) = 6.25/1.25
    assert snr(v, (0,)) == pytest.approx(4.0, rel=1e-12)  # mean(a)^2/var(a) = 4/1
    assert snr(v, (0, 1)) == pytest.approx(2.0, rel=1e-12)  # 25/12.5


@pytest.mark.parametrize("scale", [1e-12, 0.37, 1e6])
def test_snr_is_invariant_to_scaling(scale: float) -> None:
    rng = np.random.default_rng(0)
    v = rng.gamma(2.0, size=(5, 7, 3))
    for axes in candidate_axes(3):
        assert snr(scale * v, axes) == pytest.approx(snr(v, axes), rel=1e-9)


def test_non_finite_ratios_are_dropped_and_all_non_finite_is_nan() -> None:
    v = np.array([[1.0, 1.0], [1.0, 3.0]])  # row 0 has zero variance -> dropped; row 1: 4/1
    assert snr(v, (1,)) == pytest.approx(4.0)
    assert math.isnan(snr(np.ones((3, 4)), (1,)))
    assert math.isnan(snr(np.zeros((3, 4)), (0, 1)))
    assert choose_rule({(0,): math.nan, (1,): math.nan, (0, 1): math.nan}) is None


def test_snr_uses_population_variance() -> None:
    x = np.array([1.0, 2.0, 3.0, 6.0])
    assert snr(x, (0,)) == pytest.approx(x.mean() ** 2 / x.var(ddof=0))


def test_candidates_are_all_non_empty_subsets() -> None:
    assert candidate_axes(1) == ((0,),)
    assert candidate_axes(2) == ((0,), (1,), (0, 1))
    assert len(candidate_axes(3)) == 7 and candidate_axes(3)[-1] == (0, 1, 2)
    with pytest.raises(FitInputError):
        candidate_axes(0)


def test_rule_needs_snr_strictly_above_cutoff_and_takes_the_largest() -> None:
    assert choose_rule({(0,): 1.0, (1,): 0.5}) is None
    assert choose_rule({(0,): 1.5, (1,): 3.0, (0, 1): 2.0}) == (1,)
    assert choose_rule({(0,): 3.0, (1,): 3.0}) == (0,)
    assert choose_rule({(0,): 1.5}, cutoff=2.0) is None
    with pytest.raises(FitInputError, match="cutoff"):
        choose_rule({(0,): 1.5}, cutoff=-1.0)


def test_mean_over_steps_is_arithmetic_and_skips_nan_steps() -> None:
    frame = pl.DataFrame(
        {
            "step": [1, 2, 3, 1, 2],
            "tensor": ["w"] * 5,
            "shape": ["(2, 2)"] * 5,
            "axes": ["(0,)"] * 3 + ["(1,)"] * 2,
            "snr": [1.0, 2.0, math.nan, 0.5, 0.5],
        }
    )
    means = mean_snr_over_steps(frame)
    assert means.filter(pl.col("axes") == "(0,)")["snr"][0] == pytest.approx(1.5)
    assert derive_rules(frame) == {"w": (0,)}


# --- the upstream reference ---------------------------------------------------------------------


def test_reference_rules_are_reproduced_exactly(reference_frame: pl.DataFrame, layer_map) -> None:
    rules = derive_rules(reference_frame, 1.0, never_compress=lambda n: is_norm(n, layer_map))
    reference = read_rules_json(RULES_JSON)
    assert len(rules) == len(reference) == 99
    assert rule_differences(rules, reference) == []
    assert sum(r is None for r in rules.values()) == 26
    assert rules_to_json(rules) == RULES_JSON.read_text()  # byte-identical file


def test_reference_saving_is_99_40_percent(reference_frame: pl.DataFrame) -> None:
    summary = compression_summary(read_rules_json(RULES_JSON), tensor_shapes(reference_frame))
    assert summary.total_entries == 124_373_760
    assert summary.kept_entries == 749_440
    assert summary.compressed_tensors == 73
    assert 100 * summary.fraction_saved == pytest.approx(99.40, abs=0.005)


def test_norms_are_never_compressed_even_with_high_snr(reference_frame, layer_map) -> None:
    plain = derive_rules(reference_frame, 1.0)
    guarded = derive_rules(reference_frame, 1.0, never_compress=lambda n: is_norm(n, layer_map))
    assert plain["transformer.ln_f.weight"] == (0,)  # its mean SNR is 5.69 > 1
    assert guarded["transformer.ln_f.weight"] is None
    assert "transformer.h.2.attn.q_proj.weight" in [n for n, r in guarded.items() if r is None]


def test_reference_csv_axes_and_shapes_are_parsed(reference_frame: pl.DataFrame) -> None:
    assert reference_frame.columns[:5] == ["step", "tensor", "shape", "axes", "snr"]
    assert reference_frame.height == 12_597
    shapes = tensor_shapes(reference_frame)
    assert shapes["transformer.wte.weight"] == (50304, 768)
    assert shapes["transformer.h.0.ln_1.weight"] == (768,)
    assert set(reference_frame["axes"].unique()) == {"(0,)", "(1,)", "(0, 1)"}


def test_csv_round_trip(tmp_path, reference_frame: pl.DataFrame) -> None:
    small = reference_frame.head(50)
    back = read_snr_csv(write_snr_csv(small, tmp_path / "snr.csv"))
    assert back.select("step", "tensor", "shape", "axes", "snr").equals(
        small.select("step", "tensor", "shape", "axes", "snr")
    )


def test_bad_files_raise_input_errors(tmp_path) -> None:
    with pytest.raises(GemstonesInputError, match="does not exist"):
        read_snr_csv(tmp_path / "missing.csv")
    (tmp_path / "wrong.csv").write_text("a,b\n1,2\n")
    with pytest.raises(GemstonesInputError, match="lacks column"):
        read_snr_csv(tmp_path / "wrong.csv")
    (tmp_path / "rules.json").write_text(json.dumps({"w": [0, "x"]}))
    with pytest.raises(GemstonesInputError, match="rule of 'w'"):
        read_rules_json(tmp_path / "rules.json")
    with pytest.raises(FitInputError, match="bad axes"):
        parse_axes("0,1")


def test_text_forms_round_trip() -> None:
    assert format_axes((0, 1)) == "(0, 1)" and parse_axes("(0, 1)") == (0, 1)
    assert format_axes([1]) == "(1,)" and parse_axes("(1,)") == (1,)
    assert parse_shape("(768,)") == (768,)


# --- memory and layouts -------------------------------------------------------------------------


def test_second_moment_entries_keep_the_complement() -> None:
    assert second_moment_entries((3072, 768), (0,)) == 768
    assert second_moment_entries((3072, 768), (1,)) == 3072
    assert second_moment_entries((3072, 768), (0, 1)) == 1
    assert second_moment_entries((3072, 768), None) == 3072 * 768


def test_layout_conversion_is_by_axis_name() -> None:
    # PyTorch Linear (out, in): compressing axis 0 averages over fan_out -> flax kernel axis 1.
    assert convert_rule((0,), TORCH_LINEAR, FLAX_DENSE) == (1,)
    assert convert_rule((1,), TORCH_LINEAR, FLAX_DENSE) == (0,)
    assert convert_rule((0, 1), TORCH_LINEAR, FLAX_DENSE) == (0, 1)
    assert convert_rule(None, TORCH_LINEAR, FLAX_DENSE) is None
    rules = {"wte.weight": (1,), "attn.q_proj.weight": (1,), "ln_1.weight": None}
    ndims = {"wte.weight": 2, "attn.q_proj.weight": 2, "ln_1.weight": 1}
    types = {
        "wte.weight": "token_embedding",
        "attn.q_proj.weight": "attention_query",
        "ln_1.weight": "norm",
    }
    assert convert_rules(rules, ndims, types) == {
        "wte.weight": (1,),  # embeddings are (rows, d_model) in both frameworks
        "attn.q_proj.weight": (0,),
        "ln_1.weight": None,
    }


def test_layer_types_follow_the_upstream_map(layer_map) -> None:
    assert (
        classify_layer("transformer.h.3.attn.output_proj.weight", layer_map) == "attention_output"
    )
    assert classify_layer("transformer.h.3.attn.c_proj.weight", layer_map) == "attention_output"
    assert classify_layer("transformer.h.3.mlp.c_proj.weight", layer_map) == "mlp_down"
    assert classify_layer("transformer.h.3.mlp.mlp_proj.weight", layer_map) == "mlp_down"
    assert classify_layer("transformer.ln_f.weight", layer_map) == "norm"
    assert classify_layer("wpe", layer_map) == "position_embedding"
    assert classify_layer("h.0.mlp.up_proj.kernel", layer_map) == "mlp_up"
    assert classify_layer("lm_head.kernel", layer_map) == "lm_head"


# --- trends across runs ---------------------------------------------------------------------------


def _sweep_frame(snr_of_run) -> pl.DataFrame:
    rows = []
    for width in (32, 64, 128):
        for lr in (1e-3, 1e-2):
            run = f"w{width}_lr{lr:g}"
            for step in (1, 2):
                for tensor, layer_type in (
                    ("h.0.attn.q_proj.kernel", "attention_query"),
                    ("ln", "norm"),
                ):
                    shape = "(4, 4)" if layer_type != "norm" else "(4,)"
                    axes_list = ["(0,)", "(1,)", "(0, 1)"] if layer_type != "norm" else ["(0,)"]
                    for axes in axes_list:
                        value = snr_of_run(width, lr) if axes == "(0,)" else 0.5
                        rows.append(
                            dict(
                                run=run,
                                width=width,
                                depth=2,
                                lr=lr,
                                step=step,
                                tensor=tensor,
                                layer_type=layer_type,
                                shape=shape,
                                axes=axes,
                                snr=value,
                            )
                        )
    return pl.DataFrame(rows)


def test_compressibility_and_trend_recover_a_known_power_law() -> None:
    frame = _sweep_frame(lambda w, lr: math.exp(0.2) * w**0.5 * lr**-0.3)
    summary = compressibility(frame)
    query = summary.filter(pl.col("layer_type") == "attention_query")
    assert query["fraction_saved"].to_list() == [0.75] * 6  # 16 entries -> 4 (fan_in averaged)
    assert set(query["best_axes"]) == {"fan_in"}
    everything = summary.filter(pl.col("layer_type") == "all")
    assert everything["fraction_saved"][0] == pytest.approx(12 / 20)
    trend = next(t for t in fit_snr_trends(summary) if t.layer_type == "attention_query")
    assert trend.variables == ("width", "lr")  # depth is constant and dropped
    assert trend.slope("width") == pytest.approx(0.5, abs=1e-9)
    assert trend.slope("lr") == pytest.approx(-0.3, abs=1e-9)
    assert trend.intercept == pytest.approx(0.2, abs=1e-9)
    assert trend.r_squared == pytest.approx(1.0)
