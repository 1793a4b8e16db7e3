"""Metrics of a loaded model on the user's own data: loss and bits per byte, multiple-choice accuracy.

Definitions:

- **loss**: mean next-token negative log-likelihood (nats) over the scored tokens;
- **bits per byte**: summed NLL / ln 2 / UTF-8 bytes of the scored text;
- **acc**: an item is right when the right choice has the largest summed log-likelihood of its
  continuation tokens; **acc_norm**: the same after dividing each by the length of the choice string,
  as lm-eval's ``process_results`` does (``len(choice)``, characters; equal to UTF-8 bytes for
  ASCII). Context/continuation tokenisation follows lm-eval's ``_encode_pair``.

How documents meet the context window (``packing``):

- ``"pack"``: documents are concatenated into one stream (each preceded by ``prefix_token_id`` if
  given) and cut into windows of ``context`` tokens; every token but the stream's first is scored
  once; attention crosses document boundaries, as in training;
- ``"truncate"``: each document on its own, cut to its first ``context + 1`` tokens;
- ``"sliding"``: each document on its own, every token scored once, windows of ``context`` tokens
  advancing by ``stride`` (default ``context // 2``) so later tokens see at least
  ``context - stride`` tokens of history.

Without a prefix token the first token of a document has nothing to condition on and is not scored
(except in ``pack`` mode after the first document); bytes count only the text of scored tokens, from
the tokenizer's offsets.

Each value these functions return becomes a catalog column described by the metric registry
(``registry.metrics.EVALUATED_COLUMNS``: its kind, unit and definition).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import numpy as np
import tokenizers

from gemstones.evaluate.inputs import (
    EvaluationInputError,
    MCItem,
    as_items,
    read_corpus,
    read_tasks,
)
from gemstones.models import (
    check_tokenizer_fits,
    load_model,  # noqa: F401  (used by the docstring examples)
    load_tokenizer,  # noqa: F401
)

__all__ = [
    "PACKINGS",
    "EvaluationInputError",
    "LossResult",
    "MCItem",
    "MCResult",
    "corpus_loss",
    "multiple_choice",
    "read_corpus",
    "read_tasks",
]

Packing = Literal["pack", "truncate", "sliding"]
PACKINGS: tuple[str, ...] = ("pack", "truncate", "sliding")


# -- scoring rows ------------------------------------------------------------------------------------


class ScoringModel(Protocol):
    """What the metrics need of a model: a ``LoadedModel``, or a wrapper that forwards to one."""

    @property
    def config(self) -> Any: ...

    @property
    def vocab_size(self) -> int: ...

    def token_logprobs(
        self, input_ids: np.ndarray, targets: np.ndarray, attention_mask: np.ndarray, /
    ) -> Any: ...


@dataclass(frozen=True)
class _Row:
    """One model input: ``tokens[start:stop]`` predicts ``tokens[start+1:stop+1]``; targets at
    indices ``>= first`` whose ``owner`` is not negative are scored."""

    segment: int
    start: int
    stop: int
    first: int


def _bucket(length: int, context: int) -> int:
    """Smallest power of two >= length (at least 8), capped at context: few compiled shapes."""
    return min(context, max(8, 1 << max(0, length - 1).bit_length()))


def _score_rows(
    model: ScoringModel,
    segments: Sequence[np.ndarray],
    owners: Sequence[np.ndarray],
    rows: Sequence[_Row],
    *,
    context: int,
    batch_size: int,
) -> Iterator[tuple[_Row, np.ndarray, np.ndarray]]:
    """Yield, per row, the scored target indices (into its segment) and their log-probabilities."""
    for begin in range(0, len(rows), batch_size):
        batch = rows[begin : begin + batch_size]
        width = _bucket(max(r.stop - r.start for r in batch), context)
        ids = np.zeros((batch_size, width), dtype=np.int32)
        targets = np.zeros((batch_size, width), dtype=np.int32)
        mask = np.zeros((batch_size, width), dtype=np.int32)
        for i, r in enumerate(batch):
            n = r.stop - r.start
            ids[i, :n] = segments[r.segment][r.start : r.stop]
            targets[i, :n] = segments[r.segment][r.start + 1 : r.stop + 1]
            mask[i, :n] = 1
        logprobs = np.asarray(model.token_logprobs(ids, targets, mask), dtype=np.float64)
        for i, r in enumerate(batch):
            index = np.arange(r.start + 1, r.stop + 1)
            keep = (index >= r.first) & (owners[r.segment][index] >= 0)
            yield r, index[keep], logprobs[i, : r.stop - r.start][keep]


def _check_args(
    model: ScoringModel, tokenizer: tokenizers.Tokenizer, context: int | None, batch_size: int
) -> int:
    check_tokenizer_fits(tokenizer, model.vocab_size)
    limit = int(getattr(model.config, "max_position_embeddings", 0) or 0)
    context = context if context is not None else min(2048, limit or 2048)
    if isinstance(context, bool) or not isinstance(context, int) or context < 2:
        raise EvaluationInputError(f"context {context!r} must be an integer >= 2")
    if limit and context > limit:
        raise EvaluationInputError(
            f"context {context} exceeds the model's max_position_embeddings {limit}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise EvaluationInputError(f"batch_size {batch_size!r} must be a positive integer")
    return context


# -- corpus loss -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossResult:
    """Loss of a model on a corpus.

    Attributes:
        loss: mean NLL per scored token (nats).
        bits_per_byte: ``nll_sum / ln 2 / bytes``.
        nll_sum: summed NLL over scored tokens (nats).
        tokens: scored tokens.
        bytes: UTF-8 bytes of the scored text.
        documents: documents read (including any with nothing scored).
        document_nll: per-document summed NLL (nats), in input order.
        document_tokens: per-document scored tokens.
        document_bytes: per-document scored bytes.
        packing: ``pack``, ``truncate`` or ``sliding``.
        context: tokens per model input.
    """

    loss: float
    bits_per_byte: float
    nll_sum: float
    tokens: int
    bytes: int
    documents: int
    document_nll: tuple[float, ...]
    document_tokens: tuple[int, ...]
    document_bytes: tuple[int, ...]
    packing: str
    context: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _layout(
    encodings: Sequence[tokenizers.Encoding],
    packing: str,
    context: int,
    stride: int,
    prefix: int | None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[_Row]]:
    """Token segments, their owners (document index, -1 for prefix tokens), each token's index within
    its document, and the rows that score them."""
    pieces: list[tuple[np.ndarray, ...]] = []
    for d, enc in enumerate(encodings):
        ids = np.asarray(enc.ids, dtype=np.int64)
        owner = np.full(len(ids), d, dtype=np.int64)
        local = np.arange(len(ids), dtype=np.int64)
        if prefix is not None:
            ids, owner, local = (
                np.concatenate([[prefix], ids]),
                np.concatenate([[-1], owner]),
                np.concatenate([[-1], local]),
            )
        if packing == "truncate":
            ids, owner, local = ids[: context + 1], owner[: context + 1], local[: context + 1]
        pieces.append((ids, owner, local))
    if packing == "pack":
        pieces = [tuple(np.concatenate(parts) for parts in zip(*pieces, strict=True))]
    segments, owners, locals_ = (list(x) for x in zip(*pieces, strict=True))
    rows: list[_Row] = []
    for s, ids in enumerate(segments):
        last = len(ids) - 1  # last target index
        if last < 1:
            continue
        if packing in ("pack", "truncate"):
            rows += [
                _Row(s, start, min(start + context, last), start + 1)
                for start in range(0, last, context)
            ]
        else:  # sliding
            first, stop = 1, min(context, last)
            while True:
                rows.append(_Row(s, max(0, stop - context), stop, first))
                if stop == last:
                    break
                first, stop = stop + 1, min(stop + stride, last)
    return segments, owners, locals_, rows


def _scored_bytes(text: str, enc: tokenizers.Encoding, lo: int, hi: int) -> int:
    """UTF-8 bytes of the text of tokens lo..hi (inclusive), from the tokenizer's character offsets."""
    n = len(enc.ids)
    start = 0 if lo == 0 else enc.offsets[lo - 1][1]
    stop = len(text) if hi == n - 1 else enc.offsets[hi][1]
    return len(text[start:stop].encode("utf-8"))


def corpus_loss(
    model: ScoringModel,
    tokenizer: tokenizers.Tokenizer,
    documents: Sequence[str],
    *,
    context: int | None = None,
    packing: Packing = "pack",
    batch_size: int = 8,
    stride: int | None = None,
    prefix_token_id: int | None = None,
) -> LossResult:
    """Per-token loss and bits per byte of ``model`` on ``documents``.

    Args:
        model: from :func:`gemstones.models.load_model`.
        tokenizer: from :func:`gemstones.models.load_tokenizer` (its ids must fit the model).
        documents: the texts (see :func:`read_corpus`).
        context: tokens per model input; default ``min(2048, max_position_embeddings)``.
        packing: ``"pack"``, ``"truncate"`` or ``"sliding"`` (module docstring).
        batch_size: model inputs per forward pass.
        stride: new tokens per window in ``sliding`` mode (default ``context // 2``).
        prefix_token_id: a token put before every document (e.g. the tokenizer's end-of-text) so
            that its first token is scored too; None scores from the second token.

    Returns:
        A :class:`LossResult` with means, sums and per-document sums.

    Raises:
        EvaluationInputError: an unknown packing, a bad context/stride/batch size, no document,
            or nothing to score.
        ModelLoadError: a tokenizer whose ids do not fit the model.

    Example:
        >>> model = load_model("tests/gemstones/data_models/gemma_gqa_untied")
        >>> tok = load_tokenizer("tests/gemstones/data_models/gemma_gqa_untied")
        >>> result = corpus_loss(model, tok, ["Scaling laws.", "A second document."], context=64)
        >>> result.documents, result.tokens
        (2, 25)
    """
    if packing not in PACKINGS:
        raise EvaluationInputError(
            f"unknown packing {packing!r}; choose one of: {', '.join(PACKINGS)}"
        )
    context = _check_args(model, tokenizer, context, batch_size)
    stride = stride if stride is not None else max(1, context // 2)
    if isinstance(stride, bool) or not isinstance(stride, int) or not 1 <= stride <= context - 1:
        raise EvaluationInputError(f"stride {stride!r} must be an integer in [1, context - 1]")
    if prefix_token_id is not None and not 0 <= prefix_token_id < model.vocab_size:
        raise EvaluationInputError(
            f"prefix_token_id {prefix_token_id} is outside the vocabulary [0, {model.vocab_size})"
        )
    documents = list(documents)
    if not documents:
        raise EvaluationInputError("no documents to evaluate")
    encodings = tokenizer.encode_batch(documents, add_special_tokens=False)
    segments, owners, locals_, rows = _layout(encodings, packing, context, stride, prefix_token_id)

    n = len(documents)
    nll = np.zeros(n)
    count = np.zeros(n, dtype=np.int64)
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.full(n, -1)
    for r, index, logprobs in _score_rows(
        model, segments, owners, rows, context=context, batch_size=batch_size
    ):
        docs, local = owners[r.segment][index], locals_[r.segment][index]
        np.add.at(nll, docs, -logprobs)
        np.add.at(count, docs, 1)
        np.minimum.at(lo, docs, local)
        np.maximum.at(hi, docs, local)
    total = int(count.sum())
    if total == 0:
        raise EvaluationInputError(
            "nothing to score: every document has fewer than two tokens; pass a prefix token"
        )
    nbytes = [
        _scored_bytes(text, enc, int(lo[d]), int(hi[d])) if count[d] else 0
        for d, (text, enc) in enumerate(zip(documents, encodings, strict=True))
    ]
    total_nll, total_bytes = float(nll.sum()), int(sum(nbytes))
    return LossResult(
        loss=total_nll / total,
        bits_per_byte=total_nll / math.log(2) / total_bytes if total_bytes else math.nan,
        nll_sum=total_nll,
        tokens=total,
        bytes=total_bytes,
        documents=n,
        document_nll=tuple(float(x) for x in nll),
        document_tokens=tuple(int(x) for x in count),
        document_bytes=tuple(nbytes),
        packing=packing,
        context=context,
    )


# -- multiple choice ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MCResult:
    """Multiple-choice accuracy by log-likelihood.

    Attributes:
        acc: fraction of items whose right choice has the largest summed log-likelihood.
        acc_norm: the same with log-likelihoods divided by ``len(choice)`` (lm-eval).
        acc_stderr: standard error of ``acc`` over items (sample standard deviation / sqrt(n)).
        acc_norm_stderr: the same for ``acc_norm``.
        items: number of items.
        chance: expected accuracy of a uniform guess (mean of 1 / number of choices).
        loglikelihoods: per item, per choice, the summed log-likelihood of its continuation.
        predictions: per item, the argmax choice; ``predictions_norm`` for ``acc_norm``.
        answers: per item, the right choice.
    """

    acc: float
    acc_norm: float
    acc_stderr: float
    acc_norm_stderr: float
    items: int
    chance: float
    loglikelihoods: tuple[tuple[float, ...], ...]
    predictions: tuple[int, ...]
    predictions_norm: tuple[int, ...]
    answers: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return {
            k: [list(x) if isinstance(x, tuple) else x for x in v] if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
        }


def _encode_pair(
    tokenizer: tokenizers.Tokenizer, context: str, continuation: str, prefix: int | None
) -> tuple[list[int], list[int]]:
    """Context and continuation token ids, split as lm-eval splits them."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    if not context:
        if prefix is None:
            raise EvaluationInputError(
                "an item has an empty context: pass prefix_token_id so its first token can be scored"
            )
        return [prefix], tokenizer.encode(continuation, add_special_tokens=False).ids
    whole = tokenizer.encode(context + continuation, add_special_tokens=False).ids
    head = tokenizer.encode(context, add_special_tokens=False).ids
    return whole[: len(head)], whole[len(head) :]


def _stderr(hits: np.ndarray) -> float:
    return float(np.std(hits, ddof=1) / math.sqrt(len(hits))) if len(hits) > 1 else math.nan


def multiple_choice(
    model: ScoringModel,
    tokenizer: tokenizers.Tokenizer,
    items: Sequence[MCItem | dict],
    *,
    context: int | None = None,
    batch_size: int = 8,
    target_delimiter: str = " ",
    prefix_token_id: int | None = None,
) -> MCResult:
    """Accuracy of ``model`` on multiple-choice ``items`` by log-likelihood (lm-eval's acc, acc_norm).

    Args:
        model: from :func:`gemstones.models.load_model`.
        tokenizer: from :func:`gemstones.models.load_tokenizer`.
        items: :class:`MCItem` objects (see :func:`read_tasks`) or task-row dicts.
        context: longest model input; longer context + continuation is cut on the left.
        batch_size: model inputs (one per choice) per forward pass.
        target_delimiter: put between context and choice (lm-eval's default is one space).
        prefix_token_id: token used as context for items whose context is empty.

    Returns:
        An :class:`MCResult`.

    Raises:
        EvaluationInputError: no items, invalid rows, an empty context without a prefix token, or a
            continuation longer than the context window.

    Example:
        >>> model = load_model("tests/gemstones/data_models/gemma_gqa_untied")
        >>> tok = load_tokenizer("tests/gemstones/data_models/gemma_gqa_untied")
        >>> result = multiple_choice(model, tok, read_tasks("tests/gemstones/data_eval/tasks.jsonl"))
        >>> result.items, round(result.chance, 3)
        (3, 0.389)
    """
    items = as_items(items)
    if not items:
        raise EvaluationInputError("no multiple-choice items to evaluate")
    context = _check_args(model, tokenizer, context, batch_size)
    segments: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    rows: list[Any] = []
    slots: list[Any] = []
    for i, item in enumerate(items):
        for j, choice in enumerate(item.choices):
            head, tail = _encode_pair(
                tokenizer, item.context, target_delimiter + choice, prefix_token_id
            )
            if not tail:
                raise EvaluationInputError(
                    f"item {i + 1} choice {j}: the continuation has no tokens"
                )
            if len(tail) > context:
                raise EvaluationInputError(
                    f"item {i + 1} choice {j}: continuation of {len(tail)} tokens exceeds context {context}"
                )
            ids = np.asarray(head + tail, dtype=np.int64)
            last = len(ids) - 1
            rows.append(_Row(len(segments), max(0, last - context), last, len(head)))
            segments.append(ids)
            owners.append(np.zeros(len(ids), dtype=np.int64))
            slots.append((i, j))
    sums = {slot: 0.0 for slot in slots}
    for r, _, logprobs in _score_rows(
        model, segments, owners, rows, context=context, batch_size=batch_size
    ):
        sums[slots[r.segment]] += float(logprobs.sum())
    lls = tuple(
        tuple(sums[(i, j)] for j in range(len(item.choices))) for i, item in enumerate(items)
    )
    answers = np.array([item.answer for item in items])
    pred = np.array([int(np.argmax(ll)) for ll in lls])
    lengths = [np.array([float(len(c)) for c in item.choices]) for item in items]
    pred_norm = np.array(
        [int(np.argmax(np.array(ll) / n)) for ll, n in zip(lls, lengths, strict=True)]
    )
    hits, hits_norm = (pred == answers).astype(float), (pred_norm == answers).astype(float)
    return MCResult(
        acc=float(hits.mean()),
        acc_norm=float(hits_norm.mean()),
        acc_stderr=_stderr(hits),
        acc_norm_stderr=_stderr(hits_norm),
        items=len(items),
        chance=float(np.mean([1.0 / len(item.choices) for item in items])),
        loglikelihoods=lls,
        predictions=tuple(int(p) for p in pred),
        predictions_norm=tuple(int(p) for p in pred_norm),
        answers=tuple(int(a) for a in answers),
    )
