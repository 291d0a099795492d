"""Which red-pen mark is under a point: distances to each kind of mark's outline, the nearest
mark on some annotation layers, the text label whose box holds a point."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF

from canvas.layers import AnnotationLayer
from canvas.marks import Arrow, Ellipse, Mark, Rectangle, Stroke, TextLabel


def _seg_dist(p, a, b) -> float:
    ax, ay = a
    bx, by = b
    px, py = p
    dx, dy = bx - ax, by - ay
    L2 = dx * dx + dy * dy
    t = 0.0 if L2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / L2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def mark_distance(mark: Mark, p: tuple[float, float]) -> tuple[float, bool]:
    """(distance from ``p`` to the mark's outline, whether ``p`` is inside a closed/text mark)."""
    if isinstance(mark, Stroke):
        pts = mark.points()
        if len(pts) == 1:
            return math.dist(p, pts[0]), False
        return min(_seg_dist(p, pts[i], pts[i + 1]) for i in range(len(pts) - 1)), False
    if isinstance(mark, Arrow):
        return _seg_dist(p, mark.start, mark.end), False
    if isinstance(mark, Rectangle):
        x0, y0, x1, y1 = mark.box()
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        d = min(_seg_dist(p, corners[i], corners[(i + 1) % 4]) for i in range(4))
        return d, x0 <= p[0] <= x1 and y0 <= p[1] <= y1
    if isinstance(mark, Ellipse):
        x0, y0, x1, y1 = mark.box()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        rx, ry = max((x1 - x0) / 2, 0.5), max((y1 - y0) / 2, 0.5)
        q = math.hypot((p[0] - cx) / rx, (p[1] - cy) / ry)
        return abs(q - 1.0) * min(rx, ry), q <= 1.0
    if isinstance(mark, TextLabel):
        b = mark.bounds()
        inside = b.x <= p[0] <= b.right and b.y <= p[1] <= b.bottom
        dx = max(b.x - p[0], 0, p[0] - b.right)
        dy = max(b.y - p[1], 0, p[1] - b.bottom)
        return (0.0 if inside else math.hypot(dx, dy)), inside
    b = mark.bounds()
    return math.hypot(max(b.x - p[0], 0, p[0] - b.right), max(b.y - p[1], 0, p[1] - b.bottom)), False


def nearest_mark(layers, p, tolerance: float):
    """(layer, mark) nearest to ``p`` on the given annotation layers, or None.

    A mark whose outline is within ``tolerance`` (plus half its width) wins; otherwise the
    smallest closed shape or text label containing ``p``.
    """
    best = None
    inside_best = None
    for layer in layers:
        for mark in layer.marks:
            d, inside = mark_distance(mark, p)
            d -= mark.width / 2
            if d <= tolerance and (best is None or d < best[0]):
                best = (d, layer, mark)
            if inside:
                b = mark.bounds()
                if inside_best is None or b.area < inside_best[0]:
                    inside_best = (b.area, layer, mark)
    if best is not None:
        return best[1], best[2]
    if inside_best is not None:
        return inside_best[1], inside_best[2]
    return None


def text_label_at(doc, p: QPointF) -> tuple[AnnotationLayer, TextLabel] | None:
    """The topmost visible text label whose box holds ``p``."""
    for layer in reversed(doc.layers):
        if isinstance(layer, AnnotationLayer) and layer.visible:
            for mark in reversed(layer.marks):
                if isinstance(mark, TextLabel) and mark_distance(mark, (p.x(), p.y()))[1]:
                    return layer, mark
    return None
