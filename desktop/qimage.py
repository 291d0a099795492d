"""The one place numpy arrays become QImages and back."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPainter

from canvas.blend import premultiply_uint8


def rgba_to_qimage(rgba: np.ndarray, premultiply: bool = True) -> QImage:
    """Straight uint8 RGBA (h, w, 4) -> a QImage that owns a copy of the data.

    With ``premultiply`` the result is ``Format_RGBA8888_Premultiplied``, the format QPainter
    draws fastest.
    """
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError("expected a uint8 (h, w, 4) array")
    data = premultiply_uint8(rgba) if premultiply else np.ascontiguousarray(rgba)
    h, w = data.shape[:2]
    fmt = QImage.Format.Format_RGBA8888_Premultiplied if premultiply else QImage.Format.Format_RGBA8888
    img = QImage(data.data, w, h, w * 4, fmt)
    return img.copy()  # detach from the numpy buffer


def qimage_to_rgba(img: QImage) -> np.ndarray:
    """Any QImage -> straight uint8 RGBA (h, w, 4), a new array."""
    conv = img.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h = conv.width(), conv.height()
    if w == 0 or h == 0:
        return np.zeros((h, w, 4), np.uint8)
    ptr = conv.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8, count=conv.bytesPerLine() * h).reshape(h, conv.bytesPerLine())
    return arr[:, : w * 4].reshape(h, w, 4).copy()


def premultiplied_to_qimage(premul: np.ndarray) -> QImage:
    """Already-premultiplied uint8 RGBA (h, w, 4) -> a ``Format_RGBA8888_Premultiplied`` copy."""
    if premul.dtype != np.uint8 or premul.ndim != 3 or premul.shape[2] != 4:
        raise ValueError("expected a uint8 (h, w, 4) array")
    data = np.ascontiguousarray(premul)
    h, w = data.shape[:2]
    return QImage(data.data, w, h, w * 4, QImage.Format.Format_RGBA8888_Premultiplied).copy()


def rgba_to_png_bytes(rgba: np.ndarray) -> bytes:
    """Straight RGBA -> PNG bytes (for the clipboard and drag-out)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    rgba_to_qimage(rgba, premultiply=False).save(buf, "PNG")
    buf.close()
    return bytes(ba.data())


def qimage_to_png_bytes(img: QImage) -> bytes:
    """Any QImage -> PNG bytes (alpha kept), so pasted images go through the one import path."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not img.save(buf, "PNG"):
        raise ValueError("the image could not be encoded")
    buf.close()
    return bytes(ba.data())


def paint_checker(painter: QPainter, rect: QRect, cell: int = 5) -> None:
    """The light checkerboard that shows transparency in thumbnails."""
    painter.fillRect(rect, QColor(250, 250, 250))
    dark = QColor(206, 206, 206)
    for y in range(rect.top(), rect.bottom() + 1, cell):
        for x in range(rect.left(), rect.right() + 1, cell):
            if ((x - rect.left()) // cell + (y - rect.top()) // cell) % 2:
                painter.fillRect(QRect(x, y, cell, cell).intersected(rect), dark)
