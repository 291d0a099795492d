"""Layer thumbnails: a layer's raster where it sits on the canvas, scaled into a small box
(annotation marks max-pooled so thin red lines stay visible)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QImage, QPainter

from canvas.layers import Layer
from desktop.qimage import paint_checker, rgba_to_qimage

THUMB = 40  # thumbnail box, logical pixels


def _max_pool(a: np.ndarray, step: int) -> np.ndarray:
    """Max over step×step blocks (the far edges padded with transparency), in two strided passes."""
    h, w = a.shape[:2]
    hh, ww = -(-h // step), -(-w // step)
    rows = np.zeros((hh, w, a.shape[2]), np.uint8)
    for k in range(min(step, h)):
        sl = a[k::step]
        np.maximum(rows[:len(sl)], sl, out=rows[:len(sl)])
    out = np.zeros((hh, ww, a.shape[2]), np.uint8)
    for k in range(min(step, w)):
        sl = rows[:, k::step]
        n = sl.shape[1]
        np.maximum(out[:, :n], sl, out=out[:, :n])
    return out


def render_thumbnail(layer: Layer, doc_size: tuple[int, int], box: int = THUMB, dpr: float = 1.0) -> QImage:
    """The layer's raster where it sits on the canvas, scaled into ``box`` (aspect kept).

    Large rasters are strided down to about twice the target before smooth scaling, so a
    4096² layer costs well under a millisecond of numpy work. Annotation marks are thin: they
    are max-pooled instead, so a 6 px red line stays visible in a 40 px thumbnail.
    """
    dw, dh = doc_size
    s = min(box / dw, box / dh)
    tw, th = max(1, round(dw * s)), max(1, round(dh * s))
    pw, ph = max(1, round(tw * dpr)), max(1, round(th * dpr))
    img = QImage(pw, ph, QImage.Format.Format_ARGB32_Premultiplied)
    img.setDevicePixelRatio(dpr)
    p = QPainter(img)
    paint_checker(p, QRect(0, 0, tw, th), 5)
    pixels, r = layer.raster()
    # the part of the raster that lies on the canvas
    x0, y0 = max(r.x, 0), max(r.y, 0)
    x1, y1 = min(r.x + r.w, dw), min(r.y + r.h, dh)
    if x1 > x0 and y1 > y0 and pixels.size:
        part = pixels[y0 - r.y:y1 - r.y, x0 - r.x:x1 - r.x]
        if layer.kind == "annotation":
            step = max(1, int(1.0 / (s * dpr)))  # pool straight down to the thumbnail's size
        else:
            step = max(1, int(1.0 / (s * dpr * 2)))  # about 2x, then smooth scaling
        cw, ch = x1 - x0, y1 - y0  # canvas area the drawn image covers
        if step > 1 and layer.kind == "annotation":
            part = _max_pool(part, step)
            cw, ch = part.shape[1] * step, part.shape[0] * step
        elif step > 1:
            part = part[::step, ::step]
        src = rgba_to_qimage(part)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(QRectF(x0 * s, y0 * s, cw * s, ch * s), src)
    p.end()
    return img
