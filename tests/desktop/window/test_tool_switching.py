"""The window picks tools: by the active layer's kind and by each tool's shortcut key."""

from __future__ import annotations

from canvas.layers import PieceLayer
from tests.desktop.conftest import photo
from tests.desktop.tools.test_marks import marks_layer


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


def test_tool_shortcuts_switch_tools(window, qtbot):
    from PySide6.QtTest import QTest

    window.view.setFocus()
    for name, tool in window.tools.items():
        if name == "move":
            continue
        QTest.keyClick(window.view, tool.shortcut)
        assert window.view.tool is tool, name
