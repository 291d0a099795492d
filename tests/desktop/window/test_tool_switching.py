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


def test_run_undo_and_redo_never_change_the_tool(window, qtbot):
    """Issue 22 #5: after Run the Move tool became the Brush, after Undo the red-pen arrow, after Redo it stayed
    on the red pen with an ordinary layer active. The tool changes when the user picks a layer, not by itself."""
    from PySide6.QtCore import Qt

    doc = window.document
    window.set_tool("move")
    panel = window.edit_panel
    panel.backend_combo.setCurrentIndex(panel.backend_combo.findData("classical"))
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("style-pencil"))
    assert panel.run_button.isEnabled(), panel.why_not_runnable()
    with qtbot.waitSignal(panel.resultInserted, timeout=30000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert window.bridge.active_id == sig.args[0] and window.view.tool.name == "move"
    window.undo()
    assert window.view.tool.name == "move"
    window.redo()
    assert window.view.tool.name == "move"
    window.history_panel.go_to(0)
    assert window.view.tool.name == "move"
    # the user picking a layer still picks a tool that works on it
    window.bridge.set_active(doc.layers[0].id)
    assert window.view.tool.name == "brush"
    window.bridge.set_active(marks_layer(doc).id)
    assert window.view.tool.name in ("arrow", "pen", "ellipse", "rectangle", "text")


def test_a_result_says_where_it_came_from(window, qtbot):
    """Issue 22 #6: the result tooltip read "seed None"; a layer showed no instruction, model or seed."""
    from PySide6.QtCore import Qt

    panel = window.edit_panel
    panel.backend_combo.setCurrentIndex(panel.backend_combo.findData("classical"))
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("style-pencil"))
    with qtbot.waitSignal(panel.resultInserted, timeout=30000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert "seed None" not in panel.results.item(0).toolTip() and "no seed" in panel.results.item(0).toolTip()
    model = window.layers_panel.model
    row = next(r for r in range(model.rowCount()) if model.data(model.index(r, 0), Qt.ItemDataRole.DisplayRole)
               == window.document.layer(sig.args[0]).name)
    tip = model.data(model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    assert "Backend: classical" in tip and "Task: stylise" in tip and "graphite pencil" in tip and "no seed" in tip and "Took " in tip
    assert window.provenance_action.isEnabled()
    text = window.show_provenance()
    assert "Backend: classical" in text and "Task: stylise" in text
    window.bridge.set_active(window.document.layers[0].id)
    assert not window.provenance_action.isEnabled()
