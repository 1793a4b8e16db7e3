"""The wheel carries the embedded data and the ``py.typed`` markers, and an installed copy finds the
data without the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_finds_embedded_data_outside_the_repository(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path / "dist")],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("gemstones-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(site)
    assert "registry/_data/catalog/gemstones.parquet" in names
    # PEP 561: type checkers read the annotations of an installed copy
    assert {"registry/py.typed", "fitting/py.typed", "gemstones/py.typed"} <= set(names)
    shipped = {
        name.removeprefix("registry/_data/") for name in names if name.startswith("registry/_data/")
    }
    present = {
        p.relative_to(ROOT / "data").as_posix() for p in (ROOT / "data").rglob("*") if p.is_file()
    }
    assert present <= shipped
    probe = (
        "import registry.embedded as e, registry.catalog as c\n"
        "print(e.embedded_data_dir()); print(len(c.load_catalog(prefer_refreshed=False)))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    data_dir, rows = result.stdout.strip().splitlines()
    assert Path(data_dir) == site / "registry" / "_data"
    assert rows == "5049"
