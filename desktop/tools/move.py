"""The move tool: move, scale and rotate the active collage piece; clicking another piece picks it."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPen, QPolygonF

from canvas.errors import CanvasError
from canvas.layers import PieceLayer, Transform
from desktop.tools.base import Tool, ToolEvent
from desktop.tools.cursors import symbol_cursor

HANDLE = 8.0  # handle size in logical pixels
ROTATE_DIST = 28.0  # distance of the rotate handle above the top edge


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
            "rotate": symbol_cursor("rotate"),
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
