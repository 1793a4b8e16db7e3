"""JAX's persistent compilation cache in the user cache folder: a fit compiles once per machine.

The fitter's JAX solvers are compiled by XLA on first use (about a second per solver on a laptop;
small fits run on the numpy engine instead and compile nothing, see ``fitting.lm_engine``).
JAX can keep compiled programs on disk and reload them in later processes; ``import gemstones``
switches that on, pointing it at ``<user cache>/jax`` (``GEMSTONES_CACHE``, else
``$XDG_CACHE_HOME/gemstones`` or ``~/.cache/gemstones``), through JAX's own environment variables,
so JAX itself is not imported here. Set ``GEMSTONES_JAX_CACHE`` to:

- ``0`` (or ``false``, ``no``, ``off``) to turn it off;
- a folder path to use that folder instead.

A cache folder the user already gave JAX (``JAX_COMPILATION_CACHE_DIR``) is left alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from registry.user_cache import user_cache_dir

JAX_CACHE_ENV_VAR = "GEMSTONES_JAX_CACHE"
FIT_ENGINE_ENV_VAR = "GEMSTONES_FIT_ENGINE"
"""``auto`` (default), ``numpy`` or ``jax``: the engine of approach-3 fits (``fitting.lm_engine``)."""
_OFF = frozenset({"0", "false", "no", "off"})
_ON = frozenset({"", "1", "true", "yes", "on"})


def jax_cache_dir() -> Path | None:
    """The persistent compilation cache folder, or None when ``GEMSTONES_JAX_CACHE`` turns it off.

    Example:
        >>> jax_cache_dir()  # doctest: +SKIP
        PosixPath('/home/me/.cache/gemstones/jax')
    """
    value = os.environ.get(JAX_CACHE_ENV_VAR, "").strip()
    if value.lower() in _OFF:
        return None
    if value.lower() in _ON:
        return user_cache_dir() / "jax"
    return Path(value).expanduser()


def enable_compilation_cache() -> Path | None:
    """Point JAX's persistent compilation cache at ``jax_cache_dir()`` (cache every program).

    Before JAX is imported this only sets JAX's environment variables (cheap); afterwards it
    updates JAX's configuration, unless a cache folder is already configured.

    Returns:
        The folder in use, or None when the cache is off.
    """
    directory = jax_cache_dir()
    if directory is None:
        return None
    settings = {
        "jax_compilation_cache_dir": str(directory),
        # cache every program, however quick to compile: most of ours take well under a second
        "jax_persistent_cache_min_compile_time_secs": "0",
        "jax_persistent_cache_min_entry_size_bytes": "0",
    }
    jax = sys.modules.get("jax")
    if jax is None:
        for name, value in settings.items():
            os.environ.setdefault(name.upper(), value)
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    configured = jax.config.jax_compilation_cache_dir
    if configured:
        return Path(configured)
    jax.config.update("jax_compilation_cache_dir", settings["jax_compilation_cache_dir"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


def apply_fit_engine() -> None:
    """Make ``GEMSTONES_FIT_ENGINE`` (unset or empty: ``auto``) the process's default fit engine.

    ``fitting`` reads no environment; the design fits and bootstraps call this before fitting, so
    the variable set in a shell or a notebook takes effect. A bad value is reported by the fit
    (``unknown GEMSTONES_FIT_ENGINE 'x'; valid: auto, numpy, jax``).
    """
    from fitting.lm_engine import set_default_engine

    value = os.environ.get(FIT_ENGINE_ENV_VAR, "").strip()
    set_default_engine(value or "auto", FIT_ENGINE_ENV_VAR if value else "engine")
