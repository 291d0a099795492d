"""Realistic benchmark documents (shared by the benchmark scripts)."""

from __future__ import annotations

import cv2
import numpy as np

from canvas.document import Document
from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Transform
from canvas.marks import Arrow, Ellipse, Rectangle, Stroke, TextLabel


def photo(size: int, seed: int = 0) -> np.ndarray:
    """A photograph scaled to ``size``² (scikit-image's astronaut when available)."""
    try:
        from skimage import data

        img = data.astronaut()
    except Exception:  # pragma: no cover - scikit-image is a test dependency
        rng = np.random.default_rng(seed)
        img = cv2.GaussianBlur(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), (0, 0), 6)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])


def noise_rgba(size: int, seed: int = 0) -> np.ndarray:
    """An opaque size² picture of uniform noise: the input of the tiny-model benchmarks (what it shows does not
    matter there, only that it is the same every run)."""
    rng = np.random.RandomState(seed)
    pixels = np.full((size, size, 4), 255, np.uint8)
    pixels[..., :3] = (rng.rand(size, size, 3) * 255).astype(np.uint8)
    return pixels


def big_document(size: int = 4096, n_layers: int = 20, seed: int = 0) -> Document:
    """``size``² with ``n_layers`` layers of the kinds a real edit session has.

    One opaque photo background; six canvas-sized paint layers with strokes on part of them;
    collage pieces (some rotated and scaled); two AI-result layers with feathered edges; and
    annotation layers with marks.
    """
    rng = np.random.default_rng(seed)
    doc = Document(size, size)
    base = photo(size, seed)
    doc.add_layer(PixelLayer(base, name="Photo"))
    kinds = ["paint"] * 6 + ["piece"] * 8 + ["result"] * 2 + ["marks"] * 3
    kinds = kinds[: n_layers - 1]
    for i, kind in enumerate(kinds):
        if kind == "paint":
            px = np.zeros((size, size, 4), np.uint8)
            for _ in range(6):
                pts = (rng.random((8, 2)) * size).astype(np.int32)
                col = tuple(int(c) for c in rng.integers(0, 256, 3)) + (255,)
                cv2.polylines(px, [pts], False, col, int(rng.integers(8, 60)), cv2.LINE_AA)
            doc.add_layer(PixelLayer(px, name=f"Paint {i}", opacity=float(rng.uniform(0.6, 1.0))))
        elif kind == "piece":
            s = int(rng.integers(300, 1200))
            y0, x0 = rng.integers(0, size - s, 2)
            orig = base[y0 : y0 + s, x0 : x0 + s].copy()
            cv2.circle(orig, (s // 2, s // 2), s // 2, (0, 0, 0, 0), -1) if i % 3 == 0 else None
            tf = Transform(cx=float(rng.uniform(0, size)), cy=float(rng.uniform(0, size)),
                           sx=float(rng.uniform(0.5, 1.5)), sy=float(rng.uniform(0.5, 1.5)),
                           rotation=float(rng.uniform(-45, 45)))
            doc.add_layer(PieceLayer(orig, tf, name=f"Piece {i}"))
        elif kind == "result":
            s = 1024
            y0, x0 = rng.integers(0, size - s, 2)
            px = base[y0 : y0 + s, x0 : x0 + s].copy()
            px[..., :3] = 255 - px[..., :3]
            alpha = np.zeros((s, s), np.uint8)
            cv2.circle(alpha, (s // 2, s // 2), s // 2 - 40, 255, -1)
            px[..., 3] = cv2.GaussianBlur(alpha, (0, 0), 20)
            doc.add_layer(PixelLayer(px, int(x0), int(y0), name=f"Result {i}",
                                     provenance={"instruction": "invert", "backend": "benchmark"}))
        else:
            marks = [
                Arrow(start=tuple(rng.uniform(0, size, 2)), end=tuple(rng.uniform(0, size, 2)), width=12.0),
                Ellipse(p0=tuple(rng.uniform(0, size, 2)), p1=tuple(rng.uniform(0, size, 2)), width=10.0),
                Rectangle(p0=tuple(rng.uniform(0, size, 2)), p1=tuple(rng.uniform(0, size, 2))),
                Stroke(points_=tuple(tuple(p) for p in rng.uniform(0, size, (20, 2)))),
                TextLabel(pos=tuple(rng.uniform(0, size - 400, 2)), text="put a bus here", size=48.0),
            ]
            doc.add_layer(AnnotationLayer([m for m in marks], name=f"Marks {i}"))
    doc.history.clear()
    doc.mark_clean()
    return doc
