"""``gemstones snr``: SlimAdam rules from an SNR table, reports with heatmaps, and SNR sweeps.

Heavy libraries (JAX, optax, matplotlib) are imported inside the commands.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gemstones.errors import GemstonesInputError

from .app import snr_app
from .execution import AddressOption, ExecutorOption, failures_as_errors, make_executor
from .output import FormatOption, TableFormat, check_format, parse_format

if TYPE_CHECKING:  # polars is imported where used: `gemstones --help` stays fast
    import polars as pl

_UPSTREAM_COLUMNS = {"step", "key", "shape", "compress_dims", "snr"}


def _layer_map(path: Path | None) -> dict[str, list[str]]:
    from gemstones.snr.io import read_layer_map
    from gemstones.snr.sweep import default_layer_map

    return default_layer_map() if path is None else read_layer_map(path)


def _check_results_folder(out: Path, example: str) -> None:
    """``--out`` is a results folder on every command; a table or JSON file name is a mistake.

    Raises:
        GemstonesInputError: ``out`` ends in .json, .parquet or .csv.
    """
    if out.suffix.lower() in (".json", ".parquet", ".csv"):
        raise GemstonesInputError(
            f"--out {str(out)!r} looks like a file name; --out is a results folder on every "
            f"command: give a folder, e.g. --out {example}/"
        )


def rules_file_name(csv: Path, cutoff: float) -> str:
    """``<csv stem>__cutoff<c>__rules.json``: the rules file's name from its inputs."""
    return f"{csv.stem}__cutoff{cutoff:g}__rules.json"


#: The files ``snr sweep --out DIR`` writes into DIR (``snr report DIR`` reads the first).
SWEEP_TABLE = "snr_sweep.parquet"


def _check_cutoff(cutoff: float) -> None:
    if not math.isfinite(cutoff) or cutoff < 0:
        raise GemstonesInputError(f"--cutoff must be a finite number >= 0, got {cutoff}")


def _parse_list(text: str, kind: type, option: str) -> list:
    """Comma-separated positive, finite ints or floats; an empty entry is an error."""
    example = "32,64" if kind is int else "1e-3,3e-3"
    parts = [part.strip() for part in text.split(",")]
    if any(not part for part in parts):
        raise GemstonesInputError(f"{option} {text!r} has an empty value; use e.g. {example}")
    try:
        values = [kind(part) for part in parts]
    except ValueError:
        raise GemstonesInputError(
            f"{option} {text!r}: expected comma-separated {kind.__name__}s, e.g. {example}"
        ) from None
    bad = [v for v in values if not (math.isfinite(v) and v > 0)]
    if bad:
        raise GemstonesInputError(
            f"{option} {text!r}: {bad[0]!r} is not a positive, finite number; e.g. {example}"
        )
    return values


@snr_app.command("rules")
def rules_command(
    csv: Annotated[
        Path,
        typer.Option(
            "--csv", help="SNR CSV in the upstream format (step,key,shape,compress_dims,snr)."
        ),
    ],
    cutoff: Annotated[
        float,
        typer.Option(help="Compress along the best axes whose mean SNR is strictly above this."),
    ] = 1.0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Results folder: writes <csv>__cutoff<c>__rules.json into it (default: print).",
        ),
    ] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Rules JSON to compare against.")
    ] = None,
    layer_map: Annotated[
        Path | None, typer.Option("--layer-map", help="Layer map JSON (default: upstream's).")
    ] = None,
    output_format: Annotated[
        TableFormat,
        typer.Option(
            "--format",
            parser=parse_format,
            callback=check_format,
            metavar="[table|csv|json]",
            help="The rules without --out: json (default: the rules file itself), csv or table "
            "(tensor, rule).",
        ),
    ] = TableFormat.json,
) -> None:
    """Derive SlimAdam rules from an SNR CSV; report the second-moment saving."""
    from fitting.snr import (
        compression_summary,
        derive_rules,
        is_norm,
        rule_differences,
        tensor_shapes,
    )
    from gemstones.snr.io import read_rules_json, read_snr_csv, rules_to_json, write_rules_json
    from registry.atomic import check_output_dir

    _check_cutoff(cutoff)
    if out is not None:
        _check_results_folder(out, "snr-rules")
        check_output_dir(out, "--out")
    frame = read_snr_csv(csv)
    layers = _layer_map(layer_map)
    rules = derive_rules(frame, cutoff, never_compress=lambda name: is_norm(name, layers))
    summary = compression_summary(rules, tensor_shapes(frame))
    lines = [
        f"tensors: {summary.tensors}, compressed: {summary.compressed_tensors}",
        f"second-moment entries: {summary.total_entries:,} -> {summary.kept_entries:,} "
        f"(saved {summary.fraction_saved:.2%})",
    ]
    if reference is not None:
        differences = rule_differences(rules, read_rules_json(reference))
        lines.append(f"differences from {reference.name}: {len(differences)}")
        lines.extend(f"  differs: {name}" for name in differences[:20])
    if out is None:
        if output_format is TableFormat.json:
            typer.echo(rules_to_json(rules))
        else:
            import polars as pl

            from .output import echo_frame

            rows = [{"tensor": k, "rule": None if v is None else str(v)} for k, v in rules.items()]
            echo_frame(
                pl.DataFrame(rows, schema={"tensor": pl.Utf8, "rule": pl.Utf8}), output_format
            )
        for line in lines:
            typer.echo(line, err=True)
    else:
        written = out / rules_file_name(csv, cutoff)
        write_rules_json(rules, written)
        typer.echo(f"wrote {written}")
        for line in lines:
            typer.echo(line)


def reference_as_sweep(
    frame: pl.DataFrame, run: str, layer_map: dict[str, list[str]]
) -> pl.DataFrame:
    """An upstream SNR table (one run) in the sweep table's columns (width/depth/lr unknown: null)."""
    import polars as pl

    from fitting.snr import classify_layer

    return frame.with_columns(
        pl.lit(run).alias("run"),
        pl.lit(None, dtype=pl.Int64).alias("width"),
        pl.lit(None, dtype=pl.Int64).alias("depth"),
        pl.lit(None, dtype=pl.Float64).alias("lr"),
        pl.col("tensor")
        .map_elements(lambda n: classify_layer(n, layer_map), return_dtype=pl.Utf8)
        .alias("layer_type"),
    )


def load_any_snr_table(path: Path, layer_map: dict[str, list[str]]) -> tuple[pl.DataFrame, bool]:
    """Read an upstream SNR CSV or one of our sweep tables; returns (sweep-shaped frame, is_upstream)."""

    from gemstones.readers import read_table
    from gemstones.snr.io import read_snr_csv
    from gemstones.snr.sweep import read_sweep_table

    if path.suffix == ".csv":
        header = set(read_table(path, "SNR table", suffixes=(".csv",)).columns)
        if header >= _UPSTREAM_COLUMNS:
            return reference_as_sweep(read_snr_csv(path), path.stem, layer_map), True
    return read_sweep_table(path), False


@snr_app.command("report")
def report_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="Upstream SNR CSV, a sweep table (.parquet/.csv), or a `snr sweep --out` folder."
        ),
    ],
    cutoff: Annotated[float, typer.Option(help="SNR cutoff for compression.")] = 1.0,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Figures folder: writes <input>__cutoff<c>__snr_heatmap.png/.pdf into it.",
        ),
    ] = None,
    layer_map: Annotated[
        Path | None, typer.Option("--layer-map", help="Layer map JSON (default: upstream's).")
    ] = None,
    output_format: FormatOption = TableFormat.table,
) -> None:
    """Second-moment saving and a table per layer type; trends across a sweep; optional heatmaps."""
    import polars as pl

    from fitting.snr import flax_layout, torch_layout
    from fitting.snr_trends import compressibility, fit_snr_trends, trends_frame

    _check_cutoff(cutoff)
    if plot is not None:
        from registry.atomic import check_output_dir

        check_output_dir(plot, "--plot")
    layers = _layer_map(layer_map)
    if file.is_dir():
        file = file / SWEEP_TABLE
    frame, upstream = load_any_snr_table(file, layers)
    layout = torch_layout if upstream else flax_layout
    summary = compressibility(frame, cutoff, layout)
    if output_format is not TableFormat.table:
        _print_report_data(summary, output_format)
        if plot is not None:
            from gemstones.snr.plots import heatmap_stem, plot_heatmaps

            order = "torch" if upstream else "flax"
            stem = heatmap_stem(file, cutoff)
            for written in plot_heatmaps(frame, plot, cutoff, layout=order, stem=stem):
                typer.echo(f"wrote {written}", err=True)
        return
    from .output import echo_frame, echo_text

    for (run,), group in summary.group_by("run", maintain_order=True):
        overall = group.filter(pl.col("layer_type") == "all").row(0, named=True)
        echo_text(
            f"\n{run}: second-moment entries {overall['entries']:,} -> {overall['kept_entries']:,}, "
            f"saved {overall['fraction_saved']:.2%} (cutoff {cutoff:g}; axes named in "
            f"{'PyTorch (out, in)' if upstream else 'JAX (in, out)'} layout)"
        )
        echo_frame(
            group.filter(pl.col("layer_type") != "all").select(
                "layer_type",
                "tensors",
                "entries",
                "kept_entries",
                pl.col("fraction_saved").round(4),
                "best_axes",
                pl.col("best_snr").round(3),
            ),
            TableFormat.table,
        )
    if summary["run"].n_unique() > 1:
        typer.echo("\nfraction saved per run (rows) and layer type (columns):")
        pivot = summary.pivot(on="layer_type", index="run", values="fraction_saved")
        echo_frame(pivot.with_columns(pl.exclude("run").round(3)), TableFormat.table)
        try:
            trends = trends_frame(fit_snr_trends(summary))
        except ValueError as error:
            typer.echo(f"no trend fitted: {error}")
        else:
            echo_text(
                "\nleast squares log(best SNR) ~ log width + log depth + log lr, per layer type:"
            )
            echo_frame(
                trends.with_columns(pl.exclude("layer_type", "n").round(3)), TableFormat.table
            )
    if plot is not None:
        from gemstones.snr.plots import heatmap_stem, plot_heatmaps

        order = "torch" if upstream else "flax"
        stem = heatmap_stem(file, cutoff)
        for written in plot_heatmaps(frame, plot, cutoff, layout=order, stem=stem):
            typer.echo(f"wrote {written}")


def _print_report_data(summary: pl.DataFrame, fmt: TableFormat) -> None:
    """``snr report --format csv|json``: the per-run, per-layer-type table (JSON: with trends)."""
    from fitting.snr_trends import fit_snr_trends, trends_frame

    from .output import dumps_json, echo_frame

    if fmt is TableFormat.csv:
        echo_frame(summary, fmt)
        return
    trends = None
    if summary["run"].n_unique() > 1:
        try:
            trends = trends_frame(fit_snr_trends(summary)).to_dicts()
        except ValueError:
            trends = None
    typer.echo(dumps_json({"summary": summary.to_dicts(), "trends": trends}))


@snr_app.command("sweep")
def sweep_command(
    widths: Annotated[
        str, typer.Option(help="Comma-separated model widths (multiples of 16).")
    ] = "32,64",
    depths: Annotated[str, typer.Option(help="Comma-separated depths.")] = "1,2",
    lrs: Annotated[str, typer.Option(help="Comma-separated peak learning rates.")] = "1e-3,3e-3",
    steps: Annotated[int, typer.Option(help="Training steps per run.")] = 300,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help=f"Results folder: writes {SWEEP_TABLE} (SNR per tensor, axes and step) and "
            "snr_sweep_runs.parquet (one row per run) into it.",
        ),
    ] = Path("snr-sweep"),
    batch_size: Annotated[int, typer.Option(help="Windows per batch.")] = 16,
    seq_len: Annotated[int, typer.Option(help="Window length in bytes.")] = 64,
    records: Annotated[int, typer.Option(help="Number of steps at which SNR is recorded.")] = 8,
    seed: Annotated[int, typer.Option(help="Initialisation and data-order seed.")] = 0,
    executor: ExecutorOption = "local",
    address: AddressOption = None,
) -> None:
    """Train a grid of small transformers on stdlib source with AdamW and record second-moment SNR.

    Writes the tidy SNR table and one row per run (losses, step time) into the folder OUT.
    Bounds: at most 256 runs, widths up to 4096, depths up to 64, 1,000,000 steps.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gemstones.snr.sweep import (
        LIMITS,
        RunSpec,
        run_sweep,
        runs_table_path,
        sweep_specs,
        write_table,
    )
    from registry.atomic import check_output_dir, check_output_file

    _check_results_folder(out, "snr-sweep")
    check_output_dir(out, "--out")
    table_path = out / SWEEP_TABLE
    check_output_file(table_path, "--out (its SNR table)")
    check_output_file(runs_table_path(table_path), "--out (its runs table)")
    for name, key, value in (
        ("--steps", "steps", steps),
        ("--batch-size", "batch_size", batch_size),
        ("--seq-len", "seq_len", seq_len),
        ("--records", "n_records", records),
        ("--seed", "seed", seed),
    ):
        low = 0 if key == "seed" else 1
        if not low <= value <= LIMITS[key]:
            raise GemstonesInputError(
                f"{name} {value} is out of range; valid: {low} to {LIMITS[key]:,}"
            )
    width_list = _parse_list(widths, int, "--widths")
    bad = [w for w in width_list if w % 16 or w > LIMITS["width"]]
    if bad:
        raise GemstonesInputError(
            f"--widths {bad[0]} must be a multiple of 16 (the head size) up to {LIMITS['width']:,}"
        )
    depth_list = _parse_list(depths, int, "--depths")
    bad = [d for d in depth_list if d > LIMITS["depth"]]
    if bad:
        raise GemstonesInputError(f"--depths {bad[0]} is too deep; valid: 1 to {LIMITS['depth']}")
    base = RunSpec(
        steps=steps, batch_size=batch_size, seq_len=seq_len, n_records=records, seed=seed
    )
    specs = sweep_specs(width_list, depth_list, _parse_list(lrs, float, "--lrs"), base)
    runner = make_executor(executor, address)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} runs"),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task(f"sweep ({specs[0].name})", total=len(specs))

        def advance(result: object) -> None:
            done = int(progress.tasks[0].completed) + 1
            following = specs[done].name if done < len(specs) else "done"
            progress.update(task, advance=1, description=f"sweep ({following})")

        with runner, failures_as_errors():
            table, runs = run_sweep(specs, on_step=advance, executor=runner)
    write_table(table, table_path)
    runs_path = write_table(runs, runs_table_path(table_path))
    typer.echo(f"wrote {table_path} ({table.height} rows) and {runs_path} ({runs.height} runs)")
