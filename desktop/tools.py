"""The canvas tools: move/transform, brush, eraser, red-pen marks, mark selection, selections,
eyedropper. Each tool turns canvas-coordinate input into document operations (one undo step
per gesture) and draws its own overlay (handles, previews) on the view.

Which layer a tool works on:
- brush and eraser paint on the active pixel layer; on any other layer they do nothing and
  the status bar says why (select or add a pixel layer);
- the move tool transforms the active collage piece; clicking another piece picks it;
- the red-pen tools (pen, arrow, ellipse, rectangle, text) draw on the active annotation
  layer, else on the topmost annotation layer, else on a new "Marks" layer they add on top:
  marks never land in the pixels of the photo;
- the mark-select tool picks the mark nearest the cursor on any visible annotation layer;
- selection tools and the eyedropper work whatever layer is active.

Tools talk to a ``host`` (the main window) for their options, status-bar hints, the text
of a label and error reports, so they can be driven without menus or dialogs in tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PySide6.QtCore import QLineF, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QPainter, QPen, QPixmap, QPolygonF

from canvas.brush import Brush, dabs, stroke_points
from canvas.errors import CanvasError
from canvas.geometry import Rect
from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Transform
from canvas.marks import RED, Arrow, Ellipse, Mark, Rectangle, Stroke, TextLabel

HANDLE = 8.0  # handle size in logical pixels
ROTATE_DIST = 28.0  # distance of the rotate handle above the top edge
CLICK = 3.0  # a drag shorter than this (logical pixels) is a click


@dataclass
class ToolEvent:
    pos: QPointF  # canvas coordinates (floats)
    widget_pos: QPointF
    buttons: Qt.MouseButton
    button: Qt.MouseButton
    modifiers: Qt.KeyboardModifier
    pressure: float = 1.0

    @property
    def shift(self) -> bool:
        return bool(self.modifiers & Qt.KeyboardModifier.ShiftModifier)

    @property
    def alt(self) -> bool:
        return bool(self.modifiers & Qt.KeyboardModifier.AltModifier)


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


def qcolor(rgba) -> QColor:
    return QColor(*rgba)


# --- geometry helpers -------------------------------------------------------------------------
def _seg_dist(p, a, b) -> float:
    ax, ay = a
    bx, by = b
    px, py = p
    dx, dy = bx - ax, by - ay
    L2 = dx * dx + dy * dy
    t = 0.0 if L2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / L2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def mark_distance(mark: Mark, p: tuple[float, float]) -> tuple[float, bool]:
    """(distance from ``p`` to the mark's outline, whether ``p`` is inside a closed/text mark)."""
    if isinstance(mark, Stroke):
        pts = mark.points()
        if len(pts) == 1:
            return math.dist(p, pts[0]), False
        return min(_seg_dist(p, pts[i], pts[i + 1]) for i in range(len(pts) - 1)), False
    if isinstance(mark, Arrow):
        return _seg_dist(p, mark.start, mark.end), False
    if isinstance(mark, Rectangle):
        x0, y0, x1, y1 = mark.box()
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        d = min(_seg_dist(p, corners[i], corners[(i + 1) % 4]) for i in range(4))
        return d, x0 <= p[0] <= x1 and y0 <= p[1] <= y1
    if isinstance(mark, Ellipse):
        x0, y0, x1, y1 = mark.box()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        rx, ry = max((x1 - x0) / 2, 0.5), max((y1 - y0) / 2, 0.5)
        q = math.hypot((p[0] - cx) / rx, (p[1] - cy) / ry)
        return abs(q - 1.0) * min(rx, ry), q <= 1.0
    if isinstance(mark, TextLabel):
        b = mark.bounds()
        inside = b.x <= p[0] <= b.right and b.y <= p[1] <= b.bottom
        dx = max(b.x - p[0], 0, p[0] - b.right)
        dy = max(b.y - p[1], 0, p[1] - b.bottom)
        return (0.0 if inside else math.hypot(dx, dy)), inside
    b = mark.bounds()
    return math.hypot(max(b.x - p[0], 0, p[0] - b.right), max(b.y - p[1], 0, p[1] - b.bottom)), False


def nearest_mark(layers, p, tolerance: float):
    """(layer, mark) nearest to ``p`` on the given annotation layers, or None.

    A mark whose outline is within ``tolerance`` (plus half its width) wins; otherwise the
    smallest closed shape or text label containing ``p``.
    """
    best = None
    inside_best = None
    for layer in layers:
        for mark in layer.marks:
            d, inside = mark_distance(mark, p)
            d -= mark.width / 2
            if d <= tolerance and (best is None or d < best[0]):
                best = (d, layer, mark)
            if inside:
                b = mark.bounds()
                if inside_best is None or b.area < inside_best[0]:
                    inside_best = (b.area, layer, mark)
    if best is not None:
        return best[1], best[2]
    if inside_best is not None:
        return inside_best[1], inside_best[2]
    return None


def _circle_cursor(diameter: float) -> QCursor:
    """An outline of the brush at its on-screen size, with a centre dot."""
    d = max(3, int(math.ceil(diameter)))
    side = d + 4
    pm = QPixmap(side, side)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    r = QRectF(2, 2, d, d).adjusted(0.5, 0.5, -0.5, -0.5)
    p.setPen(QPen(QColor(0, 0, 0, 200), 1.5))
    p.drawEllipse(r)
    p.setPen(QPen(QColor(255, 255, 255, 220), 0.8))
    p.drawEllipse(r.adjusted(1, 1, -1, -1))
    c = side / 2
    p.setPen(QPen(QColor(0, 0, 0, 220), 1))
    p.drawPoint(QPointF(c, c))
    p.end()
    return QCursor(pm, side // 2, side // 2)


def _symbol_cursor(kind: str) -> QCursor:
    """Small drawn cursors: a crosshair with a symbol telling what a click will make."""
    pm = QPixmap(32, 32)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    for col, w in ((QColor(255, 255, 255), 3.0), (QColor(0, 0, 0), 1.2)):
        p.setPen(QPen(col, w))
        p.drawLine(QPointF(8, 1), QPointF(8, 15))
        p.drawLine(QPointF(1, 8), QPointF(15, 8))
        pen = QPen(col, w)
        p.setPen(pen)
        if kind == "arrow":
            p.drawLine(QPointF(17, 28), QPointF(29, 16))
            p.drawLine(QPointF(29, 16), QPointF(23, 17))
            p.drawLine(QPointF(29, 16), QPointF(28, 22))
        elif kind == "ellipse":
            p.drawEllipse(QRectF(16, 17, 14, 10))
        elif kind == "rect":
            p.drawRect(QRectF(16, 17, 13, 10))
        elif kind == "pen":
            p.drawLine(QPointF(16, 28), QPointF(28, 16))
        elif kind == "text":
            p.drawLine(QPointF(17, 17), QPointF(29, 17))
            p.drawLine(QPointF(23, 17), QPointF(23, 29))
        elif kind == "lasso":
            p.drawEllipse(QRectF(16, 16, 13, 9))
        elif kind == "select":
            p.drawRect(QRectF(16, 16, 13, 11))
        elif kind == "picker":
            p.drawLine(QPointF(18, 28), QPointF(28, 18))
            p.drawEllipse(QRectF(24, 14, 6, 6))
        elif kind == "rotate":
            p.drawArc(QRectF(15, 15, 14, 14), 30 * 16, 270 * 16)
            p.drawLine(QPointF(27, 13), QPointF(28, 19))
    p.end()
    return QCursor(pm, 8, 8)


# --- the tools ----------------------------------------------------------------------------------
class Tool:
    name = ""
    label = ""
    shortcut = ""
    tip = ""

    def __init__(self, host) -> None:
        self.host = host
        self.view = None

    # host helpers
    @property
    def options(self) -> ToolOptions:
        return self.host.options

    @property
    def bridge(self):
        return self.view.bridge

    @property
    def doc(self):
        return self.view.document

    def hint(self, text: str) -> None:
        self.host.show_hint(text)

    def activate(self, view) -> None:
        self.view = view

    def deactivate(self) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Drop any gesture in progress."""

    def cursor(self) -> QCursor:
        return QCursor(Qt.CursorShape.CrossCursor)

    def accepts(self, layer) -> bool:
        """Whether this tool works on ``layer`` as the active layer (used to pick tools)."""
        return True

    def press(self, ev: ToolEvent) -> None: ...

    def move(self, ev: ToolEvent) -> None: ...

    def release(self, ev: ToolEvent) -> None: ...

    def double_click(self, ev: ToolEvent) -> bool:
        return False

    def key_press(self, event) -> bool:
        return False

    def leave(self) -> None: ...

    def view_changed(self) -> None: ...

    def paint_overlay(self, p: QPainter) -> None: ...

    def options_changed(self) -> None: ...


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
        return _circle_cursor(d)

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


class MoveTool(Tool):
    """Move, scale and rotate collage pieces.

    A corner handle scales both sides, an edge handle one; the opposite corner or edge stays
    where it is (Alt: the centre stays), Shift keeps the aspect. The round handle rotates.
    """

    name, label, shortcut = "move", "Move / transform", "V"
    tip = ("Pieces: drag to move; a corner or edge scales (Shift: keep aspect, Alt: from the centre); "
           "the round handle rotates (Shift: 15° steps); click a piece to pick it")

    def __init__(self, host) -> None:
        super().__init__(host)
        self._mode: str | None = None
        self._gesture: object | None = None
        self._start: QPointF | None = None
        self._tf0: Transform | None = None
        self._handle = QPointF()  # canvas point of the corner or edge handle being dragged
        self._hover: str | None = None

    def accepts(self, layer) -> bool:
        return isinstance(layer, PieceLayer)

    def piece(self) -> PieceLayer | None:
        layer = self.bridge.active_layer() if self.view is not None and self.bridge is not None else None
        return layer if isinstance(layer, PieceLayer) else None

    def corners(self, piece: PieceLayer) -> list[QPointF]:
        h, w = piece.original.shape[:2]
        m = piece.transform.matrix(w, h)
        pts = m @ np.array([[0, w, w, 0], [0, 0, h, h], [1, 1, 1, 1]], dtype=np.float64)
        return [QPointF(pts[0, i], pts[1, i]) for i in range(4)]

    @staticmethod
    def _edge_points(pts: list[QPointF]) -> list[QPointF]:
        """The midpoints of the four sides (top, right, bottom, left before any flip)."""
        return [(pts[i] + pts[(i + 1) % 4]) / 2 for i in range(4)]

    def _widget_geometry(self, piece: PieceLayer):
        v = self.view
        wc = [v.to_widget(c) for c in self.corners(piece)]
        top_mid = (wc[0] + wc[1]) / 2
        centre = (wc[0] + wc[2]) / 2
        up = top_mid - centre
        n = math.hypot(up.x(), up.y())
        if n < 1e-6:
            up = QPointF(0, -1)
        else:
            up = up / n
        rot = top_mid + up * ROTATE_DIST
        return wc, top_mid, rot, centre

    def hit(self, piece: PieceLayer, wpos: QPointF) -> str | None:
        wc, _top, rot, _c = self._widget_geometry(piece)
        if QLineF(rot, wpos).length() <= HANDLE:
            return "rotate"
        for i, c in enumerate(wc):
            if abs(c.x() - wpos.x()) <= HANDLE and abs(c.y() - wpos.y()) <= HANDLE:
                return f"corner{i}"
        for i, c in enumerate(self._edge_points(wc)):
            if abs(c.x() - wpos.x()) <= HANDLE and abs(c.y() - wpos.y()) <= HANDLE:
                return f"edge{i}"
        if QPolygonF(wc).containsPoint(wpos, Qt.FillRule.OddEvenFill):
            return "move"
        return None

    def _piece_at(self, p: QPointF) -> PieceLayer | None:
        x, y = int(math.floor(p.x())), int(math.floor(p.y()))
        for layer in reversed(self.doc.layers):
            if not isinstance(layer, PieceLayer) or not layer.visible:
                continue
            b = layer.bounds()
            if b.x <= x < b.right and b.y <= y < b.bottom:
                pixels, r = layer.raster()
                if pixels[y - r.y, x - r.x, 3] > 0:
                    return layer
        return None

    def cursor(self) -> QCursor:
        return {
            "move": QCursor(Qt.CursorShape.SizeAllCursor),
            "rotate": _symbol_cursor("rotate"),
            "corner0": QCursor(Qt.CursorShape.SizeFDiagCursor),
            "corner2": QCursor(Qt.CursorShape.SizeFDiagCursor),
            "corner1": QCursor(Qt.CursorShape.SizeBDiagCursor),
            "corner3": QCursor(Qt.CursorShape.SizeBDiagCursor),
            "edge0": QCursor(Qt.CursorShape.SizeVerCursor),
            "edge2": QCursor(Qt.CursorShape.SizeVerCursor),
            "edge1": QCursor(Qt.CursorShape.SizeHorCursor),
            "edge3": QCursor(Qt.CursorShape.SizeHorCursor),
        }.get(self._hover or "", QCursor(Qt.CursorShape.ArrowCursor))

    def press(self, ev: ToolEvent) -> None:
        if ev.button != Qt.MouseButton.LeftButton:
            return
        piece = self.piece()
        part = self.hit(piece, ev.widget_pos) if piece is not None else None
        if part is None:
            other = self._piece_at(ev.pos)
            if other is None:
                if piece is None:
                    self.hint("The move tool moves collage pieces: click a piece, or drop or paste an image "
                              "to make one.")
                return
            self.bridge.set_active(other.id)
            piece, part = other, "move"
        if piece.locked:
            self.hint(f"Layer “{piece.name}” is locked; unlock it in the Layers panel to move it.")
            return
        self._mode = part
        self._gesture = object()
        self._start = QPointF(ev.pos)
        self._tf0 = piece.transform
        if part.startswith(("corner", "edge")):
            pts = self.corners(piece)
            i = int(part[-1])
            self._handle = pts[i] if part.startswith("corner") else self._edge_points(pts)[i]
        self.view.update()

    def move(self, ev: ToolEvent) -> None:
        piece = self.piece()
        if self._mode is None or piece is None:
            if piece is not None:
                hover = self.hit(piece, ev.widget_pos)
                if hover != self._hover:
                    self._hover = hover
                    self.view.refresh_cursor()
            return
        tf0 = self._tf0
        if self._mode == "move":
            d = ev.pos - self._start
            tf = Transform(tf0.cx + d.x(), tf0.cy + d.y(), tf0.sx, tf0.sy, tf0.rotation, tf0.flip_h, tf0.flip_v)
        elif self._mode == "rotate":
            a0 = math.degrees(math.atan2(self._start.y() - tf0.cy, self._start.x() - tf0.cx))
            a1 = math.degrees(math.atan2(ev.pos.y() - tf0.cy, ev.pos.x() - tf0.cx))
            rot = tf0.rotation + (a1 - a0)
            if ev.shift:
                rot = round(rot / 15.0) * 15.0
            rot = (rot + 180.0) % 360.0 - 180.0
            tf = Transform(tf0.cx, tf0.cy, tf0.sx, tf0.sy, rot, tf0.flip_h, tf0.flip_v)
        else:
            tf = self._scaled(piece, ev)
        try:
            self.doc.set_transform(piece.id, tf, gesture=self._gesture,
                                   label={"move": "Move", "rotate": "Rotate"}.get(self._mode, "Scale"))
        except CanvasError as exc:  # scaled past what can be drawn: the piece stays at its last size
            self.hint(str(exc).capitalize() + ".")
            return
        self.view.update()

    def _scaled(self, piece: PieceLayer, ev: ToolEvent) -> Transform:
        """The transform while a corner or edge handle is dragged to ``ev.pos``.

        Worked in the piece's own rotated frame (u along its width, v along its height, origin
        at its centre): the handle's side of the centre gives the directions it moves (du, dv),
        so flipped pieces need no special case; the opposite side is the anchor.
        """
        tf0 = self._tf0
        h, w = piece.original.shape[:2]
        t = math.radians(tf0.rotation)
        c, s = math.cos(t), math.sin(t)

        def local(p: QPointF) -> tuple[float, float]:
            dx, dy = p.x() - tf0.cx, p.y() - tf0.cy
            return c * dx + s * dy, -s * dx + c * dy

        hu, hv = abs(tf0.sx) * w / 2, abs(tf0.sy) * h / 2  # half extents
        au, av = local(self._handle)
        du = 0 if abs(au) < 1e-6 * max(hu, 1) else math.copysign(1, au)
        dv = 0 if abs(av) < 1e-6 * max(hv, 1) else math.copysign(1, av)
        mu, mv = local(ev.pos)
        centred = ev.alt
        min_u, min_v = 0.5 * w / max(w, h), 0.5 * h / max(w, h)  # the longest side keeps 1 px

        def extent(d, m, half):  # the new half extent along one axis
            return (d * m) if centred else (d * m + half) / 2

        nu = max(extent(du, mu, hu), min_u) if du else hu
        nv = max(extent(dv, mv, hv), min_v) if dv else hv
        if ev.shift:  # keep the aspect: one factor, from the axis (or diagonal) dragged
            if du and dv:
                k = max(nu / hu, nv / hv)
            else:
                k = nu / hu if du else nv / hv
            nu, nv = max(hu * k, min_u), max(hv * k, min_v)
        # the anchor (opposite side) stays put unless Alt; an edge keeps its other axis centred
        cu = 0.0 if centred else du * (nu - hu)
        cv = 0.0 if centred else dv * (nv - hv)
        cx, cy = tf0.cx + c * cu - s * cv, tf0.cy + s * cu + c * cv
        return Transform(cx, cy, math.copysign(nu / (w / 2), tf0.sx), math.copysign(nv / (h / 2), tf0.sy),
                         tf0.rotation, tf0.flip_h, tf0.flip_v)

    def release(self, ev: ToolEvent) -> None:
        self.cancel()
        self.view.update()

    def cancel(self) -> None:
        self._mode = None
        self._gesture = None

    def view_changed(self) -> None:
        self.view.update()

    def paint_overlay(self, p: QPainter) -> None:
        piece = self.piece()
        if piece is None or not piece.visible:
            return
        wc, top, rot, _c = self._widget_geometry(piece)
        for col, w in ((QColor(255, 255, 255, 230), 3.0), (QColor(30, 120, 255), 1.2)):
            p.setPen(QPen(col, w))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPolygon(QPolygonF(wc))
            p.drawLine(top, rot)
        p.setPen(QPen(QColor(30, 120, 255), 1.2))
        p.setBrush(QColor(255, 255, 255))
        for c in wc:
            p.drawRect(QRectF(c.x() - HANDLE / 2, c.y() - HANDLE / 2, HANDLE, HANDLE))
        e = HANDLE - 2  # edge handles a little smaller than the corners
        for c in self._edge_points(wc):
            p.drawRect(QRectF(c.x() - e / 2, c.y() - e / 2, e, e))
        p.drawEllipse(rot, HANDLE / 2 + 1, HANDLE / 2 + 1)


class _MarkTool(Tool):
    """Base of the red-pen tools: finds (or makes) the annotation layer to draw on."""

    symbol = "pen"

    def cursor(self) -> QCursor:
        return _symbol_cursor(self.symbol)

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


def text_label_at(doc, p: QPointF) -> tuple[AnnotationLayer, TextLabel] | None:
    """The topmost visible text label whose box holds ``p``."""
    for layer in reversed(doc.layers):
        if isinstance(layer, AnnotationLayer) and layer.visible:
            for mark in reversed(layer.marks):
                if isinstance(mark, TextLabel) and mark_distance(mark, (p.x(), p.y()))[1]:
                    return layer, mark
    return None


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
        return _symbol_cursor("select")

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
        return _symbol_cursor("lasso")

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


class EyedropperTool(Tool):
    name, label, shortcut = "eyedropper", "Eyedropper", "I"
    tip = "Click to take the brush colour from the image (the composite of the content layers)"

    def cursor(self) -> QCursor:
        return _symbol_cursor("picker")

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


TOOL_CLASSES: tuple[type[Tool], ...] = (
    MoveTool, BrushTool, EraserTool, PenTool, ArrowTool, EllipseTool, RectangleTool, TextTool,
    MarkSelectTool, RectSelectTool, LassoTool, EyedropperTool,
)
ANNOTATION_TOOLS = ("pen", "arrow", "ellipse", "rectangle", "text")
