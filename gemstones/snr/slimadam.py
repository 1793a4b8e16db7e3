"""SlimAdam for optax: Adam whose second moment is averaged along per-tensor axes.

SlimAdam (Kalra et al., arXiv 2503.01843) keeps, for each parameter tensor with rule ``K``, the second
moment reduced along ``K`` (keepdims), which saves memory where the second moment's SNR along ``K`` is
high (see :mod:`fitting.snr`). Per tensor, with gradient ``g`` and step ``t``:

    m <- b1 m + (1 - b1) g
    v <- b2 v + (1 - b2) mean_K(g^2)          (keepdims; plain g^2 when the rule is None)
    m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)
    p <- p - lr * (m_hat / (sqrt(v_hat) + eps) + wd * p)   (decay only on tensors with ndim >= 2)

With no rules it is exactly ``optax.adamw`` with the mask ``ndim >= 2``; it is built the same way, as a
chain of :func:`scale_by_slim_adam`, ``optax.add_decayed_weights`` and ``optax.scale_by_learning_rate``.

Rules are given either as a pytree with the structure of the parameters whose leaves are ``None`` or a
tuple of axes (the parameters' structure must be a prefix of it), or as a function
``rule(name, param) -> axes | None`` of the parameter's dotted path name (see :func:`parameter_name`).
Axes are in the JAX layout of each array (flax ``Dense`` kernels are ``(in, out)``); rules derived from
PyTorch ``(out, in)`` weights must be converted first (:func:`fitting.snr.convert_rules`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gemstones.errors import GemstonesInputError

Rule = tuple[int, ...] | None
RuleFunction = Callable[[str, jax.Array], Rule]
RulesSpec = Any  # None, a pytree of rules (prefix-matched by the params), or a RuleFunction


class ScaleBySlimAdamState(NamedTuple):
    """State of :func:`scale_by_slim_adam`: step count, first moments, (reduced) second moments."""

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count, as optax states do
    mu: optax.Updates
    nu: optax.Updates


def parameter_name(path: tuple[Any, ...]) -> str:
    """Dotted name of a pytree path, e.g. ``("h", 0, "attn", "q_proj", "kernel")`` -> ``h.0.attn.q_proj.kernel``."""
    parts = []
    for key in path:
        if isinstance(key, jax.tree_util.DictKey):
            parts.append(str(key.key))
        elif isinstance(key, jax.tree_util.SequenceKey):
            parts.append(str(key.idx))
        elif isinstance(key, jax.tree_util.GetAttrKey):
            parts.append(key.name)
        else:
            parts.append(str(key))
    return ".".join(parts)


def named_parameters(params: optax.Params) -> dict[str, jax.Array]:
    """``{dotted name: array}`` of every leaf of ``params``, in flattening order."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(params)
    return {parameter_name(path): leaf for path, leaf in leaves}


def rules_by_name(rules: Mapping[str, Rule]) -> RuleFunction:
    """A rule function from ``{dotted parameter name: axes or None}``; unnamed parameters get None.

    Unknown names are reported by :func:`resolve_rules` (they are almost always a naming mistake).
    """
    table = dict(rules)

    def rule(name: str, param: jax.Array) -> Rule:
        del param
        return table.get(name)

    rule.names = frozenset(table)  # type: ignore[attr-defined]
    return rule


def resolve_rules(rules: RulesSpec, params: optax.Params) -> list[Rule]:
    """One validated rule per leaf of ``params`` (flattening order).

    Raises:
        GemstonesInputError: a rule pytree that does not match the parameters, axes out of range,
            or a name-based rule table naming parameters that do not exist.
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    names = [parameter_name(path) for path, _ in leaves]
    arrays = [leaf for _, leaf in leaves]
    if rules is None:
        raw: list[Any] = [None] * len(arrays)
    elif callable(rules):
        unknown = sorted(set(getattr(rules, "names", ())) - set(names))
        if unknown:
            raise GemstonesInputError(
                f"rules name unknown parameter(s) {unknown[:3]}; parameters are e.g. {names[:3]}"
            )
        raw = [rules(name, array) for name, array in zip(names, arrays, strict=True)]
    else:
        try:
            raw = treedef.flatten_up_to(rules)  # type: ignore[attr-defined]  # jaxlib stub lacks it
        except (ValueError, TypeError) as error:
            raise GemstonesInputError(
                f"rules pytree does not match the parameters' structure: {str(error).splitlines()[0]}"
            ) from None
    return [_validate_rule(r, a, n) for r, a, n in zip(raw, arrays, names, strict=True)]


def _validate_rule(rule: Any, array: jax.Array, name: str) -> Rule:
    if rule is None:
        return None
    try:
        axes = tuple(int(a) for a in rule)
    except TypeError:
        raise GemstonesInputError(
            f"rule of {name} is {rule!r}; expected None or a tuple of axes"
        ) from None
    ndim = np.ndim(array)
    if (
        not axes
        or any(a < -ndim or a >= ndim for a in axes)
        or len(set(a % ndim for a in axes)) != len(axes)
    ):
        raise GemstonesInputError(
            f"rule {axes} of {name} (shape {np.shape(array)}) is not a non-empty set of distinct axes in range"
        )
    return tuple(sorted(a % ndim for a in axes))


def reduced_shape(shape: tuple[int, ...], rule: Rule) -> tuple[int, ...]:
    """Shape of a second moment kept under ``rule`` (reduced axes become 1, keepdims)."""
    if rule is None:
        return tuple(shape)
    return tuple(1 if i in rule else d for i, d in enumerate(shape))


def scale_by_slim_adam(
    rules: RulesSpec = None,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
) -> optax.GradientTransformation:
    """Rescale updates by SlimAdam's bias-corrected moments (no learning rate, no weight decay).

    Args:
        rules: per-tensor axes along which the second moment is averaged (see the module docstring).
        b1, b2: decay rates of the first and second moment.
        eps: added to the square root of the second moment.
        eps_root: added inside the square root (as in ``optax.scale_by_adam``).

    Returns:
        An ``optax.GradientTransformation`` with state :class:`ScaleBySlimAdamState`.
    """

    def init_fn(params: optax.Params) -> ScaleBySlimAdamState:
        leaf_rules = resolve_rules(rules, params)
        leaves, treedef = jax.tree_util.tree_flatten(params)
        nu = [
            jnp.zeros(reduced_shape(jnp.shape(p), r), dtype=jnp.asarray(p).dtype)
            for p, r in zip(leaves, leaf_rules, strict=True)
        ]
        return ScaleBySlimAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params),
            nu=jax.tree_util.tree_unflatten(treedef, nu),
        )

    def update_fn(updates: optax.Updates, state: ScaleBySlimAdamState, params: optax.Params = None):
        del params
        grads, treedef = jax.tree_util.tree_flatten(updates)
        leaf_rules = resolve_rules(rules, updates)
        mus = treedef.flatten_up_to(state.mu)  # type: ignore[attr-defined]
        nus = treedef.flatten_up_to(state.nu)  # type: ignore[attr-defined]
        count_inc = optax.safe_increment(state.count)
        new_mu, new_nu, out = [], [], []
        for g, m, v, rule in zip(grads, mus, nus, leaf_rules, strict=True):
            square = g**2
            if rule is not None:
                square = jnp.mean(square, axis=rule, keepdims=True)
            m = (1 - b1) * g + b1 * m
            v = (1 - b2) * square + b2 * v
            m_hat = optax.tree.bias_correction(m, b1, count_inc)
            v_hat = optax.tree.bias_correction(v, b2, count_inc)
            out.append(m_hat / (jnp.sqrt(v_hat + eps_root) + eps))
            new_mu.append(m)
            new_nu.append(v)
        unflatten = jax.tree_util.tree_unflatten
        state = ScaleBySlimAdamState(
            count_inc, unflatten(treedef, new_mu), unflatten(treedef, new_nu)
        )
        return unflatten(treedef, out), state

    return optax.GradientTransformation(init_fn, update_fn)


def decay_mask(params: optax.Params) -> Any:
    """Weight-decay mask of SlimAdam/AdamW here: True for tensors with two or more axes."""
    return jax.tree_util.tree_map(lambda p: jnp.ndim(p) >= 2, params)


def slimadam(
    learning_rate: optax.ScalarOrSchedule,
    rules: RulesSpec = None,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-4,
    eps_root: float = 0.0,
) -> optax.GradientTransformation:
    """SlimAdam with decoupled weight decay on tensors of ``ndim >= 2``.

    Args:
        learning_rate: a float or an optax schedule.
        rules: per-tensor second-moment reduction axes (pytree or function of the parameter name);
            None everywhere gives exactly ``optax.adamw(..., mask=decay_mask)``.
        b1, b2, eps, eps_root: as in ``optax.adam``.
        weight_decay: decoupled weight decay coefficient (multiplied by the learning rate).

    Returns:
        An ``optax.GradientTransformation``.
    """
    return optax.chain(
        scale_by_slim_adam(rules, b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        optax.add_decayed_weights(weight_decay, mask=decay_mask),
        optax.scale_by_learning_rate(learning_rate),
    )


@dataclass(frozen=True)
class StateSize:
    """Size of an optimizer state: array entries and bytes over all its array leaves."""

    entries: int
    bytes: int


def state_size(state: Any) -> StateSize:
    """Count the entries and bytes of every array leaf of an optimizer state (any optax state)."""
    leaves = [leaf for leaf in jax.tree_util.tree_leaves(state) if hasattr(leaf, "dtype")]
    entries = sum(int(np.prod(np.shape(leaf))) for leaf in leaves)
    size = sum(int(np.prod(np.shape(leaf))) * np.dtype(leaf.dtype).itemsize for leaf in leaves)
    return StateSize(entries=entries, bytes=size)


def second_moment_size(state: Any) -> StateSize:
    """Entries and bytes of the second moments (``nu``) found anywhere in an optax state."""
    found: list[Any] = []

    def visit(node: Any) -> None:
        if hasattr(node, "nu") and hasattr(node, "_fields"):
            found.append(node.nu)
        if isinstance(node, tuple | list):
            for child in node:
                visit(child)

    visit(state)
    return state_size(found)
