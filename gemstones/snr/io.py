"""Files of the SlimAdam analysis: the upstream SNR CSV, the rules JSON and the layer map.

These are the formats of the upstream PyTorch code (arXiv 2503.01843), so rules move between
PyTorch and JAX:

* SNR CSV: columns ``step,key,shape,compress_dims,snr[,mean_sqr,var]``; ``shape`` and
  ``compress_dims`` are Python tuple reprs (``"(768, 3072)"``, ``"(0,)"``, ``"(0, 1)"``) in the
  tensor's own (PyTorch) layout. Read into the canonical long table ``step, tensor, shape, axes, snr``.
* Rules JSON: ``{"<tensor>": [axes...] | null}``; ``null`` means no compression (plain Adam).
* Layer map JSON: ``{"<layer type>": ["substring pattern", ...]}``.

Files are read through :mod:`gemstones.readers` and written through :mod:`registry.atomic`, so a
bad file is a one-line ``GemstonesInputError`` and a failed write leaves the old file as it was.
(These functions moved here from ``fitting``, which does no file I/O.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from fitting.errors import FitInputError
from fitting.snr import SNR_COLUMNS, Rule, Rules, parse_axes, parse_shape
from gemstones.errors import GemstonesInputError
from gemstones.readers import numeric_columns, read_json_file, read_table
from registry.atomic import write_csv_atomic, write_text_atomic

UPSTREAM_COLUMNS = ("step", "key", "shape", "compress_dims", "snr")
_TO_CANONICAL = {"key": "tensor", "compress_dims": "axes"}
_TO_UPSTREAM = {v: k for k, v in _TO_CANONICAL.items()}


def read_snr_csv(path: str | Path) -> pl.DataFrame:
    """Read an upstream SNR CSV into the canonical long table ``step, tensor, shape, axes, snr``.

    Extra columns (``mean_sqr``, ``var``) are kept. Steps must be whole numbers, SNRs numbers
    (empty cells are missing SNRs), shapes and axes tuples of integers.

    Raises:
        GemstonesInputError: missing, empty or unreadable file, missing columns, a step that is
            not a whole number or an SNR that is not a number (naming the row).
        FitInputError: a malformed shape or axes tuple.

    Example:
        >>> read_snr_csv("snr.csv").columns[:5]  # doctest: +SKIP
        ['step', 'tensor', 'shape', 'axes', 'snr']
    """
    file = Path(path)
    frame = read_table(
        file,
        "SNR CSV",
        schema_overrides={"shape": pl.Utf8, "compress_dims": pl.Utf8, "key": pl.Utf8},
        suffixes=(".csv",),
    )
    missing = [c for c in UPSTREAM_COLUMNS if c not in frame.columns]
    if missing:
        raise GemstonesInputError(
            f"SNR CSV {str(file)!r} lacks column(s) {missing}; an SNR CSV has columns {list(UPSTREAM_COLUMNS)}"
        )
    frame = numeric_columns(frame, ["step"], file.name, dtype=pl.Int64)
    frame = numeric_columns(frame, ["snr"], file.name, allow_missing=True)
    for column in ("key", "shape", "compress_dims"):
        if frame[column].null_count():
            row = int(frame[column].is_null().arg_true()[0])
            raise GemstonesInputError(
                f"{file.name}: row {row + 1} has no value in column {column!r}"
            )
    frame = frame.rename(_TO_CANONICAL)
    for text in frame["shape"].unique():
        parse_shape(text)
    for text in frame["axes"].unique():
        parse_axes(text)
    return frame.select(*SNR_COLUMNS, *[c for c in frame.columns if c not in SNR_COLUMNS])


def write_snr_csv(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a long SNR table (one run) in the upstream CSV format, atomically; returns the path."""
    missing = [c for c in SNR_COLUMNS if c not in frame.columns]
    if missing:
        raise FitInputError(f"SNR table lacks column(s) {missing}; expected {list(SNR_COLUMNS)}")
    out = Path(path)
    extra = [c for c in ("mean_sqr", "var") if c in frame.columns]
    write_csv_atomic(frame.select(*SNR_COLUMNS, *extra).rename(_TO_UPSTREAM), out)
    return out


def read_rules_json(path: str | Path) -> Rules:
    """Read a rules JSON (``{tensor: [axes] | null}``) into ``{tensor: tuple | None}``.

    Raises:
        GemstonesInputError: missing or unreadable file, not JSON, or not an object of rules.
    """
    raw = read_json_file(path, "rules JSON")
    if not isinstance(raw, dict):
        raise GemstonesInputError(
            f"rules JSON {str(path)!r}: expected an object {{tensor: [axes] or null}}; got {type(raw).__name__}"
        )
    return {str(name): _rule_from_json(name, value) for name, value in raw.items()}


def write_rules_json(rules: Mapping[str, Rule], path: str | Path) -> Path:
    """Write rules in the upstream JSON format (lists of axes, ``null`` for none, indent 4, no final newline), atomically."""
    out = Path(path)
    write_text_atomic(rules_to_json(rules), out)
    return out


def rules_to_json(rules: Mapping[str, Rule]) -> str:
    """The upstream JSON text of ``rules``."""
    payload = {
        name: None if rule is None else [int(a) for a in rule] for name, rule in rules.items()
    }
    return json.dumps(payload, indent=4)


def read_layer_map(path: str | Path) -> dict[str, list[str]]:
    """Read a layer map JSON ``{layer type: [substring patterns]}``.

    Raises:
        GemstonesInputError: missing or unreadable file, not JSON, or not an object of lists of
            strings.
    """
    raw = read_json_file(path, "layer map")
    if not isinstance(raw, dict):
        raise GemstonesInputError(
            f"layer map {str(path)!r}: expected an object {{layer type: [patterns]}}; got {type(raw).__name__}"
        )
    for layer, patterns in raw.items():
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise GemstonesInputError(
                f"layer map {str(path)!r}: {layer!r} maps to {patterns!r}; expected a list of strings"
            )
    return {str(k): list(v) for k, v in raw.items()}


def _rule_from_json(name: str, value: object) -> Rule:
    if value is None:
        return None
    if (
        isinstance(value, list)
        and value
        and all(isinstance(a, int) and not isinstance(a, bool) and 0 <= a < 64 for a in value)
    ):
        return tuple(value)
    raise GemstonesInputError(
        f"rule of {name!r} is {value!r}; expected null or a list of axis indices (0 to 63)"
    )


__all__ = [
    "UPSTREAM_COLUMNS",
    "read_layer_map",
    "read_rules_json",
    "read_snr_csv",
    "rules_to_json",
    "write_rules_json",
    "write_snr_csv",
]
