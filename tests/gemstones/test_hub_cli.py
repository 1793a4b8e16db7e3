"""``gemstones registry refresh | verify | download`` end to end against the loopback Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemstones.cli import main
from tests.registry.conftest import SECRET_TOKEN, prepare_hub_env, running_fake_hub, served_rows
from tests.registry.hub_server import HTML_PAGE, checkpoint_files


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """Isolated HF/gemstones caches (see tests/registry/conftest.py)."""
    return prepare_hub_env(tmp_path, monkeypatch)


@pytest.fixture
def fake_hub(hub_env, monkeypatch):
    """The loopback Hub of tests/registry/hub_server.py, with HF_ENDPOINT pointing at it."""
    with running_fake_hub(monkeypatch) as hub:
        yield hub


# The fake Hub serves the first three branches of 768x3 (steps 477..1431, tokens <= 6.0e9).
SERVED_768 = ["--variant", "main", "--shape", "768x3", "--max-tokens", "6.1e9"]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(args)
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def test_dry_run_of_the_hot_design_works_offline(hub_env, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, _ = run(
        ["registry", "download", "--design", "hot", "--files", "weights", "--dry-run"], capsys
    )
    assert code == 0
    assert "220 checkpoints" in out and "estimate" in out and "actual download needs the Hub" in out
    code, out, _ = run(
        ["registry", "download", "--design", "hot", "--files", "weights", "--dry-run", "--json"],
        capsys,
    )
    payload = json.loads(out)
    assert (
        payload["checkpoints"] == 220
        and payload["exact"] is False
        and payload["total_bytes"] > 10**11
    )


def test_offline_download_and_refresh_exit_1_with_a_clear_message(hub_env, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for args in (["registry", "refresh"], ["registry", "download", *SERVED_768]):
        code, _, err = run(args, capsys)
        assert code == 1 and "need the Hub" in err and "Traceback" not in err


def test_refresh_then_verify_then_download(fake_hub, hub_env, capsys):
    code, out, _ = run(["registry", "refresh", "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    # 3 step branches per served repository, plus the catalog's `main` row of each.
    assert report["counts"]["pinned"] == served_rows().height + 2 == 8
    assert (
        report["counts"]["repos_missing"] == 62 - 2
    )  # every other catalog repository is absent here

    code, out, _ = run(["registry", "verify", *SERVED_768, "--json"], capsys)
    assert code == 0 and json.loads(out)["checked"] == 3 and json.loads(out)["ok"] is True

    out_dir = hub_env / "subset"
    code, out, _ = run(
        ["registry", "download", *SERVED_768, "--files", "config,weights", "--to", str(out_dir)],
        capsys,
    )
    assert code == 0 and "hashes verified" in out
    manifest = json.loads((out_dir / "gemstones-manifest.json").read_text())
    assert len(manifest["files"]) == 6 and manifest["notes"] == []  # pinned by the refresh


def test_verify_exits_1_on_duplicate_weights(fake_hub, capsys):
    rows = served_rows().filter(served_rows()["repo_id"] == "tomg-group-umd/Gemstone-768x3")
    repo = fake_hub.state.repos["tomg-group-umd/Gemstone-768x3"]
    for revision in rows["revision"].head(2):
        repo.add_branch(
            revision, checkpoint_files(repo.repo_id, revision, weights_seed=3), salt="dup"
        )
    code, out, _ = run(["registry", "verify", *SERVED_768], capsys)
    assert code == 1 and out.count("duplicate_weights") == 2


def test_max_bytes_is_a_usage_error(fake_hub, hub_env, capsys):
    code, _, err = run(["registry", "download", *SERVED_768, "--files", "all", "--max-bytes", "1kB",
                        "--to", str(hub_env / "x")], capsys)  # fmt: skip
    assert code == 2 and "--max-bytes" in err and not (hub_env / "x").exists()


def test_token_is_used_but_never_printed(fake_hub, hub_env, monkeypatch, capsys):
    fake_hub.state.repos["tomg-group-umd/Gemstone-768x3"].token = SECRET_TOKEN
    wrong = "hf_wrongTOKENvalue987654321"
    monkeypatch.setenv("HF_TOKEN", wrong)
    code, out, err = run(["registry", "download", *SERVED_768, "--to", str(hub_env / "y")], capsys)
    assert code == 1 and "HF_TOKEN" in err
    assert wrong not in out + err
    monkeypatch.setenv("HF_TOKEN", SECRET_TOKEN)
    code, out, err = run(["registry", "download", *SERVED_768, "--to", str(hub_env / "y")], capsys)
    assert code == 0 and SECRET_TOKEN not in out + err
    assert SECRET_TOKEN not in (hub_env / "y" / "gemstones-manifest.json").read_text()


# --- Fault injection: every fault gets exit 1 (2 for a bad setting), one `error:` line, no traceback,
# --- and the pins / manifests the user had are kept.

REPO_768, REPO_256 = "tomg-group-umd/Gemstone-768x3", "tomg-group-umd/Gemstone-256x23"
NOT_FOUND = {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}


def assert_one_error_line(err: str, *needles: str) -> str:
    """Exactly one `error:` line, no traceback, and it says each of ``needles``."""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "Traceback" not in err, err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (capsys swaps it in only for the test call)."""

    def write(self, text: str) -> int:
        import sys

        return sys.stderr.write(text)

    def flush(self) -> None:
        import sys

        sys.stderr.flush()


@pytest.fixture(autouse=True)
def hf_logs_to_captured_stderr(monkeypatch):
    """huggingface_hub's log handler keeps the stderr it first saw (a closed capture later)."""
    from logging import StreamHandler

    from huggingface_hub.utils import logging as hf_logging

    for handler in hf_logging._get_library_root_logger().handlers:
        if isinstance(handler, StreamHandler):
            monkeypatch.setattr(handler, "stream", _CurrentStderr())


@pytest.fixture
def pinned_cache(fake_hub, capsys):
    """A successful refresh first: 8 pinned checkpoints; returns the cached catalog's path and bytes."""
    from registry.user_cache import refreshed_catalog_path

    code, _, _ = run(["registry", "refresh", "--json"], capsys)
    assert code == 0
    path = refreshed_catalog_path()
    return path, path.read_bytes()


def pins(path) -> dict[tuple[str, str], str]:
    import polars as pl

    frame = pl.read_parquet(path).filter(pl.col("commit").is_not_null())
    return {(r, v): c for r, v, c in frame.select("repo_id", "revision", "commit").iter_rows()}


@pytest.fixture
def short_timeouts(monkeypatch):
    """One-second request limits, so that a Hub that never answers fails the test fast."""
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "1")


@pytest.fixture
def backoff_sleeps(monkeypatch):
    """Record huggingface_hub's back-off sleeps instead of sleeping them (its schedule is kept).

    ``utils._http`` (request back-off) and ``file_download`` (1 s between resumed reads) use
    ``time`` only to sleep.
    """
    import types

    from huggingface_hub import file_download
    from huggingface_hub.utils import _http

    slept: list[float] = []
    monkeypatch.setattr(_http, "time", types.SimpleNamespace(sleep=slept.append))
    monkeypatch.setattr(file_download, "time", types.SimpleNamespace(sleep=lambda s: None))
    return slept


def test_refresh_against_a_hub_that_never_answers_times_out_and_keeps_pins(
    fake_hub, pinned_cache, short_timeouts, capsys
):
    import time

    path, before = pinned_cache
    fake_hub.state.fault("/", hang=True)
    started = time.monotonic()
    code, _, err = run(["registry", "refresh"], capsys)
    assert time.monotonic() - started < 15
    assert code == 1
    assert_one_error_line(err, "no answer within 1 s", "HF_HUB_ETAG_TIMEOUT")
    assert path.read_bytes() == before


def test_download_against_a_hub_that_never_answers_times_out_and_keeps_the_manifest(
    fake_hub, pinned_cache, hub_env, short_timeouts, capsys
):
    import time

    out_dir = hub_env / "subset"
    code, _, _ = run(["registry", "download", *SERVED_768, "--to", str(out_dir)], capsys)
    assert code == 0
    manifest = (out_dir / "gemstones-manifest.json").read_bytes()
    fake_hub.state.fault("/", hang=True)
    started = time.monotonic()
    for args in (["download", *SERVED_768, "--to", str(out_dir)], ["verify", *SERVED_768]):
        code, _, err = run(["registry", *args], capsys)
        assert code == 1
        assert_one_error_line(err, "no answer within 1 s")
    assert time.monotonic() - started < 20
    assert (out_dir / "gemstones-manifest.json").read_bytes() == manifest


def test_a_hang_after_the_probe_is_bounded_too(
    fake_hub, hub_env, short_timeouts, backoff_sleeps, capsys
):
    """The refs answer, the file listing never does: huggingface_hub retries, then exit 1."""
    fake_hub.state.fault("/tree/", hang=True)
    code, _, err = run(["registry", "download", *SERVED_768, "--to", str(hub_env / "o")], capsys)
    assert code == 1
    assert_one_error_line(err, "no answer within 1 s", "listing the files")


def test_401_on_every_refs_call_writes_nothing(fake_hub, pinned_cache, capsys):
    path, before = pinned_cache
    fake_hub.state.fault("/refs", 401, body=b'{"error": "Invalid"}', headers=NOT_FOUND)
    code, _, err = run(["registry", "refresh"], capsys)
    assert code == 1
    assert_one_error_line(err, "catalog was not changed", REPO_768, REPO_256)
    assert path.read_bytes() == before


def test_401_on_one_repository_keeps_its_pins_and_names_it(fake_hub, pinned_cache, capsys):
    path, _ = pinned_cache
    before = pins(path)
    assert len(before) == 8
    fake_hub.state.fault(f"/{REPO_256}/refs", 401, headers=NOT_FOUND)
    moved = fake_hub.state.repos[REPO_768]
    revision = sorted(b for b in moved.branches if b != "main")[0]
    new_commit = moved.add_branch(revision, {"config.json": b"{}"}, salt="moved")
    code, out, err = run(["registry", "refresh", "--json"], capsys)
    assert code == 1
    line = assert_one_error_line(err, "could not re-verify 1 of", REPO_256, "kept their previous")
    assert REPO_768 not in line
    after = pins(path)
    assert len(after) == 8  # "8 pins became 4" no more
    assert {k: v for k, v in after.items() if k[0] == REPO_256} == {
        k: v for k, v in before.items() if k[0] == REPO_256
    }
    assert after[(REPO_768, revision)] == new_commit  # the readable repository was refreshed
    report = json.loads(out)
    assert list(report["unverified"]) == [REPO_256] and report["kept_unverified"] == 4


@pytest.mark.parametrize(
    ("where", "status", "body", "headers", "needle"),
    [
        ("/refs", 200, b"<!DOCTYPE html><html>portal</html>", HTML, "HTML page"),
        ("/refs", 200, b'{"branches": {"main": "x"}}', {}, "'branches' list"),
        ("/refs", 200, b'{"branches": [{"name": "main"}]}', {}, "not a commit id"),
        ("/refs", 200, b"[1, 2, 3]", {}, "'branches' list"),
        ("/refs", 503, b"", {}, "HTTP 503"),
        ("/refs", 403, b"", {"X-Error-Code": "GatedRepo"}, "gated"),
    ],
    ids=["html", "branches-not-a-list", "no-target-commit", "json-list", "503-forever", "gated"],
)
def test_bad_refs_answers_for_one_repository_keep_its_pins(
    fake_hub, pinned_cache, backoff_sleeps, capsys, where, status, body, headers, needle
):
    path, _ = pinned_cache
    before = pins(path)
    fake_hub.state.fault(f"/{REPO_256}{where}", status, body=body, headers=headers)
    code, _, err = run(["registry", "refresh"], capsys)
    assert code == 1
    assert_one_error_line(err, REPO_256, needle)
    assert pins(path) == before


@pytest.mark.parametrize("bad_commit", ["../../../etc/passwd", "A" * 40, "abc", "0" * 39 + "/", ""])
def test_invalid_commit_ids_are_never_pinned(fake_hub, pinned_cache, capsys, bad_commit):
    path, _ = pinned_cache
    before = pins(path)
    repo = fake_hub.state.repos[REPO_768]
    revision = sorted(b for b in repo.branches if b != "main")[0]
    repo.branches[revision] = bad_commit
    code, _, err = run(["registry", "refresh"], capsys)
    assert code == 1
    assert_one_error_line(err, REPO_768, "not a commit id")
    after = pins(path)
    assert after == before and bad_commit not in after.values()


@pytest.mark.parametrize(
    ("body", "headers", "needle"),
    [
        (HTML_PAGE, HTML, "not JSON"),
        (b'{"models": []}', {"Content-Type": "application/json"}, "unexpected shape"),
        (b'[{"modelId": "x"}]', {"Content-Type": "application/json"}, "unexpected shape"),
    ],
    ids=["html", "object-not-list", "entry-without-id"],
)
def test_bad_model_listings_write_nothing(fake_hub, pinned_cache, capsys, body, headers, needle):
    path, before = pinned_cache
    fake_hub.state.fault("/api/models?", 200, body=body, headers=headers)
    code, _, err = run(["registry", "refresh"], capsys)
    assert code == 1
    assert_one_error_line(err, "listing the models", needle)
    assert path.read_bytes() == before


def test_5xx_on_the_listing_is_retried_with_backoff_then_exit_1(
    fake_hub, pinned_cache, backoff_sleeps, capsys
):
    path, before = pinned_cache
    rule = fake_hub.state.fault("/api/models?", 500)
    code, _, err = run(["registry", "refresh"], capsys)
    assert code == 1
    assert_one_error_line(err, "HTTP 500", "listing the models")
    assert rule.hits == 6 and backoff_sleeps == [1, 2, 4, 8, 8]  # huggingface_hub's schedule
    assert path.read_bytes() == before


def test_429_with_retry_after_is_honoured_then_succeeds(fake_hub, pinned_cache, capsys):
    """Real sleeps: Retry-After: 0 makes huggingface_hub wait 1 s before each retry."""
    path, _ = pinned_cache
    before = pins(path)
    rule = fake_hub.state.fault(
        f"/{REPO_768}/refs", 429, headers={"Retry-After": "0"}, times=2, method="GET"
    )
    code, _, err = run(["registry", "refresh"], capsys)
    assert code == 0, err
    assert rule.hits == 2 and pins(path) == before


def test_429_forever_gives_a_rate_limit_message_and_keeps_pins(
    fake_hub, pinned_cache, backoff_sleeps, capsys
):
    path, _ = pinned_cache
    before = pins(path)
    fake_hub.state.fault(f"/{REPO_768}/refs", 429, headers={"Retry-After": "3"})
    code, _, err = run(["registry", "refresh"], capsys)
    assert code == 1
    assert_one_error_line(err, REPO_768, "HTTP 429")
    assert pins(path) == before
    assert backoff_sleeps and all(
        s == 4 for s in backoff_sleeps
    )  # Retry-After + 1, as huggingface_hub does


def test_5xx_then_recovery_is_retried(fake_hub, pinned_cache, backoff_sleeps, capsys):
    rule = fake_hub.state.fault(f"/{REPO_768}/refs", 502, times=2)  # 256x23 takes the probe
    code, _, err = run(["registry", "refresh"], capsys)
    assert code == 0, err
    assert rule.hits == 2 and backoff_sleeps == [1, 2]


@pytest.mark.parametrize(
    ("body", "headers", "needle"),
    [
        (HTML_PAGE, HTML, "not JSON"),
        (b'{"files": []}', {"Content-Type": "application/json"}, "unexpected shape"),
        (b'[{"type": "file", "path": "config.json"}]', {}, "unexpected shape"),
        (b'[{"type": "file", "path": "config.json", "size": 2, "oid": "../x"}]', {}, "invalid git oid"),
        (b'[{"type": "file", "path": "config.json", "size": -5, "oid": "' + b"a" * 40 + b'"}]', {},
         "valid size"),
        (b'[{"type": "file", "path": "model.safetensors", "size": 2, "oid": "' + b"a" * 40
         + b'", "lfs": {"oid": "../../x", "size": 2, "pointerSize": 1}}]', {}, "LFS sha256"),
    ],
    ids=["html", "object", "no-size", "bad-oid", "negative-size", "bad-sha256"],
)  # fmt: skip
def test_bad_tree_answers_fail_download_and_verify_and_keep_the_manifest(
    fake_hub, pinned_cache, hub_env, capsys, body, headers, needle
):
    out_dir = hub_env / "subset"
    code, _, _ = run(["registry", "download", *SERVED_768, "--to", str(out_dir)], capsys)
    assert code == 0
    manifest = (out_dir / "gemstones-manifest.json").read_bytes()
    fake_hub.state.fault("/tree/", 200, body=body, headers=headers)
    for args in (["download", *SERVED_768, "--to", str(out_dir)], ["verify", *SERVED_768]):
        code, _, err = run(["registry", *args], capsys)
        assert code == 1
        assert_one_error_line(err, "listing the files", needle)
    assert (out_dir / "gemstones-manifest.json").read_bytes() == manifest
    assert not list(hub_env.rglob("x"))  # nothing written under a server-chosen name


def test_429_on_a_file_is_retried_then_exit_1_keeping_the_manifest(
    fake_hub, pinned_cache, hub_env, backoff_sleeps, capsys
):
    out_dir = hub_env / "subset"
    code, _, _ = run(["registry", "download", *SERVED_768, "--to", str(out_dir)], capsys)
    assert code == 0
    manifest = (out_dir / "gemstones-manifest.json").read_bytes()
    fake_hub.state.fault("/resolve/", 429, headers={"Retry-After": "1"})
    code, _, err = run(
        ["registry", "download", *SERVED_768, "--files", "config,tokenizer,weights", "--to",
         str(out_dir)], capsys,
    )  # fmt: skip
    assert code == 1
    assert_one_error_line(err, "HTTP 429")
    assert backoff_sleeps and all(s == 2 for s in backoff_sleeps)
    assert (out_dir / "gemstones-manifest.json").read_bytes() == manifest


@pytest.mark.parametrize(
    "command", [["refresh"], ["verify", *SERVED_768], ["download", *SERVED_768]]
)
@pytest.mark.parametrize(
    "endpoint", ["huggingface.co", "ftp://hub.example", "http://", "localhost:8080"]
)
def test_hf_endpoint_that_is_not_a_url_is_a_usage_error(
    hub_env, monkeypatch, capsys, command, endpoint
):
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    code, _, err = run(["registry", *command], capsys)
    assert code == 2
    assert_one_error_line(err, "HF_ENDPOINT", "http(s) URL")


@pytest.mark.parametrize(
    ("variable", "value"), [("HF_HUB_ETAG_TIMEOUT", "abc"), ("HF_HUB_DOWNLOAD_TIMEOUT", "-1"),
                            ("HF_HUB_ETAG_TIMEOUT", "1.5")],
)  # fmt: skip
def test_bad_timeout_settings_are_usage_errors(hub_env, monkeypatch, capsys, variable, value):
    monkeypatch.setenv(variable, value)
    code, _, err = run(["registry", "download", *SERVED_768], capsys)
    assert code == 2
    assert_one_error_line(err, variable, repr(value))


def test_credentials_in_hf_endpoint_are_never_written(fake_hub, hub_env, monkeypatch, capsys):
    secret = "s3cretPASSWORD"
    with_credentials = fake_hub.endpoint.replace("http://", f"http://alice:{secret}@")
    monkeypatch.setenv("HF_ENDPOINT", with_credentials + "/")
    code, out, err = run(["registry", "refresh", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["counts"]["pinned"] == 8
    out_dir = hub_env / "subset"
    code, out2, err2 = run(["registry", "download", *SERVED_768, "--to", str(out_dir)], capsys)
    assert code == 0, err2
    manifest = (out_dir / "gemstones-manifest.json").read_text()
    refresh_report = (hub_env / "gemstones" / "catalog" / "refresh_report.json").read_text()
    assert json.loads(manifest)["endpoint"] == fake_hub.endpoint
    for text in (manifest, refresh_report, out, err, out2, err2):
        assert secret not in text and "alice" not in text


def _bad_caches() -> dict[str, object]:
    """Ways a cached catalog can be unusable: name -> writer(path)."""
    import polars as pl

    from registry.catalog import embedded_catalog_path

    def truncated(path):
        path.write_bytes(embedded_catalog_path().read_bytes()[:4096])

    def other_schema(path):
        pl.DataFrame({"repo_id": [REPO_768], "commit": ["a" * 40]}).write_parquet(path)

    def retyped(path):
        frame = pl.read_parquet(embedded_catalog_path())
        frame.with_columns(pl.col("step").cast(pl.Utf8)).write_parquet(path)

    def traversal_pin(path):  # written by an older version that trusted the Hub's commit ids
        frame = pl.read_parquet(embedded_catalog_path())
        frame.with_columns(
            commit=pl.when(pl.arange(0, pl.len()) == 0).then(pl.lit("../../x")).otherwise("commit")
        ).write_parquet(path)

    return {
        "empty": lambda path: path.write_bytes(b""),
        "json-text": lambda path: path.write_text('{"not": "parquet"}'),
        "random-bytes": lambda path: path.write_bytes(bytes(range(256)) * 16),
        "truncated": truncated,
        "other-schema": other_schema,
        "retyped-column": retyped,
        "traversal-pin": traversal_pin,
    }


@pytest.mark.parametrize("kind", list(_bad_caches()))
def test_a_bad_cached_catalog_is_named_read_only_commands_fall_back(
    hub_env, monkeypatch, capsys, caplog, kind
):
    from registry.user_cache import refreshed_catalog_path

    path = refreshed_catalog_path()
    path.parent.mkdir(parents=True)
    _bad_caches()[kind](path)
    before = path.read_bytes()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, err = run(
        ["registry", "list", "--shape", "768x3", "--limit", "2", "--format", "csv"], capsys
    )
    assert code == 0 and "Traceback" not in err
    assert out.count(REPO_768) == 2  # the embedded catalog answered
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(path) in warnings[0] and f"rm {path}" in warnings[0]
    code, _, err = run(["registry", "refresh"], capsys)  # would overwrite it: refuses instead
    assert code == 1
    assert_one_error_line(err, str(path), f"rm {path}")
    assert path.read_bytes() == before  # never overwritten, never deleted


def test_a_bad_cached_catalog_warning_is_one_stderr_line_in_a_real_process(hub_env, tmp_path):
    import os
    import subprocess
    import sys

    from registry.user_cache import refreshed_catalog_path

    path = refreshed_catalog_path()
    path.parent.mkdir(parents=True)
    path.write_text("garbage")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    code = "import sys; from gemstones.cli import main; main(sys.argv[1:])"
    done = subprocess.run(
        [sys.executable, "-c", code, "registry", "stats", "--format", "json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["checkpoints"] == 5049
    lines = done.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("warning: the cached catalog")
        and str(path) in lines[0]
    )


def test_a_failed_rerun_never_leaves_deleted_files_in_the_manifest(fake_hub, hub_env, capsys):
    """The branch moved; huggingface_hub deletes the outdated weights, then the new ones fail."""
    out_dir = hub_env / "subset"
    args = ["registry", "download", *SERVED_768, "--files", "config,weights", "--to", str(out_dir)]
    code, _, err = run(args, capsys)  # unpinned catalog: commits resolved now
    assert code == 0, err
    manifest_path = out_dir / "gemstones-manifest.json"
    first = json.loads(manifest_path.read_text())
    assert sorted({f["path"] for f in first["files"]}) == ["config.json", "model.safetensors"]
    repo = fake_hub.state.repos[REPO_768]
    revision = sorted(b for b in repo.branches if b != "main")[0]
    old_files = repo.commits[repo.branches[revision]]
    repo.add_branch(
        revision, {**old_files, "model.safetensors": checkpoint_files(REPO_768, "x")["model.safetensors"]},
        salt="moved",
    )  # fmt: skip
    fake_hub.state.fail_500.add("model.safetensors")
    code, _, err = run(args, capsys)
    assert code == 1
    assert_one_error_line(err, "HTTP 500")
    after = json.loads(manifest_path.read_text())
    listed = {f["local_path"] for f in after["files"]}
    assert all(Path(p).is_file() for p in listed)  # nothing listed that is gone
    gone = [f for f in first["files"] if not Path(f["local_path"]).exists()]
    assert len(gone) == 1 and gone[0]["revision"] == revision  # the outdated copy was deleted...
    assert gone[0]["local_path"] not in listed  # ...and left the manifest
    assert len(after["files"]) == len(first["files"]) - 1
    assert "removed from this manifest" in after["notes"][-1]
    fake_hub.state.fail_500.clear()
    code, _, err = run(args, capsys)  # a clean re-run fetches it again
    assert code == 0, err
    assert len(json.loads(manifest_path.read_text())["files"]) == len(first["files"])


def test_a_killed_download_leaves_no_incomplete_file_after_the_next_run(fake_hub, hub_env, capsys):
    """kill -9 while a file is half-written; the next run removes the leftover and completes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out_dir = hub_env / "subset"
    fake_hub.state.stall_half.add("model.safetensors")
    code = "import sys; from gemstones.cli import main; main(sys.argv[1:])"
    args = [
        "registry",
        "download",
        *SERVED_768,
        "--files",
        "weights",
        "--workers",
        "1",
        "--to",
        str(out_dir),
    ]
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=dict(os.environ),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        partials: list[Path] = []
        while time.monotonic() < deadline and not partials:
            partials = list(out_dir.rglob("*.incomplete"))  # the body is half-sent, then stalls
            time.sleep(0.1)
        assert partials, "the download never started"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert all(p.exists() for p in partials)  # what kill -9 leaves behind
    fake_hub.state.stall_half.clear()
    code_, _, err = run(args, capsys)
    assert code_ == 0, err
    assert not list(out_dir.rglob("*.incomplete"))
    manifest = json.loads((out_dir / "gemstones-manifest.json").read_text())
    assert len(manifest["files"]) == 3 and all(
        Path(f["local_path"]).is_file() for f in manifest["files"]
    )


def test_a_file_that_stalls_mid_body_is_bounded(
    fake_hub, pinned_cache, hub_env, short_timeouts, backoff_sleeps, capsys
):
    import time

    out_dir = hub_env / "subset"
    fake_hub.state.stall_half.add("model.safetensors")
    started = time.monotonic()
    code, _, err = run(
        ["registry", "download", *SERVED_768, "--files", "weights", "--to", str(out_dir)], capsys
    )
    assert time.monotonic() - started < 30
    assert code == 1
    assert_one_error_line(err, "no answer within 1 s", "model.safetensors")
    assert (
        not list(out_dir.rglob("*.incomplete"))
        and not (out_dir / "gemstones-manifest.json").exists()
    )


def test_a_hub_that_stops_answering_after_the_probe_fails_the_refresh_fast(
    fake_hub, pinned_cache, short_timeouts, backoff_sleeps, capsys
):
    """Without the early stop, 62 lookups x 6 attempts would each wait out the timeout."""
    import time

    path, before = pinned_cache
    rule = fake_hub.state.fault("/refs", hang=True, after=1)  # the probe gets through
    started = time.monotonic()
    code, _, err = run(["registry", "refresh"], capsys)
    assert code == 1
    assert_one_error_line(err, "no repository's branches could be read", "no answer within 1 s")
    assert path.read_bytes() == before
    assert rule.hits <= 1 + 4 * 6  # one round of --workers 4, each with huggingface_hub's retries
    assert time.monotonic() - started < 20


def test_retry_warnings_never_show_credentials_in_hf_endpoint(
    fake_hub, pinned_cache, backoff_sleeps, monkeypatch, capsys, caplog
):
    """huggingface_hub logs the request URL when it retries; the user name and password are cut."""
    secret = "s3cretPASSWORD"
    monkeypatch.setenv(
        "HF_ENDPOINT", fake_hub.endpoint.replace("http://", f"http://alice:{secret}@")
    )
    rule = fake_hub.state.fault(f"/{REPO_768}/refs", 502, times=2)
    with caplog.at_level("WARNING"):
        code, out, err = run(["registry", "refresh"], capsys)
    assert code == 0, err
    assert rule.hits == 2
    retries = [
        r.getMessage() for r in caplog.records if "thrown while requesting" in r.getMessage()
    ]
    assert retries and all("***@" in message for message in retries)
    for text in (out, err, caplog.text):
        assert secret not in text and "alice" not in text
