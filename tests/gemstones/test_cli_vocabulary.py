"""One CLI vocabulary: ``--format`` everywhere, ``-h``/``--version``, tables that fit the terminal,
token bounds that match the suite's nominal labels, in the CLI and the library alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from gemstones.cli import app, main
from registry.catalog import load_catalog
from registry.errors import RegistryInputError

ROOT = Path(__file__).resolve().parents[2]

#: Commands that print results; each takes the one shared ``--format table|csv|json``.
PRINTS_RESULTS = {
    "fit", "frontier", "validate", "designs list", "designs show", "registry refresh",
    "registry verify", "registry download", "registry list", "registry show", "registry stats",
    "snr rules", "snr report", "ttc fit", "recurrent run", "eval loss", "eval mc", "eval results",
    "laws list", "laws isoflop", "laws compare", "laws loss-to-loss", "laws downstream",
    "laws profile", "laws fit",
}  # fmt: skip


def _commands() -> dict[str, object]:
    found: dict[str, object] = {}

    def walk(command: object, path: list[str]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, sub in children.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), [])
    return found


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def test_version(capsys) -> None:
    import gemstones

    for flag in ("--version", "-V"):
        code, out, _ = _run(capsys, flag)
        assert code == 0 and out.strip() == f"gemstones {gemstones.__version__}"


def test_every_command_answers_h_and_lists_format_choices(capsys) -> None:
    commands = _commands()
    assert set(commands) >= PRINTS_RESULTS, sorted(PRINTS_RESULTS - set(commands))
    for path, command in commands.items():
        code, out, _ = _run(capsys, *path.split(), "-h")
        assert code == 0 and out.startswith(f"Usage: gemstones {path}"), path
        options = {o for p in command.params for o in p.opts if not getattr(p, "hidden", False)}
        assert "--json" not in options, f"{path}: --json is the hidden alias of --format json"
        if path in PRINTS_RESULTS:
            assert "--format" in options, path
            assert "[table|csv|json]" in out, path
    for group in ("registry", "laws", "snr", "ttc", "eval", "designs", "recurrent"):
        code, out, _ = _run(capsys, group, "-h")
        assert code == 0 and "Commands:" in out


def test_unknown_format_names_the_choices(capsys) -> None:
    code, _, err = _run(capsys, "designs", "list", "--format", "yaml")
    assert code == 2 and "unknown --format 'yaml'; valid: table, csv, json" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["registry", "list", "--width", "512", "--limit", "4"],
        ["registry", "list", "--columns", "all", "--limit", "2"],
        ["registry", "stats"],
        ["registry", "show", "tomg-group-umd/Gemstone-1024x28@step_00002385"],
        ["designs", "list"],
        ["laws", "list"],
        ["snr", "report", str(ROOT / "data" / "snr" / "stdlib_sweep.parquet")],
    ],
)
def test_tables_fit_the_terminal(capsys, monkeypatch, argv) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    too_long = [line for line in (out + err).splitlines() if len(line) > 60]
    assert not too_long, too_long


def test_formats_agree(capsys) -> None:
    code, out, _ = _run(capsys, "designs", "list", "--format", "json")
    records = json.loads(out)
    assert code == 0 and {"name", "description"} <= set(records[0])
    code, out, _ = _run(capsys, "designs", "list", "--format", "csv")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("name,") and len(lines) == 1 + len(records)
    code, out, _ = _run(capsys, "designs", "show", "hot", "--format", "json")
    assert code == 0 and json.loads(out)["name"] == "hot"


def test_100b_labels_select_the_100b_checkpoints(capsys) -> None:
    code, out, _ = _run(
        capsys, "registry", "list", "--width", "512", "--min-tokens", "100B",
        "--max-tokens", "100B", "--format", "json",
    )  # fmt: skip
    rows = json.loads(out)
    assert code == 0
    main_rows = [r for r in rows if r["variant"] == "main"]
    assert len(main_rows) == 5 and {r["tokens"] for r in main_rows} == {100_034_150_400}
    assert {r["revision"] for r in main_rows} == {"step_00023850"}
    # every row lies within 0.1% of 100e9 (the lr-ablation runs end at 99,992,207,360)
    assert all(abs(r["tokens"] / 100e9 - 1) <= 1e-3 for r in rows)
    # a plain number stays an exact bound: nothing holds exactly 100e9 tokens
    code, _, err = _run(
        capsys, "registry", "list", "--min-tokens", "100e9", "--max-tokens", "100e9"
    )
    assert code == 2 and "no checkpoint matches" in err


def test_library_takes_what_the_cli_takes() -> None:
    catalog = load_catalog()
    by_label = catalog.select(variant="main", min_tokens="100B", max_tokens="100B")
    assert len(by_label) == 22
    assert len(catalog.select(min_tokens="1.5T")) == 0
    assert len(catalog.select(variant="main", max_tokens="2.1e9")) == len(
        catalog.select(variant="main", max_tokens=2.1e9)
    )
    for bad, fragment in (
        ("lots", "cannot read 'lots' as a token count"),
        ([1], "is not a token count"),
        (float("nan"), "must be a finite number >= 0"),
    ):
        with pytest.raises(RegistryInputError, match=fragment) as caught:
            catalog.select(min_tokens=bad)
        assert "\n" not in str(caught.value) and "min_tokens" in str(caught.value)


def _runs_csv(path) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    rows = [
        {"run": f"r{i}", "params": n, "tokens": d,
         "loss": (1.8 + 400 * n**-0.34 + 2000 * d**-0.28) * float(np.exp(rng.normal(0, 0.003)))}
        for i, n in enumerate([1e7, 3e7, 1e8, 3e8])
        for d in [1e9, 3e9, 1e10, 3e10]
    ]  # fmt: skip
    pl.DataFrame(rows).write_csv(path)


@pytest.mark.slow
def test_data_fit_says_what_the_bootstrap_resamples(tmp_path, capsys) -> None:
    import os
    import stat

    _runs_csv(tmp_path / "runs.csv")
    base = ["fit", "--data", str(tmp_path / "runs.csv"), "--x", "params,tokens", "--y", "loss",
            "--budgets", "1e20"]  # fmt: skip
    code, out, _ = _run(capsys, *base)
    assert code == 0 and "resamples by points" in out and "by runs" not in out
    previous = os.umask(0o022)
    try:
        code, out, _ = _run(
            capsys, *base, "--run-column", "run", "--out", str(tmp_path / "res"), "--format", "json"
        )
    finally:
        os.umask(previous)
    record = json.loads(out)
    assert code == 0 and {p["resampled_by"] for p in record["prescriptions"]} == {"runs"}
    assert record["log_E"] == record["irreducible_error"] and "E" in record
    assert "e" not in {p["quantity"] for p in record["prescriptions"]}
    assert "log_E" in {p["quantity"] for p in record["prescriptions"]}
    # the result file carries the prescriptions, with ordinary permissions
    result = tmp_path / "res" / "runs__params-tokens__approach3.json"
    saved = json.loads(result.read_text())
    assert saved["prescriptions"] == record["prescriptions"]
    assert stat.S_IMODE(result.stat().st_mode) == 0o644
    code, _, err = _run(capsys, *base, "--run-column", "nope")
    assert code == 2 and "column 'nope' is not in runs.csv" in err


def test_approach1_off_the_paper_sets_says_so(capsys) -> None:
    from gemstones.cli.fit_cmds import FitRequest, approach1_note, resolve_design

    request = FitRequest(design="hot", approach=1)
    note = approach1_note(request, resolve_design(request)[0])
    assert (
        note is not None and "not one of the paper's approach-1 sets" in note and "hot_477" in note
    )
    request = FitRequest(design="hot_477", approach=1)
    assert approach1_note(request, resolve_design(request)[0]) is None


@pytest.mark.slow
def test_slim_chinchilla_design_fits_the_chinchilla_points(capsys) -> None:
    from gemstones.scaling.designs import design_table, load_design

    design = load_design("slim_chinchilla")
    table = design_table(design)
    assert table.height == 28 and table["loss"].min() > 2.0 and table["params"].max() > 1e9
    code, out, _ = _run(capsys, "fit", "--design", "slim_chinchilla", "--format", "json")
    record = json.loads(out)
    assert code == 0 and record["n_points"] == 28 and record["flags"] == []
    assert 1.0 < record["E"] < table["loss"].min()
    assert all(0.05 < a < 1.0 for a in record["alpha"])
