"""Small widgets of the edit panel: a label that elides, and the thumbnails of references,
step previews and results."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from desktop.qimage import paint_checker, rgba_to_qimage


class ElidedLabel(QLabel):
    """One line that ends in "…" when it has less room than its text; ``text()`` and the
    tooltip keep the whole text. ``cap``: the most width it asks for (a form's label column
    stays as narrow as its other labels)."""

    def __init__(self, text: str = "", cap: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._cap = cap
        self.setToolTip(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(min(hint.width(), self._cap), hint.height()) if self._cap else hint

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.fontMetrics().horizontalAdvance("Wor…")), hint.height())

    def paintEvent(self, event) -> None:
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(), self.isEnabled(), text,
                                  self.foregroundRole())


def thumbnail(rgba: np.ndarray, size: int = 96) -> QPixmap:
    """``rgba`` scaled into ``size``², over a checkerboard where it is transparent."""
    pm = QPixmap.fromImage(rgba_to_qimage(rgba))
    pm = pm.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    if rgba[..., 3].min() == 255:
        return pm
    out = QPixmap(pm.size())
    p = QPainter(out)
    paint_checker(p, QRect(0, 0, pm.width(), pm.height()), 6)
    p.drawPixmap(0, 0, pm)
    p.end()
    return out
