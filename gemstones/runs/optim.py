"""The optimiser shared by the tiny recurrent-depth runs: clipped AdamW on a warm-up cosine schedule."""

from __future__ import annotations

from typing import Any


def warmup_cosine_adamw(
    learning_rate: float, train_steps: int, *, b2: float = 0.999, weight_decay: float = 0.01
) -> Any:
    """AdamW with global-norm clipping at 1, linear warm-up then cosine decay to 10% of the peak.

    The warm-up lasts a tenth of the run, between 1 and 100 steps.

    Args:
        learning_rate: peak learning rate.
        train_steps: length of the run (the schedule's horizon).
        b2: Adam's second-moment decay.
        weight_decay: decoupled weight decay.

    Returns:
        An ``optax.GradientTransformation``.

    Example:
        >>> import jax.numpy as jnp
        >>> optimizer = warmup_cosine_adamw(3e-3, 100)
        >>> state = optimizer.init({"w": jnp.zeros(2)})
    """
    import optax

    warmup = max(1, min(100, train_steps // 10))
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, learning_rate, warmup, max(train_steps, warmup + 1), 0.1 * learning_rate
    )
    return optax.chain(
        optax.clip_by_global_norm(1.0), optax.adamw(schedule, b2=b2, weight_decay=weight_decay)
    )
