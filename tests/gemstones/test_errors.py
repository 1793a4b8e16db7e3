"""The typed error hierarchy: each error type maps to its exit code and one ``error:`` line.

``gemstones.errors.exit_code_for`` is the one map from an error to an exit code, and
``gemstones.cli.main`` the one place that prints it. Every error class the three packages define is
in the table below (a test walks the subclasses), so a new error type cannot go unmapped.
"""

from __future__ import annotations

import importlib
import pickle
import pkgutil
from collections.abc import Callable
from pathlib import Path

import pytest
import typer

import fitting
import gemstones
import gemstones.cli
import registry
from fitting.errors import FitInputError, FittingError
from gemstones.errors import (
    ERROR_BASES,
    GemstonesError,
    GemstonesInputError,
    InputError,
    RuntimeFailure,
    exit_code_for,
    is_user_mistake,
)
from gemstones.evaluate.inputs import EvaluationInputError
from gemstones.execute.base import UnitFailure, UnitsFailed
from gemstones.models.errors import ModelLoadError
from registry.atomic import AtomicWriteError, OutputPathError
from registry.errors import (
    CatalogCacheError,
    HubAnswerError,
    HubError,
    RegistryError,
    RegistryInputError,
)
from registry.hub.client import HubUnreachableError
from registry.hub.refs import RefreshIncompleteError

MESSAGE = "bad value 'x'\n  valid: a, b"

#: Every concrete error type, how to make one, and its exit code.
TABLE: dict[type[BaseException], tuple[Callable[[], BaseException], int]] = {
    GemstonesInputError: (lambda: GemstonesInputError(MESSAGE, value="x", valid="ab"), 2),
    ModelLoadError: (lambda: ModelLoadError(MESSAGE), 2),
    EvaluationInputError: (lambda: EvaluationInputError(MESSAGE), 2),
    RuntimeFailure: (lambda: RuntimeFailure(MESSAGE), 1),
    UnitsFailed: (
        lambda: UnitsFailed([UnitFailure(unit="u1", error=RuntimeError("boom"))], total=2),
        1,
    ),
    RegistryInputError: (lambda: RegistryInputError(MESSAGE, value="x"), 2),
    OutputPathError: (lambda: OutputPathError(MESSAGE), 2),
    HubError: (lambda: HubError(MESSAGE), 1),
    HubAnswerError: (lambda: HubAnswerError(MESSAGE), 1),
    CatalogCacheError: (lambda: CatalogCacheError(MESSAGE), 1),
    HubUnreachableError: (lambda: HubUnreachableError(MESSAGE), 1),
    RefreshIncompleteError: (lambda: RefreshIncompleteError(MESSAGE, result=None), 1),  # type: ignore[arg-type]
    AtomicWriteError: (
        lambda: AtomicWriteError(Path("out.json"), OSError(28, "No space left on device")),
        1,
    ),
    FitInputError: (lambda: FitInputError(MESSAGE, value=-1.0), 2),
}

#: Raised in the driver process only, never by a work unit: not pickled.
DRIVER_ONLY = {UnitsFailed, RefreshIncompleteError}


def _all_error_classes() -> set[type[BaseException]]:
    """Every subclass of the three bases defined in the packages (importing all their modules)."""
    for package in (registry, fitting, gemstones):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name.endswith("ray_executor") or ".models." in info.name:
                continue  # optional dependency / JAX: their errors are imported above
            importlib.import_module(info.name)
    found: set[type[BaseException]] = set()
    pending: list[type[BaseException]] = list(ERROR_BASES)
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.split(".")[0] in ("registry", "fitting", "gemstones"):
                found.add(sub)
            pending.append(sub)
    return found


def test_every_error_class_is_in_the_table() -> None:
    found = _all_error_classes()
    assert {HubUnreachableError, OutputPathError, EvaluationInputError, UnitsFailed} <= found
    assert found <= set(TABLE), found - set(TABLE)


@pytest.mark.parametrize("error_type", list(TABLE), ids=lambda t: t.__name__)
def test_each_error_maps_to_its_exit_code(error_type: type[BaseException]) -> None:
    make, code = TABLE[error_type]
    error = make()
    assert type(error) is error_type
    assert exit_code_for(error) == code
    assert is_user_mistake(error) == (code == 2)
    assert isinstance(error, ValueError) == (code == 2)  # library callers may catch ValueError
    if error_type not in DRIVER_ONLY:  # a unit's error crosses processes (executors)
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is error_type and str(copy) == str(error)


@pytest.mark.parametrize("error_type", list(TABLE), ids=lambda t: t.__name__)
def test_the_cli_prints_one_line_and_exits_with_the_code(
    error_type: type[BaseException],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make, code = TABLE[error_type]
    app = typer.Typer()

    @app.command()
    def fail() -> None:
        raise make()

    @app.command()
    def other() -> None:  # two commands, so `fail` is a subcommand as in the real CLI
        pass

    monkeypatch.setattr(gemstones.cli, "app", app)
    with pytest.raises(SystemExit) as exited:
        gemstones.cli.main(["fail"])
    assert exited.value.code == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err


def test_input_errors_carry_the_value_and_the_valid_choices() -> None:
    for error in (
        GemstonesInputError("m", value="x", valid=["a", "b"]),
        RegistryInputError("m", value="x", valid=["a", "b"]),
        FitInputError("m", value="x", valid=["a", "b"]),
    ):
        assert (error.value, error.valid) == ("x", ("a", "b"))
        copy = pickle.loads(pickle.dumps(error))
        assert (copy.value, copy.valid) == ("x", ("a", "b"))
    assert InputError is GemstonesInputError
    plain = GemstonesInputError("no single value to blame")
    assert plain.value is None and plain.valid is None


def test_units_failed_on_bad_input_only_is_a_user_mistake() -> None:
    mistakes = UnitsFailed([UnitFailure("u", FitInputError("bad"))], total=1)
    assert mistakes.user_errors_only
    mixed = UnitsFailed(
        [UnitFailure("u", FitInputError("bad")), UnitFailure("v", HubError("down"))], total=2
    )
    assert not mixed.user_errors_only


def test_foreign_exceptions_have_no_exit_code() -> None:
    for error in (KeyError("k"), ValueError("v"), OSError(5, "io"), RuntimeError("r")):
        assert exit_code_for(error) is None
    assert {GemstonesError, RegistryError, FittingError} == set(ERROR_BASES)


def test_hub_failures_are_classified_by_type_not_message() -> None:
    from huggingface_hub.errors import OfflineModeIsEnabled

    from registry.hub.client import hub_failure

    offline = hub_failure(OfflineModeIsEnabled("any text"), "listing")
    assert type(offline) is HubUnreachableError
    # huggingface_hub's size check of a finished transfer: a bare OSError without errno
    transfer = hub_failure(OSError("Consistency check failed: size 3 != 5"), "downloading f")
    assert type(transfer) is HubError and "incomplete transfer while downloading f" in str(transfer)
    reworded = hub_failure(OSError("the sizes differ"), "downloading f")
    assert type(reworded) is HubError  # the same class whatever the library's wording
    # a failure of this machine (errno set) is not the Hub's
    assert hub_failure(OSError(28, "No space left on device"), "downloading f") is None
    assert hub_failure(KeyError("k"), "listing") is None


def test_choice_errors_name_the_value_and_the_choices() -> None:
    from gemstones.models.huginn_exits import CRITERIA, check_criterion
    from registry.catalog import load_catalog

    with pytest.raises(RegistryInputError) as unknown_variant:
        load_catalog(prefer_refreshed=False).select(variant="nope")
    assert unknown_variant.value.value == "nope"
    assert unknown_variant.value.valid is not None and "main" in unknown_variant.value.valid
    with pytest.raises(GemstonesInputError) as unknown_criterion:
        check_criterion("nope")
    assert unknown_criterion.value.value == "nope"
    assert unknown_criterion.value.valid == tuple(CRITERIA)
