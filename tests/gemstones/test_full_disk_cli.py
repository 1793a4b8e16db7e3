"""Commands whose writes fail midway (a full disk, simulated) exit 1 and leave the user's files as they were.

Also: output paths that cannot be written are refused before any long work starts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from gemstones.cli import main
from registry.embedded import embedded_path
from tests.full_disk import fill_the_disk

SNR_CSV = embedded_path(
    "upstream", "slimadam", "snr_data", "gpt2-small_fineweb-edu_adam_lr3e-4_T5000.csv"
)


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (temporary files included, so leftovers show)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    captured = capsys.readouterr()
    return int(stop.value.code or 0), captured.out, captured.err


def assert_one_line_write_error(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write "), err
    assert "No space left on device" in lines[0] and "unchanged" in lines[0]
    assert "Traceback" not in err


def test_snr_rules_out_on_a_full_disk_keeps_the_old_rules(tmp_path, capsys, monkeypatch) -> None:
    rules = tmp_path / "rules"
    code, _, _ = run(capsys, "snr", "rules", "--csv", str(SNR_CSV), "--out", str(rules))
    written = rules / f"{SNR_CSV.stem}__cutoff1__rules.json"
    assert code == 0 and written.stat().st_size > 4096  # larger than what the full disk takes
    before = snapshot(tmp_path)
    fill_the_disk(monkeypatch)
    code, _, err = run(
        capsys, "snr", "rules", "--csv", str(SNR_CSV), "--cutoff", "3", "--out", str(rules)
    )
    assert code == 1
    assert_one_line_write_error(err)
    assert snapshot(tmp_path) == before


def test_snr_report_plots_on_a_full_disk_keep_the_old_figures(
    tmp_path, capsys, monkeypatch
) -> None:
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / f"{SNR_CSV.stem}__cutoff1__snr_heatmap.png").write_bytes(b"an older figure")
    before = snapshot(tmp_path)
    fill_the_disk(monkeypatch)
    code, _, err = run(capsys, "snr", "report", str(SNR_CSV), "--plot", str(figures))
    assert code == 1
    assert_one_line_write_error(err.splitlines()[-1])
    assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_recurrent_run_files_survive_a_full_disk(tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "run"
    argv = ["recurrent", "run", "--length", "4", "--train-steps", "20", "--hidden", "8"]
    argv += ["--exit-thresholds", "1e-2"]
    code, _, err = run(capsys, *argv, "--r", "1,2,4", "--out", str(out))
    assert code == 0, err
    before = snapshot(out)
    assert {"run.json", "params.npz", "curve.csv", "adaptive_exit.csv"} <= set(before)
    fill_the_disk(monkeypatch, room=64)
    code, _, err = run(capsys, *argv, "--r", "1,2,4,8", "--out", str(out))
    assert code == 1
    assert_one_line_write_error(err.splitlines()[-1])
    assert snapshot(out) == before


def test_output_paths_are_checked_before_any_training(tmp_path, capsys, monkeypatch) -> None:
    import gemstones.cli.fit_cmds as fit_cmds
    import gemstones.runs.recurrent as recurrent
    import gemstones.snr.sweep as snr_sweep

    def no_work(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("long work started before the output path was checked")

    monkeypatch.setattr(snr_sweep, "run_sweep", no_work)
    monkeypatch.setattr(recurrent, "train", no_work)
    monkeypatch.setattr(fit_cmds, "run_fit", no_work)
    a_file = tmp_path / "a_file"
    a_file.write_text("keep")
    for argv in (
        ["snr", "sweep", "--out", str(a_file / "sweep")],
        ["recurrent", "run", "--out", str(a_file / "run")],
        ["fit", "--design", "hot", "--out", str(a_file / "results")],
        ["fit", "--design", "hot", "--plot", str(a_file)],
        ["frontier", "--design", "hot", "--plot", str(a_file / "figures")],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.startswith("error: ") and str(a_file) in err, (argv, err)
    assert a_file.read_text() == "keep"
