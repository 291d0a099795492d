"""No pen marks in the results: when the marks went into an input the model saw, look for them in what it
returned and take them out.

A pixel is a copied mark when it is near where the marks were drawn (within their width and a few
pixels of drift), close in colour to a mark's colour (CIE Lab distance, so a slightly recoloured copy
counts), and not so in the clean input (a red car the user circled is not a mark). Each piece found is
restored from the input where the edit changed nothing around it, and inpainted from the result where
it did. What is still there afterwards is counted, and a result that still holds marks is said so.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MARK_DISTANCE = 32.0  # Lab ΔE within which a result pixel has a mark's colour
INPUT_DISTANCE = 14.0  # … and the clean input's pixel there must be at least this far from it
DRIFT = 6  # px a copied mark may have moved
UNCHANGED = 10.0  # levels: around a found mark the edit changed nothing → restore from the input
LEFT_OVER = 24  # px of marks still found after the clean-up that make a warning


@dataclass(frozen=True)
class Cleanup:
    removed: int  # px
    restored: int  # of which restored from the input
    remaining: int  # px still looking like marks

    def note(self) -> str:
        if not self.removed and not self.remaining:
            return ""
        return f"pen marks removed from the result ({self.removed} px; {self.restored} restored from the picture)"

    def warning(self) -> str:
        if self.remaining <= LEFT_OVER:
            return ""
        return (f"the result may still show the pen marks ({self.remaining} px look like them): run again, or paint "
                "them out")


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def find(result: np.ndarray, clean: np.ndarray, overlay: np.ndarray, colours, width: float) -> np.ndarray:
    """bool (h, w): result pixels that are copies of the marks."""
    drawn = overlay[..., 3] > 32
    if not drawn.any():
        return np.zeros(drawn.shape, bool)
    band = cv2.dilate(drawn.astype(np.uint8), _disk(int(np.ceil(width)) + DRIFT)) > 0
    lab_r, lab_c = _lab(result), _lab(clean)
    marks = _lab(np.array([[c[:3] for c in colours]], np.uint8))[0]
    near = np.full(drawn.shape, np.inf, np.float32)
    for m in marks:
        near = np.minimum(near, np.linalg.norm(lab_r - m, axis=2))
    input_d = np.full(drawn.shape, np.inf, np.float32)
    for m in marks:
        input_d = np.minimum(input_d, np.linalg.norm(lab_c - m, axis=2))
    moved = np.linalg.norm(lab_r - lab_c, axis=2)  # how far the result went from the input there
    pen = (near < MARK_DISTANCE) & (input_d > INPUT_DISTANCE) & (moved > INPUT_DISTANCE) & (near + 6 < input_d)
    # judged whole (a red thing reaching into the band is still a blob), then kept near the marks only
    core = _stroke_like(pen, width) & band
    if not core.any():
        return core
    # the copy's anti-aliased edge: next to a found pixel, redder than the input there
    halo = cv2.dilate(core.astype(np.uint8), _disk(1)) > 0
    halo &= band & (near < input_d - 4)
    return core | halo


def _stroke_like(found: np.ndarray, width: float) -> np.ndarray:
    """Only the pieces as thin as a pen stroke: a red thing the model made near the marks ("a red bus at the
    red circle") is a blob, and stays."""
    n, labels = cv2.connectedComponents(found.astype(np.uint8), connectivity=8)
    if n <= 1:
        return found
    dist = cv2.distanceTransform(found.astype(np.uint8), cv2.DIST_L2, 3)
    thickest = np.zeros(n, np.float32)
    np.maximum.at(thickest, labels.ravel(), dist.ravel())
    keep = thickest <= 1.5 * width + 3.0  # a stroke, where strokes meet (an arrow head) a little more
    keep[0] = False
    return keep[labels]


def clean(result: np.ndarray, clean_input: np.ndarray, overlay: np.ndarray, colours, width: float
          ) -> tuple[np.ndarray, Cleanup]:
    """(the result without copied marks, what was done). ``result`` and ``clean_input`` are RGBA of one size."""
    found = find(result, clean_input, overlay, colours, width)
    total = int(found.sum())
    if not total:
        return result, Cleanup(0, 0, 0)
    out = result.copy()
    n, labels = cv2.connectedComponents(found.astype(np.uint8), connectivity=8)
    diff = np.abs(result[..., :3].astype(np.int16) - clean_input[..., :3].astype(np.int16)).max(axis=2)
    to_inpaint = np.zeros(found.shape, np.uint8)
    restored = 0
    for i in range(1, n):
        piece = labels == i
        grown = cv2.dilate(piece.astype(np.uint8), _disk(2)) > 0
        ring = (cv2.dilate(piece.astype(np.uint8), _disk(6)) > 0) & ~grown & ~found
        if ring.any() and float(np.median(diff[ring])) < UNCHANGED:
            out[grown & ~_other(labels, i)] = clean_input[grown & ~_other(labels, i)]
            restored += int(piece.sum())
        else:
            to_inpaint |= grown.astype(np.uint8)
    if to_inpaint.any():
        rgb = cv2.inpaint(np.ascontiguousarray(out[..., :3]), to_inpaint * 255, 4, cv2.INPAINT_TELEA)
        out[..., :3] = np.where(to_inpaint[..., None] > 0, rgb, out[..., :3])
    remaining = int(find(out, clean_input, overlay, colours, width).sum())
    return out, Cleanup(total, restored, remaining)


def _other(labels: np.ndarray, i: int) -> np.ndarray:
    """Pixels of other found pieces (each piece is restored or inpainted on its own)."""
    return (labels > 0) & (labels != i)
