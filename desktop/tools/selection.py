"""The selection tools: rectangle and lasso (Shift adds, Alt subtracts, a click selects nothing)."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPen, QPolygonF

from canvas.geometry import Rect
from desktop.tools.base import CLICK, Tool, ToolEvent
from desktop.tools.cursors import symbol_cursor


def _combine(doc, new: np.ndarray, ev: ToolEvent, label: str) -> None:
    old = doc.selection
    if ev.shift and old is not None:
        mask, label = np.maximum(old, new), "Add to selection"
    elif ev.alt:
        if old is None:
            return
        mask, label = np.where(new > 0, 0, old).astype(np.uint8), "Subtract from selection"
    else:
        mask = new
    doc.set_selection(mask, label)


class RectSelectTool(Tool):
    name, label, shortcut = "rect_select", "Rectangle selection", "M"
    tip = "Drag a rectangle to select (Shift adds, Alt subtracts; a click selects nothing)"

    def __init__(self, host) -> None:
        super().__init__(host)
        self._p0: QPointF | None = None
        self._p1: QPointF | None = None
        self._w0: QPointF | None = None

    def cursor(self) -> QCursor:
        return symbol_cursor("select")

    def press(self, ev: ToolEvent) -> None:
        if ev.button == Qt.MouseButton.LeftButton:
            self._p0 = self._p1 = QPointF(ev.pos)
            self._w0 = QPointF(ev.widget_pos)

    def move(self, ev: ToolEvent) -> None:
        if self._p0 is not None:
            self._p1 = QPointF(ev.pos)
            self.view.update()

    def release(self, ev: ToolEvent) -> None:
        if self._p0 is None:
            return
        p0, p1, w0 = self._p0, QPointF(ev.pos), self._w0
        self.cancel()
        self.view.update()
        doc = self.doc
        if QLineF(w0, ev.widget_pos).length() < CLICK:
            if not ev.shift and not ev.alt:
                doc.set_selection(None, "Select none")
            return
        r = Rect.from_bounds(min(p0.x(), p1.x()), min(p0.y(), p1.y()), max(p0.x(), p1.x()), max(p0.y(), p1.y()))
        r = r.intersect(doc.rect)
        new = np.zeros((doc.height, doc.width), np.uint8)
        if not r.empty:
            new[r.slices()] = 255
        _combine(doc, new, ev, "Select rectangle")

    def cancel(self) -> None:
        self._p0 = self._p1 = self._w0 = None

    def paint_overlay(self, p: QPainter) -> None:
        if self._p0 is None or self._p1 is None:
            return
        r = QRectF(self.view.to_widget(self._p0), self.view.to_widget(self._p1)).normalized()
        _dashed(p, lambda: p.drawRect(r))


def _dashed(p: QPainter, draw) -> None:
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(QColor(255, 255, 255), 1))
    draw()
    pen = QPen(QColor(0, 0, 0), 1, Qt.PenStyle.DashLine)
    p.setPen(pen)
    draw()


class LassoTool(Tool):
    name, label, shortcut = "lasso", "Lasso selection", "L"
    tip = "Draw around an area to select it (Shift adds, Alt subtracts)"

    def __init__(self, host) -> None:
        super().__init__(host)
        self._pts: list[QPointF] | None = None

    def cursor(self) -> QCursor:
        return symbol_cursor("lasso")

    def press(self, ev: ToolEvent) -> None:
        if ev.button == Qt.MouseButton.LeftButton:
            self._pts = [QPointF(ev.pos)]

    def move(self, ev: ToolEvent) -> None:
        if self._pts is not None:
            self._pts.append(QPointF(ev.pos))
            self.view.update()

    def release(self, ev: ToolEvent) -> None:
        if self._pts is None:
            return
        pts = [*self._pts, QPointF(ev.pos)]
        self.cancel()
        self.view.update()
        doc = self.doc
        if len(pts) < 3:
            if not ev.shift and not ev.alt:
                doc.set_selection(None, "Select none")
            return
        shift = 4
        poly = np.array([[round((q.x() - 0.5) * (1 << shift)), round((q.y() - 0.5) * (1 << shift))] for q in pts],
                        np.int32)
        new = np.zeros((doc.height, doc.width), np.uint8)
        cv2.fillPoly(new, [poly], 255, lineType=cv2.LINE_8, shift=shift)
        _combine(doc, new, ev, "Lasso selection")

    def cancel(self) -> None:
        self._pts = None

    def paint_overlay(self, p: QPainter) -> None:
        if self._pts and len(self._pts) > 1:
            poly = QPolygonF([self.view.to_widget(q) for q in self._pts])
            _dashed(p, lambda: p.drawPolyline(poly))
