"""``gemstones snr rules|report|sweep``: outputs on the upstream data, and exit code 2 on bad input."""

from __future__ import annotations

import json

import polars as pl
import pytest

from gemstones.cli import main
from registry.embedded import embedded_path

REFERENCE = embedded_path("upstream", "slimadam")
SNR_CSV = REFERENCE / "snr_data" / "gpt2-small_fineweb-edu_adam_lr3e-4_T5000.csv"
RULES_JSON = REFERENCE / "rules" / "slimadam_C1.0_rules_from_lr3e-4.json"
RESULTS_CSV = sorted((REFERENCE / "results").glob("*.csv"))[0]  # a loss table: wrong columns


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    return int(stop.value.code or 0)


def test_rules_reproduce_the_reference_file(tmp_path, capsys) -> None:
    folder = tmp_path / "rules"
    out = folder / f"{SNR_CSV.stem}__cutoff1__rules.json"
    code = run(
        [
            "snr",
            "rules",
            "--csv",
            str(SNR_CSV),
            "--cutoff",
            "1.0",
            "--out",
            str(folder),
            "--reference",
            str(RULES_JSON),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert out.read_text() == RULES_JSON.read_text()
    assert "tensors: 99, compressed: 73" in text
    assert "saved 99.40%" in text
    assert "differences from slimadam_C1.0_rules_from_lr3e-4.json: 0" in text


def test_rules_print_json_without_out_and_a_higher_cutoff_compresses_less(capsys) -> None:
    assert run(["snr", "rules", "--csv", str(SNR_CSV), "--cutoff", "5"]) == 0
    captured = capsys.readouterr()
    rules = json.loads(captured.out)
    assert len(rules) == 99
    assert sum(r is not None for r in rules.values()) < 73
    assert "saved" in captured.err


def test_report_prints_saving_and_layer_table_and_plots(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # xdist workers set COLUMNS=80; show the whole table
    assert run(["snr", "report", str(SNR_CSV), "--plot", str(tmp_path / "plots")]) == 0
    text = capsys.readouterr().out
    assert "saved 99.40%" in text
    assert "attention_query" in text and "mlp_down" in text and "fan_out" in text
    stem = f"{SNR_CSV.stem}__cutoff1__snr_heatmap"
    assert (tmp_path / "plots" / f"{stem}.png").stat().st_size > 10_000
    assert (tmp_path / "plots" / f"{stem}.pdf").stat().st_size > 1_000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["snr", "rules", "--csv", "missing.csv"], "SNR CSV 'missing.csv' does not exist"),
        (["snr", "rules", "--csv", str(SNR_CSV), "--cutoff", "-1"], "--cutoff must be"),
        (["snr", "rules", "--csv", str(SNR_CSV), "--cutoff", "nan"], "--cutoff must be"),
        (["snr", "rules", "--csv", str(RESULTS_CSV)], "lacks column(s) ['step', 'key'"),
        (["snr", "report", "missing.parquet"], "does not exist"),
        (["snr", "sweep", "--widths", "24", "--steps", "2"], "multiple of 16"),
        (["snr", "sweep", "--lrs", "fast"], "--lrs 'fast'"),
        (["snr", "sweep", "--out", "table.csv"], "--out is a results folder on every command"),
        (["snr", "rules", "--csv", str(SNR_CSV), "--out", "r.json"], "looks like a file name"),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_2(argv, message, capsys) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err
    assert len(err.splitlines()) == 1


def test_wrong_columns_in_a_sweep_table_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "sweep.csv"
    pl.DataFrame({"run": ["a"], "snr": [1.0]}).write_csv(bad)
    assert run(["snr", "report", str(bad)]) == 2
    assert "lacks column" in capsys.readouterr().err


def test_sweep_writes_a_tidy_table_that_report_reads(tmp_path, capsys) -> None:
    folder = tmp_path / "sweep"
    out = folder / "snr_sweep.parquet"
    code = run(
        [
            "snr",
            "sweep",
            "--widths",
            "16",
            "--depths",
            "1",
            "--lrs",
            "1e-2",
            "--steps",
            "4",
            "--records",
            "2",
            "--batch-size",
            "4",
            "--seq-len",
            "16",
            "--out",
            str(folder),
        ]
    )
    assert code == 0
    table = pl.read_parquet(out)
    assert table.columns == [
        "run",
        "width",
        "depth",
        "lr",
        "step",
        "tensor",
        "layer_type",
        "shape",
        "axes",
        "snr",
    ]
    assert sorted(table["step"].unique()) == [1, 4]
    assert table["tensor"].n_unique() == 12
    runs = pl.read_parquet(folder / "snr_sweep_runs.parquet")
    assert runs["run"].to_list() == ["w16_d1_lr0.01"]
    capsys.readouterr()
    assert run(["snr", "report", str(out)]) == 0
    assert "w16_d1_lr0.01: second-moment entries" in capsys.readouterr().out
    assert run(["snr", "report", str(folder)]) == 0  # the --out folder itself
    assert "w16_d1_lr0.01: second-moment entries" in capsys.readouterr().out


def test_heatmap_columns_are_named_by_role() -> None:
    from gemstones.snr.plots import axes_label

    assert [axes_label(a, "torch") for a in ("(0,)", "(1,)", "(0, 1)")] == [
        "fan_out",
        "fan_in",
        "fan_out+fan_in",
    ]
    assert axes_label("(0,)", "flax") == "fan_in"
