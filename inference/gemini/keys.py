"""The Gemini API key and endpoint: where they come from and where the key is kept.

The key comes from ``GEMINI_API_KEY`` (the SDK's convention) or from the one entered in the
settings, kept in ``gemini.json`` in Akapen's configuration folder (written readable by its owner
only, as the ComfyUI server list is). It is never logged, never put in a result's provenance, and
never shown by ``repr``: it travels as a :class:`Secret`. ``AKAPEN_GEMINI_BASE_URL`` points the SDK
at another endpoint (a proxy; the tests' local server).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from inference import remote_files
from inference.errors import InvalidRequest
from inference.gemini import models
from inference.remote_files import config_dir, is_loopback

ENV_KEY = "GEMINI_API_KEY"
ENV_BASE_URL = "AKAPEN_GEMINI_BASE_URL"
ENV_MODEL = "AKAPEN_GEMINI_MODEL"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
KEY_URL = "https://aistudio.google.com/apikey"
STORE_LIMIT = 64 * 1024


class Secret:
    """A key that never shows itself: ``str``/``repr`` give ``<hidden>``; ``reveal()`` gives the text."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = check_key(value) if value else ""

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret(<hidden>)" if self._value else "Secret(<none>)"

    __str__ = __repr__

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo) -> Secret:
        return self

    def __reduce__(self):  # never pickled with the key in it
        raise TypeError("a Secret is not pickled")


def check_key(text: str) -> str:
    """The key as the API takes it (one word of printable ASCII), or InvalidRequest."""
    key = (text or "").strip()
    if not key:
        raise InvalidRequest("the Gemini API key is empty")
    if any(not "!" <= c <= "~" for c in key) or len(key) > 512:
        raise InvalidRequest("a Gemini API key is one word of printable ASCII (it goes into an HTTP header); "
                             f"get one at {KEY_URL}")
    return key


@dataclass(frozen=True)
class GeminiSettings:
    """What the settings keep: the key (hidden) and the model chosen."""

    key: Secret = field(default_factory=Secret)
    model: str = models.DEFAULT_MODEL


class GeminiStore:
    """``gemini.json`` in the configuration folder. ``load()`` never raises on a damaged file: it
    returns the defaults and says why in ``problem``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self.problem = ""

    @property
    def path(self) -> Path:
        """The file (without one given: in the configuration folder as it is now)."""
        return self._path if self._path is not None else config_dir() / "gemini.json"

    def load(self) -> GeminiSettings:
        self.problem = ""
        try:
            if self.path.stat().st_size > STORE_LIMIT:
                self.problem = f"{self.path} is larger than 64 KB; ignored"
                return GeminiSettings()
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return GeminiSettings()
        except (OSError, ValueError) as exc:
            self.problem = f"{self.path} could not be read ({' '.join(str(exc).split())[:200]}); no key loaded"
            return GeminiSettings()
        if not isinstance(data, dict):
            self.problem = f"{self.path} is not a settings file; no key loaded"
            return GeminiSettings()
        model = str(data.get("model") or models.DEFAULT_MODEL)
        if model not in models.MODELS:
            self.problem = f"{self.path}: unknown model {model[:80]!r}; {models.DEFAULT_MODEL} is used"
            model = models.DEFAULT_MODEL
        try:
            key = Secret(str(data.get("api_key") or ""))
        except InvalidRequest as exc:
            self.problem = f"{self.path}: {exc}"
            key = Secret()
        return GeminiSettings(key, model)

    def save(self, settings: GeminiSettings) -> None:
        """Written atomically, readable and writable by the owner only (it holds the key)."""
        text = json.dumps({"api_key": settings.key.reveal(), "model": settings.model}, indent=2)
        remote_files.write_private(self.path, text)


def env_key() -> Secret:
    """``GEMINI_API_KEY`` (a malformed one counts as none; :func:`find_key` says why)."""
    try:
        return Secret(os.environ.get(ENV_KEY, ""))
    except InvalidRequest:
        return Secret()


def find_key(store: GeminiStore | None = None) -> tuple[Secret, str]:
    """(the key, where it came from: "GEMINI_API_KEY" or the file) — or (no key, why: "" when none was
    given, else what was wrong with the one in the environment or the file)."""
    raw = os.environ.get(ENV_KEY, "")
    if raw.strip():
        key = env_key()
        return (key, ENV_KEY) if key else (Secret(), f"{ENV_KEY} is set but is not a key (one word of printable ASCII)")
    store = store or GeminiStore()
    found = store.load().key
    return (found, str(store.path)) if found else (Secret(), store.problem)


def base_url() -> str:
    """The endpoint: ``AKAPEN_GEMINI_BASE_URL`` or Google's (no slash at the end)."""
    url = (os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(f"{ENV_BASE_URL}={url[:200]!r} is not an http(s) address")
    return url


def transport_warning(url: str) -> str:
    """Why this endpoint is unsafe ("" when fine): plain http to another computer sends the key in the clear."""
    if urllib.parse.urlsplit(url).scheme == "https" or is_loopback(url):
        return ""
    return f"{url} is neither this computer nor https: the key and the picture travel unencrypted"
