"""The tools' drawn cursors: the brush outline at its on-screen size, and small crosshairs with
a symbol for what a click makes."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPen, QPixmap


def circle_cursor(diameter: float) -> QCursor:
    """An outline of the brush at its on-screen size, with a centre dot."""
    d = max(3, int(math.ceil(diameter)))
    side = d + 4
    pm = QPixmap(side, side)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    r = QRectF(2, 2, d, d).adjusted(0.5, 0.5, -0.5, -0.5)
    p.setPen(QPen(QColor(0, 0, 0, 200), 1.5))
    p.drawEllipse(r)
    p.setPen(QPen(QColor(255, 255, 255, 220), 0.8))
    p.drawEllipse(r.adjusted(1, 1, -1, -1))
    c = side / 2
    p.setPen(QPen(QColor(0, 0, 0, 220), 1))
    p.drawPoint(QPointF(c, c))
    p.end()
    return QCursor(pm, side // 2, side // 2)


def symbol_cursor(kind: str) -> QCursor:
    """Small drawn cursors: a crosshair with a symbol telling what a click will make."""
    pm = QPixmap(32, 32)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    for col, w in ((QColor(255, 255, 255), 3.0), (QColor(0, 0, 0), 1.2)):
        p.setPen(QPen(col, w))
        p.drawLine(QPointF(8, 1), QPointF(8, 15))
        p.drawLine(QPointF(1, 8), QPointF(15, 8))
        pen = QPen(col, w)
        p.setPen(pen)
        if kind == "arrow":
            p.drawLine(QPointF(17, 28), QPointF(29, 16))
            p.drawLine(QPointF(29, 16), QPointF(23, 17))
            p.drawLine(QPointF(29, 16), QPointF(28, 22))
        elif kind == "ellipse":
            p.drawEllipse(QRectF(16, 17, 14, 10))
        elif kind == "rect":
            p.drawRect(QRectF(16, 17, 13, 10))
        elif kind == "pen":
            p.drawLine(QPointF(16, 28), QPointF(28, 16))
        elif kind == "text":
            p.drawLine(QPointF(17, 17), QPointF(29, 17))
            p.drawLine(QPointF(23, 17), QPointF(23, 29))
        elif kind == "lasso":
            p.drawEllipse(QRectF(16, 16, 13, 9))
        elif kind == "select":
            p.drawRect(QRectF(16, 16, 13, 11))
        elif kind == "picker":
            p.drawLine(QPointF(18, 28), QPointF(28, 18))
            p.drawEllipse(QRectF(24, 14, 6, 6))
        elif kind == "rotate":
            p.drawArc(QRectF(15, 15, 14, 14), 30 * 16, 270 * 16)
            p.drawLine(QPointF(27, 13), QPointF(28, 19))
    p.end()
    return QCursor(pm, 8, 8)
