"""Result files: one JSON document per fit, written atomically, enough to reproduce the fit.

A result file records the fit (paper and natural layouts), the resolved design (overrides applied),
a SHA-256 of the fitted data, and the package version. It is written to a temporary file in the
target folder and moved into place with ``os.replace``, so a reader never sees half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gemstones.errors import GemstonesInputError
from gemstones.readers import read_json_file
from registry.atomic import check_output_dir, write_json_atomic

RESULT_SCHEMA = "gemstones.fit_result/1"


def result_record(design_fit: Any) -> dict[str, Any]:
    """The full JSON record of a ``gemstones.scaling.designs.DesignFit``."""
    import gemstones

    record = design_fit.to_dict()
    record["schema"] = RESULT_SCHEMA
    record["resolved_design"] = design_fit.design.to_dict()
    record["data_sha256"] = design_fit.data_sha256
    record["gemstones_version"] = gemstones.__version__
    return record


def result_file_name(design_fit: Any) -> str:
    """Default file name: ``<design>__<law>__approach<k>[__no_embeddings].json``."""
    design = design_fit.design
    parts = [design.name, design.law.name, f"approach{design.law.approach}"]
    if not design.law.embeddings:
        parts.append("no_embeddings")
    safe = ["".join(ch if ch.isalnum() or ch in "-_+." else "_" for ch in p) for p in parts]
    return "__".join(safe) + ".json"


def write_result(design_fit: Any, out_dir: str | Path) -> Path:
    """Write the result record of a fit into ``out_dir``; return the file's path.

    Raises:
        OutputPathError: ``out_dir`` is a file or sits under one.
        AtomicWriteError: the write failed (the folder keeps any earlier result file as it was).
    """
    folder = check_output_dir(out_dir, "--out")
    path = folder / result_file_name(design_fit)
    write_json_atomic(result_record(design_fit), path, sort_keys=True)
    return path


def read_result(path: str | Path) -> dict[str, Any]:
    """Read a result file back.

    Raises:
        GemstonesInputError: missing file or not a gemstones result.
    """
    file = Path(path)
    record = read_json_file(file, "result file")
    if not isinstance(record, dict) or record.get("schema") != RESULT_SCHEMA:
        raise GemstonesInputError(f"{str(file)!r} is not a gemstones fit result ({RESULT_SCHEMA})")
    return record
