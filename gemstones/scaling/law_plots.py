"""Figures of the law families: IsoFLOP profiles, loss-to-loss, two-step downstream, validation
and profile-likelihood curves. Each returns a ``matplotlib.figure.Figure`` (no pyplot state, no
backend switch) and, given ``out_dir``, writes PNG and PDF atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gemstones.scaling.plots import _save, _subplots

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _maybe_save(fig: Figure, out_dir: str | Path | None, stem: str) -> list[Path]:
    return [] if out_dir is None else _save(fig, Path(out_dir), stem)


def plot_isoflop(boot: Any, out_dir: str | Path | None = None, stem: str = "isoflop") -> Figure:
    """N*(C) per budget with the fitted line and the bootstrap interval of its exponent."""
    fit = boot.fit
    fig, ax = _subplots(1, 1, (5.5, 4))
    ax.loglog(fit.budgets, fit.optimal_params, "o", label="parabola minimum per budget")
    c = np.geomspace(fit.budgets.min(), fit.budgets.max(), 50)
    lo, hi = boot.params_exponent_ci
    ax.loglog(
        c,
        fit.optimal_params_at(c),
        "-",
        label=f"N* ∝ C^{fit.params_exponent:.3f} [{lo:.3f}, {hi:.3f}]",
    )
    ax.set_xlabel("training FLOPs C")
    ax.set_ylabel("loss-optimal parameters N*")
    ax.set_title("Approach 2 (IsoFLOP)")
    ax.legend(fontsize=8)
    _maybe_save(fig, out_dir, stem)
    return fig


def plot_xy_fit(
    x: np.ndarray,
    y: np.ndarray,
    curve_x: np.ndarray,
    curve_y: np.ndarray,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    highlight: np.ndarray | None = None,
    out_dir: str | Path | None = None,
    stem: str = "law",
) -> Figure:
    """Data (held-out points highlighted) and a fitted curve."""
    fig, ax = _subplots(1, 1, (5.5, 4))
    mask = np.zeros(len(x), bool) if highlight is None else np.asarray(highlight, bool)
    ax.plot(x[~mask], y[~mask], ".", alpha=0.5, label="fitted points")
    if mask.any():
        ax.plot(x[mask], y[mask], "x", color="C3", label="held out")
    ax.plot(curve_x, curve_y, "-", color="k", label="law")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    _maybe_save(fig, out_dir, stem)
    return fig


def plot_predicted_vs_observed(
    predicted: np.ndarray,
    observed: np.ndarray,
    *,
    label: str,
    title: str,
    out_dir: str | Path | None = None,
    stem: str = "validation",
) -> Figure:
    """Predicted against observed held-out values, with the identity line."""
    fig, ax = _subplots(1, 1, (4.5, 4.5))
    ax.plot(observed, predicted, "o", alpha=0.6)
    both = np.concatenate([np.asarray(predicted), np.asarray(observed)])
    ax.plot([both.min(), both.max()], [both.min(), both.max()], "k--", lw=1)
    ax.set_xlabel(f"observed {label}")
    ax.set_ylabel(f"predicted {label}")
    ax.set_title(title)
    _maybe_save(fig, out_dir, stem)
    return fig


def plot_validation_errors(
    records: Sequence[dict[str, Any]], out_dir: str | Path | None = None, stem: str = "validation"
) -> Figure:
    """Mean error per fold (relative loss error in %, or accuracy points), one bar per fold."""
    fig, ax = _subplots(1, 1, (6.5, 3.5))
    labels, values = [], []
    for r in records:
        if "error" in r:
            continue
        value = r.get("mean_rel_error")
        values.append(100 * value if value is not None else r["mae"])
        labels.append(f"{r['design']}/{r['law']}\n{r['fold']}")
    ax.bar(range(len(values)), values)
    ax.set_xticks(range(len(values)), labels, rotation=60, ha="right", fontsize=6)
    ax.set_ylabel("mean |error| (% of loss, or accuracy points)")
    ax.set_title("Extrapolation error of held-out larger models")
    _maybe_save(fig, out_dir, stem)
    return fig


def plot_profile(
    profile: Any,
    out_dir: str | Path | None = None,
    stem: str = "profile",
    marks: dict | None = None,
) -> Figure:
    """The profile of the objective along one parameter, with the interval's threshold."""
    fig, ax = _subplots(1, 1, (5.5, 4))
    ax.plot(profile.values, profile.objectives / profile.best_objective, "-o", ms=3)
    ax.axhline(profile.threshold_ratio, color="C3", ls="--", label=f"{profile.level:.0%} threshold")
    for name, value in (marks or {}).items():
        ax.axvline(value, color="k", ls=":", lw=1)
        ax.text(value, ax.get_ylim()[1], name, rotation=90, va="top", fontsize=7)
    ax.set_xlabel(profile.parameter)
    ax.set_ylabel("objective / best objective")
    ax.set_title(f"Profile of {profile.parameter}")
    ax.legend(fontsize=8)
    _maybe_save(fig, out_dir, stem)
    return fig
