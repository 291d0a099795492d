"""Where the Hub is and who we are to it: ``HF_ENDPOINT`` and the Hugging Face token.

The same places huggingface_hub uses, so a token entered in Akapen works for the ``hf`` command
line and diffusers scripts, and one saved by them works here:
- endpoint: ``HF_ENDPOINT``, else https://huggingface.co;
- token: ``HF_TOKEN`` (or the older ``HUGGING_FACE_HUB_TOKEN``), else the file at ``HF_TOKEN_PATH``,
  else ``HF_HOME/token`` (``HF_HOME`` defaults to ``$XDG_CACHE_HOME/huggingface``, then
  ``~/.cache/huggingface``). Akapen writes that file readable by its owner only.

A token is never logged, printed or put in provenance: :class:`Token` hides itself in ``str``/``repr``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from inference.diffusion.models import hf_home
from inference.remote_files import write_private

DEFAULT_ENDPOINT = "https://huggingface.co"
TOKEN_LIMIT = 4096  # a token file larger than this is not a token


def _true(value: str | None) -> bool:
    return (value or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def offline() -> bool:
    """huggingface_hub's offline switch (``HF_HUB_OFFLINE``, or ``TRANSFORMERS_OFFLINE``)."""
    return _true(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"))


def offline_variable() -> str:
    return "HF_HUB_OFFLINE" if _true(os.environ.get("HF_HUB_OFFLINE")) else "TRANSFORMERS_OFFLINE"


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).strip().rstrip("/")


def token_path() -> Path:
    if os.environ.get("HF_TOKEN_PATH"):
        return Path(os.path.expandvars(os.environ["HF_TOKEN_PATH"])).expanduser()
    return hf_home() / "token"


class Token:
    """A token that never shows itself: ``str``/``repr`` give ``<hidden>``; ``reveal()`` the text.
    ``source``: "HF_TOKEN" or the file it was read from."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Token(<hidden>)" if self._value else "Token(<none>)"

    __str__ = __repr__


_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_\-.]{8,512}$")


def check_token_text(text: str) -> str:
    """The token as typed or pasted, trimmed; ValueError saying why when it cannot be a token."""
    t = (text or "").strip()
    if t.lower().startswith("bearer "):
        t = t[7:].strip()
    if not t:
        raise ValueError("the token is empty")
    if not _TOKEN_CHARS.match(t):
        raise ValueError("that is not a Hugging Face token (tokens are one word of letters, digits, '_' and '-', "
                         "like hf_…)")
    return t


def get_token() -> Token | None:
    """The token huggingface_hub would use, or None."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = (os.environ.get(var) or "").strip()
        if value:
            return Token(value, var)
    path = token_path()
    try:
        if path.stat().st_size > TOKEN_LIMIT:
            return None
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Token(value, str(path)) if value else None


def save_token(text: str) -> Path:
    """Keep ``text`` where huggingface_hub reads it (owner-only); the path written."""
    path = token_path()
    write_private(path, check_token_text(text))
    return path


def delete_token() -> bool:
    """Forget the saved token (``HF_TOKEN`` in the environment is not ours to change); True if one was removed."""
    try:
        token_path().unlink()
        return True
    except FileNotFoundError:
        return False
