"""The recovery store: snapshots of unsaved work, written in the background, offered after a
crash; and every edit result, written before it is shown, so a crash never loses one.

A store belongs to one running app (its ``session``); each new snapshot of a document
replaces that document's previous one. Files are written atomically, so ``list()`` never
shows a half-written snapshot.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from canvas.atomic import atomic_write
from canvas.document import Document
from canvas.errors import OraError, RecoveryError, SaveError


@dataclass(frozen=True)
class RecoveryEntry:
    path: Path  # the .ora snapshot
    info_path: Path
    time: float  # seconds since the epoch
    source_path: str | None  # the file the document came from, if any
    title: str
    size: int  # bytes on disk
    session: str

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))


class RecoveryStore:
    def __init__(self, folder, session: str | None = None) -> None:
        self.folder = Path(folder)
        self.session = session or uuid.uuid4().hex[:12]
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recovery")
        self._lock = threading.Lock()
        self._latest: dict[str, Path] = {}  # document key -> its current snapshot
        self.problems: list[str] = []  # what the last list() could not read, one line each, naming the file

    def _ensure_folder(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecoveryError(f"the recovery folder {self.folder} cannot be created ({exc.strerror or exc})") from None

    # --- snapshots ----------------------------------------------------------------------------
    def snapshot(self, doc: Document, source_path=None, title: str | None = None, key: str | None = None) -> Future:
        """Write a recovery copy of ``doc`` in the background; returns the Future of its entry.

        The calling thread only takes a snapshot (``canvas.ora.freeze``: cached PNG bytes of
        unchanged layers, copies of changed ones), so painting goes on while it is encoded and
        written; ``key`` identifies the document within this session (default: its id()).
        """
        from canvas.ora import freeze

        self._ensure_folder()
        frozen = freeze(doc)
        key = key or str(id(doc))
        title = title or (Path(source_path).name if source_path else "Untitled")
        return self._pool.submit(self._write_snapshot, frozen, key, str(source_path) if source_path else None, title)

    def _write_snapshot(self, frozen, key: str, source: str | None, title: str) -> RecoveryEntry:
        stamp = time.time()
        base = self.folder / f"{self.session}-{key}-{int(stamp * 1000)}"
        ora = base.with_suffix(".ora")
        info = base.with_suffix(".json")
        try:
            atomic_write(ora, frozen.write, backup=False)
            meta = {"time": stamp, "source": source, "title": title, "session": self.session, "key": key,
                    "ora": ora.name}
            atomic_write(info, lambda f: f.write(json.dumps(meta).encode()), backup=False)
        except SaveError as exc:
            raise RecoveryError(f"the recovery snapshot could not be written: {exc}") from None
        with self._lock:
            old = self._latest.get(key)
            self._latest[key] = ora
        if old is not None and old != ora:
            self._remove(old)
        return self._entry(info)

    def _remove(self, ora: Path) -> None:
        for p in (ora.with_suffix(".json"), ora):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass

    def _entry(self, info: Path, problems: list[str] | None = None) -> RecoveryEntry | None:
        try:
            if info.stat().st_size > 1 << 20:
                raise ValueError("larger than a recovery entry")
            meta = json.loads(info.read_text(encoding="utf-8"))
            ora = info.with_name(str(meta["ora"]))
            if ora.name != Path(meta["ora"]).name or not ora.is_file():
                return None  # its snapshot was removed (or never finished): nothing to offer
            source = meta.get("source")
            when = float(meta["time"])
            if not 0.0 <= when < 1e11:  # seconds since 1970, finite: a date the dialog can show
                raise ValueError(f"time {when!r}")
            return RecoveryEntry(ora, info, when, source if isinstance(source, str) else None,
                                 str(meta.get("title", ""))[:200], ora.stat().st_size, str(meta.get("session", "")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            if problems is not None:  # a damaged entry is not listed, but it is said
                why = "nested too deeply" if isinstance(exc, RecursionError) else type(exc).__name__
                problems.append(f"{info}: a damaged recovery entry was skipped ({why})")
            return None

    def list(self, other_sessions_only: bool = False) -> list[RecoveryEntry]:
        """Complete snapshots, newest first (with ``other_sessions_only``: not this app's own)."""
        self.problems = []
        if not self.folder.is_dir():
            return []
        out = [e for e in (self._entry(p, self.problems) for p in sorted(self.folder.glob("*.json"))
                           if not p.name.startswith(".")) if e is not None]
        if other_sessions_only:
            out = [e for e in out if e.session != self.session]
        return sorted(out, key=lambda e: e.time, reverse=True)

    def restore(self, entry: RecoveryEntry) -> Document:
        from canvas.ora import load_ora

        try:
            doc = load_ora(entry.path)
        except OraError as exc:
            raise RecoveryError(f"the recovery snapshot of {entry.title} cannot be read: {exc}") from None
        return doc

    def discard(self, entry: RecoveryEntry | None = None) -> None:
        """Delete one snapshot, or (None) every snapshot this session wrote."""
        if entry is not None:
            self._remove(entry.path)
            return
        self.wait()
        with self._lock:
            self._latest.clear()
        for e in self.list():
            if e.session == self.session:
                self._remove(e.path)

    def discard_document(self, key: str) -> None:
        """Delete the snapshot of one document of this session (it was saved or closed)."""
        self.wait()
        with self._lock:
            old = self._latest.pop(key, None)
        if old is not None:
            self._remove(old)

    def wait(self) -> None:
        """Block until every pending snapshot is written."""
        self._pool.submit(lambda: None).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # --- results ------------------------------------------------------------------------------
    def save_result(self, image: np.ndarray, origin: tuple[int, int], info: dict[str, Any]) -> Path:
        """Write one edit result (PNG + JSON with where it goes and its provenance) now."""
        from canvas.imageio import encode_png

        self._ensure_folder()
        folder = self.folder / "results"
        folder.mkdir(exist_ok=True)
        base = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        png = base.with_suffix(".png")
        data = encode_png(image, 1)
        try:
            atomic_write(png, lambda f: f.write(data), backup=False)
            meta = {"x": int(origin[0]), "y": int(origin[1]), "session": self.session, **info}
            atomic_write(base.with_suffix(".json"),
                         lambda f: f.write(json.dumps(meta, default=str).encode()), backup=False)
        except SaveError as exc:
            raise RecoveryError(f"the result could not be saved for recovery: {exc}") from None
        return png

    def results(self) -> list[Path]:
        folder = self.folder / "results"
        return sorted(folder.glob("*.png"), key=os.path.getmtime, reverse=True) if folder.is_dir() else []
