"""The ``ray`` executor on a real local Ray cluster (2 CPUs): a worker killed mid-sweep is retried,
nothing is lost or duplicated, and an interrupted sweep resumes."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import ray

from gemstones.execute import Resources, UnitsFailed, get_executor, run_units

from . import execute_units
from .execute_units import FolderStore, TracedUnit, attempts, traced_square

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[object]:
    """One local Ray instance with 2 CPUs for the module; always shut down."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[execute_units.__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _units(tmp_path, n, **special):
    log = str(tmp_path / "attempts.log")
    return [
        TracedUnit(key=f"u{i}", value=i, log=log, **special.get(f"u{i}", {})) for i in range(n)
    ], log


def test_a_killed_worker_is_retried_and_every_unit_is_saved_once(ray_cluster, tmp_path) -> None:
    units, log = _units(tmp_path, 6, u3={"die_once": True, "sleep_s": 0.2})
    store = FolderStore(tmp_path / "results")
    executor = get_executor("ray")
    summary = run_units(
        executor, traced_square, units, store=store, resources=Resources(cpus=1, max_retries=2)
    )
    executor.close()
    assert ray_cluster.is_initialized()  # the executor leaves a cluster it did not start
    assert sorted(summary.results, key=lambda r: r["key"]) == [
        {"key": f"u{i}", "square": i * i} for i in range(6)
    ]
    tried = attempts(log)
    assert tried.count("u3") == 2  # killed once, retried by Ray
    assert all(tried.count(f"u{i}") == 1 for i in (0, 1, 2, 4, 5))
    assert sorted(store.saves) == [f"u{i}" for i in range(6)]  # each saved exactly once
    assert [r["square"] for r in store.records()] == [i * i for i in range(6)]


def test_a_unit_that_keeps_dying_fails_alone(ray_cluster, tmp_path) -> None:
    units, _ = _units(tmp_path, 3, u1={"die_once": True})
    store = FolderStore(tmp_path / "results")
    with pytest.raises(UnitsFailed) as raised:
        run_units(
            get_executor("ray", describe=lambda u: u.key),
            traced_square,
            units,
            store=store,
            resources=Resources(max_retries=0),
        )
    assert raised.value.failures[0].unit.key == "u1"
    assert not raised.value.user_errors_only
    assert sorted(store.saves) == ["u0", "u2"]


def test_an_exception_in_a_unit_comes_back_as_itself(ray_cluster, tmp_path) -> None:
    units, _ = _units(tmp_path, 2, u0={"fail": True})
    with pytest.raises(UnitsFailed, match="u0 has bad input") as raised:
        get_executor("ray").map(traced_square, units)
    assert raised.value.user_errors_only


def test_an_interrupted_ray_sweep_resumes(ray_cluster, tmp_path) -> None:
    units, _ = _units(tmp_path, 6)
    store = FolderStore(tmp_path / "results")

    def interrupt(unit, result) -> None:
        if len(store.saves) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_units(get_executor("ray"), traced_square, units, store=store, on_result=interrupt)
    done_before = set(store.saves)
    assert len(done_before) == 3
    summary = run_units(get_executor("ray"), traced_square, units, store=store)
    assert {u.key for u in summary.skipped} == done_before
    assert {u.key for u in summary.ran} == {f"u{i}" for i in range(6)} - done_before
    assert sorted(r["key"] for r in store.records()) == [f"u{i}" for i in range(6)]
    assert len(store.saves) == 6  # nothing saved twice


def test_an_snr_sweep_on_ray_equals_the_local_one(ray_cluster) -> None:
    from gemstones.snr.sweep import RunSpec, run_sweep, sweep_specs

    specs = sweep_specs(
        [16], [1], [1e-2, 3e-2], RunSpec(steps=3, batch_size=4, seq_len=16, n_records=2)
    )
    finished = []
    on_ray, runs_ray = run_sweep(specs, on_step=finished.append, executor=get_executor("ray"))
    local, runs_local = run_sweep(specs)
    assert sorted(s.name for s in finished) == sorted(s.name for s in specs)
    assert runs_ray["run"].to_list() == runs_local["run"].to_list()  # the order of the specs
    assert on_ray.select("run", "tensor", "axes").equals(local.select("run", "tensor", "axes"))
    assert (on_ray["snr"] - local["snr"]).abs().max() < 1e-5
