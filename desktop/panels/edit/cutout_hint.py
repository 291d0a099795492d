"""Refine collage's offer to cut pieces out first: a pasted photo of an object is usually an opaque
rectangle with its own background, and a refine would blend that background into the scene too."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from canvas.layers import PieceLayer


def uncut_rectangles(document) -> list[PieceLayer]:
    """Visible, unlocked content pieces that are opaque rectangles and were never cut out."""
    return [la for la in document.layers
            if isinstance(la, PieceLayer) and la.role == "content" and la.visible and not la.locked
            and la.cutout is None and la.opaque_original()]


class CutoutHint(QWidget):
    """"“Flower” is a rectangle with its own background. [Cut out]" — shown for Refine collage only."""

    cutOutRequested = Signal(list)  # the piece layer ids

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color: #a05a00;")
        self.button = QPushButton("Cut out")
        self.button.setToolTip("Cut each of these pieces' subject out of its background (Layer › Cut out "
                               "subject), one undo step each; Layer › Restore uncut piece brings a piece back")
        self.button.clicked.connect(lambda: self.cutOutRequested.emit(list(self._ids)))
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.button)
        self._ids: list[str] = []
        self.setVisible(False)

    def refresh(self, document, refining: bool) -> None:
        pieces = uncut_rectangles(document) if refining else []
        self._ids = [p.id for p in pieces]
        if pieces:
            names = ", ".join(f"“{p.name}”" for p in pieces[:3]) + (" …" if len(pieces) > 3 else "")
            many = len(pieces) > 1
            self.label.setText(f"{names} {'are rectangles' if many else 'is a rectangle'} with "
                               f"{'their' if many else 'its'} own background, which the refine will blend "
                               "into the scene too. Cut the subject out first?")
        self.setVisible(bool(pieces))
