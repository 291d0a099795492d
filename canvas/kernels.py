"""Fused per-pixel loops for the compositing hot paths, compiled by numba when it is installed.

numpy makes one pass over memory per operation, each with a temporary: premultiplying a layer,
blending it and unpremultiplying the result are a dozen passes. These loops do the whole
computation of a pixel in registers, in one pass over each input (issue 16 measured the
difference side by side; see benchmarks/document_bench.py). The functions release the GIL, so
the projection's thread pool runs them on several cores.

Without numba, or with ``AKAPEN_NO_NUMBA=1`` in the environment, ``ENABLED`` is False and the
callers keep their numpy / OpenCV paths (the tests run both).
"""

from __future__ import annotations

import os

import numpy as np

try:  # pragma: no cover - which branch runs depends on the installation
    import numba

    ENABLED = os.environ.get("AKAPEN_NO_NUMBA", "") != "1"
except ImportError:  # pragma: no cover
    numba = None
    ENABLED = False


def _jit(fn):
    if numba is None:  # pragma: no cover
        return fn
    return numba.njit(nogil=True, cache=True, fastmath=True)(fn)


# float32 arithmetic, the alpha tested as an integer and the channels written out: measured
# ~2x faster than the plain loop (the branch skips a sparse layer's empty pixels cheaply)
@_jit
def over_opaque(base, px, opacity):
    """Normal blend of straight uint8 ``px`` (its alpha times ``opacity``) onto ``base``, the
    straight float32 0–255 colour of an opaque backdrop, in place (alpha channel untouched)."""
    k = np.float32(opacity / 255.0)
    h, w = px.shape[0], px.shape[1]
    for i in range(h):
        for j in range(w):
            al = px[i, j, 3]
            if al != 0:
                a = np.float32(al) * k
                b0, b1, b2 = base[i, j, 0], base[i, j, 1], base[i, j, 2]
                base[i, j, 0] = b0 + (np.float32(px[i, j, 0]) - b0) * a
                base[i, j, 1] = b1 + (np.float32(px[i, j, 1]) - b1) * a
                base[i, j, 2] = b2 + (np.float32(px[i, j, 2]) - b2) * a


@_jit
def over_premultiplied(dst, px, opacity):
    """Normal blend of straight uint8 ``px`` (alpha times ``opacity``) onto premultiplied
    float32 0–1 ``dst``, in place: dst = src + dst·(1 − αs)."""
    k = np.float32(opacity / 255.0)
    inv = np.float32(1.0 / 255.0)
    h, w = px.shape[0], px.shape[1]
    for i in range(h):
        for j in range(w):
            al = px[i, j, 3]
            if al != 0:
                a = np.float32(al) * k
                s = a * inv
                keep = np.float32(1.0) - a
                dst[i, j, 0] = np.float32(px[i, j, 0]) * s + dst[i, j, 0] * keep
                dst[i, j, 1] = np.float32(px[i, j, 1]) * s + dst[i, j, 1] * keep
                dst[i, j, 2] = np.float32(px[i, j, 2]) * s + dst[i, j, 2] * keep
                dst[i, j, 3] = a + dst[i, j, 3] * keep


@_jit
def linear_straight(x, y, o, out):
    """``out`` (h, w, 4) straight uint8 of the premultiplied float32 0–1 pixels ``x + o·y``,
    rounded; no colour where the alpha rounds to 0 (as ``canvas.blend.straight_uint8``)."""
    o = np.float32(o)
    lo, hi, half = np.float32(0.0), np.float32(255.0), np.float32(0.5)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            a = x[i, j, 3] + o * y[i, j, 3]
            s = hi / a if a >= np.float32(0.5 / 255.0) else lo
            for c in range(3):
                v = (x[i, j, c] + o * y[i, j, c]) * s + half
                out[i, j, c] = min(max(v, lo), hi)
            out[i, j, 3] = min(max(a * hi + half, lo), hi)


@_jit
def focus_normal(a, b, px, oy, ox, x, y):
    """X = A + (1 − αA)·B and Y = (1 − αA)·(L − αL·B) per pixel (``canvas.focus``, normal mode):
    ``a``, ``b`` premultiplied float32 (h, w, 4); the layer's straight uint8 ``px`` covers
    rows ``oy``… and columns ``ox``… of the tile (transparent elsewhere)."""
    inv = np.float32(1.0 / 255.0)
    one = np.float32(1.0)
    ph, pw = px.shape[0], px.shape[1]
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            k = one - a[i, j, 3]
            li, lj = i - oy, j - ox
            la = np.float32(0.0)
            if 0 <= li < ph and 0 <= lj < pw:
                la = np.float32(px[li, lj, 3]) * inv
            for c in range(4):
                lc = la if c == 3 else (np.float32(px[li, lj, c]) * inv * la if la > 0 else np.float32(0.0))
                bc = b[i, j, c]
                x[i, j, c] = a[i, j, c] + k * bc
                y[i, j, c] = k * (lc - la * bc)


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


@_jit
def mode_delta(below, src, keep, mode, out):
    """``out`` = keep·((below ⊕ src) − below) per row: ``below`` and ``src`` premultiplied
    float32 (N, 4), ``keep`` (N, 1) = 1 − αA, ⊕ the W3C formula of blend ``mode`` (its index
    in ``canvas.blend.BLEND_MODES``), as ``canvas.blend.composite_into`` computes it."""
    for i in range(below.shape[0]):
        sa, ba = np.float64(src[i, 3]), np.float64(below[i, 3])
        k = np.float64(keep[i, 0])
        for c in range(3):
            cs_p, cb_p = np.float64(src[i, c]), np.float64(below[i, c])
            if mode == 0:
                co = cs_p + cb_p * (1.0 - sa)
            else:
                cs = min(max(cs_p / sa if sa > 0 else cs_p, 0.0), 1.0)
                cb = min(max(cb_p / ba if ba > 0 else cb_p, 0.0), 1.0)
                co = cs_p * (1.0 - ba) + cb_p * (1.0 - sa) + sa * ba * _separable(mode, cb, cs)
            out[i, c] = k * (co - cb_p)
        out[i, 3] = k * (sa + ba * (1.0 - sa) - ba)


@_jit
def tile_stats(x, y, b, px, oy, ox, opaque_at):
    """(pixels where the layer ``px`` has alpha, those of them with a backdrop in ``b``, whether
    ``x`` and ``x + y`` are opaque everywhere) of one tile of ``canvas.focus``."""
    n_support = n_sensitive = 0
    all_opaque = True
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            xa = x[i, j, 3]
            if xa < opaque_at or xa + y[i, j, 3] < opaque_at:
                all_opaque = False
            li, lj = i - oy, j - ox
            if 0 <= li < px.shape[0] and 0 <= lj < px.shape[1] and px[li, lj, 3] > 0:
                n_support += 1
                if b[i, j, 3] > 0:
                    n_sensitive += 1
    return n_support, n_sensitive, all_opaque


@_jit
def _fix16(v):
    f = np.floor(v * np.float32(255.0 * 128.0) + np.float32(0.5))
    return np.int16(min(max(f, -32767.0), 32767.0))


@_jit
def gather_sparse(x, y, b, a, px, oy, ox, rx, ry, width, opaque_at):
    """The pixels of one tile where the layer ``px`` has alpha, split into opaque ones (X, Y as
    int16 fixed point) and the others (float32), with their flat canvas indices and, for those
    with a backdrop, their row, B, L (premultiplied) and 1 − αA (what a mode change needs)."""
    h, w = x.shape[0], x.shape[1]
    n = np.zeros(4, np.int64)  # opaque, general, sensitive opaque, sensitive general
    for i in range(h):
        for j in range(w):
            li, lj = i - oy, j - ox
            if 0 <= li < px.shape[0] and 0 <= lj < px.shape[1] and px[li, lj, 3] > 0:
                xa = x[i, j, 3]
                g = 0 if (xa >= opaque_at and xa + y[i, j, 3] >= opaque_at) else 1
                n[g] += 1
                if b[i, j, 3] > 0:
                    n[2 + g] += 1
    fo, fg = np.empty(n[0], np.int64), np.empty(n[1], np.int64)
    xo, yo = np.empty((n[0], 4), np.int16), np.empty((n[0], 4), np.int16)
    xg, yg = np.empty((n[1], 4), np.float32), np.empty((n[1], 4), np.float32)
    ro, rg = np.empty(n[2], np.int64), np.empty(n[3], np.int64)
    bo, bg = np.empty((n[2], 4), np.float32), np.empty((n[3], 4), np.float32)
    lo, lg = np.empty((n[2], 4), np.float32), np.empty((n[3], 4), np.float32)
    ko, kg = np.empty((n[2], 1), np.float32), np.empty((n[3], 1), np.float32)
    k = np.zeros(4, np.int64)
    inv = np.float32(1.0 / 255.0)
    for i in range(h):
        for j in range(w):
            li, lj = i - oy, j - ox
            if not (0 <= li < px.shape[0] and 0 <= lj < px.shape[1] and px[li, lj, 3] > 0):
                continue
            xa = x[i, j, 3]
            flat = (ry + i) * width + rx + j
            if xa >= opaque_at and xa + y[i, j, 3] >= opaque_at:
                r = k[0]
                fo[r] = flat
                for c in range(4):
                    xo[r, c] = _fix16(x[i, j, c])
                    yo[r, c] = _fix16(y[i, j, c])
                k[0] += 1
                if b[i, j, 3] > 0:
                    s = k[2]
                    ro[s] = r
                    la = np.float32(px[li, lj, 3]) * inv
                    for c in range(4):
                        bo[s, c] = b[i, j, c]
                        lo[s, c] = la if c == 3 else np.float32(px[li, lj, c]) * inv * la
                    ko[s, 0] = np.float32(1.0) - a[i, j, 3]
                    k[2] += 1
            else:
                r = k[1]
                fg[r] = flat
                for c in range(4):
                    xg[r, c] = x[i, j, c]
                    yg[r, c] = y[i, j, c]
                k[1] += 1
                if b[i, j, 3] > 0:
                    s = k[3]
                    rg[s] = r
                    la = np.float32(px[li, lj, 3]) * inv
                    for c in range(4):
                        bg[s, c] = b[i, j, c]
                        lg[s, c] = la if c == 3 else np.float32(px[li, lj, c]) * inv * la
                    kg[s, 0] = np.float32(1.0) - a[i, j, 3]
                    k[3] += 1
    return fo, xo, yo, ro, bo, lo, ko, fg, xg, yg, rg, bg, lg, kg
