"""The eyedropper: the brush colour from the picture (the composite of the content layers)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor

from canvas.geometry import Rect
from desktop.tools.base import Tool, ToolEvent
from desktop.tools.cursors import symbol_cursor


class EyedropperTool(Tool):
    name, label, shortcut = "eyedropper", "Eyedropper", "I"
    tip = "Click to take the brush colour from the image (the composite of the content layers)"

    def cursor(self) -> QCursor:
        return symbol_cursor("picker")

    def _pick(self, ev: ToolEvent) -> None:
        doc = self.doc
        x, y = int(math.floor(ev.pos.x())), int(math.floor(ev.pos.y()))
        if not (0 <= x < doc.width and 0 <= y < doc.height):
            return
        px = doc.render(Rect(x, y, 1, 1))[0, 0]
        if px[3] == 0:
            self.hint("Nothing to pick there: the image is transparent at that point.")
            return
        rgb = tuple(int(v) for v in px[:3])
        self.options.set(brush_color=rgb)
        self.hint("Brush colour #{:02x}{:02x}{:02x}".format(*rgb))

    def press(self, ev: ToolEvent) -> None:
        if ev.button == Qt.MouseButton.LeftButton:
            self._pick(ev)

    def move(self, ev: ToolEvent) -> None:
        if ev.buttons & Qt.MouseButton.LeftButton:
            self._pick(ev)
