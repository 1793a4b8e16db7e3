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


registry_app = typer.Typer(
    help="Query, refresh, verify and download the checkpoint catalog.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
suites_app = typer.Typer(
    help="List and show the checkpoint suites (gemstones, pythia, ...).",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
designs_app = typer.Typer(
    help="List and show the built-in fit designs.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
snr_app = typer.Typer(
    help="SlimAdam second-moment SNR: rules, reports, sweeps.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
ttc_app = typer.Typer(
    help="Test-time-compute curves of recurrent-depth models.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
recurrent_app = typer.Typer(
    help="Tiny recurrent-depth model runs.", no_args_is_help=True, rich_markup_mode=PLAIN_HELP
)

app.add_typer(registry_app, name="registry")
app.add_typer(suites_app, name="suites")
app.add_typer(designs_app, name="designs")
app.add_typer(snr_app, name="snr")
app.add_typer(ttc_app, name="ttc")
app.add_typer(recurrent_app, name="recurrent")
