"""What the canvas view draws besides the projections: the checkerboard under the canvas and
the outline of the selection (the marching ants)."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPixmap, QPolygonF

CHECK_LIGHT = QColor(204, 204, 204)
CHECK_DARK = QColor(153, 153, 153)


def checker_brush(dpr: float) -> QBrush:
    cell = 8
    pm = QPixmap(QSize(round(2 * cell * dpr), round(2 * cell * dpr)))
    pm.setDevicePixelRatio(dpr)
    pm.fill(CHECK_LIGHT)
    p = QPainter(pm)
    p.fillRect(QRectF(0, 0, cell, cell), CHECK_DARK)
    p.fillRect(QRectF(cell, cell, cell, cell), CHECK_DARK)
    p.end()
    return QBrush(pm)


def selection_path(mask: np.ndarray | None) -> QPainterPath:
    """Outline of a selection mask as a painter path in canvas coordinates."""
    path = QPainterPath()
    if mask is None:
        return path
    binary = (mask >= 128).astype(np.uint8)
    # pad so outlines along the canvas edge close; contours then trace pixel edges
    padded = np.pad(binary, 1)
    contours, _ = cv2.findContours(padded, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for c in contours:
        pts = c.reshape(-1, 2).astype(np.float64) - 1 + 0.5
        if len(pts) == 1:
            path.addRect(QRectF(pts[0][0] - 0.5, pts[0][1] - 0.5, 1, 1))
            continue
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in pts]))
        path.closeSubpath()
    return path
