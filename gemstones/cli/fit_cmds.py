"""``gemstones fit`` and ``gemstones designs list|show``.

``fit`` is split so other commands and options can reuse it: ``resolve_design`` turns the
options into a design, ``run_fit`` selects the data and fits (returning a ``DesignFit`` with the
design, its table and the fit), and ``render_fit`` prints it. Later options (``--budgets``,
``--plot``) take the ``DesignFit`` that ``run_fit`` returns.
"""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fitting.laws import NAMED_LAWS

from .app import app, designs_app
from .bootstrap_options import (
    DEFAULT_CI,
    check_bootstrap_options,
    ci_option,
    resamples_option,
    seed_option,
)
from .output import FormatOption, TableFormat

if TYPE_CHECKING:
    import polars as pl

    from gemstones.scaling.designs import Design, DesignFit


@dataclass(frozen=True)
class FitRequest:
    """The ``gemstones fit`` options, as given."""

    design: str | None = None
    data: Path | None = None
    x: str | None = None
    y: str | None = None
    law: str | None = None
    approach: int | None = None
    delta: float | None = None
    no_embeddings: bool = False
    run_column: str | None = None


def _input_error(message: str) -> Exception:
    from gemstones.errors import GemstonesInputError

    return GemstonesInputError(message)


def resolve_design(request: FitRequest) -> tuple[Design, pl.DataFrame | None]:
    """The design a request asks for, and its fit table when it comes from ``--data``.

    Returns:
        ``(design, table_or_None)``.

    Raises:
        GemstonesInputError: contradictory or missing options, unknown law, missing columns.
    """
    import polars as pl

    from gemstones.readers import numeric_columns
    from gemstones.scaling.designs import (
        Design,
        LawSpec,
        Selection,
        check_delta,
        load_design,
        read_table_file,
    )

    if request.law is not None and request.law not in NAMED_LAWS:
        raise _input_error(f"unknown --law {request.law!r}; valid: {', '.join(NAMED_LAWS)}")
    if request.approach is not None and request.approach not in (1, 3):
        raise _input_error(f"--approach must be 1 or 3; got {request.approach}")
    if request.delta is not None:
        check_delta(request.delta, "--delta")
    if (request.design is None) == (request.data is None):
        raise _input_error("give exactly one of --design NAME_OR_PATH or --data FILE")
    if request.design is not None:
        if request.x is not None or request.y is not None or request.run_column is not None:
            raise _input_error(
                "--x/--y/--run-column go with --data; a design names its own columns"
            )
        design = load_design(request.design).with_overrides(
            law=request.law,
            approach=request.approach,
            delta=request.delta,
            embeddings=False if request.no_embeddings else None,
        )
        return design, None

    if not request.x or not request.y:
        raise _input_error("--data needs --x COL[,COL...] and --y COL")
    if request.law is not None or request.approach not in (None, 3) or request.no_embeddings:
        raise _input_error(
            "--data fits approach 3 on the --x columns; drop --law/--approach/--no-embeddings"
        )
    assert request.data is not None  # the --design branch returned above
    x_columns = parse_x_columns(request.x, request.y)
    raw = read_table_file(request.data)
    name = Path(request.data).name
    run_column = request.run_column
    if run_column is not None and run_column in (*x_columns, request.y):
        raise _input_error(f"--run-column {run_column!r} is also a --x/--y column")
    for column in [*x_columns, request.y, *([run_column] if run_column else [])]:
        if column not in raw.columns:
            raise _input_error(
                f"column {column!r} is not in {name}; columns: {', '.join(raw.columns)}"
            )
    if raw.height == 0:
        raise _input_error(f"{name} has no rows")
    numbers = numeric_columns(raw, list(dict.fromkeys([*x_columns, request.y])), name)
    table = numbers.select(*x_columns, loss=request.y)
    if run_column is not None:
        # the bootstrap resamples whole runs (all points of one run together)
        table = table.with_columns(run_name=raw[run_column].cast(pl.Utf8))
    design = Design(
        name=Path(request.data).stem,
        description=f"{request.y} against {', '.join(x_columns)} from {request.data}",
        selection=Selection(source=str(request.data), loss=request.y),
        columns={"loss": request.y},
        law=LawSpec(form=None, variables=tuple(x_columns), approach=3),
    )
    if request.delta is not None:
        design = design.with_overrides(delta=request.delta)
    return design, table


def paper_approach1_sets() -> list[str]:
    """The sets the paper fits with approach 1: the built-in designs whose law is approach 1."""
    from gemstones.scaling.designs import list_designs, load_design

    return [name for name in list_designs() if load_design(name).law.approach == 1]


def approach1_note(request: FitRequest, design: Any) -> str | None:
    """A note when ``--approach 1`` asks for an envelope fit of a set the paper does not fit so.

    The fit still runs (the envelope is defined on any set), but the paper's approach-1 numbers come
    from its every-477-steps sets; a sparser set gives a coarser envelope.
    """
    if request.approach != 1:
        return None
    valid = paper_approach1_sets()
    if design.name in valid or design.selection.paper_set in valid:
        return None
    return (
        f"--approach 1 on design {design.name!r}, which is not one of the paper's approach-1 sets "
        f"({', '.join(valid)}); the envelope is fitted, but it is not a paper result"
    )


def parse_x_columns(x: str, y: str) -> list[str]:
    """The ``--x`` columns: distinct, non-empty, and neither the ``--y`` column nor ``loss``.

    ``loss`` is the name the fitted target takes in the fit table, so a variable cannot use it.

    Raises:
        GemstonesInputError: an empty entry, a repeated column, or a clash with ``--y``/``loss``.
    """
    columns = [c.strip() for c in x.split(",")]
    if any(not c for c in columns):
        raise _input_error(f"--x {x!r} has an empty column name; use e.g. --x params,tokens")
    if len(set(columns)) != len(columns):
        raise _input_error(f"--x columns must be distinct; got {columns}")
    if y.strip() in columns:
        raise _input_error(
            f"--x {x!r} includes the --y column {y!r}; a variable cannot be the loss"
        )
    if "loss" in columns:
        raise _input_error(
            f"--x {x!r} includes 'loss', the name of the fitted target; rename that column"
        )
    return columns


def run_fit(request: FitRequest, catalog: Any | None = None) -> DesignFit:
    """Resolve, select and fit; return the ``gemstones.scaling.designs.DesignFit``."""
    from gemstones.scaling.designs import design_table, fit_design

    design, table = resolve_design(request)
    if table is None:
        table = design_table(design, catalog)
    return fit_design(design, table=table)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.10g}"


def fit_csv_row(design_fit: DesignFit) -> dict[str, Any]:
    """The fit as one flat CSV row: scalars as they are, per-variable lists as ``KEY_VARIABLE``."""
    record = design_fit.to_dict()
    variables = list(record.get("variables") or [])
    row: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, list | tuple):
            if variables and len(value) == len(variables) and key != "variables":
                row.update({f"{key}_{v}": item for v, item in zip(variables, value, strict=True)})
            else:
                row[key] = ";".join(str(item) for item in value)
        elif not isinstance(value, dict):
            row[key] = value
    return row


def render_fit(design_fit: DesignFit) -> str:
    """Human-readable summary of a fit (the ``--format table`` output)."""
    from fitting.approach1 import Approach1Fit
    from fitting.approach3 import Approach3Fit

    record = design_fit.to_dict()
    lines = [
        f"design      {record['design']}",
        f"law         {record['law']} (approach {record['approach']}"
        f"{', no embeddings' if not record['embeddings'] else ''})",
        f"points      {record['n_points']}",
        f"seconds     {record['seconds']:.2f}",
    ]
    fit = design_fit.fit
    if design_fit.family != "power_sum":
        from gemstones.scaling.families import render_family_fit

        lines[1] = f"law         {record['law']} (family {record['family']})"
        lines += render_family_fit(record)
    elif isinstance(fit, Approach3Fit):
        lines += [
            f"objective   {_fmt(fit.objective)}  (summed Huber, delta {fit.delta:g})",
            f"starts      {fit.n_starts} screened on the grid, {fit.n_polished} probed by the "
            f"local solver, {fit.n_converged} of the best polished to convergence",
            f"E           {_fmt(fit.E)}  (log_E = {_fmt(fit.irreducible_error)})",
            "",
            f"{'variable':<10} {'alpha':>14} {'a (log A)':>14} {'A':>14}",
        ]
        for name, alpha, a, big_a in zip(
            fit.variables, fit.exponents, fit.coefficients, fit.A, strict=True
        ):
            lines.append(f"{name:<10} {alpha:>14.8g} {a:>14.8g} {big_a:>14.6g}")
        lines.append(f"flags       {', '.join(fit.flags) if fit.flags else 'none'}")
    elif isinstance(fit, Approach1Fit):
        lines += [
            f"resource    {fit.resource_name} ({fit.method}: {fit.efficient.size} efficient points)",
            "",
            f"{'quantity':<17} {'slope':>12} {'± 95%':>10} {'intercept':>12}",
        ]
        for line in (fit.params, fit.tokens, fit.tokens_per_param):
            half = (line.slope_ci[1] - line.slope_ci[0]) / 2
            lines.append(
                f"{line.label:<17} {line.slope:>12.6f} {half:>10.4f} {line.intercept:>12.6f}"
            )
    return "\n".join(lines)


def _spinner(message: str) -> AbstractContextManager[object]:
    """A rich spinner on an interactive stderr; nothing (and no rich import) otherwise."""
    if not sys.stderr.isatty():
        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message)


@app.command("fit")
def fit_command(
    design: Annotated[
        str | None, typer.Option("--design", help="Built-in design name or a design .toml path.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Fit a CSV/parquet/JSONL table instead.")
    ] = None,
    x: Annotated[
        str | None, typer.Option("--x", help="With --data: comma-separated variable columns.")
    ] = None,
    y: Annotated[str | None, typer.Option("--y", help="With --data: the loss column.")] = None,
    run_column: Annotated[
        str | None,
        typer.Option(
            "--run-column",
            help="With --data: the column naming each point's run; the bootstrap then resamples "
            "runs (without it, points).",
        ),
    ] = None,
    law: Annotated[
        str | None,
        typer.Option(
            "--law", help="Override with a named power_sum law: " + " | ".join(NAMED_LAWS)
        ),
    ] = None,
    approach: Annotated[
        int | None,
        typer.Option(
            "--approach",
            help="Override: 1 (envelope) or 3 (parametric). Approach 1 on a set the paper does "
            "not fit with it (not an every-477-steps set) runs, with a note on stderr.",
        ),
    ] = None,
    delta: Annotated[
        float | None, typer.Option("--delta", help="Huber delta (paper: 1e-4).")
    ] = None,
    no_embeddings: Annotated[
        bool, typer.Option("--no-embeddings", help="Fit non-embedding parameter counts.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Results folder: writes <design>__<law>__approach<k>.json (fit, design, data hash, "
            "and the --budgets prescriptions) into it.",
        ),
    ] = None,
    output_format: FormatOption = TableFormat.table,
    budgets: Annotated[
        str | None,
        typer.Option(
            "--budgets",
            help="Prescriptions with --ci intervals at these FLOP budgets, e.g. 1e20,1e21,1e22.",
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Figures folder: PNG + PDF named <design>__<law>__approach<k>[__<resource>]"
            "__<figure> (loss_curves, residuals, bootstrap_pairs, frontier).",
        ),
    ] = None,
    resamples: Annotated[int, resamples_option()] = 1000,
    seed: Annotated[int, seed_option()] = 0,
    ci: Annotated[float, ci_option()] = DEFAULT_CI,
) -> None:
    """Fit a scaling law to a design's checkpoints (or to any table).

    With --budgets and --plot, the printed intervals and the plotted bands come from the same
    --resamples bootstrap refits.

    The solver runs on numpy for small fits (every two-variable law) and on JAX otherwise;
    GEMSTONES_FIT_ENGINE=auto|numpy|jax overrides the choice (same optimum either way).
    """
    from registry.atomic import check_output_dir

    from .budgets import parse_budgets
    from .output import dumps_json, echo_frame, echo_text

    check_bootstrap_options(resamples, seed, ci)
    budget_values = parse_budgets(budgets) if budgets is not None else None
    if out is not None:
        check_output_dir(out, "--out")
    if plot is not None:
        check_output_dir(plot, "--plot")

    request = FitRequest(
        design=design,
        data=data,
        x=x,
        y=y,
        law=law,
        approach=approach,
        delta=delta,
        no_embeddings=no_embeddings,
        run_column=run_column,
    )
    if design is not None:
        note = approach1_note(request, resolve_design(request)[0])
        if note is not None:
            echo_text(f"note: {note}", err=True)
    with _spinner("fitting ..."):
        design_fit = run_fit(request)
    if design_fit.family != "power_sum" and (budget_values is not None or plot is not None):
        raise _input_error(
            f"--budgets and --plot need a power_sum design; {design_fit.design.name!r} fits "
            f"the {design_fit.family} family"
        )
    bootstrap = _shared_bootstrap(design_fit, budget_values, plot, resamples, seed)
    prescriptions = None
    if budget_values is not None:
        from gemstones.scaling.prescribe import prescription_table

        prescriptions = prescription_table(design_fit, budget_values, bootstrap=bootstrap, level=ci)
    written = None
    if out is not None:
        from gemstones.scaling.results import write_result

        written = write_result(design_fit, out, prescriptions=prescriptions)
    if output_format is TableFormat.json:
        record = design_fit.to_dict()
        if written is not None:
            record["result_file"] = str(written)
        if prescriptions is not None:
            record["prescriptions"] = prescriptions.to_dicts()
        typer.echo(dumps_json(record))
    elif output_format is TableFormat.csv:
        import polars as pl

        echo_frame(
            prescriptions if prescriptions is not None else pl.DataFrame([fit_csv_row(design_fit)]),
            output_format,
        )
        if written is not None:
            typer.echo(f"wrote {written}", err=True)
    else:
        echo_text(render_fit(design_fit))
        if written is not None:
            typer.echo(f"wrote {written}")
        if prescriptions is not None:
            from gemstones.scaling.prescribe import format_prescriptions, warn_about_flags

            typer.echo("")
            warn_about_flags(design_fit)
            echo_text(format_prescriptions(prescriptions, getattr(bootstrap, "description", None)))
    if plot is not None:
        from gemstones.scaling.plots import write_design_plots

        paths = write_design_plots(
            design_fit, plot, bootstrap=bootstrap, n_resamples=0, level=ci, budgets=budget_values
        )
        for path in paths:
            typer.echo(f"wrote {path}", err=output_format is not TableFormat.table)


def _shared_bootstrap(
    design_fit: Any, budgets: list[float] | None, plot: Path | None, resamples: int, seed: int
) -> Any:
    """One bootstrap (approach 3) for both the printed intervals and the plotted bands, or None.

    Raises:
        GemstonesInputError: ``--resamples 0`` with ``--budgets`` on an approach-3 fit (its
            prescriptions are bootstrap intervals).
    """
    if design_fit.approach != 3 or (budgets is None and plot is None):
        return None
    if resamples == 0:
        if budgets is not None:
            raise _input_error(
                "--resamples 0: the --budgets prescriptions of an approach-3 fit are bootstrap "
                "intervals; give --resamples 1 to 100,000"
            )
        return None
    from rich.progress import Progress

    from gemstones.scaling.prescribe import bootstrap_design

    with Progress(transient=True) as progress:
        task = progress.add_task("bootstrap refits", total=resamples)
        return bootstrap_design(
            design_fit,
            n_resamples=resamples,
            seed=seed,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )


@designs_app.command("list")
def designs_list(output_format: FormatOption = TableFormat.table) -> None:
    """List the built-in designs."""
    import textwrap

    import polars as pl

    from gemstones.scaling.designs import list_designs, load_design

    from .output import echo_frame, terminal_width

    designs = [load_design(name) for name in list_designs()]
    if output_format is not TableFormat.table:
        rows = [
            {
                "name": d.name,
                "description": d.description,
                "law": d.law.name,
                "approach": d.law.approach,
            }
            for d in designs
        ]
        echo_frame(pl.DataFrame(rows), output_format)
        return
    pad = max(len(d.name) for d in designs) + 1
    width = terminal_width()
    for design in designs:
        line = f"{design.name:<{pad}} {design.description}"
        if width is None or len(line) <= width:
            typer.echo(line)
            continue
        indent = " " * min(pad + 1, max(width // 3, 4))
        first, *rest = textwrap.wrap(design.description, width=max(width - len(indent), 20))
        typer.echo(design.name if pad + 1 + len(first) > width else f"{design.name:<{pad}} {first}")
        lines = rest if pad + 1 + len(first) <= width else [first, *rest]
        for piece in textwrap.wrap(" ".join(lines), width=max(width - len(indent), 20)):
            typer.echo(indent + piece)


@designs_app.command("show")
def designs_show(
    name: str = typer.Argument(..., help="Design name or .toml path."),
    output_format: FormatOption = TableFormat.table,
) -> None:
    """Show a design's resolved settings (as TOML-like text, or JSON) and its file."""
    from gemstones.scaling.designs import load_design

    from .output import dumps_json, echo_record

    design = load_design(name)
    record = design.to_dict()
    if output_format is TableFormat.json:
        typer.echo(dumps_json(record))
        return
    if output_format is TableFormat.csv:
        flat = {"path": record.pop("path"), "name": record.pop("name"),
                "description": record.pop("description")}  # fmt: skip
        for section, values in record.items():
            flat.update({f"{section}.{key}": value for key, value in values.items()})
        echo_record(flat, output_format)
        return
    typer.echo(f"# {record.pop('path')}")
    typer.echo(f'name = "{record.pop("name")}"')
    typer.echo(f'description = "{record.pop("description")}"')
    for section, values in record.items():
        typer.echo(f"\n[{section}]")
        for key, value in values.items():
            if value is None:
                continue
            typer.echo(f"{key} = {json.dumps(list(value) if isinstance(value, tuple) else value)}")
