"""Figures of SlimAdam second-moment SNR: heatmaps of mean SNR per tensor and candidate axes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


#: Role of each axis of a 2-D weight: PyTorch ``Linear`` is (out, in), a flax ``Dense`` kernel (in, out).
AXIS_ROLES = {"torch": ("fan_out", "fan_in"), "flax": ("fan_in", "fan_out")}


def axes_label(axes: str, layout: str) -> str:
    """``"(0,)"`` -> ``"fan_out"`` (torch) or ``"fan_in"`` (flax); ``"(0, 1)"`` -> both, joined by +.

    Example:
        >>> axes_label("(1,)", "torch")
        'fan_in'
    """
    from fitting.snr import parse_axes

    roles = AXIS_ROLES[layout]
    return "+".join(roles[a] if a < len(roles) else f"axis{a}" for a in parse_axes(axes))


def heatmap_stem(source: str | Path, cutoff: float) -> str:
    """``<input stem>__cutoff<c>__snr_heatmap``: the heatmap's file name from its inputs."""
    name = Path(source).stem
    safe = "".join(ch if ch.isalnum() or ch in "-_+." else "_" for ch in name)
    return f"{safe}__cutoff{cutoff:g}__snr_heatmap"


def plot_heatmaps(
    frame: pl.DataFrame,
    folder: Path,
    cutoff: float = 1.0,
    max_runs: int = 24,
    *,
    layout: str = "flax",
    stem: str = "snr_heatmap",
) -> list[Path]:
    """Heatmaps of log10 mean SNR, tensors (rows) x candidate axes (columns), one panel per run.

        The diverging colour scale is centred (white) at the cutoff: red cells are compressible, blue are
        not, grey cells are not candidates. Columns are named by the role of the compressed axes of a
    2-D weight (``fan_in``, ``fan_out``, ``fan_out+fan_in``) in ``layout`` (``"torch"`` for the upstream
    CSV, ``"flax"`` for our sweeps); embeddings follow the same axis order (rows, d_model). Writes
    ``{stem}.png`` and ``{stem}.pdf`` into ``folder``.
    """
    import numpy as np
    import polars as pl
    from matplotlib.figure import Figure

    from fitting.snr import mean_snr_over_steps, parse_axes
    from registry.atomic import check_output_dir, savefig_atomic

    check_output_dir(folder, "--plot")
    means = mean_snr_over_steps(frame, by=("run",))
    runs = list(dict.fromkeys(means["run"].to_list()))[:max_runs]
    axes_order = sorted(
        set(means["axes"].to_list()), key=lambda a: (len(parse_axes(a)), parse_axes(a))
    )
    n_tensors = max(means.filter(pl.col("run") == r)["tensor"].n_unique() for r in runs)
    cols = min(4, len(runs))
    rows = math.ceil(len(runs) / cols)
    fig = Figure(figsize=(5.0 * cols + 1, max(3.0, 0.16 * n_tensors + 1.5) * rows))
    grid = fig.subplots(rows, cols, squeeze=False, gridspec_kw={"wspace": 1.0, "hspace": 0.35})
    centre = math.log10(cutoff) if cutoff > 0 else 0.0
    image = None
    for ax, run in zip(grid.flat, runs, strict=False):
        sub = means.filter(pl.col("run") == run)
        tensors = list(dict.fromkeys(sub["tensor"].to_list()))
        values = np.full((len(tensors), len(axes_order)), np.nan)
        for tensor, axes, value in sub.select("tensor", "axes", "snr").iter_rows():
            if value is not None and value > 0:
                values[tensors.index(tensor), axes_order.index(axes)] = math.log10(value)
        ax.set_facecolor("0.8")  # grey: not a candidate (vectors have one axis) or no finite SNR
        image = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=centre - 2, vmax=centre + 2)
        ax.set_xticks(
            range(len(axes_order)), [axes_label(a, layout) for a in axes_order], fontsize=7
        )
        ax.set_yticks(
            range(len(tensors)), tensors, fontsize=max(3, min(7, 400 // max(1, len(tensors))))
        )
        ax.set_title(str(run), fontsize=8)
        ax.set_xlabel("axes averaged over")
    for ax in list(grid.flat)[len(runs) :]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(
            image, ax=grid, shrink=0.6, label=f"log10 mean SNR (cutoff {cutoff:g} at centre)"
        )
    paths = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    for path in paths:
        savefig_atomic(fig, path, dpi=150, bbox_inches="tight")
    return paths
