"""The cached projection: layers composited per tile, recomputed only where something changed.

A projection holds the composite of the layers whose role is in its ``roles`` as straight
uint8 RGBA. Changes mark rectangles dirty; ``update()`` recomposites only the dirty parts,
clipped to the tile grid. Within a tile, layers that are empty there are skipped, and
compositing starts from the topmost layer that covers the tile opaquely (normal blend, full
opacity), because nothing below it can show.

With numba (``canvas.kernels``) an update is a few compiled calls over all its dirty parts, and
an opacity, blend-mode or visibility change recomposites where the layer has pixels. Without
it, the numpy / OpenCV code below does the same per tile, and a layer whose properties change
twice in a row gets a ``canvas.focus.Focus`` cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from canvas import kernels
from canvas.blend import composite_into, premultiplied_float, straight_uint8
from canvas.focus import Focus
from canvas.geometry import Rect
from canvas.layers import Layer
from canvas.tiles import TILE, tile_range, tile_rect


class _Source:
    """One layer, flattened for the hot loop: its raster, bounds as ints, and tile statistics."""

    __slots__ = ("x0", "y0", "x1", "y1", "opacity", "normal", "blend", "pixels", "amax", "amin", "tx0", "ty0")

    def __init__(self, layer: Layer) -> None:
        pixels, r = layer.raster()
        layer.tile_alpha(0, 0)  # make sure the statistics exist
        st = layer._stats
        self.x0, self.y0, self.x1, self.y1 = r.x, r.y, r.right, r.bottom
        self.opacity = layer.opacity
        self.blend = layer.blend
        self.normal = layer.blend == "normal"
        self.pixels = pixels
        self.amax, self.amin, self.tx0, self.ty0 = st.amax, st.amin, st.tx0, st.ty0


def prepare(layers: Sequence[Layer]) -> list[_Source]:
    return [_Source(lyr) for lyr in layers if lyr.opacity > 0.0 and not lyr.bounds().empty]


def composite_rect(layers: Sequence[Layer], rect: Rect, tile: tuple[int, int] | None = None) -> np.ndarray:
    """Straight uint8 RGBA of ``rect`` with ``layers`` (bottom→top, all visible) composited.

    With ``tile`` given, ``rect`` lies inside that tile and per-tile alpha statistics are used
    to skip empty layers and start from the topmost opaque one (the compiled path always uses
    them, tile by tile: the same pixels as a projection's).
    """
    if kernels.enabled():
        out = np.empty((max(rect.h, 0), max(rect.w, 0), 4), np.uint8)
        kernels.Batch(prepare(layers)).run(kernels.parts_of(rect), out, (rect.x, rect.y))
        return out
    return _composite(prepare(layers), rect, tile)


def _candidates(sources: Sequence[_Source], rect: Rect, tile: tuple[int, int] | None):
    """The sources that show in ``rect`` (bottom→top), cut to it, and whether the first one covers it
    opaquely (so that nothing below it was kept)."""
    x0, y0, x1, y1 = rect.x, rect.y, rect.right, rect.bottom
    cands: list[tuple[_Source, int, int, int, int]] = []
    opaque_base = False
    for s in sources:
        ix0, iy0 = max(s.x0, x0), max(s.y0, y0)
        ix1, iy1 = min(s.x1, x1), min(s.y1, y1)
        if ix0 >= ix1 or iy0 >= iy1:
            continue
        if tile is not None:
            i, j = tile[1] - s.ty0, tile[0] - s.tx0
            amax = s.amax[i, j]
            if amax == 0:
                continue
            # over nothing (the first layer that shows here) every blend mode is "normal"
            if s.amin[i, j] == 255 and (s.normal or not cands) and s.opacity >= 1.0 \
                    and (ix0, iy0, ix1, iy1) == (x0, y0, x1, y1):
                cands = [(s, ix0, iy0, ix1, iy1)]  # hides everything below
                opaque_base = True
                continue
        cands.append((s, ix0, iy0, ix1, iy1))
    return cands, opaque_base


def _read(c) -> np.ndarray:
    s, ix0, iy0, ix1, iy1 = c
    return s.pixels[iy0 - s.y0 : iy1 - s.y0, ix0 - s.x0 : ix1 - s.x0]


def _opaque_normals(cands, rect: Rect) -> tuple[np.ndarray, list]:
    """Over an opaque backdrop (``cands[0]``) the result stays opaque, so "normal" layers are a
    per-pixel linear interpolation of straight colours: OpenCV's blendLinear does it in one SIMD
    pass. Returns the straight float32 (0–255) result of the leading normal layers, and the rest."""
    x0, y0 = rect.x, rect.y
    base = _read(cands[0]).astype(np.float32)
    k = 1
    while k < len(cands) and cands[k][0].normal:
        c = cands[k]
        px = _read(c)
        src = px.astype(np.float32)
        wgt = np.multiply(px[..., 3], np.float32(c[0].opacity / 255.0), dtype=np.float32)
        under = base[c[2] - y0 : c[4] - y0, c[1] - x0 : c[3] - x0]
        if under.flags.c_contiguous:  # whole rows: blended in place, no copies
            cv2.blendLinear(src, under, wgt, np.float32(1.0) - wgt, dst=under)
        else:
            under[...] = cv2.blendLinear(src, np.ascontiguousarray(under), wgt, np.float32(1.0) - wgt)
        k += 1
    base[..., 3] = 255.0
    return base, cands[k:]


def _blend_rest(buf: np.ndarray, rest, rect: Rect) -> np.ndarray:
    for c in rest:
        src = premultiplied_float(_read(c), c[0].opacity)
        # outside its bounds a layer is transparent, which leaves the backdrop as it is
        composite_into(buf[c[2] - rect.y : c[4] - rect.y, c[1] - rect.x : c[3] - rect.x], src, c[0].blend)
    return buf


def _composite(sources: Sequence[_Source], rect: Rect, tile: tuple[int, int] | None,
               out: np.ndarray | None = None) -> np.ndarray:
    """Straight uint8 RGBA of ``rect``; written into ``out`` (a view of that size) when given."""
    if out is None:
        out = np.empty((rect.h, rect.w, 4), np.uint8)
    cands, opaque_base = _candidates(sources, rect, tile)
    if not cands:
        out[...] = 0
        return out
    first = cands[0]
    s0 = first[0]
    # the first layer that shows lies over nothing: its blend mode makes no difference
    if len(cands) == 1 and s0.opacity >= 1.0 and first[1:] == (rect.x, rect.y, rect.right, rect.bottom):
        out[...] = _read(first)
        out[out[..., 3] == 0] = 0  # transparent pixels carry no colour
        return out
    if opaque_base:
        base, rest = _opaque_normals(cands, rect)
        if not rest:
            base += np.float32(0.5)  # numpy's two SIMD passes beat a scalar fused loop here (measured)
            out[...] = base.astype(np.uint8)
            return out
        buf = base * np.float32(1.0 / 255.0)  # opaque: straight == premultiplied
    else:
        buf, rest = np.zeros((rect.h, rect.w, 4), np.float32), cands
    out[...] = straight_uint8(_blend_rest(buf, rest, rect))
    return out


def premultiplied_composite(sources: Sequence[_Source], rect: Rect, tile: tuple[int, int] | None) -> np.ndarray:
    """As ``_composite``, but the premultiplied float32 (0–1) result, before rounding."""
    cands, opaque_base = _candidates(sources, rect, tile)
    if not cands:
        return np.zeros((rect.h, rect.w, 4), np.float32)
    if opaque_base:
        base, rest = _opaque_normals(cands, rect)
        buf = base * np.float32(1.0 / 255.0)
    else:
        buf, rest = np.zeros((rect.h, rect.w, 4), np.float32), cands
    return _blend_rest(buf, rest, rect)


# the most a focus (canvas.focus) may hold: whole translucent tiles keep X and Y as float32,
# 32 bytes a pixel (a 4096² layer: 512 MiB); a layer whose tiles would need more is recomposited
FOCUS_BYTES_PER_PIXEL = 32
MAX_FOCUS_BYTES = 1 << 30

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
        self._focus: Focus | None = None  # the layer whose opacity / mode / visibility is changing
        self._focus_layer: Layer | None = None
        self._focus_pending = False
        self._focus_candidate: Layer | None = None  # the last layer whose properties changed alone
        self.invalidate()
        self.tiles_composited = 0  # a counter, for tests and benchmarks

    @property
    def canvas(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    def resize(self, size: tuple[int, int]) -> None:
        """The canvas changed size: a new buffer, all of it to recomposite."""
        self.width, self.height = size
        self.pixels = np.zeros((self.height, self.width, 4), np.uint8)
        self._dirty = {}
        self.invalidate()

    def _drop_focus(self) -> None:
        if self._focus_pending and self._focus_layer is not None:
            # a change of the focused layer not yet shown: recomposite where it has pixels
            layer, self._focus_layer, self._focus_pending = self._focus_layer, None, False
            self.invalidate(layer.bounds())
        self._focus, self._focus_layer, self._focus_pending = None, None, False
        self._focus_candidate = None

    def layer_props_changed(self, layer: Layer) -> None:
        """``layer``'s opacity, blend mode or visibility changed, and nothing else did.

        A single change recomposites where the layer has pixels, as any change does. A second
        change of the same layer with nothing else changed in between (a slider drag, a mode
        list, the eye clicked again) builds its ``Focus`` (composites below and above it); the
        following ones are a multiply-add where it has pixels. Any other change
        (``invalidate``, ``resize``) drops it."""
        if layer.role not in self.roles:
            return
        if kernels.enabled():  # recompositing where it has pixels is faster than any cache
            self.invalidate(layer.bounds())
            return
        if self._focus_layer is layer:
            self._focus_pending = True
            return
        if self._focus_candidate is layer:
            self._drop_focus()
            self._focus_layer, self._focus_pending = layer, True
            return
        self.invalidate(layer.bounds())
        self._focus_candidate = layer

    def invalidate(self, rect: Rect | None = None) -> None:
        self._drop_focus()
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
        return bool(self._dirty) or self._focus_pending

    def dirty_rect(self) -> Rect:
        out = Rect(0, 0, 0, 0)
        for r in self._dirty.values():
            out = out.union(r)
        if self._focus_pending and self._focus_layer is not None:
            out = out.union(self._focus_layer.bounds().intersect(self.canvas))
        return out

    def _update_focus(self) -> Rect:
        """Show the focused layer's latest opacity / mode / visibility; returns what changed."""
        layer = self._focus_layer
        self._focus_pending = False
        if layer is None:
            return Rect(0, 0, 0, 0)
        layers = [lyr for lyr in self._layers() if lyr.role in self.roles]
        if not any(lyr is layer for lyr in layers) or layer.bounds().empty:
            self._focus, self._focus_layer = None, None
            return Rect(0, 0, 0, 0)
        if self._focus is None or not self._focus.set_mode(layer.blend):
            area = layer.bounds().intersect(self.canvas)
            txs, tys = tile_range(area)
            if len(txs) * len(tys) * TILE * TILE * FOCUS_BYTES_PER_PIXEL > MAX_FOCUS_BYTES:
                # too big to keep (a canvas-sized layer of a very large canvas): recomposite
                self.invalidate(area)
                return Rect(0, 0, 0, 0)
            i = next(k for k, lyr in enumerate(layers) if lyr is layer)
            below = prepare([lyr for lyr in layers[:i] if lyr.visible])
            above = prepare([lyr for lyr in layers[i + 1 :] if lyr.visible])
            lsrc = _Source(layer)
            self._focus = Focus.build(layer, below, above, lsrc, self.width, self.height,
                                      premultiplied_composite, _pool())
        focus = self._focus
        focus.apply(self.pixels, layer.opacity if layer.visible else 0.0, _pool())
        if focus.fallback:
            sources = prepare([lyr for lyr in layers if lyr.visible])
            for tile in focus.fallback:
                part = tile_rect(*tile).intersect(self.canvas)
                self.pixels[part.y : part.bottom, part.x : part.right] = _composite(sources, part, tile)
        return focus.rect

    def update(self, rect: Rect | None = None) -> Rect:
        """Recomposite dirty parts (only tiles touching ``rect`` if given); returns what changed.

        A pending change of the focused layer (``layer_props_changed``) is shown whole."""
        focused = self._update_focus() if self._focus_pending else Rect(0, 0, 0, 0)
        if not self._dirty:
            return focused
        if rect is None:
            todo = list(self._dirty.items())
            self._dirty = {}
        else:
            txs, tys = tile_range(rect.intersect(self.canvas))
            todo = [(k, self._dirty.pop(k)) for k in [(tx, ty) for ty in tys for tx in txs] if k in self._dirty]
        if not todo:
            return focused
        # render caches and statistics once, before any threads
        sources = prepare([lyr for lyr in self._layers() if lyr.visible and lyr.role in self.roles])

        if kernels.enabled():
            self._run_batch(sources, todo)
        elif len(todo) >= 16:
            # a few large chunks, not one task per tile: dispatching costs as much as a tile
            n = 2 * (os.cpu_count() or 1)
            chunks = [todo[k::n] for k in range(n)]
            list(_pool().map(lambda chunk: [self._work(sources, item) for item in chunk], chunks))
        else:
            for item in todo:
                self._work(sources, item)
        self.tiles_composited += len(todo)
        changed = focused
        for _, part in todo:
            changed = changed.union(part)
        return changed

    def _work(self, sources, item) -> None:
        tile, part = item
        _composite(sources, part, tile, self.pixels[part.y : part.bottom, part.x : part.right])

    def _run_batch(self, sources, todo) -> None:
        """All of ``todo`` in compiled calls (``canvas.kernels``), sorted by tile row; large
        updates as a few calls in the pool, each taking every n-th tile row."""
        batch = kernels.Batch(sources)
        parts = np.array([(p.x, p.y, p.right, p.bottom, t[0], t[1]) for t, p in todo], np.int64).reshape(-1, 6)
        parts = parts[np.lexsort((parts[:, 0], parts[:, 5]))]
        if len(parts) >= 16:
            rows = np.unique(parts[:, 5])
            n = 2 * (os.cpu_count() or 1)
            groups = [parts[np.isin(parts[:, 5], rows[k::n])] for k in range(min(n, len(rows)))]
            list(_pool().map(lambda g: batch.run(g, self.pixels), groups))
        else:
            batch.run(parts, self.pixels)

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
