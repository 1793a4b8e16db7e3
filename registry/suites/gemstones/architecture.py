"""Architecture arithmetic of the Gemstones suite: parameters and FLOPs per token of a (width, depth).

Source: the Gemstones paper (arXiv 2502.06857) and its MIT-licensed repository's accounting, as
restated in DESIGN.md. Gemma-style blocks, grouped-query attention with two queries per KV group,
heads of 128, a GEGLU MLP of hidden size 4w, vocabulary 50,304, sequence 2,048, untied embedding
and LM head. All functions are vectorised: they accept scalars or numpy arrays and broadcast.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

HEAD_DIM = 128
VOCAB_SIZE = 50_304
SEQUENCE_LENGTH = 2_048
SEQUENCES_PER_BATCH = 2_048
TOKENS_PER_STEP = SEQUENCE_LENGTH * SEQUENCES_PER_BATCH  # 4,194,304
MLP_EXPANSION = 4
GPUS_PER_NODE = 8


def _as_float(x: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


def parameter_count(width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
    """Total parameters of a Gemstone of this width and depth (embedding and LM head included).

    params = d * (w*(n_h + 2 n_g)*128 + 128*n_h*w + 3*w*4w + 2w) + 2*V*w + w, with n_h = w/128 heads
    and n_g = n_h/2 KV groups; equals the upstream ``params_active_precise`` for all 22 shapes.
    """
    w, d = _as_float(width), _as_float(depth)
    n_heads = np.floor(w / HEAD_DIM)
    n_groups = np.floor(n_heads / 2)
    attention = w * (n_heads + 2 * n_groups) * HEAD_DIM + HEAD_DIM * n_heads * w
    mlp = 3 * w * (MLP_EXPANSION * w)
    norms = 2 * w
    return d * (attention + mlp + norms) + 2 * VOCAB_SIZE * w + w


def embedding_parameter_count(width: ArrayLike) -> NDArray[np.float64]:
    """Parameters of one vocabulary matrix (the input embedding, or the untied LM head): V * w."""
    return VOCAB_SIZE * _as_float(width)


def non_embedding_parameter_count(width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
    """Parameters without the input embedding and the LM head (the paper's approach-1 'no_embeds')."""
    return parameter_count(width, depth) - 2 * embedding_parameter_count(width)


def _flops_per_sequence(
    width: ArrayLike, depth: ArrayLike, sequence_length: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(forward, backward) FLOPs of one sequence under the paper's accounting (see flops_per_token)."""
    w, d = _as_float(width), _as_float(depth)
    t = float(sequence_length)
    n_q = w / HEAD_DIM
    n_kv = n_q
    f = MLP_EXPANSION * w
    v = float(VOCAB_SIZE)
    projections = 2 * t * (n_q + n_kv) * w * HEAD_DIM + 3.5 * t * (n_q + n_kv / 2) * HEAD_DIM
    scores = t**2 * HEAD_DIM * n_q + 3 * t**2 * n_q + 2 * t**2 * HEAD_DIM * n_q
    output = 2 * t * w * HEAD_DIM * n_q
    mlp = 6 * t * w * f + 10 * t * f + 2 * w * t
    residual = 14 * w * t
    head = 7 * w * t + 2 * t * w * v
    forward = d * (projections + scores + output + mlp + residual) + head
    backward = d * (2 * projections + 2.5 * scores + 2 * output) + 2 * (d * (mlp + residual) + head)
    return forward, backward


def flops_per_token(
    width: ArrayLike, depth: ArrayLike, sequence_length: int = SEQUENCE_LENGTH
) -> NDArray[np.float64]:
    """Training FLOPs per token (forward + backward) under the paper's accounting.

    Per sequence of T tokens with n_q = n_kv = w/128 heads of 128, MLP width f = 4w, vocabulary V:
    P projections + RoPE, S attention scores/softmax/values, O output projection, M the MLP,
    R norms and residuals; forward = d(P+S+O+M+R) + 7wT + 2TwV and
    backward = d(2P + 2.5S + 2O) + 2(d(M+R) + 7wT + 2TwV). Returned per token: (fwd + bwd) / T.
    """
    forward, backward = _flops_per_sequence(width, depth, sequence_length)
    return (forward + backward) / float(sequence_length)


def forward_flops_per_token(
    width: ArrayLike, depth: ArrayLike, sequence_length: int = SEQUENCE_LENGTH
) -> NDArray[np.float64]:
    """Forward-only FLOPs per token (evaluation), the forward part of :func:`flops_per_token`.

    ``sequence_length`` is the evaluation context: the attention terms grow with it.
    """
    forward, _ = _flops_per_sequence(width, depth, sequence_length)
    return forward / float(sequence_length)


def tokens_at_step(step: ArrayLike) -> NDArray[np.int64]:
    """Tokens seen after ``step`` optimizer steps: step * 2048 sequences * 2048 tokens."""
    return np.asarray(step, dtype=np.int64) * TOKENS_PER_STEP


def gpu_hours(
    seconds_per_step: ArrayLike, step: ArrayLike, num_nodes: ArrayLike
) -> NDArray[np.float64]:
    """GPU hours to reach ``step``: seconds_per_step * step * num_nodes * 8 GPUs / 3600."""
    return (
        _as_float(seconds_per_step)
        * _as_float(step)
        * _as_float(num_nodes)
        * GPUS_PER_NODE
        / 3600.0
    )
