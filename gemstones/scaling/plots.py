"""The figures of a scaling-law study, as matplotlib PNG + PDF files.

- ``plot_loss_curves``: loss against FLOPs and against GPU hours, one line per shape, the lower
  convex hull of the checkpoints, and the fitted law along every shape's run.
- ``plot_frontier``: the compute-optimal frontier panels (width/depth, tokens/param, params,
  tokens, width, depth against FLOPs), bootstrap CI bands, and the Chinchilla ~20 tokens/param line.
- ``plot_bootstrap_pairs``: a pair plot of the bootstrap parameter samples.
- ``plot_residuals``: log residuals of the fit against tokens, one panel per shape.
- ``write_design_plots``: all of the above for a fitted design, into one folder.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no backend switch, no display
needed) and written through ``registry.atomic.savefig_atomic``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fitting.approach1 import Approach1Fit
from fitting.approach3 import Approach3Fit
from fitting.bootstrap import FrontierBands
from registry.atomic import check_output_dir, savefig_atomic

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

    from fitting.bootstrap import BootstrapResult
    from fitting.frontier import Frontier
    from gemstones.scaling.designs import DesignFit
    from gemstones.scaling.prescribe import TimeModel

CHINCHILLA_TOKENS_PER_PARAM = 20.0
"""Hoffmann et al. (2022): about 20 training tokens per parameter is compute-optimal."""

FORMATS = ("png", "pdf")


def _subplots(
    rows: int, cols: int, figsize: tuple[float, float], **options: Any
) -> tuple[Any, Any]:
    """A new figure (no pyplot state, no backend switch) and its grid of axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, **options)


def _save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    """Write ``fig`` as PNG and PDF into ``out_dir``, each file atomically."""
    check_output_dir(out_dir, "--plot")
    paths = []
    for fmt in FORMATS:
        path = out_dir / f"{stem}.{fmt}"
        savefig_atomic(fig, path, dpi=150 if fmt == "png" else None, bbox_inches="tight")
        paths.append(path)
    return paths


#: Markers by depth (the suite has 22 shapes over 11 widths and depths: colour alone repeats).
_DEPTH_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">", "p", "h", "*", "d", "H", "8")


def _shape_styles(table: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Colour by width (viridis, narrow dark, wide light) and marker by depth, per shape label.

    Every one of the suite's 22 shapes gets a distinct (colour, marker) pair.
    """
    from matplotlib import colormaps

    pairs = sorted({(int(w), int(d)) for w, d in table.select("width", "depth").iter_rows()})
    widths = sorted({w for w, _ in pairs})
    depths = sorted({d for _, d in pairs})
    cmap = colormaps["viridis"]
    span = max(len(widths) - 1, 1)
    return {
        f"{w}x{d}": {
            "color": cmap(0.9 * widths.index(w) / span),
            "marker": _DEPTH_MARKERS[depths.index(d) % len(_DEPTH_MARKERS)],
        }
        for w, d in pairs
    }


def _base10_ticks(axis: Axis) -> None:
    """Major ticks at powers of ten labelled 10^k (FLOPs axes), unlabelled minor ticks."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, numticks=30))
    axis.set_major_formatter(LogFormatterSciNotation(base=10))
    axis.set_minor_locator(LogLocator(base=10, subs=[i / 10 for i in range(2, 10)], numticks=30))
    axis.set_minor_formatter(NullFormatter())


def _shapes_by_size(table: pl.DataFrame) -> list[str]:
    import polars as pl

    ordered = (
        table.with_columns(
            shape=pl.col("width").cast(pl.Int64).cast(pl.Utf8)
            + "x"
            + pl.col("depth").cast(pl.Int64).cast(pl.Utf8)
        )
        .group_by("shape")
        .agg(pl.col("params").max())
        .sort("params")
    )
    return ordered["shape"].to_list()


def _with_shape(table: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    return table.with_columns(
        shape=pl.col("width").cast(pl.Int64).cast(pl.Utf8)
        + "x"
        + pl.col("depth").cast(pl.Int64).cast(pl.Utf8)
    )


def plot_loss_curves(
    table: pl.DataFrame,
    out_dir: str | Path,
    *,
    fit: Approach3Fit | None = None,
    title: str = "",
    stem: str = "loss_curves",
) -> list[Path]:
    """Loss against FLOPs (left) and GPU hours (right), per shape, with the hull and the law.

    Args:
        table: the design's fit table (width, depth, params, tokens, flops, gpu_hours, loss).
        out_dir: folder for ``{stem}.png`` and ``{stem}.pdf``.
        fit: an ``Approach3Fit`` whose law is drawn along every shape's run (dashed), or None.
        title: figure title (e.g. the design name).
        stem: file name without suffix.

    Returns:
        The written paths.
    """
    import polars as pl

    from fitting.approach1 import lower_convex_hull

    table = _with_shape(table)
    shapes = _shapes_by_size(table)
    styles = _shape_styles(table)
    colours = {shape: style["color"] for shape, style in styles.items()}
    resources = [
        (c, label)
        for c, label in (("flops", "Training FLOPs"), ("gpu_hours", "GPU hours (MI250X)"))
        if c in table.columns and table[c].is_not_null().all()
    ]
    fig, axes = _subplots(
        1, len(resources), figsize=(6.5 * len(resources), 5.2), sharey=True, squeeze=False
    )
    for ax, (column, label) in zip(axes[0], resources, strict=True):
        for shape in shapes:
            run = table.filter(pl.col("shape") == shape).sort("tokens")
            ax.plot(
                run[column],
                run["loss"],
                "-",
                marker=styles[shape]["marker"],
                ms=3.5,
                lw=1.2,
                color=colours[shape],
                label=shape,
            )
            if fit is not None and all(v in run.columns for v in fit.variables):
                dense = _dense_run(run, fit.variables, column)
                ax.plot(
                    dense[column],
                    fit.predict(dense["x"]),
                    "--",
                    lw=0.9,
                    color=colours[shape],
                    alpha=0.9,
                )
        hull = lower_convex_hull(np.log(table[column].to_numpy()), np.log(table["loss"].to_numpy()))
        ax.plot(
            table[column].to_numpy()[hull],
            table["loss"].to_numpy()[hull],
            "k:",
            lw=1.6,
            label="convex hull",
        )
        ax.scatter(
            table[column].to_numpy()[hull],
            table["loss"].to_numpy()[hull],
            marker="x",
            color="black",
            s=30,
            zorder=3,
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
        if column == "flops":
            _base10_ticks(ax.xaxis)
        ax.set_xlabel(label)
        ax.grid(True, which="major", ls="--", lw=0.5, alpha=0.6)
    axes[0, 0].set_ylabel("Validation loss (Dolma, nats/token)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if fit is not None:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], ls="--", color="grey"))
        labels.append("fitted law")
    fig.legend(
        handles,
        labels,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=8,
        title="shape (w x d):\ncolour = width,\nmarker = depth",
        frameon=False,
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, Path(out_dir), stem)


def _plain_log_ticks(axis: Axis) -> None:
    """Plain decimal ticks (2.6, 2.8, ...) on a narrow log axis instead of 2.6x10^0 labels."""
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    low, high = axis.get_view_interval()
    step = max(round((high - low) / 6, 1), 0.1)
    ticks = np.arange(np.ceil(low / step) * step, high + 1e-9, step)
    axis.set_major_locator(FixedLocator(ticks.tolist()))
    axis.set_major_formatter(FormatStrFormatter("%.1f"))
    axis.set_minor_formatter(NullFormatter())


def _readable_log_ticks(axis: Axis) -> None:
    """On a log axis spanning less than ~1.5 decades, label 1-2-3-5 steps in plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = axis.get_view_interval()
    if low > 0 and high / low < 30:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _dense_run(run: Any, variables: Sequence[str], column: str) -> dict[str, np.ndarray]:
    """Points along one run's tokens (log-spaced, 60), with its other variables held fixed."""
    tokens = run["tokens"].to_numpy()
    dense_tokens = np.geomspace(tokens.min(), tokens.max(), 60)
    scale = dense_tokens / tokens.max()
    x = np.column_stack(
        [dense_tokens if v == "tokens" else np.full(60, float(run[v][0])) for v in variables]
    )
    # Both resources are proportional to tokens within a run.
    resource = float(run[column].max()) * scale
    return {"x": x, column: resource}


def plot_frontier(
    frontier: Frontier,
    out_dir: str | Path,
    *,
    bands: FrontierBands | None = None,
    data_max: float | None = None,
    shape_panels: bool = True,
    title: str = "",
    stem: str = "frontier",
) -> list[Path]:
    """Frontier panels against the resource: width/depth, tokens/param, params, tokens, width, depth.

    A params–tokens law does not see the shape, so its "optimal" width and depth only reflect
    which shapes give the most parameters per FLOP; pass ``shape_panels=False`` to show just
    tokens/param, params and tokens (as the paper does for that law).

    Args:
        frontier: a ``fitting.frontier.Frontier`` (markers at each bucket's optimum).
        out_dir: output folder.
        bands: optional ``FrontierBands`` (bootstrap percentiles at budgets) drawn as shaded CIs.
        data_max: the largest fitted checkpoint's cost; beyond it the frontier is extrapolation.
        shape_panels: include the width/depth, width and depth panels.
        title: figure title.
        stem: file name without suffix.
    """
    resource = frontier.resource
    unit = "FLOPs" if resource == "FLOPs" else resource
    panels = [
        ("width_depth_ratio", "Width / depth"),
        ("tokens_per_param", "Tokens per parameter"),
        ("params", "Parameters"),
        ("tokens", "Tokens"),
        ("width", "Width (model dim)"),
        ("depth", "Depth (layers)"),
    ]
    if shape_panels:
        fig, axes = _subplots(3, 2, figsize=(11, 11), sharex=True)
        legend_axis = axes[0, 1]
    else:
        panels = panels[1:4]
        fig, axes = _subplots(1, 3, figsize=(15, 4.8), sharex=True, squeeze=False)
        legend_axis = axes[0, 0]
    x = frontier.cost
    for ax, (name, label) in zip(axes.flat, panels, strict=True):
        values = getattr(frontier, name)
        if bands is not None:
            lower, upper = bands.lower[name], bands.upper[name]
            ax.fill_between(
                bands.budgets,
                lower,
                upper,
                color="tab:red",
                alpha=0.18,
                lw=0,
                label=f"{bands.level:.0%} bootstrap CI, {bands.n_resamples} resamples "
                f"{bands.description or 'by ' + bands.by}",
            )
            ax.plot(
                bands.budgets,
                bands.estimate[name],
                "-",
                color="tab:red",
                lw=1.0,
                alpha=0.7,
                label="optimum at exact budget",
            )
        ax.plot(x, values, "o", color="tab:red", ms=5, label="frontier (per bucket)")
        if data_max is not None:
            ax.axvline(data_max, color="grey", ls=":", lw=1.2, label="largest fitted checkpoint")
        if name == "tokens_per_param":
            ax.axhline(
                CHINCHILLA_TOKENS_PER_PARAM,
                color="black",
                ls="--",
                lw=1.0,
                label="Chinchilla (~20 tokens/param)",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        if resource == "FLOPs":
            _base10_ticks(ax.xaxis)
        _readable_log_ticks(ax.yaxis)
        ax.set_ylabel(label)
        ax.grid(True, which="major", ls="--", lw=0.5, alpha=0.6)
    for ax in axes[-1]:
        ax.set_xlabel(f"Training budget ({unit})")
    handles, labels = legend_axis.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        bbox_to_anchor=(0.5, -0.01),
        ncol=3,
        frameon=False,
        fontsize=9,
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.04 if shape_panels else 0.1, 1, 1))
    return _save(fig, Path(out_dir), stem)


def plot_bootstrap_pairs(
    result: BootstrapResult, out_dir: str | Path, *, title: str = "", stem: str = "bootstrap_pairs"
) -> list[Path]:
    """Pair plot of bootstrap parameter samples: histograms on the diagonal, scatter below.

    The point estimate is marked in red; labels are the paper's parameter names.
    """
    thetas = result.thetas[result.usable]
    from fitting.laws import POWER_SUM

    names = list(POWER_SUM.parameter_labels(result.variables))
    p = thetas.shape[1]
    size = min(2.0 * p, 16.0)
    # Axes span the bulk of each parameter (quartiles +- 3 IQR, and the estimate), so rare
    # outlying refits do not squash the distribution into one pixel column.
    q1, q3 = np.quantile(thetas, [0.25, 0.75], axis=0)
    spread = np.maximum(q3 - q1, 1e-12)
    low = np.minimum(np.maximum(thetas.min(axis=0), q1 - 3 * spread), result.theta_hat)
    high = np.maximum(np.minimum(thetas.max(axis=0), q3 + 3 * spread), result.theta_hat)
    pad = 0.05 * np.maximum(high - low, 1e-12)
    limits = np.stack([low - pad, high + pad], axis=1)
    fig, axes = _subplots(p, p, figsize=(size, size), squeeze=False)
    for i in range(p):
        for j in range(p):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            if i == j:
                inside = (thetas[:, i] >= limits[i, 0]) & (thetas[:, i] <= limits[i, 1])
                ax.hist(
                    thetas[inside, i], bins=30, range=tuple(limits[i]), color="tab:blue", alpha=0.8
                )
                ax.set_xlim(*limits[i])
                ax.axvline(result.theta_hat[i], color="tab:red", lw=1.2)
                ax.set_yticks([])
            else:
                ax.scatter(thetas[:, j], thetas[:, i], s=3, alpha=0.35, color="tab:blue", lw=0)
                ax.scatter(
                    [result.theta_hat[j]], [result.theta_hat[i]], s=25, color="tab:red", marker="x"
                )
                ax.set_xlim(*limits[j])
                ax.set_ylim(*limits[i])
            if i == p - 1:
                ax.set_xlabel(names[j])
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
            elif j > 0:
                ax.set_yticklabels([])
            ax.tick_params(labelsize=7)
    heading = (
        f"Bootstrap of the fit: {result.n_resamples} resamples by {result.by} "
        "(red: estimate; axes: quartiles ± 3 IQR)"
    )
    fig.suptitle(f"{title}\n{heading}" if title else heading)
    fig.tight_layout()
    return _save(fig, Path(out_dir), stem)


def plot_residuals(
    table: pl.DataFrame,
    fit: Approach3Fit,
    out_dir: str | Path,
    *,
    title: str = "",
    stem: str = "residuals",
) -> list[Path]:
    """Log residuals log L - log L_hat against tokens, one small panel per shape (shared axes)."""
    import polars as pl

    table = _with_shape(table)
    shapes = _shapes_by_size(table)
    n = len(shapes)
    cols = min(6, n)
    rows = int(np.ceil(n / cols))
    fig, axes = _subplots(
        rows, cols, figsize=(2.3 * cols, 1.9 * rows + 0.6), sharex=True, sharey=True, squeeze=False
    )
    x_all = table.select(list(fit.variables)).to_numpy().astype(np.float64)
    residual_all = np.log(table["loss"].to_numpy()) - np.log(fit.predict(x_all))
    table = table.with_columns(residual=pl.Series(residual_all))
    limit = float(np.max(np.abs(residual_all))) * 1.1
    for ax, shape in zip(axes.flat, shapes, strict=False):
        run = table.filter(pl.col("shape") == shape).sort("tokens")
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.plot(run["tokens"], run["residual"], "o-", ms=2.5, lw=1.0, color="tab:blue")
        ax.set_title(shape, fontsize=8, pad=2)
        ax.set_xscale("log")
        ax.set_ylim(-limit, limit)
        ax.tick_params(labelsize=7)
        ax.grid(True, ls="--", lw=0.4, alpha=0.6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.supxlabel("Tokens")
    fig.supylabel("log L − log L̂")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, Path(out_dir), stem)


def frontier_bands(
    result: BootstrapResult,
    cost_per_token: Any,
    params_fn: Any,
    *,
    budgets: np.ndarray | None = None,
    level: float = 0.95,
    grid: Any | None = None,
) -> FrontierBands:
    """Bootstrap bands of the optimum at ``budgets`` (default: 17 spanning the paper's 1e18..1e26
    FLOPs), from the resamples of ``result`` (``fitting.bootstrap.frontier_bands``): at any budget
    the band's ends are the interval ``prescription_table`` prints for the same result and level."""
    from fitting.bootstrap import frontier_bands as bands_of

    budgets = band_budgets() if budgets is None else np.asarray(budgets, float)
    return bands_of(result, budgets, cost_per_token, params_fn, level=level, grid=grid)


def band_budgets(extra: Sequence[float] | None = None) -> np.ndarray:
    """The budgets of a frontier band: 17 from 1e18 to 1e26 FLOPs, plus ``extra`` (sorted)."""
    base = np.geomspace(1e18, 1e26, 17)
    if not extra:
        return base
    return np.unique(np.concatenate([base, np.asarray(extra, dtype=np.float64)]))


def _column_max(table: pl.DataFrame, column: str) -> float:
    """The largest value of a numeric column of a polars table."""
    return float(cast("float", table.get_column(column).max()))


#: The figures of a fitted design, by name (``write_design_plots(figures=...)``).
DESIGN_FIGURES = ("loss_curves", "residuals", "bootstrap_pairs", "frontier")
#: The resources a frontier figure can be drawn against.
FRONTIER_RESOURCES = ("flops", "gpu_hours")


def figure_stem(fitted: DesignFit, figure: str, resource: str | None = None) -> str:
    """File name (no suffix) of one figure of a fit: design, law, approach, resource, figure.

    The same stem as the fit's result file, so figures from ``fit --plot`` and ``frontier --plot``
    of different designs, laws or resources never overwrite each other.

    Example:
        >>> figure_stem(hot_fit, "frontier", "flops")  # doctest: +SKIP
        'hot__params-tokens__approach3__flops__frontier'
    """
    from gemstones.scaling.results import result_stem

    return "__".join([result_stem(fitted), *([resource] if resource else []), figure])


def write_design_plots(
    fitted: DesignFit,
    out_dir: str | Path,
    *,
    bootstrap: BootstrapResult | None = None,
    n_resamples: int = 200,
    seed: int = 0,
    time_model: TimeModel | None = None,
    level: float = 0.95,
    budgets: Sequence[float] | None = None,
    figures: Sequence[str] = DESIGN_FIGURES,
    resources: Sequence[str] = FRONTIER_RESOURCES,
) -> list[Path]:
    """The figures of a fitted design into ``out_dir`` (the ``--plot DIR`` hook).

    Approach 3: loss curves with the law, residuals, bootstrap pair plot, FLOP frontier with CI
    bands, and the GPU-hour frontier. Approach 1: loss curves with the hull. Files are named by
    :func:`figure_stem`, e.g. ``hot__params-tokens__approach3__flops__frontier.png``.

    Args:
        fitted: a ``gemstones.scaling.designs.DesignFit``.
        out_dir: output folder (created).
        bootstrap: a precomputed ``BootstrapResult``: pass the one whose intervals were printed,
            so the figures show the same resamples (else ``n_resamples`` refits with ``seed``;
            with none and ``n_resamples=0`` the pair plot and the frontier bands are left out).
        time_model: for the GPU-hour frontier (default: fitted from the catalog).
        level: the bands' central coverage (the printed intervals' level).
        budgets: printed budgets (FLOPs) to add to the band's budgets, so the band passes through
            the printed intervals exactly.
        figures: which of :data:`DESIGN_FIGURES` to draw.
        resources: which of :data:`FRONTIER_RESOURCES` the frontier figure is drawn against.

    Returns:
        The written paths (PNG and PDF of each figure).
    """
    from gemstones.scaling import prescribe

    out = Path(out_dir)
    name = fitted.design.name
    law = fitted.design.law.name
    paths: list[Path] = []
    law_fit = fitted.fit if isinstance(fitted.fit, Approach3Fit) else None
    envelope = fitted.fit if isinstance(fitted.fit, Approach1Fit) else None
    title = (
        f"{name} — approach 1 ({envelope.method} on {envelope.resource_name})"
        if envelope is not None
        else f"{name} — {law} (approach 3)"
    )
    shape_aware = (
        bool({"width", "depth"} & set(law_fit.variables)) if law_fit is not None else False
    )
    if "loss_curves" in figures:
        paths += plot_loss_curves(
            fitted.table,
            out,
            fit=law_fit,
            title=title,
            stem=figure_stem(fitted, "loss_curves"),
        )
    if law_fit is None:
        return paths
    if "residuals" in figures:
        paths += plot_residuals(
            fitted.table, law_fit, out, title=title, stem=figure_stem(fitted, "residuals")
        )
    needs_bootstrap = "bootstrap_pairs" in figures or (
        "frontier" in figures and "flops" in resources
    )
    if bootstrap is None and needs_bootstrap and n_resamples > 0:
        bootstrap = prescribe.bootstrap_design(fitted, n_resamples=n_resamples, seed=seed)
    if bootstrap is not None and "bootstrap_pairs" in figures:
        paths += plot_bootstrap_pairs(
            bootstrap, out, title=title, stem=figure_stem(fitted, "bootstrap_pairs")
        )
    if "frontier" not in figures:
        return paths
    if "flops" in resources:
        bands = None
        if bootstrap is not None:
            bands = frontier_bands(
                bootstrap,
                prescribe.cost_function("flops"),
                prescribe.params_function(fitted.design),
                budgets=band_budgets(budgets),
                level=level,
            )
        frontier = prescribe.design_frontier(fitted)
        flops_max = _column_max(fitted.table, "flops") if "flops" in fitted.table.columns else None
        paths += plot_frontier(
            frontier,
            out,
            bands=bands,
            data_max=flops_max,
            shape_panels=shape_aware,
            title=title,
            stem=figure_stem(fitted, "frontier", "flops"),
        )
    if "gpu_hours" in resources and "gpu_hours" in fitted.table.columns:
        model = time_model if time_model is not None else prescribe.time_model_from_catalog()
        frontier_t = prescribe.design_frontier(fitted, resource="gpu_hours", time_model=model)
        paths += plot_frontier(
            frontier_t,
            out,
            data_max=_column_max(fitted.table, "gpu_hours"),
            shape_panels=shape_aware,
            title=f"{title}\ntime-optimal (fitted time model)",
            stem=figure_stem(fitted, "frontier", "gpu_hours"),
        )
    return paths
