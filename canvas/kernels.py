"""The projection's hot path, compiled by numba: many dirty tiles composited in one call.

numpy makes one pass over memory per operation, each with a temporary: premultiplying a layer,
blending it and unpremultiplying the result are a dozen passes, and calling a fused loop per
(layer, tile) pair from Python cost as much as the loop itself on the benchmark scene (issue 16:
about 4,900 pairs; picking each tile's layers, slicing views and dispatching took a quarter of a
full recomposite and held the GIL, so the second core waited). Here one call takes a list of
dirty parts and does all of it: picks each part's layers from the per-tile alpha statistics
(empty ones skipped, compositing starting from the topmost that covers the part opaquely,
exactly as ``canvas.composite._candidates``), blends them and writes straight uint8 pixels.

Layout and order, chosen by measurement (loops timed side by side on the scene of
``benchmarks/scenes.py``, 2-core machine): layers are read as one uint32 per pixel and the rows
being built are kept planar (a float32 plane per channel), which lets LLVM vectorise the loops
(15 µs a 128² tile against 40 µs for an interleaved float loop with a per-pixel branch, 46 µs in
16-bit integers). The parts of one tile row are done a few pixel rows at a time, all of them
left to right: a whole 128-row tile of a 4096-wide layer touches 128 pages for 64 KB, and with
20 layers the pages did not stay in the TLB (4 rows at a time: 52 ms for the whole scene on one
core; 16 rows: 120 ms; whole tiles: 110 ms). Layers are reached through their addresses, not a
numba typed list: taking an array out of a typed list counts a reference, and two threads doing
so for the same arrays slowed each other down.

Over an opaque backdrop the planes hold straight colour 0–255 and "normal" layers are one
interpolation each; otherwise, or from the first layer in another mode on, premultiplied 0–1 (as
``canvas.blend.composite_into``, every W3C separable mode). The results match the numpy paths
within a level (tests/canvas/test_composite.py).

The canvas view's premultiply into its QImage (``premultiply_rect``) and into a smaller mip level
(``premultiply_downsample``) are here too.

Without numba, or with ``AKAPEN_NO_NUMBA=1`` in the environment, ``ENABLED`` is False and the
projection and the view keep their numpy / OpenCV paths (the tests run both).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from canvas.blend import BLEND_MODES
from canvas.geometry import Rect
from canvas.tiles import TILE, tile_range, tile_rect

try:  # pragma: no cover - which branch runs depends on the installation
    import numba
    from numba import types
    from numba.extending import intrinsic

    ENABLED = os.environ.get("AKAPEN_NO_NUMBA", "") != "1"
except ImportError:  # pragma: no cover
    numba = None
    ENABLED = False


def enabled() -> bool:
    """Whether the projection uses this path: numba on, and one uint32 per pixel is
    R | G << 8 | B << 16 | A << 24 (a little-endian machine)."""
    return ENABLED and sys.byteorder == "little"


def _jit(fn):
    if numba is None:  # pragma: no cover
        return fn
    return numba.njit(nogil=True, cache=True, fastmath=True)(fn)


@_jit
def _separable(mode, cb, cs):
    """B(cb, cs) of the W3C separable modes, by their index in ``canvas.blend.BLEND_MODES``."""
    if mode == 1:  # multiply
        return cb * cs
    if mode == 2:  # screen
        return cb + cs - cb * cs
    if mode == 3:  # overlay: hard-light with the roles swapped
        return 2.0 * cs * cb if cb <= 0.5 else 1.0 - 2.0 * (1.0 - cs) * (1.0 - cb)
    if mode == 4:  # darken
        return min(cb, cs)
    if mode == 5:  # lighten
        return max(cb, cs)
    if mode == 6:  # hard-light
        return 2.0 * cb * cs if cs <= 0.5 else 1.0 - 2.0 * (1.0 - cb) * (1.0 - cs)
    if mode == 7:  # soft-light
        if cs <= 0.5:
            return cb - (1.0 - 2.0 * cs) * cb * (1.0 - cb)
        d = ((16.0 * cb - 12.0) * cb + 4.0) * cb if cb <= 0.25 else np.sqrt(cb)
        return cb + (2.0 * cs - 1.0) * (d - cb)
    if mode == 8:  # difference
        return abs(cb - cs)
    if mode == 9:  # add (Krita's and GIMP's reading of svg:plus)
        return min(cb + cs, 1.0)
    return cs  # normal


def _pointer_from_address(item):
    """An intrinsic turning an integer address into a raw pointer to ``item`` (numba reads the
    array there without counting references)."""

    def typer(typingctx, address):
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(types.CPointer(item)))

        return types.CPointer(item)(types.intp), codegen

    return intrinsic(typer)


if numba is not None:
    _u32_at, _u8_at = _pointer_from_address(types.uint32), _pointer_from_address(types.uint8)


# columns of ``geo``, one row per layer (``Batch``)
X0, Y0, X1, Y1, TX0, TY0, PIXELS, AMAX, AMIN, NTY, NTX = range(11)


@_jit
def _layer(geo, li):
    """Layer ``li``'s (h, w) uint32 pixels, a view made from their address (``Batch`` keeps the
    arrays alive during the call)."""
    return numba.carray(_u32_at(geo[li, PIXELS]), (geo[li, Y1] - geo[li, Y0], geo[li, X1] - geo[li, X0]))


@_jit
def _stat(geo, li, column, ti, tj):
    """Layer ``li``'s alpha max (``AMAX``) or min (``AMIN``) over tile row ``ti``, column ``tj``
    of its statistics."""
    return numba.carray(_u8_at(geo[li, column]), (geo[li, NTY], geo[li, NTX]))[ti, tj]


U = np.uintp  # unsigned indices: numba then emits no negative-index wraparound, and LLVM vectorises

# what a part needs, decided once from the statistics
EMPTY, COPY, OPAQUE, OPAQUE_THEN_PREMULTIPLIED, PREMULTIPLIED = 0, 1, 2, 3, 4


@_jit
def _over_opaque(buf, lay, sy, sx, rows, n, k, by, bx):
    """Straight-colour planes ``buf`` (3+, R, T) under ``rows`` × ``n`` uint32 pixels of layer
    ``lay`` from row ``sy`` column ``sx``, alpha times ``k`` = opacity / 255, written from row
    ``by`` column ``bx`` of the buffer."""
    for i in range(rows):
        row = lay[U(sy + i)]
        r0, r1, r2 = buf[0, U(by + i)], buf[1, U(by + i)], buf[2, U(by + i)]
        for j in range(U(n)):
            v = row[U(sx) + j]
            a = np.float32(v >> 24) * k
            c = U(bx) + j
            r0[c] += (np.float32(v & 255) - r0[c]) * a
            r1[c] += (np.float32((v >> 8) & 255) - r1[c]) * a
            r2[c] += (np.float32((v >> 16) & 255) - r2[c]) * a


@_jit
def _over_premultiplied(buf, lay, sy, sx, rows, n, k, by, bx):
    """Premultiplied 0–1 planes ``buf`` (4, R, T): dst = src + dst·(1 − αs)."""
    inv, one = np.float32(1.0 / 255.0), np.float32(1.0)
    for i in range(rows):
        row = lay[U(sy + i)]
        r0, r1, r2, r3 = buf[0, U(by + i)], buf[1, U(by + i)], buf[2, U(by + i)], buf[3, U(by + i)]
        for j in range(U(n)):
            v = row[U(sx) + j]
            a = np.float32(v >> 24) * k
            s = a * inv
            keep = one - a
            c = U(bx) + j
            r0[c] = np.float32(v & 255) * s + r0[c] * keep
            r1[c] = np.float32((v >> 8) & 255) * s + r1[c] * keep
            r2[c] = np.float32((v >> 16) & 255) * s + r2[c] * keep
            r3[c] = a + r3[c] * keep


@_jit
def _blend_mode(buf, lay, sy, sx, rows, n, k, by, bx, mode):
    """A W3C separable ``mode`` (its index in ``BLEND_MODES``) onto premultiplied planes."""
    inv = np.float32(1.0 / 255.0)
    one, zero = np.float32(1.0), np.float32(0.0)
    for i in range(rows):
        row = lay[U(sy + i)]
        r = U(by + i)
        for j in range(U(n)):
            v = row[U(sx) + j]
            sa = np.float32(v >> 24) * k
            if sa == zero:
                continue  # a transparent source leaves the backdrop in every mode
            c = U(bx) + j
            ba = buf[3, r, c]
            for ch in range(3):
                cs = np.float32((v >> (8 * ch)) & 255) * inv  # straight already
                cb_p = buf[ch, r, c]
                cb = min(max(cb_p / ba, zero), one) if ba > zero else cb_p
                buf[ch, r, c] = (cs * sa * (one - ba) + cb_p * (one - sa)
                                 + sa * ba * np.float32(_separable(mode, cb, cs)))
            buf[3, r, c] = sa + ba * (one - sa)


@_jit
def _copy(out, oy, ox, lay, sy, sx, rows, n):
    """The layer's pixels, with no colour where they are transparent."""
    zero = np.uint32(0)
    for i in range(rows):
        row, orow = lay[U(sy + i)], out[U(oy + i)]
        for j in range(U(n)):
            v = row[U(sx) + j]
            orow[U(ox) + j] = v if (v >> 24) != zero else zero


@_jit
def _read_straight(buf, lay, sy, sx, rows, n):
    """Straight-colour planes 0–255 of the opaque first layer."""
    for i in range(rows):
        row = lay[U(sy + i)]
        r0, r1, r2 = buf[0, U(i)], buf[1, U(i)], buf[2, U(i)]
        for j in range(U(n)):
            v = row[U(sx) + j]
            r0[j] = np.float32(v & 255)
            r1[j] = np.float32((v >> 8) & 255)
            r2[j] = np.float32((v >> 16) & 255)


@_jit
def _pack_opaque(out, oy, ox, buf, rows, n):
    half, hi = np.float32(0.5), np.float32(255.0)
    for i in range(rows):
        orow = out[U(oy + i)]
        r0, r1, r2 = buf[0, U(i)], buf[1, U(i)], buf[2, U(i)]
        for j in range(U(n)):
            r = np.uint32(min(r0[j] + half, hi))
            g = np.uint32(min(r1[j] + half, hi))
            b = np.uint32(min(r2[j] + half, hi))
            orow[U(ox) + j] = r | (g << 8) | (b << 16) | np.uint32(0xFF000000)


@_jit
def _pack_premultiplied(out, oy, ox, buf, rows, n):
    """Premultiplied planes -> straight uint8 RGBA, no colour where the alpha rounds to 0."""
    half, hi, zero = np.float32(0.5), np.float32(255.0), np.float32(0.0)
    least = np.float32(0.5 / 255.0)
    for i in range(rows):
        orow = out[U(oy + i)]
        r0, r1, r2, r3 = buf[0, U(i)], buf[1, U(i)], buf[2, U(i)], buf[3, U(i)]
        for j in range(U(n)):
            a = r3[j]
            s = hi / a if a >= least else zero
            r = np.uint32(min(max(r0[j] * s + half, zero), hi))
            g = np.uint32(min(max(r1[j] * s + half, zero), hi))
            b = np.uint32(min(max(r2[j] * s + half, zero), hi))
            al = np.uint32(min(max(a * hi + half, zero), hi))
            orow[U(ox) + j] = r | (g << 8) | (b << 16) | (al << 24)


@_jit
def _plan(geo, opacity, modes, parts, cand, box, ncand, kind, lead):
    """For each part: the layers that show in it (bottom→top, their boxes cut to the part),
    starting from the topmost that covers it opaquely, as ``canvas.composite._candidates``;
    which of the ways above composites it; how many layers lead in "normal" over the opaque one."""
    n = geo.shape[0]
    one = np.float32(1.0)
    for p in range(parts.shape[0]):
        x0, y0, x1, y1, tx, ty = parts[p, 0], parts[p, 1], parts[p, 2], parts[p, 3], parts[p, 4], parts[p, 5]
        m = 0
        opaque = False
        for li in range(n):
            ix0, iy0 = max(geo[li, X0], x0), max(geo[li, Y0], y0)
            ix1, iy1 = min(geo[li, X1], x1), min(geo[li, Y1], y1)
            if ix0 >= ix1 or iy0 >= iy1:
                continue
            ti, tj = ty - geo[li, TY0], tx - geo[li, TX0]
            if _stat(geo, li, AMAX, ti, tj) == 0:
                continue
            # over nothing (the first layer that shows here) every blend mode is "normal"
            if (_stat(geo, li, AMIN, ti, tj) == 255 and (modes[li] == 0 or m == 0) and opacity[li] >= one
                    and ix0 == x0 and iy0 == y0 and ix1 == x1 and iy1 == y1):
                m = 0
                opaque = True  # hides everything below
            cand[p, m] = li
            box[p, m, 0], box[p, m, 1], box[p, m, 2], box[p, m, 3] = ix0, iy0, ix1, iy1
            m += 1
        ncand[p] = m
        kind[p] = PREMULTIPLIED
        lead[p] = 0
        if m == 0:
            kind[p] = EMPTY
            continue
        f = cand[p, 0]
        full = box[p, 0, 0] == x0 and box[p, 0, 1] == y0 and box[p, 0, 2] == x1 and box[p, 0, 3] == y1
        if m == 1 and opacity[f] >= one and full:
            kind[p] = COPY
        elif opaque:
            k = 1
            while k < m and modes[cand[p, k]] == 0:
                k += 1
            lead[p] = k
            kind[p] = OPAQUE if k == m else OPAQUE_THEN_PREMULTIPLIED


@_jit
def _part_rows(geo, opacity, modes, parts, cand, box, ncand, kind, lead, p, ya, yb, out, ox, oy, buf):
    """Rows ``ya``…``yb`` (at most ``ROWS``) of part ``p``, into ``out`` whose pixel (0, 0) is
    canvas pixel (``ox``, ``oy``)."""
    inv, one = np.float32(1.0 / 255.0), np.float32(1.0)
    x0, x1 = parts[p, 0], parts[p, 2]
    w, rows = x1 - x0, yb - ya
    wy, wx = ya - oy, x0 - ox  # where in ``out``
    kd = kind[p]
    if kd == EMPTY:
        for i in range(rows):
            orow = out[U(wy + i)]
            for j in range(U(w)):
                orow[U(wx) + j] = 0
        return
    f = cand[p, 0]
    if kd == COPY:
        _copy(out, wy, wx, _layer(geo, f), ya - geo[f, Y0], x0 - geo[f, X0], rows, w)
        return
    start = 0
    if kd == PREMULTIPLIED:
        buf[:, :rows, :w] = 0.0
    else:
        _read_straight(buf, _layer(geo, f), ya - geo[f, Y0], x0 - geo[f, X0], rows, w)
        start = lead[p]
    for q in range(1 if start else 0, ncand[p]):
        if q == start and kd == OPAQUE_THEN_PREMULTIPLIED:  # opaque: straight == premultiplied, 0–1
            for i in range(rows):
                for j in range(U(w)):
                    buf[0, i, j] *= inv
                    buf[1, i, j] *= inv
                    buf[2, i, j] *= inv
                    buf[3, i, j] = one
        r0, r1 = max(box[p, q, 1], ya), min(box[p, q, 3], yb)
        if r0 >= r1:
            continue
        li = cand[p, q]
        bx0, bx1 = box[p, q, 0], box[p, q, 2]
        args = (r0 - geo[li, Y0], bx0 - geo[li, X0], r1 - r0, bx1 - bx0, opacity[li] * inv, r0 - ya, bx0 - x0)
        if q < start:
            _over_opaque(buf, _layer(geo, li), *args)
        elif modes[li] == 0 or q == 0:  # over nothing (q == 0) every mode is "normal"
            _over_premultiplied(buf, _layer(geo, li), *args)
        else:
            _blend_mode(buf, _layer(geo, li), *args, modes[li])
    if kd == OPAQUE:
        _pack_opaque(out, wy, wx, buf, rows, w)
    else:
        _pack_premultiplied(out, wy, wx, buf, rows, w)


ROWS = 4  # pixel rows of a tile row done at a time (4, 8, 16, 128 measured: 4 was fastest)


@_jit
def composite_parts(geo, opacity, modes, parts, out, ox, oy):
    """Composite each dirty part into ``out`` (H, W) uint32 (straight RGBA).

    ``geo`` (n, 11) int64, a row per visible layer bottom→top (columns ``X0``…``NTX``: bounds,
    the first tile column / row of its alpha statistics, the addresses of its (h, w) uint32
    pixels and of its per-tile alpha max / min, their shape); ``opacity`` (n,) float32;
    ``modes`` (n,) int64 (index in ``BLEND_MODES``, 0 = normal); ``parts`` (m, 6) int64:
    x0, y0, x1, y1 of a part lying inside tile (tx, ty), sorted by tile row; ``out``'s pixel
    (0, 0) is canvas pixel (``ox``, ``oy``). The parts of one tile row are planned together (the
    plan's arrays grow with the parts of a row, not of the canvas) and done ``ROWS`` pixel rows at
    a time, all of them left to right."""
    n, np_ = geo.shape[0], parts.shape[0]
    widest = 0  # the most parts in one tile row: the plan is made a tile row at a time
    p = 0
    while p < np_:
        q = p
        while q < np_ and parts[q, 5] == parts[p, 5]:
            q += 1
        widest = max(widest, q - p)
        p = q
    cand = np.empty((widest, n), np.int64)
    box = np.empty((widest, n, 4), np.int64)
    ncand = np.empty(widest, np.int64)
    kind = np.empty(widest, np.int64)
    lead = np.empty(widest, np.int64)
    buf = np.empty((4, ROWS, TILE), np.float32)
    p = 0
    while p < np_:
        q = p
        ymin, ymax = parts[p, 1], parts[p, 3]
        while q < np_ and parts[q, 5] == parts[p, 5]:
            ymin, ymax = min(ymin, parts[q, 1]), max(ymax, parts[q, 3])
            q += 1
        row = parts[p:q]
        _plan(geo, opacity, modes, row, cand, box, ncand, kind, lead)
        for ya in range(ymin, ymax, ROWS):
            for r in range(q - p):
                a, b = max(ya, row[r, 1]), min(ya + ROWS, row[r, 3])
                if a < b:
                    _part_rows(geo, opacity, modes, row, cand, box, ncand, kind, lead, r, a, b, out, ox, oy, buf)
        p = q


class Batch:
    """The sources of one update, in the form ``composite_parts`` takes."""

    def __init__(self, sources) -> None:
        n = self.n = len(sources)
        self.geo = np.empty((n, 11), np.int64)
        self.opacity = np.empty(n, np.float32)
        self.modes = np.empty(n, np.int64)
        self.keep = []  # the arrays whose addresses are in ``geo``, alive as long as it is
        for k, s in enumerate(sources):
            px = np.ascontiguousarray(s.pixels)
            amax, amin = np.ascontiguousarray(s.amax), np.ascontiguousarray(s.amin)
            # the compiled code reads through raw addresses: shapes that disagree must never reach it
            tiles = tile_range(Rect(s.x0, s.y0, s.x1 - s.x0, s.y1 - s.y0))
            if (px.dtype != np.uint8 or px.shape != (s.y1 - s.y0, s.x1 - s.x0, 4)
                    or amax.shape != (len(tiles[1]), len(tiles[0])) or amin.shape != amax.shape
                    or amax.dtype != np.uint8 or amin.dtype != np.uint8):
                raise ValueError(f"a layer's pixels {px.dtype} {px.shape} or tile statistics {amax.shape} do not "
                                 f"match its bounds {s.x1 - s.x0}×{s.y1 - s.y0} at ({s.x0}, {s.y0})")
            self.keep += (px, amax, amin)
            self.geo[k] = (s.x0, s.y0, s.x1, s.y1, s.tx0, s.ty0, px.ctypes.data, amax.ctypes.data,
                           amin.ctypes.data, amax.shape[0], amax.shape[1])
            self.opacity[k] = s.opacity
            self.modes[k] = BLEND_MODES.index(s.blend)

    def run(self, parts: np.ndarray, pixels: np.ndarray, origin: tuple[int, int] = (0, 0)) -> None:
        """Composite ``parts`` ((m, 6) int64: x0, y0, x1, y1, tile column, tile row; sorted by
        tile row) into ``pixels`` ((h, w, 4) uint8, C-contiguous), whose pixel (0, 0) is canvas
        pixel ``origin``."""
        if not pixels.flags.c_contiguous:
            raise ValueError("the pixels to composite into must be C-contiguous")
        out = pixels.view(np.uint32).reshape(pixels.shape[:2])
        ox, oy = origin
        if self.n == 0:
            for x0, y0, x1, y1, _, _ in parts:
                out[y0 - oy:y1 - oy, x0 - ox:x1 - ox] = 0
            return
        composite_parts(self.geo, self.opacity, self.modes, parts, out, int(ox), int(oy))


def parts_of(rect) -> np.ndarray:
    """``rect`` cut along the tile grid, as ``Batch.run`` takes it (sorted by tile row)."""
    txs, tys = tile_range(rect)
    rows = [(p.x, p.y, p.right, p.bottom, tx, ty) for ty in tys for tx in txs
            for p in (tile_rect(tx, ty).intersect(rect),)]
    return np.array(rows, np.int64).reshape(-1, 6)


@_jit
def premultiply_rect(src, dst, x, y, w, h):
    """``dst`` = premultiplied ``src`` in rows ``y``… and columns ``x``…; both (H, W) uint32
    straight / premultiplied RGBA, ``(c·a + 127) // 255`` as ``canvas.blend.premultiply_uint8``."""
    for i in range(h):
        srow, drow = src[U(y + i)], dst[U(y + i)]
        for j in range(U(w)):
            v = srow[U(x) + j]
            a = v >> 24
            r = ((v & 255) * a + 127) // 255
            g = (((v >> 8) & 255) * a + 127) // 255
            b = (((v >> 16) & 255) * a + 127) // 255
            drow[U(x) + j] = r | (g << 8) | (b << 16) | (a << 24)


@_jit
def premultiply_downsample(src, dst, lx, ly, lw, lh, f):
    """Rows ``ly``… and columns ``lx``… of ``dst``, a level ``f`` times smaller than ``src`` (both
    (H, W) uint32, straight / premultiplied RGBA): each pixel the rounded mean of the premultiplied
    ``f``×``f`` block under it (outside ``src`` counts as transparent), as ``premultiply_rect`` and
    then OpenCV's INTER_AREA resize by a whole factor give it, in one pass: the ``f`` rows of a
    level row are premultiplied and summed into planes first (a loop LLVM vectorises), then
    summed ``f`` columns at a time."""
    height, width = src.shape[0], src.shape[1]
    lw, lh = min(lw, dst.shape[1] - lx), min(lh, dst.shape[0] - ly)
    if lw <= 0 or lh <= 0:
        return
    xs = lx * f
    nx = min((lx + lw) * f, width) - xs
    acc = np.zeros((4, lw * f), np.uint32)  # columns past the canvas stay 0: transparent
    r0, r1, r2, r3 = acc[0], acc[1], acc[2], acc[3]
    n = np.uint32(f * f)
    half = n // np.uint32(2)
    for i in range(lh):
        acc[:, :] = 0
        for dy in range(f):
            y = (ly + i) * f + dy
            if y >= height:
                break
            srow = src[U(y)]
            for x in range(U(nx)):
                v = srow[U(xs) + x]
                a = v >> 24
                r0[x] += ((v & 255) * a + 127) // 255
                r1[x] += (((v >> 8) & 255) * a + 127) // 255
                r2[x] += (((v >> 16) & 255) * a + 127) // 255
                r3[x] += a
        drow = dst[U(ly + i)]
        for j in range(U(lw)):
            s0 = s1 = s2 = s3 = np.uint32(0)
            for dx in range(U(f)):
                x = j * U(f) + dx
                s0 += r0[x]
                s1 += r1[x]
                s2 += r2[x]
                s3 += r3[x]
            drow[U(lx) + j] = (((s0 + half) // n) | (((s1 + half) // n) << 8) | (((s2 + half) // n) << 16)
                               | (((s3 + half) // n) << 24))
