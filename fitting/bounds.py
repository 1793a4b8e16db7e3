"""The bootstrap engine's bounds and default level, importable without numpy.

The CLI declares its ``--resamples/--seed/--ci`` options from these (``gemstones --help`` must stay
free of numpy and scipy); :mod:`fitting.bootstrap` enforces them.
"""

DEFAULT_LEVEL = 0.95
"""Default central coverage of intervals and bands."""
MAX_RESAMPLES = 100_000
"""Most resamples one bootstrap may ask for."""
MAX_SEED = 2**32 - 1
"""Largest bootstrap seed (seeds run from 0)."""
