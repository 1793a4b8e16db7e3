"""``registry.atomic``: a write that fails midway (a full disk, simulated) leaves the old file intact.

The disk is "filled" by making the file object that the writer receives accept a few bytes and then
raise ``OSError(ENOSPC)``, or by making ``fsync`` raise it (where a real full disk reports delayed
allocation failures), or by making polars fail after writing part of the temporary file.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import registry.atomic as atomic
from registry.atomic import (
    AtomicWriteError,
    OutputPathError,
    check_output_dir,
    check_output_file,
    dumps_strict_json,
    savefig_atomic,
    savez_atomic,
    write_bytes_atomic,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)
from tests.full_disk import fill_the_disk

OLD = b'{"previous": "content the user had", "n": 4096}\n'


def _figure() -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    fig.subplots().plot(np.arange(50), np.sin(np.arange(50)))
    return fig


FRAME = pl.DataFrame({"step": np.arange(2000), "snr": np.linspace(0.0, 5.0, 2000)})
WRITERS = {
    "text": lambda path: write_text_atomic("x" * 20_000, path),
    "bytes": lambda path: write_bytes_atomic(b"y" * 20_000, path),
    "json": lambda path: write_json_atomic({"rules": list(range(5000))}, path),
    "csv": lambda path: write_csv_atomic(FRAME, path),
    "npz": lambda path: savez_atomic(path, {"w": np.ones((64, 64))}),
    "png": lambda path: savefig_atomic(_figure(), path, dpi=50),
    "pdf": lambda path: savefig_atomic(_figure(), path),
}
SUFFIX = {"png": ".png", "pdf": ".pdf", "npz": ".npz", "csv": ".csv"}


def _target(tmp_path: Path, kind: str) -> Path:
    target = tmp_path / f"result{SUFFIX.get(kind, '.json')}"
    target.write_bytes(OLD)
    return target


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_a_full_disk_midway_leaves_the_old_file_and_no_temporary(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _target(tmp_path, kind)
    fill_the_disk(monkeypatch, room=4096)
    with pytest.raises(AtomicWriteError) as failure:
        WRITERS[kind](target)
    # polars re-raises the stream's error as a plain OSError with the text, without errno
    assert "No space left on device" in str(failure.value) and str(target) in str(failure.value)
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_a_failing_fsync_leaves_the_old_file(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _target(tmp_path, kind)

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(AtomicWriteError):
        WRITERS[kind](target)
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_a_parquet_writer_failing_midway_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _target(tmp_path, "parquet")

    def half_written(self: pl.DataFrame, file: Any, **options: Any) -> None:
        Path(file).write_bytes(b"PAR1" + b"\0" * 4092)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_written)
    with pytest.raises(AtomicWriteError):
        write_parquet_atomic(FRAME, target)
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_every_writer_replaces_the_file_when_the_disk_has_room(kind: str, tmp_path: Path) -> None:
    target = _target(tmp_path, kind)
    WRITERS[kind](target)
    assert target.read_bytes() != OLD and target.stat().st_size > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_new_files_respect_the_umask_and_replaced_files_keep_their_mode(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_text_atomic("a", tmp_path / "new.txt")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
        os.umask(0o077)
        write_text_atomic("b", tmp_path / "private.txt")
        assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600
        os.umask(0o022)
        (tmp_path / "private.txt").chmod(0o640)
        write_text_atomic("c", tmp_path / "private.txt")
        assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o640
    finally:
        os.umask(previous)


def test_output_paths_that_cannot_be_files_are_user_errors(tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("keep")
    with pytest.raises(OutputPathError, match="is a folder"):
        write_text_atomic("x", tmp_path)
    with pytest.raises(OutputPathError, match="sits under the file"):
        write_text_atomic("x", a_file / "deeper" / "x.json")
    with pytest.raises(OutputPathError, match="is a file; give a folder"):
        check_output_dir(a_file, "--plot")
    with pytest.raises(OutputPathError, match="sits under the file"):
        check_output_dir(a_file / "figures", "--plot")
    assert check_output_file(tmp_path / "new" / "x.json") == tmp_path / "new" / "x.json"
    assert a_file.read_text() == "keep"


def test_strict_json_has_no_nan_or_infinity() -> None:
    text = dumps_strict_json({"A": float("inf"), "b": [float("nan"), -float("inf"), 1.5]})
    assert json.loads(text, parse_constant=lambda name: pytest.fail(name)) == {
        "A": None,
        "b": [None, None, 1.5],
    }
    assert json.loads(dumps_strict_json(np.float32("nan"))) is None


WRITE_CALLS = re.compile(
    r"\.write_text\(|\.write_bytes\(|\.savefig\(|\bnp\.save|\bnumpy\.save|json\.dump\(|"
    r"\.write_parquet\([^)]|\.write_csv\([^)]|\.write_ndjson\([^)]|\.to_csv\(|\.to_parquet\(|"
    r"\bopen\([^)]*[\"'][wax]b?\+?[\"']|\.open\([\"'][wax]"
)


def test_the_package_writes_files_only_through_registry_atomic() -> None:
    """Every write in the three packages goes through ``registry/atomic.py``.

    A line may opt out with the comment ``atomic-exempt: <reason>`` (e.g. a resumable download).
    """
    root = Path(atomic.__file__).resolve().parents[1]
    offenders = []
    for package in ("gemstones", "registry", "fitting"):
        for source in sorted((root / package).rglob("*.py")):
            if source.name == "atomic.py" and source.parent.name == "registry":
                continue
            for number, line in enumerate(source.read_text().splitlines(), 1):
                code = line.strip()
                if code.startswith((">>>", "...", "#")) or "atomic-exempt:" in line:
                    continue
                if WRITE_CALLS.search(code):
                    offenders.append(f"{source.relative_to(root)}:{number}: {code}")
    assert offenders == []
