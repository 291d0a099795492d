"""Brush and eraser, driven with real mouse events on the canvas view."""

from __future__ import annotations

import numpy as np
import pytest

from canvas.layers import PixelLayer
from tests.desktop.conftest import drag
from tests.desktop.tools.test_marks import marks_layer


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
