"""``gemstones recurrent sweep``: accuracy and loss of a recurrent-depth checkpoint at each r and
under exit criteria, one work unit per setting (local or Ray), written as lm-eval results files
that ``gemstones ttc fit`` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gemstones.errors import GemstonesInputError

from .app import recurrent_app
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

MAX_BATCH = 4096


@recurrent_app.command("sweep")
def sweep_command(
    model: Annotated[
        Path, typer.Option("--model", help="A recurrent-depth (huginn_raven) checkpoint folder.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Sweep folder (an interrupted sweep resumes).")
    ],
    r: Annotated[
        str, typer.Option("--r", help="Recurrences, 1..64, e.g. 1,2,4,...,64.")
    ] = "1,2,4,...,64",
    tasks: Annotated[
        Path | None,
        typer.Option("--tasks", help="Multiple-choice JSONL (context, choices, answer)."),
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Corpus file for loss (text, JSONL, parquet).")
    ] = None,
    exits: Annotated[
        list[str] | None,
        typer.Option(
            "--exit",
            help="Exit criterion NAME[:THRESHOLD], capped at the largest r (repeatable): kl, "
            "entropy-diff, latent-diff, argmax-stability, cosine.",
        ),
    ] = None,
    exit_cap: Annotated[
        int | None, typer.Option("--exit-cap", help="Recurrence cap of the exit settings.")
    ] = None,
    tokenizer: Annotated[
        Path | None, typer.Option("--tokenizer", help="tokenizer.json (default: in --model).")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Model name in the results (default PARENT/FOLDER)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Initial-state seed (>= 0).")] = 0,
    context: Annotated[
        int | None, typer.Option("--context", help="Tokens per model input (default: model's).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Inputs per forward pass.")] = 8,
    dtype: Annotated[str, typer.Option("--dtype", help="float32 or bfloat16.")] = "float32",
    executor_name: ExecutorOption = "local",
    address: AddressOption = None,
    cpus: CpusOption = 1.0,
    gpus: GpusOption = 0.0,
    max_retries: RetriesOption = 3,
) -> None:
    """Measure a recurrent-depth model at each r and under exit criteria; write lm-eval files."""
    from gemstones.evaluate import rsweep

    if seed < 0:
        raise GemstonesInputError(f"--seed {seed}: must be >= 0")
    if not 1 <= batch_size <= MAX_BATCH:
        raise GemstonesInputError(f"--batch-size {batch_size}: must be in 1..{MAX_BATCH}")
    if dtype not in ("float32", "bfloat16"):
        raise GemstonesInputError(f"--dtype {dtype!r}: valid: float32, bfloat16")
    if out.exists() and not out.is_dir():
        raise GemstonesInputError(f"--out {out}: exists and is not a folder")
    rs = rsweep.parse_r_values(r)
    rules = [rsweep.parse_exit(text) for text in exits or []]
    settings = rsweep.sweep_settings(rs, rules, cap=exit_cap)
    executor = make_executor(executor_name, address, rsweep.describe_unit)
    resources = make_resources(cpus, gpus, max_retries)
    with executor, failures_as_errors(f" (the others are saved in {out})"):
        result = rsweep.run_rsweep(
            model,
            out=out,
            settings=settings,
            tasks=tasks,
            corpus=corpus,
            tokenizer=tokenizer,
            seed=seed,
            context=context,
            batch_size=batch_size,
            dtype=dtype,
            executor=executor,
            resources=resources,
            model_name=name,
            on_result=lambda unit, record: typer.echo(
                f"  {unit.setting.label}: done in {record['seconds']:.1f} s", err=True
            ),
        )
    if result.skipped:
        typer.echo(f"{len(result.skipped)} of {len(settings)} settings were already done", err=True)
    table = result.table
    for row in table.iter_rows(named=True):
        stderr = "" if row["stderr"] is None else f" ± {row['stderr']:.4f}"
        typer.echo(
            f"{row['setting']:>24s}  {row['task']}  {row['metric']:<13s} {row['value']:.4f}"
            f"{stderr}  mean steps {row['mean_steps']:.2f}"
        )
    typer.echo(f"wrote {out / rsweep.TABLE_FILE} and {len(result.files)} lm-eval results files")
    typer.echo(f"fit: {result.fit_command()}")
