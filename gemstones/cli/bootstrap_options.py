"""The bootstrap options every command shares: ``--resamples N --seed S --ci LEVEL``.

``fit``, ``frontier`` and ``ttc fit`` declare them from here, so the names, help, bounds and
messages are the same everywhere: resamples 0 to 100,000 (0: no bootstrap, point estimates
only), seed 0 to 2**32-1 (default 0), ci strictly between 0 and 1 (default 0.95). The bounds are the
engine's (``fitting.bootstrap.MAX_RESAMPLES``, ``MAX_SEED``).
"""

from __future__ import annotations

from typing import Any

import typer

from fitting.bounds import DEFAULT_LEVEL, MAX_RESAMPLES, MAX_SEED

DEFAULT_CI = DEFAULT_LEVEL
"""Default central coverage of printed intervals and plotted bands (0.95 on every command)."""


def resamples_option() -> Any:
    """The ``--resamples`` option (each command sets its default; ``--help`` shows it)."""
    return typer.Option(
        "--resamples",
        help=f"Bootstrap resamples for the intervals and bands (0: none; at most "
        f"{MAX_RESAMPLES:,}).",
    )


def seed_option() -> Any:
    """The ``--seed`` option."""
    return typer.Option("--seed", help=f"Bootstrap seed (0 to {MAX_SEED:,}).")


def ci_option() -> Any:
    """The ``--ci`` option."""
    return typer.Option(
        "--ci",
        help="Central coverage of the printed intervals and plotted bands, between 0 and 1.",
    )


def check_bootstrap_options(
    resamples: int, seed: int, ci: float, *, resamples_name: str = "--resamples"
) -> None:
    """Check the three options; a one-line ``GemstonesInputError`` (exit 2) names the bad one.

    Raises:
        GemstonesInputError: resamples outside 0..100,000, seed outside 0..2**32-1, or ci outside
            (0, 1).
    """
    from gemstones.errors import GemstonesInputError

    if isinstance(resamples, bool) or not 0 <= resamples <= MAX_RESAMPLES:
        raise GemstonesInputError(
            f"{resamples_name} {resamples!r} is out of range; valid: 0 (no bootstrap) to "
            f"{MAX_RESAMPLES:,}"
        )
    if isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise GemstonesInputError(f"--seed {seed!r} is out of range; valid: 0 to {MAX_SEED:,}")
    if isinstance(ci, bool) or not 0.0 < ci < 1.0:
        raise GemstonesInputError(
            f"--ci {ci!r} is out of range; valid: strictly between 0 and 1, e.g. 0.95"
        )
