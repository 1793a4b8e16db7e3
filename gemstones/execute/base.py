"""The executor interface: run a function over independent work units, somewhere.

An :class:`Executor` maps a function over units and hands each result back to the caller (in the
driver process) as soon as it is ready; where the function runs is the executor's business: in this
process (``local``) or on a Ray cluster (``ray``). :func:`run_units` adds idempotence on top: with a
:class:`UnitStore`, units already done are skipped and each finished unit is saved exactly once,
by the driver, so a sweep resumes after an interrupt and a retried unit is never recorded twice.

Executors are registered by name (:func:`register_executor`); the CLI derives its ``--executor``
choices from :func:`available_executors`::

    from gemstones.execute import get_executor

    with get_executor("local") as executor:
        squares = executor.map(lambda x: x * x, [1, 2, 3])   # [1, 4, 9]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from fitting.named_registry import Registry
from gemstones.errors import GemstonesInputError, RuntimeFailure, is_user_mistake

U = TypeVar("U")
R = TypeVar("R")


@dataclass(frozen=True)
class Resources:
    """What one unit asks of the machine that runs it, and how often a lost worker is retried.

    Attributes:
        cpus: CPU cores per unit (Ray's ``num_cpus``).
        gpus: accelerators per unit (Ray's ``num_gpus``; 0 = none).
        max_retries: times a unit whose worker died is run again (Ray's ``max_retries``). An
            exception raised by the unit itself is not retried: it is deterministic.
    """

    cpus: float = 1.0
    gpus: float = 0.0
    max_retries: int = 3

    def __post_init__(self) -> None:
        if not self.cpus >= 0 or not self.gpus >= 0:
            raise GemstonesInputError(
                f"resources must be >= 0; got cpus={self.cpus}, gpus={self.gpus}"
            )
        if self.max_retries < 0:
            raise GemstonesInputError(f"max_retries must be >= 0; got {self.max_retries}")


@dataclass(frozen=True)
class UnitFailure:
    """A unit whose function raised (or whose worker kept dying past its retries)."""

    unit: Any
    error: BaseException


class UnitsFailed(RuntimeFailure):
    """Some units failed; the others finished (and, under :func:`run_units`, were saved).

    A runtime failure (exit 1); the CLI reports it as a user mistake when :attr:`user_errors_only`.

    Attributes:
        failures: one :class:`UnitFailure` per failed unit, in completion order.
        total: how many units were run.
    """

    def __init__(
        self, failures: Sequence[UnitFailure], total: int, describe: Callable[[Any], str] = str
    ):
        self.failures = tuple(failures)
        self.total = total
        first = self.failures[0]
        detail = (str(first.error).strip().splitlines() or [type(first.error).__name__])[0]
        super().__init__(
            f"{len(self.failures)} of {total} units failed; first: {describe(first.unit)}: {detail}"
        )

    @property
    def user_errors_only(self) -> bool:
        """True when every failure is a user mistake (bad input), not a runtime failure."""
        return all(is_user_mistake(f.error) for f in self.failures)


#: One CPU, no GPU, three retries.
DEFAULT_RESOURCES = Resources()


class Executor(ABC):
    """Runs a function over independent units.

    Subclasses implement :meth:`map`. An executor may hold resources (a Ray connection): use it as a
    context manager, or call :meth:`close`.
    """

    name: ClassVar[str]

    @abstractmethod
    def map(
        self,
        fn: Callable[[U], R],
        units: Sequence[U],
        *,
        resources: Resources = DEFAULT_RESOURCES,
        on_result: Callable[[U, R], None] | None = None,
    ) -> list[R | None]:
        """Run ``fn(unit)`` for every unit.

        Args:
            fn: a module-level function (remote executors ship it to workers by reference).
            units: picklable inputs, one per call.
            resources: what each call needs (see :class:`Resources`).
            on_result: called in this process with ``(unit, result)`` as each unit finishes, in
                completion order; an exception it raises stops the run (like an interrupt).

        Returns:
            The results in the order of ``units``.

        Raises:
            UnitsFailed: after every other unit finished, if any unit raised.
        """

    def close(self) -> None:
        """Release what the executor holds (nothing by default)."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor", GemstonesInputError)


def register_executor(name: str, factory: Callable[..., Executor]) -> None:
    """Register an executor factory under ``name`` (called as ``factory(**options)``)."""
    EXECUTORS.register(name, factory, replace=True)


def available_executors() -> list[str]:
    """Names of the registered executors."""
    return sorted(EXECUTORS.names())


def get_executor(name: str, **options: Any) -> Executor:
    """Build the executor registered as ``name``.

    Args:
        name: ``local`` or ``ray`` (or any registered name).
        options: passed to the factory (for ``ray``: ``address``, ``num_cpus``).

    Raises:
        GemstonesInputError: an unknown name (naming the available ones).
    """
    return EXECUTORS.get(name)(**options)


class UnitStore(Protocol):
    """Where finished units are kept: one record per unit, written atomically."""

    def is_done(self, unit: Any) -> bool:
        """True when ``unit`` already has a saved result."""
        ...

    def save(self, unit: Any, result: Any) -> None:
        """Record ``unit``'s result (atomically; saving the same unit again overwrites it)."""
        ...


@dataclass(frozen=True)
class RunSummary:
    """What :func:`run_units` did.

    Attributes:
        skipped: units already done before the run.
        ran: units run and saved now.
        results: the results of the units run now, in the order of ``ran``.
    """

    skipped: tuple[Any, ...]
    ran: tuple[Any, ...]
    results: tuple[Any, ...]


def run_units(
    executor: Executor,
    fn: Callable[[U], R],
    units: Sequence[U],
    *,
    store: UnitStore,
    resources: Resources = DEFAULT_RESOURCES,
    on_result: Callable[[U, R], None] | None = None,
) -> RunSummary:
    """Run the units ``store`` does not have yet and save each result as it arrives.

    The driver saves (not the worker), so a unit whose worker died and was retried is saved once,
    and a unit whose function raised is not saved at all.

    Raises:
        UnitsFailed: some units failed; every other one was saved.
    """
    pending: list[U] = []
    skipped: list[U] = []
    for unit in units:
        (skipped if store.is_done(unit) else pending).append(unit)

    def save(unit: U, result: R) -> None:
        store.save(unit, result)
        if on_result is not None:
            on_result(unit, result)

    results = executor.map(fn, pending, resources=resources, on_result=save)
    return RunSummary(skipped=tuple(skipped), ran=tuple(pending), results=tuple(results))
