"""Unit functions for the executor tests: they leave a trace of every attempt on disk.

They live in a module of their own so Ray workers can run them: the Ray tests ship this module to
the workers by value (``register_pickle_by_value``), so the workers need not import ``tests``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.atomic import write_json_atomic


@dataclass(frozen=True)
class TracedUnit:
    """Square ``value``; append one line per attempt to ``log``.

    ``die_once`` makes the first attempt kill its own process (``os._exit``), the way a worker lost
    to the OOM killer or a pre-empted node dies: no exception, no cleanup.
    """

    key: str
    value: int
    log: str
    die_once: bool = False
    fail: bool = False
    sleep_s: float = 0.0


def traced_square(unit: TracedUnit) -> dict[str, Any]:
    """The unit function: trace the attempt, maybe die or fail, return the square."""
    with open(unit.log, "a", encoding="utf-8") as stream:
        stream.write(f"{unit.key} {os.getpid()}\n")
    marker = Path(f"{unit.log}.{unit.key}.died")
    if unit.die_once and not marker.exists():
        marker.write_text("died")
        os._exit(1)
    if unit.sleep_s:
        time.sleep(unit.sleep_s)
    if unit.fail:
        from gemstones.errors import GemstonesInputError

        raise GemstonesInputError(f"unit {unit.key} has bad input")
    return {"key": unit.key, "square": unit.value * unit.value}


def attempts(log: str | Path) -> list[str]:
    """The unit keys in the order they were attempted."""
    path = Path(log)
    if not path.is_file():
        return []
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


class FolderStore:
    """A :class:`gemstones.execute.UnitStore`: one atomic JSON file per unit; counts its saves."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.saves: list[str] = []

    def path(self, unit: TracedUnit) -> Path:
        return self.root / f"{unit.key}.json"

    def is_done(self, unit: TracedUnit) -> bool:
        return self.path(unit).is_file()

    def save(self, unit: TracedUnit, result: dict[str, Any]) -> None:
        self.saves.append(unit.key)
        write_json_atomic(result, self.path(unit))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.root.glob("*.json"))]


@dataclass(frozen=True)
class DyingEvalUnit:
    """An evaluation unit whose first attempt kills its worker (when ``die`` is set).

    It exposes ``repo_id``, ``commit`` and ``metric`` so a ``ResultStore`` keys it like the unit
    it wraps.
    """

    unit: Any
    log: str
    die: bool = False

    @property
    def repo_id(self) -> str:
        return self.unit.repo_id

    @property
    def commit(self) -> str:
        return self.unit.commit

    @property
    def metric(self) -> Any:
        return self.unit.metric


def evaluate_or_die_once(wrapped: DyingEvalUnit) -> dict[str, Any]:
    """Trace the attempt; kill the process on a dying unit's first attempt; else evaluate it."""
    from gemstones.evaluate.sweep import evaluate_unit

    key = wrapped.unit.revision
    with open(wrapped.log, "a", encoding="utf-8") as stream:
        stream.write(f"{key} {os.getpid()}\n")
    marker = Path(f"{wrapped.log}.{key}.died")
    if wrapped.die and not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return evaluate_unit(wrapped.unit)
