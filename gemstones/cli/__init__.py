"""The ``gemstones`` command line.

Each command group lives in its own module and registers itself on ``app``; heavy libraries
(JAX, matplotlib) are imported inside the commands so that ``gemstones --help`` stays fast.

:func:`main` is the one place where errors become exit codes, each reported on one line
``error: ...``: every package's errors carry their exit code (``gemstones.errors.exit_code_for``):
user mistakes (typed input errors, bad options) exit 2, runtime failures (the Hub, a write that
failed, failed work units) exit 1. Readers and writers translate library errors (polars, JSON, TOML,
``OSError``) into these typed errors where they happen; nothing here matches on message text.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence

import typer

try:  # typer >= 0.20 vendors click as typer._click
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer uses click itself
    import click  # type: ignore[no-redef]

from gemstones.errors import ERROR_BASES, RUNTIME_FAILURE, exit_code_for

# Importing the command modules registers their commands on ``app``.
from . import (  # noqa: F401
    eval_cmds,
    fit_cmds,
    frontier_cmds,
    hub_cmds,
    laws_cmds,
    metrics_cmds,
    registry_cmds,
    rsweep_cmds,
    snr_cmds,
    suites_cmds,
    ttc_cmds,
    validate_cmds,
)
from .app import app


def one_line(message: object) -> str:
    """``message`` as one line: line breaks become ``"; "``, runs of blanks one space."""
    parts = [" ".join(line.split()) for line in str(message).splitlines()]
    return "; ".join(part for part in parts if part) or type(message).__name__


def _fail(message: object, code: int) -> None:
    typer.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


def _given_value(args: Sequence[str], usage: Exception) -> str | None:
    """The text the user gave for the option a ``BadParameter`` names (``--opt V`` or ``--opt=V``)."""
    options = getattr(getattr(usage, "param", None), "opts", None) or []
    for index, token in enumerate(args):
        for option in options:
            if not option.startswith("-"):
                continue
            if token == option and index + 1 < len(args):
                return args[index + 1]
            if token.startswith(f"{option}="):
                return token[len(option) + 1 :]
    return None


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; every failure ends in one line ``error: ...`` and an exit code, never a traceback.

    Exit codes: 0 success, 2 a user mistake (a bad option, value, file or path), 1 a runtime
    failure (the Hub, a failed write), 130 interrupted.

    Example:
        >>> main(["registry", "stats", "--format", "json"])  # doctest: +SKIP
    """
    command = typer.main.get_command(app)
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        code = command.main(
            args=args,
            prog_name="gemstones",
            standalone_mode=False,
        )
    except click.exceptions.NoArgsIsHelpError as usage:  # the help was printed already
        sys.exit(usage.exit_code)
    except click.exceptions.ClickException as usage:
        hint = ""
        given = _given_value(args, usage)
        if given is not None:
            hint += f" (got {given!r})"
        context = getattr(usage, "ctx", None)
        if isinstance(usage, click.exceptions.UsageError) and context is not None:
            hint += f" (see `{context.command_path} --help`)"
        _fail(f"{one_line(usage.format_message())}{hint}", usage.exit_code)
    except ERROR_BASES as error:  # every package's typed errors; the class says the exit code
        _fail(error, exit_code_for(error) or RUNTIME_FAILURE)
    except typer.Abort:
        _fail("aborted", RUNTIME_FAILURE)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:  # e.g. `gemstones registry list | head`
        sys.stderr.close()
        sys.exit(1)
    except OSError as failure:
        if failure.errno == errno.EPIPE:
            sys.exit(1)
        raise
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
