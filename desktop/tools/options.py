"""The options the tools share (brush size, hardness, opacity and colour; the red pen's colour,
width and text size), kept in range and persisted by the window through ``to_dict``."""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, Signal

from canvas.brush import Brush
from canvas.marks import RED


class ToolOptions(QObject):
    """Options shared by the tools (persisted by the window through ``to_dict``)."""

    changed = Signal()

    FIELDS = {
        "brush_size": 24.0, "brush_hardness": 0.8, "brush_opacity": 1.0, "brush_color": (20, 20, 20),
        "mark_color": tuple(RED), "mark_width": 6.0, "text_size": 32.0,
    }

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        for k, v in self.FIELDS.items():
            setattr(self, k, v)

    def set(self, **values) -> None:
        changed = False
        for k, v in values.items():
            if k not in self.FIELDS:
                raise KeyError(k)
            v = self._clean(k, v)
            if getattr(self, k) != v:
                setattr(self, k, v)
                changed = True
        if changed:
            self.changed.emit()

    @staticmethod
    def _clean(k, v):
        if k.endswith("_color"):
            if isinstance(v, str | bytes | dict):
                raise TypeError(f"{k} is a list of numbers")
            vals = tuple(int(min(max(float(c), 0), 255)) for c in v)
            return vals[:3] if k == "brush_color" else (vals + (255,))[:4]
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"{k} must be a finite number")
        limits = {"brush_size": (1, 1000), "brush_hardness": (0, 1), "brush_opacity": (0.01, 1),
                  "mark_width": (1, 200), "text_size": (6, 400)}[k]
        return min(max(v, limits[0]), limits[1])

    def brush(self, erase: bool = False) -> Brush:
        return Brush(size=self.brush_size, hardness=self.brush_hardness, opacity=self.brush_opacity,
                     color=tuple(self.brush_color), erase=erase)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(self, k)) for k in self.FIELDS)}

    def load(self, data: dict) -> None:
        clean = {}
        for k, v in (data or {}).items():
            if k in self.FIELDS:
                try:
                    clean[k] = self._clean(k, v)
                except (TypeError, ValueError):
                    continue
        self.set(**clean)
