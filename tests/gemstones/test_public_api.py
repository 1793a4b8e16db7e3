"""The public API: every advertised name resolves, lazily, and the import direction holds."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import gemstones

ROOT = Path(__file__).resolve().parents[2]


def test_every_exported_name_resolves() -> None:
    for name in gemstones.__all__:
        assert getattr(gemstones, name) is not None
    assert set(gemstones.__all__) == {"__version__", *gemstones._WHERE}
    assert len(gemstones.__all__) == len(set(gemstones.__all__))  # no name listed twice


@pytest.mark.slow
def test_no_export_is_a_module_or_collides_with_one() -> None:
    """``gemstones.NAME`` is the same function or class whatever was imported before it."""
    submodules = {info.name for info in pkgutil.iter_modules(gemstones.__path__)}
    assert not submodules & set(gemstones.__all__)
    before = {name: getattr(gemstones, name) for name in gemstones.__all__}
    for info in pkgutil.walk_packages(gemstones.__path__, "gemstones."):
        if not info.name.endswith("ray_executor"):  # ray is optional
            importlib.import_module(info.name)
    for name, value in before.items():
        assert not isinstance(value, types.ModuleType), name
        assert getattr(gemstones, name) is value, name


def test_exports_that_name_another_topic_say_so() -> None:
    # the test-time-compute table fitter is not the design's fit table
    from fitting.ttc import fit_table
    from gemstones.scaling.designs import fit_design

    assert gemstones.fit_ttc_table is fit_table
    assert gemstones.fit_design is fit_design
    assert "fit_table" not in gemstones.__all__
    assert callable(gemstones.slimadam) and callable(gemstones.scale_by_slim_adam)


def test_dir_lists_the_public_api() -> None:
    assert dir(gemstones) == sorted(gemstones.__all__)
    assert not [
        name for name in gemstones.__all__ if name.startswith("_") and name != "__version__"
    ]


def test_import_is_lazy() -> None:
    code = "import sys, gemstones; print(any(m in sys.modules for m in ('jax', 'matplotlib')))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_registry_and_fitting_never_import_gemstones_or_each_other() -> None:
    rules = {"registry": ("gemstones", "fitting"), "fitting": ("gemstones", "registry")}
    for package, forbidden in rules.items():
        for path in (ROOT / package).rglob("*.py"):
            for line in path.read_text().splitlines():
                match = re.match(r"\s*(?:from|import)\s+(\w+)", line)
                assert not (match and match.group(1) in forbidden), f"{path}: {line.strip()}"


#: Calls that read or write files; ``fitting`` is arrays in, results out.
FILE_IO = re.compile(
    r"\bopen\(|\.(read|write)_(text|bytes)\(|\bpl\.(read|scan)_|\.(write|sink)_(csv|parquet|json|ndjson)\("
    r"|\bnp\.(save|savez|savetxt|load|loadtxt|genfromtxt)\b|\bjson\.(load|dump)\(|\bsavefig\(|\bpickle\b"
)


def test_fitting_does_no_file_io() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "fitting").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if FILE_IO.search(line)
    ]
    assert not offenders, offenders
    assert FILE_IO.search("frame = pl.read_csv(path)") and FILE_IO.search("with open(p) as f:")


def test_import_contracts_hold() -> None:
    """The contracts in .importlinter: layering, no file-system modules in fitting, an acyclic CLI."""
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter)], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " 0 broken" in result.stdout
