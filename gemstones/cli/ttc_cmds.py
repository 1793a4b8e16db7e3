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
from .output import dumps_json


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
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


@ttc_app.command("fit")
def fit_command(
    paths: Annotated[
        list[Path], typer.Argument(help="lm-eval results_*.json files, folders of them, or CSVs.")
    ],
    x: Annotated[
        str, typer.Option("--x", help="Curve axis: r (recurrences) or flops (FLOPs per token).")
    ] = "r",
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Folder for PNG and PDF plots.")
    ] = None,
    chance: Annotated[
        list[str] | None,
        typer.Option("--chance", help="Chance level of a task, TASK=LEVEL (repeatable)."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Fit only this metric (e.g. acc_norm).")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap replicates for the CIs.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
) -> None:
    """Fit test-time-compute curves (accuracy vs recurrences or FLOPs) per task; print summaries."""
    from fitting.ttc import curve_record, fit_table
    from gemstones.ttc_ingest import read_results
    from gemstones.ttc_plots import plot_curves

    if x not in ("r", "flops"):
        raise GemstonesInputError(f"--x {x!r}: valid: r, flops")
    if output_format not in ("table", "json"):
        raise GemstonesInputError(f"--format {output_format!r}: valid: table, json")
    if bootstrap < 0:
        raise GemstonesInputError(f"--bootstrap {bootstrap}: must be >= 0")
    frame = read_results(paths)
    if metric is not None:
        frame = frame.filter(frame["metric"] == metric)
        if frame.is_empty():
            raise GemstonesInputError(f"--metric {metric!r}: no rows with this metric")
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as bar:
        job = bar.add_task("fitting curves", total=None)
        curves = fit_table(
            frame,
            x=x,
            chance=_parse_chance(chance),
            bootstrap=bootstrap,
            seed=seed,
            progress=lambda done, total: bar.update(job, completed=done, total=total),
        )
    if output_format == "json":
        typer.echo(dumps_json([curve_record(c) for c in curves]))
    else:
        _print_table(curves, x)
    if plot is not None:
        written = plot_curves(curves, plot, x=x)
        typer.echo(f"plots: {', '.join(str(p) for p in written)}", err=output_format == "json")


def _print_table(curves: list[Any], x: str) -> None:
    from rich.console import Console
    from rich.table import Table

    unit = "r" if x == "r" else "FLOPs"
    table = Table(title=f"test-time-compute curves (x = {unit}; CIs from the bootstrap)")
    for column in (
        "model",
        "task",
        "metric",
        "form",
        "chance",
        "A",
        f"{x}50",
        f"{x}90",
        f"{x}95",
        f"{x}95 CI",
        f"max {x}",
        "flags",
    ):
        table.add_column(column)
    for curve in curves:
        res = curve.result
        flags = []
        if res.still_climbing:
            flags.append("still climbing")
        if res.overthinking:
            flags.append("overthinking")
        table.add_row(
            curve.model.rsplit("/", 1)[-1],
            curve.task,
            curve.metric,
            res.fit.form,
            _fmt(res.fit.chance),
            f"{res.ceiling:.3f} {_ci(res, 'A')}",
            _fmt(res.r50),
            _fmt(res.r90),
            _fmt(res.r95),
            _ci(res, "r95"),
            _fmt(res.x_max),
            ", ".join(flags) or "saturated",
        )
    Console(width=200).print(table)


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
        console=Console(stderr=True),
    ) as bar:
        job = bar.add_task("train", total=train_steps, loss="-")

        def progress(step: int, loss: float) -> None:
            if step % 10 == 0 or step == train_steps:
                bar.update(job, completed=step, loss=f"{loss:.3f}")

        outcome = recurrent.run(config, rs, folder, progress=progress)
    model = outcome.model
    source = "loaded" if outcome.loaded else f"trained in {model.train_seconds:.1f} s"
    typer.echo(
        f"{config.model_name} ({model.parameter_count} parameters, {source}; final loss {model.final_loss:.3f})"
    )
    for value, acc in outcome.accuracies.items():
        typer.echo(f"  r={value:>3d}  acc={acc:.4f}")
    exits = recurrent.adaptive_exit(model, thresholds, max_r=max(rs))
    recurrent.write_exit_frame(exits, folder)
    typer.echo(f"adaptive exit (KL threshold -> mean steps, accuracy; cap r={max(rs)}):")
    for e in exits:
        typer.echo(f"  {e.threshold:8.0e}  {e.mean_steps:6.2f}  {e.accuracy:.4f}")
    typer.echo(
        f"wrote {folder} ({len(outcome.files)} lm-eval results files in {folder / recurrent.RESULTS_DIR})"
    )
