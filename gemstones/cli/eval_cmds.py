"""``gemstones eval loss | mc | results``: measure checkpoints on your own data, and list what was measured.

One checkpoint (a local folder or ``REPO@REVISION`` from the Hub) prints its numbers. A design or
catalog filters make a sweep: each checkpoint is pinned to its commit, downloaded, evaluated and
recorded in one result file; checkpoints already evaluated are skipped, so an interrupted sweep
resumes. Results join the catalog as ``eval_*`` columns that designs can fit.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gemstones.errors import GemstonesInputError

from .app import command_group
from .execution import (
    AddressOption,
    CpusOption,
    ExecutorOption,
    GpusOption,
    RetriesOption,
    failures_as_errors,
    make_executor,
    make_resources,
)
from .output import FormatOption, TableFormat, dumps_json, echo_frame
from .selection import (
    DepthOption,
    InSetOption,
    MaxTokensOption,
    MinTokensOption,
    ShapeOption,
    VariantOption,
    WidthOption,
    select_from_catalog,
)

eval_app = command_group(
    "eval",
    "Evaluate checkpoints on your own data: loss and bits per byte, multiple-choice accuracy.",
)

if TYPE_CHECKING:  # polars is imported where used: `gemstones --help` stays fast
    import polars as pl


class Packing(StrEnum):
    """How documents meet the context window."""

    pack = "pack"
    truncate = "truncate"
    sliding = "sliding"


class DType(StrEnum):
    """Weights and activations dtype."""

    float32 = "float32"
    bfloat16 = "bfloat16"


ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="One checkpoint: a local folder, or REPO@REVISION on the Hub "
        "(e.g. tomg-group-umd/Gemstone-256x23@step_00002385).",
    ),
]
DesignOption = Annotated[
    str | None,
    typer.Option("--design", help="Evaluate the checkpoints a design selects (name or .toml)."),
]
NameOption = Annotated[
    str | None,
    typer.Option(
        "--name", help="Metric name in result columns (eval_loss_NAME); default: the file's stem."
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Results folder (default: <gemstones cache>/evaluations)."),
]
KeepOption = Annotated[
    bool,
    typer.Option(
        "--keep-weights/--no-keep-weights",
        help="Keep downloaded weights in the Hugging Face cache, or delete the ones a unit fetched.",
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the count, download bytes and evaluation FLOPs; run nothing."
    ),
]
BatchOption = Annotated[
    int, typer.Option("--batch-size", min=1, help="Sequences per forward pass.")
]
DTypeOption = Annotated[DType, typer.Option("--dtype", help="float32 or bfloat16.")]
ContextOption = Annotated[
    int | None,
    typer.Option(
        "--context",
        min=2,
        help="Tokens per model input (default: the model's max_position_embeddings, at most 2048).",
    ),
]
PrefixOption = Annotated[
    int | None,
    typer.Option(
        "--prefix-token-id",
        help="Token put before every document/item (e.g. end-of-text) so its first token is scored.",
    ),
]

SHOWN = {
    "loss": ("repo_id", "revision", "metric", "loss", "bits_per_byte", "tokens", "documents"),
    "mc": ("repo_id", "revision", "metric", "acc", "acc_norm", "n"),
}


@dataclasses.dataclass(frozen=True)
class Target:
    """What to evaluate: a local folder, or catalog-like rows to sweep."""

    folder: Path | None = None
    rows: pl.DataFrame | None = None


def _filters_given(filters: dict[str, str | None]) -> bool:
    return any(value is not None for value in filters.values())


def resolve_target(model: str | None, design: str | None, filters: dict[str, str | None]) -> Target:
    """Turn ``--model`` / ``--design`` / catalog filters into a folder or rows.

    Raises:
        GemstonesInputError: none or several of them, an unknown checkpoint or design.
    """
    from registry.catalog import load_catalog

    given = [name for name, on in (("--model", model), ("--design", design)) if on is not None]
    if _filters_given(filters):
        given.append("catalog filters")
    if len(given) != 1:
        raise GemstonesInputError(
            "give exactly one of --model PATH_OR_REPO@REVISION, --design NAME_OR_PATH or catalog "
            f"filters (--variant, --width, ...); got {', '.join(given) or 'none'}"
        )
    if model is not None:
        return _model_target(model)
    if design is not None:
        from gemstones.scaling.designs import load_design, select_rows

        loaded = load_design(design)
        # the design may fit a metric not evaluated yet: select by its other keys
        selection = dataclasses.replace(loaded.selection, loss="val_loss")
        rows = select_rows(dataclasses.replace(loaded, selection=selection), load_catalog())
        if rows.height == 0:
            raise GemstonesInputError(f"design {loaded.name!r} selects no checkpoint")
        return Target(rows=rows)
    return Target(rows=select_from_catalog(load_catalog(), **filters).frame)


def _model_target(model: str) -> Target:
    import re

    import polars as pl

    from gemstones.evaluate.sweep import checkpoint_rows
    from registry.catalog import load_catalog

    local = Path(model).expanduser()
    if local.is_dir():
        return Target(folder=local)
    repo, _, revision = model.partition("@")
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo) or (
        "@" in model and not re.fullmatch(r"[\w./-]+", revision)
    ):
        raise GemstonesInputError(
            f"--model {model!r} is neither a folder nor REPO@REVISION (e.g. "
            "tomg-group-umd/Gemstone-256x23@step_00002385)"
        )
    revision = revision or "main"
    catalog = load_catalog().frame
    known = catalog.filter((pl.col("repo_id") == repo) & (pl.col("revision") == revision))
    rows = known if known.height else checkpoint_rows([(repo, revision)])
    return Target(rows=rows)


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def _print_estimate(estimate: Any, fmt: TableFormat) -> None:
    import polars as pl

    from registry.hub.download import format_bytes

    if fmt is TableFormat.json:
        typer.echo(dumps_json(estimate.to_dict()))
        return
    if fmt is TableFormat.csv:
        echo_frame(
            pl.DataFrame([{k: v for k, v in estimate.to_dict().items() if k != "assumptions"}]), fmt
        )
        return
    done = "" if estimate.done is None else f" ({estimate.done} already evaluated)"
    kind = "exact, from the Hub" if estimate.exact else "estimate, from the catalog"
    flops = (
        "unknown (shape not in the catalog)" if estimate.flops is None else f"{estimate.flops:.3e}"
    )
    typer.echo(f"checkpoints        {estimate.checkpoints}{done}")
    typer.echo(f"download           {format_bytes(estimate.download_bytes)} ({kind})")
    typer.echo(f"tokens/checkpoint  {estimate.tokens_per_checkpoint:,.0f} (estimate)")
    typer.echo(f"evaluation FLOPs   {flops}")
    for assumption in estimate.assumptions:
        typer.echo(f"  assumes {assumption}")


def _print_records(records: list[dict[str, Any]], kind: str, fmt: TableFormat) -> None:
    from gemstones.evaluate.results import records_frame

    frame = records_frame(records)
    if fmt is TableFormat.json:
        typer.echo(dumps_json(frame.to_dicts()))
        return
    if fmt is TableFormat.table:
        frame = frame.select([c for c in SHOWN[kind] if c in frame.columns])
    echo_frame(frame, fmt)


def _print_single(record: dict[str, Any], fmt: TableFormat) -> None:
    import polars as pl

    if fmt is TableFormat.json:
        typer.echo(dumps_json(record))
    elif fmt is TableFormat.csv:
        echo_frame(pl.DataFrame([record]), fmt)
    else:
        width = max(len(k) for k in record)
        for key, value in record.items():
            shown = f"{value:.6f}" if isinstance(value, float) else value
            typer.echo(f"{key:<{width}}  {shown}")


def _evaluate_folder(
    folder: Path, metric: Any, data: Any, batch_size: int, fmt: TableFormat
) -> None:
    """One local checkpoint: measure and print (nothing is recorded: a folder has no commit)."""
    from gemstones.evaluate.sweep import evaluate_folder

    values, model = evaluate_folder(folder, metric, batch_size=batch_size, data=data)
    details = model.pop("details")
    record = {"model": str(folder), "metric": metric.name, **values, **model}
    if fmt is TableFormat.json:
        record["details"] = details
    _print_single(record, fmt)


def _dry_run(rows: pl.DataFrame, metric: Any, data: Any, settings: Any, store: Any) -> Any:
    """The sweep's estimate: exact from the Hub when it answers, else from the catalog."""
    from gemstones.evaluate.sweep import estimate_sweep, plan_units
    from registry.hub.client import HubUnreachableError

    try:
        units, plan = plan_units(rows, metric, settings)
    except HubUnreachableError:
        return estimate_sweep(rows, metric, data)
    return estimate_sweep(rows, metric, data, units=units, plan=plan, store=store)


def _sweep(
    rows: pl.DataFrame, metric: Any, settings: Any, store: Any, executor: Any, resources: Any
) -> list[dict[str, Any]]:
    """Pin, skip what is done, run the rest with a progress bar; returns every unit's record."""
    from gemstones.evaluate.sweep import plan_units, run_sweep

    units, _ = plan_units(rows, metric, settings)
    pending = [unit for unit in units if not store.is_done(unit)]
    if len(pending) < len(units):
        typer.echo(
            f"{len(units) - len(pending)} of {len(units)} checkpoints already evaluated "
            f"(results in {store.root}); evaluating {len(pending)}",
            err=True,
        )
    saved = f" (the others are saved in {store.root})"
    with executor, failures_as_errors(saved), _progress() as progress:
        task = progress.add_task(f"eval {metric.kind} {metric.name}", total=len(pending))
        run_sweep(
            pending,
            executor=executor,
            store=store,
            resources=resources,
            on_result=lambda unit, record: progress.advance(task),
        )
    return [store.read(unit) for unit in units]


def run_eval(
    kind: str,
    data_file: Path,
    options: dict[str, Any],
    *,
    target: Target,
    name: str | None,
    out: Path | None,
    keep_weights: bool,
    dry_run: bool,
    executor_name: str,
    address: str | None,
    resources: Any,
    batch_size: int,
    fmt: TableFormat,
) -> None:
    """The body of ``eval loss`` and ``eval mc`` once the options are read."""
    from gemstones.evaluate.results import MetricSet, ResultStore
    from gemstones.evaluate.sweep import describe_unit, load_metric_data, resolve_settings

    metric = MetricSet.of_file(kind, data_file, name, **options)
    data = load_metric_data(metric)  # bad data fails here, before anything is downloaded
    executor = make_executor(executor_name, address, describe_unit)
    if target.folder is not None:
        if dry_run or executor_name != "local":
            raise GemstonesInputError(
                "--dry-run and --executor go with Hub checkpoints (REPO@REVISION, --design or "
                "filters), not a local folder"
            )
        _evaluate_folder(target.folder, metric, data, batch_size, fmt)
        return
    assert target.rows is not None
    store = ResultStore(out)
    settings = resolve_settings(batch_size=batch_size, keep_weights=keep_weights, store=store)
    if dry_run:
        _print_estimate(_dry_run(target.rows, metric, data, settings, store), fmt)
        return
    records = _sweep(target.rows, metric, settings, store, executor, resources)
    _print_records(records, kind, fmt)


@eval_app.command("loss")
def loss_command(
    corpus: Annotated[
        Path,
        typer.Option(
            "--corpus", help="Text file, JSONL (with --field) or parquet (with --column)."
        ),
    ],
    model: ModelOption = None,
    design: DesignOption = None,
    variant: VariantOption = None,
    width: WidthOption = None,
    depth: DepthOption = None,
    shape: ShapeOption = None,
    min_tokens: MinTokensOption = None,
    max_tokens: MaxTokensOption = None,
    in_set: InSetOption = None,
    field: Annotated[str, typer.Option("--field", help="JSONL text field.")] = "text",
    column: Annotated[str | None, typer.Option("--column", help="Parquet text column.")] = None,
    context: ContextOption = None,
    packing: Annotated[
        Packing,
        typer.Option(
            "--packing",
            help="pack: concatenate documents and cut windows; truncate: each document's first "
            "window; sliding: each document in overlapping windows, every token scored once.",
        ),
    ] = Packing.pack,
    stride: Annotated[
        int | None,
        typer.Option("--stride", min=1, help="sliding: new tokens per window (default context/2)."),
    ] = None,
    prefix_token_id: PrefixOption = None,
    dtype: DTypeOption = DType.float32,
    batch_size: BatchOption = 8,
    name: NameOption = None,
    out: OutOption = None,
    keep_weights: KeepOption = True,
    dry_run: DryRunOption = False,
    executor: ExecutorOption = "local",
    address: AddressOption = None,
    cpus_per_unit: CpusOption = 1.0,
    gpus_per_unit: GpusOption = 0.0,
    max_retries: RetriesOption = 3,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """Loss per token (nats) and bits per byte on a corpus, for one checkpoint or a sweep.

    JSON output carries loss (mean nats per scored token), bits_per_byte and tokens (and sums).
    """
    filters = {
        "variant": variant, "width": width, "depth": depth, "shape": shape,
        "min_tokens": min_tokens, "max_tokens": max_tokens, "in_set": in_set,
    }  # fmt: skip
    options = {
        "context": context,
        "stride": stride,
        "prefix_token_id": prefix_token_id,
        "packing": packing.value,
        "dtype": dtype.value,
        "field": field if corpus.suffix.lower() in (".jsonl", ".ndjson") else None,
        "column": column,
    }
    run_eval(
        "loss", corpus, options, target=resolve_target(model, design, filters), name=name,
        out=out, keep_weights=keep_weights, dry_run=dry_run, executor_name=executor,
        address=address, resources=make_resources(cpus_per_unit, gpus_per_unit, max_retries),
        batch_size=batch_size, fmt=fmt,
    )  # fmt: skip


@eval_app.command("mc")
def mc_command(
    tasks: Annotated[
        Path,
        typer.Option("--tasks", help="JSONL task file: one {question, choices, answer} per line."),
    ],
    model: ModelOption = None,
    design: DesignOption = None,
    variant: VariantOption = None,
    width: WidthOption = None,
    depth: DepthOption = None,
    shape: ShapeOption = None,
    min_tokens: MinTokensOption = None,
    max_tokens: MaxTokensOption = None,
    in_set: InSetOption = None,
    context: ContextOption = None,
    prefix_token_id: PrefixOption = None,
    dtype: DTypeOption = DType.float32,
    batch_size: BatchOption = 8,
    name: NameOption = None,
    out: OutOption = None,
    keep_weights: KeepOption = True,
    dry_run: DryRunOption = False,
    executor: ExecutorOption = "local",
    address: AddressOption = None,
    cpus_per_unit: CpusOption = 1.0,
    gpus_per_unit: GpusOption = 0.0,
    max_retries: RetriesOption = 3,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """Multiple-choice accuracy by log-likelihood: acc, and acc_norm (divided by the choice length, as lm-eval)."""
    filters = {
        "variant": variant, "width": width, "depth": depth, "shape": shape,
        "min_tokens": min_tokens, "max_tokens": max_tokens, "in_set": in_set,
    }  # fmt: skip
    run_eval(
        "mc", tasks, {"dtype": dtype.value, "context": context, "prefix_token_id": prefix_token_id},
        target=resolve_target(model, design, filters),
        name=name, out=out, keep_weights=keep_weights, dry_run=dry_run, executor_name=executor,
        address=address, resources=make_resources(cpus_per_unit, gpus_per_unit, max_retries),
        batch_size=batch_size, fmt=fmt,
    )  # fmt: skip


@eval_app.command("results")
def results_command(
    out: OutOption = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Only this metric name.")] = None,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """List what has been measured: one row per checkpoint, commit and metric set."""
    import polars as pl

    from gemstones.evaluate.results import ResultStore

    store = ResultStore(out)
    frame = store.frame()
    if metric is not None and frame.height:
        names = sorted(frame["metric"].unique().to_list())
        if metric not in names:
            raise GemstonesInputError(
                f"no results for --metric {metric!r}; measured: {', '.join(names)}"
            )
        frame = frame.filter(pl.col("metric") == metric)
    if fmt is TableFormat.table:
        shown = ["repo_id", "revision", "commit", "metric", "kind", "loss", "bits_per_byte",
                 "tokens", "acc", "acc_norm", "n", "created"]  # fmt: skip
        table = frame.select([c for c in shown if c in frame.columns])
        if "commit" in table.columns:
            table = table.with_columns(pl.col("commit").str.slice(0, 12))
        echo_frame(table, fmt)
        typer.echo(f"{frame.height} results in {store.root}", err=True)
    else:
        echo_frame(frame, fmt)
