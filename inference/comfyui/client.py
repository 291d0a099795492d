"""One ComfyUI server's native API: HTTP for requests, a WebSocket for what happens.

Only stock routes of ComfyUI are used (``/system_stats``, ``/object_info``, ``/queue``,
``/upload/image``, ``/prompt``, ``/history/{id}``, ``/view``, ``/interrupt``, ``/ws``), so any
server works without custom nodes. Remote servers sit behind a proxy that wants
``Authorization: Bearer <token>``; it is sent on every request and on the WebSocket upgrade.

Every failure becomes a :class:`ServerError` naming the server and what to do; answers are
read with size limits (a server is not trusted to send sane sizes).
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from inference.errors import BackendFailed, InvalidRequest
from inference.remote_files import is_loopback

JSON_LIMIT = 64 * 1024 * 1024     # /object_info of a server with many nodes is a few MB
IMAGE_LIMIT = 512 * 1024 * 1024   # one output image
WS_FRAME_LIMIT = 64 * 1024 * 1024  # a preview frame
INFO_TTL = 30.0                   # seconds a server's /object_info is reused

_INFO_CACHE: dict[str, tuple[float, dict]] = {}
_INFO_LOCK = threading.Lock()


class ServerError(BackendFailed):
    """The server could not be reached, refused the request, or stopped answering."""


class GraphRejected(InvalidRequest):
    """The server refused the graph before running it (``node_errors`` says where)."""

    def __init__(self, message: str, node_errors: dict | None = None) -> None:
        super().__init__(message)
        self.node_errors = node_errors or {}


def normalise_url(url: str) -> str:
    """``host:port`` or ``http(s)://host:port/path`` → ``http(s)://host:port/path`` (no slash at the end)."""
    url = (url or "").strip()
    if not url:
        raise InvalidRequest("a server address is needed, e.g. http://127.0.0.1:8188")
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. "http://[1, 2" (a bracketed host that is no IPv6 address)
        host = None
    if host is None or parts.scheme not in ("http", "https"):
        raise InvalidRequest(f"{url[:200]!r} is not a server address: use http://host:port or https://host")
    if parts.query or parts.fragment:
        raise InvalidRequest(f"{url!r}: a server address has no ?query or #fragment")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise InvalidRequest(f"{url!r}: {exc}") from None
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def transport_warning(url: str) -> str:
    """Why this address is unsafe to use ("" when it is fine): not loopback and not https."""
    if urllib.parse.urlsplit(url).scheme == "https" or is_loopback(url):
        return ""
    return (f"{url} is neither this computer nor https: images, instructions and any token travel "
            "unencrypted; use an https address or an SSH tunnel for remote servers")


@dataclass(frozen=True)
class QueueState:
    running: tuple[str, ...]
    pending: tuple[str, ...]

    @property
    def length(self) -> int:
        return len(self.running) + len(self.pending)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """ComfyUI's API never redirects; following one would send the bearer token to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise ServerError(f"{req.full_url} redirected to {newurl}; refused (the token would go there too): "
                          "use the final address")


_OPENER = urllib.request.build_opener(_NoRedirect)


def _read_limited(resp, limit: int, what: str) -> bytes:
    data = resp.read(limit + 1)
    if len(data) > limit:
        raise ServerError(f"{what} is larger than {limit // (1024 * 1024)} MB; refused")
    return data


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = "akapen-" + secrets.token_hex(12)
    out: list[bytes] = []
    for name, value in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data, ctype) in files.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                   f"Content-Type: {ctype}\r\n\r\n".encode())
        out.append(data)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


class ComfyClient:
    """The API of the ComfyUI server at ``url`` (optionally behind a bearer-token proxy)."""

    def __init__(self, url: str, token: str = "", *, timeout: float = 20.0) -> None:
        self.url = normalise_url(url)
        self.token = token or ""
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ComfyClient({self.url!r})"

    # --- plain HTTP -------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        h = {"User-Agent": "Akapen"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def request(self, method: str, path: str, *, data: bytes | None = None, content_type: str | None = None,
                timeout: float | None = None, limit: int = JSON_LIMIT) -> bytes:
        headers = self._headers()
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(req, timeout=timeout or self.timeout) as resp:
                return _read_limited(resp, limit, f"the answer of {self.url}{path.split('?')[0]}")
        except urllib.error.HTTPError as exc:
            body = exc.read(64 * 1024).decode("utf-8", "replace")
            if exc.code == 400 and path == "/prompt":
                raise self._rejected(body) from None
            if exc.code in (401, 403):
                raise ServerError(f"the ComfyUI server at {self.url} refused access (HTTP {exc.code}): "
                                  + ("check its token" if self.token else "it needs a token")) from None
            if exc.code == 404:
                raise ServerError(f"{self.url} has no {path.split('?')[0]}: is it a ComfyUI server?") from None
            detail = body.strip().splitlines()[0][:300] if body.strip() else exc.reason
            raise ServerError(f"the ComfyUI server at {self.url} answered HTTP {exc.code} to "
                              f"{path.split('?')[0]}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServerError(f"cannot reach the ComfyUI server at {self.url}: {_reason(exc)}") from None

    def get_json(self, path: str, *, timeout: float | None = None):
        raw = self.request("GET", path, timeout=timeout)
        try:
            return json.loads(raw)
        except ValueError:
            raise ServerError(f"{self.url}{path} did not answer JSON: is it a ComfyUI server?") from None

    def post_json(self, path: str, payload, *, timeout: float | None = None) -> bytes:
        return self.request("POST", path, data=json.dumps(payload).encode(), content_type="application/json",
                            timeout=timeout)

    def _rejected(self, body: str) -> GraphRejected:
        try:
            data = json.loads(body)
        except ValueError:
            return GraphRejected(f"the ComfyUI server at {self.url} refused the graph: {body[:300]}")
        err = data.get("error") if isinstance(data, dict) else None
        node_errors = data.get("node_errors") if isinstance(data, dict) else None
        lines = []
        if isinstance(node_errors, dict):
            for node_id, ne in node_errors.items():
                for e in (ne or {}).get("errors", []) if isinstance(ne, dict) else []:
                    lines.append(f"node {node_id} ({ne.get('class_type', '?')}): "
                                 f"{e.get('message', '')} {e.get('details', '')}".strip())
        head = err.get("message", "invalid graph") if isinstance(err, dict) else "invalid graph"
        if isinstance(err, dict) and err.get("details") and not lines:
            lines.append(str(err["details"]))
        return GraphRejected(f"the ComfyUI server at {self.url} refused the graph: {head}"
                             + ("".join("\n  " + ln for ln in lines[:12])), node_errors)

    # --- the routes ---------------------------------------------------------------------------------
    def system_stats(self, *, timeout: float | None = None) -> dict:
        data = self.get_json("/system_stats", timeout=timeout)
        if not isinstance(data, dict) or "system" not in data:
            raise ServerError(f"{self.url}/system_stats is not ComfyUI's: is it a ComfyUI server?")
        return data

    def object_info(self, *, refresh: bool = False) -> dict:
        """Every node type the server knows, with its inputs and model files.

        A server takes ~0.15 s to list them, so the answer is shared by the clients of one
        address for ``INFO_TTL`` seconds; a server check (``refresh``) always asks again."""
        now = time.monotonic()
        with _INFO_LOCK:
            cached = _INFO_CACHE.get(self.url)
        if cached is not None and not refresh and now - cached[0] < INFO_TTL:
            return cached[1]
        data = self.get_json("/object_info")  # the timeout is per socket read, not for the whole answer
        if not isinstance(data, dict):
            raise ServerError(f"{self.url}/object_info is not ComfyUI's: is it a ComfyUI server?")
        with _INFO_LOCK:
            _INFO_CACHE[self.url] = (now, data)
        return data

    def queue(self) -> QueueState:
        data = self.get_json("/queue")

        def ids(items) -> tuple[str, ...]:
            return tuple(str(it[1]) for it in items or () if isinstance(it, list) and len(it) > 1)

        return QueueState(ids(data.get("queue_running")), ids(data.get("queue_pending")))

    def upload_image(self, png: bytes, name: str) -> str:
        """Upload ``png`` under ``name`` to the server's input folder; the name LoadImage takes."""
        body, ctype = _multipart({"overwrite": "true", "type": "input"}, {"image": (name, png, "image/png")})
        raw = self.request("POST", "/upload/image", data=body, content_type=ctype, timeout=max(self.timeout, 120.0))
        try:
            data = json.loads(raw)
            sub, fname = data.get("subfolder") or "", data["name"]
        except (ValueError, KeyError, AttributeError):
            raise ServerError(f"{self.url} answered the upload oddly: {raw[:200]!r}") from None
        return f"{sub}/{fname}" if sub else fname

    def submit(self, prompt: dict, client_id: str, prompt_id: str) -> str:
        raw = self.post_json("/prompt", {"prompt": prompt, "client_id": client_id, "prompt_id": prompt_id})
        try:
            data = json.loads(raw)
        except ValueError:
            raise ServerError(f"{self.url} answered /prompt oddly: {raw[:200]!r}") from None
        if data.get("node_errors"):
            raise self._rejected(json.dumps({"error": {"message": "invalid graph"},
                                             "node_errors": data["node_errors"]}))
        return str(data.get("prompt_id") or prompt_id)

    def history(self, prompt_id: str) -> dict | None:
        data = self.get_json(f"/history/{urllib.parse.quote(prompt_id)}")
        entry = data.get(prompt_id) if isinstance(data, dict) else None
        return entry if isinstance(entry, dict) else None

    def view(self, filename: str, subfolder: str = "", kind: str = "output") -> bytes:
        q = urllib.parse.urlencode({"filename": filename, "subfolder": subfolder, "type": kind})
        return self.request("GET", f"/view?{q}", limit=IMAGE_LIMIT, timeout=max(self.timeout, 120.0))

    def delete_queued(self, prompt_ids: list[str]) -> None:
        self.post_json("/queue", {"delete": list(prompt_ids)})

    def interrupt(self, prompt_id: str) -> None:
        """Interrupt ``prompt_id`` (servers that know targeted interrupts skip other jobs)."""
        self.post_json("/interrupt", {"prompt_id": prompt_id})

    def cancel(self, prompt_id: str) -> str:
        """Stop our job and nobody else's: delete it while it waits, interrupt it only while it
        is the one running. Returns "deleted", "interrupted" or "finished"."""
        state = self.queue()
        if prompt_id in state.pending:
            self.delete_queued([prompt_id])
            if prompt_id not in self.queue().running:  # it may have started in between
                return "deleted"
            state = self.queue()
        if prompt_id in state.running:
            self.interrupt(prompt_id)
            return "interrupted"
        return "finished"

    # --- the WebSocket --------------------------------------------------------------------------------
    def ws_url(self, client_id: str) -> str:
        parts = urllib.parse.urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path + "/ws",
                                        urllib.parse.urlencode({"clientId": client_id}), ""))

    def connect(self, client_id: str) -> EventStream:
        return EventStream(self, client_id)


def _reason(exc: BaseException) -> str:
    r = getattr(exc, "reason", exc)
    if isinstance(r, ConnectionRefusedError):
        return "connection refused (is ComfyUI running there?)"
    if isinstance(r, socket.timeout | TimeoutError):
        return "no answer in time"
    if isinstance(r, socket.gaierror):
        return "unknown host name"
    text = str(r) or type(r).__name__
    return text


@dataclass(frozen=True)
class Event:
    """One WebSocket message: ``kind`` is the message type ("executing", "progress", ...) and
    ``data`` its payload; a binary preview frame has kind "preview" and ``image`` bytes."""

    kind: str
    data: dict
    image: bytes | None = None


class EventStream:
    """The server's WebSocket for one client id. ``next(timeout)`` → Event or None on timeout."""

    def __init__(self, client: ComfyClient, client_id: str) -> None:
        from websockets.exceptions import InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        self.client = client
        self.client_id = client_id
        try:
            # entered at once (websockets ≥ 17.1 wants the connection used as a context manager)
            self._ws = connect(client.ws_url(client_id), additional_headers=client._headers(),
                               open_timeout=client.timeout, max_size=WS_FRAME_LIMIT, compression=None).__enter__()
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise ServerError(f"cannot open the event connection to {client.url}: {_reason(exc)}") from None
        try:  # as the first message: previews then carry their prompt id (servers that know it)
            self._ws.send(json.dumps({"type": "feature_flags", "data": {"supports_preview_metadata": True}}))
        except Exception as exc:  # noqa: BLE001 - the websockets library raises its own types
            self.close()
            raise ServerError(f"the event connection to {client.url} closed at once: {_reason(exc)}") from None

    def next(self, timeout: float) -> Event | None:
        from websockets.exceptions import ConnectionClosed

        try:
            msg = self._ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed:
            raise ServerError(f"the ComfyUI server at {self.client.url} closed the connection during the job") from None
        except OSError as exc:
            raise ServerError(f"the connection to the ComfyUI server at {self.client.url} broke during the job "
                              f"({_reason(exc)})") from None
        if isinstance(msg, bytes):
            if len(msg) < 8:
                return None
            event, word = int.from_bytes(msg[:4], "big"), int.from_bytes(msg[4:8], "big")
            if event == 1:  # a preview image: [format: 1 JPEG, 2 PNG][image]
                return Event("preview", {"format": word}, msg[8:])
            if event == 4 and 8 + word <= len(msg):  # [metadata length][metadata JSON][image]
                try:
                    meta = json.loads(msg[8:8 + word])
                except ValueError:
                    meta = {}
                return Event("preview", meta if isinstance(meta, dict) else {}, msg[8 + word:])
            return Event("binary", {"event": event})
        try:
            data = json.loads(msg)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        payload = data.get("data")
        return Event(str(data.get("type", "")), payload if isinstance(payload, dict) else {})

    def __iter__(self) -> Iterator[Event]:
        while True:
            ev = self.next(1.0)
            if ev is not None:
                yield ev

    def close(self) -> None:
        try:
            self._ws.close()
        except Exception:  # noqa: BLE001 - closing a dead connection is not an error
            pass

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
