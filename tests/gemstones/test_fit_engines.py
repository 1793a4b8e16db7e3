"""``gemstones fit`` on the numpy engine: no JAX import, same fits as JAX, bad engine names."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gemstones.compile_cache import FIT_ENGINE_ENV_VAR as ENGINE_ENV_VAR
from gemstones.scaling.designs import fit_design, load_design

# Runs the real CLI in a fresh interpreter and reports, after it exits, whether JAX was imported.
WRAPPER = (
    "import sys\n"
    "from gemstones.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as stop:\n"
    "    code = stop.code\n"
    "print('JAX_IMPORTED', 'jax' in sys.modules, 'EXIT', code)\n"
)


def _cli(*args: str, engine: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop(ENGINE_ENV_VAR, None)
    if engine is not None:
        env[ENGINE_ENV_VAR] = engine
    return subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_fit_hot_does_not_import_jax() -> None:
    run = _cli("fit", "--design", "hot", "--format", "json")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "JAX_IMPORTED False EXIT 0", run.stdout
    assert '"objective": 0.00020750515' in run.stdout


@pytest.mark.slow
def test_jax_engine_on_request_imports_jax() -> None:
    """Control for the test above: the wrapper does see JAX when the fit uses it."""
    run = _cli("fit", "--design", "hot", "--format", "json", engine="jax")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "JAX_IMPORTED True EXIT 0", run.stdout
    assert '"objective": 0.00020750515' in run.stdout


def test_bad_engine_variable_is_a_one_line_error() -> None:
    run = _cli("fit", "--design", "hot", engine="cuda")
    assert run.stdout.strip() == "JAX_IMPORTED False EXIT 2"
    assert run.stderr == ("error: unknown GEMSTONES_FIT_ENGINE 'cuda'; valid: auto, numpy, jax\n")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("design", "law"),
    [
        ("cool_end", "params-tokens"),
        ("hot_100b+", "params-tokens"),
        ("lr_ablation_hot_sampled_like_chinchilla", "params-tokens"),
        ("hot", "width-depth-tokens"),
    ],
)
def test_engines_agree_on_designs(design: str, law: str, monkeypatch) -> None:
    resolved = load_design(design).with_overrides(law=law)
    fits = {}
    for engine in ("numpy", "jax"):
        monkeypatch.setenv(ENGINE_ENV_VAR, engine)
        fits[engine] = fit_design(resolved).fit
    assert fits["numpy"].objective == pytest.approx(fits["jax"].objective, rel=1e-9)
    assert fits["numpy"].n_converged == fits["jax"].n_converged
    assert fits["numpy"].flags == fits["jax"].flags


def test_fit_hot_does_not_import_scipy_optimize_or_matplotlib() -> None:
    """The warm small fit stays light: scipy.optimize alone costs ~0.4 s to import."""
    code = (
        "import sys\n"
        "from gemstones.cli import main\n"
        "try:\n"
        "    main(['fit', '--design', 'hot', '--format', 'json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('HEAVY', sorted(m for m in ('jax', 'scipy.optimize', 'matplotlib') if m in sys.modules))\n"
    )
    env = dict(os.environ)
    env.pop(ENGINE_ENV_VAR, None)
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "HEAVY []", run.stdout
