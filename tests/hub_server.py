"""A stand-in for the Hugging Face Hub on 127.0.0.1, for the tests and benchmarks: the routes a download
uses (see ``inference/hub/api.py`` and ``../shared/notes/hub-downloads.md``), the Hub's error codes, and
faults on demand.

- ``GET /api/models/{repo}/revision/{rev}``: ``sha``, ``siblings``, ``gated``;
- ``GET /api/models/{repo}/tree/{commit}?recursive=True``: files with ``size``, ``oid`` (git blob id) and
  ``lfs.oid`` (sha256) for large files, ``page_size`` entries a page with a ``Link: rel="next"`` header;
- ``GET|HEAD /{repo}/resolve/{rev}/{path}``: small files directly (``ETag`` = git id); large files by a
  redirect to ``http://localhost:{port}/cdn/…`` — another host, so the client must drop its token;
  ``Range: bytes=N-`` answered 206 (416 past the end);
- ``GET /api/whoami-v2``.

Tokens: :data:`GOOD_TOKEN` reads everything; :data:`NO_ACCESS_TOKEN` is valid but not granted the gated
repos; anything else is refused (401 "Invalid credentials"). A gated repo without a token answers 401
``X-Error-Code: GatedRepo``, with a token lacking access 403 ``GatedRepo``, as the Hub does.

Faults (``fail``, ``cut``, ``change``, ``throttle``, ``stall``) and counters (``sent`` bytes per file,
``requests``) let a test say exactly what happened on the wire.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GOOD_TOKEN = "hf_good_token_0123456789abcdef"
NO_ACCESS_TOKEN = "hf_no_access_0123456789abcdef"
LFS_MIN = 1024  # files from this size up (and every weight file) are "large": sha256 and a CDN redirect


def git_oid(data_len: int, chunks) -> str:
    h = hashlib.sha1()
    h.update(b"blob %d\x00" % data_len)
    for c in chunks:
        h.update(c)
    return h.hexdigest()


@dataclass
class Blob:
    path: str
    size: int
    data: bytes | None = None  # in memory, or …
    source: Path | None = None  # … read from a file (large benchmarks)
    sha256: str = ""
    oid: str = ""

    @property
    def lfs(self) -> bool:
        return self.size >= LFS_MIN or self.path.endswith((".safetensors", ".gguf"))

    def read(self, start: int, end: int, block: int = 1 << 20):
        if self.data is not None:
            for i in range(start, end, block):
                yield self.data[i:min(end, i + block)]
            return
        with self.source.open("rb") as fh:
            fh.seek(start)
            left = end - start
            while left > 0:
                b = fh.read(min(block, left))
                if not b:
                    return
                left -= len(b)
                yield b


@dataclass
class Repo:
    name: str
    commit: str
    files: dict[str, Blob]
    gated: bool = False


@dataclass
class Fault:
    kind: str  # "status", "cut", "corrupt", "stall"
    path: str  # a file path in a repo ("" = any), or an API route prefix
    times: int = 1
    status: int = 500
    after: int = 0  # "cut"/"stall": bytes sent first
    seconds: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    status: int = 0


def _chunks_of(data: bytes, block: int = 1 << 20):
    for i in range(0, len(data), block):
        yield data[i:i + block]


class HubServer:
    def __init__(self, page_size: int = 1000) -> None:
        self.repos: dict[str, Repo] = {}
        self.page_size = page_size
        self.faults: list[Fault] = []
        self.sent: dict[str, int] = {}
        self.requests: list[Seen] = []
        self.rate: float | None = None  # bytes per second for file bodies
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- content -----------------------------------------------------------------------------------
    def add(self, repo: str, files: dict[str, bytes | Path], *, gated: bool = False, commit: str | None = None) -> Repo:
        blobs = {}
        for path, content in files.items():
            if isinstance(content, Path):
                size = content.stat().st_size
                b = Blob(path, size, source=content)
            else:
                b = Blob(path, len(content), data=bytes(content))
            sha, g = hashlib.sha256(), None
            chunks = list(b.read(0, b.size)) if b.data is not None else None
            if chunks is None:
                g = hashlib.sha1()
                g.update(b"blob %d\x00" % b.size)
                for c in b.read(0, b.size):
                    sha.update(c)
                    g.update(c)
                b.sha256, b.oid = sha.hexdigest(), g.hexdigest()
            else:
                for c in chunks:
                    sha.update(c)
                b.sha256, b.oid = sha.hexdigest(), git_oid(b.size, chunks)
            blobs[path] = b
        commit = commit or hashlib.sha1((repo + str(sorted((p, b.oid) for p, b in blobs.items()))).encode()).hexdigest()
        r = Repo(repo, commit, blobs, gated)
        with self.lock:
            self.repos[repo] = r
        return r

    def add_folder(self, repo: str, folder: Path, *, gated: bool = False, extra: dict | None = None) -> Repo:
        files: dict[str, bytes | Path] = {}
        for p in sorted(Path(folder).rglob("*")):
            if p.is_file():
                files[p.relative_to(folder).as_posix()] = p.read_bytes()
        files.update(extra or {})
        return self.add(repo, files, gated=gated)

    def change(self, repo: str, path: str, data: bytes) -> None:
        """Serve other bytes for ``path`` than the checksum listed (a tampering proxy)."""
        with self.lock:
            self.repos[repo].files[path].data = data

    # --- faults ------------------------------------------------------------------------------------
    def fail(self, path: str, status: int = 500, times: int = 1) -> None:
        self.faults.append(Fault("status", path, times, status=status))

    def cut(self, path: str, after: int, times: int = 1) -> None:
        """Close the connection after ``after`` bytes of the body (Content-Length announced in full)."""
        self.faults.append(Fault("cut", path, times, after=after))

    def stall(self, path: str, after: int, seconds: float, times: int = 1) -> None:
        self.faults.append(Fault("stall", path, times, after=after, seconds=seconds))

    def throttle(self, bytes_per_second: float | None) -> None:
        self.rate = bytes_per_second

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.sent.clear()
            self.requests.clear()
            self.rate = None

    def _fault(self, kinds: tuple[str, ...], path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.kind in kinds and f.times > 0 and (f.path == "" or path.endswith(f.path) or path.startswith(f.path)):
                    f.times -= 1
                    return f
        return None

    # --- server ------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HubServer:
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def bytes_sent(self, suffix: str = "") -> int:
        with self.lock:
            return sum(n for p, n in self.sent.items() if p.endswith(suffix))


class _Handler(BaseHTTPRequestHandler):
    server_hub: HubServer
    protocol_version = "HTTP/1.0"

    def log_message(self, *args) -> None:  # quiet
        return

    # --- helpers -----------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, ctype: str = "application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._seen.status = status

    def _json(self, data, status: int = 200, headers: dict | None = None):
        self._send(status, json.dumps(data).encode(), headers)

    def _error(self, status: int, code: str | None, message: str):
        h = {"X-Error-Message": message}
        if code:
            h["X-Error-Code"] = code
        self._json({"error": message}, status, h)

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    def _allowed(self, repo: Repo) -> bool:
        """Answer an auth failure and return False, or True."""
        tok = self._token()
        if tok is not None and tok not in (GOOD_TOKEN, NO_ACCESS_TOKEN):
            self._error(401, None, "Invalid credentials in Authorization header")
            return False
        if repo.gated:
            if tok is None:
                self._error(401, "GatedRepo", f"Access to model {repo.name} is restricted. You must have access "
                            "to it and be authenticated to access it. Please log in.")
                return False
            if tok != GOOD_TOKEN:
                self._error(403, "GatedRepo", f"Access to model {repo.name} is restricted and you are not in the "
                            "authorized list. Visit https://huggingface.co/" + repo.name + " to ask for access.")
                return False
        return True

    def _repo(self, name: str) -> Repo | None:
        repo = self.server_hub.repos.get(name)
        if repo is None:
            tok = self._token()
            if tok is not None and tok not in (GOOD_TOKEN, NO_ACCESS_TOKEN):
                self._error(401, None, "Invalid credentials in Authorization header")
            else:
                self._error(401 if tok is None else 404, "RepoNotFound", "Repository not found")
        return repo

    # --- routes ------------------------------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        hub = self.server_hub
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        self._seen = Seen(self.command, path, dict(self.headers.items()))
        with hub.lock:
            hub.requests.append(self._seen)
        fault = hub._fault(("status",), path)
        if fault is not None:
            self._error(fault.status, None, "Internal Error - We're working hard to fix this as soon as possible!")
            return
        if path == "/api/whoami-v2":
            tok = self._token()
            if tok in (GOOD_TOKEN, NO_ACCESS_TOKEN):
                self._json({"type": "user", "name": "akapen-tester" if tok == GOOD_TOKEN else "no-access-user"})
            else:
                self._error(401, None, "Invalid credentials in Authorization header")
            return
        m = re.match(r"^/api/models/([^/]+/[^/]+)/revision/(.+)$", path)
        if m:
            repo = self._repo(m.group(1))
            if repo is None:
                return
            tok = self._token()
            if tok is not None and tok not in (GOOD_TOKEN, NO_ACCESS_TOKEN):
                self._error(401, None, "Invalid credentials in Authorization header")
                return
            if m.group(2) not in ("main", repo.commit):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {m.group(2)}")
                return
            self._json({"id": repo.name, "sha": repo.commit, "gated": "manual" if repo.gated else False,
                        "siblings": [{"rfilename": p} for p in sorted(repo.files)]})
            return
        m = re.match(r"^/api/models/([^/]+/[^/]+)/tree/([^/]+)/?$", path)
        if m:
            repo = self._repo(m.group(1))
            if repo is None:
                return
            if m.group(2) not in ("main", repo.commit):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {m.group(2)}")
                return
            entries = []
            for p in sorted(repo.files):
                b = repo.files[p]
                e = {"type": "file", "path": p, "size": b.size, "oid": b.oid}
                if b.lfs:
                    e["lfs"] = {"oid": b.sha256, "size": b.size, "pointerSize": 134}
                entries.append(e)
            dirs = sorted({p.rsplit("/", 1)[0] for p in repo.files if "/" in p})
            entries += [{"type": "directory", "path": d, "oid": "0" * 40, "size": 0} for d in dirs]
            q = urllib.parse.parse_qs(parsed.query)
            start = int(q.get("cursor", ["0"])[0])
            page = entries[start:start + hub.page_size]
            headers = {}
            if start + hub.page_size < len(entries):
                nxt = f"{parsed.path}?recursive=True&expand=False&cursor={start + hub.page_size}"
                headers["Link"] = f'<{nxt}>; rel="next"'
            self._json(page, headers=headers)
            return
        m = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if m:
            repo = self._repo(m.group(1))
            if repo is None or not self._allowed(repo):
                return
            if m.group(2) not in ("main", repo.commit):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {m.group(2)}")
                return
            blob = repo.files.get(m.group(3))
            if blob is None:
                self._error(404, "EntryNotFound", f"{m.group(3)} does not exist on \"{m.group(2)}\"")
                return
            common = {"X-Repo-Commit": repo.commit, "ETag": f'"{blob.sha256 if blob.lfs else blob.oid}"'}
            if blob.lfs:
                common["X-Linked-Etag"] = f'"{blob.sha256}"'
                common["X-Linked-Size"] = str(blob.size)
                cdn = f"http://localhost:{hub.port}/cdn/{repo.name}/{blob.path}"
                self._send(302, b"", {**common, "Location": cdn})
                return
            self._file(blob, repo.name, common)
            return
        m = re.match(r"^/cdn/([^/]+/[^/]+)/(.+)$", path)
        if m and m.group(1) in hub.repos and m.group(2) in hub.repos[m.group(1)].files:
            blob = hub.repos[m.group(1)].files[m.group(2)]
            self._file(blob, m.group(1), {"ETag": f'"cdn-{blob.sha256[:16]}"'})
            return
        self._error(404, None, "Not found")

    def _file(self, blob: Blob, repo: str, headers: dict) -> None:
        hub = self.server_hub
        start, end = 0, blob.size
        rng = self.headers.get("Range")
        status = 200
        if rng:
            mm = re.match(r"^bytes=(\d+)-(\d*)$", rng.strip())
            if mm:
                start = int(mm.group(1))
                if mm.group(2):
                    end = min(blob.size, int(mm.group(2)) + 1)
                if start >= blob.size:
                    self._send(416, b"", {**headers, "Content-Range": f"bytes */{blob.size}"})
                    return
                status = 206
                headers = {**headers, "Content-Range": f"bytes {start}-{end - 1}/{blob.size}"}
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self._seen.status = status
        if self.command == "HEAD":
            return
        key = f"{repo}/{blob.path}"
        cut = hub._fault(("cut",), blob.path)
        stall = hub._fault(("stall",), blob.path)
        sent = 0
        t0 = time.monotonic()
        try:
            for chunk in blob.read(start, end, block=64 * 1024 if hub.rate else 1 << 20):
                stop = next((f for f in (cut, stall) if f is not None and sent + len(chunk) > f.after), None)
                if stop is not None:  # send up to the fault's byte, then (stalled for a while) drop the connection
                    head = chunk[:max(0, stop.after - sent)]
                    self.wfile.write(head)
                    self._count(key, len(head))
                    time.sleep(stop.seconds)
                    self.connection.shutdown(2)
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
                self._count(key, len(chunk))
                if hub.rate:
                    ahead = sent / hub.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    def _count(self, key: str, n: int) -> None:
        with self.server_hub.lock:
            self.server_hub.sent[key] = self.server_hub.sent.get(key, 0) + n


def main() -> None:
    """``python -m tests.hub_server FOLDER REPO [gated] [BYTES_PER_S]``: serve one folder as a repo (to try the
    app by hand under a virtual screen)."""
    import sys

    folder, repo = Path(sys.argv[1]), sys.argv[2]
    server = HubServer().start()
    server.add_folder(repo, folder, gated="gated" in sys.argv[3:])
    rate = [float(a) for a in sys.argv[3:] if a.replace(".", "").isdigit()]
    server.throttle(rate[0] if rate else None)
    print(f"HF_ENDPOINT={server.url}  ({repo} from {folder}; tokens: {GOOD_TOKEN})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
