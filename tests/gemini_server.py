"""A stand-in for Google's Gemini API on 127.0.0.1, for the tests: it speaks the documented REST shape
of ``POST /v1beta/models/{model}:generateContent`` and nothing else.

Answers are queued (:meth:`GeminiServer.reply`); with none queued it answers the first picture it was
sent, inverted, with a line of text and usage counts. Every request is kept as it arrived (path,
query, headers, JSON body) so tests can check exactly what the SDK sent. A key other than the ones
it was given is refused as the real API refuses it (400 INVALID_ARGUMENT, reason API_KEY_INVALID).
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

PATH = re.compile(r"^/v1beta/models/([A-Za-z0-9._-]+):generateContent$")
GOOD_KEY = "AIza-test-key-0123456789"


@dataclass
class Reply:
    status: int = 200
    body: dict | None = None  # None: the default answer (the first picture inverted)
    delay: float = 0.0
    headers: dict = field(default_factory=dict)
    raw: bytes | None = None  # sent as it is (text/html), instead of a JSON body: a proxy's page


@dataclass
class Seen:
    path: str
    query: str
    headers: dict
    body: dict
    answered: threading.Event = field(default_factory=threading.Event)
    seconds: float = 0.0  # the stand-in's own time on it (reading the picture, answering)


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def image_part(data: bytes, mime: str = "image/png") -> dict:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def answer(*parts: dict, finish: str = "STOP", usage: dict | None = None, finish_message: str = "") -> dict:
    cand = {"content": {"role": "model", "parts": list(parts)}, "finishReason": finish, "index": 0}
    if finish_message:
        cand["finishMessage"] = finish_message
    out = {"candidates": [cand], "modelVersion": "test"}
    if usage is not None:
        out["usageMetadata"] = usage
    return out


def error(code: int, status: str, message: str, *details: dict) -> dict:
    body = {"code": code, "message": message, "status": status}
    if details:
        body["details"] = list(details)
    return {"error": body}


def blocked(reason: str, message: str = "") -> dict:
    fb = {"blockReason": reason}
    if message:
        fb["blockReasonMessage"] = message
    return {"promptFeedback": fb, "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}}


def retry_info(delay: str) -> dict:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def decode_inline(part: dict) -> tuple[str, np.ndarray]:
    """(mime type, RGB pixels) of an inline image part as the SDK sent it."""
    blob = part.get("inlineData") or part.get("inline_data")
    mime = blob.get("mimeType") or blob.get("mime_type")
    with Image.open(io.BytesIO(base64.urlsafe_b64decode(blob["data"]))) as im:  # the SDK sends URL-safe base64
        return mime, np.array(im.convert("RGB"))


class GeminiServer:
    def __init__(self, keys: tuple[str, ...] = (GOOD_KEY,)) -> None:
        self.keys = set(keys)
        self.replies: deque[Reply] = deque()
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def reply(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def reset(self) -> None:
        with self.lock:
            self.replies.clear()
            self.requests.clear()

    def default_answer(self, body: dict) -> dict:
        parts = body["contents"][0]["parts"]
        first = next(p for p in parts if "inlineData" in p or "inline_data" in p)
        _mime, rgb = decode_inline(first)
        return answer({"text": "Here is the edited picture."}, image_part(png(255 - rgb)),
                      usage={"promptTokenCount": 1290, "candidatesTokenCount": 1300, "totalTokenCount": 2590})

    def start(self) -> GeminiServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send_raw(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(404, error(404, "NOT_FOUND", "only generateContent is served here"))

            def do_POST(self) -> None:
                path, _, query = self.path.partition("?")
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                t0 = time.perf_counter()
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
                    return
                seen = Seen(path, query, dict(self.headers.items()), body)
                with server.lock:
                    server.requests.append(seen)
                    queued = server.replies.popleft() if server.replies else Reply()
                m = PATH.match(path)
                if m is None:
                    self._send(404, error(404, "NOT_FOUND", f"The requested URL {path} was not found."))
                elif self.headers.get("x-goog-api-key") not in server.keys:
                    self._send(400, error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                                          {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                           "reason": "API_KEY_INVALID", "domain": "googleapis.com"}))
                else:
                    if queued.delay:
                        time.sleep(queued.delay)
                    if queued.raw is not None:
                        self._send_raw(queued.status, queued.raw)
                    else:
                        out = queued.body if queued.body is not None else server.default_answer(body)
                        self._send(queued.status, out, queued.headers)
                seen.seconds = time.perf_counter() - t0 - queued.delay
                seen.answered.set()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, name="gemini-test-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
