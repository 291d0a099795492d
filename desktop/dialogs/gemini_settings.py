"""Gemini API key (Edit › Gemini API key…, or Key… in the edit panel): the key for nano banana and the model.

The key is typed into a password field and saved in ``gemini.json`` in Akapen's configuration folder,
readable by its owner only (:class:`~inference.gemini.keys.GeminiStore`); it is never shown again,
never logged and never written into a file's provenance. When ``GEMINI_API_KEY`` is set it is used
instead, and the dialog says so.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from inference.errors import InvalidRequest
from inference.gemini import keys, models

ERROR_STYLE = "color: #b00020;"
PRIVACY = ("Edits with nano banana send the picture (or the selected part of it), its references and the "
           "instruction to Google's Gemini API, under your key and Google's terms. The API takes no seed, so a "
           "result cannot be made again; it reports the tokens each edit used, shown on the result.")


class GeminiKeyDialog(QDialog):
    """``GeminiKeyDialog(store=None, parent=None)``; ``apply()`` saves (``accept()`` does it before closing)."""

    def __init__(self, store: keys.GeminiStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Gemini API key")
        self.store = store or keys.GeminiStore()
        current = self.store.load()
        self._stored = current.key
        self._remove = False

        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("a key is stored (type a new one to replace it)" if current.key
                                    else "paste your key here")
        self.model = QComboBox()
        for spec in models.MODELS.values():
            self.model.addItem(f"{spec.label} — {spec.id}", spec.id)
        self.model.setCurrentIndex(max(0, self.model.findData(current.model)))
        self.remove_button = QPushButton("Remove the stored key")
        self.remove_button.setEnabled(bool(current.key))
        self.remove_button.clicked.connect(self._remove_key)
        self.source = QLabel(self._source_text())
        self.source.setWordWrap(True)
        link = QLabel(f'No key yet? Get one at <a href="{keys.KEY_URL}">{keys.KEY_URL}</a>')
        link.setOpenExternalLinks(True)
        privacy = QLabel(PRIVACY)
        privacy.setWordWrap(True)
        privacy.setStyleSheet("color: #555;")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("API key", self.key)
        form.addRow("", self.remove_button)
        form.addRow("Model", self.model)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.source)
        lay.addWidget(link)
        lay.addWidget(privacy)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        if self.store.problem:
            self._show_error(self.store.problem)

    def _source_text(self) -> str:
        env = keys.env_key()
        if env:
            return f"{keys.ENV_KEY} is set, so its key is used; a key saved here is used when it is not set."
        if self._stored and not self._remove:
            return f"A key is stored in {self.store.path} (readable by you only)."
        return f"No key is stored. It will be kept in {self.store.path}, readable by you only."

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _remove_key(self) -> None:
        self._remove = True
        self.key.clear()
        self.key.setPlaceholderText("paste your key here")
        self.remove_button.setEnabled(False)
        self.source.setText(self._source_text())

    def apply(self) -> bool:
        """Save the key (a new one typed, else the stored one unless removed) and the model."""
        typed = self.key.text().strip()
        try:
            key = keys.Secret(typed) if typed else (keys.Secret() if self._remove else self._stored)
        except InvalidRequest as exc:
            self._show_error(str(exc))
            return False
        try:
            self.store.save(keys.GeminiSettings(key, self.model.currentData()))
        except OSError as exc:
            self._show_error(f"{self.store.path} could not be written: {exc.strerror or exc}")
            return False
        self._stored, self._remove = key, False
        self.key.clear()
        self._show_error("")
        apply_gemini_settings()
        return True

    def accept(self) -> None:
        if self.apply():
            super().accept()


def apply_gemini_settings() -> None:
    """The nano-banana backend, if made already, follows the settings' model (its key is read at each use)."""
    from inference import registry
    from inference.gemini import BACKEND

    made = registry.built().get(BACKEND)
    if made is not None and hasattr(made, "set_model"):
        made.set_model(None, made.image_size)
