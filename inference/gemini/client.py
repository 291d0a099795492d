"""Google's SDK (``google-genai``) as the backend uses it: the client, the request's parts, the call, the answer.

The SDK is imported only here, and only when an edit runs, so listing backends stays cheap and a
missing package makes the backend "not available" instead of breaking the list. The SDK's own
retries are off: the backend retries a 429 once itself, with the wait the API asks for.

The call runs in a worker thread; a cancel returns at once and the late answer is dropped.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from inference import remote_files
from inference.errors import Cancelled, InferenceError
from inference.gemini.errors import ApiFailed, KeyRejected, NetworkFailed, QuotaExceeded, RequestTooLarge
from inference.gemini.keys import KEY_URL, Secret
from inference.progress import CancelToken

API_VERSION = "v1beta"
REQUEST_LIMIT = 20 * 1024 * 1024  # the API's limit on one request with inline images
MAX_ANSWER_PIXELS = 64 * 1024 * 1024
TEXT_LIMIT = 600  # characters of an API message quoted to the user


def sdk_problem() -> str:
    """Why the SDK cannot be used ("" when it can), without importing it."""
    try:
        found = importlib.util.find_spec("google.genai") is not None
    except (ImportError, ValueError):
        found = False
    return "" if found else ("it needs Google's Python SDK, the package 'google-genai', which is not installed "
                             "(pip install google-genai)")


def make_client(key: Secret, base_url: str, timeout: float):
    """An SDK client for the Gemini Developer API at ``base_url``, its own retries off."""
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=base_url, api_version=API_VERSION, timeout=int(timeout * 1000),
                                retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key=key.reveal(), vertexai=False, http_options=options)


def image_config(aspect_ratio: str | None, image_size: str | None):
    from google.genai import types

    if aspect_ratio is None and image_size is None:
        return None
    return types.ImageConfig(aspect_ratio=aspect_ratio, image_size=image_size)


def generate_config(aspect_ratio: str | None, image_size: str | None):
    from google.genai import types

    return types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"],
                                       image_config=image_config(aspect_ratio, image_size))


def contents(images: Sequence[tuple[bytes, str]], text: str) -> list:
    """The user turn: the images in order (image 1 the picture, then the references), then the text."""
    from google.genai import types

    return [*(types.Part.from_bytes(data=data, mime_type=mime) for data, mime in images), types.Part.from_text(text=text)]


# --- pictures in and out ------------------------------------------------------------------------------
def _flat(image: np.ndarray) -> np.ndarray:
    a = image[..., 3:4].astype(np.float32) / 255.0
    return (image[..., :3].astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)


def _encode(rgb: np.ndarray, fmt: str) -> tuple[bytes, str]:
    buf = io.BytesIO()
    pil = Image.fromarray(rgb, "RGB")
    if fmt == "JPEG":
        pil.save(buf, "JPEG", quality=90)
        return buf.getvalue(), "image/jpeg"
    pil.save(buf, "PNG", compress_level=1)  # 5× faster than 6 for ~10 % more bytes (benchmarks/gemini_overhead.py)
    return buf.getvalue(), "image/png"


def b64_size(n: int) -> int:
    return 4 * math.ceil(n / 3)


@dataclass
class Encoded:
    parts: list[tuple[bytes, str]]
    sizes: list[tuple[int, int]]  # (width, height) sent, per image
    note: str = ""


def encode_images(images: Sequence[np.ndarray], text: str, limit: int = REQUEST_LIMIT) -> Encoded:
    """RGBA pictures → (bytes, mime) parts that fit in ``limit`` together with the text.

    PNG (flattened over white) when it fits; else JPEG; else JPEG made smaller step by step. The note
    says what was done, since the model then sees less than the canvas holds.
    """
    flats = [_flat(im) for im in images]
    overhead = len(text.encode("utf-8")) * 2 + 4096

    def total(parts):
        return sum(b64_size(len(d)) for d, _m in parts) + overhead

    parts = [_encode(f, "PNG") for f in flats]
    first = total(parts)
    if first <= limit:
        return Encoded(parts, [(f.shape[1], f.shape[0]) for f in flats])
    parts = [_encode(f, "JPEG") for f in flats]
    scale = 1.0
    sized = flats
    for _ in range(12):
        size = total(parts)
        if size <= limit:
            break
        scale *= max(0.5, min(0.9, math.sqrt(limit / size) * 0.95))
        sized = [np.asarray(Image.fromarray(f, "RGB").resize((max(1, round(f.shape[1] * scale)),
                                                              max(1, round(f.shape[0] * scale))), Image.LANCZOS))
                 for f in flats]
        parts = [_encode(f, "JPEG") for f in sized]
    if total(parts) > limit or min(min(s.shape[:2]) for s in sized) < 16:
        raise RequestTooLarge(f"the request is {first / 2**20:.1f} MB, over the {limit / 2**20:.0f} MB the Gemini API "
                              "takes, and stays too large even with smaller pictures: send fewer references or a "
                              "shorter instruction")
    dims = [(s.shape[1], s.shape[0]) for s in sized]
    how = "as JPEG" if scale == 1.0 else f"as JPEG at {scale * 100:.0f} % of their size (the picture {dims[0][0]}×{dims[0][1]})"
    note = (f"the request would have been {first / 2**20:.1f} MB, over the {limit / 2**20:.0f} MB the Gemini API takes: "
            f"the pictures were sent {how}")
    return Encoded(parts, dims, note)


def decode_image(data: bytes) -> np.ndarray:
    """An image the API sent → RGBA uint8, refusing sizes that would exhaust memory."""
    return remote_files.decode_image(data, MAX_ANSWER_PIXELS, ApiFailed, "the image from the Gemini API")


# --- the answer -------------------------------------------------------------------------------------------
@dataclass
class Answer:
    """What one generateContent call gave back, as plain values."""

    images: list[tuple[bytes, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    finish_reason: str = ""
    finish_message: str = ""
    block_reason: str = ""
    block_message: str = ""
    usage: dict[str, int] = field(default_factory=dict)

    def usage_note(self) -> str:
        u = self.usage
        if not u:
            return ""
        bits = [f"{u['prompt']} in" if "prompt" in u else "", f"{u['output']} out" if "output" in u else "",
                f"{u['thoughts']} thinking" if "thoughts" in u else "", f"{u['total']} in all" if "total" in u else ""]
        return "tokens (as the API counts them): " + ", ".join(b for b in bits if b)


def _enum(v) -> str:
    if v is None:
        return ""
    return str(getattr(v, "value", v) or "")


def read_answer(response) -> Answer:
    ans = Answer()
    fb = getattr(response, "prompt_feedback", None)
    if fb is not None:
        ans.block_reason = _enum(getattr(fb, "block_reason", None))
        ans.block_message = str(getattr(fb, "block_reason_message", None) or "")
    for cand in getattr(response, "candidates", None) or ():
        if not ans.finish_reason:
            ans.finish_reason = _enum(getattr(cand, "finish_reason", None))
            ans.finish_message = str(getattr(cand, "finish_message", None) or "")
        content = getattr(cand, "content", None)
        for part in (getattr(content, "parts", None) or ()):
            if getattr(part, "thought", None):  # a thinking model's drafts: not the answer
                continue
            blob = getattr(part, "inline_data", None)
            if blob is not None and getattr(blob, "data", None):
                mime = str(getattr(blob, "mime_type", "") or "")
                if mime.startswith("image/") or not mime:
                    ans.images.append((bytes(blob.data), mime))
            elif getattr(part, "text", None):
                ans.texts.append(str(part.text).strip())
        if ans.images:
            break
    um = getattr(response, "usage_metadata", None)
    if um is not None:
        for name, attr in (("prompt", "prompt_token_count"), ("output", "candidates_token_count"),
                           ("thoughts", "thoughts_token_count"), ("total", "total_token_count")):
            v = getattr(um, attr, None)
            if isinstance(v, int):
                ans.usage[name] = v
    return ans


# --- the call --------------------------------------------------------------------------------------------
class Shared:
    """The SDK client, closed once the edit and every call still running in a worker have let go of it
    (a cancelled call goes on in its thread; the client must outlive it)."""

    def __init__(self, sdk) -> None:
        self.sdk = sdk
        self._holders = 1  # the edit that made it
        self._lock = threading.Lock()

    def hold(self) -> None:
        with self._lock:
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            last = self._holders == 0
        if last:
            try:
                self.sdk.close()
            except Exception:  # noqa: BLE001 - closing is tidying up; a failure there changes nothing
                pass


def call_in_thread(fn: Callable[[], object], cancel: CancelToken, shared: Shared | None = None, poll: float = 0.05):
    """``fn()`` in a worker thread; Cancelled as soon as ``cancel`` is set (the late answer is dropped).
    ``shared`` is held while the worker runs, so a client it uses is closed only after it ends."""
    box: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()
            if shared is not None:
                shared.release()

    if shared is not None:
        shared.hold()
    threading.Thread(target=work, name="akapen-gemini", daemon=True).start()
    while not done.wait(poll):
        if cancel.cancelled:
            raise Cancelled()
    cancel.raise_if_cancelled()  # it answered, but too late: dropped
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]


def short(text) -> str:
    t = " ".join(str(text or "").split())
    return t if len(t) <= TEXT_LIMIT else t[:TEXT_LIMIT - 1] + "…"


def _error_body(exc) -> dict:
    d = getattr(exc, "details", None)
    if isinstance(d, dict) and isinstance(d.get("error"), dict):
        return d["error"]
    return d if isinstance(d, dict) else {}


def _reasons(exc) -> set[str]:
    out = set()
    for item in _error_body(exc).get("details") or ():
        if isinstance(item, dict) and item.get("reason"):
            out.add(str(item["reason"]))
    return out


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def retry_after(exc) -> float | None:
    """Seconds the API asked to wait: its RetryInfo ``retryDelay`` ("7s"), else a Retry-After header."""
    for item in _error_body(exc).get("details") or ():
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            m = _DURATION.match(str(item.get("retryDelay", "")))
            if m:
                return float(m.group(1))
    resp = getattr(exc, "response", None)
    headers = getattr(resp, "headers", None)
    if headers is not None:
        try:
            v = headers.get("retry-after")
            if v is not None:
                return max(0.0, float(v))
        except (TypeError, ValueError):
            pass
    return None


def is_quota(exc) -> bool:
    return getattr(exc, "code", None) == 429 and _is_api_error(exc)


def _is_api_error(exc) -> bool:
    try:
        from google.genai import errors as gerr
    except ImportError:
        return False
    return isinstance(exc, gerr.APIError)


def when(seconds: float | None) -> str:
    if seconds is None:
        return "try again in a minute (or check your plan's quota at https://aistudio.google.com/usage)"
    if seconds < 90:
        return f"try again in {math.ceil(seconds)} s"
    if seconds < 5400:
        return f"try again in {math.ceil(seconds / 60)} min"
    return f"try again in {seconds / 3600:.1f} h (or check your plan's quota)"


def quota_error(exc, model: str) -> QuotaExceeded:
    wait = retry_after(exc)
    msg = short(getattr(exc, "message", "") or "")
    return QuotaExceeded(f"the Gemini API's quota or rate limit for {model} is reached (429"
                         f"{': ' + msg if msg else ''}); {when(wait)}", wait)


def translate(exc: BaseException, *, model: str, url: str, timeout: float) -> InferenceError | None:
    """The SDK's or the transport's exception → a typed error with a readable message (None: a bug)."""
    if _is_api_error(exc):
        code = int(getattr(exc, "code", 0) or 0)
        status = str(getattr(exc, "status", "") or "")
        msg = short(getattr(exc, "message", "") or "")
        said = f"{code}{' ' + status if status else ''}{': ' + msg if msg else ''}"
        low = msg.lower()
        if code in (401, 403) or "API_KEY_INVALID" in _reasons(exc) or (code == 400 and "api key" in low):
            return KeyRejected(f"Google rejected the API key ({said}); check it, or make a new one at {KEY_URL}, and "
                               "enter it in Edit › Gemini API key… (or set GEMINI_API_KEY)")
        if code == 429:
            return quota_error(exc, model)
        if code == 413 or "payload size" in low or "too large" in low:
            return RequestTooLarge(f"the Gemini API says the request is too large ({said}); use a smaller selection "
                                   "or fewer references")
        if code == 404:
            return ApiFailed(f"the Gemini API has no model {model} here ({said}); choose another model")
        if code >= 500:
            return ApiFailed(f"the Gemini API failed on Google's side ({said}); try again in a moment")
        return ApiFailed(f"the Gemini API refused the edit ({said})")
    if isinstance(exc, json.JSONDecodeError) or type(exc).__name__ == "ValidationError":
        return ApiFailed(f"the answer from {url} is not a Gemini API answer ({short(exc)[:200]}); check "
                         "AKAPEN_GEMINI_BASE_URL, or the proxy in between")
    for transport in _transports():  # the SDK uses httpx, or its fork httpx2 where that is installed
        if isinstance(exc, transport.TimeoutException):
            return NetworkFailed(f"the Gemini API at {url} did not answer within {timeout:.0f} s; try again (image "
                                 "edits can take a minute when it is busy)")
        if isinstance(exc, transport.TransportError):
            why = short(str(exc)) or type(exc).__name__
            return NetworkFailed(f"cannot reach the Gemini API at {url} ({why}); check the network connection")
    return None


def _transports() -> list:
    import importlib

    out = []
    for name in ("httpx", "httpx2"):
        try:
            out.append(importlib.import_module(name))
        except ImportError:
            continue
    return out
