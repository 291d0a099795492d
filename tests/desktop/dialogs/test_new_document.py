"""The new-document dialog: sizes, presets, background and "from an image"."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog

from desktop.dialogs.new_document import NewDocumentDialog


@pytest.fixture
def dialog(qtbot):
    d = NewDocumentDialog()
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def ok_button(d):
    return d.buttons.button(QDialogButtonBox.StandardButton.Ok)


def click_radio(qtbot, radio):
    # a radio button reacts on its indicator and label, not on the empty stretch to its right
    qtbot.mouseClick(radio, Qt.MouseButton.LeftButton, pos=QPoint(8, radio.height() // 2))


def type_into(qtbot, spin, text):
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Tab)


def test_defaults(dialog):
    assert dialog.result_size() == (1920, 1080)
    assert dialog.result_background() == "white"
    assert dialog.result_image_path() is None
    assert dialog.preset_combo.currentText().startswith("Full HD")
    assert (dialog.width_spin.minimum(), dialog.width_spin.maximum()) == (1, 32768)
    assert (dialog.height_spin.minimum(), dialog.height_spin.maximum()) == (1, 32768)
    assert ok_button(dialog).isEnabled()


def test_initial_values_from_the_caller(qtbot):
    d = NewDocumentDialog(size=(640, 480), background="transparent")
    qtbot.addWidget(d)
    assert d.result_size() == (640, 480)
    assert d.result_background() == "transparent"
    assert d.preset_combo.currentText() == "Custom"


def test_typing_a_size_and_swap(dialog, qtbot):
    type_into(qtbot, dialog.width_spin, "3000")
    type_into(qtbot, dialog.height_spin, "1234")
    assert dialog.result_size() == (3000, 1234)
    assert dialog.preset_combo.currentText() == "Custom"
    assert "3000 × 1234" in dialog.info_label.text()
    qtbot.mouseClick(dialog.swap_button, Qt.MouseButton.LeftButton)
    assert dialog.result_size() == (1234, 3000)


def test_sizes_are_clamped_to_the_canvas_limit(dialog, qtbot):
    type_into(qtbot, dialog.width_spin, "99999")  # the validator refuses the fifth digit
    assert 1 <= dialog.result_size()[0] <= 32768


def test_choosing_a_preset(dialog, qtbot):
    i = dialog.preset_combo.findText("A4 portrait @ 150 dpi (1240 × 1754)")
    assert i > 0
    dialog.preset_combo.setFocus()
    # walk there with the keyboard, as a user would without the popup
    while dialog.preset_combo.currentIndex() != i:
        key = Qt.Key.Key_Down if dialog.preset_combo.currentIndex() < i else Qt.Key.Key_Up
        qtbot.keyClick(dialog.preset_combo, key)
    assert dialog.result_size() == (1240, 1754)
    assert dialog.width_spin.value() == 1240 and dialog.height_spin.value() == 1754


def test_transparent_background(dialog, qtbot):
    click_radio(qtbot, dialog.transparent_radio)
    assert dialog.result_background() == "transparent"
    click_radio(qtbot, dialog.white_radio)
    assert dialog.result_background() == "white"


def test_from_an_image_via_the_choose_button(dialog, qtbot, tmp_path, monkeypatch):
    img = QImage(300, 200, QImage.Format.Format_ARGB32)
    img.fill(QColor(10, 20, 30, 128))
    path = tmp_path / "start.png"
    assert img.save(str(path))
    asked = []

    def fake_open(parent, caption, directory, filter_):
        asked.append(caption)
        return str(path), "Images"

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    assert asked
    assert dialog.image_radio.isChecked()
    assert dialog.result_image_path() == str(path)
    assert dialog.result_size() == (300, 200)
    assert not dialog.blank_box.isEnabled()
    assert ok_button(dialog).isEnabled()
    # back to a blank canvas: the typed size counts again and there is no image
    click_radio(qtbot, dialog.blank_radio)
    assert dialog.result_image_path() is None
    assert dialog.result_size() == (1920, 1080)
    assert dialog.blank_box.isEnabled()
    # choosing "From an image" again brings the chosen image back
    click_radio(qtbot, dialog.image_radio)
    assert dialog.result_image_path() == str(path) and dialog.result_size() == (300, 200)


def test_unreadable_image_disables_create(dialog, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert dialog.set_image_path(str(bad)) is False
    assert dialog.result_image_path() is None
    assert not ok_button(dialog).isEnabled()
    assert "broken.png" in dialog.info_label.text()
    assert dialog.set_image_path(str(tmp_path / "missing.png")) is False
    assert "does not exist" in dialog.info_label.text()


def test_create_accepts(dialog, qtbot):
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
