"""Identity strength for any backend: after a model refines a collage, each piece keeps as much of itself as
its ``identity`` says.

A model told "make this collage a natural photo" may repaint a piece into something else. Here the result
is composited with the collage inside each piece: at identity t, with ``m`` 0 at the piece's edge rising to
1 a band inside (a cosine over ~8 % of its size, so the edge stays the model's),

    kept = collage + a · smooth(result − collage)      (a = min(1, 3 (1 − t)): the model's light, not its detail)
    out  = result + t · m · (kept − result)

so at 100 % the interior is the collage's own pixels, at the default 85 % it is the collage's detail and
colour under some of the model's light, and at 0 the model's result as it came. ``smooth`` is a Gaussian
normalised over the piece (what the model did around it does not bleed in).
"""

from __future__ import annotations

import cv2
import numpy as np

from inference.request import Piece


def interior(mask: np.ndarray, band: float) -> np.ndarray:
    """float (h, w): 0 at the piece's edge (and outside), 1 from ``band`` px inside."""
    solid = (mask >= 128).astype(np.uint8)
    d = cv2.distanceTransform(solid, cv2.DIST_L2, 5)
    return (0.5 * (1 - np.cos(np.pi * np.clip(d / max(band, 1.0), 0, 1)))).astype(np.float32)


def _smooth_within(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    num = cv2.GaussianBlur(values * weight[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    return num / np.maximum(den, 1e-4)


def keep_pieces(result: np.ndarray, collage: np.ndarray, pieces: tuple[Piece, ...]) -> tuple[np.ndarray, list[str]]:
    """(the result with each piece's identity honoured, notes). RGBA of one size; pieces in that frame."""
    out = result.astype(np.float32)
    notes = []
    h, w = result.shape[:2]
    for p in pieces:
        t = p.identity
        if t <= 0:
            continue
        full = p.full_mask((h, w))
        box = cv2.boundingRect((full >= 128).astype(np.uint8))
        if box[2] == 0 or box[3] == 0:
            continue
        size = max(box[2], box[3])
        m = interior(full, max(4.0, 0.08 * size))
        if not m.any():
            continue
        x, y, bw, bh = box
        pad = int(max(4.0, size / 6)) * 2
        x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)
        sl = (slice(y0, y1), slice(x0, x1))
        col = collage[sl][..., :3].astype(np.float32)
        res = out[sl][..., :3]
        a = min(1.0, 3.0 * (1.0 - t))
        kept = col
        if a > 0:
            inside = (full[sl] >= 128).astype(np.float32)
            kept = col + a * _smooth_within(res - col, inside, max(4.0, size / 6))
        wgt = (t * m[sl])[..., None]
        out[sl][..., :3] = res + wgt * (kept - res)
        notes.append(f"{p.name}: {t * 100:.0f} % kept")
    done = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    done[..., 3] = result[..., 3]
    return done, ([f"piece identity: {', '.join(notes)}"] if notes else [])
