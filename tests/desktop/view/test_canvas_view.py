"""The canvas view: transform, zoom and pan about the cursor, dirty-rect repaints, drawing."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from canvas.brush import Brush, dab
from canvas.layers import PixelLayer
from desktop.qimage import qimage_to_rgba
from desktop.view.painting import selection_path
from tests.desktop.conftest import drag


def wheel(view, widget_pos: QPointF, notches: float, modifiers=Qt.KeyboardModifier.NoModifier):
    ev = QWheelEvent(widget_pos, QPointF(view.mapToGlobal(widget_pos.toPoint())), QPoint(0, 0),
                     QPoint(0, int(120 * notches)), Qt.MouseButton.NoButton, modifiers,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, ev)


def test_mapping_round_trips(window):
    v = window.view
    v.set_view(3.0, QPointF(-40, 17))
    c = QPointF(123.25, 45.5)
    assert v.to_canvas(v.to_widget(c)) == c
    assert v.to_widget(c) == QPointF(123.25 * 3 - 40, 45.5 * 3 + 17)


def test_wheel_zoom_keeps_the_point_under_the_cursor(window):
    v = window.view
    pos = QPointF(333, 222)
    before = v.to_canvas(pos)
    wheel(v, pos, 2)
    assert v.zoom() == pytest.approx(2 ** 0.5)
    after = v.to_canvas(pos)
    assert (after.x(), after.y()) == pytest.approx((before.x(), before.y()))
    wheel(v, pos, -5)
    after = v.to_canvas(pos)
    assert (after.x(), after.y()) == pytest.approx((before.x(), before.y()))


def test_keyboard_zoom_fit_and_actual_size(window):
    v = window.view
    window.zoom_in_action.trigger()
    assert v.zoom() == pytest.approx(2 ** 0.5)
    window.zoom_out_action.trigger()
    window.zoom_out_action.trigger()
    assert v.zoom() == pytest.approx(2 ** -0.5)
    window.fit_action.trigger()
    doc = window.document
    r = v.widget_rect(QRectF(0, 0, doc.width, doc.height))
    assert v.rect().contains(r.toAlignedRect())
    window.actual_action.trigger()
    assert v.zoom() == pytest.approx(1.0)
    assert window.readout.zoom_label.text() == "100 %"


def test_middle_button_and_space_drag_pan(window):
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    v = window.view
    off = v.offset
    drag(v, [(100, 100), (130, 90)], button=Qt.MouseButton.MiddleButton)
    assert v.offset - off == QPointF(30, -10)
    assert v.scale == 1.0
    QApplication.sendEvent(v, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier))
    off = v.offset
    n = len(window.document.history.labels()[0])
    drag(v, [(100, 100), (90, 80)])  # canvas points move with the view; the drag is 10, 20 widget px
    QApplication.sendEvent(v, QKeyEvent(QEvent.Type.KeyRelease, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier))
    assert v.offset != off
    assert len(window.document.history.labels()[0]) == n  # the brush did not paint


def test_a_dab_repaints_only_around_the_dab(window, qtbot):
    v = window.view
    doc = window.document
    bg = next(lyr for lyr in doc.layers if isinstance(lyr, PixelLayer))
    v.repaint()
    v.last_update_rects.clear()
    dab(doc, bg.id, 200, 150, Brush(size=10, color=(255, 0, 0)), object())
    assert v.last_update_rects, "the dab scheduled no repaint"
    r = v.last_update_rects[-1]
    centre = v.to_widget(QPointF(200, 150)).toPoint()
    assert r.contains(centre)
    assert r.width() <= 20 and r.height() <= 20
    assert r.width() * r.height() < v.width() * v.height() / 500
    count = v.paint_count
    v.repaint(r)
    assert v.paint_count == count + 1
    # the cache got the new pixels
    shown = qimage_to_rgba(v._caches[0].image)
    assert tuple(shown[150, 200, :3]) == (255, 0, 0)


def test_rendered_view_shows_the_document_and_the_overlay(window):
    from canvas.marks import Arrow

    doc = window.document
    marks = next(lyr for lyr in doc.layers if lyr.kind == "annotation")
    doc.add_mark(marks.id, Arrow(start=(50, 100), end=(250, 100), width=8))
    img = qimage_to_rgba(window.view.grab().toImage())
    # canvas (150, 100) is at widget (170, 120); red over white
    px = img[120, 170]
    assert px[0] > 200 and px[1] < 80
    assert tuple(img[300, 300, :3]) == (255, 255, 255)


def test_zoomed_out_view_uses_smooth_mip_levels(window):
    v = window.view
    doc = window.document
    bg = doc.layers[0]
    stripes = np.zeros((doc.height, doc.width, 4), np.uint8)
    stripes[:, ::2] = (0, 0, 0, 255)
    stripes[:, 1::2] = (255, 255, 255, 255)
    doc.set_layer_pixels(bg.id, stripes)
    v.set_view(0.125, QPointF(10, 10))
    img = qimage_to_rgba(v.grab().toImage())
    mid = img[10 + 40, 10 + 60, :3].astype(int)
    assert np.all(np.abs(mid - 127) < 30), mid  # averaged grey, not aliased black or white


def test_selection_outline_path():
    mask = np.zeros((50, 60), np.uint8)
    mask[10:20, 5:25] = 255
    path = selection_path(mask)
    r = path.boundingRect()
    assert (r.left(), r.top(), r.right(), r.bottom()) == pytest.approx((5.5, 10.5, 24.5, 19.5), abs=1)
    assert selection_path(None).isEmpty()
