"""The numpy and JAX engines of the approach-3 solver: same answers, selection, bad names."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fitting import lm_engine
from fitting.approach3 import fit_approach3, solve_from_starts
from fitting.errors import FitInputError
from fitting.lm_engine import resolve_engine, set_default_engine
from fitting.starts import PAPER_GRID, screen_grid
from registry.embedded import embedded_path

REL = 1e-9


@pytest.fixture(scope="module")
def hot() -> tuple[np.ndarray, np.ndarray]:
    table = pl.read_ndjson(
        embedded_path("upstream", "gemstones", "wandb_dfs", "wandb_df_for_fitting_hot.jsonl")
    )
    return (
        table.select("params_active_precise", "tokens").to_numpy().astype(np.float64),
        table["final_loss"].to_numpy(),
    )


def test_auto_picks_numpy_for_small_problems_and_jax_for_large() -> None:
    assert resolve_engine("auto", 32 * 220, 4500 * 220) == "numpy"
    assert resolve_engine("auto", 32 * 100_000) == "jax"
    assert resolve_engine("auto", 32 * 220, 135_000 * 256) == "jax"  # a 3-variable grid screen
    assert resolve_engine(" NumPy ", 10**9) == "numpy"
    assert resolve_engine("jax", 1) == "jax"


def test_the_process_default_selects_the_engine() -> None:
    try:
        set_default_engine("auto")
        assert resolve_engine(None, 100) == "numpy"
        set_default_engine("jax")
        assert resolve_engine(None, 100) == "jax"
        assert resolve_engine("numpy", 100) == "numpy"  # an explicit engine wins over the default
        set_default_engine("numpy")
        assert resolve_engine(None, 10**9) == "numpy"
    finally:
        set_default_engine("auto")


def test_bad_engine_names_are_one_line_errors(monkeypatch) -> None:
    from gemstones.compile_cache import FIT_ENGINE_ENV_VAR, apply_fit_engine

    monkeypatch.setenv(FIT_ENGINE_ENV_VAR, "gpu")
    try:
        apply_fit_engine()
        with pytest.raises(FitInputError) as bad_env:
            resolve_engine(None, 100)
    finally:
        set_default_engine("auto")
    assert str(bad_env.value) == "unknown GEMSTONES_FIT_ENGINE 'gpu'; valid: auto, numpy, jax"
    with pytest.raises(FitInputError, match=r"unknown engine 'torch'; valid: auto, numpy, jax"):
        fit_approach3(
            np.arange(1.0, 9.0), np.linspace(3.0, 2.0, 8), variables=["n"], engine="torch"
        )


def test_numpy_fit_of_hot_matches_the_jax_fit(hot) -> None:
    x, loss = hot
    fits = {
        engine: fit_approach3(x, loss, variables=["params", "tokens"], engine=engine)
        for engine in ("numpy", "jax")
    }
    assert fits["numpy"].objective == pytest.approx(0.0002075051556, rel=1e-9)
    assert fits["numpy"].objective == pytest.approx(fits["jax"].objective, rel=REL)
    np.testing.assert_allclose(fits["numpy"].theta, fits["jax"].theta, rtol=1e-6, atol=1e-6)
    assert fits["numpy"].n_converged == fits["jax"].n_converged
    assert fits["numpy"].flags == fits["jax"].flags


def test_screens_agree(hot) -> None:
    x, loss = hot
    log_x, log_loss = np.log(x), np.log(loss)
    screens = {
        engine: screen_grid(PAPER_GRID, log_x, log_loss, keep=64, engine=engine)
        for engine in ("numpy", "jax")
    }
    np.testing.assert_allclose(
        screens["numpy"].objectives, screens["jax"].objectives, rtol=1e-12, atol=0
    )
    # the same starts, except possibly the order of exact ties in value
    assert {tuple(s) for s in screens["numpy"].starts} == {tuple(s) for s in screens["jax"].starts}


def test_solve_with_per_start_weights_agrees_across_engines(hot) -> None:
    """Bootstrap-style: every start polishes its own resample (weights (m, n))."""
    x, loss = hot
    rng = np.random.default_rng(3)
    m, n = 6, loss.size
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=m).astype(np.float64)
    starts = np.tile([5.4, 15.8, 0.29, 0.73, 0.77], (m, 1))
    starts += rng.normal(0.0, 0.05, size=starts.shape)
    solved = {
        engine: solve_from_starts(starts, np.log(x), np.log(loss), weights=weights, engine=engine)
        for engine in ("numpy", "jax")
    }
    np.testing.assert_allclose(solved["numpy"].objective, solved["jax"].objective, rtol=REL)
    np.testing.assert_allclose(solved["numpy"].theta, solved["jax"].theta, rtol=1e-5, atol=1e-5)
    assert solved["numpy"].converged.all() and solved["jax"].converged.all()


def test_numpy_chunks_sum_to_the_unchunked_statistics(hot, monkeypatch) -> None:
    x, loss = hot
    starts = np.array([[5.0, 15.0, 0.3, 0.7, 0.8], [6.0, 16.0, 0.35, 0.75, 0.6]])
    whole = solve_from_starts(starts, np.log(x), np.log(loss), engine="numpy")
    monkeypatch.setattr(lm_engine, "NUMPY_CHUNK_PAIRS", 64)  # 32 points per chunk: 7 chunks
    chunked = solve_from_starts(starts, np.log(x), np.log(loss), engine="numpy")
    np.testing.assert_allclose(chunked.objective, whole.objective, rtol=1e-10)
    np.testing.assert_allclose(chunked.theta, whole.theta, rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_lbfgs_needs_jax() -> None:
    x = np.geomspace(1e6, 1e9, 30)[:, None]
    y = 2.0 + 300.0 * x[:, 0] ** -0.3
    # "auto"/"numpy" engines fall back to JAX for L-BFGS (there is no numpy L-BFGS)
    solved = solve_from_starts(
        np.array([[5.5, 0.3, 0.7]]), np.log(x), np.log(y), method="lbfgs", engine="numpy"
    )
    assert solved.objective[0] < 1e-12


def test_a_singular_system_gives_nan_for_that_start_only() -> None:
    """As in JAX, one singular damped system must not stop the other starts' steps."""
    a = np.stack([np.eye(3) * 2.0, np.zeros((3, 3)), np.diag([1.0, 4.0, 8.0])])
    b = np.ones((3, 3, 1))
    x = lm_engine._numpy_solve(a, b)
    np.testing.assert_allclose(x[0, :, 0], [0.5, 0.5, 0.5])
    assert np.isnan(x[1]).all()
    np.testing.assert_allclose(x[2, :, 0], [1.0, 0.25, 0.125])
