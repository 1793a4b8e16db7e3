"""Execute every notebook in notebooks/ from a clean kernel; a cell that raises fails the test."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook runs top to bottom in a temporary working folder and shows its figures."""
    # The suite runs headless with MPLBACKEND=Agg; a notebook kernel must get Jupyter's inline
    # backend instead, as a user's does, so that figures appear as image outputs.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    document = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        document,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        output
        for cell in document.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    images = [
        output
        for cell in document.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images, f"{notebook.name} shows no figure"
    if notebook.stem.startswith("05_"):  # its figures show inline (no library switches the backend)
        assert len(images) >= 3
