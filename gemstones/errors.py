"""Errors of the user-facing layer, and the one map from any package's error to an exit code.

The three packages each have a base error with an ``exit_code`` class attribute (``registry`` and
``fitting`` cannot import this module, so their bases are their own): :class:`GemstonesError`,
``registry.errors.RegistryError`` and ``fitting.errors.FittingError``.

User mistakes (exit 2): :class:`GemstonesInputError` (short name ``InputError``) and its subclasses
(``ModelLoadError``, ``EvaluationInputError``), ``registry.errors.RegistryInputError`` (and
``registry.atomic.OutputPathError``), ``fitting.errors.FitInputError``.

Runtime failures (exit 1): :class:`RuntimeFailure`, ``registry.errors.HubError`` and its subclasses,
``registry.atomic.AtomicWriteError``. :func:`exit_code_for` is the single place that reads the map;
the CLI's ``main`` calls it. Nothing matches on message text: an input error carries the rejected
``value`` and the ``valid`` choices as attributes where the raiser knows them.

Example:
    >>> exit_code_for(GemstonesInputError("unknown design 'x'", value="x", valid=("hot", "cold")))
    2
    >>> exit_code_for(RuntimeFailure("3 of 4 units failed"))
    1
    >>> exit_code_for(KeyError("x")) is None
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fitting.errors import FittingError
from registry.errors import RegistryError

#: Exit code of a user mistake: a bad option, value, file or path.
USER_MISTAKE = 2
#: Exit code of a runtime failure: the Hub, a failed write, failed work units.
RUNTIME_FAILURE = 1


class GemstonesError(Exception):
    """Base of the user-facing layer's errors; ``exit_code`` is 2 for a mistake, 1 for a failure."""

    exit_code: ClassVar[int] = RUNTIME_FAILURE


class GemstonesInputError(GemstonesError, ValueError):
    """A design, file or argument that cannot be used; the message names it and what is valid.

    Attributes:
        value: the rejected value, when one value is to blame (else ``None``).
        valid: the accepted values, when they form a short list (else ``None``).
    """

    exit_code: ClassVar[int] = USER_MISTAKE

    def __init__(
        self, message: str, *, value: object = None, valid: Sequence[object] | None = None
    ) -> None:
        super().__init__(message)
        self.value = value
        self.valid = tuple(valid) if valid is not None else None


#: The short name of :class:`GemstonesInputError`.
InputError = GemstonesInputError


class RuntimeFailure(GemstonesError, RuntimeError):
    """Work that failed for a reason other than the user's input (e.g. a worker that kept dying)."""

    exit_code: ClassVar[int] = RUNTIME_FAILURE


#: The bases whose ``exit_code`` the CLI trusts: one per package.
ERROR_BASES: tuple[type[GemstonesError], type[RegistryError], type[FittingError]] = (
    GemstonesError,
    RegistryError,
    FittingError,
)


def exit_code_for(error: BaseException) -> int | None:
    """The CLI exit code of ``error``: 2 for a user mistake, 1 for a runtime failure.

    Args:
        error: any exception.

    Returns:
        the ``exit_code`` of one of the packages' errors (``ERROR_BASES``), or ``None`` for an
        exception that is not one of ours (a bug: the CLI lets it surface as a traceback).
    """
    if isinstance(error, ERROR_BASES):
        return int(error.exit_code)
    return None


def is_user_mistake(error: BaseException) -> bool:
    """True when ``error`` is one of the packages' input errors (exit code 2)."""
    return exit_code_for(error) == USER_MISTAKE
