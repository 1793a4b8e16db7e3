"""One result protocol for the package's frozen result dataclasses.

Every public result (fits, bootstrap results, frontiers, test-time-compute curves, law-family
fits) mixes in :class:`ResultMixin` and so has:

- ``to_dict()``: a strict-JSON-ready dict of its fields (numpy arrays become nested lists; the
  non-finite floats ``inf``, ``-inf`` and ``nan`` become the strings ``"inf"``, ``"-inf"`` and
  ``"nan"``, so ``json.dumps(..., allow_nan=False)`` always succeeds);
- ``from_dict(d)``: the inverse, rebuilt from the field annotations (arrays, tuples, nested
  results, dict keys that are floats), so ``type(r).from_dict(r.to_dict())`` equals ``r``;
- ``summary()``: one short line of plain text (a class may override the generic one);
- ``_repr_html_()``: a small HTML table of the scalar fields, for notebooks.

Pure: no file I/O (writing a result is the caller's business, e.g. ``registry.atomic``).
"""

from __future__ import annotations

import dataclasses
import html
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

R = TypeVar("R", bound="ResultMixin")

_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


@runtime_checkable
class Result(Protocol):
    """What every public result offers (see the module docstring)."""

    def to_dict(self) -> dict[str, Any]: ...

    def summary(self) -> str: ...

    def _repr_html_(self) -> str: ...


def encode(value: Any) -> Any:
    """``value`` as strict-JSON-ready Python (see the module docstring for the rules)."""
    if isinstance(value, ResultMixin):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return encode(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isfinite(number):
            return number
        return "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")
    if isinstance(value, Mapping):
        return {_encode_key(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def _encode_key(key: Any) -> str:
    return key if isinstance(key, str) else repr(float(key)) if isinstance(key, float) else str(key)


def _float(value: Any) -> float:
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    return float(value)


def _restore_floats(value: Any) -> Any:
    if isinstance(value, list):
        return [_restore_floats(v) for v in value]
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    return value


def _array_dtype(hint: Any) -> Any:
    for arg in typing.get_args(hint):
        for inner in typing.get_args(arg):
            if isinstance(inner, type) and issubclass(inner, np.generic):
                return inner
    return None


def decode(hint: Any, value: Any) -> Any:
    """Rebuild a value of type ``hint`` from its :func:`encode` form."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return decode(options[0], value) if len(options) == 1 else _restore_floats(value)
    if hint is np.ndarray or origin is np.ndarray:
        dtype = _array_dtype(hint)
        return np.asarray(_restore_floats(value), dtype=dtype)
    if isinstance(hint, type) and issubclass(hint, ResultMixin):
        return hint.from_dict(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    if hint is float:
        return _float(value)
    if hint in (int, str, bool):
        return hint(value)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in value)
        if args:
            return tuple(decode(a, v) for a, v in zip(args, value, strict=True))
        return tuple(_restore_floats(v) for v in value)
    if origin in (list, Sequence):
        (arg,) = typing.get_args(hint) or (Any,)
        items = [decode(arg, v) for v in value]
        return items if origin is list else tuple(items)
    if origin in (dict, Mapping):
        key_hint, value_hint = typing.get_args(hint) or (str, Any)
        return {
            (_float(k) if key_hint is float else k): decode(value_hint, v) for k, v in value.items()
        }
    return _restore_floats(value)


def _build(cls: type[Any], data: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: decode(hints.get(f.name, Any), data[f.name])
        for f in dataclasses.fields(cls)
        if f.init and f.name in data
    }
    return cls(**kwargs)


class ResultMixin:
    """``to_dict``/``from_dict``/``summary``/``_repr_html_`` for a frozen result dataclass."""

    _summary_fields: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """Every field, strict-JSON-ready (see the module docstring).

        Example:
            >>> from fitting.bootstrap import Interval
            >>> Interval("E", 1.5, 1.2, float("inf"), 0.95).to_dict()["upper"]
            'inf'
        """
        return {
            f.name: encode(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        """The result that ``to_dict`` returned ``data`` for.

        Example:
            >>> from fitting.bootstrap import Interval
            >>> iv = Interval("E", 1.5, 1.2, 1.9, 0.95)
            >>> Interval.from_dict(iv.to_dict()) == iv
            True
        """
        return _build(cls, data)

    def _scalars(self) -> list[tuple[str, Any]]:
        names = self._summary_fields or tuple(
            f.name
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        )
        out = []
        for name in names:
            value = getattr(self, name)
            if isinstance(value, (str, bool, int, float, np.integer, np.floating)):
                out.append((name, value))
        return out

    def summary(self) -> str:
        """One short line: the class name and its scalar fields."""
        parts = [f"{k}={_short(v)}" for k, v in self._scalars()]
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td>{html.escape(_short(v))}</td></tr>"
            for k, v in self._scalars()
        )
        title = html.escape(self.summary())
        return f"<table><caption style='text-align:left'>{title}</caption>{rows}</table>"


def _short(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)
