"""Executors: run independent work units in this process (``local``) or on Ray (``ray``).

See :mod:`gemstones.execute.base` for the interface and :func:`run_units` for resumable,
exactly-once sweeps over a :class:`UnitStore`.
"""

from __future__ import annotations

from typing import Any

from .base import (
    DEFAULT_RESOURCES,
    Executor,
    Resources,
    RunSummary,
    UnitFailure,
    UnitsFailed,
    UnitStore,
    available_executors,
    get_executor,
    register_executor,
    run_units,
)
from .local import LocalExecutor


def _ray_executor(**options: Any) -> Executor:
    from .ray_executor import RayExecutor

    return RayExecutor(**options)


register_executor("local", lambda **options: LocalExecutor(**options))
register_executor("ray", _ray_executor)

__all__ = [
    "DEFAULT_RESOURCES",
    "Executor",
    "LocalExecutor",
    "Resources",
    "RunSummary",
    "UnitFailure",
    "UnitStore",
    "UnitsFailed",
    "available_executors",
    "get_executor",
    "register_executor",
    "run_units",
]
