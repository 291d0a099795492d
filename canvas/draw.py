"""Anti-aliased rendering of annotation marks into RGBA arrays (OpenCV and Pillow, no Qt).

Marks are drawn onto a transparent premultiplied buffer: OpenCV's anti-aliased primitives
blend each channel toward the colour by coverage, which is exactly premultiplied "over" when
the colour is given premultiplied. The buffer is converted to straight RGBA at the end.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from canvas.blend import unpremultiply_uint8
from canvas.geometry import Rect
from canvas.marks import Arrow, Ellipse, Mark, Rectangle, Stroke, TextLabel

_SHIFT = 4  # sub-pixel bits for OpenCV coordinates
_ONE = 1 << _SHIFT


def _fx(v: float) -> int:
    return int(round(v * _ONE))


def _pt(p, ox: int, oy: int) -> tuple[int, int]:
    # pixel centres: canvas point (x, y) lies at array index (x - 0.5, y - 0.5)
    return (_fx(p[0] - ox - 0.5), _fx(p[1] - oy - 0.5))


def _premul_color(color) -> tuple[int, int, int, int]:
    r, g, b, a = color
    return (r * a // 255, g * a // 255, b * a // 255, a)


def _thickness(width: float) -> int:
    return max(1, int(round(width)))


@lru_cache(maxsize=16)
def _font(size: int):
    return ImageFont.load_default(size=size)


def _draw_text(buf: np.ndarray, mark: TextLabel, ox: int, oy: int) -> None:
    h, w = buf.shape[:2]
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).multiline_text(
        (mark.pos[0] - ox, mark.pos[1] - oy), mark.text, fill=255, font=_font(max(4, int(round(mark.size))))
    )
    cov = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    col = np.array(_premul_color(mark.color), dtype=np.float32)
    buf[:] = (buf.astype(np.float32) * (1.0 - cov) + col * cov + 0.5).astype(np.uint8)


def draw_mark(buf: np.ndarray, mark: Mark, ox: int = 0, oy: int = 0) -> None:
    """Draw ``mark`` onto premultiplied uint8 RGBA ``buf`` whose (0, 0) is canvas (ox, oy)."""
    col = _premul_color(mark.color)
    th = _thickness(mark.width)
    aa = cv2.LINE_AA
    if isinstance(mark, Stroke):
        pts = np.array([_pt(p, ox, oy) for p in mark.points_], dtype=np.int32)
        if len(pts) == 1:
            cv2.circle(buf, tuple(int(v) for v in pts[0]), _fx(mark.width / 2), col, -1, aa, _SHIFT)
        else:
            cv2.polylines(buf, [pts], False, col, th, aa, _SHIFT)
    elif isinstance(mark, Arrow):
        (x0, y0), (x1, y1) = mark.start, mark.end
        length = math.hypot(x1 - x0, y1 - y0)
        if length < 1e-6:
            cv2.circle(buf, _pt(mark.start, ox, oy), _fx(mark.width / 2), col, -1, aa, _SHIFT)
            return
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        head = mark.head_size()
        base = (x1 - ux * head, y1 - uy * head)
        half = head * 0.5
        left = (base[0] - uy * half, base[1] + ux * half)
        right = (base[0] + uy * half, base[1] - ux * half)
        # shaft stops inside the head so its square end never pokes out of the tip
        shaft_end = (x1 - ux * head * 0.5, y1 - uy * head * 0.5)
        cv2.line(buf, _pt(mark.start, ox, oy), _pt(shaft_end, ox, oy), col, th, aa, _SHIFT)
        tri = np.array([_pt(mark.end, ox, oy), _pt(left, ox, oy), _pt(right, ox, oy)], np.int32)
        cv2.fillConvexPoly(buf, tri, col, aa, _SHIFT)
    elif isinstance(mark, Ellipse):
        x0, y0, x1, y1 = mark.box()
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        axes = (_fx(max((x1 - x0) / 2, 0.5)), _fx(max((y1 - y0) / 2, 0.5)))
        cv2.ellipse(buf, _pt(centre, ox, oy), axes, 0, 0, 360, col, th, aa, _SHIFT)
    elif isinstance(mark, Rectangle):
        x0, y0, x1, y1 = mark.box()
        pts = np.array(
            [_pt(p, ox, oy) for p in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))], np.int32
        )
        cv2.polylines(buf, [pts], True, col, th, aa, _SHIFT)
    elif isinstance(mark, TextLabel):
        _draw_text(buf, mark, ox, oy)
    else:  # pragma: no cover - every kind is listed above
        raise TypeError(f"cannot draw {type(mark).__name__}")


def render_marks(marks, rect: Rect) -> np.ndarray:
    """Straight uint8 RGBA of ``rect`` with every mark drawn (bottom to top, in order)."""
    buf = np.zeros((rect.h, rect.w, 4), dtype=np.uint8)
    for m in marks:
        if m.bounds().intersect(rect).empty:
            continue
        draw_mark(buf, m, rect.x, rect.y)
    return unpremultiply_uint8(buf)


def marks_mask(marks, rect: Rect, fill_closed: bool = True, grow: float = 0.0) -> np.ndarray:
    """uint8 mask (0/255) of ``rect``: closed shapes filled, open marks as thick strokes."""
    mask = np.zeros((rect.h, rect.w), dtype=np.uint8)
    for m in marks:
        if fill_closed and isinstance(m, Ellipse):
            x0, y0, x1, y1 = m.box()
            centre = ((x0 + x1) / 2, (y0 + y1) / 2)
            axes = (_fx(max((x1 - x0) / 2, 0.5)), _fx(max((y1 - y0) / 2, 0.5)))
            cv2.ellipse(mask, _pt(centre, rect.x, rect.y), axes, 0, 0, 360, 255, -1, cv2.LINE_8, _SHIFT)
        elif fill_closed and isinstance(m, Rectangle):
            x0, y0, x1, y1 = m.box()
            pts = np.array([_pt(p, rect.x, rect.y) for p in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))], np.int32)
            cv2.fillPoly(mask, [pts], 255, cv2.LINE_8, _SHIFT)
        buf = np.zeros((rect.h, rect.w, 4), dtype=np.uint8)
        draw_mark(buf, m, rect.x, rect.y)
        mask = np.maximum(mask, np.where(buf[..., 3] > 0, 255, 0).astype(np.uint8))
    if grow > 0:
        k = int(math.ceil(grow)) * 2 + 1
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return mask
