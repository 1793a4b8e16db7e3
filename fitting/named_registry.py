"""One named registry for every extensible family: law families, architectures, metrics, executors.

It lives in ``fitting`` (plain Python, no numerics) because both ``fitting`` and ``gemstones`` need
it and imports only go ``gemstones -> fitting``.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, ValuesView
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Members of one extensible family, keyed by name.

    Args:
        kind: what a member is, used in error messages ("law family", "architecture").
        error: the exception raised for an unknown name (a ``ValueError`` subclass, so a CLI maps
            it to exit 2).
        populate: called once, on first use, to register the built-in members (lets modules that
            define members import the registry without a cycle).

    Example:
        >>> families = Registry[int]("architecture")
        >>> families.register("gemma", 1)
        1
        >>> families.get("gemma"), families.names()
        (1, ('gemma',))
    """

    def __init__(
        self,
        kind: str,
        error: Callable[[str], Exception] = ValueError,
        populate: Callable[[], None] | None = None,
    ) -> None:
        self.kind = kind
        self._error = error
        self._members: dict[str, T] = {}
        self._populate = populate

    def _ready(self) -> dict[str, T]:
        """The members, after the built-ins (``populate``, run once on first use) are in."""
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate()
        return self._members

    def register(self, name: str, member: T, *, replace: bool = False) -> T:
        """Add ``member`` under ``name``; registering a taken name needs ``replace=True``."""
        if name in self._ready() and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._ready()[name] = member
        return member

    def unregister(self, name: str) -> T:
        """Remove and return the member called ``name`` (the registry's error if unknown)."""
        member = self.get(name)
        del self._ready()[name]
        return member

    def get(self, name: str) -> T:
        """The member called ``name``.

        Raises:
            the registry's error: ``unknown <kind> 'x'; available: ...`` (in registration order).
        """
        try:
            return self._ready()[name]
        except KeyError:
            available = ", ".join(self._ready()) or "none"
            raise self._error(f"unknown {self.kind} {name!r}; available: {available}") from None

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._ready())

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def values(self) -> ValuesView[T]:
        """The members, in registration order."""
        return self._ready().values()

    def items(self) -> ItemsView[str, T]:
        """``(name, member)`` pairs, in registration order."""
        return self._ready().items()

    def __contains__(self, name: object) -> bool:
        return name in self._ready()

    def __iter__(self) -> Iterator[str]:
        return iter(self._ready())

    def __len__(self) -> int:
        return len(self._ready())
