"""Edit › Hugging Face token…: enter a token once; it is checked with the Hub (whoami) and kept where
huggingface_hub keeps it (readable by the user only). It is never shown again: the dialog says only whether
one is saved, whose it is, and where it came from."""

from __future__ import annotations

import html
import threading

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from desktop.jobs import Relay
from inference.hub import auth, errors


def token_state() -> str:
    tok = auth.get_token()
    if tok is None:
        return "No token is set. Gated models (FLUX.1 Kontext dev, FLUX.2 dev …) need one."
    if tok.source in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        return f"A token is set by {tok.source} in the environment; it is used (a token saved here would not be)."
    return f"A token is saved in {tok.source} (readable by you only)."


class TokenDialog(QDialog):
    checked = Signal(bool, str)  # ok, the owner's name or why not

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Hugging Face token")
        endpoint = auth.endpoint()
        intro = QLabel(
            "Some models are <b>gated</b>: accept their licence on the model's page (logged in to Hugging Face), "
            f"then create a token with <b>read</b> access at <a href='{endpoint}/settings/tokens'>"
            f"{html.escape(endpoint)}/settings/tokens</a> and paste it here. It is checked with the Hub and kept where "
            "huggingface_hub keeps it, so other tools use it too.")
        intro.setWordWrap(True)
        intro.setOpenExternalLinks(True)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.state = QLabel(token_state())
        self.state.setWordWrap(True)
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setPlaceholderText("hf_…")
        self.field.textChanged.connect(lambda _t: self._update())
        self.save_button = QPushButton("Check and save")
        self.save_button.clicked.connect(self.check_and_save)
        self.remove_button = QPushButton("Remove saved token")
        self.remove_button.clicked.connect(self.remove)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.field, 1)
        row.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.state)
        lay.addLayout(row)
        lay.addWidget(self.result)
        lay.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(close)
        self._relay: Relay | None = None
        self.checking = False
        self.resize(560, 260)
        self._update()

    def _update(self) -> None:
        self.save_button.setEnabled(bool(self.field.text().strip()) and not self.checking)
        tok = auth.get_token()
        self.remove_button.setEnabled(tok is not None and tok.source not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"))

    def check_and_save(self) -> None:
        text = self.field.text()
        try:
            auth.check_token_text(text)
        except ValueError as exc:
            self._done(False, str(exc))
            return
        self.checking = True
        self.result.setText("Checking the token with the Hub…")
        self._update()
        relay = self._relay = Relay()
        relay.finished.connect(lambda ok, msg: self._done(ok, msg))

        def work() -> None:
            from inference.hub import manage

            try:
                relay.finished.emit(True, manage.login(text))
            except (errors.HubError, ValueError, OSError) as exc:
                relay.finished.emit(False, str(exc))

        threading.Thread(target=work, name="token check", daemon=True).start()

    def _done(self, ok: bool, message: str) -> None:
        self.checking = False
        if ok:
            self.field.clear()  # never shown again
            self.result.setText(f"The Hub accepts the token: logged in as {message}. It is saved.")
            self.result.setStyleSheet("color: #2a7a2a;")
        else:
            self.result.setText(message)
            self.result.setStyleSheet("color: #b03030;")
        self.state.setText(token_state())
        self._update()
        self.checked.emit(ok, message)

    def remove(self) -> None:
        removed = auth.delete_token()
        self.result.setStyleSheet("")
        self.result.setText("The saved token was removed." if removed else "No token was saved.")
        self.state.setText(token_state())
        self._update()
