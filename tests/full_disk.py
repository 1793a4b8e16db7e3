"""A simulated full disk for tests of the atomic writers: files accept some bytes, then ENOSPC."""

from __future__ import annotations

import errno
from typing import Any

import pytest

import registry.atomic as atomic


class FullDisk:
    """A file object that accepts ``room`` bytes, then fails like a full disk (the rest delegates)."""

    def __init__(self, real: Any, room: int) -> None:
        self.real = real
        self.room = room

    def write(self, data: Any) -> int:
        size = len(data.encode() if isinstance(data, str) else bytes(data))
        if size > self.room:
            self.real.write(data[: self.room])
            self.real.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= size
        return self.real.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()


def fill_the_disk(monkeypatch: pytest.MonkeyPatch, room: int = 4096) -> None:
    """Every file ``registry.atomic`` opens accepts ``room`` bytes, then raises ENOSPC."""
    real_open = open

    def full_open(path: Any, mode: str = "r", **kwargs: Any) -> FullDisk:
        return FullDisk(real_open(path, mode, **kwargs), room)

    monkeypatch.setattr(atomic, "open", full_open, raising=False)
