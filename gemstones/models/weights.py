"""Read the tensors of a checkpoint folder from safetensors files, single or sharded.

The ``safetensors`` library memory-maps each file; tensors are materialised one at a time as JAX arrays
(its ``flax`` framework reads bfloat16 as well as float32 and needs only ``jax``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from safetensors import SafetensorError, safe_open

from gemstones.models.errors import ModelLoadError

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


def _read_index(index: Path) -> dict[str, Path]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelLoadError(
            f"{index}: not a safetensors index (a JSON object with a 'weight_map'): {err}"
        ) from None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelLoadError(f"{index}: 'weight_map' is empty or not an object")
    files = {name: index.parent / str(shard) for name, shard in weight_map.items()}
    for shard in sorted(set(files.values())):
        if not shard.is_file():
            raise ModelLoadError(
                f"missing shard {shard.name!r} listed in {index.name} ({shard.parent})"
            )
    return files


class WeightReader:
    """The tensors of one checkpoint folder, by name.

    Args:
        folder: a folder holding ``model.safetensors``, or ``model.safetensors.index.json`` and its
            shards, or (without index) any ``*.safetensors`` files.

    Raises:
        ModelLoadError: no weights, a shard named by the index is missing, or a header is corrupt.

    Example:
        >>> reader = WeightReader(Path("tests/gemstones/data_models/gemma_gqa_untied"))
        >>> reader.get("model.norm.weight", jnp.float32).shape
        (256,)
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._handles: dict[Path, Any] = {}
        index = self.folder / INDEX_FILE
        if index.is_file():
            self._files = _read_index(index)
        else:
            paths = (
                [self.folder / SINGLE_FILE]
                if (self.folder / SINGLE_FILE).is_file()
                else sorted(self.folder.glob("*.safetensors"))
            )
            if not paths:
                raise ModelLoadError(
                    f"no weights in {self.folder}: expected {SINGLE_FILE}, {INDEX_FILE} with its "
                    "shards, or *.safetensors files"
                )
            self._files = {name: path for path in paths for name in self._names_in(path)}

    def _handle(self, path: Path) -> Any:
        handles = self._handles
        if path not in handles:
            try:
                handles[path] = safe_open(str(path), framework="flax")
            except (SafetensorError, OSError, ValueError) as err:
                raise ModelLoadError(
                    f"corrupt safetensors file {path.name!r} in {path.parent}: {err}"
                ) from None
        return handles[path]

    def _names_in(self, path: Path) -> list[str]:
        return list(self._handle(path).keys())

    def names(self) -> frozenset[str]:
        """Every tensor name in the folder."""
        return frozenset(self._files)

    def __contains__(self, name: object) -> bool:
        return name in self._files

    def get(self, name: str, dtype: Any, shape: tuple[int, ...] | None = None) -> jax.Array:
        """The tensor ``name`` cast to ``dtype``; ``shape``, when given, is checked.

        Raises:
            ModelLoadError: the tensor is absent, unreadable, or of another shape.
        """
        path = self._files.get(name)
        if path is None:
            raise ModelLoadError(f"tensor {name!r} is missing from the weights in {self.folder}")
        handle = self._handle(path)
        try:
            if name not in self._names_in(path):
                raise ModelLoadError(
                    f"tensor {name!r} is not in {path.name}, although the index says so"
                )
            value = handle.get_tensor(name)
        except SafetensorError as err:
            raise ModelLoadError(f"cannot read tensor {name!r} from {path.name}: {err}") from None
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ModelLoadError(
                f"tensor {name!r} has shape {tuple(value.shape)}; config.json implies {tuple(shape)}"
            )
        return jnp.asarray(value, dtype=dtype)
