"""``gemstones laws``: the law families (list) and the analyses built on them: approach 2
(``isoflop``), approaches side by side (``compare``), ``loss-to-loss``, two-step ``downstream``
prediction and the ``profile`` of an approach-3 parameter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .app import command_group
from .output import FormatOption, TableFormat, dumps_json, echo_frame

laws_app = command_group("laws", "Law families and the analyses built on them.")

PlotOption = Annotated[
    Path | None, typer.Option("--plot", help="Write the figure (PNG + PDF) into this folder.")
]
ResultsOption = Annotated[
    Path | None,
    typer.Option(
        "--results",
        help="Results folder of evaluated metrics (eval_*; `gemstones eval --out`); "
        "default: the user cache's.",
    ),
]


def _names(kind: str) -> str:
    from registry.metrics import BENCHMARK_PREFIX, METRICS

    return " | ".join(n.removeprefix(BENCHMARK_PREFIX) for n in METRICS.names(kind))


_LOSS_HELP = f"{_names('loss')} | eval_loss_<name> | eval_bpb_<name>"
_BENCHMARK_HELP = f"{_names('accuracy')} | eval_acc_<name> | eval_acc_norm_<name>"


def _check_plot(plot: Path | None) -> None:
    if plot is not None:
        from registry.atomic import check_output_dir

        check_output_dir(plot, "--plot")


def _records(frame_or_records: Any, fmt: TableFormat) -> None:
    import polars as pl

    frame = (
        frame_or_records
        if isinstance(frame_or_records, pl.DataFrame)
        else pl.DataFrame(frame_or_records)
    )
    echo_frame(frame, fmt)


@laws_app.command("list")
def laws_list(output_format: FormatOption = TableFormat.table) -> None:
    """List the registered law families (built-in and installed entry points), with their
    inputs, parameters and constraints."""
    import polars as pl

    from fitting.laws import describe_families
    from gemstones.scaling.families import load_entry_point_families

    load_entry_point_families()
    records = describe_families()
    if output_format is TableFormat.json:
        typer.echo(dumps_json(records))
        return
    rows = [
        {
            **record,
            "constraints": "; ".join(f"{k}: {v}" for k, v in record["constraints"].items()),
        }
        for record in records
    ]
    frame = pl.DataFrame(rows).with_columns(
        pl.col("inputs").list.join(", "), pl.col("parameters").list.join(", ")
    )
    echo_frame(frame, output_format)


@laws_app.command("isoflop")
def laws_isoflop(
    design: Annotated[str, typer.Option("--design", help="Built-in design name or .toml path.")],
    resamples: Annotated[
        int, typer.Option("--resamples", help="Bootstrap resamples (by runs).")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    ci: Annotated[float, typer.Option("--ci", help="Interval level.")] = 0.95,
    budgets: Annotated[int, typer.Option("--budgets", help="FLOP budgets to try (2..1000).")] = 24,
    output_format: FormatOption = TableFormat.table,
    plot: PlotOption = None,
) -> None:
    """Approach 2 (IsoFLOP parabolas along the training trajectories) with a bootstrap CI."""
    from gemstones.scaling.law_analysis import isoflop_design

    if not 2 <= budgets <= 1000:
        raise typer.BadParameter(f"--budgets must be 2..1000; got {budgets}")
    _check_plot(plot)
    boot = isoflop_design(design, n_resamples=resamples, seed=seed, ci=ci, n_budgets=budgets)
    record = {"design": design, **boot.as_dict()}
    if output_format is TableFormat.json:
        typer.echo(dumps_json(record))
    else:
        lo, hi = boot.params_exponent_ci
        tlo, thi = boot.tokens_exponent_ci
        typer.echo(
            f"design           {design}\n"
            f"budgets          {boot.fit.budgets.size} with an interior minimum "
            f"(of {boot.fit.n_budgets_tried} with >= 5 runs), {boot.fit.n_runs} runs\n"
            f"params exponent  {boot.fit.params_exponent:.4f}  [{lo:.4f}, {hi:.4f}] "
            f"({boot.ci:.0%}, {boot.resamples.size} resamples by runs, {boot.n_failed} failed)\n"
            f"tokens exponent  {boot.fit.tokens_exponent:.4f}  [{tlo:.4f}, {thi:.4f}]"
        )
    if plot is not None:
        from gemstones.scaling.law_plots import plot_isoflop

        plot_isoflop(boot, plot, stem=f"isoflop_{Path(design).stem}")
        typer.echo(f"wrote {plot}/isoflop_{Path(design).stem}.png", err=True)


@laws_app.command("compare")
def laws_compare(
    design: Annotated[str, typer.Option("--design", help="Built-in design name or .toml path.")],
    resamples: Annotated[int, typer.Option("--resamples")] = 100,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    resamples_3: Annotated[
        int, typer.Option("--resamples-3", help="Approach-3 bootstrap resamples (0: none).")
    ] = 0,
    output_format: FormatOption = TableFormat.table,
) -> None:
    """Approaches 1, 2 and 3 side by side: compute-optimal exponents of one design's data."""
    from gemstones.scaling.law_analysis import compare_approaches

    if not 2 <= resamples <= 10_000 or not 0 <= resamples_3 <= 10_000:
        raise typer.BadParameter("--resamples must be 2..10000 and --resamples-3 0..10000")
    frame = compare_approaches(
        design, n_resamples=resamples, seed=seed, approach3_resamples=resamples_3
    )
    echo_frame(frame, output_format)


@laws_app.command("loss-to-loss")
def laws_loss_to_loss(
    x: Annotated[
        str, typer.Option("--x", help=f"Loss metric on the x axis ({_LOSS_HELP}).")
    ] = "val_loss",
    y: Annotated[str, typer.Option("--y", help="Loss metric predicted.")] = "val_loss_dclm",
    results: ResultsOption = None,
    output_format: FormatOption = TableFormat.table,
    plot: PlotOption = None,
) -> None:
    """Fit L_y = E_y + K (L_x - E_x)^kappa between two loss metrics (checkpoints with both)."""
    import numpy as np

    from gemstones.scaling.law_analysis import fit_loss_to_loss, loss_pairs

    _check_plot(plot)
    fit = fit_loss_to_loss(x, y, results=results)
    record = {"x": x, "y": y, **fit.as_dict()}
    if output_format is TableFormat.json:
        typer.echo(dumps_json(record))
    else:
        params = ", ".join(f"{k} = {v:.5g}" for k, v in record["params"].items())
        typer.echo(f"{y} = E_y + K ({x} - E_x)^kappa over {fit.n_points} checkpoints\n{params}")
        typer.echo(f"flags: {', '.join(fit.flags) or 'none'}")
    if plot is not None:
        from gemstones.scaling.law_plots import plot_xy_fit

        pairs = loss_pairs(x, y, results=results)
        lx = pairs["loss_x"].to_numpy()
        grid = np.linspace(lx.min(), lx.max(), 100)
        plot_xy_fit(
            lx,
            pairs["loss_y"].to_numpy(),
            grid,
            fit.predict(grid),
            xlabel=x,
            ylabel=y,
            title="loss-to-loss",
            out_dir=plot,
            stem=f"loss_to_loss_{x}_{y}",
        )
        typer.echo(f"wrote {plot}/loss_to_loss_{x}_{y}.png", err=True)


@laws_app.command("downstream")
def laws_downstream(
    benchmark: Annotated[
        str, typer.Option("--benchmark", help=f"The accuracy predicted ({_BENCHMARK_HELP}).")
    ] = "hellaswag",
    loss: Annotated[str, typer.Option("--loss", help="The intermediate loss metric.")] = "val_loss",
    heldout: Annotated[int, typer.Option("--heldout", help="Largest shapes held out.")] = 2,
    results: ResultsOption = None,
    output_format: FormatOption = TableFormat.table,
    plot: PlotOption = None,
) -> None:
    """Two-step task law: (N, D) -> loss -> accuracy, predicting the largest shapes from the rest.

    The sigmoid's floor is the benchmark's chance level from the metric registry."""
    from gemstones.scaling.law_analysis import two_step

    _check_plot(plot)
    result = two_step(benchmark, loss=loss, heldout=heldout, results=results)
    if output_format is TableFormat.json:
        typer.echo(dumps_json(result.as_dict()))
    else:
        typer.echo(f"{benchmark} of {', '.join(result.heldout_shapes)} via {loss}")
        for shape, err in result.final_error_points.items():
            typer.echo(f"  {shape:<9} final checkpoint error {err:+.2f} points")
        typer.echo(
            f"  all held-out checkpoints: MAE {result.mae_points:.2f} points "
            f"(step 2 alone, true loss: {result.step2_mae_points:.2f}); "
            f"step 1 loss error {100 * result.loss_relative_error:.2f}%"
        )
    if plot is not None:
        from gemstones.scaling.law_plots import plot_predicted_vs_observed

        plot_predicted_vs_observed(
            result.table["accuracy_pred"].to_numpy(),
            result.table["accuracy"].to_numpy(),
            label=f"{benchmark} accuracy",
            title="two-step prediction of held-out shapes",
            out_dir=plot,
            stem=f"downstream_{benchmark}",
        )
        typer.echo(f"wrote {plot}/downstream_{benchmark}.png", err=True)


@laws_app.command("profile")
def laws_profile(
    design: Annotated[str, typer.Option("--design", help="Built-in design name or .toml path.")],
    parameter: Annotated[str, typer.Option("--parameter")] = "alpha_tokens",
    low: Annotated[float, typer.Option("--low")] = 0.3,
    high: Annotated[float, typer.Option("--high")] = 1.0,
    points: Annotated[int, typer.Option("--points", help="2..400")] = 29,
    output_format: FormatOption = TableFormat.table,
    plot: PlotOption = None,
) -> None:
    """Profile-likelihood interval of one approach-3 parameter (shows how flat the objective is)."""
    import numpy as np

    from fitting.laws import REGISTRY, profile_power_sum
    from gemstones.scaling.designs import design_table, load_design

    if not 2 <= points <= 400 or not low < high:
        raise typer.BadParameter(
            f"need 2 <= --points <= 400 and --low < --high; got {points}, {low}, {high}"
        )
    _check_plot(plot)
    spec = load_design(design)
    variables = list(spec.law.variable_names)
    table = design_table(spec)
    x, y = table.select(variables).to_numpy().astype(float), table["loss"].to_numpy()
    fit = REGISTRY.get("power_sum").fit(
        x, y, options={"variables": variables, "delta": spec.fit.delta}
    )
    prof = profile_power_sum(
        x,
        y,
        fit.params,
        variables=variables,
        parameter=parameter,
        values=np.linspace(low, high, points),
        delta=spec.fit.delta,
    )
    if output_format is TableFormat.json:
        typer.echo(dumps_json({"design": spec.name, **prof.as_dict()}))
    else:
        lo, hi = prof.interval
        typer.echo(
            f"{parameter} = {prof.best_value:.4f}; {prof.level:.0%} profile interval [{lo:.4f}, {hi:.4f}] "
            f"(objective within x{prof.threshold_ratio:.4f} of the best)"
        )
        if lo <= prof.values[0] or hi >= prof.values[-1]:
            typer.echo("  the interval reaches the scanned edge: widen --low/--high")
        for v, o in zip(prof.values, prof.objectives / prof.best_objective, strict=True):
            typer.echo(f"  {v:8.4f}  {o:.5f}{'  *' if o <= prof.threshold_ratio else ''}")
    if plot is not None:
        from gemstones.scaling.law_plots import plot_profile

        plot_profile(prof, plot, stem=f"profile_{spec.name}_{parameter}")
        typer.echo(f"wrote {plot}/profile_{spec.name}_{parameter}.png", err=True)


@laws_app.command("fit")
def laws_fit(
    design: Annotated[str, typer.Option("--design", help="Built-in design name or .toml path.")],
    law: Annotated[
        str, typer.Option("--law", help="power_sum | isoflop | loss_to_loss | sigmoid_accuracy")
    ] = "power_sum",
    loss_y: Annotated[str, typer.Option("--loss-y", help="loss_to_loss: the target loss.")] = (
        "val_loss_dclm"
    ),
    benchmark: Annotated[
        str, typer.Option("--benchmark", help="sigmoid_accuracy: the task.")
    ] = "hellaswag",
    resamples: Annotated[
        int, typer.Option("--resamples", help="Bootstrap resamples (runs).")
    ] = 100,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    ci: Annotated[float, typer.Option("--ci", help="Interval level.")] = 0.95,
    output_format: FormatOption = TableFormat.table,
    plot: PlotOption = None,
) -> None:
    """Fit any law family on a design's checkpoints, with bootstrap-by-runs intervals."""
    import numpy as np

    from fitting.laws import REGISTRY
    from gemstones.scaling.law_analysis import fit_family_on_design

    REGISTRY.get(law)
    if not 2 <= resamples <= 10_000:
        raise typer.BadParameter(f"--resamples must be 2..10000; got {resamples}")
    _check_plot(plot)
    result = fit_family_on_design(
        design, law, loss_y=loss_y, benchmark=benchmark, n_resamples=resamples, seed=seed, ci=ci
    )
    record = result.as_dict()
    if output_format is TableFormat.json:
        typer.echo(dumps_json(record))
    else:
        typer.echo(f"design {result.design}, law {law}: {result.ylabel} against {result.xlabel}")
        if law == "isoflop":
            lo, hi = record["params_exponent_ci"]
            typer.echo(f"  params_exponent  {record['params_exponent']:.5g}  [{lo:.5g}, {hi:.5g}]")
        else:
            rows = [
                {"quantity": k, "value": v, "low": record[key][k][0], "high": record[key][k][1]}
                for key, values in (
                    ("intervals", record["params"]),
                    ("derived_intervals", record["derived"]),
                )
                for k, v in values.items()
                if k in record[key] and not (key == "derived_intervals" and k in record["params"])
            ]
            _records(rows, output_format)
            typer.echo(f"flags: {', '.join(record['flags']) or 'none'}")
    if plot is not None:
        from gemstones.scaling import law_plots

        stem = f"laws_{law}_{Path(design).stem}"
        if law == "isoflop":
            law_plots.plot_isoflop(result.boot, plot, stem=stem)
        elif law == "power_sum":
            law_plots.plot_predicted_vs_observed(
                result.boot.fit.predict(result.x),
                result.y,
                label="loss",
                title=f"{law} on {result.design}",
                out_dir=plot,
                stem=stem,
            )
        else:
            grid = np.linspace(result.x.min(), result.x.max(), 100)
            law_plots.plot_xy_fit(
                result.x,
                result.y,
                grid,
                result.boot.fit.predict(grid),
                xlabel=result.xlabel,
                ylabel=result.ylabel,
                title=f"{law} on {result.design}",
                out_dir=plot,
                stem=stem,
            )
        typer.echo(f"wrote {plot}/{stem}.png", err=True)
