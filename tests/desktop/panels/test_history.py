"""The undo history dock: rows mirror the command stack; clicking a row travels to it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette

from canvas.document import Document
from canvas.geometry import Rect
from desktop.bridge import DocumentBridge
from desktop.panels.history import OLDEST_KEPT, ORIGINAL, HistoryPanel


def build_doc(**kw) -> Document:
    doc = Document(64, 64, **kw)
    a = doc.new_pixel_layer("A")
    doc.new_annotation_layer("Marks")
    doc.set_layer_props(a.id, name="Photo")
    doc.set_layer_props(a.id, blend="multiply")
    return doc


@pytest.fixture
def doc():
    return build_doc()


@pytest.fixture
def panel(qtbot, bridge):
    p = HistoryPanel(bridge)
    qtbot.addWidget(p)
    p.resize(240, 300)
    p.show()
    qtbot.waitExposed(p)
    return p


def texts(panel) -> list[str]:
    return [panel.list.item(i).text() for i in range(panel.list.count())]


def click(qtbot, panel, row: int) -> None:
    rect = panel.list.visualItemRect(panel.list.item(row))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def is_greyed(panel, row: int) -> bool:
    item = panel.list.item(row)
    grey = panel.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    return item.font().italic() and item.foreground().color() == grey


def test_rows_mirror_the_stack(panel, doc):
    assert texts(panel) == [ORIGINAL, "Add A", "Add Marks", "Rename A", "Blend mode Photo"]
    assert panel.list.currentRow() == 4
    assert not any(is_greyed(panel, r) for r in range(5))


def test_undo_elsewhere_greys_the_undone_rows(panel, doc):
    doc.undo()
    doc.undo()
    assert texts(panel) == [ORIGINAL, "Add A", "Add Marks", "Rename A", "Blend mode Photo"]
    assert panel.list.currentRow() == 2
    assert [is_greyed(panel, r) for r in range(5)] == [False, False, False, True, True]
    doc.redo()
    assert panel.list.currentRow() == 3
    assert [is_greyed(panel, r) for r in range(5)] == [False, False, False, False, True]


def test_click_a_row_undoes_to_it_and_a_greyed_row_redoes(panel, doc, qtbot):
    click(qtbot, panel, 1)  # after "Add A"
    assert doc.history.index == 1
    assert [lyr.name for lyr in doc.layers] == ["A"]
    assert doc.layers[0].blend == "normal"
    assert panel.list.currentRow() == 1
    assert [is_greyed(panel, r) for r in range(5)] == [False, False, True, True, True]
    click(qtbot, panel, 4)  # redo everything
    assert doc.history.index == 4
    assert [lyr.name for lyr in doc.layers] == ["Photo", "Marks"]
    assert doc.layers[0].blend == "multiply"
    click(qtbot, panel, 0)  # the original: empty document
    assert doc.layers == () and not doc.history.can_undo
    assert not doc.modified
    assert panel.list.currentRow() == 0


def test_keyboard_moves_through_history(panel, doc, qtbot):
    panel.list.setFocus()
    qtbot.keyClick(panel.list, Qt.Key.Key_Up)
    assert doc.history.index == 3 and doc.layers[0].blend == "normal"
    qtbot.keyClick(panel.list, Qt.Key.Key_Home)
    assert doc.history.index == 0


def test_new_step_after_undo_drops_the_redo_rows(panel, doc, qtbot):
    click(qtbot, panel, 2)
    doc.new_pixel_layer("B")
    assert texts(panel) == [ORIGINAL, "Add A", "Add Marks", "Add B"]
    assert panel.list.currentRow() == 3
    assert not any(is_greyed(panel, r) for r in range(4))


def test_a_brush_stroke_is_one_row_and_rows_are_updated_in_place(panel, doc):
    layer = doc.layers[0]
    items_before = [panel.list.item(i) for i in range(panel.list.count())]
    stroke = object()
    patch = np.full((4, 4, 4), 200, np.uint8)
    for i in range(20):
        doc.paint(layer.id, Rect(i, i, 4, 4), patch, stroke)
    assert texts(panel)[-1] == "Paint" and panel.list.count() == 6
    # the existing rows are the same items (updated in place, not rebuilt per dab)
    assert [panel.list.item(i) for i in range(5)] == items_before


def test_dropped_steps_relabel_the_first_row(qtbot):
    doc = Document(16, 16)
    doc.history.max_steps = 3
    br = DocumentBridge(doc)
    p = HistoryPanel(br)
    qtbot.addWidget(p)
    for i in range(5):
        doc.new_pixel_layer(f"L{i}")
    assert texts(p) == [OLDEST_KEPT, "Add L2", "Add L3", "Add L4"]
    p.go_to(0)
    assert [lyr.name for lyr in doc.layers] == ["L0", "L1"]
    br.close()


def test_set_bridge_switches_documents(panel, doc, qtbot):
    other = Document(8, 8)
    other.new_pixel_layer("X")
    br2 = DocumentBridge(other)
    panel.set_bridge(br2)
    assert texts(panel) == [ORIGINAL, "Add X"]
    doc.undo()  # the old document no longer drives the panel
    assert texts(panel) == [ORIGINAL, "Add X"] and panel.list.currentRow() == 1
    click(qtbot, panel, 0)
    assert other.layers == () and len(doc.layers) == 2
    br2.close()
