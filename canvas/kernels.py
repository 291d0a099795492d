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


@_jit
def over_opaque(base, px, opacity):
    """Normal blend of straight uint8 ``px`` (its alpha times ``opacity``) onto ``base``, the
    straight float32 0–255 colour of an opaque backdrop, in place (alpha channel untouched)."""
    k = opacity / 255.0
    h, w = px.shape[0], px.shape[1]
    for i in range(h):
        for j in range(w):
            a = px[i, j, 3] * k
            if a > 0.0:
                for c in range(3):
                    b = base[i, j, c]
                    base[i, j, c] = b + (px[i, j, c] - b) * a


@_jit
def over_premultiplied(dst, px, opacity):
    """Normal blend of straight uint8 ``px`` (alpha times ``opacity``) onto premultiplied
    float32 0–1 ``dst``, in place: dst = src + dst·(1 − αs)."""
    k = opacity / 255.0
    h, w = px.shape[0], px.shape[1]
    for i in range(h):
        for j in range(w):
            a = px[i, j, 3] * k
            if a > 0.0:
                s = a / 255.0
                keep = 1.0 - a
                for c in range(3):
                    dst[i, j, c] = px[i, j, c] * s + dst[i, j, c] * keep
                dst[i, j, 3] = a + dst[i, j, 3] * keep


@_jit
def linear_straight(x, y, o, out):
    """``out`` (N, 4) straight uint8 of the premultiplied float32 0–1 pixels ``x + o·y`` (N, 4),
    rounded; no colour where the alpha rounds to 0 (as ``canvas.blend.straight_uint8``)."""
    n = x.shape[0]
    for i in range(n):
        a = x[i, 3] + o * y[i, 3]
        s = 255.0 / a if a >= 0.5 / 255.0 else 0.0
        for c in range(3):
            v = (x[i, c] + o * y[i, c]) * s + 0.5
            out[i, c] = min(max(v, 0.0), 255.0)
        va = a * 255.0 + 0.5
        out[i, 3] = min(max(va, 0.0), 255.0)
