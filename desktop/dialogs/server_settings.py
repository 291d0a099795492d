"""Servers: the ComfyUI servers Akapen may send edits to (Edit › Servers…).

The dialog lists the servers (name, address, what the last check found), adds one from an
address with an optional bearer token and name, removes one, and tests one in a background
thread — a server that does not answer never freezes the window. Accepting saves the list in
the servers file (:class:`~inference.comfyui.servers.ServerStore`, owner-only since it may hold
tokens) and hands it to the inference side, so the ComfyUI backends become available.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import Relay
from inference.comfyui import servers as comfy_servers
from inference.comfyui.servers import ServerConfig, ServerReport, ServerStore
from inference.errors import InvalidRequest

CHECK_TIMEOUT = 10.0
ERROR_STYLE = "color: #b00020;"


def apply_server_settings(store: ServerStore | None = None,
                          notify: Callable[[str], None] | None = None) -> list[ServerConfig]:
    """Load the servers file and make the ComfyUI backends use its servers (at start).

    A damaged file never stops the window: what could be read is used and ``notify`` (the
    notifier) hears what was wrong with the rest.
    """
    store = store or ServerStore()
    servers = store.load()
    comfy_servers.set_servers(servers)
    if store.problem and notify is not None:
        notify(f"ComfyUI servers: {store.problem}")
    return servers


def state_text(report: ServerReport | None) -> str:
    """The short state shown in the list ("connected", "not connected", "not checked")."""
    if report is None:
        return "not checked"
    return "connected" if report.ok else "not connected"


class ServersDialog(QDialog):
    """``ServersDialog(store, parent=None, servers=None)``: ``servers`` defaults to the file's.

    ``apply()`` saves and hands the list over (``accept()`` does it before closing);
    ``checkFinished(report)`` is emitted when a test ends.
    """

    checkFinished = Signal(object)

    COLUMNS = ("Name", "Address", "State")

    def __init__(self, store: ServerStore | None = None, parent: QWidget | None = None,
                 servers: list[ServerConfig] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ComfyUI servers")
        self.store = store or ServerStore()
        if servers is None:
            servers = self.store.load()
        self._relays: set[Relay] = set()
        self._checking: set[str] = set()

        self.list = QTreeWidget()
        self.list.setHeaderLabels(list(self.COLUMNS))
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.list.setToolTip("Untick a server to keep it without sending edits to it")
        self.list.currentItemChanged.connect(self._selected)

        self.url = QLineEdit()
        self.url.setPlaceholderText("http://127.0.0.1:8188")
        self.url.returnPressed.connect(self.add_from_fields)
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("optional, for a server behind a proxy")
        self.name = QLineEdit()
        self.name.setPlaceholderText("optional, e.g. “studio GPU”")
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add the server (an address already listed is updated)")
        self.add_button.clicked.connect(self.add_from_fields)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.test_button = QPushButton("Test")
        self.test_button.setToolTip("Ask the selected server (or the address typed above) what it is and what it has")
        self.test_button.clicked.connect(self.test_selected)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()
        self.details = QTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Test a server to see what it runs and which model files it has.")
        self.details.setMinimumHeight(110)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        fields = QGridLayout()
        fields.addWidget(QLabel("Address"), 0, 0)
        fields.addWidget(self.url, 0, 1, 1, 3)
        fields.addWidget(QLabel("Token"), 1, 0)
        fields.addWidget(self.token, 1, 1)
        fields.addWidget(QLabel("Name"), 1, 2)
        fields.addWidget(self.name, 1, 3)
        fields.setColumnStretch(1, 1)
        fields.setColumnStretch(3, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addWidget(self.test_button)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Servers that run edits (ComfyUI, on this computer or elsewhere):"))
        lay.addWidget(self.list, 1)
        lay.addLayout(fields)
        lay.addLayout(row)
        lay.addWidget(self.error)
        lay.addWidget(self.details)
        lay.addWidget(buttons)
        self.resize(640, 480)

        for s in servers:
            self._add_row(s)
        if self.list.topLevelItemCount():
            self.list.setCurrentItem(self.list.topLevelItem(0))
        self._update_buttons()

    # --- the list ------------------------------------------------------------------------------
    def servers(self) -> list[ServerConfig]:
        """The servers as listed (a server whose box is unticked is kept but not used)."""
        out = []
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            s: ServerConfig = item.data(0, Qt.ItemDataRole.UserRole)
            enabled = item.checkState(0) == Qt.CheckState.Checked
            out.append(s if s.enabled == enabled else ServerConfig(s.url, s.token, s.name, enabled))
        return out

    def _row_of(self, url: str) -> QTreeWidgetItem | None:
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole).url == url:
                return item
        return None

    def _add_row(self, server: ServerConfig) -> QTreeWidgetItem:
        item = self._row_of(server.url)
        if item is None:
            item = QTreeWidgetItem(self.list)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setData(0, Qt.ItemDataRole.UserRole, server)
        item.setText(0, server.name or "—")
        item.setText(1, server.url)
        item.setCheckState(0, Qt.CheckState.Checked if server.enabled else Qt.CheckState.Unchecked)
        self._show_state(item, comfy_servers.last_report(server.url))
        return item

    def _show_state(self, item: QTreeWidgetItem, report: ServerReport | None) -> None:
        url = item.data(0, Qt.ItemDataRole.UserRole).url
        if url in self._checking:
            item.setText(2, "checking…")
            item.setToolTip(2, "")
            return
        item.setText(2, state_text(report))
        item.setToolTip(2, report.summary() if report is not None else "Test it to find out")
        item.setForeground(2, Qt.GlobalColor.darkRed if report is not None and not report.ok
                           else self.list.palette().text())

    def _selected(self, item: QTreeWidgetItem | None, _previous=None) -> None:
        self._update_buttons()
        if item is None:
            return
        s: ServerConfig = item.data(0, Qt.ItemDataRole.UserRole)
        self.url.setText(s.url)
        self.token.setText(s.token)
        self.name.setText(s.name)
        report = comfy_servers.last_report(s.url)
        if s.url in self._checking:
            return
        if report is not None:
            self._show_report(report, s)
        else:
            self.details.clear()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.list.currentItem() is not None)

    def _field_server(self) -> ServerConfig | None:
        """The server typed in the fields, or None with the reason shown inline."""
        try:
            server = ServerConfig(self.url.text(), self.token.text().strip(), self.name.text().strip())
        except InvalidRequest as exc:
            self._show_error(str(exc))
            return None
        self._show_error("")
        return server

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def add_from_fields(self) -> ServerConfig | None:
        """Add the server in the fields (or update the one with the same address)."""
        server = self._field_server()
        if server is None:
            return None
        if len(self.servers()) >= comfy_servers.MAX_SERVERS and self._row_of(server.url) is None:
            self._show_error(f"at most {comfy_servers.MAX_SERVERS} servers can be listed")
            return None
        old = self._row_of(server.url)
        if old is not None:  # keep the tick the user gave it
            server = ServerConfig(server.url, server.token, server.name,
                                  old.checkState(0) == Qt.CheckState.Checked)
        item = self._add_row(server)
        self.list.setCurrentItem(item)
        warning = server.warning()
        if warning:
            self.details.setHtml(_warning_html(warning))
        return server

    def remove_selected(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        self.list.takeTopLevelItem(self.list.indexOfTopLevelItem(item))
        self.details.clear()
        if self.list.currentItem() is None:
            for w in (self.url, self.token, self.name):
                w.clear()
        self._update_buttons()

    # --- testing -----------------------------------------------------------------------------------
    def test_selected(self) -> None:
        """Check the selected server — or, when nothing is selected, the address typed in —
        in a background thread; the result appears in the details and the list."""
        item = self.list.currentItem()
        if item is not None and item.data(0, Qt.ItemDataRole.UserRole).url == _normalised(self.url.text()):
            server = item.data(0, Qt.ItemDataRole.UserRole)
            self._show_error("")
        else:
            server = self._field_server()  # typed but not added yet: test before adding
            if server is None:
                return
        self.check(server)

    def check(self, server: ServerConfig) -> None:
        if server.url in self._checking:
            return
        self._checking.add(server.url)
        row = self._row_of(server.url)
        if row is not None:
            self._show_state(row, None)
        self.details.setHtml(f"<p>Checking {html.escape(server.url)} …</p>")
        relay = Relay()
        relay.finished.connect(self._check_done)
        self._relays.add(relay)

        def work() -> None:
            report = comfy_servers.check(server, timeout=CHECK_TIMEOUT)  # never raises
            relay.finished.emit(server, report)  # (ServerConfig, ServerReport)

        threading.Thread(target=work, name=f"check {server.url}", daemon=True).start()

    @property
    def checking(self) -> bool:
        return bool(self._checking)

    def _check_done(self, server: ServerConfig, report: ServerReport) -> None:
        relay = self.sender()
        self._relays.discard(relay)
        self._checking.discard(server.url)
        row = self._row_of(server.url)
        if row is not None:
            self._show_state(row, report)
        current = self.list.currentItem()
        showing = (current.data(0, Qt.ItemDataRole.UserRole).url if current is not None
                   else _normalised(self.url.text()))
        if showing == server.url:
            self._show_report(report, server)
        self.checkFinished.emit(report)

    def _show_report(self, report: ServerReport, server: ServerConfig) -> None:
        self.details.setHtml(report_html(report, server))

    # --- accepting -------------------------------------------------------------------------------
    def apply(self) -> bool:
        """Save the list and make the backends use it; False (said inline) when saving failed."""
        servers = self.servers()
        try:
            self.store.save(servers)
        except OSError as exc:
            self._show_error(f"the servers could not be saved to {self.store.path}: {exc.strerror or exc}")
            return False
        comfy_servers.set_servers(servers)
        return True

    def accept(self) -> None:
        if self.url.text().strip() and self._row_of(_normalised(self.url.text())) is None:
            # an address typed but not added: add it rather than silently dropping it
            if self.add_from_fields() is None:
                return
        if self.apply():
            super().accept()


def _normalised(url: str) -> str:
    try:
        return comfy_servers.normalise_url(url)
    except InvalidRequest:
        return url.strip()


def _warning_html(text: str) -> str:
    return f'<p style="color:#8a5a00;">⚠ {html.escape(text)}</p>'


def report_html(report: ServerReport, server: ServerConfig | None = None) -> str:
    """A check in words: the summary (red when not connected), the model files, the warning."""
    parts = []
    who = html.escape(server.label if server is not None else report.url)
    if report.ok:
        parts.append(f"<p><b>{who}</b> — {html.escape(report.summary())}</p>")
        lines = report.model_lines()
        if lines:
            parts.append("<p>" + "<br>".join(html.escape(ln) for ln in lines) + "</p>")
        else:
            parts.append("<p>No model files listed (put them in the server's models folders).</p>")
    else:
        parts.append(f'<p style="{ERROR_STYLE}"><b>{who}</b> — {html.escape(report.summary())}</p>')
    warning = report.warning or (server.warning() if server is not None else "")
    if warning:
        parts.append(_warning_html(warning))
    return "".join(parts)
