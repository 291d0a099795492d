"""The rectangle and lasso selection tools, driven with real mouse events on the canvas view."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.desktop.conftest import drag


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
