"""Round brush dabs for pixel layers: size, hardness, opacity, colour, eraser. No Qt.

A dab is computed as a patch for the rect it touches, so the document records it as a paint
command (one undo step per stroke) and recomposites only those tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from canvas.geometry import Rect


@dataclass(frozen=True)
class Brush:
    size: float = 24.0  # diameter in canvas pixels
    hardness: float = 0.8  # 0 = soft falloff, 1 = hard edge
    opacity: float = 1.0
    color: tuple[int, int, int] = (0, 0, 0)
    erase: bool = False
    spacing: float = 0.15  # distance between dabs as a fraction of the size


def dab_rect(x: float, y: float, size: float) -> Rect:
    r = size / 2 + 1
    return Rect.from_bounds(x - r, y - r, x + r, y + r)


def dab_coverage(rect: Rect, x: float, y: float, size: float, hardness: float) -> np.ndarray:
    """Float32 (h, w) coverage in [0, 1] of a round dab centred at canvas (x, y)."""
    r = max(size / 2, 0.5)
    ys = np.arange(rect.y, rect.bottom, dtype=np.float32) + 0.5 - y
    xs = np.arange(rect.x, rect.right, dtype=np.float32) + 0.5 - x
    d = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    hard = min(max(hardness, 0.0), 1.0)
    inner = r * hard
    # full inside the hard core, smooth falloff to 0 at the radius, 1px anti-aliased edge
    t = np.clip((r - d) / max(r - inner, 1.0), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def apply_dab(current: np.ndarray, coverage: np.ndarray, brush: Brush, pressure: float = 1.0) -> np.ndarray:
    """New straight RGBA for ``current`` (same shape) with one dab applied."""
    a = coverage * np.float32(brush.opacity * max(0.0, min(pressure, 1.0)))
    cur = current.astype(np.float32) / 255.0
    ca = cur[..., 3]
    if brush.erase:
        na = ca * (1.0 - a)
        out = cur.copy()
        out[..., 3] = na
    else:
        col = np.array(brush.color, np.float32) / 255.0
        na = a + ca * (1.0 - a)
        prem = col[None, None, :] * a[..., None] + cur[..., :3] * (ca * (1.0 - a))[..., None]
        rgb = np.where(na[..., None] > 0, prem / np.maximum(na, 1e-6)[..., None], 0.0)
        out = np.concatenate([rgb, na[..., None]], axis=-1)
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def stroke_points(x0: float, y0: float, x1: float, y1: float, brush: Brush, carry: float = 0.0):
    """Dab centres from (x0, y0) toward (x1, y1) at the brush spacing.

    ``carry`` is the distance already travelled since the last dab; returns the points and
    the new carry, so a stroke made of many small mouse moves keeps even spacing.
    """
    step = max(brush.size * brush.spacing, 0.5)
    dist = math.hypot(x1 - x0, y1 - y0)
    pts = []
    t = step - carry
    while t <= dist:
        f = t / dist if dist else 0.0
        pts.append((x0 + (x1 - x0) * f, y0 + (y1 - y0) * f))
        t += step
    new_carry = dist - (t - step) if pts else carry + dist
    return pts, new_carry


def dab(document, layer_id: str, x: float, y: float, brush: Brush, stroke: object, pressure: float = 1.0) -> Rect:
    """Paint one dab on a pixel layer of ``document``; returns the rect written."""
    layer = document.layer(layer_id)
    rect = dab_rect(x, y, brush.size).intersect(layer.bounds())
    if rect.empty:
        return rect
    cov = dab_coverage(rect, x, y, brush.size, brush.hardness)
    patch = apply_dab(layer.read(rect), cov, brush, pressure)
    return document.paint(layer_id, rect, patch, stroke=stroke, label="Erase" if brush.erase else "Brush stroke")


def dabs(document, layer_id: str, points, brush: Brush, stroke: object, pressure: float = 1.0,
         mask: np.ndarray | None = None) -> Rect:
    """Paint several dabs (one mouse move's worth) as a single paint of their bounding box.

    The pixels are exactly those of painting the dabs one by one; the document records one
    paint instead of one per dab. ``mask`` (canvas-sized uint8, e.g. the selection) scales
    each dab's coverage. Returns the rect written.
    """
    if not points:
        return Rect(0, 0, 0, 0)
    layer = document.layer(layer_id)
    rects = [dab_rect(x, y, brush.size) for x, y in points]
    area = Rect(0, 0, 0, 0)
    for r in rects:
        area = area.union(r)
    area = area.intersect(layer.bounds())
    if mask is not None:
        area = area.intersect(document.rect)
    if area.empty:
        return area
    patch = layer.read(area).copy()
    touched = False
    for (x, y), r in zip(points, rects, strict=True):
        r = r.intersect(area)
        if r.empty:
            continue
        cov = dab_coverage(r, x, y, brush.size, brush.hardness)
        if mask is not None:
            cov *= mask[r.slices()].astype(np.float32) / 255.0
            if not cov.any():
                continue
        sl = r.slices(area.x, area.y)
        patch[sl] = apply_dab(patch[sl], cov, brush, pressure)
        touched = True
    if not touched:
        return Rect(0, 0, 0, 0)
    return document.paint(layer_id, area, patch, stroke=stroke, label="Erase" if brush.erase else "Brush stroke")
