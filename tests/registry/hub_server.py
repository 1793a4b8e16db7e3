"""A loopback stand-in for the Hugging Face Hub: only the endpoints the registry's code path uses.

Two ``ThreadingHTTPServer``s on 127.0.0.1 (ephemeral ports) share one state:

- the **Hub** origin, which answers the API and ``resolve`` calls that ``huggingface_hub`` makes:
  ``GET /api/models?author=&search=`` (paginated with a ``Link: <...>; rel="next"`` header),
  ``GET /api/models/{repo}/refs``, ``GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=``,
  ``HEAD|GET /{repo}/resolve/{rev}/{file}``; errors carry ``X-Error-Code`` (``RepoNotFound``,
  ``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``) as on the Hub;
- the **CDN** origin (another port, hence another origin), serving LFS blobs by sha256 with ``Range``
  support (``206`` + ``Content-Range``), the way the Hub redirects LFS downloads to a CDN. The client
  must not forward the token there; the log lets tests check that.

Regular files are served by the Hub with ``ETag`` = git blob oid; LFS files answer ``302`` with
``Location`` (CDN), ``X-Linked-Etag`` (sha256) and ``X-Linked-Size``. Every answer about a revision
carries ``X-Repo-Commit``. Failure switches: drop a connection mid-file once, answer 500 for a file,
require a token (401) or gate a repository (403), delete a branch (404), and :class:`Fault` rules
(``HubState.faults``) that answer any request whose path contains a string with a canned status,
headers and body (HTML pages, wrong-shaped JSON, 401 on refs only, 429 with ``Retry-After``, 5xx),
``times`` times or forever, or accept it and never answer (``hang``). ``stall_half`` sends half of a
file's body and then stalls, so a test can kill the downloading process mid-file.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

import numpy as np

ORG = "tomg-group-umd"


def git_blob_oid(content: bytes) -> str:
    """Git object id of a blob: sha1 of ``b"blob <size>\\0" + content``."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content, usedforsecurity=False).hexdigest()


def commit_id(*parts: str) -> str:
    """A deterministic 40-hex commit id."""
    return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()


def tiny_safetensors(seed: int, shape: tuple[int, int] = (4, 8)) -> bytes:
    """A valid safetensors file written by hand: u64 LE header length, JSON header, raw little-endian data."""
    rng = np.random.default_rng(seed)
    embed = rng.standard_normal(shape).astype("<f4")
    norm = np.ones(shape[1], dtype="<f4")
    tensors = {"model.embed_tokens.weight": embed, "model.norm.weight": norm}
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, array in tensors.items():
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(a.tobytes() for a in tensors.values())


def lfs_pointer(content: bytes) -> bytes:
    """The git-lfs pointer committed in place of an LFS file."""
    sha = hashlib.sha256(content).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(content)}\n".encode()


def checkpoint_files(
    repo_id: str, revision: str, *, weights_seed: int | None = None
) -> dict[str, bytes]:
    """The files of a fake Gemstone branch: config, tokenizer files, tiny safetensors, README."""
    shape = repo_id.rsplit("Gemstone-", 1)[-1]
    config = {
        "architectures": ["GemmaForCausalLM"],
        "model_type": "gemma",
        "shape": shape,
        "revision": revision,
    }
    seed = weights_seed if weights_seed is not None else int(commit_id(repo_id, revision)[:8], 16)
    return {
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
        "README.md": f"# {repo_id}\n".encode(),
        "config.json": json.dumps(config, indent=2).encode(),
        "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "BPE"}}).encode(),
        "tokenizer_config.json": b'{"model_max_length": 2048}',
        "model.safetensors": tiny_safetensors(seed),
    }


def pythia_checkpoint_files(
    repo_id: str, revision: str, *, weights_seed: int | None = None
) -> dict[str, bytes]:
    """The files of a fake Pythia branch: a GPT-NeoX config, tokenizer files, tiny safetensors."""
    config = {
        "architectures": ["GPTNeoXForCausalLM"],
        "model_type": "gpt_neox",
        "repo": repo_id,
        "revision": revision,
        "rotary_pct": 0.25,
        "use_parallel_residual": True,
        "tie_word_embeddings": False,
    }
    seed = weights_seed if weights_seed is not None else int(commit_id(repo_id, revision)[:8], 16)
    return {
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
        "config.json": json.dumps(config, indent=2).encode(),
        "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "BPE"}}).encode(),
        "special_tokens_map.json": b'{"eos_token": "<|endoftext|>"}',
        "model.safetensors": tiny_safetensors(seed, (8, 4)),
    }


@dataclass
class FakeRepo:
    """One repository: branches -> commit, commit -> files (path -> content)."""

    repo_id: str
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    token: str | None = None  # when set, requests must carry ``Authorization: Bearer <token>``
    gated: bool = False

    def add_branch(self, name: str, files: dict[str, bytes], *, salt: str = "") -> str:
        commit = commit_id(self.repo_id, name, salt)
        self.commits[commit] = dict(files)
        self.branches[name] = commit
        return commit


@dataclass
class Fault:
    """A canned answer for requests whose path contains ``path_contains`` (on the Hub origin).

    Attributes:
        path_contains: Matched against the raw request path (with its query string).
        status: HTTP status to answer.
        body: Body to send (``b""`` for none).
        headers: Extra headers (``Content-Type``, ``Retry-After``, ``X-Error-Code``...).
        times: How many matching requests get this answer; None = all of them.
        after: Let this many matching requests through first (e.g. the connectivity probe).
        hang: Accept the request and never answer (until the server stops).
        method: Only requests with this method (None = any).
    """

    path_contains: str
    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    after: int = 0
    hang: bool = False
    method: str | None = None
    hits: int = 0


HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Captive portal</body></html>"
)


@dataclass
class HubState:
    """Everything the servers serve, plus the failure switches and the request log."""

    repos: dict[str, FakeRepo] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)  # sha256 -> content
    page_size: int = 2
    drop_once: set[str] = field(default_factory=set)  # file names whose next body is cut mid-way
    fail_500: set[str] = field(default_factory=set)  # file names whose download answers 500
    stall_half: set[str] = field(default_factory=set)  # file names whose body stalls half-way
    faults: list[Fault] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)  # set on stop: hangs end
    log: list[dict[str, object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, path_contains: str, status: int = 500, **options: object) -> Fault:
        """Add a :class:`Fault` rule (first matching rule wins) and return it."""
        rule = Fault(path_contains, status, **options)  # type: ignore[arg-type]
        with self.lock:
            self.faults.append(rule)
        return rule

    def matching_fault(self, method: str, path: str) -> Fault | None:
        """The first live rule for this request, counting the hit."""
        with self.lock:
            for rule in self.faults:
                if rule.path_contains not in path or (rule.method and rule.method != method):
                    continue
                if rule.times is not None and rule.hits >= rule.after + rule.times:
                    continue
                rule.hits += 1
                if rule.hits > rule.after:
                    return rule
        return None

    def add_repo(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def record(self, entry: dict[str, object]) -> None:
        with self.lock:
            self.log.append(entry)

    def requests(self, method: str | None = None, contains: str = "") -> list[dict[str, object]]:
        with self.lock:
            return [
                e
                for e in self.log
                if (method is None or e["method"] == method) and contains in str(e["path"])
            ]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"
    state: HubState
    role: str  # "hub" or "cdn"
    cdn_base: str

    def log_message(self, format: str, *args: object) -> None:  # silence stderr
        return

    # -- plumbing -------------------------------------------------------------------------------
    def _log(self) -> None:
        self.state.record(
            {
                "role": self.role,
                "method": self.command,
                "path": self.path,
                "range": self.headers.get("Range"),
                "authorization": self.headers.get("Authorization"),
            }
        )

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        """Answer; a HEAD gets the headers (with the would-be ``Content-Length``) and no body."""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(
            200,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def _error(
        self, status: int, code: str, message: str, extra: dict[str, str] | None = None
    ) -> None:
        body = json.dumps({"error": message}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Error-Code": code,
            "X-Error-Message": message,
        }
        self._send(status, body, {**headers, **(extra or {})})

    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def _route(self) -> None:
        self._log()
        if self.role == "hub" and (rule := self.state.matching_fault(self.command, self.path)):
            if rule.hang:
                self.state.released.wait()
                self.close_connection = True
                return
            self._send(rule.status, rule.body, dict(rule.headers))
            return
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        if self.role == "cdn":
            match = re.fullmatch(r"/cdn/([0-9a-f]{64})", path)
            return (
                self._cdn(match.group(1))
                if match
                else self._error(404, "EntryNotFound", "no such blob")
            )
        if path == "/api/models":
            return self._list_models(query)
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/refs", path):
            return self._refs(match.group(1))
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path):
            return self._tree(match.group(1), match.group(2), match.group(3) or "", query)
        if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(match.group(1), match.group(2), match.group(3))
        self._error(404, "NotFound", f"no route for {path}")

    # -- access -----------------------------------------------------------------------------------
    def _repo(self, repo_id: str) -> FakeRepo | None:
        """The repository if the caller may see it; otherwise answer the Hub's error and return None."""
        repo = self.state.repos.get(repo_id)
        if repo is None:
            self._error(401, "RepoNotFound", "Repository not found")
            return None
        if repo.token is not None and self.headers.get("Authorization") != f"Bearer {repo.token}":
            if repo.gated:
                self._error(403, "GatedRepo", "Access to this repository is restricted")
            else:
                self._error(401, "RepoNotFound", "Invalid username or password.")
            return None
        return repo

    def _commit(self, repo: FakeRepo, revision: str) -> str | None:
        commit = repo.branches.get(revision) or (revision if revision in repo.commits else None)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    # -- endpoints --------------------------------------------------------------------------------
    def _list_models(self, query: dict[str, list[str]]) -> None:
        author = query.get("author", [""])[0]
        search = query.get("search", [""])[0]
        cursor = int(query.get("cursor", ["0"])[0])
        ids = sorted(
            rid
            for rid, repo in self.state.repos.items()
            if rid.startswith(f"{author}/") and search.lower() in rid.lower() and repo.token is None
        )
        page = ids[cursor : cursor + self.state.page_size]
        items = [
            {
                "_id": commit_id(rid),
                "id": rid,
                "modelId": rid,
                "author": author,
                "private": False,
                "tags": [],
            }
            for rid in page
        ]
        headers = {}
        if cursor + self.state.page_size < len(ids):
            params = f"author={quote(author)}&search={quote(search)}&cursor={cursor + self.state.page_size}"
            headers["Link"] = f'<http://{self.headers["Host"]}/api/models?{params}>; rel="next"'
        self._json(items, headers)

    def _refs(self, repo_id: str) -> None:
        if (repo := self._repo(repo_id)) is None:
            return
        branches = [
            {"name": name, "ref": f"refs/heads/{name}", "targetCommit": commit}
            for name, commit in sorted(repo.branches.items())
        ]
        self._json({"branches": branches, "converts": [], "tags": []})

    def _tree(self, repo_id: str, revision: str, folder: str, query: dict[str, list[str]]) -> None:
        if (repo := self._repo(repo_id)) is None or (
            commit := self._commit(repo, revision)
        ) is None:
            return
        recursive = query.get("recursive", ["False"])[0].lower() == "true"
        prefix = f"{folder.rstrip('/')}/" if folder else ""
        entries: dict[str, dict[str, object]] = {}
        for path, content in sorted(repo.commits[commit].items()):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            if "/" in rest and not recursive:
                directory = prefix + rest.split("/", 1)[0]
                entries[directory] = {
                    "type": "directory",
                    "oid": commit_id(directory),
                    "size": 0,
                    "path": directory,
                }
                continue
            entries[path] = self._file_entry(path, content)
        self._json(list(entries.values()), {"X-Repo-Commit": commit})

    @staticmethod
    def _file_entry(path: str, content: bytes) -> dict[str, object]:
        if path.endswith(".safetensors"):
            pointer = lfs_pointer(content)
            lfs = {
                "oid": hashlib.sha256(content).hexdigest(),
                "size": len(content),
                "pointerSize": len(pointer),
            }
            return {
                "type": "file",
                "oid": git_blob_oid(pointer),
                "size": len(content),
                "path": path,
                "lfs": lfs,
            }
        return {"type": "file", "oid": git_blob_oid(content), "size": len(content), "path": path}

    def _resolve(self, repo_id: str, revision: str, filename: str) -> None:
        if (repo := self._repo(repo_id)) is None or (
            commit := self._commit(repo, revision)
        ) is None:
            return
        content = repo.commits[commit].get(filename)
        if content is None:
            self._error(
                404, "EntryNotFound", f"{filename} does not exist", {"X-Repo-Commit": commit}
            )
            return
        if filename.endswith(".safetensors"):
            sha = hashlib.sha256(content).hexdigest()
            self.state.blobs[sha] = content
            headers = {
                "Location": f"{self.cdn_base}/cdn/{sha}",
                "X-Repo-Commit": commit,
                "X-Linked-Etag": f'"{sha}"',
                "X-Linked-Size": str(len(content)),
                "ETag": f'"{git_blob_oid(lfs_pointer(content))}"',
            }
            self._send(302, b"", headers)
            return
        if self.command == "GET" and filename in self.state.fail_500:
            self._error(500, "InternalError", "Internal Error")
            return
        headers = {
            "X-Repo-Commit": commit,
            "ETag": f'"{git_blob_oid(content)}"',
            "Accept-Ranges": "bytes",
        }
        self._body(content, headers, name=filename)

    def _cdn(self, sha: str) -> None:
        content = self.state.blobs.get(sha)
        if content is None:
            self._error(404, "EntryNotFound", "no such blob")
            return
        name = next(
            (
                p
                for repo in self.state.repos.values()
                for files in repo.commits.values()
                for p, c in files.items()
                if c == content
            ),
            sha,
        )
        if self.command == "GET" and name in self.state.fail_500:
            self._error(500, "InternalError", "Internal Error")
            return
        self._body(content, {"ETag": f'"{sha}"', "Accept-Ranges": "bytes"}, name=name)

    def _body(self, content: bytes, headers: dict[str, str], *, name: str) -> None:
        """Send ``content`` honouring ``Range: bytes=N-``; cut the connection once if asked to."""
        start, status = 0, 200
        requested = self.headers.get("Range")
        if requested and (match := re.fullmatch(r"bytes=(\d+)-(\d*)", requested.strip())):
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(content) - 1
            if start >= len(content):
                self._send(416, b"", {"Content-Range": f"bytes */{len(content)}"})
                return
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(content)}"}
            content_part, status = content[start : end + 1], 206
        else:
            content_part = content
        if self.command == "HEAD":
            self._send(status, b"", headers, length=len(content_part))
            return
        drop = stall = False
        with self.state.lock:
            if name in self.state.drop_once and len(content_part) > 1:
                self.state.drop_once.discard(name)
                drop = True
            stall = name in self.state.stall_half and len(content_part) > 1
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(content_part)))
        self.end_headers()
        if stall:
            self.wfile.write(content_part[: len(content_part) // 2])
            self.wfile.flush()
            self.state.released.wait()
            self.close_connection = True
            return
        if drop:
            self.wfile.write(content_part[: len(content_part) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the client sees a body shorter than Content-Length
            return
        self.wfile.write(content_part)


class FakeHub:
    """Start/stop the Hub and CDN servers; ``endpoint`` is what the client is pointed at."""

    def __init__(self, state: HubState | None = None) -> None:
        self.state = state or HubState()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.endpoint = ""
        self.cdn = ""

    def _serve(self, role: str, cdn_base: str) -> ThreadingHTTPServer:
        handler = type(
            f"{role}Handler", (_Handler,), {"state": self.state, "role": role, "cdn_base": cdn_base}
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        return server

    def start(self) -> FakeHub:
        cdn = self._serve("cdn", "")
        self.cdn = f"http://127.0.0.1:{cdn.server_address[1]}"
        hub = self._serve("hub", self.cdn)
        self.endpoint = f"http://127.0.0.1:{hub.server_address[1]}"
        return self

    def stop(self) -> None:
        self.state.released.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
