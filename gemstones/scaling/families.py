"""Law families in designs: resolve ``[law] family`` to a family and fit it on a design's table.

``[law] family`` names a family three ways:

- a registered name: ``"power_sum"`` (the default: approach 1 or 3 as before), ``"isoflop"``,
  ``"loss_to_loss"``, ``"sigmoid_accuracy"``, or any family registered by an installed package
  under the ``gemstones.law_families`` entry-point group (the entry point loads a
  :class:`fitting.laws.LawFamily` subclass or instance);
- ``"path/to/file.py:ClassName"``: a family defined in the design author's own Python file (a
  relative path is relative to the design file);
- ``"package.module:ClassName"``: a family in an importable module.

The last two **run the named Python code** when the design is loaded: that is the design
author's explicit choice, exactly like importing the module in a notebook. Only load designs
you trust.

A resolved family is registered in :data:`fitting.laws.REGISTRY` under its ``name`` so that its
fits, bootstrap and ``gemstones laws list`` find it.

Example:
    >>> family = resolve_family("isoflop")
    >>> family.name
    'isoflop'
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fitting.laws import REGISTRY, LawFamily, register_family
from gemstones.errors import GemstonesInputError

ENTRY_POINT_GROUP = "gemstones.law_families"
"""Entry-point group under which installed packages register law families."""

COLUMN_ALIASES = {"run": "run_name"}
"""A family input called ``run`` reads the table's ``run_name`` column (as integer codes)."""

_RESOLVED: dict[str, LawFamily] = {}


def _available() -> str:
    return (
        f"available: {', '.join(REGISTRY.names())} "
        "(or 'file.py:ClassName' / 'package.module:ClassName')"
    )


def _unknown(spec: str, why: str = "") -> GemstonesInputError:
    detail = f" ({why})" if why else ""
    return GemstonesInputError(f"unknown law family {spec!r}{detail}; {_available()}")


def _as_family(obj: Any, spec: str) -> LawFamily:
    """An instance of a ``LawFamily`` subclass from a class or an instance."""
    if isinstance(obj, type) and issubclass(obj, LawFamily):
        try:
            obj = obj()
        except Exception as exc:  # user code: any failure is the design's mistake
            raise GemstonesInputError(
                f"law family {spec!r}: creating {obj.__name__}() failed: {type(exc).__name__}: {exc}"
            ) from None
    if not isinstance(obj, LawFamily):
        raise GemstonesInputError(
            f"law family {spec!r} is a {type(obj).__name__}, not a fitting.laws.LawFamily "
            "subclass or instance"
        )
    if not obj.name or not obj.inputs or not obj.parameter_names:
        raise GemstonesInputError(
            f"law family {spec!r} must set name, inputs and parameter_names; got "
            f"name={obj.name!r}, inputs={obj.inputs!r}, parameter_names={obj.parameter_names!r}"
        )
    return obj


def _register(family: LawFamily, spec: str) -> LawFamily:
    if family.name in REGISTRY:
        held = REGISTRY.get(family.name)
        if held is family:
            return held
        kind, held_kind = type(family), type(held)
        if (kind.__module__, kind.__qualname__) == (held_kind.__module__, held_kind.__qualname__):
            return REGISTRY.register(family.name, family, replace=True)  # the same file, again
        raise GemstonesInputError(
            f"law family {spec!r} is named {family.name!r}, which is already a registered "
            f"family ({type(held).__qualname__}); give it another name"
        )
    return register_family(family)


def _load_module(target: str, base_dir: Path | None, spec: str) -> Any:
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise GemstonesInputError(f"law family {spec!r}: file {str(path)!r} does not exist")
        module_name = f"gemstones_user_laws_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise GemstonesInputError(f"law family {spec!r}: cannot import {str(path)!r}")
        module = importlib.util.module_from_spec(loader_spec)
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:  # user code
            raise GemstonesInputError(
                f"law family {spec!r}: importing {path.name} failed: {type(exc).__name__}: {exc}"
            ) from None
        return module
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise GemstonesInputError(
            f"law family {spec!r}: cannot import module {target!r}: {exc}"
        ) from None
    except Exception as exc:  # user code
        raise GemstonesInputError(
            f"law family {spec!r}: importing {target} failed: {type(exc).__name__}: {exc}"
        ) from None


def _entry_point(name: str) -> Any | None:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            try:
                return point.load()
            except Exception as exc:  # an installed plugin that fails to import
                raise GemstonesInputError(
                    f"law family {name!r} (entry point {point.value}) failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
    return None


def load_entry_point_families() -> tuple[str, ...]:
    """Register every family installed under the ``gemstones.law_families`` entry points.

    Returns:
        The names registered (plugins that fail to load are skipped here; naming one in a
        design reports why).
    """
    names = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            family = _register(_as_family(point.load(), point.name), point.name)
        except Exception:  # a broken plugin must not break `laws list`
            continue
        names.append(family.name)
    return tuple(names)


def resolve_family(spec: str, base_dir: str | Path | None = None) -> LawFamily:
    """The law family a design's ``[law] family`` names (see the module docstring).

    Args:
        spec: a registered name, an entry-point name, ``"file.py:ClassName"`` or
            ``"package.module:ClassName"``.
        base_dir: folder that a relative ``.py`` path is relative to (the design's folder).

    Returns:
        The family instance, registered in :data:`fitting.laws.REGISTRY`.

    Raises:
        GemstonesInputError: an unknown name (listing the available families), a missing file or
            attribute, user code that fails to import, or an object that is not a family.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise _unknown(str(spec), "empty")
    if spec in REGISTRY:
        return REGISTRY.get(spec)
    base = Path(base_dir) if base_dir is not None else None
    key = f"{spec}@{base.resolve() if base is not None else ''}"
    if key in _RESOLVED:
        return _RESOLVED[key]
    if ":" not in spec:
        loaded = _entry_point(spec)
        if loaded is None:
            raise _unknown(spec)
        family = _register(_as_family(loaded, spec), spec)
    else:
        target, _, attribute = spec.rpartition(":")
        if not target or not attribute.isidentifier():
            raise _unknown(spec, "expected 'file.py:ClassName' or 'package.module:ClassName'")
        module = _load_module(target, base, spec)
        if not hasattr(module, attribute):
            found = [
                n
                for n, v in vars(module).items()
                if isinstance(v, type) and issubclass(v, LawFamily) and v is not LawFamily
            ]
            raise GemstonesInputError(
                f"law family {spec!r}: {target} has no {attribute!r}; law families there: "
                f"{', '.join(found) or 'none'}"
            )
        family = _register(_as_family(getattr(module, attribute), spec), spec)
    _RESOLVED[key] = family
    return family


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class FamilyInputs:
    """The arrays a family is fitted on, taken from a design's table.

    Attributes:
        columns: the table columns of ``x``, in the family's input order.
        x: (n, k) float64 inputs (text columns as integer codes).
        y: (n,) the target.
        groups: (n,) run of each point (for bootstrap by runs), or point indices.
        dropped: rows dropped for a missing value in a used column.
    """

    columns: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    dropped: int


def family_inputs(
    table: pl.DataFrame, inputs: Sequence[str], target: str, design_name: str
) -> FamilyInputs:
    """Columns ``inputs`` (``run`` -> ``run_name``) and ``target`` of a design's table as arrays.

    Raises:
        GemstonesInputError: a missing column (listing the table's), or no complete rows.
    """
    columns = []
    for name in inputs:
        column = name if name in table.columns else COLUMN_ALIASES.get(name, name)
        if column not in table.columns:
            raise GemstonesInputError(
                f"design {design_name!r}: the law's input {name!r} is not a column; available: "
                f"{', '.join(table.columns)} (set [law] inputs = [...])"
            )
        columns.append(column)
    if target not in table.columns:
        raise GemstonesInputError(
            f"design {design_name!r}: [law] target {target!r} is not a column; available: "
            f"{', '.join(table.columns)}"
        )
    used = list(dict.fromkeys([*columns, target]))
    complete = table.drop_nulls(subset=used)
    if complete.height == 0:
        raise GemstonesInputError(
            f"design {design_name!r} has no rows with all of {', '.join(used)}"
        )
    parts = []
    for column in columns:
        series = complete[column]
        if series.dtype.is_numeric():
            parts.append(series.cast(pl.Float64).to_numpy())
        else:
            parts.append(np.unique(series.to_numpy(), return_inverse=True)[1].astype(np.float64))
    if "run_name" in complete.columns:
        groups = complete["run_name"].to_numpy()
    else:
        groups = np.arange(complete.height)
    return FamilyInputs(
        columns=tuple(columns),
        x=np.column_stack(parts),
        y=complete[target].cast(pl.Float64).to_numpy(),
        groups=groups,
        dropped=table.height - complete.height,
    )


@dataclass(frozen=True)
class FamilyDesignFit:
    """A law family fitted on a design (``DesignFit.fit`` of a design whose family is not
    ``power_sum``).

    Attributes:
        fit: the point fit (:class:`fitting.laws.FamilyFit`).
        columns: the table columns fitted as inputs; ``target``: the target column.
        intervals: percentile intervals by runs (:class:`fitting.laws.FamilyBootstrap`) when
            ``[law] resamples`` > 0, else None.
        dropped: rows dropped for a missing value.
    """

    fit: Any
    columns: tuple[str, ...]
    target: str
    intervals: Any = None
    dropped: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly record: family, parameters, objective, derived values, intervals."""
        record = self.fit.as_dict()
        record["columns"] = list(self.columns)
        record["target"] = self.target
        record["dropped_rows"] = self.dropped
        if self.intervals is not None:
            record["ci"] = self.intervals.ci
            record["n_resamples"] = int(self.intervals.samples.shape[0])
            record["n_failed"] = self.intervals.n_failed
            record["intervals"] = {k: list(v) for k, v in self.intervals.intervals.items()}
            record["derived_intervals"] = {
                k: list(v) for k, v in self.intervals.derived_intervals.items()
            }
        return record


def fit_family_table(
    family: LawFamily,
    table: pl.DataFrame,
    *,
    design_name: str,
    inputs: Sequence[str] | None = None,
    target: str = "loss",
    options: Mapping[str, Any] | None = None,
    resamples: int = 0,
    seed: int = 0,
) -> FamilyDesignFit:
    """Fit ``family`` on a design's table; with ``resamples`` > 0, add bootstrap intervals by runs.

    Raises:
        GemstonesInputError: missing columns. ``FitInputError``: the family's own input checks.
    """
    from fitting.laws import bootstrap_family

    data = family_inputs(table, inputs or family.inputs, target, design_name)
    opts = dict(options or {})
    if resamples > 0:
        boot = bootstrap_family(
            family.name, data.x, data.y, data.groups, n_resamples=resamples, seed=seed, options=opts
        )
        return FamilyDesignFit(boot.fit, data.columns, target, boot, data.dropped)
    return FamilyDesignFit(
        family.fit(data.x, data.y, options=opts), data.columns, target, None, data.dropped
    )


def render_family_fit(record: Mapping[str, Any]) -> list[str]:
    """Table lines of a family fit record (``FamilyDesignFit.as_dict`` inside a design record)."""
    intervals = record.get("intervals", {})
    lines = [
        f"family      {record['family']}: {record['target']} against {', '.join(record['columns'])}",
        f"objective   {record['objective']:.10g}  ({record['objective_name']})",
        "",
        f"{'parameter':<14} {'value':>14}"
        + (f"   {record['ci']:.0%} interval (by runs)" if intervals else ""),
    ]
    for name, value in record["params"].items():
        shown = "-" if value is None else f"{value:.8g}"
        line = f"{name:<14} {shown:>14}"
        if name in intervals:
            low, high = intervals[name]
            line += f"   [{low:.6g}, {high:.6g}]"
        lines.append(line)
    for name, value in record.get("derived", {}).items():
        shown = "-" if value is None else f"{value:.8g}"
        lines.append(f"{name:<14} {shown:>14}   (derived)")
    lines.append(f"flags       {', '.join(record['flags']) if record['flags'] else 'none'}")
    return lines
