"""Small widgets of the edit panel: a label that elides, a text box as tall as its text, a section
that folds away, the results strip's item painter (a frame, not a tint, marks the chosen one), and
the thumbnails of references, step previews and results."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

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


class FittingTextEdit(QPlainTextEdit):
    """A plain text box as tall as its wrapped text, between ``min_lines`` and ``max_lines`` lines
    (longer text scrolls), so no line of it is ever cut off at the bottom."""

    def __init__(self, min_lines: int = 3, max_lines: int = 10, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lines = (min_lines, max_lines)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def text_height(self) -> int:
        """The height its text takes laid out at the box's width (wrapped lines and the document's margins)."""
        h = 0.0
        block = self.document().begin()
        while block.isValid():
            if block.isVisible():
                h += self.blockBoundingRect(block).height()
            block = block.next()
        return math.ceil(h + 2 * self.document().documentMargin())

    def _fit(self, *_args) -> None:
        margin = 2 * self.document().documentMargin()
        line = self.fontMetrics().lineSpacing()
        lo, hi = (math.ceil(n * line + margin) for n in self._lines)
        height = min(max(self.text_height(), lo), hi) + 2 * self.frameWidth()
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():  # the text wraps anew
            self._fit()


class _ClickableElided(ElidedLabel):
    clicked = Signal()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()


class Section(QWidget):
    """A titled part that folds away: a header button with an arrow, and ``body`` under it when open.
    ``set_summary(text)`` puts a few words beside the title (what the folded part holds); they end in
    "…" where the panel is narrow, and a click on them opens or folds the part as the button does."""

    toggled = Signal(bool)

    def __init__(self, title: str, body: QWidget, expanded: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = title
        self.header = QToolButton()
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setAutoRaise(True)
        self.header.setText(title)
        self.header.toggled.connect(self.set_expanded)
        self.summary = _ClickableElided()
        self.summary.setStyleSheet("color: #555;")
        self.summary.clicked.connect(self.header.toggle)
        self.body = body
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.header)
        row.addWidget(self.summary, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(body)
        self.set_expanded(expanded)

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)

    def expanded(self) -> bool:
        return self.header.isChecked()

    def set_expanded(self, on: bool) -> None:
        if self.header.isChecked() != on:
            self.header.setChecked(on)  # (comes back here through toggled)
            return
        self.header.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.header.setToolTip(f"Hide the {self._title.lower()}" if on else f"Show the {self._title.lower()}")
        self.body.setVisible(on)
        self.toggled.emit(on)


class FramedItemDelegate(QStyledItemDelegate):
    """Paints a list's items without the selection tint, so a thumbnail shows its true colours, and
    frames the chosen one in the highlight colour, in a margin kept around every item."""

    PAD = 4

    def sizeHint(self, option, index) -> QSize:
        return super().sizeHint(option, index) + QSize(2 * self.PAD, 2 * self.PAD)

    def paint(self, painter: QPainter, option, index) -> None:
        opt = QStyleOptionViewItem(option)
        chosen = bool(opt.state & QStyle.StateFlag.State_Selected)
        opt.state &= ~(QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus)
        opt.rect = option.rect.adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD)
        super().paint(painter, opt, index)
        if chosen:
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(option.palette.color(QPalette.ColorRole.Highlight), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(option.rect).adjusted(1.5, 1.5, -1.5, -1.5), 4, 4)
            painter.restore()


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
