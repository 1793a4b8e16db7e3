"""Per-token exit criteria for recurrent-depth models, as pure JAX functions on arrays.

After every recurrence the model's state (and, for most criteria, its next-token distribution) is
compared with the previous iteration's; a token stops iterating once the change is small. The
criteria and their default thresholds are those of the Huginn reference code (the exit evaluators
of ``raven_modeling_minimal.py``, seal-rg/recurrent-pretraining, arXiv 2502.05171 section 6):

==================  ========================================================  =========  ======
name                value after step t                                        exit when  default
==================  ========================================================  =========  ======
``kl``              KL(p_{t-1} || p_t) of the next-token distributions;       < thr.     1e-3
                    p_0 is uniform
``entropy-diff``    | H(p_t) - H(p_{t-1}) |, H(p_0) = 100                     < thr.     1e-3
``latent-diff``     ||s_t - s_{t-1}|| / ||s_t||, s_0 the initial state          < thr.     0.03
``argmax-stability``  consecutive steps whose argmax equals the previous one  >= thr.    5
``cosine``          1 - cos(s_t, s_{t-1})                                     < thr.     1e-3
``none``            never exits                                               -          -
==================  ========================================================  =========  ======

The functions work on any leading shape (batch, or batch and positions): distributions have the
vocabulary on the last axis, states the width.

Two ways to use them:

- inside a token-by-token decode (:func:`gemstones.models.huginn.adaptive_forward`): call
  :func:`init_exit_state` once per token and :func:`check_exit` after every recurrence;
- offline on a full-depth run's per-step outputs (:func:`exit_steps`): every position exits at
  the first step where the criterion fires, its prediction is that step's. This ignores that an
  exited token's later keys and values would be missing for the tokens after it (the decode
  handles that), and is exact when every position is decoded independently.

:class:`StepAccount` summarises steps per token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from gemstones.errors import GemstonesInputError

DEFAULT_THRESHOLDS: dict[str, float] = {
    "kl": 1e-3,
    "entropy-diff": 1e-3,
    "latent-diff": 0.03,
    "argmax-stability": 5,
    "cosine": 1e-3,
    "none": 0.0,
}
"""The reference's default ("auto") threshold of each criterion."""

CRITERIA = tuple(DEFAULT_THRESHOLDS)
_INITIAL_ENTROPY = 100.0
_LOG_EPS = 1e-10

if TYPE_CHECKING:
    import jax


def check_criterion(name: str) -> str:
    """Return ``name`` if it is a known criterion.

    Raises:
        GemstonesInputError: otherwise, naming the valid ones.
    """
    if name not in DEFAULT_THRESHOLDS:
        raise GemstonesInputError(
            f"unknown exit criterion {name!r}; valid: {', '.join(CRITERIA)}",
            value=name,
            valid=CRITERIA,
        )
    return name


class ExitState(NamedTuple):
    """What a criterion remembers from the previous iteration (all criteria share the layout).

    Attributes:
        log_probs: (..., V) previous log-distribution (uniform at first).
        entropy: (...) previous entropy (100 at first, as in the reference).
        latent: (..., E) previous state (the initial state at first).
        argmax: (...) previous argmax (-1 at first).
        stable: (...) consecutive steps with an unchanged argmax.
    """

    log_probs: jax.Array
    entropy: jax.Array
    latent: jax.Array
    argmax: jax.Array
    stable: jax.Array


def init_exit_state(initial_latent: np.ndarray | jax.Array, vocab: int) -> ExitState:
    """The state before the first recurrence, for latents of shape (..., E)."""
    import jax.numpy as jnp

    lead = initial_latent.shape[:-1]
    return ExitState(
        log_probs=jnp.full((*lead, vocab), -jnp.log(jnp.float32(vocab)), jnp.float32),
        entropy=jnp.full(lead, _INITIAL_ENTROPY, jnp.float32),
        latent=jnp.asarray(initial_latent, jnp.float32),
        argmax=jnp.full(lead, -1, jnp.int32),
        stable=jnp.zeros(lead, jnp.int32),
    )


def kl_divergence(prev_log_probs: jax.Array, log_probs: jax.Array) -> jax.Array:
    """KL(p_prev || p) = sum p_prev (log p_prev - log p) over the last axis (nats)."""
    import jax.numpy as jnp

    return jnp.sum(jnp.exp(prev_log_probs) * (prev_log_probs - log_probs), axis=-1)


def entropy(log_probs: jax.Array) -> jax.Array:
    """Entropy (nats) of distributions given as log-probabilities; log(p + 1e-10) as the
    reference computes it."""
    import jax.numpy as jnp

    probs = jnp.exp(log_probs)
    return -jnp.sum(probs * jnp.log(probs + _LOG_EPS), axis=-1)


def latent_difference(prev: jax.Array, latent: jax.Array) -> jax.Array:
    """||latent - prev|| / ||latent|| over the last axis."""
    import jax.numpy as jnp

    return jnp.linalg.norm(latent - prev, axis=-1) / jnp.linalg.norm(latent, axis=-1)


def cosine_distance(prev: jax.Array, latent: jax.Array) -> jax.Array:
    """1 - cos(latent, prev) over the last axis."""
    import jax.numpy as jnp

    dot = jnp.sum(latent * prev, axis=-1)
    return 1.0 - dot / (jnp.linalg.norm(latent, axis=-1) * jnp.linalg.norm(prev, axis=-1))


def check_exit(
    name: str, threshold: Any, state: ExitState, latent: jax.Array, logits: jax.Array
) -> tuple[Any, Any, ExitState]:
    """Update a criterion after one recurrence.

    Args:
        name: a criterion of :data:`CRITERIA` (static).
        threshold: its threshold (may be traced).
        state: the previous :class:`ExitState`.
        latent: (..., E) the state after this recurrence.
        logits: (..., V) the next-token logits decoded from it.

    Returns:
        ``(exit, value, new_state)``: ``exit`` (...) bool, ``value`` (...) the criterion's value.

    Example:
        >>> import jax.numpy as jnp
        >>> s = init_exit_state(jnp.ones((1, 4)), vocab=3)
        >>> stop, value, s = check_exit("kl", 1e-3, s, jnp.ones((1, 4)), jnp.zeros((1, 3)))
        >>> bool(stop[0])  # a uniform prediction does not differ from the uniform start
        True
    """
    return check_exit_by_index(
        CRITERIA.index(check_criterion(name)), threshold, state, latent, logits
    )


def check_exit_by_index(
    index: Any, threshold: Any, state: ExitState, latent: jax.Array, logits: jax.Array
) -> tuple[Any, Any, ExitState]:
    """:func:`check_exit` with the criterion given by its position in :data:`CRITERIA`, which may
    be a traced integer: every criterion is evaluated and one is selected, so a compiled decode
    serves all criteria."""
    import jax
    import jax.numpy as jnp

    latent = jnp.asarray(latent, jnp.float32)
    log_probs = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), axis=-1)
    ent = entropy(log_probs)
    top = jnp.argmax(log_probs, axis=-1).astype(jnp.int32)
    stable = jnp.where(top == state.argmax, state.stable + 1, 0)
    values = [  # in the order of CRITERIA
        kl_divergence(state.log_probs, log_probs),
        jnp.abs(ent - state.entropy),
        latent_difference(state.latent, latent),
        stable.astype(jnp.float32),
        cosine_distance(state.latent, latent),
        jnp.zeros(ent.shape, jnp.float32),
    ]
    value = jnp.select([index == i for i in range(len(CRITERIA))], values)
    argmax_rule = index == CRITERIA.index("argmax-stability")
    stop = jnp.where(argmax_rule, value >= threshold, value < threshold)
    stop = stop & (index != CRITERIA.index("none"))
    return stop, value, ExitState(log_probs, ent, latent, top, stable)


def exit_steps(
    name: str,
    threshold: float,
    step_logits: np.ndarray | jax.Array,
    step_latents: np.ndarray | jax.Array,
    initial_latent: np.ndarray | jax.Array,
    min_steps: int = 0,
) -> tuple[Any, Any]:
    """Where each position exits, given every recurrence's outputs of a full-depth run.

    Args:
        name: the criterion.
        threshold: its threshold.
        step_logits: (T, ..., V) the logits decoded after each of T recurrences.
        step_latents: (T, ..., E) the states after each recurrence.
        initial_latent: (..., E) the initial state.
        min_steps: the criterion is not checked before this many recurrences (as the reference's
            ``min_steps``).

    Returns:
        ``(steps, logits)``: (...) int recurrences used (1..T, T when it never fires) and
        (..., V) the logits at each position's exit.
    """
    import jax
    import jax.numpy as jnp

    check_criterion(name)
    total = step_logits.shape[0]
    if total < 1:
        raise GemstonesInputError("exit_steps needs at least one recurrence")
    lead = step_logits.shape[1:-1]

    def body(carry: Any, inputs: Any) -> tuple[Any, None]:
        state, done, steps, chosen = carry
        t, latent, logits = inputs
        stop, _, state = check_exit(name, threshold, state, latent, logits)
        stop = stop & (t >= min_steps)
        first = ~done & (stop | (t == total - 1))
        steps = jnp.where(first, t + 1, steps)
        chosen = jnp.where(first[..., None], logits.astype(jnp.float32), chosen)
        return (state, done | first, steps, chosen), None

    start = (
        init_exit_state(initial_latent, step_logits.shape[-1]),
        jnp.zeros(lead, bool),
        jnp.zeros(lead, jnp.int32),
        jnp.zeros(step_logits.shape[1:], jnp.float32),
    )
    (_, _, steps, chosen), _ = jax.lax.scan(
        body, start, (jnp.arange(total), step_latents, step_logits)
    )
    return steps, chosen


@dataclass(frozen=True)
class StepAccount:
    """Steps per token under an exit criterion, with the prediction quality at those exits.

    Attributes:
        criterion: the criterion's name.
        threshold: its threshold.
        max_steps: the recurrence cap.
        tokens: positions scored.
        mean_steps: mean recurrences per token.
        median_steps: median recurrences per token.
        loss: mean cross-entropy (nats) of the exit predictions (NaN when no targets).
        accuracy: top-1 accuracy of the exit predictions (NaN when no targets).
    """

    criterion: str
    threshold: float
    max_steps: int
    tokens: int
    mean_steps: float
    median_steps: float
    loss: float
    accuracy: float


def account(
    name: str,
    threshold: float,
    steps: jax.Array,
    logits: jax.Array,
    targets: Any | None,
    max_steps: int,
) -> StepAccount:
    """Summarise exits: steps per token and, given targets, the loss and accuracy.

    Args:
        name: the criterion.
        threshold: its threshold.
        steps: (...) recurrences used per position.
        logits: (..., V) the predictions at the exits.
        targets: (...) next-token ids, or None.
        max_steps: the cap.
    """
    steps_np = np.asarray(steps).reshape(-1)
    loss = accuracy = float("nan")
    if targets is not None:
        lg = np.asarray(logits, np.float64).reshape(steps_np.size, -1)
        tg = np.asarray(targets).reshape(-1)
        lg = lg - lg.max(axis=-1, keepdims=True)
        logp = lg - np.log(np.exp(lg).sum(axis=-1, keepdims=True))
        loss = float(-logp[np.arange(tg.size), tg].mean())
        accuracy = float((lg.argmax(axis=-1) == tg).mean())
    return StepAccount(
        criterion=name,
        threshold=float(threshold),
        max_steps=int(max_steps),
        tokens=int(steps_np.size),
        mean_steps=float(steps_np.mean()),
        median_steps=float(np.median(steps_np)),
        loss=loss,
        accuracy=accuracy,
    )
