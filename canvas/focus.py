"""The layer being changed: its opacity, visibility or blend mode, without numba.

Used only where the compiled tile pass (``canvas.kernels``) is off: with it, recompositing
where the layer has pixels is faster than this cache (issue 16, the 4096², 20-layer scene of
``benchmarks/document_bench.py``: a full recomposite 1.0–1.2× the memory floor against 2.8× for
applying this cache to the photo, and no build costing 10–16× the floor on the second change).
Without numba a full recomposite is about 8× the floor, and after its build this cache makes an
opacity drag of a canvas-sized paint layer 0.6×.

While one layer's opacity, blend mode or visibility changes (a slider drag, a mode list, the
eye button), everything else in the stack stays as it is. The second such change in a row
(``Projection.layer_props_changed``; a single change recomposites as any edit does) builds, in
each tile where the layer has pixels, the composite of the layers below it (B) and of the
normal layers above it (A, an isolated group: "over" is associative), as Krita does. Every
separable blend mode of the W3C formula is linear in the source's opacity ``o`` (the colour
``cs`` is the same at every opacity, and ``as = o·αL``), so with the layer composited at full
opacity, ``D = (B ⊕ L) − B``:

    out = A over (B + o·D) = X + o·Y,   X = A + (1 − αA)·B,   Y = (1 − αA)·D   (premultiplied)

A change is then one multiply-add per pixel where the layer has pixels (a hidden layer is
``o = 0``). Where the result is opaque at every ``o``, X and Y are kept as 16-bit fixed point
(1/128 of a level) and OpenCV's addWeighted writes the straight uint8 pixels in one SIMD pass;
elsewhere they stay float32 and go through the unpremultiply. Tiles the layer mostly covers with
no backdrop under it are kept whole; elsewhere only the layer's own pixels are kept, with flat
canvas indices. A blend-mode change recomputes Y from the kept B, L and 1 − αA of the pixels that
have a backdrop (elsewhere every mode gives the same). Tiles where a non-normal layer above shows are recomposited from
scratch on each change (the above group is not associative there). Results match a fresh
composite within one level (tests/canvas/test_focus.py).

Any other edit (pixels, another layer, order, size) drops all of this. A layer whose tiles would
need more than ``canvas.composite.MAX_FOCUS_BYTES`` is recomposited instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from canvas.blend import composite_into, premultiplied_float, straight_uint8
from canvas.geometry import Rect
from canvas.layers import Layer
from canvas.tiles import TILE, tile_range, tile_rect

FIX = 255.0 * 128.0  # premultiplied 0–1 -> int16 fixed point, 1/128 of a level
OPAQUE = 1.0 - 1e-5  # float alpha this close to 1 rounds to 255 whatever the colour rounding does
DENSE = 0.5  # a whole opaque tile where the layer covers at least this much is written as a block


class Focus:
    """Cached X, Y (see the module text) of one layer in one projection."""

    def __init__(self, layer: Layer, width: int, height: int) -> None:
        self.layer = layer
        self.mode = layer.blend
        self.width, self.height = width, height
        self.tiles: list[tuple[int, int]] = []  # where the layer has pixels
        self.fallback: list[tuple[int, int]] = []  # recomposited from scratch on each change
        # whole tiles: opaque ones as int16, the others as float32
        self.dense: list[tuple[Rect, np.ndarray, np.ndarray]] = []  # (tile, x int16, y int16)
        self.dense_g: list[tuple[Rect, np.ndarray, np.ndarray]] = []  # (tile, x float32, y float32)
        # sparse pixels: flat canvas indices, opaque ones (int16) first, then the others (float32)
        self.idx_o = np.zeros(0, np.int64)
        self.x_o = self.y_o = np.zeros((0, 4), np.int16)
        self.idx_g = np.zeros(0, np.int64)
        self.x_g = self.y_g = np.zeros((0, 4), np.float32)
        # what a blend-mode change needs, for the sparse pixels that have a backdrop (elsewhere
        # every mode gives the same): "o" / "g" -> (their rows in x_o / x_g, B, L, 1 − αA)
        self.mode_data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def rect(self) -> Rect:
        out = Rect(0, 0, 0, 0)
        for tx, ty in self.tiles:
            out = out.union(tile_rect(tx, ty))
        return out.intersect(Rect(0, 0, self.width, self.height))

    # --- building ------------------------------------------------------------------------------
    @classmethod
    def build(cls, layer: Layer, below: Sequence, above: Sequence, lsrc, width: int, height: int,
              premultiplied_composite: Callable, pool=None) -> Focus:
        """``below`` / ``above``: prepared sources (``canvas.composite._Source``) under and over
        ``layer``; ``lsrc`` the layer's own source (its opacity is not used);
        ``premultiplied_composite(sources, rect, tile)``: the compositor that owns the sources (passed in, so this
        module never imports ``canvas.composite``, which imports it)."""
        f = cls(layer, width, height)
        canvas = Rect(0, 0, width, height)
        lr = Rect(lsrc.x0, lsrc.y0, lsrc.x1 - lsrc.x0, lsrc.y1 - lsrc.y0).intersect(canvas)
        txs, tys = tile_range(lr)
        f.tiles = [(tx, ty) for ty in tys for tx in txs if lsrc.amax[ty - lsrc.ty0, tx - lsrc.tx0] > 0]

        def one(tile):
            rect = tile_rect(*tile).intersect(canvas)
            for s in above:
                if not s.normal and s.x0 < rect.right and rect.x < s.x1 and s.y0 < rect.bottom and rect.y < s.y1:
                    i, j = tile[1] - s.ty0, tile[0] - s.tx0
                    if s.amax[i, j] > 0:
                        return ("fallback", tile)
            b = premultiplied_composite(below, rect, tile)
            a = premultiplied_composite(above, rect, tile)
            inner = rect.intersect(lr)
            lpx = lsrc.pixels[inner.slices(lsrc.x0, lsrc.y0)]
            lp = np.zeros((rect.h, rect.w, 4), np.float32)
            lp[inner.slices(rect.x, rect.y)] = premultiplied_float(lpx, 1.0)
            d = b.copy()
            composite_into(d, lp, f.mode)
            d -= b
            k = np.float32(1.0) - a[..., 3:4]
            x = a + k * b
            y = k * d
            support = np.zeros((rect.h, rect.w), bool)
            support[inner.slices(rect.x, rect.y)] = lpx[..., 3] > 0
            xa = x[..., 3]
            opaque = (xa >= OPAQUE) & (xa + y[..., 3] >= OPAQUE)
            sensitive = support & (b[..., 3] > 0)  # pixels where the blend mode matters
            if rect.w == TILE and rect.h == TILE and support.mean() >= DENSE and not sensitive.any():
                if opaque.all():
                    return ("dense", rect, _fix(x), _fix(y))
                return ("dense_g", rect, x, y)
            m = support.reshape(-1)
            rows, cols = np.nonzero(support)
            flat = (rows + rect.y).astype(np.int64) * width + (cols + rect.x)
            op = opaque.reshape(-1)[m]
            xs, ys = x.reshape(-1, 4)[m], y.reshape(-1, 4)[m]
            sens = sensitive.reshape(-1)[m]
            out = []
            for sel in (op, ~op):
                part_sens = sens[sel]
                data = None
                if part_sens.any():
                    keep = np.zeros(m.shape, bool)
                    keep[np.flatnonzero(m)[sel][part_sens]] = True
                    data = (np.flatnonzero(part_sens), b.reshape(-1, 4)[keep], lp.reshape(-1, 4)[keep],
                            np.float32(1.0) - a.reshape(-1, 4)[keep][:, 3:4])
                out.append((flat[sel], xs[sel], ys[sel], data))
            (fo, xo, yo, do), (fg, xg, yg, dg) = out
            return ("sparse", (fo, _fix(xo), _fix(yo), do), (fg, xg, yg, dg))

        tiles = list(pool.map(one, f.tiles)) if pool is not None and len(f.tiles) >= 8 else [one(t) for t in f.tiles]
        sparse = []
        for got in tiles:
            kind = got[0]
            if kind == "fallback":
                f.fallback.append(got[1])
            elif kind == "dense":
                f.dense.append(got[1:])
            elif kind == "dense_g":
                f.dense_g.append(got[1:])
            else:
                sparse.append(got[1:])
        for k, tag in ((0, "o"), (1, "g")):
            parts = [t[k] for t in sparse]
            if not parts:
                continue
            setattr(f, "idx_" + tag, np.concatenate([p[0] for p in parts]))
            setattr(f, "x_" + tag, np.concatenate([p[1] for p in parts]))
            setattr(f, "y_" + tag, np.concatenate([p[2] for p in parts]))
            # what a mode change needs, with each sensitive pixel's row in these arrays
            rows, below, src, keep = [], [], [], []
            offset = 0
            for p in parts:
                if p[3] is not None:
                    rows.append(p[3][0] + offset)
                    below.append(p[3][1])
                    src.append(p[3][2])
                    keep.append(p[3][3])
                offset += len(p[0])
            if rows:
                f.mode_data[tag] = (np.concatenate(rows), np.concatenate(below), np.concatenate(src),
                                    np.concatenate(keep))
        return f

    # --- applying ------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> bool:
        """Recompute Y for another blend mode (whole tiles have no backdrop under the layer, so
        no mode changes them)."""
        if mode == self.mode:
            return True
        for tag, (rows, below, src, keep) in self.mode_data.items():
            d = below.copy()
            composite_into(d, src, mode)
            d -= below
            d *= keep
            if tag == "o":
                self.y_o[rows] = _fix(d)
            else:
                self.y_g[rows] = d
        self.mode = mode
        return True

    def apply(self, pixels: np.ndarray, opacity: float, pool=None) -> None:
        """Write the composite with the layer at ``opacity`` (0 when hidden) into ``pixels``."""
        o = float(opacity)
        chunk = 16  # tiles per task: a few large tasks for the pool

        def tiles(part):
            for r, x, y in part:
                view = pixels[r.y : r.bottom, r.x : r.right]
                if x.dtype == np.int16:
                    cv2.addWeighted(x, 1.0 / 128.0, y, o / 128.0, 0.0, dst=view, dtype=cv2.CV_8U)
                else:
                    view[...] = _linear_straight(x, y, o)

        work = self.dense + self.dense_g
        parts = [work[k : k + chunk] for k in range(0, len(work), chunk)]
        if pool is not None and len(parts) > 1:
            list(pool.map(tiles, parts))
        else:
            for part in parts:
                tiles(part)
        flat = pixels.reshape(-1, 4).view(np.uint32).reshape(-1)
        if len(self.idx_o):
            v = cv2.addWeighted(self.x_o, 1.0 / 128.0, self.y_o, o / 128.0, 0.0, dtype=cv2.CV_8U)
            flat[self.idx_o] = np.ascontiguousarray(v).view(np.uint32).reshape(-1)
        if len(self.idx_g):
            flat[self.idx_g] = _linear_straight(self.x_g, self.y_g, o).reshape(-1, 4).view(np.uint32).reshape(-1)

    def nbytes(self) -> int:
        arrays = [a for _, x, y in self.dense + self.dense_g for a in (x, y)]
        arrays += (self.idx_o, self.x_o, self.y_o, self.idx_g, self.x_g, self.y_g)
        arrays += [a for data in self.mode_data.values() for a in data]
        return sum(a.nbytes for a in arrays)


def _linear_straight(x: np.ndarray, y: np.ndarray, o: float) -> np.ndarray:
    """Straight uint8 of the premultiplied float32 ``x + o·y`` (same shape, last axis RGBA)."""
    p = y * np.float32(o)
    p += x
    return straight_uint8(p.reshape(-1, 1, 4)).reshape(x.shape)


def _fix(a: np.ndarray) -> np.ndarray:
    """Premultiplied float32 (here opaque, so straight) -> int16 fixed point (x 255·128)."""
    out = a * np.float32(FIX)
    np.rint(out, out=out)
    np.clip(out, -32767, 32767, out=out)
    return out.astype(np.int16)
