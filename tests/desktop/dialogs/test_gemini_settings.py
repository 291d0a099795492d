"""Edit › Gemini API key…: the key saved readable by its owner only, the model, and nano banana becoming
available in the edit panel."""

from __future__ import annotations

import json
import os
import stat

import pytest
from PySide6.QtCore import Qt

from desktop.dialogs.gemini_settings import GeminiKeyDialog
from inference import registry
from inference.gemini import keys

KEY = "AIza-dialog-key-123456"


@pytest.fixture
def no_env(monkeypatch):
    for name in ("GEMINI_API_KEY", "AKAPEN_GEMINI_MODEL", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    yield
    made = registry.built().get("nano-banana")
    if made is not None:
        made.set_model(None)


def make_dialog(qtbot):
    dlg = GeminiKeyDialog()
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_a_key_typed_in_is_saved_for_the_owner_only_and_makes_the_backend_available(qtbot, no_env):
    assert not registry.info("nano-banana").available
    dlg = make_dialog(qtbot)
    assert dlg.key.echoMode() == dlg.key.EchoMode.Password and "No key is stored" in dlg.source.text()
    dlg.key.setText(KEY)
    dlg.model.setCurrentIndex(dlg.model.findData("gemini-3-pro-image-preview"))
    assert dlg.apply()
    path = keys.GeminiStore().path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"api_key": KEY, "model": "gemini-3-pro-image-preview"}
    assert dlg.key.text() == ""  # not left on screen
    info = registry.info("nano-banana")
    assert info.available and info.model == "gemini-3-pro-image-preview"
    assert KEY not in repr(registry.get("nano-banana"))


def test_a_malformed_key_is_refused_and_nothing_is_saved(qtbot, no_env):
    dlg = make_dialog(qtbot)
    dlg.key.setText("two words")
    assert not dlg.apply()
    assert "printable ASCII" in dlg.error.text() and not dlg.error.isHidden()
    assert not keys.GeminiStore().path.exists()


def test_removing_the_key_makes_the_backend_unavailable_again(qtbot, no_env):
    keys.GeminiStore().save(keys.GeminiSettings(keys.Secret(KEY)))
    assert registry.info("nano-banana").available
    dlg = make_dialog(qtbot)
    assert "A key is stored" in dlg.source.text() and dlg.remove_button.isEnabled()
    dlg.remove_button.click()
    assert dlg.apply()
    assert json.loads(keys.GeminiStore().path.read_text())["api_key"] == ""
    info = registry.info("nano-banana")
    assert not info.available and keys.KEY_URL in info.reason


def test_the_dialog_says_when_the_environment_key_is_used(qtbot, no_env, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    dlg = make_dialog(qtbot)
    assert "GEMINI_API_KEY is set" in dlg.source.text()


def test_the_edit_menu_has_it_and_saving_lists_nano_banana_as_available(qtbot, no_env, make_window):
    window = make_window()
    edit_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    assert window.gemini_key_action in edit_menu.actions()
    panel = window.edit_panel
    combo = panel.backend_combo
    row = combo.findData("nano-banana")
    assert row >= 0 and not combo.model().item(row).isEnabled()
    assert keys.KEY_URL in combo.itemData(row, Qt.ItemDataRole.ToolTipRole)
    dlg = GeminiKeyDialog(parent=window)
    dlg.key.setText(KEY)
    assert panel.edit_gemini_key(dlg)
    assert combo.model().item(combo.findData("nano-banana")).isEnabled()
