"""Brush and eraser: round dabs on the active pixel layer, inside the selection if there is one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor

from canvas.brush import Brush, dabs, stroke_points
from canvas.layers import PixelLayer
from desktop.tools.base import Tool, ToolEvent
from desktop.tools.cursors import circle_cursor


class BrushTool(Tool):
    """Round brush on the active pixel layer; with a selection, paint stays inside it."""

    name, label, shortcut = "brush", "Brush", "B"
    tip = "Paint on the active pixel layer (size, hardness, opacity, colour; pen pressure)"
    erase = False

    def __init__(self, host) -> None:
        super().__init__(host)
        self._stroke: object | None = None
        self._last: tuple[float, float] | None = None
        self._carry = 0.0
        self._layer_id = ""
        self._brush: Brush | None = None

    def accepts(self, layer) -> bool:
        return isinstance(layer, PixelLayer)

    def cursor(self) -> QCursor:
        d = self.options.brush_size * (self.view.scale if self.view else 1.0)
        if d > 256:
            return QCursor(Qt.CursorShape.CrossCursor)
        return circle_cursor(d)

    def options_changed(self) -> None:
        if self.view is not None:
            self.view.refresh_cursor()

    def view_changed(self) -> None:
        self.view.refresh_cursor()

    def press(self, ev: ToolEvent) -> None:
        if ev.button != Qt.MouseButton.LeftButton:
            return
        layer = self.bridge.active_layer()
        if not isinstance(layer, PixelLayer):
            what = "the eraser erases" if self.erase else "the brush paints"
            self.hint(f"{what[0].upper() + what[1:]} on pixel layers: select one in the Layers panel "
                      "or add one with “+ Layer”.")
            return
        self._stroke = object()
        self._layer_id = layer.id
        self._brush = self.options.brush(erase=self.erase)
        x, y = ev.pos.x(), ev.pos.y()
        self._last = (x, y)
        self._carry = 0.0
        self._dabs([(x, y)], ev.pressure)

    def _dabs(self, points, pressure: float) -> None:
        """Dabs of one mouse event as one paint; with a selection, clipped to it."""
        dabs(self.doc, self._layer_id, points, self._brush, self._stroke, pressure, mask=self.doc.selection)

    def move(self, ev: ToolEvent) -> None:
        if self._stroke is None or self._last is None:
            return
        x, y = ev.pos.x(), ev.pos.y()
        pts, self._carry = stroke_points(*self._last, x, y, self._brush, self._carry)
        self._last = (x, y)
        self._dabs(pts, ev.pressure)

    def release(self, ev: ToolEvent) -> None:
        self.cancel()

    def cancel(self) -> None:
        self._stroke = None
        self._last = None


class EraserTool(BrushTool):
    name, label, shortcut = "eraser", "Eraser", "E"
    tip = "Erase on the active pixel layer (uses the brush size, hardness and opacity)"
    erase = True
