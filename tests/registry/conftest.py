"""Fixtures that start the loopback Hub (tests/registry/hub_server.py) and point the real client at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from registry.catalog import load_catalog

from .hub_server import FakeHub, FakeRepo, HubState, checkpoint_files, pythia_checkpoint_files

#: The catalog repositories the fake Hub serves (small shapes; three variants).
SERVED_REPOS = ("tomg-group-umd/Gemstone-768x3", "tomg-group-umd/Gemstone-256x23")
BRANCHES_PER_REPO = 3
SECRET_TOKEN = "hf_fixtureSECRETtoken0123456789"

#: The Pythia repositories and branches the Pythia fake Hub serves (``main`` = ``step143000``).
PYTHIA_SERVED_REPOS = (
    "EleutherAI/pythia-70m",
    "EleutherAI/pythia-70m-deduped",
    "EleutherAI/pythia-160m",
)
PYTHIA_SERVED_BRANCHES = ("step0", "step1", "step143000")
#: Repositories of the EleutherAI organisation that are not in the suite (the listing must drop them).
PYTHIA_OTHER_REPOS = ("EleutherAI/pythia-70m-v0", "EleutherAI/pythia-160m-seed1")


def prepare_hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fresh HF/gemstones caches, no token, not offline; returns the temporary root."""
    import huggingface_hub.constants as hf_constants

    for name in (
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_HUB_CACHE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("GEMSTONES_CACHE", str(tmp_path / "gemstones"))
    # huggingface_hub reads these at import: point them at the temporary folder too.
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    return tmp_path


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fresh HF/gemstones caches, no token, not offline; returns the temporary root."""
    return prepare_hub_env(tmp_path, monkeypatch)


def served_rows() -> pl.DataFrame:
    """The catalog rows the fake Hub has branches for: the first few revisions of SERVED_REPOS."""
    frame = load_catalog(prefer_refreshed=False).frame
    return (
        frame.filter(pl.col("repo_id").is_in(SERVED_REPOS))
        .sort("repo_id", "step")
        .group_by("repo_id", maintain_order=True)
        .head(BRANCHES_PER_REPO)
    )


def build_state(rows: pl.DataFrame) -> HubState:
    """A Hub holding one branch per row (plus ``main``) with tiny checkpoint files."""
    state = HubState()
    for repo_id in rows["repo_id"].unique(maintain_order=True).to_list():
        repo = state.add_repo(FakeRepo(repo_id))
        revisions = rows.filter(pl.col("repo_id") == repo_id)["revision"].to_list()
        for revision in revisions:
            repo.add_branch(revision, checkpoint_files(repo_id, revision))
        repo.branches["main"] = repo.branches[revisions[-1]]
    return state


@contextmanager
def running_fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """Start a loopback Hub serving SERVED_REPOS and point ``HF_ENDPOINT`` at it."""
    hub = FakeHub(build_state(served_rows())).start()
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def fake_hub(hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A running loopback Hub serving SERVED_REPOS; ``HF_ENDPOINT`` points at it."""
    with running_fake_hub(monkeypatch) as hub:
        yield hub


def pythia_served_rows() -> pl.DataFrame:
    """The Pythia catalog rows the Pythia fake Hub has branches for (3 repositories x 3 branches)."""
    frame = load_catalog(suite="pythia", prefer_refreshed=False).frame
    return frame.filter(
        pl.col("repo_id").is_in(PYTHIA_SERVED_REPOS)
        & pl.col("revision").is_in(PYTHIA_SERVED_BRANCHES)
    )


def build_pythia_state() -> HubState:
    """An ``EleutherAI`` organisation: the served Pythia repositories and two that are not the suite.

    ``step0`` of a size and of its deduped twin hold identical weights (one initialisation), as
    they may on the real Hub; every other branch has its own weights.
    """
    state = HubState()
    for repo_id in PYTHIA_SERVED_REPOS:
        repo = state.add_repo(FakeRepo(repo_id))
        size = repo_id.removeprefix("EleutherAI/pythia-").removesuffix("-deduped")
        for revision in PYTHIA_SERVED_BRANCHES:
            seed = sum(map(ord, size)) if revision == "step0" else None
            repo.add_branch(revision, pythia_checkpoint_files(repo_id, revision, weights_seed=seed))
        repo.branches["main"] = repo.branches["step143000"]
    for repo_id in PYTHIA_OTHER_REPOS:
        state.add_repo(FakeRepo(repo_id)).add_branch(
            "main", pythia_checkpoint_files(repo_id, "main")
        )
    return state


@contextmanager
def running_pythia_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """Start a loopback Hub serving the Pythia repositories and point ``HF_ENDPOINT`` at it."""
    hub = FakeHub(build_pythia_state()).start()
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def pythia_hub(hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A running loopback Hub with an ``EleutherAI`` organisation; ``HF_ENDPOINT`` points at it."""
    with running_pythia_hub(monkeypatch) as hub:
        yield hub
