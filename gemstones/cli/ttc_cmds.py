"""Test-time-compute commands: ``gemstones ttc fit`` and ``gemstones recurrent run``.

``ttc fit`` reads lm-eval-harness results (files or folders) and plain CSVs, fits one curve per
(model, checkpoint, task, metric, filter, n-shot, chat template) and prints A, r50, r90, r95 with
bootstrap intervals and the still-climbing / overthinking flags. ``recurrent run`` trains (or
reloads) a tiny recurrent-depth model and writes its curve in the same lm-eval layout.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from gemstones.errors import GemstonesInputError

from .app import recurrent_app, ttc_app
from .bootstrap_options import (
    DEFAULT_CI,
    check_bootstrap_options,
    ci_option,
    resamples_option,
    seed_option,
)
from .output import FormatOption, TableFormat, dumps_json


def _parse_chance(items: list[str] | None) -> dict[str, float]:
    chance: dict[str, float] = {}
    for item in items or []:
        task, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not task or not 0.0 <= number < 1.0:
            raise GemstonesInputError(
                f"--chance {item!r}: expected TASK=LEVEL with 0 <= LEVEL < 1, e.g. piqa=0.5"
            )
        chance[task] = number
    return chance


DEFAULT_REPLICATES = 200
"""Bootstrap replicates per curve by default (each is a full refit of the curve)."""

_FLAG_NAMES = {
    "exact_interpolant": "exact interpolant",
    "parameter_at_bound": "at bound",
    "ceiling_extrapolated": "A extrapolated",
    "r95_extrapolated": "r95 extrapolated",
    "r50_extrapolated": "r50 extrapolated",
}


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-2):
        return f"{value:.3g}"
    return f"{value:.2f}"


def _ci(result: Any, name: str) -> str:
    if name not in result.ci:
        return ""
    lo, hi = result.ci[name]
    if name == "A":
        return f"[{lo:.3f}, {hi:.3f}]"
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


@ttc_app.command("fit")
def fit_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="lm-eval results_*.json files, folders of them, CSVs, or repeated-sampling "
            "tables (.csv/.jsonl with problem_id, n, c or k, coverage)."
        ),
    ],
    x: Annotated[
        str,
        typer.Option(
            "--x",
            help="Curve axis: r (recurrences), flops (FLOPs per token) or samples (k, for "
            "repeated-sampling tables; detected from their columns when every input is one).",
        ),
    ] = "r",
    output_format: FormatOption = TableFormat.table,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="Figures folder: writes <first input>[_and_N_more]__ttc_<x>.png/.pdf."
        ),
    ] = None,
    chance: Annotated[
        list[str] | None,
        typer.Option("--chance", help="Chance level of a task, TASK=LEVEL (repeatable)."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Fit only this metric (e.g. acc_norm).")
    ] = None,
    resamples: Annotated[int, resamples_option()] = DEFAULT_REPLICATES,
    seed: Annotated[int, seed_option()] = 0,
    ci: Annotated[float, ci_option()] = DEFAULT_CI,
    bootstrap: Annotated[
        int | None,
        typer.Option("--bootstrap", hidden=True, help="Old name of --resamples."),
    ] = None,
    groups: Annotated[
        bool,
        typer.Option(
            "--groups",
            help="Also fit lm-eval group aggregates (mmlu, bbh, ...); skipped by default.",
        ),
    ] = False,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="Read CSVs as wide tables (recurrence column, one column per task); "
            "detected when there is no task column.",
        ),
    ] = False,
    assumed_n: Annotated[
        float | None,
        typer.Option(
            "--assumed-n",
            help="Items per point for the bootstrap's noise floor when a table has neither n nor "
            "stderrs (default: the task's standard evaluation size, else 1000).",
        ),
    ] = None,
) -> None:
    """Fit test-time-compute curves per task: accuracy vs recurrences or FLOPs, and coverage
    (pass@k) vs samples k from repeated-sampling tables (per-problem n, c or aggregate k,
    coverage; CSV or JSON Lines); print summaries."""
    from fitting.sampling import fit_sampling_tables, sampling_record
    from fitting.ttc import curve_record, fit_table
    from gemstones.ttc.ingest import read_results
    from gemstones.ttc.plots import inputs_stem, plot_curves
    from gemstones.ttc.sampling import is_sampling_table, read_sampling_tables

    if x not in ("r", "flops", "samples"):
        raise GemstonesInputError(f"--x {x!r}: valid: r, flops, samples")
    if output_format not in ("table", "csv", "json"):
        raise GemstonesInputError(f"--format {output_format!r}: valid: table, csv, json")
    if bootstrap is not None:
        resamples = bootstrap
    check_bootstrap_options(
        resamples, seed, ci, resamples_name="--resamples" if bootstrap is None else "--bootstrap"
    )
    if assumed_n is not None and not (math.isfinite(assumed_n) and 1 <= assumed_n <= 1e12):
        raise GemstonesInputError(f"--assumed-n {assumed_n}: must be a count from 1 to 1e12")
    if metric is not None and not metric.strip():
        raise GemstonesInputError("--metric '': give a metric name, e.g. acc_norm")
    if plot is not None:
        from registry.atomic import check_output_dir

        check_output_dir(plot, "--plot")
    sampling_paths = [p for p in paths if is_sampling_table(p)]
    other_paths = [p for p in paths if p not in sampling_paths]
    if x == "samples" and other_paths:
        raise GemstonesInputError(
            f"--x samples: {other_paths[0]} is not a sampling table (.csv or .jsonl with columns "
            "problem_id, n, c or k, coverage)"
        )
    if x == "samples":
        x = "r"  # the recurrence axis goes unused: every input is a sampling table
    problems, aggregate = read_sampling_tables(sampling_paths) if sampling_paths else (None, None)
    frame = None
    if other_paths:
        frame = read_results(other_paths, include_groups=groups, wide=True if wide else None)
        if metric is not None:
            frame = frame.filter(frame["metric"] == metric)
            if frame.is_empty():
                raise GemstonesInputError(f"--metric {metric!r}: no rows with this metric")
    from rich.console import Console
    from rich.progress import Progress

    levels = _parse_chance(chance)
    console = Console(stderr=True)
    # A progress bar only on a terminal: piped stderr gets nothing but a possible one-line error.
    with Progress(transient=True, console=console, disable=not console.is_terminal) as bar:
        job = bar.add_task("fitting curves", total=None)
        curves = (
            fit_table(
                frame,
                x=x,
                chance=levels,
                bootstrap=resamples,
                seed=seed,
                ci_level=ci,
                progress=lambda done, total: bar.update(job, completed=done, total=total),
                assumed_n=assumed_n,
            )
            if frame is not None
            else []
        )
        sampled = fit_sampling_tables(
            problems,
            aggregate,
            bootstrap=resamples,
            seed=seed,
            ci_level=ci,
            assumed_n=assumed_n,
        )
    if output_format == "json":
        records = [curve_record(c) for c in curves] + [sampling_record(s) for s in sampled]
        typer.echo(dumps_json(records))
    elif output_format == "csv":
        typer.echo(_csv_text(curves, sampled), nl=False)
    else:
        if curves:
            _print_table(curves, x)
        if sampled:
            _print_sampling_table(sampled)
    if plot is not None:
        written = plot_curves(curves, plot, x=x, stem=inputs_stem(other_paths)) if curves else []
        if sampled:
            written += plot_curves(
                [s.task_curve for s in sampled], plot, x="k", stem=inputs_stem(sampling_paths)
            )
        typer.echo(f"plots: {', '.join(str(p) for p in written)}", err=output_format != "table")


def _flags(result: Any) -> list[str]:
    flags = []
    if result.still_climbing:
        flags.append("still climbing")
    if result.overthinking:
        flags.append("overthinking")
    flags.extend(_FLAG_NAMES[c] for c in result.warning_codes if c in _FLAG_NAMES)
    return flags


def _print_table(curves: list[Any], x: str) -> None:
    """The curves as a table (model, checkpoint, filter and n-shot tell rows apart), then warnings."""
    from rich.console import Console
    from rich.table import Table

    unit = "r" if x == "r" else "FLOPs"
    show_shots = len({c.n_shot for c in curves}) > 1
    level = curves[0].result.ci_level if curves else DEFAULT_CI
    table = Table(
        title=f"test-time-compute curves (x = {unit}; {level:.0%} CIs from the bootstrap)"
    )
    columns = ["model", "checkpoint", "task", "metric", "filter"]
    columns += ["n-shot"] if show_shots else []
    columns += ["form", "chance", "A", f"{x}50", f"{x}90", f"{x}95", f"{x}95 CI", f"max {x}"]
    for column in [*columns, "flags"]:
        table.add_column(column)
    for curve in curves:
        res = curve.result
        cells = [
            curve.model.rsplit("/", 1)[-1],
            curve.checkpoint or "-",
            curve.task,
            curve.metric,
            curve.filter or "-",
        ]
        cells += [str(curve.n_shot) if curve.n_shot is not None else "-"] if show_shots else []
        cells += [
            res.fit.form,
            _fmt(res.fit.chance),
            f"{res.ceiling:.3f} {_ci(res, 'A')}",
            _fmt(res.r50),
            _fmt(res.r90),
            _fmt(res.r95),
            _ci(res, "r95"),
            _fmt(res.x_max),
            ", ".join(_flags(res)) or "saturated",
        ]
        table.add_row(*cells)
    console = Console(width=220)
    console.print(table)
    for curve in curves:
        for warning in curve.result.warnings:
            if warning.code == "form_not_fitted":
                continue
            label = " / ".join(
                str(v)
                for v in (
                    curve.model.rsplit("/", 1)[-1],
                    curve.checkpoint,
                    curve.task,
                    curve.metric,
                    curve.filter,
                )
                if v
            )
            console.print(f"warning: {label}: {warning.message}", highlight=False, soft_wrap=True)


CSV_COLUMNS = (
    "kind",
    "model",
    "checkpoint",
    "task",
    "metric",
    "filter",
    "n_shot",
    "x",
    "form",
    "chance",
    "ceiling",
    "ceiling_lo",
    "ceiling_hi",
    "x50",
    "x90",
    "x95",
    "x95_lo",
    "x95_hi",
    "max_x",
    "still_climbing",
    "overthinking",
    "exponent",
    "exponent_lo",
    "exponent_hi",
    "k_for_0.9",
    "k_for_0.99",
    "distribution",
    "alpha",
    "alpha_lo",
    "alpha_hi",
    "warnings",
)
"""Columns of ``ttc fit --format csv``: one row per curve; x50/x90/x95 are in units of ``x`` (r,
flops or k); the exponent, k-for-coverage and distribution columns are empty for recurrence curves."""


def _csv_row(curve: Any, sampling: Any = None) -> dict[str, Any]:
    res = curve.result
    lo_hi = res.ci.get("A", ("", "")), res.ci.get("r95", ("", ""))
    row: dict[str, Any] = {
        "kind": "sampling" if sampling is not None else "recurrence",
        "model": curve.model,
        "checkpoint": curve.checkpoint or "",
        "task": curve.task,
        "metric": curve.metric,
        "filter": curve.filter or "",
        "n_shot": "" if curve.n_shot is None else curve.n_shot,
        "x": curve.x_name,
        "form": res.fit.form,
        "chance": res.fit.chance,
        "ceiling": res.ceiling,
        "ceiling_lo": lo_hi[0][0],
        "ceiling_hi": lo_hi[0][1],
        "x50": res.r50,
        "x90": res.r90,
        "x95": res.r95,
        "x95_lo": lo_hi[1][0],
        "x95_hi": lo_hi[1][1],
        "max_x": res.x_max,
        "still_climbing": res.still_climbing,
        "overthinking": res.overthinking,
        "warnings": ";".join(res.warning_codes),
    }
    if sampling is not None:
        dist = sampling.distribution
        exponent_ci = sampling.exponent_ci or ("", "")
        alpha_ci = sampling.distribution_ci.get("alpha", ("", ""))
        row |= {
            "exponent": sampling.exponent,
            "exponent_lo": exponent_ci[0],
            "exponent_hi": exponent_ci[1],
            "k_for_0.9": sampling.samples_for_coverage.get(0.9, ""),
            "k_for_0.99": sampling.samples_for_coverage.get(0.99, ""),
            "distribution": "" if dist is None else dist.form,
            "alpha": "" if dist is None else dist.alpha,
            "alpha_lo": alpha_ci[0],
            "alpha_hi": alpha_ci[1],
            "warnings": ";".join(w.code for w in sampling.warnings),
        }
    return row


def _csv_text(curves: list[Any], sampled: list[Any]) -> str:
    """The curves as CSV (``CSV_COLUMNS``); non-finite numbers are written as ``inf``/``nan``."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for curve in curves:
        writer.writerow(_csv_row(curve))
    for item in sampled:
        writer.writerow(_csv_row(item.task_curve, item.sampling))
    return buffer.getvalue()


def _print_sampling_table(sampled: list[Any]) -> None:
    """Coverage-vs-samples curves: the chosen form, k for target coverages, both exponents."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="coverage (pass@k) vs samples k (CIs from the bootstrap)")
    for column in (
        "model",
        "task",
        "source",
        "form",
        "k50",
        "k90",
        "k90 CI",
        "k99",
        "max k",
        "exp_power -b",
        "-b CI",
        "Beta alpha",
        "alpha CI",
        "flags",
    ):
        table.add_column(column)
    for item in sampled:
        curve, res = item.task_curve, item.sampling
        dist = res.distribution
        alpha_ci = res.distribution_ci.get("alpha")
        k90_ci = res.samples_ci.get("0.9")
        table.add_row(
            curve.model.rsplit("/", 1)[-1],
            curve.task,
            res.source,
            res.result.fit.form,
            _fmt(res.samples_for_coverage.get(0.5, math.nan)),
            _fmt(res.samples_for_coverage.get(0.9, math.nan)),
            f"[{_fmt(k90_ci[0])}, {_fmt(k90_ci[1])}]" if k90_ci else "",
            _fmt(res.samples_for_coverage.get(0.99, math.nan)),
            _fmt(res.result.x_max),
            f"{res.exponent:.3f}",
            f"[{res.exponent_ci[0]:.3f}, {res.exponent_ci[1]:.3f}]" if res.exponent_ci else "",
            "-" if dist is None else f"{dist.alpha:.3f} ({dist.form})",
            f"[{alpha_ci[0]:.3f}, {alpha_ci[1]:.3f}]" if alpha_ci else "",
            ", ".join(_flags(res.result)) or "-",
        )
    console = Console(width=220)
    console.print(table)
    for item in sampled:
        for warning in item.sampling.warnings:
            if warning.code == "form_not_fitted" and "distinct x" in warning.message:
                continue
            label = f"{item.task_curve.model.rsplit('/', 1)[-1]} / {item.task_curve.task}"
            console.print(f"warning: {label}: {warning.message}", highlight=False, soft_wrap=True)


@recurrent_app.command("run")
def recurrent_run_command(
    task: Annotated[str, typer.Option("--task", help="Task: parity.")] = "parity",
    length: Annotated[int, typer.Option("--length", help="Sequence length (difficulty).")] = 16,
    train_steps: Annotated[int, typer.Option("--train-steps", help="Training steps.")] = 1000,
    r: Annotated[
        str, typer.Option("--r", help="Recurrences to evaluate, e.g. 1,2,4,...,64.")
    ] = "1,2,4,...,64",
    out: Annotated[
        Path | None, typer.Option("--out", help="Run folder (reused when it holds this run).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of init, data and evaluation.")] = 0,
    hidden: Annotated[int, typer.Option("--hidden", help="State width.")] = 32,
    exit_thresholds: Annotated[
        str,
        typer.Option("--exit-thresholds", help="KL thresholds of the adaptive exit (comma list)."),
    ] = "1e-1,1e-2,1e-3,1e-4,1e-6",
    output_format: FormatOption = TableFormat.table,
) -> None:
    """Train (or reload) a tiny recurrent-depth model; write its accuracy at each r as lm-eval JSON."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gemstones.runs import recurrent

    rs = recurrent.parse_r_list(r)
    try:
        thresholds = [float(v) for v in exit_thresholds.split(",") if v.strip()]
    except ValueError:
        raise GemstonesInputError(
            f"--exit-thresholds {exit_thresholds!r}: expected numbers, e.g. 1e-2,1e-4"
        ) from None
    config = recurrent.RecurrentRunConfig(
        task=task, length=length, train_steps=train_steps, seed=seed, hidden=hidden
    )
    folder = (
        out
        or Path("recurrent-runs") / f"{task}-len{length}-h{hidden}-steps{train_steps}-seed{seed}"
    )
    recurrent.check_run_folder(folder)
    recurrent.check_exit_thresholds(thresholds)
    with Progress(
        TextColumn("training"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        transient=True,
        console=(console := Console(stderr=True)),
        disable=not console.is_terminal,
    ) as bar:
        job = bar.add_task("train", total=train_steps, loss="-")

        def progress(step: int, loss: float) -> None:
            if step % 10 == 0 or step == train_steps:
                bar.update(job, completed=step, loss=f"{loss:.3f}")

        outcome = recurrent.run(config, rs, folder, progress=progress)
    model = outcome.model
    exits = recurrent.adaptive_exit(model, thresholds, max_r=max(rs))
    recurrent.write_exit_frame(exits, folder)
    if output_format is not TableFormat.table:
        _print_run_data(config, outcome, exits, folder, output_format)
        return
    source = "loaded" if outcome.loaded else f"trained in {model.train_seconds:.1f} s"
    typer.echo(
        f"{config.model_name} ({model.parameter_count} parameters, {source}; final loss {model.final_loss:.3f})"
    )
    for value, acc in outcome.accuracies.items():
        typer.echo(f"  r={value:>3d}  acc={acc:.4f}")
    typer.echo(f"adaptive exit (KL threshold -> mean steps, accuracy; cap r={max(rs)}):")
    for e in exits:
        typer.echo(f"  {e.threshold:8.0e}  {e.mean_steps:6.2f}  {e.accuracy:.4f}")
    typer.echo(
        f"wrote {folder} ({len(outcome.files)} lm-eval results files in {folder / recurrent.RESULTS_DIR})"
    )


def _print_run_data(config: Any, outcome: Any, exits: Any, folder: Path, fmt: TableFormat) -> None:
    """``recurrent run --format csv|json``: accuracy per r (CSV), or the run as one JSON object."""
    import polars as pl

    from .output import echo_frame

    rows = [{"r": r, "accuracy": acc} for r, acc in outcome.accuracies.items()]
    if fmt is TableFormat.csv:
        echo_frame(pl.DataFrame(rows), fmt)
    else:
        model = outcome.model
        typer.echo(dumps_json({
            "model": config.model_name, "parameters": model.parameter_count, "loaded": outcome.loaded,
            "final_loss": model.final_loss, "accuracy": rows, "folder": str(folder),
            "adaptive_exit": [
                {"threshold": e.threshold, "mean_steps": e.mean_steps, "accuracy": e.accuracy}
                for e in exits
            ],
        }))  # fmt: skip
    typer.echo(f"wrote {folder}", err=True)
