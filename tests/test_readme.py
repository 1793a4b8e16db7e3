"""Every command in the README runs as written, offline.

The ```bash blocks of README.md are split into commands (``\\`` continuations joined, ``#`` comments
dropped). Each ``gemstones`` command runs in-process through the real CLI entry point
(``gemstones.cli.main``) with ``HF_HUB_OFFLINE=1``, in a temporary working folder and cache that hold
the files the README names as the user's own (``my_runs.csv``, ``my.jsonl``, ``quiz.jsonl``,
``my.toml``, ``./my-checkpoint``: small real inputs) and links to the repository's ``data/`` and
``tests/`` folders, which the README reads from. A command must exit 0, except one whose comment
says ``needs the Hub``: it must exit 1 with the one-line offline message. Set-up commands (``pip``,
``pytest``, ``ruff``, ``python -m registry.build``) are named in :data:`SETUP` and not run here
(the suite itself runs them). The ```python blocks run too.
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: Commands that set up or check the repository; the suite and CI run them, not this test.
SETUP = (
    "pip install",
    "python -m pytest",
    "ruff ",
    "lint-imports",
    "mypy",
    "python -m registry.suites.",
)
OFFLINE_MESSAGE = "is not reachable (HF_HUB_OFFLINE is set)"
NEEDS_HUB = "needs the Hub"


def readme_blocks(language: str) -> list[str]:
    """The fenced blocks of one language in README.md."""
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def readme_commands() -> list[tuple[str, bool]]:
    """``(command, needs_hub)`` for every line of the README's bash blocks, in order."""
    commands = []
    for block in readme_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            code, _, comment = line.partition(" #")
            code = code.strip()
            if not code or code.startswith("#"):
                continue
            for part in code.split("&&"):
                commands.append((part.strip(), NEEDS_HUB in comment))
    return commands


def _user_files(folder: Path) -> None:
    """The README's stand-ins for the user's own files: small and real."""
    import json
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.gemstones.eval_fixtures import (
        held_out_documents,
        training_text,
        write_corpus,
        write_tasks,
        write_tiny_gemma,
    )

    (folder / "data").symlink_to(ROOT / "data")
    (folder / "tests").symlink_to(ROOT / "tests")
    write_tiny_gemma(folder / "my-checkpoint", bigram_text=training_text(20_000), layers=1)
    write_corpus(folder / "my.jsonl", held_out_documents(count=3, size=200))
    write_tasks(folder / "quiz.jsonl")
    rng = np.random.default_rng(0)
    rows = [
        {"run": f"r{i}", "params": n, "tokens": d,
         "loss": (1.8 + 400 * n**-0.34 + 2000 * d**-0.28) * float(np.exp(rng.normal(0, 0.003)))}
        for i, n in enumerate([1e7, 3e7, 1e8, 3e8])
        for d in [1e9, 3e9, 1e10, 3e10]
    ]  # fmt: skip
    pl.DataFrame(rows).write_csv(folder / "my_runs.csv")
    (folder / "my.toml").write_text(
        'name = "my"\ndescription = "my runs"\n[selection]\nsource = "my_runs.csv"\n'
        '[law]\nform = "params-tokens"\n',
        encoding="utf-8",
    )
    assert json.loads((folder / "quiz.jsonl").read_text().splitlines()[0])


def test_readme_lists_only_known_kinds_of_command() -> None:
    commands = readme_commands()
    assert len(commands) > 30
    for command, _ in commands:
        assert command.startswith("gemstones ") or command.startswith(SETUP), command


@pytest.mark.slow
def test_every_readme_command_runs_offline(tmp_path, monkeypatch, capsys) -> None:
    from gemstones.cli import main

    work = tmp_path / "work"
    work.mkdir()
    _user_files(work)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GEMSTONES_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("COLUMNS", "100")
    timings = []
    for command, needs_hub in readme_commands():
        if command.startswith(SETUP):
            continue
        started = time.perf_counter()
        with pytest.raises(SystemExit) as stop:
            main(shlex.split(command)[1:])
        _, err = capsys.readouterr()
        code = int(stop.value.code or 0)
        timings.append((time.perf_counter() - started, command))
        if needs_hub:
            last = err.strip().splitlines()[-1]
            assert code == 1 and last.startswith("error: ") and OFFLINE_MESSAGE in last, (
                command,
                err,
            )
        else:
            assert code == 0, (command, err[-2000:])
            assert "Traceback" not in err
    slowest = sorted(timings, reverse=True)[:5]
    print("slowest README commands:", [(round(s, 1), c[:60]) for s, c in slowest])


def test_readme_python_blocks_run(monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for block in readme_blocks("python"):
        exec(compile(block, "README.md", "exec"), {})
