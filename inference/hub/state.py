"""What Akapen remembers about downloads between runs (``downloads.json`` in its state folder).

- Unfinished downloads: written when one starts and whenever its state changes, so after a quit, a
  crash or a kill the next start knows what was under way and offers to continue it (the bytes
  themselves are the ``.incomplete`` files in the cache; nothing is fetched twice).
- The base of each single-file transformer downloaded with one (a GGUF on FLUX.1 Kontext dev): model
  discovery uses it to pair the file with its base's configuration and other components.

The folder: ``AKAPEN_STATE_DIR``, else ``$XDG_STATE_HOME/akapen``, else ``~/.local/state/akapen``. The file
is small, written atomically; a damaged one is set aside (``downloads.json.damaged``) and started afresh.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

LIMIT = 4 * 1024 * 1024
_LOCK = threading.Lock()
UNFINISHED = ("queued", "running", "paused", "failed")


def state_dir() -> Path:
    env = os.environ.get("AKAPEN_STATE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "akapen"


def _path() -> Path:
    return state_dir() / "downloads.json"


@dataclass
class Record:
    """One download as the user asked for it (a catalogue id, or a repo with files and a base)."""

    key: str
    repo: str
    revision: str = "main"
    files: list[str] = field(default_factory=list)
    base: str | None = None
    catalogue_id: str | None = None
    label: str = ""
    state: str = "queued"  # queued, running, paused, failed, done
    error: str = ""
    total_bytes: int = 0
    done_bytes: int = 0
    updated: float = 0.0

    @staticmethod
    def key_for(repo: str, revision: str, files, base) -> str:
        return f"{repo}@{revision}:{','.join(sorted(files))}" + (f"+{base}" if base else "")


def _load() -> dict:
    p = _path()
    try:
        if p.stat().st_size > LIMIT:
            raise ValueError("too large")
        data = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        try:
            os.replace(p, p.with_name(p.name + ".damaged"))
        except OSError:
            pass
        return {}


def _save(data: dict) -> None:
    p = _path()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".downloads-", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _records(data: dict) -> list[Record]:
    out = []
    names = set(Record.__dataclass_fields__)
    for raw in data.get("downloads", []) if isinstance(data.get("downloads"), list) else []:
        if isinstance(raw, dict) and isinstance(raw.get("key"), str) and isinstance(raw.get("repo"), str):
            try:
                out.append(Record(**{k: v for k, v in raw.items() if k in names}))
            except TypeError:
                continue
    return out


def records() -> list[Record]:
    with _LOCK:
        return _records(_load())


def unfinished() -> list[Record]:
    """Downloads that did not finish (a "running" one was cut short by a quit or a crash)."""
    return [r for r in records() if r.state in UNFINISHED]


def put(record: Record) -> None:
    record.updated = time.time()
    with _LOCK:
        data = _load()
        recs = [r for r in _records(data) if r.key != record.key]
        if record.state != "done":
            recs.append(record)
        data["downloads"] = [asdict(r) for r in recs]
        _save(data)


def forget(key: str) -> None:
    with _LOCK:
        data = _load()
        data["downloads"] = [asdict(r) for r in _records(data) if r.key != key]
        _save(data)


def record_base(repo: str, path: str, base: str) -> None:
    """``repo``'s file ``path`` is a transformer for the diffusers model ``base``."""
    with _LOCK:
        data = _load()
        bases = data.get("bases") if isinstance(data.get("bases"), dict) else {}
        bases[f"{repo}::{path}"] = base
        data["bases"] = bases
        _save(data)


_READ: dict = {}  # (path, mtime_ns, size) -> the file's data: discovery asks once per single file, per scan


def _load_read_only() -> dict:
    p = _path()
    try:
        st = p.stat()
    except OSError:
        return {}
    key = (str(p), st.st_mtime_ns, st.st_size)
    if _READ.get("key") != key:
        _READ.update(key=key, data=_load())
    return _READ["data"]


def recorded_base(repo: str, path: str) -> str | None:
    with _LOCK:
        bases = _load_read_only().get("bases")
    value = bases.get(f"{repo}::{path}") if isinstance(bases, dict) else None
    return value if isinstance(value, str) else None
