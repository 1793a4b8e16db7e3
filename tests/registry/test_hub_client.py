"""Hub settings and request bounds: endpoints, credentials, timeouts, commit ids (no server needed
except where a loopback Hub is started)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from registry.errors import HubAnswerError, RegistryInputError
from registry.hub.client import (
    HubUnreachableError,
    check_endpoint,
    decode_json,
    get_json,
    hub_target,
    hub_timeouts,
    public_endpoint,
    require_commit_id,
)


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://huggingface.co", "https://huggingface.co"),
        ("https://alice:s3cret@hub.example:8443/mirror/", "https://hub.example:8443/mirror"),
        ("http://token@127.0.0.1:9/", "http://127.0.0.1:9"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_public_endpoint_drops_credentials(url, public):
    assert public_endpoint(url) == public


@pytest.mark.parametrize(
    "url",
    [
        "huggingface.co",
        "localhost:8080",
        "ftp://hub.example",
        "http://",
        "https://h/?token=x",
        "x:y@h",
    ],
)
def test_endpoints_that_are_not_http_urls_are_refused_without_echoing_secrets(url):
    with pytest.raises(RegistryInputError, match=r"HF_ENDPOINT .* not an http\(s\) URL") as refused:
        check_endpoint(url, "HF_ENDPOINT")
    assert "token=x" not in str(refused.value) and "x:y" not in str(refused.value)


def test_hub_target_reads_the_environment_now(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://bob:pw@127.0.0.1:1234/")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "3")
    monkeypatch.delenv("HF_HUB_DOWNLOAD_TIMEOUT", raising=False)
    target = hub_target()
    assert target.endpoint == "http://bob:pw@127.0.0.1:1234"  # the client needs them
    assert target.display == "http://127.0.0.1:1234" and "pw" not in repr(target)
    assert (target.timeouts.etag, target.timeouts.download, target.timeouts.longest) == (3, 10, 10)


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "1e3", "100000"])
def test_bad_timeout_values_name_the_variable(monkeypatch, value):
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", value)
    with pytest.raises(RegistryInputError, match=f"HF_HUB_DOWNLOAD_TIMEOUT={value!r}"):
        hub_timeouts()


@pytest.mark.parametrize("value", ["", "0"])
def test_unset_or_zero_timeouts_mean_the_default(monkeypatch, value):
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", value)
    assert hub_timeouts().etag == 10


@pytest.mark.parametrize(
    "commit", ["../../etc/passwd", "A" * 40, "a" * 39, "a" * 41, "", None, 12, "g" * 40]
)
def test_only_40_hex_commit_ids_are_accepted(commit):
    with pytest.raises(HubAnswerError, match="not a commit id"):
        require_commit_id(commit, "branch x of o/r")
    assert (
        require_commit_id("0123456789abcdef" * 2 + "01234567", "x")
        == "0123456789abcdef" * 2 + "01234567"
    )


def test_html_and_garbage_answers_are_described():
    with pytest.raises(HubAnswerError, match="an HTML page"):
        decode_json(b"<!DOCTYPE html><html></html>", "text/html", "listing")
    with pytest.raises(HubAnswerError, match="not JSON"):
        decode_json(b"\xff\xfe\x00garbage", "", "listing")
    assert decode_json(b'{"a": 1}', "application/json", "listing") == {"a": 1}


def test_a_server_that_accepts_and_never_answers_is_bounded_by_the_timeout(monkeypatch):
    """Bare socket server: accepts, reads, never writes. Without the bounds this call never returns."""
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "1")
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    target = hub_target(f"http://127.0.0.1:{server.getsockname()[1]}")
    started = time.monotonic()
    try:
        from registry.hub.client import hub_errors

        with (
            pytest.raises(HubUnreachableError, match=r"no answer within 1 s"),
            hub_errors("probing", timeouts=target.timeouts),
        ):
            get_json(target, "/api/models/o/r/refs", "probing", retry=False)
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        server.close()
    assert time.monotonic() - started < 5
