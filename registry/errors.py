"""Errors raised by the registry.

``RegistryInputError`` is a user mistake (unknown variant, malformed checkpoint id, empty filter, an
``HF_ENDPOINT`` that is not a URL): the CLI prints its message on one line and exits 2. ``HubError`` is
a runtime failure of the registry (the Hub is offline, unauthorised or broken, or the user cache it
fills is unreadable): the CLI prints it and exits 1.
"""


class RegistryInputError(ValueError):
    """A query or argument the registry cannot accept; the message names the value and valid ones."""


class HubError(RuntimeError):
    """The Hub could not serve a request; the message says what to do."""


class HubAnswerError(HubError):
    """The Hub answered, but with something unusable: HTML, a wrong shape, an invalid commit id."""


class CatalogCacheError(HubError):
    """The refreshed catalog in the user cache is unreadable or has another schema.

    The message names the file and how to reset it. Read-only commands fall back to the embedded
    catalog with a warning instead of raising this.
    """
