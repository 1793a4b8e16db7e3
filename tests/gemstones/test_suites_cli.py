"""``gemstones suites list | show`` and ``registry ... --suite`` end to end (loopback Hub for Pythia).

Also shows that a new suite is one subclass plus a registration: a toy suite defined here is listed
by ``suites list`` and its catalog rows are selectable by ``registry list --suite toy``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from numpy.typing import ArrayLike, NDArray

from gemstones.cli import main
from registry.atomic import write_parquet_atomic
from registry.errors import RegistryInputError
from registry.suites import Suite, SuiteRepo, register_suite, unregister_suite
from tests.registry.conftest import prepare_hub_env, pythia_served_rows, running_pythia_hub


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """Isolated HF/gemstones caches (see tests/registry/conftest.py)."""
    return prepare_hub_env(tmp_path, monkeypatch)


@pytest.fixture
def pythia_hub(hub_env, monkeypatch):
    """The loopback Hub with an EleutherAI organisation (tests/registry/conftest.py)."""
    with running_pythia_hub(monkeypatch) as hub:
        yield hub


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


#: pythia-70m and pythia-70m-deduped at step0 and step1 (all served by the loopback Hub).
SERVED = ["--suite", "pythia", "--shape", "70m", "--max-tokens", "2.1e6"]


def test_suites_list_shows_both_suites(hub_env, capsys):
    code, out, _ = run(capsys, "suites", "list", "--format", "json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert (rows["pythia"]["repos"], rows["pythia"]["branches"], rows["pythia"]["checkpoints"]) == (
        16,
        154,
        2464,
    )
    assert rows["pythia"]["has_losses"] is False and rows["gemstones"]["has_losses"] is True
    assert (rows["gemstones"]["repos"], rows["gemstones"]["checkpoints"]) == (62, 5049)
    code, out, _ = run(capsys, "suites", "list", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("name,title,organisation,repos,branches")


def test_suites_show_pythia(hub_env, capsys):
    code, out, _ = run(capsys, "suites", "show", "pythia", "--format", "json")
    assert code == 0
    shown = json.loads(out)
    assert shown["tokens_per_step"] == 2_097_152 and shown["main_alias"] == "step143000"
    assert [s["shape"] for s in shown["shapes"]][:3] == ["70m", "160m", "410m"]
    assert shown["shapes"][-1]["params"] == 11_846_072_320
    code, out, _ = run(capsys, "suites", "show", "pythia")
    assert code == 0 and "EleutherAI/pythia-{size}[-deduped]" in out


@pytest.mark.parametrize(
    "args",
    [
        ["suites", "show", "opt"],
        ["registry", "list", "--suite", "opt"],
        ["registry", "stats", "--suite", "opt"],
        ["registry", "show", "x/y", "--suite", "opt"],
        ["registry", "refresh", "--suite", "opt"],
        ["registry", "verify", "--suite", "opt"],
        ["registry", "download", "--suite", "opt", "--dry-run"],
    ],
)
def test_unknown_suite_exits_2_with_one_line(hub_env, capsys, args):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err.strip() == "error: unknown suite 'opt'; available: gemstones, pythia"


def test_registry_list_and_show_for_pythia(hub_env, capsys):
    code, out, _ = run(
        capsys, "registry", "list", "--suite", "pythia", "--variant", "deduped", "--format", "json"
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 8 * 154
    assert all(row["val_loss"] is None for row in rows)
    code, out, _ = run(
        capsys, "registry", "show", "EleutherAI/pythia-1b@step512", "--format", "json"
    )
    assert code == 0 and json.loads(out)["tokens"] == 512 * 2_097_152
    code, _, err = run(capsys, "registry", "list", "--suite", "pythia", "--variant", "main")
    assert code == 2 and "valid variants: standard, deduped" in err


def test_verify_refresh_and_download_pythia(pythia_hub, tmp_path, capsys):
    code, out, _ = run(capsys, "registry", "verify", *SERVED, "--json")
    report = json.loads(out)
    assert code == 0 and report["checked"] == 2 * 2 and report["ok"] is True
    assert report["expected_duplicate_groups"] == [
        ["EleutherAI/pythia-70m-deduped@step0", "EleutherAI/pythia-70m@step0"]
    ]

    # step1 of pythia-70m now serves the step0 weights: a broken branch, caught by verify
    repo = pythia_hub.state.repos["EleutherAI/pythia-70m"]
    repo.add_branch("step1", dict(repo.commits[repo.branches["step0"]]), salt="copy")
    code, out, _ = run(capsys, "registry", "verify", *SERVED)
    assert code == 1 and "duplicate_weights" in out and "EleutherAI/pythia-70m@step1" in out

    code, out, _ = run(capsys, "registry", "refresh", "--suite", "pythia", "--json")
    assert code == 0 and json.loads(out)["counts"]["pinned"] == pythia_served_rows().height

    code, out, _ = run(capsys, "registry", "download", *SERVED, "--dry-run", "--json")
    assert code == 0 and json.loads(out)["exact"] is True and json.loads(out)["checkpoints"] == 4
    code, out, _ = run(
        capsys, "registry", "download", "--suite", "pythia", "--shape", "160m",
        "--variant", "standard", "--max-tokens", "0", "--files", "all", "--to", str(tmp_path / "d"),
        "--json",
    )  # fmt: skip
    assert code == 0
    assert (tmp_path / "d" / "pythia-160m" / "step0" / "model.safetensors").is_file()


def test_pythia_download_dry_run_offline_is_an_estimate(hub_env, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, _ = run(
        capsys, "registry", "download", "--suite", "pythia", "--shape", "70m", "--variant",
        "standard", "--files", "weights", "--dry-run", "--json",
    )  # fmt: skip
    payload = json.loads(out)
    assert code == 0 and payload["exact"] is False
    assert payload["total_bytes"] == 154 * 70_426_624 * 2


def test_design_is_refused_for_another_suite(hub_env, capsys):
    code, _, err = run(capsys, "registry", "download", "--suite", "pythia", "--design", "hot")
    assert code == 2 and "--design selects Gemstones checkpoints" in err


# -- a new suite is one subclass plus a registration ----------------------------------------------


@dataclass(frozen=True)
class ToySuite(Suite):
    """Two shapes of a made-up suite ``toy-org/toy-{w}x{d}``, one branch per 10 steps."""

    catalog_file: Path = Path()

    @property
    def repo_pattern(self) -> str:
        return "toy-org/toy-{width}x{depth}"

    def parse_repo_id(self, repo_id: str) -> SuiteRepo:
        prefix = "toy-org/toy-"
        width, _, depth = repo_id.removeprefix(prefix).partition("x")
        if not (repo_id.startswith(prefix) and width.isdigit() and depth.isdigit()):
            raise RegistryInputError(f"{repo_id!r} is not a toy repository id")
        return SuiteRepo(f"{width}x{depth}", int(width), int(depth), "main")

    def repo_id(self, shape: str, variant: str | None = None) -> str:
        return f"toy-org/toy-{shape}"

    def revision(self, step: int) -> str:
        return f"it{step}"

    def parse_revision(self, revision: str) -> tuple[int | None, int | None]:
        if revision == "main":
            return None, None
        if not revision.startswith("it") or not revision[2:].isdigit():
            raise RegistryInputError(f"{revision!r} is not a toy revision")
        return int(revision[2:]), None

    def parameter_count(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        return 12.0 * np.asarray(depth, float) * np.asarray(width, float) ** 2

    def non_embedding_parameter_count(
        self, width: ArrayLike, depth: ArrayLike
    ) -> NDArray[np.float64]:
        return self.parameter_count(width, depth)

    def flops_per_token(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        return 6.0 * self.parameter_count(width, depth)

    def build_catalog(self) -> pl.DataFrame:
        rows = [
            {"shape": f"{w}x{d}", "width": w, "depth": d, "step": step}
            for w, d in ((64, 2), (128, 4))
            for step in (10, 20, 30)
        ]
        frame = pl.DataFrame(rows)
        w, d = frame["width"].to_numpy(), frame["depth"].to_numpy()
        return frame.with_columns(
            suite=pl.lit(self.name),
            repo_id=pl.format("toy-org/toy-{}", "shape"),
            revision=pl.format("it{}", "step"),
            commit=pl.lit(None, pl.Utf8),
            variant=pl.lit("main"),
            params=pl.Series(self.parameter_count(w, d).astype("int64")),
            tokens=pl.col("step") * self.tokens_per_step,
            val_loss=pl.lit(None, pl.Float64),
            gpu_hours=pl.lit(None, pl.Float64),
            in_paper_sets=pl.lit([], pl.List(pl.Utf8)),
        )

    def embedded_catalog_path(self) -> Path:
        return self.catalog_file


@pytest.fixture
def toy_suite(hub_env, tmp_path):
    suite = ToySuite(
        name="toy", title="Toy", organisation="toy-org", search="toy-", variants=("main",),
        tokens_per_step=1000, sequence_length=100, probe_repo="toy-org/toy-64x2",
        bytes_per_param=2, tokenizer_bytes=10, catalog_file=tmp_path / "toy.parquet",
    )  # fmt: skip
    write_parquet_atomic(suite.build_catalog(), suite.catalog_file)
    register_suite(suite)
    try:
        yield suite
    finally:
        unregister_suite("toy")


def test_a_toy_suite_is_one_class_plus_a_registration(toy_suite, capsys):
    code, out, _ = run(capsys, "suites", "list", "--format", "json")
    listed = {row["name"]: row for row in json.loads(out)}
    assert code == 0 and (listed["toy"]["repos"], listed["toy"]["checkpoints"]) == (2, 6)
    code, out, _ = run(
        capsys, "registry", "list", "--suite", "toy", "--width", "128", "--min-tokens", "20000",
        "--format", "json",
    )  # fmt: skip
    rows = json.loads(out)
    assert code == 0 and [(r["repo_id"], r["revision"]) for r in rows] == [
        ("toy-org/toy-128x4", "it20"),
        ("toy-org/toy-128x4", "it30"),
    ]
    code, out, _ = run(capsys, "registry", "show", "toy-org/toy-64x2@it10", "--format", "json")
    assert code == 0 and json.loads(out)["params"] == 12 * 2 * 64**2
    code, _, err = run(capsys, "registry", "list", "--suite", "toyz")
    assert code == 2 and "available: gemstones, pythia, toy" in err


def test_download_subset_takes_a_suite(hub_env, monkeypatch):
    from gemstones.downloads import download_subset

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    estimate = download_subset(
        suite="pythia", shape="70m", variant="standard", files="weights", dry_run=True
    )
    assert (estimate.checkpoints, estimate.total_bytes) == (154, 154 * 70_426_624 * 2)
