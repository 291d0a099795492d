"""Settings that persist between runs (QSettings): window layout, tool options, recent files,
the last folder used, and a few preferences.

``Settings()`` uses the application's organisation and name (set by ``run_app``); tests pass
their own ``QSettings`` (an INI file in a temporary folder) so they never touch the user's.
"""

from __future__ import annotations

import json
import os

from PySide6.QtCore import QByteArray, QSettings

from inference.diffusion.device import MEMORY_MODES
from inference.request import SPEEDS

MAX_RECENT = 10


class Settings:
    """Every getter returns a usable value whatever the file holds; what was damaged (and left at its
    default) is said in ``problem``, naming the file."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings if qsettings is not None else QSettings()
        self._problems: dict[str, str] = {}

    @property
    def problem(self) -> str:
        if not self._problems:
            return ""
        keys = ", ".join(sorted(self._problems))
        return f"{self.q.fileName()}: unreadable settings ({keys}) were left at their defaults"

    def _damaged(self, key: str, why: str = "") -> None:
        self._problems[key] = why

    @staticmethod
    def at(path: str) -> Settings:
        """Settings stored in an INI file at ``path``."""
        return Settings(QSettings(str(path), QSettings.Format.IniFormat))

    # --- window layout ------------------------------------------------------------------------
    def window_geometry(self) -> QByteArray | None:
        v = self.q.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        v = self.q.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)

    # --- tool options ---------------------------------------------------------------------------
    def _json(self, key: str, kind: type):
        """The JSON value stored under ``key`` if it is a ``kind``, else None (damaged or missing)."""
        raw = self.q.value(key, "")
        if raw in ("", None):
            return None
        try:
            data = json.loads(raw) if isinstance(raw, str) else None
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, kind):
            self._damaged(key)
            return None
        return data

    def _text(self, key: str, default: str) -> str:
        v = self.q.value(key, default)
        if v is None or v == "":
            return default
        if not isinstance(v, str):
            self._damaged(key)
            return default
        return v

    def tool_options(self) -> dict:
        return self._json("tools/options", dict) or {}

    def set_tool_options(self, data: dict) -> None:
        self.q.setValue("tools/options", json.dumps(data))

    def current_tool(self) -> str:
        return self._text("tools/current", "brush")

    def set_current_tool(self, name: str) -> None:
        self.q.setValue("tools/current", name)

    # --- files ----------------------------------------------------------------------------------
    def _strings(self, key: str) -> list[str]:
        """A list of strings stored as JSON under ``key`` (empty when missing or damaged)."""
        items = self._json(key, list) or []
        return [p for p in items if isinstance(p, str)]

    def recent_files(self) -> list[str]:
        return self._strings("files/recent")[:MAX_RECENT]

    def add_recent_file(self, path: str) -> list[str]:
        path = os.path.abspath(path)
        items = [p for p in self.recent_files() if p != path]
        items.insert(0, path)
        items = items[:MAX_RECENT]
        self.q.setValue("files/recent", json.dumps(items))
        return items

    def remove_recent_file(self, path: str) -> list[str]:
        items = [p for p in self.recent_files() if p != os.path.abspath(path)]
        self.q.setValue("files/recent", json.dumps(items))
        return items

    def clear_recent_files(self) -> None:
        self.q.setValue("files/recent", json.dumps([]))

    def last_folder(self) -> str:
        return self._text("files/last_folder", "")

    def set_last_folder(self, folder: str) -> None:
        self.q.setValue("files/last_folder", folder)

    # --- models ---------------------------------------------------------------------------------
    def model_folders(self) -> list[str]:
        return self._strings("models/folders")

    def set_model_folders(self, folders: list[str]) -> None:
        self.q.setValue("models/folders", json.dumps([str(f) for f in folders]))

    def _choice(self, key: str, default: str, allowed) -> str:
        """One of ``allowed`` stored under ``key``; ``default`` (and the key marked damaged) otherwise."""
        v = self._text(key, default)
        if v not in allowed:
            self._damaged(key)
            return default
        return v

    def memory_mode(self) -> str:
        return self._choice("models/memory_mode", "auto", MEMORY_MODES)

    def set_memory_mode(self, mode: str) -> None:
        self.q.setValue("models/memory_mode", mode)

    def speed(self) -> str:
        """The edit panel's speed mode (quality, fast or draft)."""
        return self._choice("edit/speed", "quality", SPEEDS)

    def set_speed(self, speed: str) -> None:
        self.q.setValue("edit/speed", speed)

    def sync(self) -> None:
        self.q.sync()
