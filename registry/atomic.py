"""The one way the package writes files: a temporary file in the target folder, fsync, rename.

A reader never sees a half-written catalog, manifest, report, table, figure or result, even if the
writer is interrupted or the disk fills up: a failed write leaves the previous file byte for byte
as it was and no temporary file behind. New files get ordinary permissions (``0o666`` less the
umask, e.g. ``0o644``); a replaced file keeps the permissions it had.

Two kinds of failure are told apart:

* :class:`OutputPathError` (a ``RegistryInputError``, a user mistake): the path cannot be a file,
  because it is a folder or sits under a file. :func:`check_output_file` and
  :func:`check_output_dir` raise it up front, before long work starts.
* :class:`AtomicWriteError` (an ``OSError``, a runtime failure): the write itself failed (disk full,
  permission denied, an I/O error); the message names the path and says the old file is unchanged.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "rules.json"
    >>> write_json_atomic({"wte": None}, target)
    >>> target.read_text()
    '{\\n  "wte": null\\n}\\n'
"""

from __future__ import annotations

import json
import math
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # polars is only needed by the table writers; `gemstones --help` stays fast
    import polars as pl

from .errors import RUNTIME_FAILURE, RegistryError, RegistryInputError


class OutputPathError(RegistryInputError):
    """An output path that cannot be written as asked: it is a folder, or sits under a file."""


class AtomicWriteError(RegistryError, OSError):
    """Writing a file failed (disk full, no permission, I/O error); the old file is unchanged.

    A runtime failure (``exit_code`` 1) and an ``OSError`` with the cause's ``errno``.
    """

    exit_code: ClassVar[int] = RUNTIME_FAILURE

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = Path(path)
        self.cause = cause

    def __reduce__(self) -> tuple[type[AtomicWriteError], tuple[Path, OSError]]:
        return (type(self), (self.path, self.cause))  # pickles across processes (executors)

    def __str__(self) -> str:
        reason = self.cause.strerror or str(self.cause) or type(self.cause).__name__
        return f"cannot write {str(self.path)!r}: {reason}; the previous file (if any) is unchanged"


# --------------------------------------------------------------------------- output checks


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def check_output_dir(path: str | Path, option: str = "output folder") -> Path:
    """Check that ``path`` is, or can be created as, a writable folder; returns it as a ``Path``.

    Call it before long work, so a mistake costs nothing.

    Args:
        path: the folder.
        option: how the user named it (e.g. ``"--plot"``), for the message.

    Raises:
        OutputPathError: the path is a file, sits under a file, or is in a folder without write
            permission.

    Example:
        >>> check_output_dir("/tmp/figures", "--plot")
        PosixPath('/tmp/figures')
    """
    folder = Path(path)
    existing = _first_existing(folder)
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"sits under the file {str(existing)!r}"
        raise OutputPathError(f"{option} {str(folder)!r} {where}; give a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {str(folder)!r}: no write permission in {str(existing)!r}")
    return folder


def check_output_file(path: str | Path, option: str = "output file") -> Path:
    """Check that ``path`` can be written as a file (it is not a folder and sits under no file).

    Raises:
        OutputPathError: the path is a folder, sits under a file, or is in a folder without write
            permission.

    Example:
        >>> check_output_file("/tmp/rules.json", "--out")
        PosixPath('/tmp/rules.json')
    """
    file = Path(path)
    if file.is_dir():
        raise OutputPathError(f"{option} {str(file)!r} is a folder; give a file name")
    if file.name in ("", ".", ".."):
        raise OutputPathError(f"{option} {str(file)!r} names no file")
    existing = _first_existing(file.parent)
    if not existing.is_dir():
        raise OutputPathError(
            f"{option} {str(file)!r} sits under the file {str(existing)!r}; give a path in a folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {str(file)!r}: no write permission in {str(existing)!r}")
    return file


# --------------------------------------------------------------------------- writing


def _mode_for(path: Path) -> int | None:
    """Permission bits a replaced file keeps (None for a new file: the umask decides)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def _create_temporary(path: Path) -> Path:
    """Create an empty temporary file next to ``path`` with mode 0o666 less the umask."""
    for _ in range(100):
        temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(handle)
        return temporary
    raise FileExistsError(f"no free temporary name next to {path}")  # pragma: no cover


def _fsync_file(path: Path) -> None:
    handle = os.open(path, os.O_RDWR)  # some systems refuse fsync on a read-only descriptor
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable; best effort (some file systems refuse to open folders)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextmanager
def atomic_destination(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; fsync it and move it onto ``path`` if the block succeeds.

    The parent folder is created. On any exception the temporary file is removed and ``path``
    keeps its previous content; an ``OSError`` comes out as :class:`AtomicWriteError`.

    Raises:
        OutputPathError: ``path`` is a folder or sits under a file.
        AtomicWriteError: creating, writing, syncing or renaming failed.

    Example:
        >>> import tempfile, polars as pl
        >>> target = Path(tempfile.mkdtemp()) / "table.csv"
        >>> with atomic_destination(target) as temporary:
        ...     pl.DataFrame({"a": [1]}).write_csv(temporary)
        >>> target.read_text()
        'a\\n1\\n'
    """
    path = Path(path)
    check_output_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = _create_temporary(path)
    except OSError as error:
        raise AtomicWriteError(path, error) from error
    try:
        yield temporary
        mode = _mode_for(path)
        if mode is not None:
            os.chmod(temporary, mode)
        _fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, AtomicWriteError):
            raise AtomicWriteError(path, error) from error
        raise
    _fsync_dir(path.parent)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file for writing (``"w"``: UTF-8 text, ``"wb"``: bytes); commit on success.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
        >>> with atomic_open(target) as stream:
        ...     _ = stream.write("done\\n")
        >>> target.read_text()
        'done\\n'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb'; got {mode!r}")
    with atomic_destination(path) as temporary:
        encoding = "utf-8" if mode == "w" else None
        with open(temporary, mode, encoding=encoding) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())


def write_bytes_atomic(data: bytes, path: str | Path) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as stream:
        stream.write(data)


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, flushed to disk before the rename."""
    with atomic_open(path, "w") as stream:
        stream.write(text)


def finite_or_null(value: Any) -> Any:
    """``value`` with every NaN or infinite float (nested in dicts, lists, tuples) made ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_null(item) for item in value]
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # a numpy scalar
        return finite_or_null(value.item())
    return value


def dumps_strict_json(document: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """JSON text that every strict reader accepts: NaN and infinities become ``null``.

    Example:
        >>> dumps_strict_json({"A": float("inf"), "b": [1.5, float("nan")]}, indent=None)
        '{"A": null, "b": [1.5, null]}'
    """
    return json.dumps(
        finite_or_null(document), indent=indent, sort_keys=sort_keys, allow_nan=False, default=str
    )


def write_json_atomic(
    document: Any, path: str | Path, *, sort_keys: bool = False, indent: int = 2
) -> None:
    """Write ``document`` as strict JSON (NaN and infinities as ``null``) to ``path`` atomically."""
    write_text_atomic(dumps_strict_json(document, indent=indent, sort_keys=sort_keys) + "\n", path)


def write_parquet_atomic(frame: pl.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as zstd-compressed parquet to ``path`` atomically."""
    with atomic_destination(path) as temporary:
        frame.write_parquet(temporary, compression="zstd", statistics=True)


def write_csv_atomic(frame: pl.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as CSV to ``path`` atomically."""
    with atomic_open(path, "wb") as stream:
        frame.write_csv(stream)


def write_table_atomic(frame: pl.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as parquet (``.parquet``) or CSV (any other suffix) atomically."""
    if Path(path).suffix.lower() == ".parquet":
        write_parquet_atomic(frame, path)
    else:
        write_csv_atomic(frame, path)


def savefig_atomic(figure: Any, path: str | Path, **options: Any) -> None:
    """Save a matplotlib figure to ``path`` atomically; the format follows the suffix.

    Args:
        figure: a ``matplotlib.figure.Figure``.
        path: the file; ``.png``, ``.pdf``, ``.svg`` ... pick the format.
        options: passed to ``Figure.savefig`` (``dpi``, ``bbox_inches`` ...).
    """
    suffix = Path(path).suffix.lstrip(".").lower()
    with atomic_open(path, "wb") as stream:
        figure.savefig(stream, format=suffix or None, **options)


def savez_atomic(path: str | Path, arrays: Mapping[str, Any]) -> None:
    """Write numpy arrays as an uncompressed ``.npz`` archive to ``path`` atomically."""
    import numpy as np

    with atomic_open(path, "wb") as stream:
        np.savez(stream, **arrays)


__all__ = [
    "AtomicWriteError",
    "OutputPathError",
    "atomic_destination",
    "atomic_open",
    "check_output_dir",
    "check_output_file",
    "dumps_strict_json",
    "finite_or_null",
    "savefig_atomic",
    "savez_atomic",
    "write_bytes_atomic",
    "write_csv_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
    "write_table_atomic",
    "write_text_atomic",
]
