"""The few Hub routes a download needs, over plain HTTP (urllib: proxies from the environment honoured).

- ``GET E/api/models/{repo}/revision/{rev}``: the commit a revision points at, and whether the repo is gated;
- ``GET E/api/models/{repo}/tree/{commit}?recursive=True&expand=False``: every file with its size and
  checksum (``lfs.oid`` is a large file's sha256; ``oid`` a small file's git blob id), paginated by ``Link``;
- ``GET E/{repo}/resolve/{commit}/{path}``: the file (often a redirect to a CDN: followed, and the token is
  not sent to another host);
- ``GET E/api/whoami-v2``: the token's owner (a cheap check that the Hub accepts it).

Answers other than 2xx become the errors of :mod:`errors` (:func:`errors.from_response`). Small JSON
answers are read with a size limit and checked field by field: a proxy's page or a damaged answer is a
clear :class:`errors.BadAnswer`, never a crash. Retries live in :mod:`transfer` and :func:`retrying`.
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse

from inference.hub import auth, errors
from inference.progress import CancelToken

USER_AGENT = "akapen/0.1 (+https://github.com/akapen)"
JSON_LIMIT = 32 * 1024 * 1024  # a tree page of a few thousand files is well under this
MAX_REDIRECTS = 5
MAX_PAGES = 200
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9_.\-]{1,96}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")


def check_repo_id(repo: str) -> str:
    repo = (repo or "").strip()
    if not _REPO.match(repo) or ".." in repo or repo.endswith((".git", ".")):
        raise errors.RepoNotFound(f"{repo!r} is not a Hugging Face repository id (org/name, e.g. "
                                  "black-forest-labs/FLUX.1-Kontext-dev)")
    return repo


def is_commit(revision: str) -> bool:
    return bool(_HEX40.match(revision or ""))


def safe_path(path: object) -> str:
    """A file path from the Hub, checked so it stays inside a snapshot folder."""
    if not isinstance(path, str) or not path or len(path) > 1024 or "\\" in path or "\x00" in path:
        raise errors.BadAnswer(f"the Hub listed a file with an unusable name: {str(path)[:80]!r}")
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or re.match(r"^[A-Za-z]:", path):
        raise errors.BadAnswer(f"the Hub listed a file outside the repository: {path[:80]!r}")
    return path


@dataclass(frozen=True)
class RemoteFile:
    """One file of a repo at a commit. ``sha256``: large (LFS) files; ``git_oid``: the git blob id."""

    path: str
    size: int
    sha256: str | None
    git_oid: str | None

    @property
    def etag(self) -> str:
        """The name of its blob in the Hugging Face cache (what the Hub sends as its ETag)."""
        return self.sha256 or self.git_oid or ""


@dataclass(frozen=True)
class RepoInfo:
    repo: str
    commit: str
    gated: bool
    files: tuple[str, ...]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002
        return None  # followed by hand, so the token never goes to another host


_OPENER = urllib.request.build_opener(_NoRedirect)
_DEFAULT = object()


class Hub:
    """The Hub at ``endpoint`` (default ``HF_ENDPOINT``) with ``token`` (default: :func:`auth.get_token`)."""

    def __init__(self, endpoint: str | None = None, token=_DEFAULT, timeout: float = 20.0) -> None:
        if auth.offline():
            raise errors.Offline(f"downloads are switched off ({auth.offline_variable()} is set): unset it to download "
                                 "models")
        self.endpoint = (endpoint or auth.endpoint()).rstrip("/")
        tok = auth.get_token() if token is _DEFAULT else token
        self.token = auth.Token(tok) if isinstance(tok, str) else tok
        self.timeout = timeout
        self._host = urllib.parse.urlsplit(self.endpoint).netloc

    # --- plain requests ------------------------------------------------------------------------
    def headers_for(self, url: str) -> dict[str, str]:
        h = {"User-Agent": USER_AGENT}
        if self.token and urllib.parse.urlsplit(url).netloc == self._host:
            h["Authorization"] = f"Bearer {self.token.reveal()}"
        return h

    def open(self, url: str, headers: dict[str, str] | None = None, *, repo: str, what: str = "",
             method: str = "GET", ok: tuple[int, ...] = (200, 206), timeout: float | None = None) -> HTTPResponse:
        """Open ``url`` following redirects; the answer if its status is in ``ok``, else the mapped error.
        Network failures raise :class:`errors.NetworkError`."""
        for _ in range(MAX_REDIRECTS + 1):
            req = urllib.request.Request(url, method=method, headers={**self.headers_for(url), **(headers or {})})
            try:
                resp = _OPENER.open(req, timeout=timeout or self.timeout)
            except urllib.error.HTTPError as exc:
                if exc.code in (301, 302, 303, 307, 308) and exc.headers.get("Location"):
                    url = urllib.parse.urljoin(url, exc.headers["Location"])
                    exc.close()
                    continue
                if exc.code in ok:
                    return exc  # an HTTPError is a readable answer (e.g. 416 for a finished range)
                body = _read_limited(exc, 4096).decode("utf-8", "replace")
                exc.close()
                raise errors.from_response(exc.code, exc.headers, body, repo=repo, endpoint=self.endpoint,
                                           token=bool(self.token), what=what) from None
            except (urllib.error.URLError, OSError, HTTPException) as exc:
                raise errors.NetworkError(f"could not reach {urllib.parse.urlsplit(url).netloc} for "
                                          f"{what or repo}: {_why(exc)}") from None
            if resp.status not in ok:
                resp.close()
                raise errors.BadAnswer(f"the Hub answered {resp.status} for {what or repo}")
            return resp
        raise errors.BadAnswer(f"too many redirects for {what or repo}")

    def json(self, url: str, *, repo: str, what: str = "") -> tuple[object, HTTPResponse]:
        """A small JSON answer; a dropped connection or a 5xx is tried again a few times (:func:`retrying`)."""
        return retrying(lambda: self._json_once(url, repo=repo, what=what), API_RETRY)

    def _json_once(self, url: str, *, repo: str, what: str = "") -> tuple[object, HTTPResponse]:
        resp = self.open(url, {"Accept": "application/json"}, repo=repo, what=what)
        try:
            raw = _read_limited(resp, JSON_LIMIT)
        except (OSError, HTTPException) as exc:
            raise errors.NetworkError(f"the connection dropped while reading {what or repo}: {_why(exc)}") from None
        finally:
            resp.close()
        try:
            return json.loads(raw), resp
        except (ValueError, RecursionError):
            raise errors.BadAnswer(f"the answer for {what or repo} is not the Hub's JSON (a proxy's page?)") from None

    # --- the routes ------------------------------------------------------------------------------
    def repo_info(self, repo: str, revision: str = "main") -> RepoInfo:
        repo = check_repo_id(repo)
        url = f"{self.endpoint}/api/models/{repo}/revision/{urllib.parse.quote(revision, safe='')}"
        data, _ = self.json(url, repo=repo)
        if not isinstance(data, dict) or not isinstance(data.get("sha"), str) or not is_commit(data["sha"]):
            raise errors.BadAnswer(f"the Hub's answer about {repo} has no commit id")
        sib = data.get("siblings") or []
        files = tuple(s["rfilename"] for s in sib if isinstance(s, dict) and isinstance(s.get("rfilename"), str))
        gated = data.get("gated")
        return RepoInfo(repo, data["sha"], bool(gated) and gated != "false", files)

    def tree(self, repo: str, commit: str) -> list[RemoteFile]:
        repo = check_repo_id(repo)
        url: str | None = f"{self.endpoint}/api/models/{repo}/tree/{commit}?recursive=True&expand=False"
        out: list[RemoteFile] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return out
            data, resp = self.json(url, repo=repo, what=f"the file list of {repo}")
            if not isinstance(data, list):
                raise errors.BadAnswer(f"the Hub's file list of {repo} is not a list")
            for entry in data:
                if isinstance(entry, dict) and entry.get("type") == "file":
                    out.append(_remote_file(entry, repo))
            url = _next_page(resp.headers.get("Link", ""), url, self._host)
        raise errors.BadAnswer(f"the file list of {repo} has more than {MAX_PAGES} pages")

    def file_url(self, repo: str, commit: str, path: str) -> str:
        return f"{self.endpoint}/{repo}/resolve/{commit}/{urllib.parse.quote(path, safe='/')}"

    def whoami(self) -> str:
        """The name of the token's owner; TokenRefused when the Hub does not accept it."""
        if not self.token:
            raise errors.TokenRefused("no Hugging Face token is set")
        data, _ = self.json(f"{self.endpoint}/api/whoami-v2", repo="", what="the token check")
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise errors.BadAnswer("the Hub's answer to the token check has no name")
        return data["name"]


def _remote_file(entry: dict, repo: str) -> RemoteFile:
    path = safe_path(entry.get("path"))
    size = entry.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 1 << 50:
        raise errors.BadAnswer(f"the Hub listed {repo}/{path} with a size of {str(size)[:40]!r}")
    lfs = entry.get("lfs")
    sha = None
    if isinstance(lfs, dict):
        sha = str(lfs.get("oid") or "").lower()
        if not _HEX64.match(sha):
            raise errors.BadAnswer(f"the Hub listed {repo}/{path} without a valid sha256")
        if lfs.get("size", size) != size:
            raise errors.BadAnswer(f"the Hub listed {repo}/{path} with two different sizes")
    oid = str(entry.get("oid") or "").lower()
    oid = oid if _HEX40.match(oid) else None
    if sha is None and oid is None:
        raise errors.BadAnswer(f"the Hub listed {repo}/{path} without a checksum")
    return RemoteFile(path, size, sha, oid)


def _next_page(link: str, current: str, host: str) -> str | None:
    for part in link.split(","):
        m = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', part)
        if m:
            nxt = urllib.parse.urljoin(current, m.group(1))
            return nxt if urllib.parse.urlsplit(nxt).netloc == host else None
    return None


def _read_limited(resp, limit: int) -> bytes:
    data = resp.read(limit + 1)
    if len(data) > limit:
        raise errors.BadAnswer(f"an answer of the Hub was larger than {limit // (1024 * 1024)} MB")
    return data


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer (timed out)"
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:160]


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying: ``tries`` failed attempts in a row (progress resets the count), waiting
    ``first`` seconds, doubling up to ``longest``; a connection silent for ``stall`` seconds is dropped."""

    tries: int = 6
    first: float = 1.0
    longest: float = 30.0
    stall: float = 30.0

    def wait(self, attempt: int) -> float:
        return min(self.longest, self.first * (2 ** max(0, attempt - 1)))


API_RETRY = RetryPolicy(tries=3, first=1.0, longest=4.0)  # the small API answers: a short wait, then a clear error


def retrying(fn: Callable[[], object], policy: RetryPolicy, cancel: CancelToken | None = None,
             on_retry: Callable[[str, float], None] | None = None):
    """``fn()``, tried again with back-off while it raises a retryable :class:`errors.HubError`."""
    attempt = 0
    while True:
        try:
            return fn()
        except errors.HubError as exc:
            attempt += 1
            if not exc.retry or attempt >= policy.tries:
                raise
            delay = policy.wait(attempt)
            if on_retry is not None:
                on_retry(str(exc), delay)
            if cancel is not None:
                if cancel.wait(delay):
                    cancel.raise_if_cancelled()
            else:
                time.sleep(delay)
