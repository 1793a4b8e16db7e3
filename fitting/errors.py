"""Errors raised by the fitting package.

Every fitting error is a :class:`FittingError` and carries the CLI's exit code as the class attribute
``exit_code``. ``fitting`` imports neither ``gemstones`` nor ``registry``, so this base is its own;
``gemstones.errors.exit_code_for`` maps it to an exit code together with the other packages' bases.

Example:
    >>> error = FitInputError("--ci must be in (0, 1); got 1.5", value=1.5)
    >>> (error.exit_code, error.value, error.valid)
    (2, 1.5, None)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class FittingError(Exception):
    """Base of the fitting package's errors; ``exit_code`` is 2 for bad input, 1 for a failure."""

    exit_code: ClassVar[int] = 1


class FitInputError(FittingError, ValueError):
    """Data or options a fit cannot use (empty, non-positive, NaN, shapes); the message names the
    offending value or rows.

    Attributes:
        value: the rejected value, when one value is to blame (else ``None``).
        valid: the accepted values, when they form a short list (else ``None``).
    """

    exit_code: ClassVar[int] = 2

    def __init__(
        self, message: str, *, value: object = None, valid: Sequence[object] | None = None
    ) -> None:
        super().__init__(message)
        self.value = value
        self.valid = tuple(valid) if valid is not None else None
