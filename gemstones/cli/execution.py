"""``--executor`` and ``--address``: the options of commands that fan work out (eval, snr sweep)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gemstones.errors import GemstonesInputError, RuntimeFailure

if TYPE_CHECKING:
    from gemstones.execute import Executor, Resources

ExecutorOption = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where units run: local (this process, the default) or ray (Ray tasks, retried when "
        "a worker dies).",
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Ray cluster to use (auto, ray://HOST:10001); without it a local Ray instance is started.",
    ),
]
CpusOption = Annotated[
    float, typer.Option("--cpus-per-unit", help="CPUs each unit asks of the executor.")
]
GpusOption = Annotated[
    float, typer.Option("--gpus-per-unit", help="GPUs each unit asks of the executor (ray).")
]
RetriesOption = Annotated[
    int, typer.Option("--max-retries", help="Times a unit whose worker died is run again (ray).")
]


def make_executor(name: str, address: str | None, describe: Callable[[Any], str] = str) -> Executor:
    """The executor named by ``--executor`` (checked against the registry).

    Raises:
        GemstonesInputError: an unknown executor, or ``--address`` without ``--executor ray``.
    """
    from gemstones.execute import get_executor

    if address is not None and name != "ray":
        raise GemstonesInputError(f"--address goes with --executor ray, not --executor {name}")
    options: dict[str, Any] = {"describe": describe}
    if name == "ray":
        options["address"] = address
    return get_executor(name, **options)


def make_resources(cpus: float, gpus: float, max_retries: int) -> Resources:
    """``Resources`` from the per-unit options."""
    from gemstones.execute import Resources

    return Resources(cpus=cpus, gpus=gpus, max_retries=max_retries)


@contextmanager
def failures_as_errors(suffix: str = "") -> Iterator[None]:
    """Turn ``UnitsFailed`` into an input error (every failure is bad input: exit 2) or a
    ``RuntimeFailure`` (exit 1), which ``gemstones.cli.main`` prints as one ``error:`` line."""
    from gemstones.execute import UnitsFailed

    try:
        yield
    except UnitsFailed as failed:
        if failed.user_errors_only:
            raise GemstonesInputError(f"{failed}{suffix}") from None
        raise RuntimeFailure(f"{failed}{suffix}") from None
