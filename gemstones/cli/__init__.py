"""The ``gemstones`` command line.

Each command group lives in its own module and registers itself on ``app``; heavy libraries
(JAX, matplotlib) are imported inside the commands so that ``gemstones --help`` stays fast.
User mistakes end with a one-line ``error: ...`` and exit code 2; runtime failures with exit 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from fitting.errors import FitInputError
from gemstones.errors import GemstonesInputError
from registry.errors import HubError, RegistryInputError

# Importing the command modules registers their commands on ``app``.
from . import (  # noqa: F401
    eval_cmds,
    fit_cmds,
    frontier_cmds,
    hub_cmds,
    registry_cmds,
    rsweep_cmds,
    snr_cmds,
    ttc_cmds,
)
from .app import app

USER_ERRORS = (GemstonesInputError, RegistryInputError, FitInputError)
RUNTIME_ERRORS = (HubError,)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; map user errors to exit 2 and runtime failures to exit 1, without tracebacks.

    Typer (in standalone mode) reports bad options and arguments itself, with exit code 2.
    """
    command = typer.main.get_command(app)
    try:
        command.main(
            args=list(argv) if argv is not None else None,
            prog_name="gemstones",
            standalone_mode=True,
        )
    except USER_ERRORS as mistake:
        typer.echo(f"error: {mistake}", err=True)
        sys.exit(2)
    except RUNTIME_ERRORS as failure:
        typer.echo(f"error: {failure}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


__all__ = ["app", "main"]
