"""An r-sweep of the shipped byte-level recurrent LM on a real local Ray cluster (2 CPUs), ending in
a ``ttc fit`` of its curves."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from fitting.ttc import fit_table
from gemstones.evaluate import rsweep
from gemstones.execute import Resources, get_executor
from gemstones.ttc.ingest import read_results

pytestmark = pytest.mark.slow

BYTES = Path(__file__).resolve().parents[2] / "data" / "recurrent" / "huginn_bytes"


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[object]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_r_sweep_ends_in_a_ttc_fit_with_intervals(ray_cluster, tmp_path: Path) -> None:
    tasks = tmp_path / "cloze.jsonl"
    tasks.write_text("\n".join((BYTES / "cloze.jsonl").read_text().splitlines()[:16]) + "\n")
    corpus = tmp_path / "heldout.jsonl"
    corpus.write_text("\n".join((BYTES / "heldout.jsonl").read_text().splitlines()[:8]) + "\n")
    settings = rsweep.sweep_settings([1, 2, 3, 4, 8], [("kl", 1e-2)])
    executor = get_executor("ray", describe=rsweep.describe_unit)
    with executor:
        result = rsweep.run_rsweep(
            BYTES / "model",
            out=tmp_path / "sweep",
            settings=settings,
            tasks=tasks,
            corpus=corpus,
            batch_size=16,
            executor=executor,
            resources=Resources(cpus=1, max_retries=1),
        )
    assert sorted(result.ran) == sorted(s.key for s in settings) and not result.skipped
    assert len(result.files) == 5
    exit_row = result.table.filter(result.table["criterion"] == "kl").row(0, named=True)
    assert 1 <= exit_row["mean_steps"] < 8

    frame = read_results(tmp_path / "sweep" / "lm_eval")
    curves = fit_table(frame, chance=result.chance, bootstrap=40, seed=0)
    by_metric = {c.metric: c.result for c in curves}
    loss = by_metric["bits_per_byte"]
    assert loss.y[0] > loss.y[-1]  # r = 1 predicts worse than r = 8
    for name in ("A", "r50", "r95"):
        lo, hi = loss.ci[name]
        assert math.isfinite(lo) and math.isfinite(hi) and hi > lo, (name, lo, hi)
    assert loss.ci["A"][0] <= loss.ceiling <= loss.ci["A"][1]
    assert "acc" in by_metric  # the accuracy curve is fitted too (flat or not, it is reported)
