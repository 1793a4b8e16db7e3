"""``gemstones frontier``: the compute- (or time-) optimal frontier of a fitted design.

Prints, per budget bucket of the paper's grid, the width, depth, width/depth, params, tokens and
tokens/param of least predicted loss; with ``--budgets``, the optimum at those exact budgets
(with bootstrap CIs when ``--resamples`` > 0); with ``--plot DIR``, writes the figures, whose
bands come from the same ``--resamples`` refits as the printed intervals (none with 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fitting.laws import NAMED_LAWS

from .app import app
from .bootstrap_options import (
    DEFAULT_CI,
    check_bootstrap_options,
    ci_option,
    resamples_option,
    seed_option,
)
from .budgets import parse_budgets
from .output import FormatOption, TableFormat

FORMATS = ("table", "csv", "json")
RESOURCE_CHOICES = {"flops": "flops", "gpu-hours": "gpu_hours", "gpu_hours": "gpu_hours"}


@app.command("frontier")
def frontier_command(
    design: str = typer.Option(
        ..., "--design", help="Built-in design name or a design .toml path."
    ),
    law: str = typer.Option(
        None,
        "--law",
        help="Override the design's law: " + " | ".join(NAMED_LAWS) + ".",
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
    resamples: Annotated[int, resamples_option()] = 0,
    seed: Annotated[int, seed_option()] = 0,
    ci: Annotated[float, ci_option()] = DEFAULT_CI,
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
    check_bootstrap_options(resamples, seed, ci)
    budget_list = parse_budgets(budgets) if budgets is not None else None
    if plot is not None:
        from registry.atomic import check_output_dir

        check_output_dir(plot, "--plot")
    resource_key = RESOURCE_CHOICES[resource]
    fitted = run_fit(FitRequest(design=design, law=law, approach=3, no_embeddings=no_embeddings))
    if fitted.family != "power_sum":
        from gemstones.errors import GemstonesInputError

        raise GemstonesInputError(
            f"a frontier needs a power_sum law; design {design!r} fits the {fitted.family} "
            "family (pass --law params-tokens or a width-depth law)"
        )
    prescribe.warn_about_flags(fitted)
    time_model = prescribe.time_model_from_catalog() if resource_key == "gpu_hours" else None
    fmt = TableFormat(output_format)
    # One bootstrap for the printed intervals and the plotted bands.
    wanted = resamples > 0 and (budget_list is not None or plot is not None)
    bootstrap = _bootstrap_with_progress(fitted, resamples, seed) if wanted else None
    if budget_list is None:
        frontier = prescribe.design_frontier(fitted, resource=resource_key, time_model=time_model)
        echo_frame(prescribe.frontier_frame(frontier), fmt)
    elif bootstrap is None:
        echo_frame(
            prescribe.budget_optima_frame(
                fitted, budget_list, resource=resource_key, time_model=time_model
            ),
            fmt,
        )
    else:
        table = prescribe.prescription_table(
            fitted,
            budget_list,
            resource=resource_key,
            bootstrap=bootstrap,
            level=ci,
            time_model=time_model,
        )
        if fmt.value == "table":
            echo_text(prescribe.format_prescriptions(table, bootstrap.description))
        else:
            echo_frame(table, fmt)
    if plot is not None:
        from gemstones.scaling.plots import write_design_plots

        paths = write_design_plots(
            fitted,
            plot,
            bootstrap=bootstrap,
            n_resamples=0,
            level=ci,
            budgets=budget_list if resource_key == "flops" else None,
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
