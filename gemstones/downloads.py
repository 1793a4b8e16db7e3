"""Download curated subsets of the Gemstones suite from a notebook or script.

A thin layer over :func:`registry.hub.download.download_checkpoints` that accepts what users hold
(of any suite: ``suite="pythia"`` selects from the Pythia catalog):
a :class:`registry.catalog.Catalog`, a polars frame of catalog rows, or nothing (then the filters
of ``Catalog.select`` apply to the current catalog)::

    from gemstones.downloads import download_subset
    plan = download_subset(width=512, min_tokens=99e9, max_tokens=101e9, files="config,weights", dry_run=True)
    print(plan.summary())

The same rules as ``gemstones registry download`` hold: pinned commits, safetensors only unless
``allow_pickle``, ``max_bytes``, a manifest with hashes, and an offline size estimate on dry runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from registry.catalog import Catalog, load_catalog
from registry.hub.download import (
    DownloadEstimate,
    DownloadPlan,
    DownloadResult,
    download_checkpoints,
)
from registry.hub.files import parse_files_choice


def download_subset(
    selection: Catalog | pl.DataFrame | None = None,
    *,
    files: str | tuple[str, ...] = "config,tokenizer",
    to: str | Path | None = None,
    dry_run: bool = False,
    max_bytes: int | None = None,
    allow_pickle: bool = False,
    max_workers: int = 4,
    endpoint: str | None = None,
    suite: str | None = None,
    **filters: Any,
) -> DownloadEstimate | DownloadPlan | DownloadResult:
    """Plan or perform the download of a subset of checkpoints.

    Args:
        selection: A Catalog or frame of rows; None = the current catalog narrowed by ``filters``.
        files: ``config``, ``tokenizer``, ``weights`` or ``all`` (comma-separated or a tuple).
        to: Plain folder for the files; None = the standard Hugging Face cache.
        dry_run: Only report the count and size (exact when the Hub is reachable, else estimated).
        max_bytes: Refuse a subset larger than this many bytes.
        allow_pickle: Accept pickled weights when a checkpoint has no safetensors.
        max_workers: Concurrent downloads.
        endpoint: Hub URL (default ``HF_ENDPOINT`` or https://huggingface.co).
        suite: The suite whose current catalog ``filters`` narrow when ``selection`` is None
            (default Gemstones; e.g. ``"pythia"``).
        **filters: Keyword filters of ``Catalog.select`` (variant, width, depth, min_tokens, ...).

    Returns:
        DownloadEstimate or DownloadPlan for dry runs, DownloadResult (with the manifest path) otherwise.
    """
    if selection is None:
        selection = load_catalog(suite=suite)
    if isinstance(selection, Catalog):
        selection = selection.select(**filters).frame if filters else selection.frame
    elif filters:
        selection = Catalog(frame=selection).select(**filters).frame
    return download_checkpoints(
        selection,
        files=parse_files_choice(files),
        to=Path(to) if to is not None else None,
        dry_run=dry_run,
        max_bytes=max_bytes,
        allow_pickle=allow_pickle,
        max_workers=max_workers,
        endpoint=endpoint,
    )


__all__ = ["download_subset"]
