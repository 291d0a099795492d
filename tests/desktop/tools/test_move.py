"""The move tool on collage pieces, driven with real mouse events on the canvas view."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from canvas.layers import PieceLayer, Transform
from tests.desktop.conftest import drag, photo


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
