"""A table of bad inputs through the real CLI: each ends in one line ``error: ...``, never a traceback.

Every case runs ``gemstones.cli.main`` (the console script's entry point) with real files written
into a temporary folder, and checks the exit code (2: a user mistake), that stderr is exactly one
line starting with ``error:`` that names the bad value, and that no traceback is printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gemstones.cli import main
from registry.embedded import embedded_path

SNR_CSV = embedded_path(
    "upstream", "slimadam", "snr_data", "gpt2-small_fineweb-edu_adam_lr3e-4_T5000.csv"
)
SNR_HEADER = "step,key,shape,compress_dims,snr\n"


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every bad (and a few good) input files, by name; the values are paths as text."""
    root = tmp_path_factory.mktemp("bad_inputs")
    x = np.geomspace(1e3, 1e7, 12)
    good = pl.DataFrame({"n": x, "d": x[::-1] * 10, "y": 1.5 + 40 * x**-0.4, "loss": x})
    good.write_csv(root / "good.csv")
    out: dict[str, Path] = {
        "root": root,
        "good": root / "good.csv",
        # unreadable tables
        "empty_csv": _write(root, "empty.csv", ""),
        "blank_csv": _write(root, "blank.csv", "\n\n"),
        "header_only": _write(root, "header_only.csv", "n,y\n"),
        "long_row": _write(root, "long_row.csv", "n,y\n1,2\n3,4,5\n"),
        "short_row": _write(root, "short_row.csv", "n,y\n1,2\n3\n4,5\n"),
        "latin1": _write(root, "latin1.csv", "n,y\n1,2\n3,caf\xe9\n".encode("latin-1")),
        "utf16": _write(root, "utf16.csv", "n,y\n1,2\n".encode("utf-16")),
        "bad_jsonl": _write(root, "bad.jsonl", '{"n": 1, "y": 2}\n{n: oops\n'),
        "empty_jsonl": _write(root, "empty.jsonl", ""),
        "array_jsonl": _write(root, "array.jsonl", '{"n": 1, "y": 2}\n[1, 2]\n'),
        "bad_parquet": _write(root, "bad.parquet", b"PAR1 this is not a parquet file PAR1"),
        "csv_as_parquet": _write(root, "csv.parquet", "n,y\n1,2\n"),
        "xlsx": _write(root, "table.xlsx", b"PK\x03\x04"),
        "folder_csv": root / "folder.csv",
        "text_number": _write(root, "text_number.csv", "n,y\n1,2\n2,lots\n3,1\n"),
        "blank_cell": _write(root, "blank_cell.csv", "n,y\n1,2\n2,\n3,1\n"),
        "struct_jsonl": _write(
            root, "struct.jsonl", '{"n": {"a": 1}, "y": 1}\n{"n": {"a": 2}, "y": 2}\n'
        ),
        "list_jsonl": _write(root, "list.jsonl", '{"n": [1, 2], "y": 1}\n'),
        "bool_jsonl": _write(root, "bool.jsonl", '{"n": true, "y": 1}\n{"n": false, "y": 2}\n'),
        # SNR CSVs
        "snr_step_text": _write(root, "snr_step.csv", SNR_HEADER + 'one,wte,"(4, 4)","(0,)",1.5\n'),
        "snr_step_float": _write(
            root, "snr_stepf.csv", SNR_HEADER + '5.5,wte,"(4, 4)","(0,)",1.5\n'
        ),
        "snr_value_text": _write(
            root, "snr_value.csv", SNR_HEADER + '1,wte,"(4, 4)","(0,)",high\n'
        ),
        "snr_bad_shape": _write(root, "snr_shape.csv", SNR_HEADER + '1,wte,4x4,"(0,)",1.5\n'),
        "snr_no_key": _write(root, "snr_nokey.csv", SNR_HEADER + '1,,"(4, 4)","(0,)",1.5\n'),
        "snr_latin1": _write(
            root, "snr_latin1.csv", (SNR_HEADER + '1,w\xe9,"(4,)","(0,)",1\n').encode("latin-1")
        ),
        # sweep tables
        "sweep_missing": _write(root, "sweep_missing.csv", "run,step\nw32,1\n"),
        # designs
        "design_binary": _write(root, "binary.toml", b"\x00\x01\x02\xff\xfe binary"),
        "design_nested": _write(root, "nested.toml", "a = " + "[" * 5000 + "]" * 5000 + "\n"),
        "design_invalid": _write(root, "invalid.toml", "name = \n[selection\n"),
        "design_delta_text": _write(root, "delta_text.toml", '[fit]\ndelta = "1e-4"\n'),
        "design_delta_nan": _write(root, "delta_nan.toml", "[fit]\ndelta = nan\n"),
        "design_delta_inf": _write(root, "delta_inf.toml", "[fit]\ndelta = inf\n"),
        "design_seed": _write(root, "seed.toml", "[fit]\nseed = -1\n"),
        "design_polish": _write(root, "polish.toml", "[fit]\nn_polish = 1000000000000\n"),
        "design_step_text": _write(root, "step_text.toml", '[selection]\nmax_step = "23850"\n'),
        "design_tokens_inf": _write(root, "tokens_inf.toml", "[selection]\nmin_tokens = -inf\n"),
        "design_file_text": _write(
            root,
            "file_text.toml",
            '[selection]\nsource = "text_number.csv"\n[columns]\nparams = "n"\ntokens = "n"\nloss = "y"\n',
        ),
        "design_columns": _write(root, "columns.toml", "[columns]\nparams = 5\n"),
        "design_section_array": _write(
            root, "section_array.toml", "[[selection]]\nvariant = 'main'\n"
        ),
        # JSON documents
        "json_broken": _write(root, "broken.json", '{"attention": ["attn"'),
        "json_list": _write(root, "list.json", '["attn", "mlp"]'),
        "json_nested": _write(root, "nested.json", "[" * 100_000 + "]" * 100_000),
        "json_bad_patterns": _write(root, "patterns.json", '{"attention": [1, 2]}'),
        "json_latin1": _write(root, "latin1.json", '{"caf\xe9": ["x"]}'.encode("latin-1")),
        "rules_bad_axis": _write(root, "rules.json", json.dumps({"wte": ["x"]})),
        # output paths
        "a_file": _write(root, "a_file.txt", "keep me\n"),
    }
    (root / "folder.csv").mkdir()
    (root / "a_folder").mkdir()
    (root / "a_folder" / "dir.parquet").mkdir()
    out["a_folder"] = root / "a_folder"
    (root / "sweep_with_folder" / "snr_sweep.parquet").mkdir(parents=True)
    out["sweep_with_folder"] = root / "sweep_with_folder"
    return {key: str(value) for key, value in out.items()}


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    captured = capsys.readouterr()
    code = stop.value.code
    return (0 if code is None else int(code)), captured.out, captured.err


# (case id, argv with {placeholders} naming entries of ``files``, expected exit code, text the
# one-line message must contain: the bad value and/or what is valid)
# fmt: off
CASES: list[tuple[str, list[str], int, str]] = [
    # --- unreadable tables (fit --data) ------------------------------------------------------
    ("table-empty-csv", ["fit", "--data", "{empty_csv}", "--x", "n", "--y", "y"], 2, "is empty"),
    ("table-blank-lines", ["fit", "--data", "{blank_csv}", "--x", "n", "--y", "y"], 2, "is empty"),
    ("table-header-only", ["fit", "--data", "{header_only}", "--x", "n", "--y", "y"], 2, "has no rows"),
    ("table-long-row", ["fit", "--data", "{long_row}", "--x", "n", "--y", "y"], 2, "long_row.csv' is not a readable CSV"),
    ("table-short-row", ["fit", "--data", "{short_row}", "--x", "n", "--y", "y"], 2, "row 2 has no value in column 'y'"),
    ("table-latin1", ["fit", "--data", "{latin1}", "--x", "n", "--y", "y"], 2, "latin1.csv' is not a readable CSV"),
    ("table-utf16", ["fit", "--data", "{utf16}", "--x", "n", "--y", "y"], 2, "utf16.csv"),
    ("table-bad-jsonl", ["fit", "--data", "{bad_jsonl}", "--x", "n", "--y", "y"], 2, "bad.jsonl' is not a readable JSON lines"),
    ("table-empty-jsonl", ["fit", "--data", "{empty_jsonl}", "--x", "n", "--y", "y"], 2, "is empty"),
    ("table-array-jsonl", ["fit", "--data", "{array_jsonl}", "--x", "n", "--y", "y"], 2, "array.jsonl"),
    ("table-bad-parquet", ["fit", "--data", "{bad_parquet}", "--x", "n", "--y", "y"], 2, "bad.parquet' is not a readable parquet"),
    ("table-csv-as-parquet", ["fit", "--data", "{csv_as_parquet}", "--x", "n", "--y", "y"], 2, "csv.parquet' is not a readable parquet"),
    ("table-suffix", ["fit", "--data", "{xlsx}", "--x", "n", "--y", "y"], 2, "unsupported data file 'table.xlsx'; valid suffixes"),
    ("table-folder", ["fit", "--data", "{folder_csv}", "--x", "n", "--y", "y"], 2, "is a folder, not a file"),
    ("table-missing", ["fit", "--data", "{root}/nope.csv", "--x", "n", "--y", "y"], 2, "nope.csv' does not exist"),
    ("table-text-number", ["fit", "--data", "{text_number}", "--x", "n", "--y", "y"], 2, "row 2, column 'y': 'lots' is not a number"),
    ("table-blank-cell", ["fit", "--data", "{blank_cell}", "--x", "n", "--y", "y"], 2, "row 2 has no value in column 'y'"),
    ("table-struct-values", ["fit", "--data", "{struct_jsonl}", "--x", "n", "--y", "y"], 2, "column 'n' holds Struct({'a': Int64}) values, not numbers"),
    ("table-list-values", ["fit", "--data", "{list_jsonl}", "--x", "n", "--y", "y"], 2, "column 'n' holds List(Int64) values, not numbers"),
    ("table-bool-values", ["fit", "--data", "{bool_jsonl}", "--x", "n", "--y", "y"], 2, "column 'n' holds Boolean values, not numbers"),
    ("table-unknown-column", ["fit", "--data", "{good}", "--x", "m", "--y", "y"], 2, "column 'm' is not in good.csv"),
    # --- --x / --y ------------------------------------------------------------------------------
    ("x-named-loss", ["fit", "--data", "{good}", "--x", "n,loss", "--y", "y"], 2, "includes 'loss'"),
    ("x-equals-y", ["fit", "--data", "{good}", "--x", "n,y", "--y", "y"], 2, "includes the --y column 'y'"),
    ("x-empty-entry", ["fit", "--data", "{good}", "--x", "n,,d", "--y", "y"], 2, "--x 'n,,d' has an empty column name"),
    ("x-repeated", ["fit", "--data", "{good}", "--x", "n,n", "--y", "y"], 2, "must be distinct"),
    # --- SNR CSVs (snr rules, snr report) ----------------------------------------------------------
    ("snr-empty", ["snr", "rules", "--csv", "{empty_csv}"], 2, "is empty"),
    ("snr-latin1", ["snr", "rules", "--csv", "{snr_latin1}"], 2, "snr_latin1.csv' is not a readable CSV"),
    ("snr-ragged", ["snr", "rules", "--csv", "{long_row}"], 2, "long_row.csv' is not a readable CSV"),
    ("snr-step-text", ["snr", "rules", "--csv", "{snr_step_text}"], 2, "column 'step': 'one' is not a whole number"),
    ("snr-step-float", ["snr", "rules", "--csv", "{snr_step_float}"], 2, "column 'step': 5.5 is not a whole number"),
    ("snr-value-text", ["snr", "rules", "--csv", "{snr_value_text}"], 2, "column 'snr': 'high' is not a number"),
    ("snr-bad-shape", ["snr", "rules", "--csv", "{snr_bad_shape}"], 2, "bad shape '4x4'"),
    ("snr-no-key", ["snr", "rules", "--csv", "{snr_no_key}"], 2, "row 1 has no value in column 'key'"),
    ("snr-wrong-suffix", ["snr", "rules", "--csv", "{bad_jsonl}"], 2, "unsupported SNR CSV 'bad.jsonl'"),
    ("report-step-text", ["snr", "report", "{snr_step_text}"], 2, "'one' is not a whole number"),
    ("report-bad-parquet", ["snr", "report", "{bad_parquet}"], 2, "bad.parquet' is not a readable parquet"),
    ("report-empty-csv", ["snr", "report", "{empty_csv}"], 2, "is empty"),
    ("report-missing-columns", ["snr", "report", "{sweep_missing}"], 2, "sweep table lacks column"),
    # --- design TOML ---------------------------------------------------------------------------------
    ("design-binary", ["fit", "--design", "{design_binary}"], 2, "binary.toml' is not UTF-8 text"),
    ("design-nested", ["fit", "--design", "{design_nested}"], 2, "nested too deeply"),
    ("design-invalid", ["fit", "--design", "{design_invalid}"], 2, "invalid.toml' is not valid TOML"),
    ("design-delta-text", ["fit", "--design", "{design_delta_text}"], 2, "[fit] delta must be a number; got '1e-4'"),
    ("design-delta-nan", ["fit", "--design", "{design_delta_nan}"], 2, "[fit] delta must be a finite number; got nan"),
    ("design-delta-inf", ["fit", "--design", "{design_delta_inf}"], 2, "[fit] delta must be a finite number; got inf"),
    ("design-seed", ["fit", "--design", "{design_seed}"], 2, "[fit] seed must be between 0 and"),
    ("design-polish", ["fit", "--design", "{design_polish}"], 2, "[fit] n_polish must be between 1 and 10,000; got 1000000000000"),
    ("design-step-text", ["fit", "--design", "{design_step_text}"], 2, "[selection] max_step must be an integer; got '23850'"),
    ("design-tokens-inf", ["fit", "--design", "{design_tokens_inf}"], 2, "[selection] min_tokens must be a finite number; got -inf"),
    ("design-file-text", ["fit", "--design", "{design_file_text}"], 2, "text_number.csv: row 2, column 'loss': 'lots' is not a number"),
    ("design-columns-number", ["fit", "--design", "{design_columns}"], 2, "[columns] params = 5: a column name must be a non-empty string"),
    ("design-section-array", ["fit", "--design", "{design_section_array}"], 2, "[selection] must be a table; got [{'variant': 'main'}]"),
    ("designs-show-binary", ["designs", "show", "{design_binary}"], 2, "is not UTF-8 text"),
    # --- JSON documents -------------------------------------------------------------------------------
    ("layer-map-broken", ["snr", "rules", "--csv", str(SNR_CSV), "--layer-map", "{json_broken}"], 2, "broken.json' is not valid JSON"),
    ("layer-map-list", ["snr", "rules", "--csv", str(SNR_CSV), "--layer-map", "{json_list}"], 2, "expected an object {layer type: [patterns]}; got list"),
    ("layer-map-nested", ["snr", "rules", "--csv", str(SNR_CSV), "--layer-map", "{json_nested}"], 2, "nested too deeply"),
    ("layer-map-patterns", ["snr", "rules", "--csv", str(SNR_CSV), "--layer-map", "{json_bad_patterns}"], 2, "'attention' maps to [1, 2]; expected a list of strings"),
    ("layer-map-latin1", ["snr", "report", str(SNR_CSV), "--layer-map", "{json_latin1}"], 2, "latin1.json' is not UTF-8 text"),
    ("layer-map-missing", ["snr", "rules", "--csv", str(SNR_CSV), "--layer-map", "{root}/none.json"], 2, "none.json' does not exist"),
    ("rules-reference-bad", ["snr", "rules", "--csv", str(SNR_CSV), "--reference", "{rules_bad_axis}"], 2, "rule of 'wte' is ['x']"),
    # --- numbers where numbers belong ------------------------------------------------------------------
    ("delta-inf", ["fit", "--design", "hot", "--delta", "inf"], 2, "--delta must be a positive, finite number (the paper uses 1e-4); got inf"),
    ("delta-1e400", ["fit", "--design", "hot", "--delta", "1e400"], 2, "got inf"),
    ("delta-nan", ["fit", "--design", "hot", "--delta", "nan"], 2, "got nan"),
    ("delta-zero", ["fit", "--design", "hot", "--delta", "0"], 2, "got 0.0"),
    ("delta-text", ["fit", "--design", "hot", "--delta", "small"], 2, "Invalid value for '--delta': Input should be a valid number, unable to parse string as a number (got 'small')"),
    ("frontier-seed-negative", ["frontier", "--design", "hot", "--seed", "-1"], 2, "--seed -1 is out of range; valid: 0 to 4,294,967,295"),
    ("frontier-resamples-huge", ["frontier", "--design", "hot", "--budgets", "1e20", "--resamples", "1000000000"], 2, "--resamples 1000000000 is out of range; valid: 0 (no bootstrap) to 100,000"),
    ("budgets-empty", ["fit", "--design", "hot", "--budgets", ""], 2, "--budgets '' has an empty value"),
    ("budgets-empty-entry", ["frontier", "--design", "hot", "--budgets", "1e20,,1e21"], 2, "'1e20,,1e21' has an empty value"),
    ("budgets-inf", ["frontier", "--design", "hot", "--budgets", "1e400"], 2, "'1e400' must be a positive, finite number"),
    ("sweep-seed-negative", ["snr", "sweep", "--seed", "-1"], 2, "--seed -1 is out of range; valid: 0 to"),
    ("recurrent-seed-negative", ["recurrent", "run", "--seed", "-1", "--out", "{root}/rec"], 2, "seed=-1 is out of range"),
    ("cutoff-inf", ["snr", "rules", "--csv", str(SNR_CSV), "--cutoff", "inf"], 2, "--cutoff must be a finite number >= 0, got inf"),
    ("limit-huge", ["registry", "list", "--limit", str(10**30)], 2, f"--limit {10**30} is out of range; valid: 1 to 1,000,000,000"),
    ("limit-zero", ["registry", "list", "--limit", "0"], 2, "--limit 0 is out of range"),
    ("limit-text", ["registry", "list", "--limit", "ten"], 2, "(got 'ten')"),
    ("steps-text", ["snr", "sweep", "--steps=many"], 2, "Invalid value for '--steps'"),
    ("format-unknown", ["registry", "stats", "--format", "yaml"], 2, "'yaml'"),
    ("unknown-option", ["registry", "list", "--colour", "red"], 2, "No such option: --colour"),
    # --- empty and malformed filter values ------------------------------------------------------------
    ("filter-width-empty", ["registry", "list", "--width", ""], 2, "--width '' has an empty value"),
    ("filter-variant-empty", ["registry", "list", "--variant", ""], 2, "--variant '' has an empty value"),
    ("filter-depth-empty", ["registry", "list", "--depth", ""], 2, "--depth '' has an empty value"),
    ("filter-shape-blank", ["registry", "list", "--shape", " "], 2, "--shape ' ' has an empty value"),
    ("filter-in-set-empty", ["registry", "list", "--in-set", ""], 2, "--in-set '' has an empty value"),
    ("filter-min-tokens-empty", ["registry", "list", "--min-tokens", ""], 2, "cannot read '' as a token count"),
    ("filter-width-gap", ["registry", "list", "--width", "512,,1024"], 2, "'512,,1024' has an empty value"),
    ("filter-width-float", ["registry", "list", "--width", "5e2"], 2, "'5e2' is not an integer"),
    ("filter-width-zero", ["registry", "list", "--width", "0"], 2, "--width: 0 is out of range"),
    ("filter-width-huge", ["registry", "list", "--width", str(10**20)], 2, "is out of range; valid: 1 to 2,147,483,647"),
    ("filter-variant-unknown", ["registry", "list", "--variant", "hot"], 2, "'hot'"),
    ("filter-columns-empty", ["registry", "list", "--columns", ""], 2, "unknown column ''"),
    ("verify-width-empty", ["registry", "verify", "--width", ""], 2, "--width '' has an empty value"),
    ("download-variant-empty", ["registry", "download", "--variant", "", "--dry-run"], 2, "--variant '' has an empty value"),
    # --- output paths (checked before any work) -------------------------------------------------------
    ("fit-out-is-file", ["fit", "--design", "hot", "--out", "{a_file}"], 2, "a_file.txt' is a file; give a folder"),
    ("fit-out-under-file", ["fit", "--design", "hot", "--out", "{a_file}/results"], 2, "sits under the file"),
    ("fit-plot-under-file", ["fit", "--design", "hot", "--plot", "{a_file}/figures"], 2, "--plot"),
    ("frontier-plot-is-file", ["frontier", "--design", "hot", "--plot", "{a_file}"], 2, "is a file; give a folder"),
    ("rules-out-is-file", ["snr", "rules", "--csv", str(SNR_CSV), "--out", "{a_file}"], 2, "a_file.txt' is a file; give a folder"),
    ("rules-out-under-file", ["snr", "rules", "--csv", str(SNR_CSV), "--out", "{a_file}/rules"], 2, "sits under the file"),
    ("report-plot-under-file", ["snr", "report", str(SNR_CSV), "--plot", "{a_file}/figs"], 2, "sits under the file"),
    ("sweep-out-under-file", ["snr", "sweep", "--steps", "2", "--out", "{a_file}/sweep"], 2, "sits under the file"),
    ("sweep-table-is-folder", ["snr", "sweep", "--steps", "2", "--out", "{sweep_with_folder}"], 2, "is a folder"),
    ("recurrent-out-is-file", ["recurrent", "run", "--train-steps", "2", "--r", "1,2", "--out", "{a_file}"], 2, "is a file; give a folder"),
    # --- bounded work ------------------------------------------------------------------------------------
    ("r-billion", ["recurrent", "run", "--r", "1,2,...,1000000000", "--out", "{root}/rec"], 2, "1000000000 is out of range; r must be >= 1 and <= 4,096"),
    ("r-too-many", ["recurrent", "run", "--r", "1,2,3,...,4096", "--out", "{root}/rec"], 2, "expands to more than 256 values"),
    ("r-zero", ["recurrent", "run", "--r", "0,1", "--out", "{root}/rec"], 2, "0 is out of range"),
    ("r-empty-entry", ["recurrent", "run", "--r", "1,,2", "--out", "{root}/rec"], 2, "--r '1,,2' has an empty value"),
    ("exit-thresholds-nan", ["recurrent", "run", "--exit-thresholds", "1e-2,nan", "--out", "{root}/rec"], 2, "exit threshold nan must be a finite KL divergence"),
    ("exit-thresholds-many", ["recurrent", "run", "--exit-thresholds", ",".join(["1e-3"] * 65), "--out", "{root}/rec"], 2, "65 exit thresholds; at most 64"),
    ("recurrent-length-huge", ["recurrent", "run", "--length", "100000", "--out", "{root}/rec"], 2, "length=100000 is out of range; valid: whole numbers 1 to 1,024"),
    ("recurrent-steps-huge", ["recurrent", "run", "--train-steps", "10000000000", "--out", "{root}/rec"], 2, "train_steps=10000000000 is out of range"),
    ("sweep-too-many-runs", ["snr", "sweep", "--widths", ",".join(str(16 * i) for i in range(1, 17)), "--depths", "1,2,3,4", "--lrs", "1e-3,2e-3,3e-3,4e-3,5e-3"], 2, "= 320 runs; at most 256"),
    ("sweep-steps-huge", ["snr", "sweep", "--steps", "1000000000"], 2, "--steps 1000000000 is out of range; valid: 1 to 1,000,000"),
    ("sweep-width-huge", ["snr", "sweep", "--widths", "65536"], 2, "--widths 65536 must be a multiple of 16 (the head size) up to 4,096"),
    ("sweep-depth-huge", ["snr", "sweep", "--depths", "1000"], 2, "--depths 1000 is too deep"),
    ("sweep-lr-nan", ["snr", "sweep", "--lrs", "nan"], 2, "nan is not a positive, finite number"),
    ("sweep-lr-empty", ["snr", "sweep", "--lrs", "1e-3,"], 2, "--lrs '1e-3,' has an empty value"),
]
# fmt: on


@pytest.mark.parametrize(
    ("argv", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_gets_one_line_error(
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    args = [part.format(**files) for part in argv]
    exit_code, out, err = _run(capsys, args)
    lines = err.splitlines()
    assert "Traceback" not in out + err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert message in lines[0], lines[0]
    assert exit_code == code, err


def test_the_table_covers_every_class() -> None:
    classes = {case_id.split("-")[0] for case_id, *_ in CASES}
    assert len(CASES) >= 100
    assert {"table", "snr", "design", "layer", "delta", "filter", "r", "sweep", "limit"} <= classes


def test_every_json_output_goes_through_the_strict_encoder() -> None:
    """``--format json`` printing goes through ``gemstones.cli.output.dumps_json`` (no NaN/Infinity)."""
    import gemstones.cli

    folder = Path(gemstones.cli.__file__).parent
    direct = [
        f"{source.name}:{number}"
        for source in sorted(folder.glob("*.py"))
        for number, line in enumerate(source.read_text().splitlines(), 1)
        if "echo(json.dumps" in line.replace(" ", "")
    ]
    assert direct == []


@pytest.mark.parametrize(
    "case_id", ["table-empty-csv", "limit-huge", "design-binary", "limit-text", "r-billion"]
)
def test_the_console_script_prints_the_same_single_line(
    files: dict[str, str], case_id: str
) -> None:
    """A few cases through a real process (argv from the command line, exit status, real stderr)."""
    import subprocess
    import sys

    argv, code, message = next(case[1:] for case in CASES if case[0] == case_id)
    result = subprocess.run(
        [sys.executable, "-c", "from gemstones.cli import main; main()"]
        + [part.format(**files) for part in argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == code
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr and "Traceback" not in result.stderr
