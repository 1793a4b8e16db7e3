"""The power_sum family owns its parameter layout: names, split/join, centring, the Jacobian's
order, labels, frontier and closed-form hooks; the places that used to slice theta by hand agree
with it, and the named laws are a registry."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fitting.errors import FitInputError
from fitting.laws import (
    NAMED_LAWS,
    POWER_SUM,
    REGISTRY,
    LawForm,
    PowerSumLayout,
    describe_families,
    law_form,
    log_prediction,
    register_law,
    split_theta,
)

VARIABLES = ("width", "depth", "tokens")


def test_layout_names_split_join_and_labels():
    layout = POWER_SUM.layout(VARIABLES)
    assert layout.size == 7 and layout.k == 3
    assert layout.names == (
        "a_width",
        "a_depth",
        "a_tokens",
        "alpha_width",
        "alpha_depth",
        "alpha_tokens",
        "e",
    )
    assert layout.labels[1] == "a depth" and layout.labels[4] == "α depth"
    assert layout.labels[-1] == "e (log E)"
    theta = np.arange(2 * 7, dtype=np.float64).reshape(2, 7)  # a batch of two
    a, alpha, e = layout.split(theta)
    assert a.tolist() == [[0, 1, 2], [7, 8, 9]] and e.tolist() == [6, 13]
    assert np.array_equal(layout.join(a, alpha, e), theta)
    assert [layout.coefficient_index("tokens"), layout.exponent_index("tokens")] == [2, 5]
    assert layout.e_index == 6
    assert all(
        np.array_equal(p, q) for p, q in zip(split_theta(theta, 3), (a, alpha, e), strict=True)
    )
    assert POWER_SUM.parameter_names_for(("n",)) == ("a_n", "alpha_n", "e")
    assert PowerSumLayout.of(2).names == ("a_x1", "a_x2", "alpha_x1", "alpha_x2", "e")
    with pytest.raises(FitInputError, match="needs 7"):
        layout.check(np.zeros(5))


def test_centring_is_exact_and_keeps_predictions():
    rng = np.random.default_rng(0)
    layout = POWER_SUM.layout(VARIABLES)
    theta = rng.normal(size=(4, 7))
    log_x = rng.normal(size=(10, 3)) + 5
    centre = log_x.mean(axis=0)
    phi = layout.to_centred(theta, centre)
    assert np.allclose(layout.from_centred(phi, centre), theta, rtol=0, atol=1e-12)
    for t, p in zip(theta, phi, strict=True):
        assert np.allclose(log_prediction(t, log_x), log_prediction(p, log_x - centre))


def test_jacobian_follows_the_layout():
    from fitting.laws import log_prediction_jacobian

    rng = np.random.default_rng(1)
    theta = np.array([[3.0, 2.0, 4.0, 0.3, 0.2, 0.4, 0.5]])
    log_x = np.log(rng.uniform(10, 1e4, (6, 3)))
    _, jac = log_prediction_jacobian(theta, log_x)
    jac = np.asarray(jac)[0]
    step = 1e-6
    for j in range(7):
        up, down = theta[0].copy(), theta[0].copy()
        up[j] += step
        down[j] -= step
        numeric = (log_prediction(up, log_x) - log_prediction(down, log_x)) / (2 * step)
        assert np.allclose(jac[:, j], numeric, atol=1e-7), POWER_SUM.layout(VARIABLES).names[j]


def test_frontier_and_closed_form_hooks_read_the_layout():
    theta = np.array([1.0, 2.0, 3.0, 0.2, 0.3, 0.4, 0.5])
    logs = {"width": np.log([512.0, 1024.0]), "depth": np.log([8.0, 16.0])}
    shape, token_a, token_alpha = POWER_SUM.frontier_parts(theta, VARIABLES, logs)
    expected = np.exp(0.5) + np.exp(1.0 - 0.2 * logs["width"]) + np.exp(2.0 - 0.3 * logs["depth"])
    assert np.allclose(shape, expected) and (token_a, token_alpha) == (3.0, 0.4)
    # params-tokens in either order gives the same (log A, log B, alpha, beta, e)
    forward = POWER_SUM.params_tokens_terms([5.0, 6.0, 0.3, 0.2, 0.1], ("params", "tokens"))
    backward = POWER_SUM.params_tokens_terms([6.0, 5.0, 0.2, 0.3, 0.1], ("tokens", "params"))
    assert np.allclose(forward, backward) and np.allclose(forward, [5, 6, 0.3, 0.2, 0.1])
    with pytest.raises(FitInputError, match="params–tokens law"):
        POWER_SUM.params_tokens_terms(theta, VARIABLES)


def test_start_grid_rows_are_in_the_layout():
    from fitting.starts import StartGrid

    grid = StartGrid(coefficients=(1.0, 2.0), exponents=(0.5,), irreducible=(-1.0, 1.0))
    starts = grid.all_starts(2)
    a, alpha, e = POWER_SUM.layout(2).split(starts)
    assert starts.shape == (8, 5)
    assert set(a.ravel()) == {1.0, 2.0} and set(alpha.ravel()) == {0.5}
    assert e.tolist() == [-1.0, 1.0] * 4


def test_every_family_describes_parameters_and_constraints():
    for record in describe_families():
        family = REGISTRY.get(record["name"])
        assert record["parameters"] == list(family.parameter_names_for(family.inputs))
        assert set(record["parameters"]) <= set(record["constraints"])
        assert all(isinstance(v, str) and v for v in record["constraints"].values())


def test_named_laws_are_a_registry():
    assert NAMED_LAWS.names() == (
        "params-tokens",
        "width-depth-tokens",
        "width-depth-params-tokens",
    )
    register_law(LawForm("depth-tokens", ("depth", "tokens")))
    try:
        assert law_form("depth-tokens").variables == ("depth", "tokens")
        assert law_form(["depth", "tokens"]).name == "depth-tokens"
        with pytest.raises(ValueError, match="already registered"):
            register_law(LawForm("depth-tokens", ("depth",)))
    finally:
        NAMED_LAWS.unregister("depth-tokens")
    with pytest.raises(FitInputError, match="unknown law 'depth-tokens'"):
        law_form("depth-tokens")


def test_importing_the_law_names_stays_light():
    """The CLI's help reads NAMED_LAWS; that must not import numpy or scipy."""
    code = (
        "import sys\nfrom fitting.laws import NAMED_LAWS\n"
        "print(len(NAMED_LAWS), [m for m in ('numpy', 'scipy') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "3 []"
