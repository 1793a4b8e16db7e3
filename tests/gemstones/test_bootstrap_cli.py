"""``--resamples/--seed/--ci`` on ``fit``, ``frontier`` and ``ttc fit``: one vocabulary, one set of
bounds, and printed intervals and plotted bands from the same resamples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gemstones.cli import main

TTC_TABLE = Path(__file__).resolve().parent / "data_ttc" / "two_point_r1_r32.csv"


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stop.value.code), out, err


COMMANDS = {
    "fit": ["fit", "--design", "hot"],
    "frontier": ["frontier", "--design", "hot"],
    "ttc fit": ["ttc", "fit", str(TTC_TABLE)],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resamples", "100001"], "--resamples 100001 is out of range; valid: 0 (no bootstrap)"),
        (["--resamples", "-1"], "--resamples -1 is out of range"),
        (["--seed", "4294967296"], "--seed 4294967296 is out of range; valid: 0 to 4,294,967,295"),
        (["--seed", "-1"], "--seed -1 is out of range"),
        (["--ci", "1.5"], "--ci 1.5 is out of range; valid: strictly between 0 and 1"),
        (["--ci", "0"], "--ci 0.0 is out of range"),
    ],
)
def test_bootstrap_options_are_checked_alike_on_every_command(capsys, command, args, message):
    code, _, err = _run(capsys, *COMMANDS[command], *args)
    assert code == 2
    assert err.startswith("error: ") and message in err


def test_ttc_intervals_default_to_95_percent_and_follow_ci(capsys):
    code, out, _ = _run(
        capsys, "ttc", "fit", str(TTC_TABLE), "--format", "json", "--resamples", "6"
    )
    assert code == 0
    wide = {r["task"]: r for r in json.loads(out)}
    assert {r["ci_level"] for r in wide.values()} == {0.95}
    code, out, _ = _run(
        capsys,
        "ttc",
        "fit",
        str(TTC_TABLE),
        "--format",
        "json",
        "--resamples",
        "6",
        "--ci",
        "0.5",
    )
    narrow = {r["task"]: r for r in json.loads(out)}
    assert {r["ci_level"] for r in narrow.values()} == {0.5}
    for task, record in narrow.items():  # same seed, same replicates: a 50% interval lies inside
        lo, hi = record["ci"]["r95"]
        wide_lo, wide_hi = wide[task]["ci"]["r95"]
        assert wide_lo <= lo <= hi <= wide_hi


@pytest.mark.slow
def test_fit_data_without_a_run_column_says_it_resamples_points(capsys, tmp_path):
    params, tokens = (
        v.ravel() for v in np.meshgrid(np.geomspace(1e7, 1e9, 5), np.geomspace(1e9, 1e11, 6))
    )
    loss = 1.7 + 400 * params**-0.34 + 410 * tokens**-0.28
    loss *= np.exp(np.random.default_rng(0).normal(0, 0.002, loss.size))
    pl.DataFrame({"params": params, "tokens": tokens, "y": loss}).write_csv(tmp_path / "t.csv")
    code, out, _ = _run(
        capsys,
        "fit",
        "--data",
        str(tmp_path / "t.csv"),
        "--x",
        "params,tokens",
        "--y",
        "y",
        "--budgets",
        "1e20",
        "--resamples",
        "8",
    )
    assert code == 0
    assert "bootstrap: 8 resamples by points (30 points)" in out
    assert "by runs" not in out


class _Captured:
    """Stand-ins for the figure writers: record what they are given, write nothing."""

    def __init__(self) -> None:
        self.bands: list = []
        self.pairs: list = []

    def frontier(self, frontier, out_dir, *, bands=None, **_):
        self.bands.append(bands)
        return []

    def bootstrap_pairs(self, result, out_dir, **_):
        self.pairs.append(result)
        return []


@pytest.mark.slow
def test_plotted_bands_are_the_printed_intervals(capsys, tmp_path, monkeypatch):
    """``fit --budgets --plot``: the band at a printed budget is the printed interval, and the pair
    plot shows the same resamples (no hidden second bootstrap)."""
    from gemstones.scaling import plots

    captured = _Captured()
    monkeypatch.setattr(plots, "plot_frontier", captured.frontier)
    monkeypatch.setattr(plots, "plot_bootstrap_pairs", captured.bootstrap_pairs)
    monkeypatch.setattr(plots, "plot_loss_curves", lambda *a, **k: [])
    monkeypatch.setattr(plots, "plot_residuals", lambda *a, **k: [])
    code, out, _ = _run(
        capsys,
        "fit",
        "--design",
        "hot",
        "--law",
        "width-depth-params-tokens",
        "--budgets",
        "1e21",
        "--resamples",
        "12",
        "--seed",
        "3",
        "--ci",
        "0.9",
        "--plot",
        str(tmp_path),
        "--format",
        "json",
    )
    assert code == 0
    printed = {
        row["quantity"]: row
        for row in json.loads(out)["prescriptions"]
        if row["budget"] == pytest.approx(1e21)
    }
    assert printed["width"]["n_resamples"] == 12 and printed["width"]["level"] == 0.9
    (pairs,) = captured.pairs
    assert pairs.n_resamples == 12 and pairs.seed == 3
    bands = captured.bands[0]  # the FLOPs frontier
    assert bands.level == 0.9 and bands.n_resamples == 12
    (at,) = np.flatnonzero(np.isclose(bands.budgets, 1e21))
    for quantity in bands.QUANTITIES:
        assert bands.lower[quantity][at] == pytest.approx(printed[quantity]["lower"], rel=1e-12)
        assert bands.upper[quantity][at] == pytest.approx(printed[quantity]["upper"], rel=1e-12)
        assert bands.estimate[quantity][at] == pytest.approx(
            printed[quantity]["estimate"], rel=1e-12
        )
