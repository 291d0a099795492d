"""Tools driven with real mouse events on the canvas view."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Transform
from canvas.marks import RED, Arrow, Ellipse, Rectangle, Stroke, TextLabel
from tests.desktop.conftest import drag, photo, send_mouse


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


def test_brush_stroke_is_one_undo_step_and_undo_restores_exact_pixels(window):
    doc = window.document
    before = doc.render()
    bg = next(lyr for lyr in doc.layers if isinstance(lyr, PixelLayer))
    window.bridge.set_active(bg.id)
    window.set_tool("brush")
    window.options.set(brush_size=12, brush_color=(200, 10, 10))
    n = len(doc.history.labels()[0])
    drag(window.view, [(50, 50), (80, 60), (120, 90), (160, 95)])
    after = doc.render()
    assert not np.array_equal(before, after)
    assert tuple(after[60, 80, :3]) == pytest.approx((200, 10, 10), abs=2)
    assert len(doc.history.labels()[0]) == n + 1
    window.undo_action.trigger()
    assert np.array_equal(doc.render(), before)
    window.redo_action.trigger()
    assert np.array_equal(doc.render(), after)


def test_eraser_erases_and_brush_on_annotation_layer_only_hints(window):
    doc = window.document
    window.bridge.set_active(marks_layer(doc).id)
    window.set_tool("brush")
    before = doc.render()
    drag(window.view, [(50, 50), (80, 80)])
    assert np.array_equal(doc.render(), before)
    assert "pixel layers" in window.statusBar().currentMessage()
    bg = doc.layers[0]
    window.bridge.set_active(bg.id)
    window.set_tool("eraser")
    drag(window.view, [(50, 50), (80, 80)])
    assert bg.pixels[65, 65, 3] == 0


def test_selecting_a_layer_picks_a_tool_that_works_on_it(window):
    doc = window.document
    window.set_tool("brush")
    piece = doc.add_layer(PieceLayer.at(photo(), 10, 10, "Piece"))
    assert window.bridge.active_id == piece.id
    assert window.view.tool.name == "move"
    window.bridge.set_active(doc.layers[0].id)
    assert window.view.tool.name == "brush"
    window.bridge.set_active(marks_layer(doc).id)
    assert window.view.tool.name in ("arrow", "pen", "ellipse", "rectangle", "text")


def add_piece(window, x=100, y=100, w=64, h=48):
    piece = window.document.add_layer(PieceLayer.at(photo(w, h), x, y, "Piece"))
    return piece


def test_move_then_rotate_a_piece_and_undo_back_to_the_exact_pixels(window):
    doc = window.document
    piece = add_piece(window)
    start = doc.render()
    window.set_tool("move")
    view = window.view
    # drag the middle of the piece by (+40, +25)
    drag(view, [(132, 124), (150, 130), (172, 149)])
    assert piece.transform.cx == pytest.approx(132 + 40) and piece.transform.cy == pytest.approx(124 + 25)
    # rotate with the round handle above the top edge
    corners = window.tools["move"].corners(piece)
    top = ((corners[0].x() + corners[1].x()) / 2, (corners[0].y() + corners[1].y()) / 2 - 28)
    tf = piece.transform
    drag(view, [top, (top[0] + 20, top[1] + 5), (tf.cx + 60, tf.cy)])
    assert piece.transform.rotation == pytest.approx(90, abs=1)
    assert doc.history.undo_label.startswith("Rotate")
    rotated = doc.render()
    assert not np.array_equal(rotated, start)
    doc.undo()
    doc.undo()
    assert piece.transform == Transform(cx=132, cy=124)
    assert np.array_equal(doc.render(), start)


def test_corner_handle_scales_from_the_opposite_corner_alt_about_the_centre_shift_keeps_the_aspect(window):
    piece = add_piece(window, 100, 100, 80, 40)  # (100, 100)–(180, 140), centre (140, 120)
    window.set_tool("move")
    # bottom-right corner dragged to (220, 150): the top-left corner stays at (100, 100)
    drag(window.view, [(180, 140), (200, 150), (220, 150)])
    tf = piece.transform
    assert tf.sx == pytest.approx(120 / 80) and tf.sy == pytest.approx(50 / 40)
    assert (tf.cx, tf.cy) == pytest.approx((160, 125))
    assert piece.bounds().x == 100 and piece.bounds().y == 100
    assert window.document.history.undo_label.startswith("Scale")
    window.document.undo()
    # Alt: about the centre (half width 40 → 80)
    drag(window.view, [(180, 140), (220, 150)], modifiers=Qt.KeyboardModifier.AltModifier)
    tf = piece.transform
    assert tf.sx == pytest.approx((220 - 140) / 40) and tf.sy == pytest.approx((150 - 120) / 20)
    assert (tf.cx, tf.cy) == pytest.approx((140, 120))
    window.document.undo()
    drag(window.view, [(180, 140), (220, 150)], modifiers=Qt.KeyboardModifier.ShiftModifier)
    tf = piece.transform
    assert tf.sx == pytest.approx(tf.sy) and tf.sx > 1.2
    top_left = window.tools["move"].corners(piece)[0]
    assert (top_left.x(), top_left.y()) == pytest.approx((100, 100))


def test_edge_handles_scale_one_side_and_keep_the_opposite_edge(window):
    piece = add_piece(window, 100, 100, 80, 40)
    tool = window.tools["move"]
    window.set_tool("move")
    # right edge midpoint (180, 120) → (200, 130): only the width changes, the left edge stays
    drag(window.view, [(180, 120), (200, 130)])
    tf = piece.transform
    assert tf.sx == pytest.approx(100 / 80) and tf.sy == pytest.approx(1)
    assert (tf.cx, tf.cy) == pytest.approx((150, 120))
    window.document.undo()
    # top edge midpoint (140, 100) → up to (150, 80): the bottom stays at 140
    drag(window.view, [(140, 100), (150, 80)])
    tf = piece.transform
    assert tf.sx == pytest.approx(1) and tf.sy == pytest.approx(60 / 40)
    assert (tf.cx, tf.cy) == pytest.approx((140, 110))
    window.document.undo()
    # a rotated, flipped piece: the left edge (on screen: wherever it went) keeps its place
    window.document.set_transform(piece.id, Transform(cx=140, cy=120, rotation=90, flip_h=True))
    pts = tool.corners(piece)
    mids = [((pts[i].x() + pts[(i + 1) % 4].x()) / 2, (pts[i].y() + pts[(i + 1) % 4].y()) / 2) for i in range(4)]
    handle, opposite = mids[1], mids[3]
    out = (handle[0] + 0.25 * (handle[0] - opposite[0]), handle[1] + 0.25 * (handle[1] - opposite[1]))
    drag(window.view, [handle, out])
    tf = piece.transform
    assert tf.sx == pytest.approx(1.25) and tf.sy == pytest.approx(1) and tf.rotation == 90 and tf.flip_h
    pts = tool.corners(piece)
    still = ((pts[3].x() + pts[0].x()) / 2, (pts[3].y() + pts[0].y()) / 2)
    assert still == pytest.approx(opposite, abs=1e-6)
    # dragging past the opposite edge stops at one pixel, it never turns inside out
    window.document.undo()
    drag(window.view, [handle, (opposite[0] - 200 * (handle[0] - opposite[0]), opposite[1])])
    assert 0 < piece.transform.sx <= 1.5 / 80


def test_flip_and_reset_actions(window):
    piece = add_piece(window)
    window.flip_h_action.trigger()
    assert piece.transform.flip_h
    window.flip_v_action.trigger()
    assert piece.transform.flip_v
    window.reset_tf_action.trigger()
    assert not piece.transform.flip_h and not piece.transform.flip_v


def test_move_tool_click_picks_the_piece_under_the_cursor(window):
    a = add_piece(window, 10, 10)
    b = add_piece(window, 300, 300)
    window.set_tool("move")
    assert window.bridge.active_id == b.id
    drag(window.view, [(20, 20), (30, 30)])
    assert window.bridge.active_id == a.id
    assert a.transform.cx == pytest.approx(10 + 32 + 10)


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
    monkeypatch.setattr(window, "ask_color", lambda *a: __import__("PySide6.QtGui").QtGui.QColor(0, 0, 255))
    window.choose_mark_color()
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


def test_rectangle_and_lasso_selection_with_add_and_subtract(window):
    doc = window.document
    view = window.view
    window.set_tool("rect_select")
    drag(view, [(10, 10), (50, 40)])
    assert doc.selection is not None and doc.selection[10:40, 10:50].all() and doc.selection.sum() == 255 * 40 * 30
    drag(view, [(100, 100), (120, 120)], modifiers=Qt.KeyboardModifier.ShiftModifier)
    assert doc.selection[110, 110] == 255 and doc.selection[20, 20] == 255
    drag(view, [(10, 10), (30, 40)], modifiers=Qt.KeyboardModifier.AltModifier)
    assert doc.selection[20, 20] == 0 and doc.selection[20, 40] == 255
    window.set_tool("lasso")
    drag(view, [(300, 300), (400, 300), (400, 400), (300, 400)])
    assert doc.selection[350, 350] == 255 and doc.selection[20, 40] == 0
    window.invert_action.trigger()
    assert doc.selection[350, 350] == 0 and doc.selection[5, 5] == 255
    window.select_none_action.trigger()
    assert doc.selection is None
    window.select_all_action.trigger()
    assert doc.selection.all()
    # a plain click selects nothing
    window.set_tool("rect_select")
    drag(view, [(5, 5), (5, 5)])
    assert doc.selection is None


def test_eyedropper_sets_the_brush_colour_from_the_composite(window):
    doc = window.document
    piece = add_piece(window, 100, 100)
    expected = tuple(int(v) for v in doc.render()[110, 120, :3])
    assert piece is not None
    window.set_tool("eyedropper")
    send_mouse(window.view, "press", (120.5, 110.5))
    send_mouse(window.view, "release", (120.5, 110.5))
    assert window.options.brush_color == expected


def test_locked_layer_reports_an_error_instead_of_painting(window):
    doc = window.document
    bg = doc.layers[0]
    doc.set_layer_props(bg.id, locked=True)
    window.bridge.set_active(bg.id)
    window.set_tool("brush")
    before = doc.render()
    drag(window.view, [(50, 50), (60, 60)])
    assert np.array_equal(doc.render(), before)
    assert any("locked" in text for _lvl, text in window.notifier.history)


def test_tool_shortcuts_switch_tools(window, qtbot):
    from PySide6.QtTest import QTest

    window.view.setFocus()
    for name, tool in window.tools.items():
        if name == "move":
            continue
        QTest.keyClick(window.view, tool.shortcut)
        assert window.view.tool is tool, name


def test_brush_paints_only_inside_the_selection(window):
    doc = window.document
    bg = doc.layers[0]
    mask = np.zeros((doc.height, doc.width), np.uint8)
    mask[:, :100] = 255
    doc.set_selection(mask)
    window.bridge.set_active(bg.id)
    window.set_tool("brush")
    window.options.set(brush_size=20, brush_color=(0, 0, 255), brush_hardness=1.0)
    drag(window.view, [(60, 50), (140, 50)])
    assert tuple(bg.pixels[50, 80, :3]) == (0, 0, 255)
    assert tuple(bg.pixels[50, 120, :3]) == (255, 255, 255)
    assert len([lbl for lbl in doc.history.labels()[0] if lbl == "Brush stroke"]) == 1
