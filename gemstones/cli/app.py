"""The root Typer application and its command groups, shared by the command modules."""

from __future__ import annotations

import typer

# Plain click help (rich_markup_mode=None): rendering help with rich imports rich's markdown
# stack, which doubles the start-up time of `gemstones --help`.
PLAIN_HELP = None
#: ``-h`` and ``--help`` on every command (sub-contexts inherit the root's help option names).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="gemstones",
    help="Scaling-law analysis of the Gemstones checkpoint suite: registry, fits, prescriptions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=PLAIN_HELP,
    context_settings=CONTEXT_SETTINGS,
)


def _print_version(value: bool) -> None:
    if value:
        from gemstones import __version__

        typer.echo(f"gemstones {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_print_version,
        is_eager=True,
        help="Print the gemstones version and exit.",
    ),
) -> None:
    """Scaling-law analysis of the Gemstones checkpoint suite: registry, fits, prescriptions."""


def command_group(name: str, help: str) -> typer.Typer:
    """A ``gemstones NAME ...`` command group: plain help, help when called bare, added to ``app``.

    Args:
        name: the group's name on the command line.
        help: its one-line description.

    Returns:
        The group, whose ``command`` decorator registers its subcommands.

    Example:
        >>> demo = command_group("demo", "A group only this example uses.")  # doctest: +SKIP
    """
    group = typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=PLAIN_HELP)
    app.add_typer(group, name=name)
    return group


registry_app = command_group(
    "registry", "Query, refresh, verify and download the checkpoint catalog."
)
suites_app = command_group(
    "suites", "List and show the checkpoint suites (gemstones, pythia, ...)."
)
designs_app = command_group("designs", "List and show the built-in fit designs.")
snr_app = command_group("snr", "SlimAdam second-moment SNR: rules, reports, sweeps.")
ttc_app = command_group("ttc", "Test-time-compute curves of recurrent-depth models.")
recurrent_app = command_group("recurrent", "Tiny recurrent-depth model runs.")
