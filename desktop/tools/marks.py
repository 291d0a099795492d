"""The red-pen tools: pen, arrow, ellipse, rectangle and text label. They draw on the active
annotation layer, else on the topmost shown one, else on a new "Marks" layer they add on top:
marks never land in the pixels of the photo, nor in a hidden layer."""

from __future__ import annotations

import math
from dataclasses import replace

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPen, QPolygonF

from canvas.layers import AnnotationLayer
from canvas.marks import Arrow, Ellipse, Mark, Rectangle, Stroke, TextLabel
from desktop.tools.base import CLICK, Tool, ToolEvent
from desktop.tools.cursors import symbol_cursor
from desktop.tools.mark_hits import text_label_at


def qcolor(rgba) -> QColor:
    return QColor(*rgba)


class _MarkTool(Tool):
    """Base of the red-pen tools: finds (or makes) the annotation layer to draw on."""

    symbol = "pen"

    def cursor(self) -> QCursor:
        return symbol_cursor(self.symbol)

    def target_layer(self, create: bool = True) -> AnnotationLayer | None:
        """Where a new mark goes: the active annotation layer if it is shown, else the topmost shown
        one, else a new marks layer on top.

        A mark is never drawn into a hidden layer, where it could not be seen. Nor is a hidden
        layer shown again: an edit hides the marks it answered, so showing them would bring the
        last round's marks back into the next request. The next round gets a layer of its own.
        """
        active = self.bridge.active_layer()
        shown = [lyr for lyr in reversed(self.doc.layers) if isinstance(lyr, AnnotationLayer) and lyr.visible]
        if isinstance(active, AnnotationLayer) and active.visible:
            layer = active
        else:
            layer = shown[0] if shown else None
            if layer is None:
                if not create:
                    return None
                hidden = next((lyr for lyr in reversed(self.doc.layers) if isinstance(lyr, AnnotationLayer)), None)
                name = self.doc.unique_name("Marks")
                layer = self.doc.new_annotation_layer(name)
                if hidden is None:
                    self.hint(f"Added the annotation layer “{name}” for the red-pen marks.")
                else:
                    self.hint(f"New marks go on “{name}”: “{hidden.name}” is hidden (an edit answered its marks; "
                              "its eye in the Layers panel shows them again).")
            self.bridge.set_active(layer.id)
        if layer.locked:
            self.hint(f"Layer “{layer.name}” is locked; unlock it to draw marks on it.")
            return None
        return layer

    def commit(self, mark: Mark) -> None:
        layer = self.target_layer()
        if layer is not None:
            self.doc.add_mark(layer.id, mark)

    def _pen(self) -> QPen:
        pen = QPen(qcolor(self.options.mark_color), max(1.0, self.options.mark_width * self.view.scale))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        return pen


class _DragMarkTool(_MarkTool):
    def __init__(self, host) -> None:
        super().__init__(host)
        self._p0: QPointF | None = None
        self._p1: QPointF | None = None
        self._w0: QPointF | None = None

    def press(self, ev: ToolEvent) -> None:
        if ev.button != Qt.MouseButton.LeftButton:
            return
        self._p0 = QPointF(ev.pos)
        self._p1 = QPointF(ev.pos)
        self._w0 = QPointF(ev.widget_pos)

    def move(self, ev: ToolEvent) -> None:
        if self._p0 is None:
            return
        self._p1 = self.constrain(self._p0, QPointF(ev.pos), ev.shift)
        self.view.update()

    def release(self, ev: ToolEvent) -> None:
        if self._p0 is None:
            return
        p0, p1 = self._p0, self.constrain(self._p0, QPointF(ev.pos), ev.shift)
        short = QLineF(self._w0, ev.widget_pos).length() < CLICK
        self.cancel()
        self.view.update()
        if short:
            self.hint(f"Drag to draw {self.article}.")
            return
        self.commit(self.make((p0.x(), p0.y()), (p1.x(), p1.y())))

    def cancel(self) -> None:
        self._p0 = self._p1 = self._w0 = None

    def key_press(self, event) -> bool:
        if event.key() == Qt.Key.Key_Escape and self._p0 is not None:
            self.cancel()
            self.view.update()
            return True
        return False

    def constrain(self, p0: QPointF, p1: QPointF, shift: bool) -> QPointF:
        return p1

    def make(self, p0, p1) -> Mark:
        raise NotImplementedError

    def paint_overlay(self, p: QPainter) -> None:
        if self._p0 is None or self._p1 is None:
            return
        mark = self.make((self._p0.x(), self._p0.y()), (self._p1.x(), self._p1.y()))
        paint_mark(p, self.view, mark)


def paint_mark(p: QPainter, view, mark: Mark) -> None:
    """A live preview of ``mark`` in widget coordinates (the committed mark is rendered by canvas)."""
    s = view.scale
    pen = QPen(qcolor(mark.color), max(1.0, mark.width * s))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    if isinstance(mark, Arrow):
        a, b = view.to_widget(mark.start), view.to_widget(mark.end)
        length = QLineF(a, b).length()
        if length < 1e-6:
            return
        u = (b - a) / length
        head = mark.head_size() * s
        base = b - u * head
        n = QPointF(-u.y(), u.x())
        p.drawLine(a, b - u * head * 0.5)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(qcolor(mark.color))
        p.drawPolygon(QPolygonF([b, base + n * head * 0.5, base - n * head * 0.5]))
    elif isinstance(mark, Ellipse | Rectangle):
        x0, y0, x1, y1 = mark.box()
        r = QRectF(view.to_widget((x0, y0)), view.to_widget((x1, y1)))
        if isinstance(mark, Ellipse):
            p.drawEllipse(r)
        else:
            p.drawRect(r)
    elif isinstance(mark, Stroke):
        pts = [view.to_widget(q) for q in mark.points()]
        if len(pts) == 1:
            p.drawPoint(pts[0])
        else:
            p.drawPolyline(QPolygonF(pts))


class ArrowTool(_DragMarkTool):
    name, label, shortcut, symbol = "arrow", "Arrow", "A", "arrow"
    tip = "Red pen: drag from the tail to the tip to draw an arrow (Shift snaps to 45°)"
    article = "an arrow"

    def constrain(self, p0, p1, shift):
        if not shift:
            return p1
        d = p1 - p0
        ang = round(math.atan2(d.y(), d.x()) / (math.pi / 4)) * (math.pi / 4)
        length = math.hypot(d.x(), d.y())
        return QPointF(p0.x() + length * math.cos(ang), p0.y() + length * math.sin(ang))

    def make(self, p0, p1) -> Mark:
        return Arrow(color=self.options.mark_color, width=self.options.mark_width, start=p0, end=p1)


class _BoxTool(_DragMarkTool):
    mark_cls: type = Ellipse  # the box-shaped mark this tool draws

    def make(self, p0, p1) -> Mark:
        return self.mark_cls(color=self.options.mark_color, width=self.options.mark_width, p0=p0, p1=p1)

    def constrain(self, p0, p1, shift):
        if not shift:
            return p1
        d = p1 - p0
        side = max(abs(d.x()), abs(d.y()))
        return QPointF(p0.x() + math.copysign(side, d.x() or 1), p0.y() + math.copysign(side, d.y() or 1))


class EllipseTool(_BoxTool):
    name, label, shortcut, symbol = "ellipse", "Ellipse", "O", "ellipse"
    tip = "Red pen: drag to circle something (Shift draws a circle)"
    article = "an ellipse"
    mark_cls = Ellipse


class RectangleTool(_BoxTool):
    name, label, shortcut, symbol = "rectangle", "Rectangle", "R", "rect"
    tip = "Red pen: drag to draw a box (Shift draws a square)"
    article = "a rectangle"
    mark_cls = Rectangle


class PenTool(_MarkTool):
    name, label, shortcut, symbol = "pen", "Pen", "P", "pen"
    tip = "Red pen: freehand scribbles and strokes, kept as editable vectors"

    def __init__(self, host) -> None:
        super().__init__(host)
        self._pts: list[tuple[float, float]] | None = None

    def press(self, ev: ToolEvent) -> None:
        if ev.button == Qt.MouseButton.LeftButton:
            self._pts = [(ev.pos.x(), ev.pos.y())]
            self.view.update()

    def move(self, ev: ToolEvent) -> None:
        if self._pts is None:
            return
        q = (ev.pos.x(), ev.pos.y())
        if math.dist(q, self._pts[-1]) * self.view.scale >= 1.0:
            self._pts.append(q)
            self.view.update()

    def release(self, ev: ToolEvent) -> None:
        if self._pts is None:
            return
        pts = self._pts
        q = (ev.pos.x(), ev.pos.y())
        if q != pts[-1]:
            pts.append(q)
        self.cancel()
        self.view.update()
        self.commit(Stroke(color=self.options.mark_color, width=self.options.mark_width, points_=tuple(pts)))

    def cancel(self) -> None:
        self._pts = None

    def paint_overlay(self, p: QPainter) -> None:
        if self._pts:
            paint_mark(p, self.view, Stroke(color=self.options.mark_color, width=self.options.mark_width,
                                            points_=tuple(self._pts)))


def edit_text_label(tool: Tool, layer: AnnotationLayer, mark: TextLabel) -> bool:
    """Ask for new text for ``mark`` (one undoable step); an emptied label is deleted."""
    if layer.locked:
        tool.hint(f"Layer “{layer.name}” is locked; unlock it to change its marks.")
        return True
    text = tool.host.ask_text("Edit text label", "Label text (empty deletes it):", mark.text)
    if text is None or text == mark.text:
        return True
    if text.strip():
        tool.doc.replace_mark(layer.id, replace(mark, text=text))
    else:
        tool.doc.remove_mark(layer.id, mark.id)
    tool.view.update()
    return True


class TextTool(_MarkTool):
    name, label, shortcut, symbol = "text", "Text label", "T", "text"
    tip = "Red pen: click where a text label goes, then type it; click a label to change its text"

    def press(self, ev: ToolEvent) -> None:
        if ev.button != Qt.MouseButton.LeftButton:
            return
        found = text_label_at(self.doc, ev.pos)
        if found is not None:  # clicking a label edits it, as in every drawing program
            edit_text_label(self, *found)
            return
        text = self.host.ask_text("Text label", "Label text:")
        if not text or not text.strip():
            return
        self.commit(TextLabel(color=self.options.mark_color, width=max(1.0, self.options.text_size / 12),
                              pos=(ev.pos.x(), ev.pos.y()), text=text, size=self.options.text_size))
