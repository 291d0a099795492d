"""The canvas view: a widget that paints the document's cached projections itself.

Coordinates: ``widget = canvas * scale + offset`` (logical widget pixels). ``scale`` is in
logical pixels per canvas pixel; the zoom shown to the user is ``scale * devicePixelRatio``,
so 100 % means one canvas pixel per device pixel on a HiDPI screen too.

What is painted, bottom to top: a checkerboard under the canvas, the content projection,
the annotation projection (red-pen overlay), the selection outline (marching ants) and the
active tool's overlay (handles, previews). The projections are mirrored into QImage caches
that are updated only where the document reports a change, and a document change schedules
a repaint of only the widget rect that shows it. Zoomed out, the caches are read from
area-averaged mip levels (and drawn with smooth filtering); zoomed in, pixels stay sharp.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QSizePolicy, QWidget

from canvas.errors import CanvasError
from desktop.bridge import rewire
from desktop.qimage import rgba_to_qimage
from desktop.view.cache import ProjectionCache
from desktop.view.painting import checker_brush, selection_path

MIN_SCALE = 1 / 64
MAX_SCALE = 64.0
WHEEL_STEP = 2 ** 0.25  # four wheel notches double the zoom
BACKDROP = QColor(58, 58, 62)
MAX_LEVEL = 4  # mip levels 1/2 .. 1/16


class CanvasView(QWidget):
    """Shows one document (through its ``DocumentBridge``) and forwards input to the tool."""

    zoomChanged = Signal(float)  # zoom as shown to the user (1.0 = 100 %)
    cursorMoved = Signal(object)  # QPointF canvas position, or None when the cursor leaves
    viewChanged = Signal()  # zoom or pan changed
    dropped = Signal(object, object)  # QMimeData, QPointF canvas position
    errorRaised = Signal(str)  # an expected document error from a tool (shown by the notifier)

    def __init__(self, bridge=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.bridge = None
        self.tool = None
        self._scale = 1.0
        self._offset = QPointF(0, 0)
        self._placed = False  # fitted once the widget has a size
        self._caches: list[ProjectionCache] = []
        self._sel_path = QPainterPath()
        self._ants = 0
        self._ants_timer = QTimer(self)
        self._ants_timer.setInterval(160)
        self._ants_timer.timeout.connect(self._march)
        self._pan_from: QPointF | None = None
        self._space = False
        self._tablet_pressure: float | None = None
        self._checker: QBrush | None = None
        self._checker_dpr = 0.0
        self.paint_count = 0  # number of paint events (for tests and the benchmark)
        self._preview: tuple[QImage, QRectF] | None = None  # a running edit's picture so far
        self.welcome = ""  # words over an untouched starting canvas: what to do first
        self.last_update_rects: list[QRect] = []  # widget rects asked for by document changes
        if bridge is not None:
            self.set_bridge(bridge)

    # --- document ------------------------------------------------------------------------
    @property
    def document(self):
        return self.bridge.document if self.bridge is not None else None

    def set_bridge(self, bridge) -> None:
        rewire(self.bridge, bridge, (("pixelsChanged", self._pixels_changed),
                                     ("selectionChanged", self._selection_changed),
                                     ("canvasResized", self._canvas_resized)))
        self.bridge = bridge
        self._preview = None  # a preview belongs to the document it was made from
        doc = bridge.document
        self._caches = [ProjectionCache(doc.projection(("content",))), ProjectionCache(doc.projection(("annotation",)))]
        self._selection_changed()
        self._placed = False
        if self.width() > 0 and self.isVisible():
            self.fit()
        self.update()

    def _canvas_resized(self) -> None:
        """New caches at the new size, and the whole canvas in view."""
        doc = self.document
        self._caches = [ProjectionCache(doc.projection(("content",))), ProjectionCache(doc.projection(("annotation",)))]
        self._preview = None
        self.fit()
        self.update()

    # --- a running edit's preview ------------------------------------------------------------
    def set_preview(self, image: np.ndarray | None, rect: tuple[int, int, int, int] | None = None) -> None:
        """Show ``image`` (RGBA uint8) scaled into ``rect`` (x, y, w, h, canvas pixels) over the
        content and under the red-pen marks, until cleared with None. It is not in the document."""
        old = self._preview
        if image is None or rect is None or rect[2] <= 0 or rect[3] <= 0:
            self._preview = None
        else:
            self._preview = (rgba_to_qimage(np.ascontiguousarray(image)), QRectF(*rect))
        for pv in (old, self._preview):
            if pv is not None:
                self.update(self.widget_rect(pv[1]).toAlignedRect().adjusted(-2, -2, 2, 2))

    @property
    def preview_rect(self) -> QRectF | None:
        return None if self._preview is None else QRectF(self._preview[1])

    def _pixels_changed(self, r: QRect) -> None:
        if r.isNull():
            self.last_update_rects.append(self.rect())
            self.update()
            return
        wr = self.widget_rect(QRectF(r)).toAlignedRect().adjusted(-2, -2, 2, 2).intersected(self.rect())
        if not wr.isEmpty():
            self.last_update_rects.append(wr)
            self.update(wr)
        if len(self.last_update_rects) > 256:
            del self.last_update_rects[:128]

    def _selection_changed(self) -> None:
        doc = self.document
        self._sel_path = selection_path(doc.selection if doc is not None else None)
        if self._sel_path.isEmpty():
            self._ants_timer.stop()
        elif not self._ants_timer.isActive():
            self._ants_timer.start()
        self.update()

    def _march(self) -> None:
        self._ants = (self._ants + 1) % 8
        if not self._sel_path.isEmpty():
            r = self.widget_rect(self._sel_path.boundingRect()).toAlignedRect().adjusted(-2, -2, 2, 2)
            self.update(r)

    # --- the transform ---------------------------------------------------------------------
    @property
    def scale(self) -> float:
        return self._scale

    @property
    def offset(self) -> QPointF:
        return QPointF(self._offset)

    def zoom(self) -> float:
        """Zoom as the user sees it: 1.0 = one canvas pixel per device pixel."""
        return self._scale * self.devicePixelRatioF()

    def transform(self) -> QTransform:
        return QTransform(self._scale, 0, 0, self._scale, self._offset.x(), self._offset.y())

    def to_widget(self, p) -> QPointF:
        p = QPointF(p[0], p[1]) if isinstance(p, tuple) else QPointF(p)
        return QPointF(p.x() * self._scale + self._offset.x(), p.y() * self._scale + self._offset.y())

    def to_canvas(self, p) -> QPointF:
        p = QPointF(p)
        return QPointF((p.x() - self._offset.x()) / self._scale, (p.y() - self._offset.y()) / self._scale)

    def widget_rect(self, r: QRectF) -> QRectF:
        return self.transform().mapRect(QRectF(r))

    def canvas_rect_of(self, wr: QRectF) -> QRectF:
        inv, _ = self.transform().inverted()
        return inv.mapRect(QRectF(wr))

    def set_view(self, scale: float, offset: QPointF) -> None:
        scale = min(max(scale, MIN_SCALE), MAX_SCALE)
        changed_zoom = not math.isclose(scale, self._scale)
        self._scale = scale
        self._offset = QPointF(offset)
        self._placed = True
        self.update()
        self.viewChanged.emit()
        if changed_zoom:
            self.zoomChanged.emit(self.zoom())
        if self.tool is not None:
            self.tool.view_changed()

    def zoom_at(self, factor: float, widget_pos: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the canvas point under ``widget_pos`` where it is."""
        pos = QPointF(widget_pos) if widget_pos is not None else QPointF(self.width() / 2, self.height() / 2)
        c = self.to_canvas(pos)
        new = min(max(self._scale * factor, MIN_SCALE), MAX_SCALE)
        self.set_view(new, QPointF(pos.x() - c.x() * new, pos.y() - c.y() * new))

    def set_zoom(self, zoom: float, widget_pos: QPointF | None = None) -> None:
        """Set the user-facing zoom (1.0 = 100 %) about ``widget_pos`` (default: the centre)."""
        self.zoom_at(zoom / self.devicePixelRatioF() / self._scale, widget_pos)

    def zoom_in(self) -> None:
        self.zoom_at(math.sqrt(2))

    def zoom_out(self) -> None:
        self.zoom_at(1 / math.sqrt(2))

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        doc = self.document
        if doc is None or self.width() <= 0 or self.height() <= 0:
            return
        margin = 24
        s = min((self.width() - 2 * margin) / doc.width, (self.height() - 2 * margin) / doc.height)
        s = max(min(s, MAX_SCALE), MIN_SCALE)
        self.set_view(s, QPointF((self.width() - doc.width * s) / 2, (self.height() - doc.height * s) / 2))

    def pan_by(self, dx: float, dy: float) -> None:
        self.set_view(self._scale, QPointF(self._offset.x() + dx, self._offset.y() + dy))

    def centre_canvas_point(self) -> QPointF:
        """The canvas point at the centre of the widget (clamped to the canvas)."""
        doc = self.document
        c = self.to_canvas(QPointF(self.width() / 2, self.height() / 2))
        return QPointF(min(max(c.x(), 0), doc.width), min(max(c.y(), 0), doc.height))

    # --- the tool ---------------------------------------------------------------------------
    def set_tool(self, tool) -> None:
        if self.tool is not None:
            self.tool.deactivate()
        self.tool = tool
        if tool is not None:
            tool.activate(self)
        self.refresh_cursor()
        self.update()

    def refresh_cursor(self) -> None:
        if self._pan_from is not None:
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif self._space:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif self.tool is not None:
            self.setCursor(self.tool.cursor())
        else:
            self.unsetCursor()

    # --- Qt events ----------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not self._placed:
            self.fit()
        elif event.oldSize().isValid():
            # keep the canvas point at the centre where it was
            dx = (event.size().width() - event.oldSize().width()) / 2
            dy = (event.size().height() - event.oldSize().height()) / 2
            self._offset = QPointF(self._offset.x() + dx, self._offset.y() + dy)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._placed:
            self.fit()

    def _level_for(self) -> int:
        device_scale = self._scale * self.devicePixelRatioF()
        k = 0
        while k < MAX_LEVEL and device_scale <= 0.5 ** (k + 1):
            k += 1
        return k

    def paintEvent(self, event) -> None:
        self.paint_count += 1
        for cache in self._caches:
            cache.sync()
        p = QPainter(self)
        exposed = QRectF(event.rect())
        p.fillRect(event.rect(), BACKDROP)
        doc = self.document
        if doc is None:
            p.end()
            return
        canvas_w = self.widget_rect(QRectF(0, 0, doc.width, doc.height))
        visible_w = canvas_w.intersected(exposed)
        if not visible_w.isEmpty():
            dpr = self.devicePixelRatioF()
            if self._checker is None or self._checker_dpr != dpr:
                self._checker, self._checker_dpr = checker_brush(dpr), dpr
            p.setBrushOrigin(canvas_w.topLeft())
            p.fillRect(visible_w, self._checker)
            p.setBrushOrigin(0, 0)
            # the canvas part to draw, with a small margin so filtering sees its neighbours
            cr = self.canvas_rect_of(visible_w)
            k = self._level_for()
            f = 1 << k
            x0 = max(0, math.floor(cr.left()) - 2 * f) // f * f
            y0 = max(0, math.floor(cr.top()) - 2 * f) // f * f
            x1 = min(doc.width, math.ceil(cr.right()) + 2 * f)
            y1 = min(doc.height, math.ceil(cr.bottom()) + 2 * f)
            p.save()
            p.setClipRect(visible_w)
            p.setTransform(self.transform())
            smooth = self._scale * dpr < 1.0
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            for i, cache in enumerate(self._caches):
                img = cache.level(k)
                src = QRectF(x0 / f, y0 / f, min(img.width() - x0 / f, (x1 - x0) / f),
                             min(img.height() - y0 / f, (y1 - y0) / f))
                tgt = QRectF(x0, y0, src.width() * f, src.height() * f)
                p.drawImage(tgt, img, src)
                if i == 0 and self._preview is not None:  # over the content, under the marks
                    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                    p.drawImage(self._preview[1], self._preview[0])
                    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            p.restore()
            if self._preview is not None:  # a frame says: not in the document yet
                p.setPen(QPen(QColor(30, 120, 255, 200), 1, Qt.PenStyle.DashLine))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(self.widget_rect(self._preview[1]).adjusted(-0.5, -0.5, 0.5, 0.5))
            # a thin frame so a white canvas stands out from the backdrop
            p.setPen(QPen(QColor(0, 0, 0, 90), 1))
            p.drawRect(canvas_w.adjusted(-0.5, -0.5, 0.5, 0.5))
        if self.welcome and not canvas_w.isEmpty():
            p.save()
            font = p.font()
            font.setPointSizeF(font.pointSizeF() * 1.25)
            p.setFont(font)
            p.setPen(QColor(120, 120, 128))
            p.drawText(canvas_w.adjusted(24, 24, -24, -24),
                       int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap), self.welcome)
            p.restore()
        if not self._sel_path.isEmpty():
            path = self.transform().map(self._sel_path)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            p.setPen(QPen(QColor(255, 255, 255), 1))
            p.drawPath(path)
            pen = QPen(QColor(0, 0, 0), 1, Qt.PenStyle.CustomDashLine)
            pen.setDashPattern([4, 4])
            pen.setDashOffset(self._ants)
            p.setPen(pen)
            p.drawPath(path)
        if self.tool is not None:
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            self.tool.paint_overlay(p)
        p.end()

    def wheelEvent(self, event) -> None:
        """Wheel zooms about the cursor; Shift+wheel (or a touchpad's two-finger scroll) pans."""
        delta = event.angleDelta()
        pixel = event.pixelDelta()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            d = delta.y() or delta.x()
            self.pan_by(d / 2, 0)
        elif not pixel.isNull() and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.pan_by(pixel.x(), pixel.y())
        elif delta.y():
            self.zoom_at(WHEEL_STEP ** (delta.y() / 120.0), event.position())
        event.accept()

    def _tool_event(self, event, pressure: float | None = None):
        from desktop.tools.base import ToolEvent

        pos = event.position()
        return ToolEvent(self.to_canvas(pos), QPointF(pos), event.buttons(), event.button(),
                         event.modifiers(), pressure if pressure is not None else 1.0)

    def _dispatch(self, method, ev) -> None:
        try:
            method(ev)
        except CanvasError as exc:  # a locked layer and the like: tell the user, drop the gesture
            self.tool.cancel()
            self.errorRaised.emit(str(exc))

    def mousePressEvent(self, event) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position()
            self.refresh_cursor()
            event.accept()
            return
        if self.tool is not None and event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._dispatch(self.tool.press, self._tool_event(event, self._tablet_pressure))
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        self.cursorMoved.emit(self.to_canvas(pos))
        if self._pan_from is not None:
            d = pos - self._pan_from
            self._pan_from = pos
            self.pan_by(d.x(), d.y())
            return
        if self.tool is not None:
            self._dispatch(self.tool.move, self._tool_event(event, self._tablet_pressure))

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.refresh_cursor()
            return
        if self.tool is not None:
            self._dispatch(self.tool.release, self._tool_event(event, self._tablet_pressure))
        self._tablet_pressure = None

    def mouseDoubleClickEvent(self, event) -> None:
        if self.tool is not None and event.button() == Qt.MouseButton.LeftButton:
            if self.tool.double_click(self._tool_event(event)):
                return
        self.mousePressEvent(event)

    def tabletEvent(self, event) -> None:
        # remember the pressure and let Qt synthesise the mouse event the tools handle
        t = event.type()
        from PySide6.QtCore import QEvent

        if t in (QEvent.Type.TabletPress, QEvent.Type.TabletMove):
            self._tablet_pressure = float(event.pressure()) if event.pressure() > 0 else None
        event.ignore()

    def leaveEvent(self, event) -> None:
        self.cursorMoved.emit(None)
        if self.tool is not None:
            self.tool.leave()
        super().leaveEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.refresh_cursor()
            return
        if self.tool is not None and self.tool.key_press(event):
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._pan_from = None
            self.refresh_cursor()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        self._space = False
        super().focusOutEvent(event)

    # --- drag and drop -----------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        md = event.mimeData()
        if md.hasUrls() or md.hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self.dropped.emit(event.mimeData(), self.to_canvas(event.position()))
        event.acceptProposedAction()
