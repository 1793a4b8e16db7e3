"""Compute axes of recurrent-depth models: Huginn-0125's published figures from its layer sizes."""

from __future__ import annotations

import numpy as np
import pytest

from fitting.errors import FitInputError
from fitting.recurrent_compute import (
    HUGINN_0125,
    RecurrentDepthArchitecture,
    forward_flops_per_token,
    materialised_parameters,
)


def test_huginn_parameter_breakdown_matches_the_reference():
    assert HUGINN_0125.layer_parameters() == 395_398_080
    assert HUGINN_0125.core_parameters() == 1_581_592_320
    assert HUGINN_0125.prelude_parameters() == 790_796_160
    assert HUGINN_0125.coda_parameters() == 790_796_160
    assert HUGINN_0125.adapter_parameters() == 55_756_800
    assert HUGINN_0125.embedding_parameters() == 346_030_080
    assert HUGINN_0125.total_parameters() == 3_564_976_800


def test_huginn_materialised_parameters_are_affine_in_r():
    r = np.array([0, 1, 4, 32])
    expected = 1_983_384_480 + r * 1_581_592_320
    np.testing.assert_array_equal(materialised_parameters(HUGINN_0125, r), expected)
    assert materialised_parameters(HUGINN_0125, 32) == pytest.approx(52.6e9, rel=1e-3)


def test_huginn_forward_flops_per_token_match_published_digits():
    base = float(forward_flops_per_token(HUGINN_0125, 0))
    slope = float(forward_flops_per_token(HUGINN_0125, 1)) - base
    assert base / 1e9 == pytest.approx(3.8552, abs=5e-5)  # the published 4 digits
    assert slope / 1e9 == pytest.approx(3.2747, abs=5e-5)
    assert forward_flops_per_token(HUGINN_0125, 32) == pytest.approx(base + 32 * slope)


def test_attention_adds_4_h_T_per_attention_layer():
    r, t = 8, 1024
    extra = forward_flops_per_token(HUGINN_0125, r, context_length=t) - forward_flops_per_token(
        HUGINN_0125, r
    )
    assert extra == pytest.approx(4 * 5280 * t * (4 + 4 * r))


def test_untied_embedding_counts_the_head_twice_and_bad_sizes_fail():
    untied = RecurrentDepthArchitecture(**{**HUGINN_0125.__dict__, "tied_embedding": False})
    assert untied.total_parameters() - HUGINN_0125.total_parameters() == 65536 * 5280
    with pytest.raises(FitInputError, match="mlp_matrices"):
        RecurrentDepthArchitecture(**{**HUGINN_0125.__dict__, "mlp_matrices": 4})
    with pytest.raises(FitInputError, match="recurrences"):
        materialised_parameters(HUGINN_0125, -1)
