"""One place that talks to the Hugging Face Hub: the client, offline detection and error translation.

Every Hub call of the registry goes through ``huggingface_hub`` with an explicit ``endpoint`` (so a test
server or a mirror can stand in for https://huggingface.co) and through :func:`hub_errors`, which turns
the library's exceptions into one :class:`~registry.errors.HubError` whose message says what happened
and what to do. Tokens come from ``HF_TOKEN`` or ``hf auth login`` (``huggingface_hub`` reads them) and
never appear in a message: messages name repositories, revisions and files, not URLs with headers.

Every request is bounded in time. ``huggingface_hub`` bounds its file downloads (``HF_HUB_ETAG_TIMEOUT``
for metadata, ``HF_HUB_DOWNLOAD_TIMEOUT`` for content) but sends its API calls (refs, tree, model
listing) with no timeout at all, so a Hub that accepts the connection and never answers would hang them
forever. :func:`install_request_bounds` makes its shared client give every request that has no timeout
``HF_HUB_DOWNLOAD_TIMEOUT`` (what ``huggingface_hub`` documents as the default for other requests) and
caps every wait at the larger of the two settings. Retries with back-off on 429 (honouring
``Retry-After``) and 5xx stay ``huggingface_hub``'s own (:func:`huggingface_hub.utils.http_backoff`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import HubAnswerError, HubError, RegistryInputError

DEFAULT_ENDPOINT = "https://huggingface.co"
OFFLINE_MESSAGE = (
    "the Hugging Face Hub is not reachable ({reason}): `registry refresh`, `registry verify` and "
    "`registry download` need the Hub; everything else (list, fits, designs, dry-run estimates) works offline"
)
_TRUE = {"1", "true", "yes", "on"}
#: ``huggingface_hub``'s defaults (``constants.DEFAULT_ETAG_TIMEOUT`` / ``DEFAULT_DOWNLOAD_TIMEOUT``).
DEFAULT_TIMEOUT_S = 10.0
TIMEOUT_VARIABLES = ("HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT")
_COMMIT_RE = re.compile(r"[0-9a-f]{40}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_BOUNDS_LOCK = threading.Lock()


class HubUnreachableError(HubError):
    """The Hub cannot be reached: offline mode, no network, or DNS failure. Offline work still works."""


@dataclass(frozen=True)
class HubTimeouts:
    """How long one request may wait, in seconds (``huggingface_hub``'s two settings).

    Attributes:
        etag: ``HF_HUB_ETAG_TIMEOUT``: file metadata requests.
        download: ``HF_HUB_DOWNLOAD_TIMEOUT``: file content, and every request that sets no timeout.
    """

    etag: float = DEFAULT_TIMEOUT_S
    download: float = DEFAULT_TIMEOUT_S

    @property
    def longest(self) -> float:
        """No single wait (connect, read, write, pool) is allowed to exceed this."""
        return max(self.etag, self.download)


@dataclass(frozen=True)
class HubTarget:
    """Where and how to reach the Hub.

    Attributes:
        endpoint: Base URL of the Hub (``HF_ENDPOINT`` when set, else https://huggingface.co).
        token: An explicit token, or None to let ``huggingface_hub`` use ``HF_TOKEN`` / the login token.
        timeouts: The request time limits read from the environment.
    """

    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = None
    timeouts: HubTimeouts = field(default_factory=HubTimeouts)

    @property
    def display(self) -> str:
        """The endpoint safe to print or record: no user name, password, query or fragment."""
        return public_endpoint(self.endpoint)

    def __repr__(self) -> str:  # never show the token or credentials in the URL
        return f"HubTarget(endpoint={self.display!r}, token={'<set>' if self.token else None})"


def public_endpoint(url: str) -> str:
    """``url`` without credentials, query or fragment, e.g. ``https://u:p@hub.example/x?t=1`` -> ``https://hub.example/x``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


def check_endpoint(url: str, source: str) -> str:
    """Return ``url`` without a trailing slash if it is an http(s) URL with a host.

    Raises:
        RegistryInputError: no scheme, another scheme, no host, or a query string; the message names ``source``
            (``HF_ENDPOINT`` or ``--endpoint``) and shows the valid form. Credentials are not echoed.
    """
    text = url.strip()
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
        valid = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and not parts.query
            and not parts.fragment
        )
    except ValueError:
        valid = False
    if not valid:
        shown = public_endpoint(text) if parts.scheme and parts.hostname else text.split("@")[-1]
        raise RegistryInputError(
            f"{source} {shown!r} is not an http(s) URL with a host (and no query); use a URL like "
            f"{DEFAULT_ENDPOINT} or http://127.0.0.1:8080"
        )
    return text.rstrip("/")


def _timeout_from_env(name: str) -> float:
    """One timeout variable: unset, empty or 0 means the default (as in ``huggingface_hub``)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = int(raw)  # huggingface_hub parses these with int() at import
    except ValueError:
        value = None
    if value is None or value < 0 or value > 86_400:
        raise RegistryInputError(
            f"{name}={raw!r} is not a whole number of seconds; use an integer from 1 to 86400 "
            f"(0 or unset = the default, {DEFAULT_TIMEOUT_S:g} s)"
        )
    return float(value) if value > 0 else DEFAULT_TIMEOUT_S


def hub_timeouts() -> HubTimeouts:
    """The request time limits, read from ``HF_HUB_ETAG_TIMEOUT`` / ``HF_HUB_DOWNLOAD_TIMEOUT`` now.

    Raises:
        RegistryInputError: a value that is not a whole number of seconds.
    """
    return HubTimeouts(*(_timeout_from_env(name) for name in TIMEOUT_VARIABLES))


def hub_target(endpoint: str | None = None, token: str | None = None) -> HubTarget:
    """Return the Hub target: ``endpoint`` if given, else ``HF_ENDPOINT`` read now, else the public Hub.

    ``huggingface_hub`` reads ``HF_ENDPOINT`` once at import; reading it here at call time lets a
    process (or a test) change it later. The URL and the timeouts are checked before any request.

    Raises:
        RegistryInputError: an endpoint that is not an http(s) URL, or a bad timeout variable.

    Example:
        >>> hub_target("https://huggingface.co/").display
        'https://huggingface.co'
    """
    if endpoint:
        chosen = check_endpoint(endpoint, "--endpoint")
    elif os.environ.get("HF_ENDPOINT", "").strip():
        chosen = check_endpoint(os.environ["HF_ENDPOINT"], "HF_ENDPOINT")
    else:
        chosen = DEFAULT_ENDPOINT
    return HubTarget(endpoint=chosen, token=token, timeouts=hub_timeouts())


def require_commit_id(value: object, where: str) -> str:
    """Return ``value`` if it is a full 40-hex commit id; raise HubAnswerError naming ``where`` otherwise.

    A commit id becomes part of cache paths (``snapshots/<commit>``), so anything else (``../``,
    a branch name, an empty string) is refused before it is pinned or used.
    """
    if isinstance(value, str) and _COMMIT_RE.fullmatch(value):
        return value
    shown = repr(value)[:60]
    raise HubAnswerError(f"{where}: {shown} is not a commit id (40 hexadecimal characters)")


def is_sha256(value: object) -> bool:
    """True for a 64-hex sha256 digest."""
    return isinstance(value, str) and _SHA256_RE.fullmatch(value) is not None


def is_commit_id(value: object) -> bool:
    """True for a 40-hex commit (or git blob) id."""
    return isinstance(value, str) and _COMMIT_RE.fullmatch(value) is not None


def _bound_request(request: Any) -> None:
    """httpx request hook: fill unbounded waits and cap every wait at the configured limit."""
    try:
        limits = hub_timeouts()
    except RegistryInputError:
        limits = HubTimeouts()
    timeout = request.extensions.get("timeout")
    if not isinstance(timeout, dict):
        request.extensions["timeout"] = dict.fromkeys(
            ("connect", "read", "write", "pool"), limits.download
        )
        return
    for key in ("connect", "read", "write", "pool"):
        value = timeout.get(key)
        timeout[key] = limits.download if value is None else min(float(value), limits.longest)


_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def redact_credentials(text: str) -> str:
    """``text`` with the user name and password of every URL in it replaced by ``***``.

    Example:
        >>> redact_credentials("GET https://u:secret@hub.example/api failed")
        'GET https://***@hub.example/api failed'
    """
    return _USERINFO_RE.sub(r"\g<scheme>***@", text)


class _RedactCredentials(logging.Filter):
    """Rewrite ``huggingface_hub``'s retry warnings so that no URL in them shows its credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_credentials(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def _redact_hub_logs() -> None:
    hub_logger = logging.getLogger(
        "huggingface_hub.utils._http"
    )  # where the retry warnings come from
    if not any(isinstance(f, _RedactCredentials) for f in hub_logger.filters):
        hub_logger.addFilter(_RedactCredentials())


def install_request_bounds() -> None:
    """Make ``huggingface_hub``'s shared HTTP client bound every request (idempotent, thread-safe).

    Wraps the client factory in use (the library's default, or one the user set with
    ``huggingface_hub.set_client_factory``) so that each client it builds runs :func:`_bound_request`
    before every request, including redirects and retries.
    """
    from huggingface_hub.utils import _http

    _redact_hub_logs()
    with _BOUNDS_LOCK:
        current = getattr(_http, "_GLOBAL_CLIENT_FACTORY", _http.default_client_factory)
        if getattr(current, "_gemstones_bounded", False):
            return

        def bounded_factory() -> Any:
            client = current()
            hooks = client.event_hooks
            client.event_hooks = {
                "request": [*hooks.get("request", []), _bound_request],
                "response": list(hooks.get("response", [])),
            }
            return client

        bounded_factory._gemstones_bounded = True  # type: ignore[attr-defined]
        _http.set_client_factory(bounded_factory)


def offline_mode_requested() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network, read now.

    Raises:
        RegistryInputError: a timeout variable ``huggingface_hub`` would fail to parse at import.
    """
    hub_timeouts()  # checked before huggingface_hub is imported: it int()s them at import
    from huggingface_hub import constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in _TRUE:
            return True
    return bool(constants.is_offline_mode())


def require_online() -> None:
    """Raise a HubError explaining what works offline if offline mode is requested."""
    if offline_mode_requested():
        raise HubUnreachableError(OFFLINE_MESSAGE.format(reason="HF_HUB_OFFLINE is set"))


def hub_api(target: HubTarget):  # -> huggingface_hub.HfApi (imported lazily)
    """Return an ``HfApi`` bound to ``target`` (the token stays inside the client)."""
    from huggingface_hub import HfApi

    install_request_bounds()
    return HfApi(endpoint=target.endpoint, token=target.token, library_name="gemstones")


def get_json(target: HubTarget, path: str, what: str, *, retry: bool = True) -> Any:
    """GET ``{endpoint}{path}`` and return the decoded JSON body.

    Uses ``huggingface_hub``'s own retry/back-off (429 with ``Retry-After``, 5xx, timeouts) unless
    ``retry`` is False, its error classes (``RepositoryNotFoundError``, ...) for HTTP errors, and the
    bounded client. An answer that is not JSON (an HTML error page, a captive portal) raises
    HubAnswerError; HTTP errors propagate as ``huggingface_hub`` exceptions for the caller's
    :func:`hub_errors` block to translate.
    """
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_backoff

    install_request_bounds()
    headers = build_hf_headers(token=target.token, library_name="gemstones")
    no_retry: dict[str, Any] = (
        {} if retry else {"retry_on_exceptions": (), "retry_on_status_codes": ()}
    )
    response = http_backoff("GET", f"{target.endpoint}{path}", headers=headers, **no_retry)
    hf_raise_for_status(response)
    return decode_json(response.content, response.headers.get("content-type", ""), what)


def decode_json(body: bytes, content_type: str, what: str) -> Any:
    """Decode a JSON answer; raise HubAnswerError (saying what came instead) if it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        pass
    head = body[:200].lstrip().lower()
    kind = (
        "an HTML page"
        if head.startswith((b"<!doctype", b"<html")) or "html" in content_type
        else "not JSON"
    )
    raise HubAnswerError(
        f"the Hub's answer while {what} is {kind} ({len(body)} bytes, content-type "
        f"{content_type or 'unset'!r}); check HF_ENDPOINT points at a Hugging Face Hub"
    )


def probe_hub(target: HubTarget, repo_id: str) -> None:
    """Fail fast (HubUnreachableError, no retries) if the Hub cannot be reached.

    One ``GET /api/models/{repo}/refs`` without retries: the listing endpoints retry network errors
    with back-off for ~20 s, which would make an offline machine wait before saying it is offline.
    Any HTTP answer (even 401/404/429/5xx), whatever its body, proves the Hub is reachable.
    """
    from huggingface_hub import errors as hf

    require_online()
    with hub_errors(f"contacting the Hub at {target.display}", timeouts=target.timeouts):
        try:
            get_json(target, f"/api/models/{repo_id}/refs", "probing", retry=False)
        except (hf.HfHubHTTPError, HubAnswerError):
            return


def default_hub_cache() -> Path:
    """The standard Hugging Face cache folder, read from the environment now.

    ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub`` or
    ``~/.cache/huggingface/hub`` (the same rules as ``huggingface_hub``, which reads them at import).
    """
    if cache := os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(cache).expanduser()
    if home := os.environ.get("HF_HOME"):
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def hub_failure(
    error: BaseException, what: str, timeouts: HubTimeouts | None = None
) -> HubError | None:
    """The ``HubError`` a Hub failure while doing ``what`` becomes, or None if it is not one.

    Decided by the exception's type and attributes (HTTP status, errno), never by its message: an
    unreachable Hub (offline mode, no connection, no answer in time) is a ``HubUnreachableError``.
    """
    import httpx2
    from huggingface_hub import errors as hf

    if isinstance(error, hf.OfflineModeIsEnabled):
        return _unreachable("HF_HUB_OFFLINE is set")
    cause = error.__cause__ or error.__context__
    if isinstance(error, hf.LocalEntryNotFoundError) and isinstance(cause, Exception):
        # huggingface_hub wraps the failed metadata request (after its retries): explain that one
        explained = hub_failure(cause, what, timeouts)
        if explained is not None:
            return explained
    if isinstance(error, httpx2.TimeoutException):
        limits = timeouts or HubTimeouts()
        return _unreachable(
            f"no answer within {limits.longest:g} s while {what}; "
            "HF_HUB_ETAG_TIMEOUT and HF_HUB_DOWNLOAD_TIMEOUT set the limits in seconds"
        )
    if isinstance(error, (httpx2.ConnectError, hf.LocalEntryNotFoundError)):
        return _unreachable(f"no connection while {what}")
    if isinstance(error, hf.GatedRepoError):
        return HubError(
            f"access denied while {what}: the repository is gated; accept its terms on the Hub, then set "
            "HF_TOKEN or run `hf auth login`"
        )
    if isinstance(error, hf.RevisionNotFoundError):
        return HubError(
            f"not found while {what}: the branch or commit is gone from the Hub (404); "
            "run `gemstones registry refresh` to re-pin the catalog"
        )
    if isinstance(error, hf.RemoteEntryNotFoundError):
        return HubError(
            f"not found while {what}: the file is not on the Hub at that revision (404)"
        )
    if isinstance(error, hf.HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            token_state = "a token was sent" if _token_available() else "no token was sent"
            return HubError(
                f"not authorised while {what} (HTTP {status}; {token_state}): the repository is private, "
                "gated or missing; set HF_TOKEN or run `hf auth login` with an account that has access"
            )
        if status == 404:
            return HubError(
                f"not found while {what} (HTTP 404): the repository or revision does not exist"
            )
        if status == 429:
            return HubError(
                f"the Hub rate-limited the requests while {what} (HTTP 429) and still did after "
                "huggingface_hub's retries; wait a few minutes (or log in: `hf auth login`) and re-run"
            )
        if status is not None and status >= 500:
            return HubError(
                f"the Hub answered HTTP {status} while {what}; nothing partial was kept; "
                "try again later (completed files are reused)"
            )
        return HubError(f"the Hub refused the request while {what} (HTTP {status})")
    if isinstance(error, (httpx2.RemoteProtocolError, httpx2.ReadError)):
        return HubError(
            f"the connection broke while {what} and could not be resumed; nothing partial was kept; "
            "re-run to continue (completed files are reused)"
        )
    if type(error) is OSError and error.errno is None:
        # huggingface_hub's own check of a finished transfer (e.g. the size does not match the
        # metadata) raises a bare OSError without errno; a failure of the system sets errno
        first = (str(error).strip().splitlines() or ["OSError"])[0]
        return HubError(
            f"incomplete transfer while {what} ({first}); nothing partial was kept; re-run"
        )
    return None


def _unreachable(reason: str) -> HubUnreachableError:
    return HubUnreachableError(OFFLINE_MESSAGE.format(reason=reason))


def _token_available() -> bool:
    from huggingface_hub import get_token

    return get_token() is not None


@contextmanager
def hub_errors(what: str, *, timeouts: HubTimeouts | None = None) -> Iterator[None]:
    """Translate ``huggingface_hub``/network exceptions raised inside the block into HubError.

    Args:
        what: What the block does, for the message (e.g. ``"listing branches of tomg-group-umd/..."``).
        timeouts: The limits in force, named in a timeout message.
    """
    try:
        yield
    except HubError:
        raise
    except Exception as error:
        failure = hub_failure(error, what, timeouts)
        if failure is None:
            raise
        raise failure from None


@contextmanager
def hub_answer(what: str) -> Iterator[None]:
    """Turn a malformed answer parsed inside the block (not JSON, wrong shape) into HubAnswerError.

    ``huggingface_hub`` decodes listings itself and fails with ``JSONDecodeError``, ``KeyError`` or
    ``TypeError`` when the server sends HTML or an unexpected shape; wrap only the parsing call.
    """
    try:
        yield
    except HubError:
        raise
    except json.JSONDecodeError:
        raise HubAnswerError(
            f"the Hub's answer while {what} is not JSON (an HTML page?); "
            "check HF_ENDPOINT points at a Hugging Face Hub"
        ) from None
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise HubAnswerError(
            f"the Hub's answer while {what} has an unexpected shape "
            f"({type(error).__name__}: {str(error)[:80]}); check HF_ENDPOINT points at a Hugging Face Hub"
        ) from None
