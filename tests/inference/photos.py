"""Real photographs (scikit-image's astronaut, coffee and cat) and the measures the tests use."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
from skimage import data


def rgba(rgb: np.ndarray) -> np.ndarray:
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]).astype(np.uint8)


@cache
def _photo(name: str) -> np.ndarray:
    return rgba(getattr(data, name)())


def astronaut() -> np.ndarray:
    return _photo("astronaut").copy()


def coffee() -> np.ndarray:
    return _photo("coffee").copy()


def cat() -> np.ndarray:
    return _photo("chelsea").copy()


def ellipse_mask(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.where(((xx + 0.5 - cx) / rx) ** 2 + ((yy + 0.5 - cy) / ry) ** 2 <= 1, 255, 0).astype(np.uint8)


def collage(piece_src=None, box=(60, 120, 160, 180), at=(350, 200)):
    """The cat's eye cut out as an ellipse and pasted onto the coffee photo.

    Returns (composite RGBA, piece alpha (h, w), x, y).
    """
    base = coffee()
    src = cat() if piece_src is None else piece_src
    y0, x0, ph, pw = box
    piece = src[y0:y0 + ph, x0:x0 + pw]
    alpha = ellipse_mask(ph, pw, pw / 2, ph / 2, pw / 2, ph / 2)
    x, y = at
    sub = base[y:y + ph, x:x + pw]
    sub[alpha > 0] = piece[alpha > 0]
    return base, alpha, x, y


def seam_gradient(img: np.ndarray, mask: np.ndarray) -> float:
    """Mean Lab gradient magnitude on the two-pixel band along the edge of ``mask``: how
    visible the seam between a pasted piece and its surroundings is."""
    lab = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2LAB).astype(np.float32)
    gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1)
    mag = np.sqrt((gx ** 2 + gy ** 2).sum(axis=2))
    b = np.where(mask >= 128, 255, 0).astype(np.uint8)
    k = np.ones((3, 3), np.uint8)
    band = (cv2.dilate(b, k) > 0) & (cv2.erode(b, k) == 0)
    return float(mag[band].mean())


def border_colour_gap(img: np.ndarray, mask: np.ndarray, width: int = 3) -> float:
    """Mean Lab distance between each edge pixel just inside ``mask`` and the mean colour of
    the surroundings just outside it, locally (blurred bands): the colour mismatch at a seam."""
    lab = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2LAB).astype(np.float32)
    b = np.where(mask >= 128, 255, 0).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    inside = (b > 0) & (cv2.erode(b, k) == 0)
    outside = (cv2.dilate(b, k) > 0) & (b == 0)

    def local_mean(sel):
        w = cv2.GaussianBlur(sel.astype(np.float32), (0, 0), 2 * width)
        v = cv2.GaussianBlur(lab * sel[..., None], (0, 0), 2 * width)
        return v / np.maximum(w[..., None], 1e-6)

    mi, mo = local_mean(inside), local_mean(outside)
    edge = inside | outside
    return float(np.linalg.norm(mi - mo, axis=2)[edge].mean())


def region_gap(img: np.ndarray, mask: np.ndarray, ring: int = 12) -> float:
    """Lab distance between the mean colour inside ``mask`` and the mean of a ring around it."""
    lab = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2LAB).astype(np.float32)
    b = np.where(mask > 0, 255, 0).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1, 2 * ring + 1))
    around = (cv2.dilate(b, k) > 0) & (b == 0)
    return float(np.linalg.norm(lab[b > 0].mean(axis=0) - lab[around].mean(axis=0)))
