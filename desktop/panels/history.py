"""The undo history dock: every step of the document's command stack, clickable.

Row 0 is the state before the first kept step ("Original", or "Oldest kept state" once the
stack has dropped old steps to stay within its memory bound); then the done steps, oldest
first; then the undone steps, greyed and in italics. The current state is the selected row.
Clicking a row (or moving to it with the keyboard) undoes or redoes to that point.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from canvas.errors import CanvasError
from desktop.bridge import DocumentBridge, rewire

ORIGINAL = "Original"
OLDEST_KEPT = "Oldest kept state"


class HistoryPanel(QWidget):
    """``HistoryPanel(bridge, parent=None)``: the undo history list; ``set_bridge(bridge)``
    switches to another document.

    Updates on ``bridge.historyChanged`` without rebuilding unchanged rows (a brush stroke
    sends one change per dab; its merged step only changes nothing or one label).

    Signals:
        ``errorRaised(str)`` — an expected document error while undoing/redoing to a row,
        for the window's notifier.
    """

    errorRaised = Signal(str)

    def __init__(self, bridge: DocumentBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._busy = False
        self.list = QListWidget(self)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setUniformItemSizes(True)
        self.list.setAlternatingRowColors(False)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setStyleSheet("QListWidget::item { padding: 3px 6px; }")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.list)
        self.list.currentRowChanged.connect(self._row_chosen)
        bridge.historyChanged.connect(self.refresh)
        self.refresh()

    @property
    def document(self):
        return self.bridge.document

    def set_bridge(self, bridge: DocumentBridge) -> None:
        """Show another document's history (File > New / Open) without rebuilding the dock."""
        if bridge is self.bridge:
            return
        rewire(self.bridge, bridge, (("historyChanged", self.refresh),))
        self.bridge = bridge
        self._busy = True
        try:
            self.list.clear()
        finally:
            self._busy = False
        self.refresh()

    def rows(self) -> list[str]:
        """The labels shown, top to bottom (first row is the state before any kept step)."""
        done, undone = self.document.history.labels()
        first = OLDEST_KEPT if self.document.history.dropped else ORIGINAL
        return [first, *done, *undone]

    @property
    def current_row(self) -> int:
        return self.document.history.index

    def refresh(self) -> None:
        if self._busy:
            return
        labels = self.rows()
        current = self.current_row
        lw = self.list
        self._busy = True
        try:
            while lw.count() > len(labels):
                lw.takeItem(lw.count() - 1)
            grey = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            normal = self.palette().color(QPalette.ColorRole.Text)
            for i, text in enumerate(labels):
                item = lw.item(i)
                if item is None:
                    item = QListWidgetItem(text)
                    lw.addItem(item)
                elif item.text() != text:
                    item.setText(text)
                    item.setData(Qt.ItemDataRole.UserRole, None)  # refresh the tooltip below
                undone = i > current
                if item.data(Qt.ItemDataRole.UserRole) != undone:
                    item.setData(Qt.ItemDataRole.UserRole, undone)
                    f = QFont(lw.font())
                    f.setItalic(undone)
                    item.setFont(f)
                    item.setForeground(QBrush(grey if undone else normal))
                    item.setToolTip(f"{text}\n(undone: click to redo up to here)" if undone
                                    else f"{text}\n(click to go back to here)")
            if lw.currentRow() != current:
                lw.setCurrentRow(current)
            lw.scrollToItem(lw.item(current))
        finally:
            self._busy = False

    def go_to(self, row: int) -> None:
        """Undo or redo until the document is in the state after row ``row``'s step."""
        history = self.document.history
        row = max(0, min(row, len(self.rows()) - 1))
        self._busy = True
        try:
            with self.bridge.keep_tool():  # stepping through history never changes the tool
                while history.index > row and self.document.undo():
                    pass
                while history.index < row and self.document.redo():
                    pass
        except CanvasError as exc:
            self.errorRaised.emit(str(exc))
        finally:
            self._busy = False
        self.refresh()

    def _row_chosen(self, row: int) -> None:
        if self._busy or row < 0 or row == self.current_row:
            return
        self.go_to(row)
