"""Suite-wide test set-up: every test runs offline-safe, with caches in a temporary folder."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# No persistent JAX compilation cache in the user's folder from tests (tests that need it opt in).
os.environ.setdefault("GEMSTONES_JAX_CACHE", "0")


@pytest.fixture(autouse=True)
def isolated_caches(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point the gemstones and Hugging Face caches at a fresh temporary folder for each test."""
    root = tmp_path_factory.mktemp("caches")
    monkeypatch.setenv("GEMSTONES_CACHE", str(root / "gemstones"))
    monkeypatch.setenv("HF_HOME", str(root / "hf"))
