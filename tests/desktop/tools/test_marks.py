"""The red-pen tools and mark selection, driven with real mouse events on the canvas view."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from canvas.layers import AnnotationLayer, PixelLayer
from canvas.marks import RED, Arrow, Ellipse, Rectangle, Stroke, TextLabel
from tests.desktop.conftest import drag, send_mouse


def marks_layer(doc) -> AnnotationLayer:
    return next(lyr for lyr in doc.layers if isinstance(lyr, AnnotationLayer))


def key(view, k, modifiers=Qt.KeyboardModifier.NoModifier):
    from PySide6.QtCore import QEvent

    QApplication.sendEvent(view, QKeyEvent(QEvent.Type.KeyPress, k, modifiers))


def test_arrow_drawn_with_the_mouse_is_an_arrow_mark_with_those_end_points(window):
    window.set_tool("arrow")
    drag(window.view, [(100, 120), (180, 150), (300, 200)])
    doc = window.document
    marks = marks_layer(doc).marks
    assert len(marks) == 1
    arrow = marks[0]
    assert isinstance(arrow, Arrow)
    assert math.dist(arrow.start, (100, 120)) <= 0.5
    assert math.dist(arrow.end, (300, 200)) <= 0.5
    assert arrow.color == RED
    assert doc.history.undo_label == "Add arrow"
    # the mark is rendered into the annotation overlay, never into the content composite
    assert doc.render_annotations()[160, 200, 3] > 0
    assert np.all(doc.render()[160, 200] == 255)


def test_arrow_at_other_zoom_and_pan_lands_at_the_same_canvas_points(window):
    from PySide6.QtCore import QPointF

    window.view.set_view(2.5, QPointF(-130, 37))
    window.set_tool("arrow")
    drag(window.view, [(50.2, 60.4), (80, 90)])
    arrow = marks_layer(window.document).marks[0]
    assert math.dist(arrow.start, (50.2, 60.4)) <= 0.5
    assert math.dist(arrow.end, (80, 90)) <= 0.5


def test_pen_ellipse_rectangle_and_text_make_vector_marks(window, monkeypatch):
    view = window.view
    window.set_tool("pen")
    drag(view, [(10, 10), (20, 14), (30, 30), (40, 32)])
    window.set_tool("ellipse")
    drag(view, [(100, 100), (160, 140)])
    window.set_tool("rectangle")
    drag(view, [(200, 100), (260, 140)], modifiers=Qt.KeyboardModifier.ShiftModifier)
    monkeypatch.setattr(window, "ask_text", lambda *a, **k: "bus here")
    window.set_tool("text")
    send_mouse(view, "press", (300, 300))
    send_mouse(view, "release", (300, 300))
    marks = marks_layer(window.document).marks
    assert [type(m) for m in marks] == [Stroke, Ellipse, Rectangle, TextLabel]
    assert marks[0].points()[0] == pytest.approx((10, 10)) and marks[0].points()[-1] == pytest.approx((40, 32))
    assert marks[1].box() == pytest.approx((100, 100, 160, 140))
    x0, y0, x1, y1 = marks[2].box()
    assert x1 - x0 == pytest.approx(y1 - y0)  # Shift: a square
    assert marks[3].text == "bus here" and marks[3].pos == pytest.approx((300, 300))


def test_a_click_without_drag_adds_no_arrow(window):
    window.set_tool("arrow")
    drag(window.view, [(50, 50), (50.5, 50)])
    assert marks_layer(window.document).marks == []


def test_red_pen_on_a_pixel_layer_uses_the_marks_layer_or_adds_one(make_window):
    from canvas.document import Document

    doc = Document.assemble(200, 100, [PixelLayer(np.full((100, 200, 4), 255, np.uint8), name="Photo")])
    w = make_window(doc)
    w.set_tool("arrow")
    assert isinstance(w.bridge.active_layer(), PixelLayer)
    drag(w.view, [(10, 10), (90, 50)])
    layers = w.document.layers
    assert [lyr.kind for lyr in layers] == ["pixel", "annotation"]
    assert layers[1].name == "Marks" and len(layers[1].marks) == 1
    assert w.bridge.active_id == layers[1].id


def test_mark_select_picks_nearest_moves_recolours_and_deletes(window, monkeypatch):
    doc = window.document
    layer = marks_layer(doc)
    doc.add_mark(layer.id, Arrow(start=(50, 50), end=(150, 50)))
    doc.add_mark(layer.id, Ellipse(p0=(200, 200), p1=(260, 240)))
    window.set_tool("mark_select")
    tool = window.tools["mark_select"]
    drag(window.view, [(100, 53), (110, 63), (120, 73)])
    arrow = layer.marks[0]
    assert tool.selected == (layer.id, arrow.id)
    assert arrow.start == pytest.approx((70, 70)) and arrow.end == pytest.approx((170, 70))
    assert doc.history.undo_label == "Edit arrow"
    monkeypatch.setattr(window.tool_options, "ask_color", lambda *a: __import__("PySide6.QtGui").QtGui.QColor(0, 0, 255))
    window.tool_options.choose_mark_color()
    assert layer.marks[0].color == (0, 0, 255, 255)
    key(window.view, Qt.Key.Key_Delete)
    assert [m.kind for m in layer.marks] == ["ellipse"]
    # clicking inside the ellipse picks it
    send_mouse(window.view, "press", (230, 220))
    send_mouse(window.view, "release", (230, 220))
    assert tool.selected == (layer.id, layer.marks[0].id)


def test_text_labels_are_re_edited_by_clicking_them_with_text_or_double_clicking_with_select(window, monkeypatch):
    doc = window.document
    layer = marks_layer(doc)
    doc.add_mark(layer.id, TextLabel(pos=(100, 100), text="bus here", size=24))
    doc.add_mark(layer.id, Arrow(start=(20, 300), end=(200, 300)))
    asked = []

    def answer(reply):
        monkeypatch.setattr(window, "ask_text", lambda title, label, text="": asked.append(text) or reply)

    # the text tool on a label: its text is offered and changed in place, no second label
    answer("red bus here")
    window.set_tool("text")
    send_mouse(window.view, "press", (110, 110))
    send_mouse(window.view, "release", (110, 110))
    texts = [m for m in layer.marks if isinstance(m, TextLabel)]
    assert asked == ["bus here"] and len(texts) == 1
    assert texts[0].text == "red bus here" and texts[0].pos == (100, 100)
    assert doc.history.undo_label == "Edit text"
    window.undo_action.trigger()
    assert layer.marks[0].text == "bus here"
    # the text tool away from any label still makes a new one
    answer("tree")
    send_mouse(window.view, "press", (400, 400))
    send_mouse(window.view, "release", (400, 400))
    assert [m.text for m in layer.marks if isinstance(m, TextLabel)] == ["bus here", "tree"]
    # Select marks: a double-click on a label edits it; on an arrow it does nothing
    answer("a red bus")
    window.set_tool("mark_select")
    send_mouse(window.view, "press", (105, 105))
    send_mouse(window.view, "release", (105, 105))
    send_mouse(window.view, "double", (105, 105))
    send_mouse(window.view, "release", (105, 105))
    assert layer.marks[0].text == "a red bus"
    n = len(asked)
    send_mouse(window.view, "press", (100, 300))
    send_mouse(window.view, "release", (100, 300))
    send_mouse(window.view, "double", (100, 300))
    assert len(asked) == n and layer.marks[1].kind == "arrow"
    # cancelling keeps the label; emptying it deletes it (one undo brings it back)
    answer(None)
    window.set_tool("text")
    send_mouse(window.view, "press", (105, 105))
    assert layer.marks[0].text == "a red bus"
    answer("  ")
    send_mouse(window.view, "press", (105, 105))
    assert [m.kind for m in layer.marks] == ["arrow", "text"]
    window.undo_action.trigger()
    assert layer.marks[0].text == "a red bus"
    # a locked layer's label is not changed, and the user is told why
    doc.set_layer_props(layer.id, locked=True)
    answer("changed")
    send_mouse(window.view, "press", (105, 105))
    assert layer.marks[0].text == "a red bus"
    assert "locked" in window.statusBar().currentMessage()
