"""The ``local`` executor: every unit in this process, one after another, on this machine's device."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .base import DEFAULT_RESOURCES, Executor, R, Resources, U, UnitFailure, UnitsFailed


class LocalExecutor(Executor):
    """Run units in-process, in order. A unit that raises is recorded and the next one runs.

    Example:
        >>> LocalExecutor().map(abs, [-1, 2])
        [1, 2]
    """

    name = "local"

    def __init__(self, describe: Callable[[object], str] = str) -> None:
        self._describe = describe

    def map(
        self,
        fn: Callable[[U], R],
        units: Sequence[U],
        *,
        resources: Resources = DEFAULT_RESOURCES,
        on_result: Callable[[U, R], None] | None = None,
    ) -> list[R | None]:
        """Run ``fn`` on each unit here; see :meth:`Executor.map`. ``resources`` is not enforced."""
        results: list[R | None] = []
        failures: list[UnitFailure] = []
        for unit in units:
            try:
                result = fn(unit)
            except Exception as error:  # a unit's failure must not lose the others' results
                failures.append(UnitFailure(unit, error))
                results.append(None)
                continue
            results.append(result)
            if on_result is not None:
                on_result(unit, result)
        if failures:
            raise UnitsFailed(failures, len(units), self._describe)
        return results
