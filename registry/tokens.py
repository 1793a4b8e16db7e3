"""Token counts as people write them (``100B``, ``1.5T``, ``100e9``) and as bounds on a selection.

One parser for the CLI (``--min-tokens``/``--max-tokens``) and the library
(``Catalog.select(min_tokens="100B")``).

A count written with a K/M/B/T suffix is a *nominal label*, the way the suite names its checkpoints:
the "100B" checkpoints of the main runs hold 100,034,150,400 tokens (23,850 steps of 4,194,304), a
little more than 100e9. A bound given as a label therefore matches checkpoints within
:data:`NOMINAL_TOLERANCE` (0.1%) of it, so ``--min-tokens 100B --max-tokens 100B`` selects them. A
plain number (``100e9``, ``100034150400``) is an exact, inclusive bound.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from .errors import RegistryInputError

#: Relative tolerance of a bound written as a nominal label (``100B``): 0.1%.
NOMINAL_TOLERANCE = 1e-3

_TOKEN_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
_TOKEN_RE = re.compile(
    r"^\s*(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)\s*(?P<suffix>[kKmMbBgGtT]?)\s*$"
)


def _match(text: str, option: str) -> re.Match[str]:
    match = _TOKEN_RE.match(text)
    if match is None:
        raise RegistryInputError(
            f"{option}: cannot read {text!r} as a token count; use a number like 100e9, 100B, 1.5T or 350M"
        )
    return match


def parse_token_count(text: str, option: str = "--min-tokens") -> float:
    """Parse a token count such as ``100e9``, ``100B``, ``1.5T`` or ``350000000``.

    Raises:
        RegistryInputError: the text is not a non-negative number with an optional K/M/B/T suffix.

    Example:
        >>> parse_token_count("1.5T")
        1500000000000.0
    """
    match = _match(text, option)
    return float(match["number"]) * _TOKEN_SUFFIX[match["suffix"].upper()]


def token_bound(
    value: str | float | int | None, option: str, side: Literal["min", "max"]
) -> float | None:
    """An inclusive bound on ``tokens`` from a count (exact) or a label such as ``"100B"`` (nominal).

    Args:
        value: a number, a string the parser reads, or None (no bound).
        option: the name errors show (``--min-tokens`` or ``min_tokens``).
        side: ``"min"`` widens a nominal label down by :data:`NOMINAL_TOLERANCE`, ``"max"`` up.

    Returns:
        The bound in tokens, or None.

    Raises:
        RegistryInputError: not a finite, non-negative number or a readable token count.

    Example:
        >>> token_bound("100B", "min_tokens", "min")
        99900000000.0
        >>> token_bound(100e9, "min_tokens", "min")
        100000000000.0
    """
    if value is None:
        return None
    if isinstance(value, str):
        match = _match(value, option)
        number = float(match["number"]) * _TOKEN_SUFFIX[match["suffix"].upper()]
        if not match["suffix"]:
            return number
        return number * (1 - NOMINAL_TOLERANCE if side == "min" else 1 + NOMINAL_TOLERANCE)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RegistryInputError(
            f"{option}: {value!r} is not a token count; give a number (100e9) or a label ('100B')"
        )
    if not math.isfinite(value) or value < 0:
        raise RegistryInputError(f"{option}: {value!r} must be a finite number >= 0")
    return float(value)
