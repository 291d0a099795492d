"""Autosave snapshots and the recovery dialog after a simulated crash."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from canvas.layers import PieceLayer
from canvas.recovery import RecoveryStore
from desktop.controllers.files import default_document
from desktop.dialogs.recovery import RecoveryDialog
from tests.desktop.conftest import photo


def crashed_session(folder):
    """A document with unsaved work snapshotted by an earlier run that never closed."""
    doc = default_document(320, 240)
    doc.add_layer(PieceLayer.at(photo(), 20, 30, "Bus"))
    store = RecoveryStore(folder, session="crashed")
    store.snapshot(doc, title="Untitled").result()
    store.close()
    return doc


def answer_dialog(button_name: str):
    def click():
        dlg = QApplication.activeModalWidget()
        assert isinstance(dlg, RecoveryDialog), dlg
        getattr(dlg, button_name).click()

    QTimer.singleShot(0, click)


def test_recovery_dialog_at_start_restores_the_snapshot(make_window, recovery_dir):
    lost = crashed_session(recovery_dir)
    w = make_window()
    answer_dialog("restore_button")
    assert w.recovery.check_recovery()
    assert w.document.content_equal(lost)
    assert w.is_modified() and w.isWindowModified()
    assert [lyr.name for lyr in w.layers_panel.document.layers] == ["Background", "Marks", "Bus"]


def test_recovery_discard_deletes_the_snapshots(make_window, recovery_dir):
    crashed_session(recovery_dir)
    w = make_window()
    answer_dialog("discard_button")
    assert not w.recovery.check_recovery()
    assert RecoveryStore(recovery_dir).list() == []


def test_recovery_not_now_keeps_them(make_window, recovery_dir):
    crashed_session(recovery_dir)
    w = make_window()
    answer_dialog("later_button")
    assert not w.recovery.check_recovery()
    assert len(RecoveryStore(recovery_dir).list()) == 1


def test_no_snapshot_no_dialog(make_window, monkeypatch):
    w = make_window()
    monkeypatch.setattr(w.recovery, "ask_recovery", lambda e: (_ for _ in ()).throw(AssertionError("asked")))
    assert not w.recovery.check_recovery()


def test_autosave_writes_a_snapshot_only_when_modified_and_a_clean_close_discards_it(make_window, recovery_dir):
    w = make_window()
    assert w.recovery.autosave() is None  # nothing to save
    w.select_all_action.trigger()
    fut = w.recovery.autosave()
    entry = fut.result()
    assert entry is not None and entry.path.exists()
    assert w.recovery.autosave() is None  # no change since the last snapshot
    restored = RecoveryStore(recovery_dir).restore(entry)
    assert np.array_equal(restored.selection, w.document.selection)
    w.files.ask_unsaved = lambda: "discard"
    assert w.close()
    assert RecoveryStore(recovery_dir).list() == []


def test_autosave_timer_runs(make_window, qtbot, recovery_dir):
    w = make_window(autosave_ms=50)
    w.select_all_action.trigger()
    qtbot.waitUntil(lambda: len(RecoveryStore(recovery_dir).list()) == 1, timeout=3000)
