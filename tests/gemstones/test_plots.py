"""Figures of a fitted design are written as non-trivial PNG and PDF files."""

from __future__ import annotations

import numpy as np
import pytest

from gemstones.scaling import plots, prescribe
from gemstones.scaling.designs import fit_design, load_design


@pytest.fixture(scope="module")
def hot_fit():
    return fit_design(load_design("hot"))


@pytest.fixture(scope="module")
def hot_bootstrap(hot_fit):
    return prescribe.bootstrap_design(hot_fit, n_resamples=24, seed=0)


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_write_design_plots_writes_every_figure(hot_fit, hot_bootstrap, tmp_path):
    paths = plots.write_design_plots(hot_fit, tmp_path, bootstrap=hot_bootstrap)
    stems = sorted({p.stem for p in paths})
    assert stems == sorted(
        f"hot__params-tokens__approach3__{s}"
        for s in (
            "loss_curves",
            "residuals",
            "bootstrap_pairs",
            "flops__frontier",
            "gpu_hours__frontier",
        )
    )
    assert {p.suffix for p in paths} == {".png", ".pdf"}
    for path in paths:
        assert path.stat().st_size > 10_000, path
        if path.suffix == ".png":
            width, height = _png_size(path)
            assert width > 800 and height > 500
        else:
            assert path.read_bytes()[:5] == b"%PDF-"


def test_frontier_bands_bracket_the_estimate(hot_fit, hot_bootstrap):
    from fitting.frontier import paper_shape_grid

    grid = paper_shape_grid(width_stride=16, depths_per_width=100)
    bands = plots.frontier_bands(
        hot_bootstrap,
        prescribe.cost_function("flops"),
        prescribe.params_function(hot_fit.design),
        budgets=np.array([1e19, 1e21]),
        grid=grid,
    )
    for quantity in bands.QUANTITIES:
        assert np.all(bands.lower[quantity] <= bands.upper[quantity])
        assert bands.estimate[quantity].shape == (2,)


def test_approach1_design_gets_its_loss_curves(tmp_path):
    fitted = fit_design(load_design("hot_477").with_overrides(approach=1))
    paths = plots.write_design_plots(fitted, tmp_path)
    assert sorted(p.name for p in paths) == [
        "hot_477__params-tokens__approach1__loss_curves.pdf",
        "hot_477__params-tokens__approach1__loss_curves.png",
    ]


def test_frontier_figures_do_not_overwrite_the_fit_figures(hot_fit, hot_bootstrap, tmp_path):
    fit_paths = plots.write_design_plots(hot_fit, tmp_path, bootstrap=hot_bootstrap)
    other = fit_design(load_design("hot").with_overrides(law="width-depth-params-tokens"))
    frontier_paths = plots.write_design_plots(
        other, tmp_path, figures=("frontier",), resources=("gpu_hours",)
    )
    assert [p.name for p in frontier_paths] == [
        "hot__width-depth-params-tokens__approach3__gpu_hours__frontier.png",
        "hot__width-depth-params-tokens__approach3__gpu_hours__frontier.pdf",
    ]
    assert not set(fit_paths) & set(frontier_paths)
    assert all(p.exists() for p in fit_paths)


def test_22_shapes_get_distinct_styles_and_flops_axes_base10(hot_fit):
    from gemstones.scaling.designs import design_table

    table = design_table(load_design("hot_477"))
    styles = plots._shape_styles(table)
    assert len(styles) == 22
    assert len({(tuple(s["color"]), s["marker"]) for s in styles.values()}) == 22
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    ax.set_xscale("log")
    ax.plot([1e18, 1e22], [1, 2])
    plots._base10_ticks(ax.xaxis)
    ticks = [t for t in ax.xaxis.get_majorticklocs() if 1e18 <= t <= 1e22]
    assert ticks and all(abs(np.log10(t) - round(np.log10(t))) < 1e-9 for t in ticks)


def test_library_never_switches_the_matplotlib_backend():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for package in ("gemstones", "fitting", "registry")
        for path in (root / package).rglob("*.py")
        if "matplotlib.use(" in path.read_text(encoding="utf-8")
        or "pyplot.switch_backend" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
