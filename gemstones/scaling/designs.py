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
    loss = "val_loss"         # a loss metric (`gemstones metrics list`): val_loss (Dolma),
                              # val_loss_fineweb, val_loss_fineweb_edu, val_loss_dclm; or an
                              # evaluated one, e.g. "eval_loss_mycorpus" (file sources: a column)
    results = "evals/"        # evaluated metrics: results folder of `gemstones eval --out`
                              # (default: the user cache's)
    token_count = "exact"     # or "nominal": 2B tokens per 477 steps, as the paper's
                              # Chinchilla-like samples record them

    [columns]                 # file sources only: canonical name -> column of the file
    params = "N"

    [law]
    family = "power_sum"      # a law family: power_sum (default) | isoflop | loss_to_loss |
                              # sigmoid_accuracy | an entry point of gemstones.law_families |
                              # "my_laws.py:MyFamily" | "package.module:MyFamily"
    form = "params-tokens"    # power_sum: a name of fitting.laws.NAMED_LAWS,
                              # or variables = ["width", "depth", "tokens"]
    approach = 3              # power_sum: 3 (parametric) or 1 (envelope)
    embeddings = true         # false: use non-embedding parameter counts
    embedding_accounting = "paper"   # paper | input_only | input_and_head
    inputs = ["flops"]        # other families: table columns of x (default: the family's inputs;
                              # "run" reads run_name)
    target = "loss"           # other families: the column fitted (default: the design's loss)
    resamples = 0             # other families: bootstrap resamples by runs for intervals

    [law.options]             # other families: options of the family's fit, e.g. chance = 0.25

A family given as ``"file.py:ClassName"`` (relative to the design file) or
``"package.module:ClassName"`` is imported when the design is loaded: naming Python code in a
design runs it, as importing it in a notebook would; load only designs you trust (see
:mod:`gemstones.scaling.families`).

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
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from fitting.approach1 import Approach1Fit
from fitting.approach3 import Approach3Fit
from fitting.laws import NAMED_LAWS, law_form
from gemstones.errors import GemstonesInputError
from gemstones.readers import TABLE_SUFFIXES, numeric_columns, read_table, read_toml_file
from registry.embedded import embedded_path
from registry.metrics import EVAL_PREFIX, METRICS, evaluated_column
from registry.suites.gemstones import architecture as arch

if TYPE_CHECKING:
    from gemstones.scaling.families import FamilyDesignFit

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
    """The law family, law and approach of a design."""

    form: str | None = "params-tokens"
    variables: tuple[str, ...] | None = None
    approach: int = 3
    embeddings: bool = True
    embedding_accounting: str = "paper"
    family: str = "power_sum"
    inputs: tuple[str, ...] | None = None
    target: str = "loss"
    resamples: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_power_sum(self) -> bool:
        """Whether the design fits the sum of power laws (approach 1 or 3)."""
        return self.family == "power_sum"

    @property
    def variable_names(self) -> tuple[str, ...]:
        """The power-sum law's variables, in parameter order."""
        if self.variables:
            return self.variables
        return law_form(self.form or "params-tokens").variables

    @property
    def name(self) -> str:
        """The law's display name (a power-sum law's name, or the family's)."""
        if not self.is_power_sum:
            return self.family.rpartition(":")[2] or self.family
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
            law_spec = dataclasses.replace(law_spec, form=law, variables=None, family="power_sum")
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
    if base.startswith("Mapping["):
        if not isinstance(value, dict):
            raise GemstonesInputError(f"[{section}.{key}] must be a table; got {value!r}")
        for item_key, item in value.items():
            if isinstance(item, dict):
                raise GemstonesInputError(
                    f"[{section}.{key}] {item_key} must be a number, string, boolean or list"
                )
        return dict(value)
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
        raise GemstonesInputError(
            f"{where} = {value!r} is not valid; valid values: {shown}", value=value, valid=valid
        )


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


def _check_family(law: LawSpec, path: str | None) -> None:
    """Resolve a non-default family now (an unknown one exits 2 listing the families), and
    refuse the keys that belong to the other kind of law."""
    if law.is_power_sum:
        given = {
            "inputs": law.inputs is not None,
            "target": law.target != "loss",
            "resamples": law.resamples != 0,
            "options": bool(law.options),
        }
        for key, present in given.items():
            if present:
                raise GemstonesInputError(
                    f"[law] {key} applies to law families other than power_sum; set [law] "
                    "family, or drop it"
                )
        return
    from gemstones.scaling.families import resolve_family

    resolve_family(law.family, Path(path).parent if path else None)
    if law.approach != 3:
        raise GemstonesInputError(
            f"[law] approach = {law.approach} is a power_sum setting; family {law.family!r} "
            "has no approach (drop it)"
        )
    _check_range("[law] resamples", law.resamples, 0, 100_000)


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
    check_selection_metric(selection)
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
    _check_family(law, path)
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
        losses = [m for m in METRICS.names("loss") if m in frame.columns]
        evaluated = sorted(c for c in frame.columns if _evaluated_kind(c) == "loss")
        hint = (
            "; evaluate it first with `gemstones eval`" if sel.loss.startswith(EVAL_PREFIX) else ""
        )
        raise GemstonesInputError(
            f"[selection] loss = {sel.loss!r}: no such metric column in the catalog{hint}; "
            f"available: {', '.join([*losses, *evaluated]) or 'none'}"
        )
    # spacing "include_final" looks at each run's last step within the variant
    base = frame.filter(pl.col("suite") == sel.suite)
    if sel.variant is not None:
        base = base.filter(pl.col("variant") == sel.variant)
    selected = base.filter(pl.all_horizontal(_catalog_filter(sel)))
    if sel.loss.startswith(EVAL_PREFIX):  # an evaluated metric: only the evaluated checkpoints
        selected = selected.filter(pl.col(sel.loss).is_not_null())
    return selected.sort("width", "depth", "step")


def _evaluated_kind(column: str) -> str | None:
    rule = evaluated_column(column)
    return rule.kind if rule is not None else None


def check_selection_metric(selection: Selection) -> None:
    """Check ``[selection] loss`` against the metric registry (catalog sources only).

    A catalog design fits a loss law (the power sum of approach 3, or approach 1's envelope), so
    its metric must be a registered loss, or an evaluated loss column (``eval_loss_<name>``,
    ``eval_bpb_<name>``) whose results are looked up when the design selects its rows. A file
    source names a column of its file instead, which is not checked here.

    Raises:
        GemstonesInputError: an unknown metric (listing the valid ones), an accuracy, or a metric
            other than ``val_loss`` at ``point = "cooldown_start"``.
    """
    if selection.source != "catalog":
        return
    name = selection.loss
    valid = (
        f"valid: {', '.join(METRICS.names('loss'))}, or an evaluated eval_loss_<name> / "
        "eval_bpb_<name> (see `gemstones metrics list`)"
    )
    kind = _evaluated_kind(name) if name.startswith(EVAL_PREFIX) else None
    if kind is None and name in METRICS:
        kind = METRICS.get(name).kind
    if kind is None:
        raise GemstonesInputError(f"[selection] loss = {name!r}: unknown metric {name!r}; {valid}")
    if kind != "loss":
        raise GemstonesInputError(
            f"[selection] loss = {name!r} is an accuracy metric; a design's law (power sum or "
            "approach 1) fits a loss: fit an accuracy against a loss with `gemstones laws "
            f"downstream` or `gemstones laws fit --law sigmoid_accuracy`; {valid}"
        )
    if selection.point == "cooldown_start" and name != "val_loss":
        raise GemstonesInputError(
            f"[selection] point = 'cooldown_start' has only val_loss measured at the cooldown "
            f"start; got loss = {name!r}"
        )


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

    return with_results(catalog, results_folder(design))


def results_folder(design: Design) -> Path | None:
    """The design's results folder of evaluated metrics: ``[selection] results`` (relative to
    the design file), or None for the user cache's."""
    if design.selection.results is None:
        return None
    folder = Path(design.selection.results)
    if not folder.is_absolute() and design.path is not None:
        folder = Path(design.path).parent / folder
    return folder


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
    law = design.law
    if not law.is_power_sum:  # a family may fit other catalog columns (a second loss, a benchmark)
        wanted = [*(law.inputs or ()), law.target]
        extra = [c for c in dict.fromkeys(wanted) if c not in table.columns and c in rows.columns]
        table = table.with_columns([rows[c] for c in extra])
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
        fit: an ``Approach3Fit`` (a parametric law) or an ``Approach1Fit`` (an envelope) for
            power_sum designs (test with ``isinstance`` or use :meth:`require_approach3`), else a
            ``gemstones.scaling.families.FamilyDesignFit``.
        seconds: wall time of the fit (selection excluded).
        data_sha256: hash of the fitted columns (see ``table_sha256``).
    """

    design: Design
    table: pl.DataFrame
    fit: Approach3Fit | Approach1Fit | FamilyDesignFit
    seconds: float
    data_sha256: str

    @property
    def approach(self) -> int:
        """1 or 3 (power_sum designs; other families keep the default 3 and ``family`` says)."""
        return self.design.law.approach

    @property
    def family(self) -> str:
        """The fitted law family's registered name (``power_sum`` for approaches 1 and 3)."""
        return "power_sum" if self.design.law.is_power_sum else self.family_fit().fit.family

    def family_fit(self) -> FamilyDesignFit:
        """The fit of a design whose law is not power_sum.

        Raises:
            GemstonesInputError: the design fits the power_sum family (approach 1 or 3).
        """
        from gemstones.scaling.families import FamilyDesignFit

        if not isinstance(self.fit, FamilyDesignFit):
            raise GemstonesInputError(f"design {self.design.name!r} fits the power_sum family")
        return self.fit

    @property
    def flags(self) -> tuple[str, ...]:
        """The law fit's degeneracy flags (e.g. a vanishing irreducible loss); none for approach 1."""
        return tuple(self.fit.flags) if isinstance(self.fit, Approach3Fit) else ()

    def require_approach3(self) -> Approach3Fit:
        """The parametric law fit, which frontiers, bootstraps and prescriptions need.

        Raises:
            GemstonesInputError: the design is an approach-1 (envelope) fit.
        """
        if not isinstance(self.fit, Approach3Fit):
            raise GemstonesInputError(
                f"design {self.design.name!r} is an approach-1 fit; frontiers need an approach-3 "
                "law (use --approach 3)"
            )
        return self.fit

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of this fit (the CLI's ``--format json`` and result files)."""
        if not self.design.law.is_power_sum:
            family_fit = self.family_fit()
            return {
                "design": self.design.name,
                "law": family_fit.fit.family,
                "approach": None,
                "embeddings": self.design.law.embeddings,
                "seconds": round(self.seconds, 3),
                **family_fit.as_dict(),
                "n_points": int(family_fit.fit.n_points),
            }
        record: dict[str, Any] = {
            "design": self.design.name,
            "law": self.design.law.name,
            "approach": self.approach,
            "embeddings": self.design.law.embeddings,
            "n_points": int(self.table.height),
            "seconds": round(self.seconds, 3),
        }
        record.update(self.fit.as_dict())
        if isinstance(self.fit, Approach1Fit):
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
    from gemstones.compile_cache import apply_fit_engine

    apply_fit_engine()
    from fitting.approach1 import fit_approach1
    from fitting.approach3 import fit_approach3

    fit: Approach3Fit | Approach1Fit | FamilyDesignFit
    if table is None:
        table = design_table(design, catalog)
    if table.height == 0:
        raise GemstonesInputError(f"design {design.name!r} selects no rows; loosen [selection]")
    started = time.perf_counter()
    if not design.law.is_power_sum:
        from gemstones.scaling.families import fit_family_table, resolve_family

        law = design.law
        family = resolve_family(law.family, Path(design.path).parent if design.path else None)
        fit = fit_family_table(
            family,
            table,
            design_name=design.name,
            inputs=law.inputs,
            target=law.target,
            options=law.options,
            resamples=law.resamples,
            seed=design.fit.seed,
        )
        hashed = [
            c for c in dict.fromkeys([*fit.columns, law.target]) if table[c].dtype.is_numeric()
        ]
    elif design.law.approach == 3:
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
