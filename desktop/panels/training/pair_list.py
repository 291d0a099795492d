"""The dataset as a list: each pair as before → after thumbnails, its name and its instruction."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from desktop.qimage import paint_checker, rgba_to_qimage
from training.dataset import Dataset, Pair

THUMB = QSize(132, 52)


def pair_icon(pair: Pair, size: QSize = THUMB) -> QIcon:
    """before │ → │ after, each fitted into its half of ``size``."""
    pix = QPixmap(size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    half = (size.width() - 18) // 2
    for i, img in enumerate((pair.before[0], pair.after)):
        box = QRect(i * (half + 18), 0, half, size.height())
        q = rgba_to_qimage(np.ascontiguousarray(img))
        scaled = q.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        at = QRect(box.x() + (box.width() - scaled.width()) // 2, box.y() + (box.height() - scaled.height()) // 2,
                   scaled.width(), scaled.height())
        paint_checker(p, at)
        p.drawImage(at, scaled)
    p.setPen(QPen(QColor(200, 30, 30), 2))
    mid = half + 9
    p.drawLine(QPointF(mid - 6, size.height() / 2), QPointF(mid + 5, size.height() / 2))
    p.drawLine(QPointF(mid + 1, size.height() / 2 - 4), QPointF(mid + 5, size.height() / 2))
    p.drawLine(QPointF(mid + 1, size.height() / 2 + 4), QPointF(mid + 5, size.height() / 2))
    p.end()
    return QIcon(pix)


class PairList(QListWidget):
    """Shows a :class:`Dataset`; ``current_name()`` is the selected pair's name."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setIconSize(THUMB)
        self.setWordWrap(True)
        self.setMinimumHeight(150)
        self.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self._icons: dict[int, QIcon] = {}  # id(pair) -> icon (pairs are immutable; a changed one is new)

    def show_dataset(self, ds: Dataset, keep: str | None = None) -> None:
        keep = keep if keep is not None else self.current_name()
        self.blockSignals(True)
        self.clear()
        live = {id(p) for p in ds.pairs}
        self._icons = {k: v for k, v in self._icons.items() if k in live}
        for pair in ds.pairs:
            icon = self._icons.setdefault(id(pair), pair_icon(pair))
            own = pair.instruction.strip()
            text = f"{pair.name}{'  (held out: sampled, not trained on)' if pair.name == ds.held_out else ''}\n" + (
                own if own else f"“{ds.instruction}” (shared)" if ds.instruction.strip() else "no instruction yet")
            item = QListWidgetItem(icon, text)
            item.setData(Qt.ItemDataRole.UserRole, pair.name)
            h, w = pair.after.shape[:2]
            item.setToolTip(f"{pair.name}: {w}×{h}, {len(pair.before)} before image(s)")
            self.addItem(item)
            if pair.name == keep:
                self.setCurrentItem(item)
        self.blockSignals(False)
        self.currentRowChanged.emit(self.currentRow())

    def current_name(self) -> str | None:
        item = self.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None


def strip_pixmap(rgba: np.ndarray, width: int) -> QPixmap:
    """A sample strip scaled to ``width`` (kept whole)."""
    img: QImage = rgba_to_qimage(np.ascontiguousarray(rgba))
    return QPixmap.fromImage(img.scaledToWidth(max(60, width), Qt.TransformationMode.SmoothTransformation))
