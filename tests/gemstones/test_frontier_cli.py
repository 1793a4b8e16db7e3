"""``gemstones frontier``: table, CSV and JSON output, budgets with CIs, and clean input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gemstones.cli.frontier_cmds  # noqa: F401  (registers the command until the lead imports it)
from gemstones.cli import main
from gemstones.scaling.prescribe import prescription_table


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stop.value.code), out, err


def test_frontier_json_has_one_row_per_paper_bucket(capsys):
    code, out, _ = _run(
        capsys,
        "frontier",
        "--design",
        "hot",
        "--law",
        "width-depth-params-tokens",
        "--format",
        "json",
    )
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 13
    assert rows[0]["bucket_low"] == pytest.approx(1e18)
    params = np.array([r["params"] for r in rows])
    assert np.all(np.diff(params) > 0)
    for row in rows:
        assert row["bucket_low"] <= row["cost"] <= row["bucket_high"]
        assert row["tokens_per_param"] == pytest.approx(row["tokens"] / row["params"], rel=1e-6)


def test_frontier_budgets_csv(capsys):
    code, out, _ = _run(
        capsys, "frontier", "--design", "hot", "--budgets", "1e20,1e22", "--format", "csv"
    )
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("budget,width,depth")
    assert len(lines) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budgets", "1e20,abc"], "is not a number"),
        (["--budgets", "-5"], "positive"),
        (["--resource", "watts"], "valid: flops, gpu-hours"),
        (["--format", "xml"], "valid: table, csv, json"),
        (["--resamples", "-1"], "--resamples"),
    ],
)
def test_frontier_input_errors_exit_2(capsys, args, message):
    code, _, err = _run(capsys, "frontier", "--design", "hot", *args)
    assert code == 2
    assert err.startswith("error: ") and message in err


def test_unknown_design_exits_2(capsys):
    code, _, err = _run(capsys, "frontier", "--design", "no_such_design")
    assert code == 2 and "unknown design" in err


def test_prescription_table_with_cis_for_a_params_tokens_fit():
    from gemstones.scaling.designs import fit_design, load_design

    fitted = fit_design(load_design("hot"))
    table = prescription_table(fitted, [1e20, 1e21], n_resamples=32, seed=0)
    n_opt = table.filter(table["quantity"] == "N_opt")
    assert n_opt.height == 2
    assert (n_opt["lower"] <= n_opt["estimate"]).all() and (
        n_opt["estimate"] <= n_opt["upper"]
    ).all()
    assert set(table["method"].unique()) == {"bootstrap", "closed-form+bootstrap"}
    assert table["n_resamples"][0] == 32 and table["resampled_by"][0] == "runs"
