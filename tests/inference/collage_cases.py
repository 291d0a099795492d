"""Rough collages of real photographs (scikit-image's samples), as a new user makes them: a photo pasted as
an opaque rectangle (or a cut-out with its alpha) at 30–45 % of the scene's size onto another photo — and the
measures of a refine: the colour step at the piece's edge, the piece's own chroma, the seam's gradient,
and what changed away from the pieces."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference.request import Piece


@dataclass
class Collage:
    name: str
    image: np.ndarray  # RGBA, the flattened collage
    pieces: tuple[Piece, ...]
    solid: np.ndarray  # bool (h, w): where the pieces are opaque


def _photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if img.shape[2] == 3:
        img = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    return np.ascontiguousarray(img)


# (case, scene, piece photo, crop of the piece (y0, y1, x0, x1) or None, scale of the scene's width, where)
CASES = (
    ("colorwheel-on-rocket", "rocket", "colorwheel", None, 0.40, (0.52, 0.30)),  # a vivid "flower" on a grey sky
    ("cup-on-astronaut", "astronaut", "coffee", (40, 360, 100, 480), 0.35, (0.50, 0.45)),
    ("cat-on-coffee", "coffee", "chelsea", (20, 290, 60, 420), 0.30, (0.28, 0.30)),
    ("logo-cutout-on-chelsea", "chelsea", "logo", None, 0.40, (0.30, 0.15)),  # a cut-out: its own alpha
)


def make(case: str) -> Collage:
    spec = next(c for c in CASES if c[0] == case)
    _, scene_name, piece_name, crop, scale, (fx, fy) = spec
    scene = _photo(scene_name)
    piece = _photo(piece_name)
    if crop is not None:
        y0, y1, x0, x1 = crop
        piece = piece[y0:y1, x0:x1]
    h, w = scene.shape[:2]
    pw = int(w * scale)
    ph = int(piece.shape[0] * pw / piece.shape[1])
    piece = cv2.resize(piece, (pw, ph), interpolation=cv2.INTER_AREA)
    x, y = int(w * fx), int(h * fy)
    pw, ph = min(pw, w - x), min(ph, h - y)
    piece = piece[:ph, :pw]
    out = scene.copy()
    a = piece[..., 3:4].astype(np.float32) / 255
    region = out[y:y + ph, x:x + pw]
    region[..., :3] = (piece[..., :3] * a + region[..., :3] * (1 - a) + 0.5).astype(np.uint8)
    solid = np.zeros((h, w), bool)
    solid[y:y + ph, x:x + pw] = piece[..., 3] >= 200
    return Collage(case, out, (Piece(np.ascontiguousarray(piece[..., 3]), x, y, piece_name),), solid)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]).astype(np.float32) / 255, cv2.COLOR_RGB2LAB)


def _ring(mask: np.ndarray, r0: int, r1: int) -> np.ndarray:
    """Pixels between r0 and r1 px outside ``mask`` (negative: inside)."""
    def at(r):
        m = mask.astype(np.uint8)
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(r) + 1, 2 * abs(r) + 1))
        return (cv2.dilate(m, k) if r > 0 else cv2.erode(m, k)) > 0 if r else m > 0
    return at(r1) & ~at(r0)


def _local_mean(lab: np.ndarray, mask: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    w = mask.astype(np.float32)
    num = cv2.GaussianBlur(lab * w[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(w, (0, 0), sigma)[..., None]
    return num / np.maximum(den, 1e-4)


def edge_gap(img: np.ndarray, solid: np.ndarray) -> float:
    """Mean Lab ΔE across the piece's edge: the colour just inside (2–6 px) against just outside, locally."""
    lab = _lab(img)
    inner, outer = _ring(solid, -6, -2), _ring(solid, 2, 6)
    edge = _ring(solid, -1, 1)
    d = np.linalg.norm(_local_mean(lab, inner) - _local_mean(lab, outer), axis=2)
    return float(d[edge].mean())


def chroma_spread(img: np.ndarray, solid: np.ndarray) -> float:
    """How varied the piece's colours are: the spread of a*, b* over its interior (8 px in from the edge)."""
    lab = _lab(img)
    inside = _ring(solid, -10_000, -8) if False else (cv2.erode(solid.astype(np.uint8), np.ones((17, 17), np.uint8)) > 0)
    ab = lab[inside][:, 1:]
    return float(np.sqrt(ab.var(axis=0).sum()))


def mean_chroma(img: np.ndarray, solid: np.ndarray) -> float:
    lab = _lab(img)
    inside = cv2.erode(solid.astype(np.uint8), np.ones((17, 17), np.uint8)) > 0
    return float(np.hypot(lab[..., 1], lab[..., 2])[inside].mean())


def seam_gradient(img: np.ndarray, solid: np.ndarray) -> float:
    """Mean gradient magnitude (grey levels per px) on the piece's edge."""
    g = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    mag = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)) / 8
    return float(mag[_ring(solid, -2, 2)].mean())


def changed_far(before: np.ndarray, after: np.ndarray, solid: np.ndarray, margin: int) -> int:
    """Pixels changed farther than ``margin`` px from every piece."""
    far = ~(cv2.dilate(solid.astype(np.uint8), np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0)
    return int((np.abs(before[..., :3].astype(int) - after[..., :3].astype(int)).max(axis=2) > 0)[far].sum())


def measure(c: Collage, out: np.ndarray) -> dict:
    before = c.image
    return {
        "gap_before": edge_gap(before, c.solid), "gap_after": edge_gap(out, c.solid),
        "spread_kept": chroma_spread(out, c.solid) / chroma_spread(before, c.solid),
        "chroma_kept": mean_chroma(out, c.solid) / max(1e-6, mean_chroma(before, c.solid)),
        "seam_before": seam_gradient(before, c.solid), "seam_after": seam_gradient(out, c.solid),
        "interior_diff": float(np.abs(out[..., :3].astype(int) - before[..., :3].astype(int)).max(axis=2)[
            cv2.erode(c.solid.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0].mean()),
    }


def cutout_disc(outline: bool = True) -> Collage:
    """The colour wheel cut out along its disc (a soft 2 px edge) and pasted on the rocket's dark sky:
    a vivid subject whose edge step is its own contour."""
    scene = _photo("rocket")
    wheel = _photo("colorwheel")
    h, w = scene.shape[:2]
    pw = int(w * 0.40)
    ph = int(wheel.shape[0] * pw / wheel.shape[1])
    wheel = cv2.resize(wheel, (pw, ph), interpolation=cv2.INTER_AREA)
    x, y = int(w * 0.52), int(h * 0.30)
    ph = min(ph, h - y)
    wheel = wheel[:ph]
    yy, xx = np.mgrid[0:ph, 0:pw]
    r = 0.5 * min(ph, pw) * 0.985
    d = np.hypot(yy - ph / 2 + 0.5, xx - pw / 2 + 0.5)
    a = np.clip((r - d) / 2.0 + 0.5, 0, 1)
    out = scene.copy()
    region = out[y:y + ph, x:x + pw]
    region[..., :3] = (wheel[..., :3] * a[..., None] + region[..., :3] * (1 - a[..., None]) + 0.5).astype(np.uint8)
    solid = np.zeros((h, w), bool)
    solid[y:y + ph, x:x + pw] = a >= 200 / 255
    mask = (a * 255 + 0.5).astype(np.uint8)
    return Collage("disc-cutout-on-rocket", out, (Piece(mask, x, y, "disc", outline=outline),), solid)
