"""The executor interface and the ``local`` executor: order, failures, idempotent resumable runs."""

from __future__ import annotations

import pytest

from gemstones.errors import GemstonesInputError
from gemstones.execute import (
    LocalExecutor,
    Resources,
    UnitsFailed,
    available_executors,
    get_executor,
    run_units,
)

from .execute_units import FolderStore, TracedUnit, attempts, traced_square


def _units(tmp_path, n=5, **special):
    log = str(tmp_path / "attempts.log")
    return [
        TracedUnit(key=f"u{i}", value=i, log=log, **special.get(f"u{i}", {})) for i in range(n)
    ], log


def test_registry_names_local_and_ray_and_rejects_unknown_names() -> None:
    assert available_executors() == ["local", "ray"]
    assert isinstance(get_executor("local"), LocalExecutor)
    with pytest.raises(
        GemstonesInputError, match=r"unknown executor 'dask'; available: local, ray"
    ):
        get_executor("dask")


def test_resources_are_validated() -> None:
    with pytest.raises(GemstonesInputError, match="max_retries"):
        Resources(max_retries=-1)
    with pytest.raises(GemstonesInputError, match="gpus=-1"):
        Resources(gpus=-1)


def test_local_map_keeps_order_and_reports_each_result(tmp_path) -> None:
    units, log = _units(tmp_path)
    seen = []
    results = LocalExecutor().map(traced_square, units, on_result=lambda u, r: seen.append(u.key))
    assert [r["square"] for r in results] == [0, 1, 4, 9, 16]
    assert seen == attempts(log) == ["u0", "u1", "u2", "u3", "u4"]


def test_a_failing_unit_does_not_lose_the_others(tmp_path) -> None:
    units, log = _units(tmp_path, u1={"fail": True})
    store = FolderStore(tmp_path / "results")
    with pytest.raises(UnitsFailed) as raised:
        run_units(LocalExecutor(describe=lambda u: u.key), traced_square, units, store=store)
    assert str(raised.value) == "1 of 5 units failed; first: u1: unit u1 has bad input"
    assert raised.value.user_errors_only
    assert sorted(r["key"] for r in store.records()) == ["u0", "u2", "u3", "u4"]
    # the failed unit is not recorded as done: the next run retries only it
    fixed = [TracedUnit(key=u.key, value=u.value, log=log) for u in units]
    summary = run_units(LocalExecutor(), traced_square, fixed, store=store)
    assert [u.key for u in summary.ran] == ["u1"]
    assert len(summary.skipped) == 4
    assert store.saves == ["u0", "u2", "u3", "u4", "u1"]


def test_an_interrupted_run_resumes_without_repeating_done_units(tmp_path) -> None:
    units, log = _units(tmp_path, n=6)
    store = FolderStore(tmp_path / "results")

    def interrupt_after_two(unit, result) -> None:
        if len(store.saves) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_units(LocalExecutor(), traced_square, units, store=store, on_result=interrupt_after_two)
    assert store.saves == ["u0", "u1"]
    summary = run_units(LocalExecutor(), traced_square, units, store=store)
    assert [u.key for u in summary.skipped] == ["u0", "u1"]
    assert attempts(log) == ["u0", "u1", "u2", "u3", "u4", "u5"]
    assert sorted(r["key"] for r in store.records()) == [f"u{i}" for i in range(6)]
    assert run_units(LocalExecutor(), traced_square, units, store=store).ran == ()


def test_snr_sweep_takes_the_executor_options(capsys) -> None:
    from gemstones.cli import main

    for args, message in (
        (["--executor", "dask"], "unknown executor 'dask'; available: local, ray"),
        (["--address", "auto"], "--address goes with --executor ray"),
    ):
        with pytest.raises(SystemExit) as stop:
            main(["snr", "sweep", "--steps", "2", *args])
        err = capsys.readouterr().err.strip()
        assert stop.value.code == 2 and err.startswith(f"error: {message}")
        assert len(err.splitlines()) == 1


@pytest.mark.slow
def test_snr_run_sweep_goes_through_the_executor(tmp_path) -> None:
    from gemstones.snr.sweep import RunSpec, run_sweep, sweep_specs

    class Recording(LocalExecutor):
        def __init__(self) -> None:
            super().__init__()
            self.units: list[object] = []

        def map(self, fn, units, **kwargs):
            self.units.extend(units)
            return super().map(fn, units, **kwargs)

    specs = sweep_specs([16], [1], [1e-2], RunSpec(steps=2, batch_size=4, seq_len=16, n_records=1))
    executor = Recording()
    finished = []
    table, runs = run_sweep(specs, on_step=finished.append, executor=executor)
    assert executor.units == specs and finished == specs
    assert runs["run"].to_list() == [specs[0].name] and table.height > 0


def test_an_unreachable_ray_address_fails_fast(capsys) -> None:
    import socket
    import time

    with socket.socket() as sock:  # a port nobody listens on: bind, never listen
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        started = time.perf_counter()
        with pytest.raises(
            GemstonesInputError,
            match=rf"cannot reach a Ray cluster at --address '127.0.0.1:{port}'",
        ):
            get_executor("ray", address=f"127.0.0.1:{port}")
        with pytest.raises(GemstonesInputError, match=r"ray://127\.0\.0\.1"):
            get_executor("ray", address=f"ray://127.0.0.1:{port}")
    assert time.perf_counter() - started < 10
