"""Result files: one JSON document per fit, written atomically, enough to reproduce the fit.

A result file records the fit (paper and natural layouts, with ``E`` and ``log_E``), the resolved
design (overrides applied), the prescriptions computed with it (``null`` when none were asked for),
a SHA-256 of the fitted data, and the package version. It is written through ``registry/atomic.py``
(a temporary file in the target folder, fsync, rename), so a reader never sees half a file, with
ordinary permissions (``0o666`` less the umask).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gemstones.errors import GemstonesInputError
from gemstones.readers import read_json_file
from registry.atomic import check_output_dir, write_json_atomic

RESULT_SCHEMA = "gemstones.fit_result/1"


def result_record(design_fit: Any, prescriptions: Any | None = None) -> dict[str, Any]:
    """The full JSON record of a ``gemstones.scaling.designs.DesignFit``.

    Args:
        design_fit: the fit.
        prescriptions: the prescription table (``prescribe.prescription_table``) to keep with it.
    """
    import gemstones

    record = design_fit.to_dict()
    record["prescriptions"] = None if prescriptions is None else prescriptions.to_dicts()
    record["schema"] = RESULT_SCHEMA
    record["resolved_design"] = design_fit.design.to_dict()
    record["data_sha256"] = design_fit.data_sha256
    record["gemstones_version"] = gemstones.__version__
    return record


def result_stem(design_fit: Any) -> str:
    """``<design>__<law>__approach<k>[__no_embeddings]``: names a fit's result file and figures."""
    design = design_fit.design
    parts = [design.name, design.law.name, f"approach{design.law.approach}"]
    if not design.law.embeddings:
        parts.append("no_embeddings")
    safe = ["".join(ch if ch.isalnum() or ch in "-_+." else "_" for ch in p) for p in parts]
    return "__".join(safe)


def result_file_name(design_fit: Any) -> str:
    """Default file name: ``<design>__<law>__approach<k>[__no_embeddings].json``."""
    return result_stem(design_fit) + ".json"


def write_result(design_fit: Any, out_dir: str | Path, *, prescriptions: Any | None = None) -> Path:
    """Write the result record of a fit (and its prescriptions) into ``out_dir``; return the path.

    Example:
        >>> write_result(fit_design(load_design("hot")), "results/")  # doctest: +SKIP
        PosixPath('results/hot__params-tokens__approach3.json')

    Raises:
        OutputPathError: ``out_dir`` is a file or sits under one.
        AtomicWriteError: the write failed (the folder keeps any earlier result file as it was).
    """
    folder = check_output_dir(out_dir, "--out")
    path = folder / result_file_name(design_fit)
    write_json_atomic(result_record(design_fit, prescriptions), path, sort_keys=True)
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
