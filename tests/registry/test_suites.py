"""The Suite interface: Gemstones through it gives the catalog's numbers; the registry's rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from registry.catalog import load_catalog
from registry.errors import RegistryInputError
from registry.suites import SUITES, Suite, SuiteRepo, get_suite, register_suite, unregister_suite


@pytest.mark.parametrize("name", ["gemstones", "pythia"])
def test_every_suite_reproduces_its_catalog_through_the_interface(name: str):
    suite = get_suite(name)
    frame = load_catalog(suite=name, prefer_refreshed=False).frame
    width, depth = frame["width"].to_numpy(), frame["depth"].to_numpy()
    assert (suite.parameter_count(width, depth) == frame["params"].to_numpy()).all()
    assert (
        suite.non_embedding_parameter_count(width, depth)
        == frame["params_non_embedding"].to_numpy()
    ).all()
    np.testing.assert_allclose(
        suite.flops_per_token(width, depth), frame["flops_per_token"].to_numpy(), rtol=1e-12
    )
    assert (suite.tokens_at_step(frame["step"].to_numpy()) == frame["tokens"].to_numpy()).all()
    for repo, revision, variant, shape in (
        frame.select("repo_id", "revision", "variant", "shape").unique().head(200).iter_rows()
    ):
        parsed = suite.parse_repo_id(repo)
        assert (parsed.variant, parsed.shape) == (variant, shape)
        assert suite.repo_id(shape, variant) == repo
        assert suite.split_checkpoint_id(f"{repo}@{revision}") == (repo, revision)
    assert set(frame["variant"]) <= set(suite.variants)


def test_gemstones_time_model_and_naming():
    suite = get_suite("gemstones")
    frame = load_catalog(prefer_refreshed=False).frame
    np.testing.assert_allclose(
        suite.gpu_hours(frame).to_numpy(), frame["gpu_hours"].to_numpy(), rtol=1e-12
    )
    assert get_suite("pythia").gpu_hours(frame) is None  # Pythia publishes no time model
    assert suite.parse_repo_id("tomg-group-umd/Gemstone-1024x28_cooldown") == SuiteRepo(
        "1024x28", 1024, 28, "cooldown"
    )
    assert suite.revision(2385) == "step_00002385"
    assert suite.parse_revision("step_00002385_cooldown_00002622") == (2622, 2385)
    assert int(suite.parameter_count(1024, 28)) == 543_482_880
    with pytest.raises(RegistryInputError, match="not a Gemstones shape"):
        suite.repo_id("70m")


def test_suites_are_frozen_abstract_and_registered_once():
    with pytest.raises(TypeError):
        Suite(  # type: ignore[abstract]
            name="x", title="x", organisation="o", search="s", variants=("v",), tokens_per_step=1,
            sequence_length=1, probe_repo="o/x", bytes_per_param=1, tokenizer_bytes=1,
        )  # fmt: skip
    pythia = get_suite("pythia")
    with pytest.raises(dataclasses.FrozenInstanceError):
        pythia.organisation = "someone"  # type: ignore[misc]
    with pytest.raises(RegistryInputError, match="already registered"):
        register_suite(pythia)
    with pytest.raises(RegistryInputError, match="cannot be unregistered"):
        unregister_suite("gemstones")
    assert list(SUITES) == ["gemstones", "pythia"]
