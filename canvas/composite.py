"""The cached projection: layers composited per tile, recomputed only where something changed.

A projection holds the composite of the layers whose role is in its ``roles`` as straight
uint8 RGBA. Changes mark rectangles dirty; ``update()`` recomposites only the dirty parts,
clipped to the tile grid. Within a tile, layers that are empty there are skipped, and
compositing starts from the topmost layer that covers the tile opaquely (normal blend, full
opacity), because nothing below it can show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from canvas.blend import composite_into, premultiplied_float, straight_uint8
from canvas.geometry import Rect
from canvas.layers import Layer
from canvas.tiles import tile_range, tile_rect


def composite_rect(layers: Sequence[Layer], rect: Rect, tile: tuple[int, int] | None = None) -> np.ndarray:
    """Straight uint8 RGBA of ``rect`` with ``layers`` (bottom→top, all visible) composited.

    With ``tile`` given, ``rect`` lies inside that tile and per-tile alpha statistics are used
    to skip empty layers and start from the topmost opaque one.
    """
    candidates: list[Layer] = []
    for layer in layers:
        b = layer.bounds()
        if b.intersect(rect).empty or layer.opacity <= 0.0:
            continue
        if tile is not None:
            amax, amin = layer.tile_alpha(*tile)
            if amax == 0:
                continue
            if amin == 255 and layer.opacity >= 1.0 and layer.blend == "normal" and b.contains(rect):
                candidates = [layer]  # hides everything below
                continue
        candidates.append(layer)

    if not candidates:
        return np.zeros((rect.h, rect.w, 4), np.uint8)
    first = candidates[0]
    if (
        len(candidates) == 1
        and first.opacity >= 1.0
        and first.blend == "normal"
        and first.bounds().contains(rect)
    ):
        out = first.read(rect).copy()
        out[out[..., 3] == 0] = 0  # transparent pixels carry no colour
        return out
    buf = np.zeros((rect.h, rect.w, 4), np.float32)
    for layer in candidates:
        inner = layer.bounds().intersect(rect)
        src = premultiplied_float(layer.read(inner), layer.opacity)
        # outside its bounds a layer is transparent, which leaves the backdrop as it is
        composite_into(buf[inner.slices(rect.x, rect.y)], src, layer.blend)
    return straight_uint8(buf)


class Projection:
    """Cached composite of the visible layers whose role is in ``roles``."""

    def __init__(self, size: tuple[int, int], layers: Callable[[], list[Layer]], roles: frozenset[str]) -> None:
        self.width, self.height = size
        self.roles = roles
        self._layers = layers
        self.pixels = np.zeros((self.height, self.width, 4), np.uint8)
        self._dirty: set[tuple[int, int]] = set()
        self.invalidate()
        self.tiles_composited = 0  # a counter, for tests and benchmarks

    @property
    def canvas(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    def invalidate(self, rect: Rect | None = None) -> None:
        rect = self.canvas if rect is None else rect.intersect(self.canvas)
        txs, tys = tile_range(rect)
        self._dirty.update((tx, ty) for ty in tys for tx in txs)

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def dirty_rect(self) -> Rect:
        out = Rect(0, 0, 0, 0)
        for tx, ty in self._dirty:
            out = out.union(tile_rect(tx, ty))
        return out.intersect(self.canvas)

    def update(self, rect: Rect | None = None) -> Rect:
        """Recomposite dirty tiles (only those inside ``rect`` if given); returns what changed."""
        if not self._dirty:
            return Rect(0, 0, 0, 0)
        if rect is None:
            todo = self._dirty
            self._dirty = set()
        else:
            txs, tys = tile_range(rect.intersect(self.canvas))
            want = {(tx, ty) for ty in tys for tx in txs}
            todo = self._dirty & want
            self._dirty -= todo
        layers = [lyr for lyr in self._layers() if lyr.visible and lyr.role in self.roles]
        changed = Rect(0, 0, 0, 0)
        for tx, ty in todo:
            t = tile_rect(tx, ty).intersect(self.canvas)
            self.pixels[t.slices()] = composite_rect(layers, t, (tx, ty))
            changed = changed.union(t)
        self.tiles_composited += len(todo)
        return changed

    def render(self, rect: Rect | None = None) -> np.ndarray:
        """A copy of the composite inside ``rect`` (whole canvas by default), brought up to date."""
        rect = self.canvas if rect is None else rect
        self.update(rect)
        inner = rect.intersect(self.canvas)
        if inner == rect:
            return self.pixels[rect.slices()].copy()
        out = np.zeros((rect.h, rect.w, 4), np.uint8)
        if not inner.empty:
            out[inner.slices(rect.x, rect.y)] = self.pixels[inner.slices()]
        return out
