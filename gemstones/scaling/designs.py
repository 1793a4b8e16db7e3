"""Designs: declarative, reproducible fit specifications stored as TOML.

A design names a data selection, a law and its approach, and the fitting options::

    name = "hot"
    description = "..."

    [selection]
    source = "catalog"        # or a CSV / parquet path (relative to the design file)
    suite = "gemstones"
    variant = "main"          # main | lr_ablation | cooldown
    every_steps = 2385        # checkpoint spacing: keep steps that are multiples of it
    include_final = false     # also keep each run's last checkpoint
    max_step = 23850          # also min_step, min_tokens, max_tokens
    shapes = ["512x12"]       # also widths = [...], depths = [...]
    paper_set = "hot"         # membership in one of the paper's fitting tables
    point = "end"             # cooldown rows: "end", or "cooldown_start" for the loss before it
    loss = "val_loss"         # loss column; or an evaluated metric, e.g. "eval_loss_mycorpus"
    results = "evals/"        # evaluated metrics: results folder of `gemstones eval --out`
                              # (default: the user cache's)
    token_count = "exact"     # or "nominal": 2B tokens per 477 steps, as the paper's
                              # Chinchilla-like samples record them

    [columns]                 # file sources only: canonical name -> column of the file
    params = "N"

    [law]
    form = "params-tokens"    # or variables = ["width", "depth", "tokens"]
    approach = 3              # 3 (parametric) or 1 (envelope)
    embeddings = true         # false: use non-embedding parameter counts
    embedding_accounting = "paper"   # paper | input_only | input_and_head

    [fit]
    delta = 1e-4
    seed = 0
    resource = "flops"        # approach 1: flops | gpu_hours
    method = "hull"           # approach 1: hull | buckets

Embedding accounting: the Gemstones paper's approach-3 "no_embeds" fits subtract one vocabulary
matrix (V*w) from the parameter count, its approach-1 "no_embeds" fits subtract both the
embedding and the LM head (2*V*w); ``"paper"`` picks whichever the design's approach used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fitting.laws import NAMED_LAWS, law_form
from gemstones.errors import GemstonesInputError
from gemstones.readers import TABLE_SUFFIXES, numeric_columns, read_table, read_toml_file
from registry import architecture as arch
from registry.embedded import embedded_path

CANONICAL_COLUMNS = (
    "width",
    "depth",
    "params",
    "tokens",
    "step",
    "flops",
    "gpu_hours",
    "loss",
)
VARIANTS = ("main", "lr_ablation", "cooldown")
POINTS = ("end", "cooldown_start")
TOKEN_COUNTS = ("exact", "nominal")
NOMINAL_TOKENS_PER_477_STEPS = 2_000_000_000
ACCOUNTINGS = ("paper", "input_only", "input_and_head")
RESOURCES = ("flops", "gpu_hours")
APPROACH1_METHODS = ("hull", "buckets")
MAX_SEED = 2**32 - 1
MAX_POLISH = 10_000
MAX_BUCKETS = 1_000


@dataclass(frozen=True)
class Selection:
    """Which checkpoints (or file rows) a design fits; see the module docstring for each key."""

    source: str = "catalog"
    suite: str = "gemstones"
    variant: str | None = None
    paper_set: str | None = None
    shapes: tuple[str, ...] | None = None
    widths: tuple[int, ...] | None = None
    depths: tuple[int, ...] | None = None
    min_step: int | None = None
    max_step: int | None = None
    min_tokens: float | None = None
    max_tokens: float | None = None
    every_steps: int | None = None
    include_final: bool = False
    point: str = "end"
    loss: str = "val_loss"
    token_count: str = "exact"
    results: str | None = None


@dataclass(frozen=True)
class LawSpec:
    """The law and approach of a design."""

    form: str | None = "params-tokens"
    variables: tuple[str, ...] | None = None
    approach: int = 3
    embeddings: bool = True
    embedding_accounting: str = "paper"

    @property
    def variable_names(self) -> tuple[str, ...]:
        """The law's variables, in parameter order."""
        if self.variables:
            return self.variables
        return law_form(self.form or "params-tokens").variables

    @property
    def name(self) -> str:
        """The law's display name."""
        return law_form(self.variable_names).name


@dataclass(frozen=True)
class FitOptions:
    """Fitting options of a design."""

    delta: float = 1e-4
    seed: int = 0
    n_polish: int = 256
    resource: str = "flops"
    method: str = "hull"
    n_buckets: int = 20


@dataclass(frozen=True)
class Design:
    """A resolved design: selection, law, options, and where it came from."""

    name: str
    description: str = ""
    selection: Selection = field(default_factory=Selection)
    columns: Mapping[str, str] = field(default_factory=dict)
    law: LawSpec = field(default_factory=LawSpec)
    fit: FitOptions = field(default_factory=FitOptions)
    path: str | None = None

    def replace(self, **changes: Any) -> Design:
        """A copy with top-level fields replaced."""
        return dataclasses.replace(self, **changes)

    def with_overrides(
        self,
        *,
        law: str | None = None,
        approach: int | None = None,
        delta: float | None = None,
        embeddings: bool | None = None,
    ) -> Design:
        """A copy with the CLI's overrides applied (None keeps the design's value)."""
        law_spec = self.law
        if law is not None:
            law_form(law)  # validates the name
            law_spec = dataclasses.replace(law_spec, form=law, variables=None)
        if approach is not None:
            if approach not in (1, 3):
                raise GemstonesInputError(f"approach must be 1 or 3; got {approach}")
            law_spec = dataclasses.replace(law_spec, approach=approach)
        if embeddings is not None:
            law_spec = dataclasses.replace(law_spec, embeddings=embeddings)
        options = self.fit if delta is None else dataclasses.replace(self.fit, delta=delta)
        check_delta(options.delta, "delta")
        return dataclasses.replace(self, law=law_spec, fit=options)

    def to_dict(self) -> dict[str, Any]:
        """The resolved design as plain data (what result files record)."""
        out = dataclasses.asdict(self)
        out["columns"] = dict(self.columns)
        return out


# --------------------------------------------------------------------------- parsing


_SECTIONS: dict[str, type] = {"selection": Selection, "law": LawSpec, "fit": FitOptions}
_TOP_KEYS = ("name", "description", "selection", "columns", "law", "fit")


def _field_types(cls: type) -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(cls)}


def _coerce(section: str, key: str, value: Any, type_text: str) -> Any:
    """Check one TOML value against the dataclass field type (as text) and convert it."""
    where = f"[{section}] {key}"
    optional = "None" in type_text
    base = type_text.replace(" | None", "")
    if value is None and optional:
        return None
    if base.startswith("tuple["):
        inner = "int" if "int" in base else "str"
        if not isinstance(value, list):
            raise GemstonesInputError(f"{where} must be a list of {inner}; got {value!r}")
        caster = int if inner == "int" else str
        for item in value:
            if inner == "int" and (not isinstance(item, int) or isinstance(item, bool)):
                raise GemstonesInputError(f"{where} must be a list of integers; got {item!r}")
            if inner == "str" and not isinstance(item, str):
                raise GemstonesInputError(f"{where} must be a list of strings; got {item!r}")
        return tuple(caster(v) for v in value)
    if base == "bool":
        if not isinstance(value, bool):
            raise GemstonesInputError(f"{where} must be true or false; got {value!r}")
        return value
    if base == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise GemstonesInputError(f"{where} must be an integer; got {value!r}")
        return value
    if base == "float":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise GemstonesInputError(f"{where} must be a number; got {value!r}")
        if not math.isfinite(float(value)):
            raise GemstonesInputError(f"{where} must be a finite number; got {value!r}")
        return float(value)
    if base == "str":
        if not isinstance(value, str):
            raise GemstonesInputError(f"{where} must be a string; got {value!r}")
        return value
    raise AssertionError(f"unhandled field type {type_text}")  # pragma: no cover


def _check_keys(where: str, given: Mapping[str, Any], valid: tuple[str, ...] | list[str]) -> None:
    unknown = [key for key in given if key not in valid]
    if unknown:
        raise GemstonesInputError(
            f"unknown key {unknown[0]!r} in {where}; valid keys: {', '.join(valid)}"
        )


def _section(name: str, raw: Any) -> Any:
    cls = _SECTIONS[name]
    if not isinstance(raw, dict):
        raise GemstonesInputError(f"[{name}] must be a table; got {raw!r}")
    types = _field_types(cls)
    _check_keys(f"[{name}]", raw, list(types))
    return cls(**{key: _coerce(name, key, value, types[key]) for key, value in raw.items()})


def _check_choice(where: str, value: Any, valid: tuple[Any, ...]) -> None:
    if value not in valid:
        shown = ", ".join(str(v) for v in valid)
        raise GemstonesInputError(f"{where} = {value!r} is not valid; valid values: {shown}")


def check_delta(delta: float, where: str = "--delta") -> float:
    """``delta`` if it is a positive, finite number (the Huber threshold).

    Raises:
        GemstonesInputError: zero, negative, NaN or infinite.
    """
    if not (math.isfinite(delta) and delta > 0):
        raise GemstonesInputError(
            f"{where} must be a positive, finite number (the paper uses 1e-4); got {delta!r}"
        )
    return delta


def _check_range(where: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise GemstonesInputError(f"{where} must be between {low} and {high:,}; got {value!r}")


def parse_design(data: Mapping[str, Any], *, path: str | None = None) -> Design:
    """Build and validate a ``Design`` from parsed TOML.

    Raises:
        GemstonesInputError: an unknown key (naming the valid ones), a wrong type or a bad value.
    """
    _check_keys("the design", data, _TOP_KEYS)
    name = data.get("name", Path(path).stem if path else "design")
    if not isinstance(name, str):
        raise GemstonesInputError(f"name must be a string; got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise GemstonesInputError(f"description must be a string; got {description!r}")
    selection = _section("selection", data.get("selection", {}))
    law = _section("law", data.get("law", {}))
    options = _section("fit", data.get("fit", {}))
    columns = data.get("columns", {})
    if not isinstance(columns, dict):
        raise GemstonesInputError(f"[columns] must be a table; got {columns!r}")
    for key, value in columns.items():
        if not isinstance(value, str) or not value:
            raise GemstonesInputError(
                f"[columns] {key} = {value!r}: a column name must be a non-empty string"
            )
    _check_keys("[columns]", columns, CANONICAL_COLUMNS)

    if selection.variant is not None:
        _check_choice("[selection] variant", selection.variant, VARIANTS)
    _check_choice("[selection] point", selection.point, POINTS)
    _check_choice("[selection] token_count", selection.token_count, TOKEN_COUNTS)
    if selection.point == "cooldown_start" and selection.variant != "cooldown":
        raise GemstonesInputError("[selection] point = 'cooldown_start' needs variant = 'cooldown'")
    if selection.every_steps is not None and selection.every_steps <= 0:
        raise GemstonesInputError(
            f"[selection] every_steps must be positive; got {selection.every_steps}"
        )
    _check_choice("[law] approach", law.approach, (1, 3))
    _check_choice("[law] embedding_accounting", law.embedding_accounting, ACCOUNTINGS)
    if law.form is not None and law.variables is None:
        _check_choice("[law] form", law.form, tuple(NAMED_LAWS))
    if law.variables is not None:
        law_form(law.variables)
    _check_choice("[fit] resource", options.resource, RESOURCES)
    _check_choice("[fit] method", options.method, APPROACH1_METHODS)
    check_delta(options.delta, "[fit] delta")
    _check_range("[fit] seed", options.seed, 0, MAX_SEED)
    _check_range("[fit] n_polish", options.n_polish, 1, MAX_POLISH)
    _check_range("[fit] n_buckets", options.n_buckets, 1, MAX_BUCKETS)
    for key in ("min_step", "max_step"):
        value = getattr(selection, key)
        if value is not None:
            _check_range(f"[selection] {key}", value, 0, 2**62)
    for key in ("min_tokens", "max_tokens"):
        value = getattr(selection, key)
        if value is not None and value < 0:
            raise GemstonesInputError(f"[selection] {key} must be >= 0; got {value!r}")
    return Design(
        name=name,
        description=description,
        selection=selection,
        columns=dict(columns),
        law=law,
        fit=options,
        path=path,
    )


def designs_dir() -> Path:
    """Folder of the built-in designs."""
    return embedded_path("designs")


def list_designs() -> list[str]:
    """Names of the built-in designs, sorted."""
    return sorted(p.stem for p in designs_dir().glob("*.toml"))


def load_design(name_or_path: str | Path) -> Design:
    """Load a built-in design by name, or a design TOML file by path.

    Raises:
        GemstonesInputError: no such design or file, invalid TOML, or an invalid design.
    """
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix == ".toml" or candidate.is_file():
        if not candidate.is_file():
            raise GemstonesInputError(f"design file {text!r} does not exist")
        path = candidate
    else:
        path = designs_dir() / f"{text}.toml"
        if not path.is_file():
            raise GemstonesInputError(
                f"unknown design {text!r}; built-in designs: {', '.join(list_designs())} "
                "(or pass a path to a .toml file)"
            )
    return parse_design(read_toml_file(path, "design"), path=str(path))


# --------------------------------------------------------------------------- selection


def _catalog_filter(sel: Selection) -> list[pl.Expr]:
    conditions: list[pl.Expr] = [pl.col("suite") == sel.suite]
    if sel.variant is not None:
        conditions.append(pl.col("variant") == sel.variant)
    if sel.paper_set is not None:
        conditions.append(pl.col("in_paper_sets").list.contains(sel.paper_set))
    if sel.shapes is not None:
        conditions.append(pl.col("shape").is_in(list(sel.shapes)))
    if sel.widths is not None:
        conditions.append(pl.col("width").is_in(list(sel.widths)))
    if sel.depths is not None:
        conditions.append(pl.col("depth").is_in(list(sel.depths)))
    step = pl.col("cooldown_start_step") if sel.point == "cooldown_start" else pl.col("step")
    tokens = step * arch.TOKENS_PER_STEP
    if sel.min_step is not None:
        conditions.append(step >= sel.min_step)
    if sel.max_step is not None:
        conditions.append(step <= sel.max_step)
    if sel.min_tokens is not None:
        conditions.append(tokens >= sel.min_tokens)
    if sel.max_tokens is not None:
        conditions.append(tokens <= sel.max_tokens)
    if sel.every_steps is not None:
        spaced = (step % sel.every_steps) == 0
        if sel.include_final:
            spaced = spaced | (pl.col("step") == pl.col("step").max().over("repo_id"))
        conditions.append(spaced)
    return conditions


def select_rows(design: Design, catalog: Any) -> pl.DataFrame:
    """The catalog rows (one per checkpoint) that a catalog design selects.

    Args:
        design: a design whose ``selection.source`` is ``"catalog"``.
        catalog: a ``registry.catalog.Catalog`` (or a polars DataFrame with its columns).

    Returns:
        The selected rows, ordered by shape then step, with every catalog column.
    """
    if design.selection.source != "catalog":
        raise GemstonesInputError(
            f"design {design.name!r} reads {design.selection.source!r}, not the catalog"
        )
    frame = catalog.frame if hasattr(catalog, "frame") else catalog
    sel = design.selection
    if sel.suite not in set(frame["suite"].unique().to_list()):
        raise GemstonesInputError(
            f"[selection] suite {sel.suite!r} is not in the catalog; valid: "
            f"{', '.join(sorted(frame['suite'].unique().to_list()))}"
        )
    if sel.shapes is not None:
        known = set(frame["shape"].unique().to_list())
        unknown = [s for s in sel.shapes if s not in known]
        if unknown:
            raise GemstonesInputError(
                f"[selection] shapes: unknown shape {unknown[0]!r}; valid: {', '.join(sorted(known))}"
            )
    if sel.loss not in frame.columns:
        losses = [c for c in frame.columns if "loss" in c or c.startswith(EVAL_PREFIX)]
        hint = (
            "; evaluate it first with `gemstones eval`" if sel.loss.startswith(EVAL_PREFIX) else ""
        )
        raise GemstonesInputError(
            f"[selection] loss column {sel.loss!r} is not in the catalog{hint}; valid: {', '.join(losses)}"
        )
    # spacing "include_final" looks at each run's last step within the variant
    base = frame.filter(pl.col("suite") == sel.suite)
    if sel.variant is not None:
        base = base.filter(pl.col("variant") == sel.variant)
    selected = base.filter(pl.all_horizontal(_catalog_filter(sel)))
    if sel.loss.startswith(EVAL_PREFIX):  # an evaluated metric: only the evaluated checkpoints
        selected = selected.filter(pl.col(sel.loss).is_not_null())
    return selected.sort("width", "depth", "step")


#: Catalog columns that hold evaluated metrics (see gemstones.evaluate.results).
EVAL_PREFIX = "eval_"


def with_evaluations(design: Design, catalog: Any) -> Any:
    """The catalog with evaluated metric columns joined when the design fits one (``eval_*``).

    The results folder is ``[selection] results`` (relative to the design file), else the user
    cache's (see :mod:`gemstones.evaluate.results`).
    """
    sel = design.selection
    frame = catalog.frame if hasattr(catalog, "frame") else catalog
    if not sel.loss.startswith(EVAL_PREFIX) or sel.loss in frame.columns:
        return catalog
    from gemstones.evaluate.results import with_results

    folder = None
    if sel.results is not None:
        folder = Path(sel.results)
        if not folder.is_absolute() and design.path is not None:
            folder = Path(design.path).parent / folder
    return with_results(catalog, folder)


def fit_table(design: Design, rows: pl.DataFrame) -> pl.DataFrame:
    """Canonical fit inputs for selected catalog rows, with the design's accounting applied.

    Columns: run_name, repo_id, revision, width, depth, params, tokens, step, flops, gpu_hours,
    loss. For ``point = "cooldown_start"`` the step, tokens, FLOPs, GPU hours and loss are those at
    the start of each cooldown. ``params`` follows the design's embedding accounting; FLOPs and GPU
    hours always use the exact token count.
    """
    sel = design.selection
    if sel.point == "cooldown_start":
        step = pl.col("cooldown_start_step")
        loss = pl.col("cooldown_start_val_loss") if sel.loss == "val_loss" else pl.col(sel.loss)
    else:
        step = pl.col("step")
        loss = pl.col(sel.loss)
    table = rows.select(
        "run_name",
        "repo_id",
        "revision",
        "width",
        "depth",
        params=pl.col("params").cast(pl.Float64),
        step=step,
        tokens=(
            step.cast(pl.Float64) * NOMINAL_TOKENS_PER_477_STEPS / 477
            if sel.token_count == "nominal"
            else (step * arch.TOKENS_PER_STEP).cast(pl.Float64)
        ),
        loss=loss.cast(pl.Float64),
        flops_per_token=pl.col("flops_per_token"),
        seconds_per_step=pl.col("seconds_per_step"),
        num_nodes=pl.col("num_nodes"),
    )
    table = table.with_columns(
        flops=pl.col("flops_per_token") * (pl.col("step") * arch.TOKENS_PER_STEP).cast(pl.Float64),
        gpu_hours=pl.col("seconds_per_step")
        * pl.col("step")
        * pl.col("num_nodes")
        * arch.GPUS_PER_NODE
        / 3600.0,
    ).drop("flops_per_token", "seconds_per_step", "num_nodes")
    return _apply_embeddings(design, table)


def _apply_embeddings(design: Design, table: pl.DataFrame) -> pl.DataFrame:
    if design.law.embeddings:
        return table
    if "width" not in table.columns:
        raise GemstonesInputError("embeddings = false needs a width column to count embeddings")
    accounting = design.law.embedding_accounting
    if accounting == "paper":
        accounting = "input_only" if design.law.approach == 3 else "input_and_head"
    matrices = 1 if accounting == "input_only" else 2
    return table.with_columns(
        params=pl.col("params") - matrices * arch.VOCAB_SIZE * pl.col("width").cast(pl.Float64)
    )


def read_table_file(path: str | Path) -> pl.DataFrame:
    """Read a CSV, parquet or JSON-lines table (see ``gemstones.readers.read_table``).

    Raises:
        GemstonesInputError: missing, empty or unreadable file, or an unsupported suffix
            (valid: ``TABLE_SUFFIXES``).
    """
    return read_table(path, "data file", suffixes=TABLE_SUFFIXES)


def file_table(design: Design) -> pl.DataFrame:
    """Canonical fit inputs of a file design: columns renamed by ``[columns]``, rows filtered."""
    source = Path(design.selection.source)
    if not source.is_absolute() and design.path is not None:
        source = Path(design.path).parent / source
    raw = read_table_file(source)
    mapping = {
        canonical: design.columns.get(canonical, canonical) for canonical in CANONICAL_COLUMNS
    }
    if design.selection.loss != "val_loss" and "loss" not in design.columns:
        mapping["loss"] = design.selection.loss
    present = {canonical: col for canonical, col in mapping.items() if col in raw.columns}
    table = raw.select([pl.col(col).alias(canonical) for canonical, col in present.items()])
    table = numeric_columns(table, table.columns, source.name, allow_missing=True)
    sel = design.selection
    if sel.min_tokens is not None and "tokens" in table.columns:
        table = table.filter(pl.col("tokens") >= sel.min_tokens)
    if sel.max_tokens is not None and "tokens" in table.columns:
        table = table.filter(pl.col("tokens") <= sel.max_tokens)
    if sel.widths is not None and "width" in table.columns:
        table = table.filter(pl.col("width").is_in(list(sel.widths)))
    return _apply_embeddings(design, table)


def design_table(design: Design, catalog: Any | None = None) -> pl.DataFrame:
    """The canonical fit table of a design (catalog or file source)."""
    if design.selection.source == "catalog":
        if catalog is None:
            from registry.catalog import load_catalog

            catalog = load_catalog()
        catalog = with_evaluations(design, catalog)
        table = fit_table(design, select_rows(design, catalog))
    else:
        table = file_table(design)
    if table.height == 0:
        raise GemstonesInputError(f"design {design.name!r} selects no rows; loosen [selection]")
    return table


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class DesignFit:
    """A fitted design: the resolved design, its data, the fit, and provenance.

    Attributes:
        design: the resolved design (overrides applied).
        table: the canonical fit table (one row per point).
        fit: an ``Approach3Fit`` or ``Approach1Fit``.
        seconds: wall time of the fit (selection excluded).
        data_sha256: hash of the fitted columns (see ``table_sha256``).
    """

    design: Design
    table: pl.DataFrame
    fit: Any
    seconds: float
    data_sha256: str

    @property
    def approach(self) -> int:
        """1 or 3."""
        return self.design.law.approach

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of this fit (the CLI's ``--format json`` and result files)."""
        record: dict[str, Any] = {
            "design": self.design.name,
            "law": self.design.law.name,
            "approach": self.approach,
            "embeddings": self.design.law.embeddings,
            "n_points": int(self.table.height),
            "seconds": round(self.seconds, 3),
        }
        record.update(self.fit.as_dict())
        if self.approach == 1:
            record.setdefault("objective", None)
            record.setdefault("exponents", [self.fit.params.slope, self.fit.tokens.slope])
            record.setdefault(
                "coefficients", [self.fit.params.intercept, self.fit.tokens.intercept]
            )
            record.setdefault("irreducible_error", None)
        # ``E`` is the irreducible loss; ``log_E`` its log (the fitter's ``e``, kept in the record
        # as ``irreducible_error`` for older readers).
        record["log_E"] = record.get("irreducible_error")
        record["n_points"] = int(self.table.height)
        return record


def table_sha256(table: pl.DataFrame, columns: list[str] | None = None) -> str:
    """SHA-256 of the fitted columns' values (float64, row-major), stable across file formats."""
    cols = columns or [c for c in table.columns if table[c].dtype.is_numeric()]
    digest = hashlib.sha256()
    digest.update(json.dumps(cols).encode())
    digest.update(np.ascontiguousarray(table.select(cols).to_numpy().astype(np.float64)).tobytes())
    return digest.hexdigest()


def fit_design(
    design: Design, table: pl.DataFrame | None = None, catalog: Any | None = None
) -> DesignFit:
    """Select the design's data and fit its law.

    Args:
        design: a resolved design.
        table: an already-built fit table (else built from ``catalog`` / the design's file).
        catalog: the catalog to select from (default: ``registry.catalog.load_catalog()``).

    Returns:
        ``DesignFit``.

    Raises:
        GemstonesInputError: an empty selection or a variable the table does not have.
        FitInputError: non-positive or non-finite values (naming the rows).
    """
    from fitting.approach1 import fit_approach1
    from fitting.approach3 import fit_approach3

    if table is None:
        table = design_table(design, catalog)
    if table.height == 0:
        raise GemstonesInputError(f"design {design.name!r} selects no rows; loosen [selection]")
    started = time.perf_counter()
    if design.law.approach == 3:
        variables = list(design.law.variable_names)
        _require_columns(table, [*variables, "loss"], design)
        fit = fit_approach3(
            table.select(variables).to_numpy().astype(np.float64),
            table["loss"].to_numpy(),
            variables=variables,
            delta=design.fit.delta,
            seed=design.fit.seed,
            n_polish=design.fit.n_polish,
        )
        hashed = [*variables, "loss"]
    else:
        resource = design.fit.resource
        _require_columns(table, [resource, "loss", "params", "tokens"], design)
        fit = fit_approach1(
            table[resource].to_numpy(),
            table["loss"].to_numpy(),
            table["params"].to_numpy(),
            table["tokens"].to_numpy(),
            method=design.fit.method,
            n_buckets=design.fit.n_buckets,
            resource_name=resource,
        )
        hashed = [resource, "loss", "params", "tokens"]
    seconds = time.perf_counter() - started
    return DesignFit(
        design=design,
        table=table,
        fit=fit,
        seconds=seconds,
        data_sha256=table_sha256(table, hashed),
    )


def _require_columns(table: pl.DataFrame, needed: list[str], design: Design) -> None:
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise GemstonesInputError(
            f"design {design.name!r}: missing column {missing[0]!r}; available: {', '.join(table.columns)}"
        )
