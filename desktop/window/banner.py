"""The banner: a non-modal message over the top of the canvas (errors and notices)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget


class Banner(QLabel):
    """A non-modal message over the top of the canvas (errors and notices), hidden on click."""

    STYLES = {
        "error": "background: #fbe3e3; color: #5c0f0f; border: 1px solid #d98c8c;",
        "warning": "background: #fdf1d8; color: #5a3d00; border: 1px solid #d9b56a;",
        "info": "background: #e3eefb; color: #0f2f5c; border: 1px solid #8cb0d9;",
    }

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setMargin(8)
        self.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)

    def show_message(self, text: str, level: str, timeout_ms: int) -> None:
        self.setStyleSheet(f"QLabel {{ {self.STYLES.get(level, self.STYLES['info'])} border-radius: 5px; }}")
        self.setText(text)
        self.place()
        self.show()
        self.raise_()
        self._timer.start(max(1000, timeout_ms))

    def place(self) -> None:
        par = self.parentWidget()
        w = min(620, max(200, par.width() - 40))
        self.setFixedWidth(w)
        self.adjustSize()
        self.move((par.width() - w) // 2, 12)

    def mousePressEvent(self, event) -> None:
        self.hide()
