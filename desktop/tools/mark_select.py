"""The mark-select tool: pick the red-pen mark nearest the cursor on any shown annotation layer,
drag it, delete it, recolour it, double-click a text label to change its words."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPen

from canvas.layers import AnnotationLayer
from canvas.marks import Mark, TextLabel
from desktop.tools.base import Tool, ToolEvent
from desktop.tools.mark_hits import nearest_mark
from desktop.tools.marks import edit_text_label


class MarkSelectTool(Tool):
    """Pick the mark nearest the cursor; drag moves it, Delete removes it, the colour recolours it."""

    name, label, shortcut = "mark_select", "Select marks", "S"
    tip = ("Click the red-pen mark nearest the cursor to select it; drag to move it, Delete removes it, "
           "double-click a text label to change its text")

    def __init__(self, host) -> None:
        super().__init__(host)
        self.selected: tuple[str, str] | None = None  # (layer id, mark id)
        self._drag: tuple[QPointF, Mark, object] | None = None

    def cursor(self) -> QCursor:
        return QCursor(Qt.CursorShape.PointingHandCursor)

    def selected_mark(self) -> tuple[AnnotationLayer, Mark] | None:
        if self.selected is None or self.view is None:
            return None
        try:
            layer = self.doc.layer(self.selected[0])
            return layer, layer.marks[layer.mark_index(self.selected[1])]
        except (KeyError, AttributeError):
            self.selected = None
            return None

    def press(self, ev: ToolEvent) -> None:
        if ev.button != Qt.MouseButton.LeftButton:
            return
        active = self.bridge.active_layer()
        layers = [lyr for lyr in reversed(self.doc.layers) if isinstance(lyr, AnnotationLayer) and lyr.visible]
        if isinstance(active, AnnotationLayer) and active in layers:
            layers.remove(active)
            layers.insert(0, active)
        p, tolerance = (ev.pos.x(), ev.pos.y()), 8.0 / self.view.scale
        found = nearest_mark(layers, p, tolerance)
        if found is None:
            self.selected = None
            hidden = [lyr for lyr in reversed(self.doc.layers) if isinstance(lyr, AnnotationLayer) and not lyr.visible]
            under = nearest_mark(hidden, p, tolerance)
            if under is not None:  # what cannot be seen is not picked, but the user learns why
                self.hint(f"That mark is on “{under[0].name}”, which is hidden; show it (its eye in the Layers "
                          "panel) to select its marks.")
            self.view.update()
            return
        layer, mark = found
        self.selected = (layer.id, mark.id)
        self.bridge.set_active(layer.id)
        if not layer.locked:
            self._drag = (QPointF(ev.pos), mark, object())
        self.view.update()

    def move(self, ev: ToolEvent) -> None:
        if self._drag is None or self.selected is None:
            return
        start, mark, gesture = self._drag
        d = ev.pos - start
        self.doc.replace_mark(self.selected[0], mark.translated(d.x(), d.y()), gesture=gesture)
        self.view.update()

    def release(self, ev: ToolEvent) -> None:
        self._drag = None

    def double_click(self, ev: ToolEvent) -> bool:
        sel = self.selected_mark()
        if sel is None or not isinstance(sel[1], TextLabel):
            return False
        self._drag = None
        return edit_text_label(self, *sel)

    def cancel(self) -> None:
        self._drag = None

    def deactivate(self) -> None:
        super().deactivate()
        self.selected = None

    def delete_selected(self) -> bool:
        sel = self.selected_mark()
        if sel is None:
            return False
        layer, mark = sel
        self.doc.remove_mark(layer.id, mark.id)
        self.selected = None
        self.view.update()
        return True

    def recolor(self, color) -> bool:
        sel = self.selected_mark()
        if sel is None:
            return False
        layer, mark = sel
        self.doc.replace_mark(layer.id, mark.with_color(color))
        self.view.update()
        return True

    def key_press(self, event) -> bool:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            return self.delete_selected()
        if event.key() == Qt.Key.Key_Escape and self.selected is not None:
            self.selected = None
            self.view.update()
            return True
        return False

    def paint_overlay(self, p: QPainter) -> None:
        sel = self.selected_mark()
        if sel is None:
            return
        b = sel[1].bounds()
        r = self.view.widget_rect(QRectF(b.x, b.y, b.w, b.h)).adjusted(-2, -2, 2, 2)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor(255, 255, 255), 2.5))
        p.drawRect(r)
        pen = QPen(QColor(30, 120, 255), 1.2, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRect(r)
