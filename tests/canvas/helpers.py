"""Test helpers: small random documents and a plain float reference compositor."""

from __future__ import annotations

import numpy as np

from canvas.document import Document
from canvas.layers import AnnotationLayer, PieceLayer, PixelLayer, Transform
from canvas.marks import Arrow, Ellipse, Stroke

SEPARABLE = {
    "normal": lambda cb, cs: cs,
    "multiply": lambda cb, cs: cb * cs,
    "screen": lambda cb, cs: cb + cs - cb * cs,
    "overlay": lambda cb, cs: np.where(cb <= 0.5, 2 * cs * cb, 1 - 2 * (1 - cs) * (1 - cb)),
    "darken": np.minimum,
    "lighten": np.maximum,
    "hard-light": lambda cb, cs: np.where(cs <= 0.5, 2 * cs * cb, 1 - 2 * (1 - cs) * (1 - cb)),
    "difference": lambda cb, cs: np.abs(cb - cs),
    "add": lambda cb, cs: np.minimum(cb + cs, 1.0),  # Krita's and GIMP's reading of svg:plus
    "soft-light": lambda cb, cs: np.where(
        cs <= 0.5,
        cb - (1 - 2 * cs) * cb * (1 - cb),
        cb + (2 * cs - 1) * (np.where(cb <= 0.25, ((16 * cb - 12) * cb + 4) * cb, np.sqrt(cb)) - cb),
    ),
}


def reference_composite(doc: Document, roles=("content",)) -> np.ndarray:
    """Per-pixel W3C compositing in float64 on *straight* colours, whole canvas, no caches."""
    h, w = doc.height, doc.width
    cb = np.zeros((h, w, 3))
    ab = np.zeros((h, w, 1))
    for layer in doc.layers:
        if not layer.visible or layer.role not in roles:
            continue
        src = np.zeros((h, w, 4))
        r = layer.bounds().intersect(doc.rect)
        if r.empty:
            continue
        pix, pr = layer.raster()
        src[r.slices()] = pix[r.slices(pr.x, pr.y)] / 255.0
        cs, as_ = src[..., :3], src[..., 3:4] * layer.opacity
        bl = SEPARABLE[layer.blend](cb, cs)
        ao = as_ + ab * (1 - as_)
        co_p = (1 - ab) * as_ * cs + (1 - as_) * ab * cb + as_ * ab * bl
        cb = np.where(ao > 0, co_p / np.where(ao > 0, ao, 1), 0.0)
        ab = ao
    out = np.concatenate([cb, ab], axis=-1)
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def random_rgba(rng: np.random.Generator, h: int, w: int, opaque: bool = False) -> np.ndarray:
    px = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    if opaque:
        px[..., 3] = 255
    return px


def sample_document(rng: np.random.Generator | None = None, w: int = 300, h: int = 200) -> Document:
    """Background, a semi-transparent painted layer, two pieces and annotation marks."""
    rng = rng or np.random.default_rng(1)
    doc = Document(w, h)
    bg = np.zeros((h, w, 4), np.uint8)
    bg[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    bg[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    bg[..., 2] = 90
    bg[..., 3] = 255
    doc.add_layer(PixelLayer(bg, name="Background"))
    paint = np.zeros((60, 80, 4), np.uint8)
    paint[10:50, 10:70] = (20, 200, 40, 140)
    doc.add_layer(PixelLayer(paint, 150, 20, name="Paint", blend="multiply", opacity=0.8))
    piece = random_rgba(rng, 40, 50)
    doc.add_layer(PieceLayer(piece, Transform(cx=80, cy=120, sx=1.3, sy=0.9, rotation=20), name="Piece A"))
    piece2 = random_rgba(rng, 30, 30, opaque=True)
    doc.add_layer(PieceLayer.at(piece2, 200, 140, name="Piece B"))
    marks = AnnotationLayer([
        Arrow(start=(20.0, 20.0), end=(120.0, 90.0)),
        Ellipse(p0=(180.0, 100.0), p1=(260.0, 180.0)),
        Stroke(points_=((10.0, 180.0), (40.0, 170.0), (70.0, 185.0))),
    ], name="Marks")
    doc.add_layer(marks)
    doc.history.clear()
    doc.mark_clean()
    return doc
