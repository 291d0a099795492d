"""The Models window's Downloads tab: the queue, one row a download with its bar and state (bytes, rate, time
left, or why it failed, with the model's page as a link and "Enter a token…" where a token would help);
Pause, Resume, Cancel, Clear finished. It shows ``downloads`` (the window's DownloadsController)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inference.hub import errors

ROLE = Qt.ItemDataRole.UserRole


class DownloadsTab(QWidget):
    tokenRequested = Signal()
    countChanged = Signal(int)  # downloads still under way (the tab's title shows it)

    def __init__(self, downloads, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.downloads = downloads
        self._rows: dict[str, QTreeWidgetItem] = {}
        self.queue_tree = QTreeWidget()
        self.queue_tree.setHeaderLabels(["Download", "Progress", "State"])
        self.queue_tree.setRootIsDecorated(False)
        self.queue_tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.queue_tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        self.queue_tree.header().resizeSection(1, 180)
        self.queue_tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.queue_tree.currentItemChanged.connect(lambda *_: self._queue_selected())
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(lambda: self._on_queue("pause"))
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(lambda: self._on_queue("resume"))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop and delete what this download fetched so far")
        self.cancel_button.clicked.connect(lambda: self._on_queue("cancel"))
        clear = QPushButton("Clear finished")
        clear.clicked.connect(self.downloads.clear_finished)
        self.queue_error = QLabel("")
        self.queue_error.setWordWrap(True)
        self.queue_error.setOpenExternalLinks(True)
        self.queue_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.queue_token_button = QPushButton("Enter a token…")
        self.queue_token_button.clicked.connect(self.tokenRequested)
        self.queue_token_button.hide()
        row = QHBoxLayout()
        for b in (self.pause_button, self.resume_button, self.cancel_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(clear)
        err = QHBoxLayout()
        err.addWidget(self.queue_error, 1)
        err.addWidget(self.queue_token_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.queue_tree, 1)
        lay.addLayout(err)
        lay.addLayout(row)
        downloads.changed.connect(self.changed)
        downloads.listChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        keep = self._selected_key()
        tree = self.queue_tree
        tree.clear()
        self._rows = {}
        for key, item in self.downloads.items.items():
            row = QTreeWidgetItem([item.label, "", item.text()])
            row.setData(0, ROLE, key)
            tree.addTopLevelItem(row)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            tree.setItemWidget(row, 1, bar)
            self._rows[key] = row
            self._paint_row(key)
            if key == keep:
                tree.setCurrentItem(row)
        if tree.currentItem() is None and tree.topLevelItemCount():
            tree.setCurrentItem(tree.topLevelItem(tree.topLevelItemCount() - 1))
        self._queue_selected()
        self.countChanged.emit(self.active_count())

    def active_count(self) -> int:
        return sum(1 for i in self.downloads.items.values() if i.active)

    def changed(self, key: str) -> None:
        if key not in self._rows:
            self.refresh()
            return
        self._paint_row(key)
        self._queue_selected()
        self.countChanged.emit(self.active_count())

    def _paint_row(self, key: str) -> None:
        row = self._rows.get(key)
        item = self.downloads.items.get(key)
        if row is None or item is None:
            return
        row.setText(2, item.text())
        row.setToolTip(2, item.text())
        bar = self.queue_tree.itemWidget(row, 1)
        if bar is not None:
            p = item.progress
            bar.setValue(int((p.fraction if p is not None else (1.0 if item.state == "done" else 0.0)) * 1000))
            bar.setFormat(f"{bar.value() / 10:.0f} %")

    def _selected_key(self) -> str | None:
        row = self.queue_tree.currentItem()
        return row.data(0, ROLE) if row is not None else None

    def _queue_selected(self) -> None:
        key = self._selected_key()
        item = self.downloads.items.get(key) if key else None
        self.pause_button.setEnabled(item is not None and item.active)
        self.resume_button.setEnabled(item is not None and item.state in ("paused", "failed"))
        self.cancel_button.setEnabled(item is not None and item.state in ("queued", "planning", "running", "paused",
                                                                          "failed"))
        tokenish = item is not None and item.state == "failed" and item.error_kind in ("GatedRepo", "NoAccess",
                                                                                        "TokenRefused")
        if item is not None and item.state == "failed":
            page = html.escape(errors.page(_endpoint(), item.request.repo))
            self.queue_error.setText(html.escape(item.error).replace(page, f"<a href='{page}'>{page}</a>"))
            self.queue_error.setStyleSheet("color: #b03030;")
        else:
            self.queue_error.setText("")
        self.queue_token_button.setVisible(tokenish)

    def _on_queue(self, what: str) -> None:
        key = self._selected_key()
        if key is not None:
            getattr(self.downloads, what)(key)



def _endpoint() -> str:
    from inference.hub import auth

    return auth.endpoint()
