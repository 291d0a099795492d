"""Unsaved work that survives a crash.

While there are changes the last snapshot lacks, a snapshot of the document goes to the
recovery folder (every ``AUTOSAVE_MS``, written in the background); at start, snapshots left by
an earlier run that did not close normally are offered back; every edit result is saved there
before it is shown. A clean close discards this session's snapshots.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from PySide6.QtCore import QStandardPaths, QTimer

from canvas.errors import CanvasError
from canvas.recovery import RecoveryStore
from desktop.dialogs.recovery import RecoveryDialog
from desktop.headless.edit_request import provenance

AUTOSAVE_MS = 60_000


def recovery_folder_default() -> str:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return os.path.join(base or os.path.expanduser("~/.akapen"), "recovery")


class RecoveryController:
    def __init__(self, window, folder: str | None = None) -> None:
        self.window = window
        self.store = RecoveryStore(folder or recovery_folder_default())
        self.doc_key = uuid.uuid4().hex[:12]  # this document's snapshots in the store
        self.force_modified = False  # a restored snapshot is unsaved work
        self.restored_entries: list = []
        self.edits = 0  # changes to the document so far, and how many the last snapshot holds
        self.snapshot_edits = 0
        self.timer: QTimer | None = None

    def start_autosave(self, interval_ms: int) -> None:
        self.timer = QTimer(self.window)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave)
        self.timer.start()

    # --- following the document -------------------------------------------------------------
    def new_document(self) -> None:
        """The window lets its document go for another: the old one's snapshots are not needed."""
        self.store.discard_document(self.doc_key)
        self.doc_key = uuid.uuid4().hex[:12]
        self.force_modified = False
        self.edits = self.snapshot_edits = 0

    def changed(self) -> None:
        self.edits += 1

    def saved(self) -> None:
        """The document was saved: its snapshots, and any restored ones, are not needed."""
        self.store.discard_document(self.doc_key)
        self.discard_restored()
        self.snapshot_edits = self.edits

    # --- autosave ---------------------------------------------------------------------------
    def autosave(self):
        """Write a recovery snapshot if there are unsaved changes since the last one."""
        window = self.window
        if not window.is_modified() or self.edits == self.snapshot_edits:
            return None
        self.snapshot_edits = self.edits
        try:
            fut = self.store.snapshot(window.document, source_path=window.files.path,
                                      title=window.files.display_name, key=self.doc_key)
        except CanvasError as exc:
            window.notifier.error(str(exc))
            return None

        def done(f) -> None:
            exc = f.exception()
            if exc is not None:
                window.notifier.exception(exc, "writing the recovery snapshot")

        fut.add_done_callback(done)
        return fut

    # --- at start ---------------------------------------------------------------------------
    def ask_recovery(self, entries) -> str:
        dlg = RecoveryDialog(entries, self.window)
        dlg.exec()
        return dlg.choice()

    def check_recovery(self) -> bool:
        """At start: offer snapshots left by an earlier run. True when one was restored."""
        window = self.window
        entries = self.store.list(other_sessions_only=True)
        if self.store.problems:
            more = len(self.store.problems) - 1
            window.notifier.info(self.store.problems[0] + (f" (and {more} more)" if more else ""), 10000)
        if not entries:
            return False
        choice = self.ask_recovery(entries)
        if choice == "discard":
            for e in entries:
                self.store.discard(e)
            return False
        if choice != "restore":
            return False
        entry = entries[0]
        try:
            doc = self.store.restore(entry)
        except CanvasError as exc:
            window.notifier.error(str(exc))
            return False
        source = entry.source_path if entry.source_path and entry.source_path.lower().endswith(".ora") else None
        window.set_document(doc, source, suggested_name=Path(entry.title).stem if not source else None)
        self.force_modified = True
        self.restored_entries = list(entries)
        self.edits += 1  # the restored state is worth a snapshot of this session
        window.update_title()
        window.notifier.info(f"Restored unsaved work on “{entry.title}” from {entry.when}. Save it to keep it.")
        return True

    def discard_restored(self) -> None:
        for e in self.restored_entries:
            self.store.discard(e)
        self.restored_entries = []

    # --- results ----------------------------------------------------------------------------
    def save_result(self, request, result) -> None:
        """Every edit result goes to the recovery folder before it is shown (crash-proof)."""
        x, y, _, _ = result.rect
        for i, image in enumerate(result.images):
            self.store.save_result(image, (request.origin[0] + x, request.origin[1] + y),
                                   {"document": self.window.files.suggested_name, **provenance(request, result, i)})

    # --- closing ----------------------------------------------------------------------------
    def stop_autosave(self) -> None:
        if self.timer is not None:
            self.timer.stop()

    def close(self) -> None:
        """A clean close: the snapshots of this session (and restored ones) are not needed."""
        self.store.discard()
        self.discard_restored()
        self.store.close()
