"""Tool icons drawn with QPainter (no image files to ship or theme), light and dark friendly."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

INK = QColor(60, 60, 66)
RED = QColor(230, 30, 30)
BLUE = QColor(30, 120, 255)


def _draw(name: str, p: QPainter) -> None:
    pen = QPen(INK, 2.0)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    if name == "move":
        p.drawLine(QPointF(16, 4), QPointF(16, 28))
        p.drawLine(QPointF(4, 16), QPointF(28, 16))
        p.setBrush(INK)
        for tip, a, b in (((16, 3), (12, 8), (20, 8)), ((16, 29), (12, 24), (20, 24)),
                          ((3, 16), (8, 12), (8, 20)), ((29, 16), (24, 12), (24, 20))):
            p.drawPolygon(QPolygonF([QPointF(*tip), QPointF(*a), QPointF(*b)]))
    elif name == "brush":
        p.setPen(QPen(INK, 2.2))
        p.drawLine(QPointF(27, 5), QPointF(14, 18))
        p.setBrush(INK)
        path = QPainterPath(QPointF(14, 16))
        path.cubicTo(QPointF(8, 16), QPointF(10, 24), QPointF(4, 28))
        path.cubicTo(QPointF(12, 28), QPointF(18, 24), QPointF(16, 18))
        path.closeSubpath()
        p.drawPath(path)
    elif name == "eraser":
        p.save()
        p.translate(16, 16)
        p.rotate(-40)
        p.drawRect(QRectF(-11, -6, 22, 12))
        p.setBrush(INK)
        p.drawRect(QRectF(-11, -6, 8, 12))
        p.restore()
        p.drawLine(QPointF(6, 28), QPointF(26, 28))
    elif name == "pen":
        p.setPen(QPen(RED, 2.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        path = QPainterPath(QPointF(4, 22))
        path.cubicTo(QPointF(10, 6), QPointF(14, 30), QPointF(20, 14))
        path.cubicTo(QPointF(23, 7), QPointF(26, 12), QPointF(28, 9))
        p.drawPath(path)
    elif name == "arrow":
        p.setPen(QPen(RED, 2.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLine(QPointF(5, 27), QPointF(23, 9))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(RED)
        p.drawPolygon(QPolygonF([QPointF(28, 4), QPointF(15, 9), QPointF(23, 17)]))
    elif name == "ellipse":
        p.setPen(QPen(RED, 2.6))
        p.drawEllipse(QRectF(4, 8, 24, 17))
    elif name == "rectangle":
        p.setPen(QPen(RED, 2.6))
        p.drawRect(QRectF(5, 8, 22, 16))
    elif name == "text":
        p.setPen(QPen(RED, 3.0))
        p.drawLine(QPointF(7, 7), QPointF(25, 7))
        p.drawLine(QPointF(16, 7), QPointF(16, 27))
    elif name == "mark_select":
        p.setBrush(QColor(255, 255, 255))
        p.drawPolygon(QPolygonF([QPointF(8, 4), QPointF(8, 24), QPointF(13, 19), QPointF(17, 28),
                                 QPointF(20, 26), QPointF(16, 18), QPointF(23, 18)]))
        p.setPen(QPen(RED, 2.2))
        p.drawEllipse(QRectF(19, 3, 10, 8))
    elif name == "rect_select":
        p.setPen(QPen(INK, 1.6, Qt.PenStyle.DashLine))
        p.drawRect(QRectF(5, 7, 22, 18))
    elif name == "lasso":
        p.setPen(QPen(INK, 1.6, Qt.PenStyle.DashLine))
        path = QPainterPath(QPointF(10, 24))
        path.cubicTo(QPointF(0, 14), QPointF(10, 4), QPointF(20, 6))
        path.cubicTo(QPointF(32, 8), QPointF(30, 22), QPointF(16, 22))
        path.lineTo(QPointF(12, 28))
        p.drawPath(path)
    elif name == "eyedropper":
        p.setPen(QPen(INK, 2.2))
        p.drawLine(QPointF(6, 26), QPointF(19, 13))
        p.setBrush(INK)
        p.drawEllipse(QRectF(19, 5, 8, 8))
        p.drawLine(QPointF(16, 10), QPointF(22, 16))
    else:
        p.drawRect(QRectF(6, 6, 20, 20))


@lru_cache(maxsize=64)
def tool_icon(name: str) -> QIcon:
    icon = QIcon()
    for scale in (1, 2):
        pm = QPixmap(32 * scale, 32 * scale)
        pm.setDevicePixelRatio(scale)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        _draw(name, p)
        p.end()
        icon.addPixmap(pm)
    return icon


def swatch_icon(rgba, size: int = 18) -> QIcon:
    pm = QPixmap(size * 2, size * 2)
    pm.setDevicePixelRatio(2)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(QColor(0, 0, 0, 160), 1))
    p.setBrush(QColor(*rgba))
    p.drawRoundedRect(QRectF(1, 1, size - 2, size - 2), 3, 3)
    p.end()
    return QIcon(pm)
