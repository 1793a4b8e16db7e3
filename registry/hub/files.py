"""What the files of a checkpoint branch are: categories, pickled weights, safe names, content hashes.

A Gemstones branch holds a transformers-style checkpoint: ``config.json`` (+ ``generation_config.json``),
tokenizer files, and weights as ``*.safetensors`` (possibly sharded with an index) — or, in old or
broken uploads, pickled ``*.bin``/``*.pt``. Pickles can execute code when loaded, so they are refused
unless the caller asks for them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

from ..errors import HubError, RegistryInputError

FileCategory = Literal["config", "tokenizer", "weights", "other"]
FILE_CHOICES: tuple[str, ...] = ("config", "tokenizer", "weights", "all")
DEFAULT_FILES: tuple[str, ...] = ("config", "tokenizer")

CONFIG_FILES = frozenset({"config.json", "generation_config.json"})
TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
        "tokenizer.model",
    }
)
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
_SHARD_RE = re.compile(r"-(?P<index>\d{5})-of-(?P<total>\d{5})\.safetensors$")
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file of a branch as the Hub lists it.

    Attributes:
        path: Path inside the repository ('/'-separated).
        size: Size in bytes.
        blob_id: Git object id (sha1 of the git blob; for LFS files, of the pointer).
        sha256: LFS sha256 of the content, or None for a file stored in git directly.
    """

    path: str
    size: int
    blob_id: str
    sha256: str | None


def parse_files_choice(choice: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Turn ``"config,weights"`` / ``["config", "tokenizer"]`` / ``"all"`` into the set of categories."""
    items = [choice] if isinstance(choice, str) else list(choice)
    names = [part.strip() for item in items for part in item.split(",") if part.strip()]
    bad = [name for name in names if name not in FILE_CHOICES]
    if bad or not names:
        raise RegistryInputError(
            f"unknown --files value {', '.join(bad) or '(empty)'!r}; valid: {', '.join(FILE_CHOICES)} "
            "(comma-separated, e.g. config,weights)"
        )
    if "all" in names:
        return ("config", "tokenizer", "weights")
    return tuple(category for category in ("config", "tokenizer", "weights") if category in names)


def is_pickle(path: str) -> bool:
    """True for pickled weight files (``*.bin``, ``*.pt``, ...), which can run code when loaded."""
    return path.lower().endswith(PICKLE_SUFFIXES)


def categorize(path: str) -> FileCategory:
    """Return the category of a repository file from its name."""
    name = PurePosixPath(path).name
    if name in CONFIG_FILES:
        return "config"
    if name in TOKENIZER_FILES:
        return "tokenizer"
    if name.endswith(".safetensors") or name == SAFETENSORS_INDEX or is_pickle(name):
        return "weights"
    return "other"


def check_safe_repo_path(path: str, repo_id: str, revision: str) -> str:
    """Return ``path`` if it stays inside a download folder; raise HubError for ``..``/absolute names.

    A file name comes from the server: a hostile or broken server could send ``../../.bashrc`` or
    ``/etc/passwd``. Both POSIX and Windows readings are checked.
    """
    normalized = path.replace("\\", "/")
    bad = (
        not path
        or "\x00" in path
        or ".." in normalized.split("/")
        or PurePosixPath(normalized).is_absolute()
        or PureWindowsPath(path).anchor != ""
    )
    if bad:
        raise HubError(
            f"refusing file {path!r} from {repo_id}@{revision}: its name would escape the download folder"
        )
    return path


def safetensors_shards_missing(paths: list[str]) -> list[str]:
    """Names of the shards ``model-0000i-of-0000n.safetensors`` that a sharded checkpoint lacks."""
    present = set(paths)
    missing: list[str] = []
    for path in paths:
        match = _SHARD_RE.search(path)
        if match is None:
            continue
        total = int(match["total"])
        prefix = path[: match.start()]
        for index in range(1, total + 1):
            name = f"{prefix}-{index:05d}-of-{total:05d}.safetensors"
            if name not in present and name not in missing:
                missing.append(name)
    return missing


def sha256_of_file(path: Path) -> str:
    """Hex sha256 of a file's content (streamed)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1_of_file(path: Path) -> str:
    """Git object id of a file: sha1 of ``b"blob <size>\\0" + content`` (what the Hub lists as ``oid``)."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
