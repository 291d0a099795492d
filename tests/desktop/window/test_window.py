"""The window as a whole: start state, docks, notifier, settings, undo shortcuts."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from canvas.errors import ImageImportError
from desktop.notifier import Notifier
from desktop.panels.history import HistoryPanel
from desktop.panels.layers import LayersPanel


def test_starts_with_an_empty_document(window):
    doc = window.document
    assert doc.size == (1024, 768)
    assert [(lyr.name, lyr.kind, lyr.role) for lyr in doc.layers] == [
        ("Background", "pixel", "content"), ("Marks", "annotation", "annotation")]
    assert not window.is_modified()
    assert window.windowTitle() == "Untitled[*] — Akapen"
    assert isinstance(window.layers_dock.widget(), LayersPanel)
    assert isinstance(window.history_dock.widget(), HistoryPanel)
    assert window.edit_dock.widget() is window.edit_panel
    assert window.readout.size_label.text() == "1024 × 768 px"


def test_undo_redo_shortcuts_and_history(window):
    doc = window.document
    window.view.setFocus()
    window.select_all_action.trigger()
    assert window.isWindowModified()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc.selection is None and not window.isWindowModified()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert doc.selection is not None
    doc.undo()
    QTest.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert doc.selection is not None
    assert window.history_panel.rows()[-1] == "Select all"


def test_new_document_replaces_the_panels_document(window, monkeypatch):
    from desktop.controllers.files import default_document

    window.set_document(default_document(200, 100))
    assert window.layers_panel.document is window.document
    assert window.history_panel.document is window.document
    assert window.readout.size_label.text() == "200 × 100 px"


def test_notifier_shows_typed_errors_as_their_text_and_others_briefly(window, caplog):
    n = window.notifier
    n.exception(ImageImportError("photo.png: not an image Akapen can read"))
    assert n.history[-1] == ("error", "photo.png: not an image Akapen can read")
    assert window.banner.text() == "photo.png: not an image Akapen can read"
    n.exception(ZeroDivisionError("boom"))
    level, text = n.history[-1]
    assert level == "warning" and "ZeroDivisionError" in text and "log" in text
    assert any("unexpected error" in r.message for r in caplog.records)


def test_notifier_is_the_excepthook_for_the_gui_and_threads(qtbot):
    import sys

    n = Notifier()
    n.install()
    try:
        assert sys.excepthook == n._sys_hook
        try:
            raise ImageImportError("bad.png: damaged")
        except ImageImportError:
            sys.excepthook(*sys.exc_info())
        assert n.history[-1] == ("error", "bad.png: damaged")

        def worker():
            raise RuntimeError("worker died")

        t = threading.Thread(target=worker, name="job-worker")
        t.start()
        t.join()
        qtbot.waitUntil(lambda: any("worker died" in text for _l, text in n.history), timeout=2000)
    finally:
        n.uninstall()
    assert sys.excepthook is sys.__excepthook__ or sys.excepthook != n._sys_hook


def test_settings_persist_tool_options_tool_and_layout(make_window, settings):
    w = make_window()
    w.options.set(brush_size=77, mark_width=9)
    w.set_tool("ellipse")
    w.close()
    w2 = make_window()
    assert w2.options.brush_size == 77 and w2.options.mark_width == 9
    assert w2.view.tool.name == "ellipse"
    assert w2.options_toolbar.size_spin.value() == 77
    assert settings.window_state() is not None


def test_status_bar_follows_the_cursor(window):
    from tests.desktop.conftest import send_mouse

    send_mouse(window.view, "move", (12.5, 34.5), buttons=Qt.MouseButton.NoButton)
    assert window.readout.pos_label.text() == "12, 34 px"


def test_run_app_opens_files_and_exits(tmp_path, monkeypatch, qtbot):
    """run_app with files: the first opens, the next become pieces; the loop is quit at once."""
    from PIL import Image
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop import app as app_mod
    from desktop.window import MainWindow

    a = tmp_path / "a.png"
    b = tmp_path / "b.png"
    Image.fromarray(np.full((40, 60, 4), 200, np.uint8)).save(a)
    Image.fromarray(np.full((10, 10, 4), 50, np.uint8)).save(b)
    seen = {}

    def stop():
        w = next(x for x in QApplication.topLevelWidgets() if isinstance(x, MainWindow) and x.isVisible())
        seen["layers"] = [lyr.kind for lyr in w.document.layers]
        seen["size"] = w.document.size
        w.files.ask_unsaved = lambda: "discard"
        w.close()
        QApplication.instance().quit()

    QTimer.singleShot(300, stop)
    monkeypatch.setattr(QApplication, "exec", lambda *a: QApplication.instance().processEvents() or _spin())

    def _spin():
        import time

        end = time.time() + 3
        while "size" not in seen and time.time() < end:
            QApplication.instance().processEvents()
            time.sleep(0.01)
        return 0

    monkeypatch.setattr(app_mod, "_log_file", lambda: None)
    rc = app_mod.run_app([str(a), str(b)], recovery_folder=str(tmp_path / "rec"))
    assert rc == 0
    assert seen["size"] == (60, 40)
    assert seen["layers"] == ["pixel", "piece", "annotation"]  # pieces go above the active layer


def test_help_lists_every_menu_shortcut_and_filters(window, qtbot):
    from PySide6.QtGui import QKeySequence

    from desktop.dialogs.help import ShortcutsDialog, about_text

    window.shortcuts_action.trigger()
    dlg = window._shortcuts_dialog
    assert isinstance(dlg, ShortcutsDialog) and dlg.isVisible()
    rows = dlg.visible_rows()
    native = QKeySequence.SequenceFormat.NativeText
    # every action in the menus that has a shortcut is listed with its keys
    for a in (window.copy_merged_action, window.undo_action, window.tool_actions["arrow"], window.fit_action):
        keys = a.shortcut().toString(native)
        assert keys and any(r[1] == a.text().replace("&", "") and keys in r[2] for r in rows), a.text()
    assert ("Edit", "Copy merged", "Ctrl+Shift+C") in rows
    assert any(r[0] == "Edit panel" and r[1] == "Run the edit" and r[2] == "Ctrl+Return" for r in rows)
    assert any(r[0] == "Canvas" and r[1] == "Pan" for r in rows)  # and the gestures
    dlg.filter.setText("copy")
    shown = dlg.visible_rows()
    assert shown and all("copy" in " ".join(r).lower() for r in shown) and len(shown) < len(rows)
    dlg.close()
    assert "Akapen" in about_text() and "Apache-2.0" in about_text()


def test_the_blank_starting_canvas_says_what_to_do_until_it_is_used(make_window):
    from tests.desktop.conftest import drag, photo

    window = make_window()
    text = window.view.welcome
    assert "Drop a photo" in text and "Ctrl+O" in text
    assert "P pen" in text and "A arrow" in text and "O ellipse" in text  # the tools' own keys
    centre = window.view.to_widget(QPointF(window.document.width / 2, window.document.height / 2)).toPoint()
    img = window.view.grab().toImage()
    shown = {img.pixelColor(centre.x() + dx, centre.y() + dy).rgb() for dx in range(-200, 200, 3)
             for dy in range(-40, 40, 3)}
    assert len(shown) > 2  # words drawn over the white canvas
    drag(window.view, [(30, 30), (60, 40)])  # the first brush stroke
    assert window.view.welcome == ""
    # a document opened or passed in never shows it
    from desktop.controllers.files import default_document

    assert make_window(default_document(image=photo(80, 60))).view.welcome == ""
