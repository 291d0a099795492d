"""One file from the Hub into the cache: resumable across restarts, retried, verified, streamed.

The bytes go to ``blobs/{etag}.incomplete`` as they arrive, written straight through (no buffer held
back), so a quit, a crash or a kill keeps everything received; the next attempt asks for the rest
(``Range: bytes=N-``) and a file is never fetched from zero twice. Its checksum is computed while it
streams (the kept prefix is hashed once when a download continues) and compared with the Hub's before
the file is moved to ``blobs/{etag}`` and linked into the snapshot: a damaged file never enters the cache.

No ``If-Range``: the address names the commit, so the bytes behind it never change (and the CDN's ETag
after a redirect is not the Hub's); the checksum catches anything else.

Failures: a dropped connection, a stall (no byte for ``policy.stall`` seconds), 5xx and 429 answers are
retried with back-off (``policy``), continuing from the bytes kept; a full disk stops with
:class:`errors.DiskFull` keeping the partial file; cancel (or pause) stops within a fraction of a second,
keeping it too.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import select
import time
from collections.abc import Callable
from pathlib import Path

from inference.hub import api, cache, errors
from inference.progress import CancelToken

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024  # the most read (and so re-fetched after a kill) in one piece
POLL = 0.5  # seconds between cancel checks while a connection is silent


def _hasher(f: api.RemoteFile):
    if f.sha256:
        return hashlib.sha256()
    h = hashlib.sha1()
    h.update(b"blob %d\x00" % f.size)
    return h


def _hash_prefix(part: Path, h, cancel: CancelToken | None) -> None:
    with part.open("rb") as fh:
        while block := fh.read(cache.HASH_BLOCK):
            h.update(block)
            if cancel is not None:
                cancel.raise_if_cancelled()


def _write_all(fd: int, data: memoryview, where: Path) -> None:
    while data:
        try:
            n = os.write(fd, data)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise errors.DiskFull(f"the disk is full while writing {where.parent.parent.name}: free some space "
                                      f"on {where.parent} (the part downloaded so far is kept) and continue") from None
            raise
        data = data[n:]


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes a-b/N`` → (a, N); ``bytes */N`` → (None, N)."""
    m = re.match(r"^\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*$", value or "")
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


def _socket_of(resp):
    """The response's socket (CPython's layout), to wait on it with select; None where it cannot be reached."""
    try:
        return resp.fp.raw._sock
    except AttributeError:
        return None


def _wait_readable(sock, seconds: float) -> bool:
    """Bytes can be read from ``sock`` now, or within ``seconds``. A short wait here, not a short socket timeout:
    once a read has timed out, Python's socket file refuses every later read ("cannot read from timed out
    object"), which turned every pause of a slow link into a new connection."""
    pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted wait inside the SSL object
    if pending is not None and pending() > 0:
        return True
    try:
        ready, _, _ = select.select([sock], [], [], seconds)
    except (OSError, ValueError):
        return True  # let the read itself say what is wrong
    return bool(ready)


def fetch(hub: api.Hub, repo: str, commit: str, f: api.RemoteFile, *, cache_dir: Path | None = None,
          policy: api.RetryPolicy = api.RetryPolicy(), cancel: CancelToken | None = None,
          on_bytes: Callable[[int], None] | None = None,
          on_retry: Callable[[str, float], None] | None = None) -> Path:
    """Make ``f`` present and verified in the cache; its snapshot path. ``on_bytes(n)``: n more bytes are on
    disk (negative when kept bytes had to be thrown away); ``on_retry(why, delay)`` before each wait."""
    cancel = cancel or CancelToken()
    on_bytes = on_bytes or (lambda n: None)
    target = cache.snapshot_path(repo, commit, f.path, cache_dir)
    blob = cache.blob_path(repo, f.etag, cache_dir)
    part = cache.part_path(repo, f.etag, cache_dir)
    if cache.installed(repo, commit, f, cache_dir):
        return target
    if blob.exists() and blob.stat().st_size == f.size:  # the same bytes under another path or commit
        cache.link(blob, target)
        return target
    blob.parent.mkdir(parents=True, exist_ok=True)
    url = hub.file_url(repo, commit, f.path)
    what = f"{repo}/{f.path}"
    h = _hasher(f)
    have = 0
    if part.exists():
        have = part.stat().st_size
        if have > f.size:
            part.unlink()
            have = 0
        else:
            _hash_prefix(part, h, cancel)
    failures = 0
    mismatches = 0
    last_have = have
    while True:
        cancel.raise_if_cancelled()
        try:
            if have < f.size:
                got = _stream(hub, url, part, have, f, h, policy, cancel, on_bytes, repo, what)
                if got < 0:  # the server sent the whole file again: what was kept is thrown away
                    on_bytes(-have)
                    h = _hasher(f)
                    _truncate(part)
                    have = 0
                    got = _stream(hub, url, part, 0, f, h, policy, cancel, on_bytes, repo, what)
                have += got
            if have < f.size:
                raise errors.NetworkError(f"the connection dropped while fetching {what} "
                                          f"({have} of {f.size} bytes kept)")
            if f.size == 0 and not part.exists():
                part.touch()
            if h.hexdigest() != f.etag:
                on_bytes(-have)
                part.unlink(missing_ok=True)
                h, have, last_have = _hasher(f), 0, 0
                mismatches += 1
                if mismatches >= 2:
                    raise errors.ChecksumMismatch(f"{what}: the downloaded bytes do not match the Hub's checksum, "
                                                  "twice (a proxy changing files?); nothing was kept")
                log.warning("%s: checksum differs from the Hub's; fetching it again", what)
                continue
            os.replace(part, blob)
            cache.link(blob, target)
            return target
        except errors.HubError as exc:
            if not exc.retry or isinstance(exc, errors.ChecksumMismatch):
                raise
            have = part.stat().st_size if part.exists() else 0  # what the broken connection left, all hashed
            failures = 1 if have > last_have else failures + 1  # progress since the last failure resets the count
            last_have = have
            if failures >= policy.tries:
                raise
            delay = policy.wait(failures)
            log.info("retrying %s in %.1f s: %s", what, delay, exc)
            if on_retry is not None:
                on_retry(str(exc), delay)
            if cancel.wait(delay):
                cancel.raise_if_cancelled()


def _truncate(part: Path) -> None:
    with part.open("wb"):
        pass


def _stream(hub: api.Hub, url: str, part: Path, offset: int, f: api.RemoteFile, h, policy: api.RetryPolicy,
            cancel: CancelToken, on_bytes, repo: str, what: str) -> int:
    """One connection: bytes appended to ``part`` from ``offset``; -1 when the server ignored the range."""
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    resp = hub.open(url, headers, repo=repo, what=what, ok=(200, 206, 416), timeout=policy.stall)
    try:
        if resp.status == 416:
            _, total = _content_range(resp.headers.get("Content-Range"))
            if total == offset == f.size:
                return 0
            raise errors.BadAnswer(f"the Hub refused to continue {what} at byte {offset}")
        if resp.status == 200 and offset:
            return -1
        if resp.status == 206:
            start, total = _content_range(resp.headers.get("Content-Range"))
            if start != offset or (total is not None and total != f.size):
                raise errors.BadAnswer(f"the Hub sent another part of {what} than asked for")
        sock = _socket_of(resp)
        got = 0
        silent_since = None
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o644)
        try:
            while offset + got < f.size:
                if cancel.cancelled:
                    cancel.raise_if_cancelled()
                # after the first read the reader's buffer is empty (read1 of a chunk larger than the buffer
                # takes all of it), so waiting on the socket never leaves bytes unread
                if got and sock is not None and not _wait_readable(sock, min(POLL, policy.stall)):
                    now = time.monotonic()
                    silent_since = silent_since or now
                    if now - silent_since >= policy.stall:
                        raise errors.NetworkError(f"the download of {what} stalled (nothing for "
                                                  f"{policy.stall:.0f} s)")
                    continue
                try:
                    chunk = resp.read1(min(CHUNK, f.size - offset - got))
                except TimeoutError:  # the socket's own timeout (policy.stall): nothing came at all
                    raise errors.NetworkError(f"the download of {what} stalled (nothing for "
                                              f"{policy.stall:.0f} s)") from None
                except (OSError, ValueError) as exc:
                    raise errors.NetworkError(f"the connection dropped while fetching {what}: {api._why(exc)}") \
                        from None
                except Exception as exc:  # http.client.IncompleteRead and kin
                    if type(exc).__module__ == "http.client":
                        raise errors.NetworkError(f"the connection dropped while fetching {what}") from None
                    raise
                if not chunk:
                    break  # the server closed early: retried from here
                silent_since = None
                _write_all(fd, memoryview(chunk), part)
                h.update(chunk)
                got += len(chunk)
                on_bytes(len(chunk))
        finally:
            os.close(fd)
        return got
    finally:
        resp.close()
