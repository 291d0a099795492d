"""A QImage mirror of one of the document's projections, updated only where the document
reports a change, with area-averaged mip levels for drawing it zoomed out.

Every level, the full size (0) included, is brought up to date only when it is drawn: zoomed
out, a change of a canvas-sized layer is premultiplied and averaged down in one compiled pass
(``canvas.kernels``) straight into the small level, and the full-size image waits until it is
shown (on a 4096² canvas that pass costs about what premultiplying the full size alone did).
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage

from canvas import kernels
from canvas.blend import premultiply_uint8
from canvas.geometry import Rect

EMPTY = Rect(0, 0, 0, 0)


def image_pixels(img: QImage) -> np.ndarray:
    """A ``Format_RGBA8888_Premultiplied`` image's pixels as a writable (h, w, 4) uint8 array over its
    own buffer."""
    h, w = img.height(), img.width()
    rows = np.frombuffer(img.bits(), np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return rows[:, : w * 4].reshape(h, w, 4)


class ProjectionCache:
    """A QImage mirror of one projection at full size plus mip levels, each built when first drawn."""

    def __init__(self, projection) -> None:
        self.projection = projection
        self.levels: dict[int, QImage] = {}
        self.level_dirty: dict[int, Rect] = {}  # per level made so far: what changed since it was drawn
        self._all_dirty = True

    @property
    def image(self) -> QImage:
        """The full-size image, up to date."""
        return self.level(0)

    def sync(self) -> Rect:
        """Bring the projection up to date; returns what changed (the levels catch up when drawn)."""
        proj = self.projection
        if self._all_dirty:
            proj.update()
            changed = proj.canvas
            self._all_dirty = False
        else:
            changed = proj.update()
        if not changed.empty:
            for k in self.levels:
                self.level_dirty[k] = self.level_dirty.get(k, EMPTY).union(changed)
        return changed

    def level(self, k: int) -> QImage:
        """Mip level ``k`` (1/2**k of the size), area-averaged from premultiplied pixels."""
        f = 1 << k
        proj = self.projection
        img = self.levels.get(k)
        dirty = self.level_dirty.pop(k, EMPTY)
        if img is None:
            lw, lh = -(-proj.width // f), -(-proj.height // f)
            img = self.levels[k] = QImage(lw, lh, QImage.Format.Format_RGBA8888_Premultiplied)
            dirty = proj.canvas
        if dirty.empty:
            return img
        px = image_pixels(img)
        src = proj.pixels
        if k == 0:
            if kernels.enabled():  # one compiled pass into the image (4096²: ~20 ms, numpy ~870)
                kernels.premultiply_rect(src.view(np.uint32)[..., 0], px.view(np.uint32)[..., 0],
                                         dirty.x, dirty.y, dirty.w, dirty.h)
            else:
                px[dirty.slices()] = premultiply_uint8(src[dirty.slices()])
            return img
        # snap to the level's grid
        x0, y0 = dirty.x // f * f, dirty.y // f * f
        x1, y1 = -(-dirty.right // f) * f, -(-dirty.bottom // f) * f
        if kernels.enabled():
            kernels.premultiply_downsample(src.view(np.uint32)[..., 0], px.view(np.uint32)[..., 0],
                                           x0 // f, y0 // f, (x1 - x0) // f, (y1 - y0) // f, f)
            return img
        full = self.level(0)  # (its own dirty part caught up first)
        block = np.zeros((y1 - y0, x1 - x0, 4), np.uint8)
        inner = Rect(x0, y0, x1 - x0, y1 - y0).intersect(proj.canvas)
        block[inner.slices(x0, y0)] = image_pixels(full)[inner.slices()]
        small = cv2.resize(block, ((x1 - x0) // f, (y1 - y0) // f), interpolation=cv2.INTER_AREA)
        px[y0 // f : y1 // f, x0 // f : x1 // f] = small.reshape((y1 - y0) // f, (x1 - x0) // f, 4)
        return img
