"""Help › Keyboard shortcuts (read from the window's own menus, so it never goes stale) and
Help › About."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# gestures that are not actions: written here, next to the code that reads the actions
GESTURES: tuple[tuple[str, str, str], ...] = (
    ("Canvas", "Pan", "Space + drag, middle-button drag, two-finger scroll"),
    ("Canvas", "Zoom at the cursor", "Wheel"),
    ("Canvas", "Pan sideways", "Shift + wheel"),
    ("Move / transform", "Keep the aspect while scaling; rotate in 15° steps", "Shift"),
    ("Move / transform", "Scale about the centre", "Alt"),
    ("Selections", "Add to / subtract from the selection", "Shift / Alt while selecting"),
    ("Red pen", "Arrow in 45° steps; square or circle", "Shift while drawing"),
    ("Select marks", "Delete the selected mark", "Delete"),
    ("Select marks", "Change a text label", "Double-click"),
)


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _keys(sequences) -> str:
    return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in sequences if not s.isEmpty())


def shortcut_rows(window: QWidget) -> list[tuple[str, str, str]]:
    """(where, what, keys) for every menu action with a shortcut, the window's own shortcuts
    (the Edit panel's Run and Cancel), then the gestures."""
    rows: list[tuple[str, str, str]] = []
    seen = set()

    def walk(menu: QMenu, where: str) -> None:
        for a in menu.actions():
            if a.menu() is not None:
                walk(a.menu(), f"{where} › {_plain(a.menu().title())}")
            elif not a.isSeparator() and a not in seen:
                keys = _keys(a.shortcuts())
                if keys:
                    seen.add(a)
                    rows.append((where, _plain(a.text()), keys))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _plain(top.menu().title()))
    for sc in window.findChildren(QShortcut):
        keys = _keys([sc.key()])
        what = sc.whatsThis() or sc.objectName()
        if keys and what:
            rows.append(("Edit panel", what, keys))
    rows += list(GESTURES)
    return rows


class ShortcutsDialog(QDialog):
    """A searchable table of every shortcut."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(780, 600)
        lay = QVBoxLayout(self)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: an action or a key")
        self.filter.setClearButtonEnabled(True)
        lay.addWidget(self.filter)
        rows = shortcut_rows(window)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Where", "Action", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        # no entry is ever cut short with "…": where and what take the room they need, the keys wrap
        # at their words in the rest, and every row is as tall as its wrapped text
        self.table.setWordWrap(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        rows_header = self.table.verticalHeader()
        rows_header.setMinimumSectionSize(self.fontMetrics().height() + 8)
        rows_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.filter.textChanged.connect(self._apply_filter)
        self.filter.setFocus(Qt.FocusReason.OtherFocusReason)

    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for r in range(self.table.rowCount()):
            line = " ".join(self.table.item(r, c).text().lower() for c in range(3))
            self.table.setRowHidden(r, not all(w in line for w in words))

    def visible_rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())
                if not self.table.isRowHidden(r)]


def about_text() -> str:
    from importlib import metadata

    try:
        version = metadata.version("akapen")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    import PySide6

    parts = [f"<b>Akapen {version}</b>",
             "A painting application for instruction-based image editing: a photo, collage pieces, "
             "red-pen marks and an instruction; an editing model returns the result as a layer.",
             "Apache-2.0 licence. ComfyUI servers, when used, run as separate programs.",
             f"Qt {PySide6.QtCore.qVersion()}, PySide6 {PySide6.__version__}"]
    try:
        import torch

        parts.append(f"torch {torch.__version__}"
                     + (f", CUDA {torch.version.cuda}" if torch.cuda.is_available() else ", no CUDA device"))
    except ImportError:
        parts.append("torch is not installed: only the classical backend and ComfyUI servers can edit")
    return "<br><br>".join(parts)


def show_about(window: QWidget) -> None:
    QMessageBox.about(window, "About Akapen", about_text())
