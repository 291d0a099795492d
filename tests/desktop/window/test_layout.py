"""The window at its default size (1400 × 900), looked at as a user sees it: the instruction box
shows all its lines, Run, the results strip and Insert as layer are in sight without scrolling, the
chosen result's thumbnail keeps its true colours (a frame marks it, not a tint), and the shortcut
list cuts no entry short."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication, QStyle

from inference import registry
from inference.backend import Backend, Capabilities
from inference.presets import presets

RED, TEAL = (200, 40, 40), (20, 150, 140)


class TwoColours(Backend):
    """Two variations, each one flat colour over the whole request."""

    name = "test-two-colours"
    label = "Two colours (test)"
    capabilities = Capabilities(reads_instruction=True, max_variations=2)

    def edit(self, request, reporter):
        out = []
        for colour in (RED, TEAL):
            img = np.empty_like(request.image)
            img[..., :3] = colour
            img[..., 3] = 255
            out.append(img)
        return out, [1, 2], []


@pytest.fixture
def big_window(make_window, qtbot):
    w = make_window()
    w.resize(1400, 900)
    qtbot.waitUntil(lambda: w.width() == 1400 and w.height() == 900)
    QApplication.processEvents()
    return w


def _inside(widget, area) -> bool:
    """Whether all of ``widget`` lies inside ``area``'s rectangle (both shown)."""
    rect = QRect(widget.mapTo(area, QPoint(0, 0)), widget.size())
    return widget.isVisible() and area.rect().contains(rect)


def _settle(qtbot, widget) -> None:
    QApplication.processEvents()
    qtbot.wait(10)  # the text box fits itself to its text once it knows its width
    QApplication.processEvents()


def test_the_instruction_box_shows_every_line_of_every_preset(big_window, qtbot):
    panel = big_window.edit_panel
    box = panel.instruction
    viewport = panel.scroll.viewport()
    for p in presets():
        panel.preset_combo.setCurrentIndex(panel.preset_combo.findData(p.id))
        _settle(qtbot, box)
        assert box.viewport().height() >= box.text_height(), p.id
        assert box.verticalScrollBar().maximum() == 0, p.id  # nothing to scroll to: no line is cut off
        assert _inside(box, viewport), p.id  # and the box itself is in sight at launch, unscrolled
    assert panel.scroll.verticalScrollBar().value() == 0


def test_the_instruction_box_grows_with_its_text_up_to_ten_lines(big_window, qtbot):
    box = big_window.edit_panel.instruction
    box.setPlainText("one line")
    _settle(qtbot, box)
    three = box.height()  # it never shrinks below three lines
    box.setPlainText("\n".join(f"line {i}" for i in range(6)))
    _settle(qtbot, box)
    assert box.height() > three and box.verticalScrollBar().maximum() == 0
    assert box.viewport().height() >= box.text_height()
    box.setPlainText("\n".join(f"line {i}" for i in range(40)))  # past ten lines it scrolls
    _settle(qtbot, box)
    assert box.verticalScrollBar().maximum() > 0
    assert box.height() < 12 * box.fontMetrics().lineSpacing() + 2 * box.frameWidth() + 10


def test_run_the_results_and_insert_are_in_sight_without_scrolling(big_window):
    w = big_window
    panel = w.edit_panel
    dock = w.edit_dock
    for widget in (panel.run_button, panel.progress, panel.results, panel.use_button):
        assert _inside(widget, dock), widget
        assert _inside(widget, w), widget
        assert not panel.scroll.isAncestorOf(widget)  # they stay put while the choices above scroll
    # the rarely changed settings are folded away under one line, and open on a click
    section = panel.settings_section
    assert not section.expanded() and not panel.steps.isVisible()
    section.header.click()
    assert section.expanded() and panel.steps.isVisible()
    assert _inside(panel.results, dock) and _inside(panel.use_button, dock)


def test_the_folded_settings_say_what_differs_from_the_defaults(big_window):
    panel = big_window.edit_panel
    section = panel.settings_section
    assert section.header.text() == "Settings"
    assert section.summary.text() == "seed, steps, speed and more"
    panel.variations.setValue(3)
    panel.random_seed.setChecked(False)
    panel.seed.setValue(42)
    assert section.summary.text() == "seed 42, 3 variations"


def test_the_chosen_result_shows_its_true_colours_and_a_frame(big_window, qtbot):
    registry.register(TwoColours.name, TwoColours, replace=True)
    try:
        panel = big_window.edit_panel
        panel.refresh_backends()
        panel.backend_combo.setCurrentIndex(panel.backend_combo.findData(TwoColours.name))
        panel.preset_combo.setCurrentIndex(0)  # a free instruction
        panel.instruction.setPlainText("paint it flat")
        panel.variations.setValue(2)
        assert panel.run() is not None
        qtbot.waitUntil(lambda: panel.results.count() == 2, timeout=20000)
        assert panel.results.currentRow() == 0  # the first is the chosen one
        QApplication.processEvents()
        strip = panel.results
        shot = strip.viewport().grab().toImage()
        highlight = strip.palette().color(strip.palette().ColorRole.Highlight)
        for row, colour in ((0, RED), (1, TEAL)):
            rect = strip.visualItemRect(strip.item(row))
            cx = rect.center().x()
            cy = rect.top() + 4 + 44  # the middle of the 88-pixel icon, under the frame's margin
            for dx in (-6, 0, 6):
                for dy in (-6, 0, 6):
                    px = shot.pixelColor(cx + dx, cy + dy)
                    assert (px.red(), px.green(), px.blue()) == colour, (row, dx, dy)
            edge = shot.pixelColor(rect.left() + 1, rect.center().y())
            framed = abs(edge.red() - highlight.red()) + abs(edge.green() - highlight.green()) \
                + abs(edge.blue() - highlight.blue()) < 60
            assert framed == (row == 0), row  # only the chosen one has the frame
    finally:
        registry.unregister(TwoColours.name)
        big_window.edit_panel.refresh_backends()


def test_no_entry_in_the_shortcut_list_is_cut_short(big_window, qtbot):
    w = big_window
    w.show_shortcuts()
    dlg = w._shortcuts_dialog
    qtbot.waitExposed(dlg)
    QApplication.processEvents()
    table = dlg.table
    fm = table.fontMetrics()
    margin = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    texts = []
    for r in range(table.rowCount()):
        for c in range(3):
            text = table.item(r, c).text()
            texts.append(text)
            room = table.columnWidth(c) - 2 * margin - 1  # (the grid line)
            need = fm.boundingRect(QRect(0, 0, room, 100000), int(Qt.TextFlag.TextWordWrap), text)
            assert need.width() <= room and need.height() <= table.rowHeight(r), (text, room, table.rowHeight(r))
    assert "New piece from selection" in texts
    dlg.close()


def test_a_click_on_the_folded_settings_summary_opens_them(big_window, qtbot):
    panel = big_window.edit_panel
    section = panel.settings_section
    qtbot.mouseClick(section.summary, Qt.MouseButton.LeftButton)
    assert section.expanded() and panel.variations.isVisible()
    qtbot.mouseClick(section.header, Qt.MouseButton.LeftButton)
    assert not section.expanded() and not panel.variations.isVisible()
