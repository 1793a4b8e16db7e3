"""Plots of test-time-compute curves: measured points, fitted curves and chance lines per task.

matplotlib is imported inside the functions, so importing this module is cheap; the backend is the
user's (inline figures in Jupyter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fitting.ttc import TaskCurve


def _grid(count: int) -> tuple[int, int]:
    cols = min(4, count)
    return math.ceil(count / cols), cols


def draw_curves(curves: Sequence[TaskCurve], x: str = "r") -> Any:
    """A figure with one panel per curve: points, the AIC-chosen fit, chance line, r95 marker.

    Args:
        curves: fitted curves, all on the same axis ``x`` ("r", "flops" or "k", samples).
        x: the axis the curves were fitted on (labels only).

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    rows, cols = _grid(max(len(curves), 1))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    label = {"r": "recurrences r", "k": "samples k"}.get(x, "forward FLOPs per token")
    for ax, curve in zip(axes.flat, curves, strict=False):
        res = curve.result
        xs, ys = np.asarray(res.x), np.asarray(res.y)
        grid = np.geomspace(xs.min() / 1.5, xs.max() * 2.0, 200)
        ax.plot(xs, ys, "o", color="C0", label="measured")
        ax.plot(grid, res.fit.predict(grid), "-", color="C1", label=f"{res.fit.form} fit")
        if not math.isnan(res.fit.chance) and res.fit.form in ("sigmoid", "exponential"):
            ax.axhline(res.fit.chance, color="0.5", ls=":", lw=1, label="chance")
        if math.isfinite(res.r95) and res.r95 <= grid.max():
            ax.axvline(res.r95, color="C2", ls="--", lw=1, label=f"{x}95")
        ax.set_xscale("log", base=2)
        ax.set_xlabel(label)
        ax.set_ylabel(curve.metric)
        flag = " (still climbing)" if res.still_climbing else ""
        flag += " (overthinking)" if res.overthinking else ""
        flag += " (exact interpolant)" if "exact_interpolant" in res.warning_codes else ""
        ax.set_title(f"{curve.task}{flag}", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    if curves:
        axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def inputs_stem(paths: Sequence[Path]) -> str:
    """A figure stem from the inputs: the first file's or folder's name, ``_and_N_more`` for others.

    Example:
        >>> inputs_stem([Path("data/huginn-0125_table1.csv")])
        'huginn-0125_table1__ttc'
    """
    first = Path(paths[0]) if paths else Path("ttc")
    name = first.stem if first.suffix else first.name
    safe = "".join(ch if ch.isalnum() or ch in "-_+." else "_" for ch in name) or "ttc"
    more = f"_and_{len(paths) - 1}_more" if len(paths) > 1 else ""
    return f"{safe}{more}__ttc"


def plot_curves(
    curves: Sequence[TaskCurve], folder: Path, x: str = "r", stem: str = "ttc"
) -> list[Path]:
    """Save the curves as ``{stem}_{x}.png`` and ``{stem}_{x}.pdf`` in ``folder``, each atomically.

    Returns:
        The files written.
    """
    import matplotlib.pyplot as plt

    from registry.atomic import savefig_atomic

    fig = draw_curves(curves, x=x)
    written = []
    for suffix in ("png", "pdf"):
        path = folder / f"{stem}_{x}.{suffix}"
        savefig_atomic(fig, path, dpi=120)
        written.append(path)
    plt.close(fig)
    return written
