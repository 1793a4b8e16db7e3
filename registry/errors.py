"""Errors raised by the registry.

Every registry error is a :class:`RegistryError` and carries the exit code the CLI uses for it, as
the class attribute ``exit_code``:

* :class:`RegistryInputError` (exit 2) is a user mistake (unknown variant, malformed checkpoint id,
  empty filter, an ``HF_ENDPOINT`` that is not a URL). ``value`` is the rejected value and ``valid``
  what would have been accepted, where the raiser knows them.
* :class:`HubError` (exit 1) is a runtime failure (the Hub is offline, unauthorised or broken, or the
  user cache it fills is unreadable).

``registry`` cannot import ``gemstones``, so this base is its own; ``gemstones.errors.exit_code_for``
maps it (and ``fitting``'s and ``gemstones``' bases) to an exit code in one place.

Example:
    >>> error = RegistryInputError("unknown variant 'x'; valid variants: main", value="x", valid=("main",))
    >>> (error.exit_code, error.value, error.valid)
    (2, 'x', ('main',))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

#: Exit code of a user mistake (bad option, value, file or path).
USER_MISTAKE = 2
#: Exit code of a runtime failure (the Hub, a failed write).
RUNTIME_FAILURE = 1


class RegistryError(Exception):
    """Base of the registry's errors; ``exit_code`` says whether it is a mistake (2) or failure (1)."""

    exit_code: ClassVar[int] = RUNTIME_FAILURE


class RegistryInputError(RegistryError, ValueError):
    """A query or argument the registry cannot accept; the message names the value and valid ones.

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


class HubError(RegistryError, RuntimeError):
    """The Hub could not serve a request; the message says what to do."""

    exit_code: ClassVar[int] = RUNTIME_FAILURE


class HubAnswerError(HubError):
    """The Hub answered, but with something unusable: HTML, a wrong shape, an invalid commit id."""


class CatalogCacheError(HubError):
    """The refreshed catalog in the user cache is unreadable or has another schema.

    The message names the file and how to reset it. Read-only commands fall back to the embedded
    catalog with a warning instead of raising this.
    """
