"""``gemstones fit`` and ``gemstones designs``: JSON keys, result files, exit codes."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from gemstones.cli import main

JSON_KEYS = {
    "objective",
    "exponents",
    "coefficients",
    "irreducible_error",
    "n_points",
    "law",
    "design",
    "seconds",
}


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def test_fit_hot_params_tokens_json_and_result_file(capsys, tmp_path):
    code, out, _ = _run(
        capsys,
        "fit",
        "--design",
        "hot",
        "--law",
        "params-tokens",
        "--delta",
        "1e-4",
        "--format",
        "json",
        "--out",
        str(tmp_path),
    )
    assert code == 0
    record = json.loads(out)
    assert set(record) >= JSON_KEYS
    assert record["objective"] <= 0.0002076018
    assert (
        record["n_points"] == 220 and record["design"] == "hot" and record["law"] == "params-tokens"
    )
    assert len(record["exponents"]) == 2
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == ["hot__params-tokens__approach3.json"]  # no temp files left
    saved = json.loads(files[0].read_text())
    assert saved["objective"] == record["objective"]
    assert saved["resolved_design"]["selection"]["every_steps"] == 2385
    assert saved["resolved_design"]["fit"]["delta"] == 1e-4
    assert len(saved["data_sha256"]) == 64
    import gemstones

    assert saved["gemstones_version"] == gemstones.__version__
    from gemstones.scaling.results import read_result

    assert read_result(files[0])["data_sha256"] == saved["data_sha256"]


def test_fit_approach1_table_output(capsys):
    code, out, _ = _run(capsys, "fit", "--design", "hot_477", "--approach", "1")
    assert code == 0
    assert "params" in out and "0.499380" in out and "0.480989" in out


def test_fit_no_embeddings_changes_the_data(capsys):
    code, out, _ = _run(
        capsys,
        "fit",
        "--design",
        "hot_477",
        "--approach",
        "1",
        "--no-embeddings",
        "--format",
        "json",
    )
    assert code == 0
    record = json.loads(out)
    assert record["embeddings"] is False
    assert abs(record["params"]["slope"] - 0.499380216082636) > 1e-3


def test_fit_user_table(capsys, tmp_path):
    x = np.geomspace(1e3, 1e7, 25)
    pl.DataFrame({"n": x, "y": 1.5 + 40 * x**-0.4}).write_csv(tmp_path / "t.csv")
    code, out, _ = _run(
        capsys, "fit", "--data", str(tmp_path / "t.csv"), "--x", "n", "--y", "y", "--format", "json"
    )
    assert code == 0
    record = json.loads(out)
    assert set(record) >= JSON_KEYS
    assert record["exponents"][0] == pytest.approx(0.4, abs=1e-3)
    assert record["n_points"] == 25 and record["law"] == "n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "--design", "hott"], "unknown design 'hott'"),
        (["fit", "--design", "hot", "--law", "chinchilla"], "unknown --law 'chinchilla'"),
        (["fit"], "give exactly one of --design"),
        (["fit", "--design", "hot", "--delta", "-1"], "--delta must be a positive, finite number"),
        (["fit", "--design", "hot", "--format", "xml"], "unknown --format 'xml'"),
    ],
)
def test_usage_errors_exit_2(capsys, args, message):
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert f"error: {message}" in err
    assert "Traceback" not in err and out == ""


def test_bad_user_tables_exit_2(capsys, tmp_path):
    pl.DataFrame({"n": [1.0, 2.0, -3.0, 4.0], "y": [2.0, 1.5, 1.2, 1.1]}).write_csv(
        tmp_path / "neg.csv"
    )
    code, _, err = _run(capsys, "fit", "--data", str(tmp_path / "neg.csv"), "--x", "n", "--y", "y")
    assert code == 2 and "n must be positive" in err and "row(s) 2" in err
    code, _, err = _run(capsys, "fit", "--data", str(tmp_path / "neg.csv"), "--x", "m", "--y", "y")
    assert code == 2 and "column 'm' is not in neg.csv" in err
    code, _, err = _run(
        capsys, "fit", "--data", str(tmp_path / "missing.csv"), "--x", "n", "--y", "y"
    )
    assert code == 2 and "does not exist" in err


def test_empty_selection_exits_2(capsys, tmp_path):
    design = tmp_path / "empty.toml"
    design.write_text('name = "empty"\n[selection]\nvariant = "main"\nmax_step = 10\n')
    code, _, err = _run(capsys, "fit", "--design", str(design))
    assert code == 2 and "selects no rows" in err
    design.write_text('name = "bad"\n[selection]\nvariantt = "main"\n')
    code, _, err = _run(capsys, "fit", "--design", str(design))
    assert code == 2 and "unknown key 'variantt' in [selection]; valid keys:" in err


def test_designs_list_and_show(capsys):
    code, out, _ = _run(capsys, "designs", "list")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert "hot" in names and "cool_begin" in names and len(names) >= 13
    code, out, _ = _run(capsys, "designs", "show", "lr_ablation_hot")
    assert code == 0
    assert 'variant = "lr_ablation"' in out and "include_final = true" in out
    code, _, err = _run(capsys, "designs", "show", "nope")
    assert code == 2 and "unknown design 'nope'" in err
