"""``gemstones validate``: extrapolation validation of the law families (leave-larger-out and
rollout) on one design or on every built-in design."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .output import FormatOption, TableFormat, dumps_json, echo_frame

_LAWS_HELP = "power_sum | isoflop | loss_to_loss | sigmoid_accuracy (repeat, or 'all')"


@app.command("validate")
def validate_command(
    design: Annotated[
        str | None, typer.Option("--design", help="Built-in design name or .toml path.")
    ] = None,
    all_designs: Annotated[
        bool, typer.Option("--all-designs", help="Every built-in catalog design.")
    ] = False,
    law: Annotated[list[str] | None, typer.Option("--law", help=_LAWS_HELP)] = None,
    holdout: Annotated[
        str, typer.Option("--holdout", help="larger:FRAC | params>X | flops>X")
    ] = "larger:0.2",
    scheme: Annotated[
        str, typer.Option("--scheme", help="leave-larger-out | rollout")
    ] = "leave-larger-out",
    folds: Annotated[int, typer.Option("--folds", help="Rollout folds (1..10).")] = 4,
    benchmark: Annotated[
        str, typer.Option("--benchmark", help="Task of sigmoid_accuracy.")
    ] = "hellaswag",
    loss_y: Annotated[
        str, typer.Option("--loss-y", help="Target loss of loss_to_loss.")
    ] = "val_loss_dclm",
    intervals: Annotated[
        int,
        typer.Option(
            "--intervals",
            help="power_sum: bootstrap resamples for 95% prediction intervals (0: none).",
        ),
    ] = 0,
    output_format: FormatOption = TableFormat.table,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the error figure (PNG + PDF) here.")
    ] = None,
) -> None:
    """Fit each law below a size cut and score its predictions of the larger models."""
    import polars as pl

    from fitting.laws import REGISTRY
    from gemstones.errors import GemstonesInputError
    from gemstones.scaling.designs import list_designs, load_design
    from gemstones.scaling.law_analysis import SCHEMES, VALIDATED_LAWS, Holdout, validate_design

    if (design is None) == (not all_designs):
        raise GemstonesInputError("give exactly one of --design NAME or --all-designs")
    if scheme not in SCHEMES:
        raise GemstonesInputError(f"unknown --scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
    Holdout.parse(holdout)
    if not 0 <= intervals <= 10_000:
        raise GemstonesInputError(f"--intervals must be 0..10000; got {intervals}")
    laws = list(law or ["power_sum"])
    if "all" in laws:
        laws = list(VALIDATED_LAWS)
    for name in laws:
        REGISTRY.get(name)
    if plot is not None:
        from registry.atomic import check_output_dir

        check_output_dir(plot, "--plot")
    if all_designs:
        names = [n for n in list_designs() if load_design(n).selection.source == "catalog"]
    else:
        assert design is not None  # exactly one of --design / --all-designs, checked above
        names = [design]
    records = []
    for name in names:
        for one in laws:
            records.extend(
                validate_design(
                    name,
                    law=one,
                    holdout=holdout,
                    scheme=scheme,
                    n_folds=folds,
                    benchmark=benchmark,
                    loss_y=loss_y,
                    interval_resamples=intervals,
                )
            )
    if output_format is TableFormat.json:
        typer.echo(dumps_json(records))
    else:
        columns = [
            "design",
            "law",
            "scheme",
            "fold",
            "n_train",
            "n_test",
            "units",
            "mean_rel_error",
            "max_rel_error",
            "mae",
            "bias",
            "pi_coverage",
            "error",
        ]
        frame = pl.DataFrame(
            [{c: r.get(c) for c in columns} for r in records],
            schema={
                c: (
                    pl.Int64
                    if c.startswith("n_")
                    else pl.Float64
                    if c in ("mean_rel_error", "max_rel_error", "mae", "bias", "pi_coverage")
                    else pl.Utf8
                )
                for c in columns
            },
        )
        echo_frame(frame, output_format)
    if plot is not None:
        from gemstones.scaling.law_plots import plot_validation_errors

        stem = f"validate_{'all' if all_designs else Path(str(design)).stem}_{scheme}"
        plot_validation_errors(records, plot, stem=stem)
        typer.echo(f"wrote {plot}/{stem}.png", err=True)
