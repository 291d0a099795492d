"""The cached projection: layers composited per tile, recomputed only where something changed.

A projection holds the composite of the layers whose role is in its ``roles`` as straight
uint8 RGBA. Changes mark rectangles dirty; ``update()`` recomposites only the dirty parts,
clipped to the tile grid. Within a tile, layers that are empty there are skipped, and
compositing starts from the topmost layer that covers the tile opaquely (normal blend, full
opacity), because nothing below it can show.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from canvas.blend import composite_into, premultiplied_float, straight_uint8
from canvas.geometry import Rect
from canvas.layers import Layer
from canvas.tiles import TILE, tile_range, tile_rect


def composite_rect(layers: Sequence[Layer], rect: Rect, tile: tuple[int, int] | None = None) -> np.ndarray:
    """Straight uint8 RGBA of ``rect`` with ``layers`` (bottom→top, all visible) composited.

    With ``tile`` given, ``rect`` lies inside that tile and per-tile alpha statistics are used
    to skip empty layers and start from the topmost opaque one.
    """
    candidates: list[Layer] = []
    opaque_base = False
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
                opaque_base = True
                continue
        candidates.append(layer)

    if not candidates:
        return np.zeros((rect.h, rect.w, 4), np.uint8)
    first = candidates[0]
    if len(candidates) == 1 and first.opacity >= 1.0 and first.blend == "normal" and first.bounds().contains(rect):
        out = first.read(rect).copy()
        out[out[..., 3] == 0] = 0  # transparent pixels carry no colour
        return out

    rest = candidates
    buf: np.ndarray | None = None
    if opaque_base:
        # Over an opaque backdrop the result stays opaque, so "normal" layers are a per-pixel
        # linear interpolation of straight colours: OpenCV's blendLinear does it in one SIMD
        # pass. Other blend modes continue on the premultiplied path below.
        base = first.read(rect).astype(np.float32)
        rest = candidates[1:]
        while rest and rest[0].blend == "normal":
            layer = rest.pop(0)
            inner = layer.bounds().intersect(rect)
            src = layer.read(inner).astype(np.float32)
            w = src[..., 3] * np.float32(layer.opacity / 255.0)
            sl = inner.slices(rect.x, rect.y)
            base[sl] = cv2.blendLinear(src, np.ascontiguousarray(base[sl]), w, np.float32(1.0) - w)
        base[..., 3] = 255.0
        if not rest:
            base += np.float32(0.5)
            return base.astype(np.uint8)
        buf = base * np.float32(1.0 / 255.0)  # opaque: straight == premultiplied
    if buf is None:
        buf = np.zeros((rect.h, rect.w, 4), np.float32)
    for layer in rest:
        inner = layer.bounds().intersect(rect)
        src = premultiplied_float(layer.read(inner), layer.opacity)
        # outside its bounds a layer is transparent, which leaves the backdrop as it is
        composite_into(buf[inner.slices(rect.x, rect.y)], src, layer.blend)
    return straight_uint8(buf)


BLOCK = 32  # dirty-tracking granularity: a small dab recomposites ~its own size, not whole tiles
_PER_TILE = TILE // BLOCK
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="composite")
    return _POOL


class Projection:
    """Cached composite of the visible layers whose role is in ``roles``.

    Dirty areas are tracked in 32 px blocks; an update recomposites, per 128 px tile, the
    bounding box of that tile's dirty blocks, using the tile's alpha statistics. Large
    updates are spread over a few threads (numpy releases the GIL in its loops).
    """

    def __init__(self, size: tuple[int, int], layers: Callable[[], list[Layer]], roles: frozenset[str]) -> None:
        self.width, self.height = size
        self.roles = roles
        self._layers = layers
        self.pixels = np.zeros((self.height, self.width, 4), np.uint8)
        self._dirty: dict[tuple[int, int], Rect] = {}  # tile -> dirty rect inside it
        self.invalidate()
        self.tiles_composited = 0  # a counter, for tests and benchmarks

    @property
    def canvas(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    def invalidate(self, rect: Rect | None = None) -> None:
        rect = self.canvas if rect is None else rect.intersect(self.canvas)
        if rect.empty:
            return
        # snap to blocks, then split by tiles
        bx0, by0 = rect.x // BLOCK * BLOCK, rect.y // BLOCK * BLOCK
        bx1 = -(-rect.right // BLOCK) * BLOCK
        by1 = -(-rect.bottom // BLOCK) * BLOCK
        snapped = Rect(bx0, by0, bx1 - bx0, by1 - by0).intersect(self.canvas)
        txs, tys = tile_range(snapped)
        dirty = self._dirty
        for ty in tys:
            for tx in txs:
                part = tile_rect(tx, ty).intersect(snapped)
                old = dirty.get((tx, ty))
                dirty[(tx, ty)] = part if old is None else old.union(part)

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def dirty_rect(self) -> Rect:
        out = Rect(0, 0, 0, 0)
        for r in self._dirty.values():
            out = out.union(r)
        return out

    def update(self, rect: Rect | None = None) -> Rect:
        """Recomposite dirty parts (only tiles touching ``rect`` if given); returns what changed."""
        if not self._dirty:
            return Rect(0, 0, 0, 0)
        if rect is None:
            todo = list(self._dirty.items())
            self._dirty = {}
        else:
            txs, tys = tile_range(rect.intersect(self.canvas))
            todo = [(k, self._dirty.pop(k)) for k in [(tx, ty) for ty in tys for tx in txs] if k in self._dirty]
        if not todo:
            return Rect(0, 0, 0, 0)
        layers = [lyr for lyr in self._layers() if lyr.visible and lyr.role in self.roles]
        for lyr in layers:
            lyr.tile_alpha(0, 0)  # render caches and statistics once, before any threads

        def work(item):
            (tx, ty), part = item
            self.pixels[part.slices()] = composite_rect(layers, part, (tx, ty))

        if len(todo) >= 16:
            list(_pool().map(work, todo))
        else:
            for item in todo:
                work(item)
        self.tiles_composited += len(todo)
        changed = Rect(0, 0, 0, 0)
        for _, part in todo:
            changed = changed.union(part)
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
