"""Registry -> evaluate -> fit, end to end against the loopback Hub.

The fake Hub (tests/registry/hub_server.py) serves tiny bigram Gemma checkpoints
(tests/gemstones/eval_fixtures.py) at pinned commits on the branches of the first three catalog
revisions of Gemstone-768x3 and Gemstone-256x23; the real ``huggingface_hub`` client downloads them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gemstones.cli import main
from registry.hub.files import categorize
from registry.suites.gemstones.architecture import forward_flops_per_token
from tests.registry.conftest import prepare_hub_env, served_rows
from tests.registry.hub_server import FakeHub, HubState, tiny_safetensors

from .eval_fixtures import eval_hub_state, held_out_documents, write_corpus

BOTH = ["--variant", "main", "--shape", "768x3,256x23", "--max-tokens", "6.1e9"]
ONE = ["--variant", "main", "--shape", "768x3", "--max-tokens", "6.1e9"]
REPO_768 = "tomg-group-umd/Gemstone-768x3"


@lru_cache(maxsize=1)
def _state_files() -> dict[str, dict[str, dict[str, bytes]]]:
    """repo -> branch -> files, built once (the bigram checkpoints take a moment to count)."""
    state = eval_hub_state(served_rows())
    return {
        repo_id: {branch: repo.commits[commit] for branch, commit in repo.branches.items()}
        for repo_id, repo in state.repos.items()
    }


def fresh_state(broken: tuple[str, str] | None = None) -> HubState:
    """A new Hub state holding the cached checkpoints; ``broken`` = (repo, branch) gets bad weights."""
    from tests.registry.hub_server import FakeRepo

    state = HubState()
    for repo_id, branches in _state_files().items():
        repo = state.add_repo(FakeRepo(repo_id))
        for branch, files in branches.items():
            if branch == "main":
                continue
            if broken == (repo_id, branch):
                files = {**files, "model.safetensors": b"\xff" * 8 + files["model.safetensors"][8:]}
            repo.add_branch(branch, files)
        repo.branches["main"] = repo.branches[max(b for b in repo.branches)]
    return state


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A running loopback Hub with the tiny checkpoints; HF_ENDPOINT points at it."""
    prepare_hub_env(tmp_path, monkeypatch)
    with FakeHub(fresh_state()) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "held_out.jsonl")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(args)
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def eval_loss(args, corpus, out_dir, capsys, *extra) -> tuple[int, str, str]:
    return run(
        ["eval", "loss", *args, "--corpus", str(corpus), "--context", "128",
         "--out", str(out_dir), *extra],
        capsys,
    )  # fmt: skip


def downloads(hub: FakeHub) -> list[object]:
    return [e for e in hub.state.requests("GET", "/resolve/")]


def test_dry_run_prints_count_exact_bytes_and_flops_without_downloading(
    hub, corpus, tmp_path, capsys
) -> None:
    code, out, err = eval_loss(
        BOTH, corpus, tmp_path / "evals", capsys, "--dry-run", "--format", "json"
    )
    assert code == 0, err
    estimate = json.loads(out)
    served = [
        len(content)
        for repo in hub.state.repos.values()
        for branch, commit in repo.branches.items()
        if branch != "main"
        for name, content in repo.commits[commit].items()
        if categorize(name) in ("config", "tokenizer", "weights")
    ]
    assert estimate["checkpoints"] == 6 and estimate["done"] == 0 and estimate["exact"] is True
    assert estimate["download_bytes"] == sum(served)
    tokens = sum(len(d.encode()) for d in held_out_documents()) / 4.0
    rows = served_rows()
    flops = forward_flops_per_token(rows["width"].to_numpy(), rows["depth"].to_numpy(), 128)
    assert estimate["flops"] == pytest.approx(float(np.sum(flops)) * tokens, rel=1e-9)
    assert downloads(hub) == []
    code, out, _ = eval_loss(BOTH, corpus, tmp_path / "evals", capsys, "--dry-run")
    assert code == 0 and "checkpoints        6" in out and "evaluation FLOPs" in out


def test_offline_dry_run_estimates_from_the_catalog(hub_env_offline, corpus, tmp_path, capsys):
    code, out, err = eval_loss(
        BOTH, corpus, tmp_path / "evals", capsys, "--dry-run", "--format", "json"
    )
    assert code == 0, err
    estimate = json.loads(out)
    assert estimate["exact"] is False and estimate["done"] is None
    assert estimate["checkpoints"] == 6 and estimate["download_bytes"] > 10**8  # real shapes


@pytest.fixture
def hub_env_offline(tmp_path, monkeypatch):
    prepare_hub_env(tmp_path, monkeypatch)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_a_sweep_records_one_pinned_result_per_checkpoint_and_resumes(
    hub, corpus, tmp_path, capsys
) -> None:
    out_dir = tmp_path / "evals"
    code, out, err = eval_loss(ONE, corpus, out_dir, capsys, "--format", "json")
    assert code == 0, err
    first = json.loads(out)
    assert [r["revision"] for r in first] == ["step_00000477", "step_00000954", "step_00001431"]
    commits = hub.state.repos[REPO_768].branches
    for record in first:
        assert record["commit"] == commits[record["revision"]]
        path = out_dir / REPO_768 / record["commit"] / f"{record['metric_set']}.json"
        assert json.loads(path.read_text())["values"]["loss"] == record["loss"]
    losses = [r["loss"] for r in first]
    assert losses[0] > losses[1] > losses[2]  # more counting text, lower held-out loss
    assert all(r["tokens"] > 0 and r["bits_per_byte"] > 0 for r in first)
    fetched = len(downloads(hub))
    # again: nothing is evaluated or downloaded twice, and the numbers are those recorded
    code, out, err = eval_loss(ONE, corpus, out_dir, capsys, "--format", "json")
    assert code == 0 and "3 of 3 checkpoints already evaluated" in err
    assert json.loads(out) == first
    assert len(downloads(hub)) == fetched
    # widening the sweep evaluates only the new checkpoints
    code, out, err = eval_loss(BOTH, corpus, out_dir, capsys, "--format", "json")
    assert code == 0 and "3 of 6 checkpoints already evaluated" in err
    assert len(json.loads(out)) == 6


@pytest.mark.slow
def test_results_join_the_catalog_and_a_design_fits_them(hub, corpus, tmp_path, capsys) -> None:
    out_dir = tmp_path / "evals"
    code, _, err = eval_loss(BOTH, corpus, out_dir, capsys)
    assert code == 0, err
    code, out, _ = run(["eval", "results", "--out", str(out_dir), "--format", "json"], capsys)
    listed = json.loads(out)
    assert code == 0 and len(listed) == 6 and {r["metric"] for r in listed} == {"held_out"}
    design = tmp_path / "mine.toml"
    design.write_text(
        'name = "mine"\n[selection]\nvariant = "main"\nshapes = ["768x3", "256x23"]\n'
        'loss = "eval_loss_held_out"\nresults = "evals"\n[law]\nform = "params-tokens"\n'
    )
    code, out, err = run(["fit", "--design", str(design), "--format", "json"], capsys)
    assert code == 0, err
    fit = json.loads(out)
    assert fit["design"] == "mine" and fit["n_points"] == 6
    from gemstones.scaling.designs import design_table, load_design

    table = design_table(load_design(design))
    measured = {(r["repo_id"], r["revision"]): r["loss"] for r in listed}
    assert {
        (repo, rev): loss
        for repo, rev, loss in table.select("repo_id", "revision", "loss").iter_rows()
    } == pytest.approx(measured)
    # a design naming a metric nobody evaluated says so
    design.write_text(design.read_text().replace("eval_loss_held_out", "eval_loss_other"))
    code, _, err = run(["fit", "--design", str(design)], capsys)
    assert code == 2 and "evaluate it first with `gemstones eval`" in err


def test_one_hub_checkpoint_by_repo_and_revision(hub, corpus, tmp_path, capsys) -> None:
    code, out, err = eval_loss(
        ["--model", f"{REPO_768}@step_00000954"],
        corpus,
        tmp_path / "evals",
        capsys,
        "--format",
        "json",
    )
    assert code == 0, err
    (record,) = json.loads(out)
    assert record["commit"] == hub.state.repos[REPO_768].branches["step_00000954"]
    assert {"loss", "bits_per_byte", "tokens"} <= set(record)


def test_no_keep_weights_deletes_only_the_weights_it_fetched(hub, corpus, tmp_path, capsys) -> None:
    cache = Path(tmp_path / "hf" / "hub")
    # the user already has one checkpoint's weights in the cache
    code, _, err = run(
        ["registry", "download", *ONE, "--max-tokens", "2.1e9", "--files", "weights"], capsys
    )
    assert code == 0, err
    code, _, err = eval_loss(ONE, corpus, tmp_path / "evals", capsys, "--no-keep-weights")
    assert code == 0, err
    weights = sorted(p.parent.name for p in cache.glob("models--*/snapshots/*/model.safetensors"))
    commits = hub.state.repos[REPO_768].branches
    assert weights == [commits["step_00000477"]]  # the user's file stays; the sweep's are gone
    configs = list(cache.glob("models--*/snapshots/*/config.json"))
    assert len(configs) == 3
    assert not list((tmp_path / "evals" / "manifests").rglob("*.json"))  # no manifest of gone files


def test_a_broken_checkpoint_fails_alone_and_is_not_recorded(tmp_path, monkeypatch, corpus, capsys):
    prepare_hub_env(tmp_path, monkeypatch)
    with FakeHub(fresh_state(broken=(REPO_768, "step_00000954"))) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        out_dir = tmp_path / "evals"
        code, out, err = eval_loss(ONE, corpus, out_dir, capsys)
        assert code == 2, (out, err)
        line = err.strip().splitlines()[-1]
        assert line.startswith("error: 1 of 3 units failed; first: ")
        assert f"{REPO_768}@step_00000954" in line and "Traceback" not in err
        code, out, _ = run(["eval", "results", "--out", str(out_dir), "--format", "json"], capsys)
        assert sorted(r["revision"] for r in json.loads(out)) == ["step_00000477", "step_00001431"]


@pytest.mark.slow
def test_a_ray_sweep_matches_the_local_one(hub, corpus, tmp_path, capsys) -> None:
    code, out, err = eval_loss(ONE, corpus, tmp_path / "local", capsys, "--format", "json")
    assert code == 0, err
    local = pl.DataFrame(json.loads(out)).select("commit", "loss", "bits_per_byte", "tokens")
    code, out, err = eval_loss(
        ONE, corpus, tmp_path / "ray", capsys, "--format", "json", "--executor", "ray"
    )
    assert code == 0, err
    remote = pl.DataFrame(json.loads(out)).select("commit", "loss", "bits_per_byte", "tokens")
    assert remote["commit"].to_list() == local["commit"].to_list()
    np.testing.assert_allclose(remote["loss"].to_numpy(), local["loss"].to_numpy(), rtol=1e-6)
    import ray

    assert not ray.is_initialized()  # the executor shut down the instance it started


def test_tiny_safetensors_is_not_a_gemma_checkpoint() -> None:
    # the registry's fake checkpoints are not loadable models; ours are (guards the fixture choice)
    assert b"lm_head" not in tiny_safetensors(0)


@pytest.mark.slow
def test_a_ray_evaluation_sweep_survives_a_killed_worker(hub, corpus, tmp_path) -> None:
    import sys

    import ray

    from gemstones.evaluate.results import MetricSet, ResultStore
    from gemstones.evaluate.sweep import plan_units, resolve_settings
    from gemstones.execute import Resources, get_executor, run_units

    from . import execute_units
    from .execute_units import DyingEvalUnit, attempts, evaluate_or_die_once

    rows = served_rows().filter(pl.col("repo_id") == REPO_768)
    store = ResultStore(tmp_path / "evals")
    metric = MetricSet.of_file("loss", corpus, context=128, packing="pack")
    units, _ = plan_units(rows, metric, resolve_settings(store=store))
    log = str(tmp_path / "attempts.log")
    wrapped = [DyingEvalUnit(u, log, die=u.revision == "step_00000954") for u in units]
    ray.cloudpickle.register_pickle_by_value(sys.modules[execute_units.__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_units(
            get_executor("ray"),
            evaluate_or_die_once,
            wrapped,
            store=store,
            resources=Resources(max_retries=2),
        )
    finally:
        ray.shutdown()
    tried = attempts(log)
    assert tried.count("step_00000954") == 2  # killed once, retried by Ray
    assert tried.count("step_00000477") == tried.count("step_00001431") == 1
    assert len(summary.ran) == 3
    records = store.records()
    assert sorted(r["revision"] for r in records) == [u.revision for u in units]  # once each
    assert all(r["values"]["loss"] > 0 for r in records)


def test_an_interrupted_sweep_resumes_where_it_stopped(hub, corpus, tmp_path, monkeypatch, capsys):
    from gemstones.evaluate import sweep

    real = sweep.evaluate_unit
    calls: list[str] = []

    def interrupted_at_the_second(unit):
        calls.append(unit.revision)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second checkpoint is evaluated
        return real(unit)

    monkeypatch.setattr(sweep, "evaluate_unit", interrupted_at_the_second)
    out_dir = tmp_path / "evals"
    code, _, err = eval_loss(ONE, corpus, out_dir, capsys)
    assert code == 130  # the exit status of an interrupt
    code, out, _ = run(["eval", "results", "--out", str(out_dir), "--format", "json"], capsys)
    assert [r["revision"] for r in json.loads(out)] == ["step_00000477"]
    monkeypatch.setattr(sweep, "evaluate_unit", real)
    code, out, err = eval_loss(ONE, corpus, out_dir, capsys, "--format", "json")
    assert code == 0 and "1 of 3 checkpoints already evaluated" in err
    assert [r["revision"] for r in json.loads(out)] == [
        "step_00000477", "step_00000954", "step_00001431",
    ]  # fmt: skip


def test_multiple_choice_results_become_accuracy_columns(hub, tmp_path, capsys) -> None:
    from gemstones.evaluate.results import with_results
    from registry.catalog import load_catalog

    from .eval_fixtures import write_tasks

    tasks = write_tasks(tmp_path / "quiz.jsonl")
    out_dir = tmp_path / "evals"
    code, out, err = run(
        ["eval", "mc", *ONE, "--max-tokens", "2.1e9", "--tasks", str(tasks), "--out", str(out_dir),
         "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    (record,) = json.loads(out)
    assert record["n"] == 4 and 0 <= record["acc"] <= 1 and record["kind"] == "mc"
    joined = with_results(load_catalog(), out_dir).frame
    measured = joined.filter(pl.col("eval_acc_quiz").is_not_null())
    assert measured.select("repo_id", "revision").rows() == [(REPO_768, "step_00000477")]
    assert measured["eval_acc_norm_quiz"][0] == pytest.approx(record["acc_norm"])
    from gemstones.evaluate.results import metric_registry

    quiz = metric_registry(out_dir).get("eval_acc_quiz")  # chance: mean of 1 / choices of TASKS
    assert quiz.kind == "accuracy" and quiz.chance == pytest.approx((1 / 3 + 3 / 2) / 4)
