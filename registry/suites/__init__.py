"""Checkpoint suites: the :class:`Suite` interface, one folder per suite, and the registry of suites.

A new suite is one folder (naming, architecture, catalog builder, a ``Suite`` subclass) plus one
registration::

    from registry.suites import get_suite, suite_names
    suite_names()                    # ('gemstones', 'pythia')
    get_suite("pythia").repo_id("70m", "deduped")   # 'EleutherAI/pythia-70m-deduped'

``get_suite`` fails with ``unknown suite 'x'; available: gemstones, pythia`` (a RegistryInputError:
exit 2 on the command line).
"""

from __future__ import annotations

from ..errors import RegistryInputError
from .base import Suite, SuiteRepo
from .gemstones.suite import GEMSTONES
from .pythia.suite import PYTHIA

#: The default suite: what every command and ``load_catalog()`` use unless told otherwise.
DEFAULT_SUITE = "gemstones"

#: Every registered suite by name, in registration order.
SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite, *, replace: bool = False) -> Suite:
    """Add ``suite`` to :data:`SUITES` under ``suite.name`` and return it.

    Args:
        suite: A concrete :class:`Suite`.
        replace: Allow replacing a suite of the same name (otherwise a RegistryInputError).

    Example:
        >>> register_suite(get_suite("pythia"), replace=True).name
        'pythia'
    """
    if not isinstance(suite, Suite):
        raise TypeError(f"{suite!r} is not a registry.suites.Suite")
    if suite.name in SUITES and not replace:
        raise RegistryInputError(f"a suite named {suite.name!r} is already registered")
    SUITES[suite.name] = suite
    return suite


def unregister_suite(name: str) -> None:
    """Remove a suite (tests and plug-ins); the default suite cannot be removed."""
    if name == DEFAULT_SUITE:
        raise RegistryInputError(f"the default suite {name!r} cannot be unregistered")
    SUITES.pop(name, None)


def suite_names() -> tuple[str, ...]:
    """Names of the registered suites, in registration order."""
    return tuple(SUITES)


def get_suite(name: str | Suite | None = None) -> Suite:
    """The registered suite called ``name`` (None = the default, Gemstones).

    Raises:
        RegistryInputError: ``unknown suite 'x'; available: gemstones, pythia``.

    Example:
        >>> get_suite("gemstones").organisation
        'tomg-group-umd'
    """
    if isinstance(name, Suite):
        return name
    key = DEFAULT_SUITE if name is None else name
    try:
        return SUITES[key]
    except KeyError:
        raise RegistryInputError(f"unknown suite {key!r}; available: {', '.join(SUITES)}") from None


def suite_of_repo(repo_id: str) -> Suite | None:
    """The registered suite whose naming rule accepts ``repo_id``, or None."""
    return next((suite for suite in SUITES.values() if suite.owns_repo(repo_id)), None)


register_suite(GEMSTONES)
register_suite(PYTHIA)

__all__ = [
    "DEFAULT_SUITE",
    "SUITES",
    "Suite",
    "SuiteRepo",
    "get_suite",
    "register_suite",
    "suite_names",
    "suite_of_repo",
    "unregister_suite",
]
