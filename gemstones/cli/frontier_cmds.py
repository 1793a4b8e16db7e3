"""``gemstones frontier``: the compute- (or time-) optimal frontier of a fitted design.

Prints, per budget bucket of the paper's grid, the width, depth, width/depth, params, tokens and
tokens/param of least predicted loss; with ``--budgets``, the optimum at those exact budgets
(with bootstrap CIs when ``--resamples`` > 0); with ``--plot DIR``, writes the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .output import FormatOption, TableFormat

FORMATS = ("table", "csv", "json")
RESOURCE_CHOICES = {"flops": "flops", "gpu-hours": "gpu_hours", "gpu_hours": "gpu_hours"}


def parse_budgets(text: str) -> list[float]:
    """Parse ``1e20,1e21,1e22`` into floats.

    Raises:
        GemstonesInputError: an empty entry, an entry that is not a positive, finite number, or
            more than ``MAX_BUDGETS`` entries.
    """
    from gemstones.errors import GemstonesInputError
    from gemstones.scaling.prescribe import MAX_BUDGETS

    budgets = []
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_BUDGETS:
        raise GemstonesInputError(
            f"--budgets has {len(parts):,} values; at most {MAX_BUDGETS:,} are allowed"
        )
    for part in parts:
        if not part:
            raise GemstonesInputError(
                f"--budgets {text!r} has an empty value; use e.g. 1e20,1e21,1e22"
            )
        try:
            value = float(part)
        except ValueError:
            raise GemstonesInputError(
                f"--budgets: {part!r} is not a number; use e.g. 1e20,1e21,1e22"
            ) from None
        if not value > 0 or value == float("inf"):
            raise GemstonesInputError(f"--budgets: {part!r} must be a positive, finite number")
        budgets.append(value)
    if not budgets:
        raise GemstonesInputError("--budgets is empty; use e.g. 1e20,1e21,1e22")
    return budgets


@app.command("frontier")
def frontier_command(
    design: str = typer.Option(
        ..., "--design", help="Built-in design name or a design .toml path."
    ),
    law: str = typer.Option(
        None,
        "--law",
        help="Override the design's law: params-tokens | width-depth-tokens | width-depth-params-tokens.",
    ),
    no_embeddings: bool = typer.Option(
        False, "--no-embeddings", help="Fit non-embedding parameters."
    ),
    resource: str = typer.Option("flops", "--resource", help="flops | gpu-hours (time-optimal)."),
    budgets: str = typer.Option(
        None,
        "--budgets",
        help="Exact budgets (in the resource's units), e.g. 1e20,1e21,1e22.",
    ),
    resamples: int = typer.Option(
        0,
        "--resamples",
        help="With --budgets: bootstrap resamples (by runs) for CIs; 0 = none; at most 100,000.",
    ),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (0 to 2**32-1)."),
    output_format: FormatOption = TableFormat.table,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Figures folder: writes <design>__<law>__approach3__<resource>__frontier.png/.pdf.",
        ),
    ] = None,
) -> None:
    """Print the compute-optimal frontier of a design's fitted law (per bucket or per budget)."""
    from gemstones.cli.fit_cmds import FitRequest, run_fit
    from gemstones.cli.output import echo_frame, echo_text
    from gemstones.errors import GemstonesInputError
    from gemstones.scaling import prescribe

    if output_format not in FORMATS:
        raise GemstonesInputError(
            f"--format {output_format!r} is not valid; valid: {', '.join(FORMATS)}"
        )
    if resource not in RESOURCE_CHOICES:
        raise GemstonesInputError(f"--resource {resource!r} is not valid; valid: flops, gpu-hours")
    if resamples != 0:
        prescribe.check_resamples(resamples)
    prescribe.check_seed(seed)
    budget_list = parse_budgets(budgets) if budgets is not None else None
    if plot is not None:
        from registry.atomic import check_output_dir

        check_output_dir(plot, "--plot")
    resource_key = RESOURCE_CHOICES[resource]
    fitted = run_fit(FitRequest(design=design, law=law, approach=3, no_embeddings=no_embeddings))
    prescribe.warn_about_flags(fitted)
    time_model = prescribe.time_model_from_catalog() if resource_key == "gpu_hours" else None
    fmt = TableFormat(output_format)
    bootstrap = None
    if budget_list is None:
        frontier = prescribe.design_frontier(fitted, resource=resource_key, time_model=time_model)
        echo_frame(prescribe.frontier_frame(frontier), fmt)
    elif resamples == 0:
        echo_frame(
            prescribe.budget_optima_frame(
                fitted, budget_list, resource=resource_key, time_model=time_model
            ),
            fmt,
        )
    else:
        bootstrap = _bootstrap_with_progress(fitted, resamples, seed)
        table = prescribe.prescription_table(
            fitted,
            budget_list,
            resource=resource_key,
            bootstrap=bootstrap,
            time_model=time_model,
        )
        if fmt.value == "table":
            echo_text(prescribe.format_prescriptions(table))
        else:
            echo_frame(table, fmt)
    if plot is not None:
        from gemstones.scaling.plots import write_design_plots

        paths = write_design_plots(
            fitted,
            plot,
            bootstrap=bootstrap,
            seed=seed,
            n_resamples=resamples or 200,
            time_model=time_model,
            figures=("frontier",),
            resources=(resource_key,),
        )
        typer.echo(f"wrote {len(paths)} figure files to {plot}", err=True)


def _bootstrap_with_progress(fitted, resamples: int, seed: int):
    """Bootstrap refits with a progress bar on stderr."""
    from rich.progress import Progress

    from gemstones.scaling import prescribe

    with Progress(transient=True) as progress:
        task = progress.add_task("bootstrap refits", total=resamples)
        return prescribe.bootstrap_design(
            fitted,
            n_resamples=resamples,
            seed=seed,
            progress=lambda done, total: progress.update(task, completed=done),
        )
