"""What the remote backends (ComfyUI servers, the Gemini API) share at their edges: an image that came
over the network decoded with a pixel limit, a settings file that holds a token or key written
atomically and readable by its owner only (in :func:`config_dir`), and whether an address is this
computer (:func:`is_loopback`). Here so that neither engine imports the other."""

from __future__ import annotations

import io
import ipaddress
import os
import tempfile
import urllib.parse
from pathlib import Path

import numpy as np
from PIL import Image


def decode_image(data: bytes, limit: int, error: type[Exception], what: str) -> np.ndarray:
    """``data`` (an encoded image) → RGBA uint8; ``error(…)`` naming ``what`` when it holds more than
    ``limit`` pixels or cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > limit:
                raise error(f"{what} is {im.width}×{im.height}: too large to take in")
            im.load()
            return np.array(im.convert("RGBA"))
    except error:
        raise
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for broken data
        raise error(f"{what} is not an image Akapen can read ({exc})") from None


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable and writable by the owner only (it holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def config_dir() -> Path:
    """Akapen's configuration folder: ``AKAPEN_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/akapen``."""
    env = os.environ.get("AKAPEN_CONFIG_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "akapen"


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this computer (localhost or a loopback address)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
