"""Recover unsaved work: offered at start when snapshots of an earlier run exist."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox


class RecoveryDialog(QMessageBox):
    """Offered at start when snapshots of unsaved work from an earlier run exist."""

    def __init__(self, entries, parent=None) -> None:
        super().__init__(parent)
        self.entries = entries
        self.setWindowTitle("Recover unsaved work")
        self.setIcon(QMessageBox.Icon.Question)
        newest = entries[0]
        more = f" ({len(entries) - 1} older snapshot{'s' if len(entries) > 2 else ''} also kept)" if len(entries) > 1 else ""
        self.setText(f"Akapen did not close normally last time.\n\nUnsaved work on “{newest.title}” from "
                     f"{newest.when} can be restored{more}.")
        self.setInformativeText("Restore opens it as an unsaved document. Discard deletes the snapshots. "
                                "Not now keeps them for the next start.")
        self.restore_button = self.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        self.discard_button = self.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        self.later_button = self.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.restore_button)

    def choice(self) -> str:
        b = self.clickedButton()
        if b is self.restore_button:
            return "restore"
        if b is self.discard_button:
            return "discard"
        return "later"
