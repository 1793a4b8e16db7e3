"""SlimAdam for optax: equals AdamW without rules; reduced second moments and state size with rules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fitting.snr import FLAX_DENSE, TORCH_LINEAR, convert_rule, second_moment_entries
from gemstones.errors import GemstonesInputError
from gemstones.snr.slimadam import (
    decay_mask,
    named_parameters,
    reduced_shape,
    resolve_rules,
    rules_by_name,
    second_moment_size,
    slimadam,
    state_size,
)


def _params() -> dict:
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    return {
        "embed": jax.random.normal(keys[0], (11, 6)),
        "layers": [
            {"kernel": 0.3 * jax.random.normal(keys[1], (6, 8)), "scale": jnp.ones(8)},
            {"kernel": 0.3 * jax.random.normal(keys[2], (8, 6)), "scale": jnp.ones(6)},
        ],
        "conv": 0.1 * jax.random.normal(keys[3], (2, 3, 6)),
    }


def _loss(params: dict, tokens: jax.Array, targets: jax.Array) -> jax.Array:
    x = params["embed"][tokens]
    for layer in params["layers"]:
        x = jnp.tanh(x @ layer["kernel"]) * layer["scale"]
    x = x + jnp.einsum("abc,nc->n", params["conv"], x)[:, None]
    return jnp.mean((x - targets) ** 2)


def _train(optimizer: optax.GradientTransformation, steps: int) -> tuple[dict, object]:
    params = _params()
    state = optimizer.init(params)

    @jax.jit
    def step(params, state, tokens, targets):
        grads = jax.grad(_loss)(params, tokens, targets)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    rng = np.random.default_rng(1)
    for _ in range(steps):
        tokens = rng.integers(0, 11, size=16)
        targets = rng.normal(size=(16, 6)).astype(np.float32)
        params, state = step(params, state, tokens, targets)
    return params, state


def test_without_rules_slimadam_equals_adamw_over_100_steps() -> None:
    schedule = optax.linear_schedule(1e-2, 1e-3, 100)
    reference, reference_state = _train(
        optax.adamw(schedule, b1=0.9, b2=0.95, weight_decay=0.1, mask=decay_mask), 100
    )
    ours, ours_state = _train(slimadam(schedule, b1=0.9, b2=0.95, weight_decay=0.1), 100)
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), _params(), ours)
    assert min(jax.tree.leaves(moved)) > 1e-3  # the run really trained
    for a, b in zip(jax.tree.leaves(reference), jax.tree.leaves(ours), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert state_size(ours_state).entries == state_size(reference_state).entries


def test_weight_decay_only_touches_tensors_with_two_or_more_axes() -> None:
    params = _params()
    zero = jax.tree.map(jnp.zeros_like, params)
    optimizer = slimadam(0.1, weight_decay=0.5)
    updates, _ = jax.jit(optimizer.update)(zero, optimizer.init(params), params)
    assert float(jnp.max(jnp.abs(updates["layers"][0]["scale"]))) == 0.0
    np.testing.assert_allclose(updates["embed"], -0.1 * 0.5 * params["embed"], rtol=1e-6)
    np.testing.assert_allclose(updates["conv"], -0.1 * 0.5 * params["conv"], rtol=1e-6)


RULES = {
    "embed": (1,),
    "layers": [{"kernel": (0,), "scale": None}, {"kernel": (0, 1), "scale": None}],
    "conv": (0, 2),
}


def test_rules_reduce_the_second_moment_along_their_axes() -> None:
    params = _params()
    optimizer = slimadam(1e-2, RULES, b2=0.95)
    state = optimizer.init(params)
    nu = state[0].nu
    assert nu["embed"].shape == (11, 1)
    assert nu["layers"][0]["kernel"].shape == (1, 8)
    assert nu["layers"][1]["kernel"].shape == (1, 1)
    assert nu["layers"][0]["scale"].shape == (8,)
    assert nu["conv"].shape == (1, 3, 1)
    grads = jax.grad(_loss)(params, jnp.arange(16) % 11, jnp.ones((16, 6)))
    _, state = jax.jit(optimizer.update)(grads, state, params)
    expected = 0.05 * jnp.mean(grads["conv"] ** 2, axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(state[0].nu["conv"], expected, rtol=1e-6)


def test_state_is_smaller_by_the_entries_the_rules_save() -> None:
    params = _params()
    full = slimadam(1e-2).init(params)
    slim = slimadam(1e-2, RULES).init(params)
    flat_rules = resolve_rules(RULES, params)
    saved = sum(
        p.size - second_moment_entries(p.shape, r)
        for p, r in zip(jax.tree.leaves(params), flat_rules, strict=True)
    )
    assert saved == (66 - 11) + (48 - 8) + (48 - 1) + (36 - 3)
    assert state_size(full).entries - state_size(slim).entries == saved
    assert state_size(full).bytes - state_size(slim).bytes == 4 * saved
    assert second_moment_size(slim).entries == 11 + 8 + 8 + 1 + 6 + 3
    adamw_state = optax.adamw(1e-2).init(params)
    assert second_moment_size(adamw_state) == second_moment_size(full)


def test_rule_function_of_the_path_equals_the_rule_pytree() -> None:
    by_name = {name: None for name in named_parameters(_params())}
    by_name.update(
        {"embed": (1,), "layers.0.kernel": (0,), "layers.1.kernel": (0, 1), "conv": (0, 2)}
    )
    a, _ = _train(slimadam(1e-2, RULES), 5)
    b, _ = _train(slimadam(1e-2, rules_by_name(by_name)), 5)
    c, _ = _train(slimadam(1e-2, lambda name, p: by_name[name]), 5)
    for x, y, z in zip(jax.tree.leaves(a), jax.tree.leaves(b), jax.tree.leaves(c), strict=True):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)


def test_bad_rules_are_reported() -> None:
    params = _params()
    with pytest.raises(GemstonesInputError, match=r"out of range|distinct"):
        slimadam(1e-2, {**RULES, "embed": (2,)}).init(params)
    with pytest.raises(GemstonesInputError, match="unknown parameter"):
        slimadam(1e-2, rules_by_name({"layers.9.kernel": (0,)})).init(params)
    with pytest.raises(GemstonesInputError, match="structure"):
        slimadam(1e-2, {"embed": (1,)}).init(params)


def test_pytorch_rules_convert_to_jax_kernels_by_axis_name() -> None:
    # A PyTorch Linear(6 -> 8) weight is (8, 6); a JAX kernel is (6, 8). Averaging over fan_out.
    torch_rule = (0,)
    jax_rule = convert_rule(torch_rule, TORCH_LINEAR, FLAX_DENSE)
    assert jax_rule == (1,)
    assert reduced_shape((6, 8), jax_rule) == (6, 1)
    assert second_moment_entries((8, 6), torch_rule) == second_moment_entries((6, 8), jax_rule) == 6
