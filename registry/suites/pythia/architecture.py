"""Architecture arithmetic of the Pythia suite: parameters and FLOPs per token of its eight shapes.

Pythia models are GPT-NeoX decoders (sources in ``data/suites/pythia/PROVENANCE.md``): LayerNorm
(weight and bias) before attention and before the MLP, which run in parallel on the same input;
fused QKV projection with bias; dense output projection with bias; a GELU MLP of 4 x hidden with
biases; rotary embeddings on 25% of each head (no parameters); a final LayerNorm; untied input
embedding and output head over the padded vocabulary ``V`` (50,304, or 50,432 / 50,688 for 6.9B / 12B).

Per block of hidden size ``w``: attention ``4w^2 + 4w``, MLP ``8w^2 + 5w``, two LayerNorms ``4w``,
so ``12w^2 + 13w``. Non-embedding parameters (as the model cards count them) are
``L(12w^2 + 13w) + 2w``; the total adds ``2Vw``. Both equal the published counts of every size.

FLOPs per token (our accounting, stated here so it can be changed in one place): every weight
matrix costs 2 FLOPs per parameter per token in the forward pass, the output head included and
the input embedding (a lookup) excluded, so ``2(N_non_embedding + Vw)``; causal-agnostic attention
adds ``4LTw`` (scores ``QK^T`` and the weighted sum of values, ``2Tw`` each per block, context
``T = 2,048``); training is three forward passes (forward + backward):
``flops_per_token = 3 (2(N_non_embedding + Vw) + 4LTw)``. This is the usual ``6N`` rule with the
attention term of Kaplan et al. 2020 (arXiv 2001.08361, section 2.1) counted for both products.

Functions are vectorised over arrays of (width, depth); a pair that is not one of the eight Pythia
shapes raises RegistryInputError (the padded vocabulary is only published for those).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...embedded import embedded_path
from ...errors import RegistryInputError

SEQUENCE_LENGTH = 2_048
SEQUENCES_PER_BATCH = 1_024
TOKENS_PER_STEP = SEQUENCE_LENGTH * SEQUENCES_PER_BATCH  # 2,097,152
MLP_EXPANSION = 4


@dataclass(frozen=True)
class PythiaShape:
    """One published Pythia size, as in ``data/suites/pythia/architectures.csv``."""

    size: str
    width: int
    depth: int
    heads: int
    intermediate: int
    vocab: int
    rotary_pct: float
    tied_embeddings: bool
    parallel_residual: bool
    published_params: int
    published_non_embedding_params: int


@cache
def shapes() -> tuple[PythiaShape, ...]:
    """The eight published sizes, smallest first (read once from the embedded CSV)."""
    path = embedded_path("suites", "pythia", "architectures.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        return tuple(
            PythiaShape(
                size=row["size"],
                width=int(row["hidden_size"]),
                depth=int(row["num_layers"]),
                heads=int(row["num_heads"]),
                intermediate=int(row["intermediate_size"]),
                vocab=int(row["vocab_size"]),
                rotary_pct=float(row["rotary_pct"]),
                tied_embeddings=row["tie_word_embeddings"] == "true",
                parallel_residual=row["use_parallel_residual"] == "true",
                published_params=int(row["published_params"]),
                published_non_embedding_params=int(row["published_non_embedding_params"]),
            )
            for row in csv.DictReader(handle)
        )


def shape_of(size: str) -> PythiaShape:
    """The facts of one size, e.g. ``shape_of("70m").width`` -> 512."""
    for shape in shapes():
        if shape.size == size:
            return shape
    raise RegistryInputError(
        f"unknown Pythia size {size!r}; valid sizes: {', '.join(s.size for s in shapes())}"
    )


def _as_float(x: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


def vocab_size(width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
    """Padded vocabulary (embedding rows) of each (width, depth); RegistryInputError for other shapes."""
    w, d = np.broadcast_arrays(_as_float(width), _as_float(depth))
    known = {(float(s.width), float(s.depth)): float(s.vocab) for s in shapes()}
    out = np.empty(w.shape, dtype=np.float64)
    for index in np.ndindex(w.shape):
        key = (float(w[index]), float(d[index]))
        if key not in known:
            valid = ", ".join(f"{s.width}x{s.depth}" for s in shapes())
            raise RegistryInputError(
                f"{int(key[0])}x{int(key[1])} is not a Pythia shape (width x depth); valid: {valid}"
            )
        out[index] = known[key]
    return out


def non_embedding_parameter_count(width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
    """``L(12w^2 + 13w) + 2w``: blocks plus the final LayerNorm (the model cards' non-embedding count)."""
    w, d = _as_float(width), _as_float(depth)
    attention = 4 * w**2 + 4 * w
    mlp = 2 * MLP_EXPANSION * w**2 + (MLP_EXPANSION + 1) * w
    norms = 4 * w
    return d * (attention + mlp + norms) + 2 * w


def parameter_count(width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
    """Total parameters: non-embedding plus the untied input embedding and output head, ``2Vw``."""
    return non_embedding_parameter_count(width, depth) + 2 * vocab_size(width, depth) * _as_float(
        width
    )


def flops_per_token(
    width: ArrayLike, depth: ArrayLike, sequence_length: int = SEQUENCE_LENGTH
) -> NDArray[np.float64]:
    """Training FLOPs per token: ``3 (2(N_non_embedding + Vw) + 4LTw)`` (see the module docstring)."""
    w, d = _as_float(width), _as_float(depth)
    matmuls = non_embedding_parameter_count(w, d) + vocab_size(w, d) * w
    attention = 4 * d * float(sequence_length) * w
    return 3 * (2 * matmuls + attention)


def tokens_at_step(step: ArrayLike) -> NDArray[np.int64]:
    """Tokens seen after ``step`` optimizer steps: step * 1,024 sequences * 2,048 tokens."""
    return np.asarray(step, dtype=np.int64) * TOKENS_PER_STEP
