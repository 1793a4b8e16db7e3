"""The persistent JAX compilation cache: where it lives, how to turn it off, that it is reused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemstones.compile_cache import JAX_CACHE_ENV_VAR, jax_cache_dir


def test_cache_folder_follows_the_user_cache(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GEMSTONES_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(JAX_CACHE_ENV_VAR, raising=False)
    assert jax_cache_dir() == tmp_path / "cache" / "jax"
    for off in ("0", "off", "False", " no "):
        monkeypatch.setenv(JAX_CACHE_ENV_VAR, off)
        assert jax_cache_dir() is None
    monkeypatch.setenv(JAX_CACHE_ENV_VAR, str(tmp_path / "elsewhere"))
    assert jax_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.setenv(JAX_CACHE_ENV_VAR, "1")
    assert jax_cache_dir() == tmp_path / "cache" / "jax"


def _env(tmp_path: Path, setting: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION")}
    env["GEMSTONES_CACHE"] = str(tmp_path / "cache")
    env.pop(JAX_CACHE_ENV_VAR, None)
    if setting is not None:
        env[JAX_CACHE_ENV_VAR] = setting
    return env


def test_import_sets_jax_variables_without_importing_jax(tmp_path) -> None:
    code = (
        "import os, sys, gemstones\n"
        "print(os.environ.get('JAX_COMPILATION_CACHE_DIR'), 'jax' in sys.modules)\n"
    )
    on = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path, None), capture_output=True, text=True
    )
    assert on.stdout.split() == [str(tmp_path / "cache" / "jax"), "False"], on.stderr
    off = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path, "0"), capture_output=True, text=True
    )
    assert off.stdout.split() == ["None", "False"], off.stderr


@pytest.mark.slow
def test_second_process_reuses_the_compiled_solver(tmp_path) -> None:
    code = (
        "import numpy as np, gemstones\n"
        "x = np.geomspace(1e6, 1e9, 40)\n"
        "fit = gemstones.fit_approach3(x, 2.0 + 300.0 * x ** -0.3, variables=['n'])\n"
        "print(repr(fit.objective), repr(float(fit.exponents[0])))\n"
    )
    env = _env(tmp_path, None)
    env["GEMSTONES_FIT_ENGINE"] = "jax"  # a fit this small runs on numpy (no JAX) by default
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    entries = list((tmp_path / "cache" / "jax").iterdir())
    assert entries, "the first run wrote no compiled programs"
    env["JAX_LOG_COMPILES"] = "1"
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout  # same results from the cached programs
    assert "Persistent compilation cache hit" in second.stderr
