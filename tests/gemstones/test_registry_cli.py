"""``gemstones registry list | show | stats`` end to end, through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gemstones.cli import main
from gemstones.cli.selection import parse_token_count
from registry.errors import RegistryInputError


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def test_stats_json_reports_every_variant_and_22_shapes(capsys) -> None:
    code, out, _ = run_cli(capsys, "registry", "stats", "--format", "json")
    assert code == 0
    stats = json.loads(out)
    assert stats["checkpoints"] == 5049
    assert stats["per_variant"] == {"main": 3850, "lr_ablation": 1000, "cooldown": 199}
    assert stats["shapes"] == 22


def test_list_filters_and_formats(capsys) -> None:
    code, out, _ = run_cli(
        capsys, "registry", "list", "--variant", "main", "--width", "512", "--min-tokens", "100B",
        "--max-tokens", "110e9", "--format", "json",
    )  # fmt: skip
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 5 * 5
    assert all(
        100e9 <= r["tokens"] <= 110e9 and r["repo_id"].startswith("tomg-group-umd/Gemstone-512x")
        for r in rows
    )
    code, out, _ = run_cli(
        capsys, "registry", "list", "--shape", "1024x28", "--variant", "main", "--format", "csv"
    )
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("repo_id,revision,variant")
    assert len(lines) == 1 + 175
    code, out, err = run_cli(capsys, "registry", "list", "--in-set", "hot", "--limit", "3")
    assert code == 0 and "3 of 220 matching checkpoints" in err


def test_show_reproduces_upstream_loss(capsys) -> None:
    code, out, _ = run_cli(
        capsys,
        "registry",
        "show",
        "tomg-group-umd/Gemstone-1024x28@step_00002385",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out)["val_loss"] == 3.1010556221


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["registry", "list", "--variant", "hot"],
            "unknown variant 'hot'; valid variants: main, lr_ablation, cooldown",
        ),
        (["registry", "list", "--min-tokens", "lots"], "cannot read 'lots' as a token count"),
        (["registry", "list", "--width", "5x"], "--width: '5x' is not an integer"),
        (["registry", "list", "--width", "100"], "no checkpoint matches --width 100"),
        (
            ["registry", "show", "tomg-group-umd/Gemstone-1024x28@step_00000001"],
            "has no checkpoint 'step_00000001'",
        ),
        (["registry", "show", "Gemstone-1024x28"], "not a Gemstones repository id"),
        (["registry", "list", "--columns", "nope"], "unknown column 'nope'"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(capsys, args: list[str], message: str) -> None:
    code, _out, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_option_value_is_a_usage_error(capsys) -> None:
    code, _, err = run_cli(capsys, "registry", "list", "--format", "xml")
    assert code == 2
    assert "xml" in err


@pytest.mark.parametrize(
    ("text", "value"),
    [("100e9", 100e9), ("100B", 100e9), ("1.5T", 1.5e12), ("350m", 350e6), ("42", 42.0)],
)
def test_token_counts(text: str, value: float) -> None:
    assert parse_token_count(text) == value


def test_token_count_rejects_negative_and_words() -> None:
    for text in ("-5", "1e9x", "", "B"):
        with pytest.raises(RegistryInputError):
            parse_token_count(text)


def test_help_does_not_import_jax_matplotlib_or_polars() -> None:
    code = (
        "import sys\n"
        "from gemstones.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('jax', 'matplotlib', 'optax', 'scipy', 'polars', 'numpy') if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "Usage" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "HEAVY="
