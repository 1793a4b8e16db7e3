"""Where the registry keeps per-user state: the refreshed (pinned) catalog.

The installed package is never written to. ``GEMSTONES_CACHE`` overrides the location; otherwise
``$XDG_CACHE_HOME/gemstones`` or ``~/.cache/gemstones``.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV_VAR = "GEMSTONES_CACHE"


def user_cache_dir() -> Path:
    """Return the user's gemstones cache folder (not created here)."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "gemstones"


def refreshed_catalog_path(suite: str = "gemstones") -> Path:
    """Return where ``gemstones registry refresh [--suite NAME]`` writes a suite's refreshed catalog.

    ``catalog/<suite>.parquet`` under :func:`user_cache_dir` (may not exist).
    """
    return user_cache_dir() / "catalog" / f"{suite}.parquet"
