"""Region edits: crop to the selection with context, edit at the backend's size, paste back.

A 4096 px canvas with a small selection is edited at full detail: only the selection's
neighbourhood goes to the backend, scaled to its working size, and the result comes back
through a feathered copy of the selection that never reaches outside it, so every pixel
outside the selection is left exactly as it was.

Also here: the change mask (keep only what an edit actually changed) and "over" compositing
of a result onto its input. Plain numpy and OpenCV; no canvas, no Qt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from inference.request import EditRequest, Piece

Rect = tuple[int, int, int, int]  # x, y, w, h


def mask_bbox(mask: np.ndarray) -> Rect | None:
    """Bounding rect of the non-zero pixels of a 2-D mask, or None when it is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def union_rect(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None:
        return b
    if b is None:
        return a
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return x0, y0, x1 - x0, y1 - y0


def expand_rect(rect: Rect, margin: int, shape: tuple[int, int]) -> Rect:
    """``rect`` grown by ``margin`` on every side, clipped to an image of ``shape`` (h, w)."""
    x, y, w, h = rect
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(shape[1], x + w + margin), min(shape[0], y + h + margin)
    return x0, y0, x1 - x0, y1 - y0


@dataclass(frozen=True)
class RegionPlan:
    """Where the backend works: ``crop`` (x, y, w, h) of the input, resized to ``work_size``."""

    crop: Rect
    work_size: tuple[int, int]  # (w, h)

    @property
    def scale(self) -> float:
        return self.work_size[0] / self.crop[2]

    @property
    def identity(self) -> bool:
        return self.work_size == (self.crop[2], self.crop[3])


def _fit(w: int, h: int, working_size: int | None, multiple: int, upscale: bool) -> tuple[int, int]:
    s = 1.0
    if working_size:
        long_side = max(w, h)
        if long_side > working_size or upscale:
            s = working_size / long_side
    m = max(1, int(multiple))
    nw = max(m, int(round(w * s / m)) * m)
    nh = max(m, int(round(h * s / m)) * m)
    return nw, nh


def plan_whole(shape: tuple[int, int], working_size: int | None, multiple: int = 1,
               upscale: bool = False) -> RegionPlan:
    h, w = shape
    return RegionPlan((0, 0, w, h), _fit(w, h, working_size, multiple, upscale))


def plan_region(selection: np.ndarray, working_size: int | None = None, *, margin: float = 0.25,
                min_margin: int = 32, multiple: int = 1, upscale: bool = False) -> RegionPlan:
    """The crop around the selection (plus ``margin`` × its long side of context) and its size."""
    box = mask_bbox(selection)
    if box is None:
        raise ValueError("the selection is empty")
    pad = max(int(min_margin), int(math.ceil(margin * max(box[2], box[3]))))
    crop = expand_rect(box, pad, selection.shape)
    return RegionPlan(crop, _fit(crop[2], crop[3], working_size, multiple, upscale))


def fit_answer(img: np.ndarray, width: int, height: int, warnings: list[str], source: str) -> np.ndarray:
    """A remote backend's image brought to the request's ``width``×``height``; when its aspect ratio
    differs, ``warnings`` says once that ``source`` (e.g. "the server", "Gemini") answered at another one."""
    if img.shape[:2] == (height, width):
        return img
    h, w = img.shape[:2]
    if abs(w / h - width / height) > 0.02 and not any("aspect" in x for x in warnings):
        warnings.append(f"{source} answered at {w}×{h}, another aspect ratio than the picture's {width}×{height}: "
                        "the result was stretched to fit")
    return resize_rgba(img, (width, height))


def resize_rgba(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize straight RGBA without dark fringes (premultiplied), area filter when shrinking."""
    if (img.shape[1], img.shape[0]) == tuple(size):
        return img.copy()
    shrink = size[0] < img.shape[1] or size[1] < img.shape[0]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    if img[..., 3].min() == 255:
        return cv2.resize(img, size, interpolation=interp)
    f = img.astype(np.float32)
    f[..., :3] *= f[..., 3:4] / 255.0
    r = np.clip(cv2.resize(f, size, interpolation=interp), 0, 255)
    a = r[..., 3:4]
    r[..., :3] = np.where(a > 0.5, r[..., :3] * 255.0 / np.maximum(a, 1e-3), 0)
    return np.clip(r + 0.5, 0, 255).astype(np.uint8)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask.copy()
    shrink = size[0] < mask.shape[1] or size[1] < mask.shape[0]
    return cv2.resize(mask, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _crop(a: np.ndarray | None, r: Rect) -> np.ndarray | None:
    if a is None:
        return None
    x, y, w, h = r
    return a[y:y + h, x:x + w]


def crop_request(request: EditRequest, plan: RegionPlan) -> EditRequest:
    """The request as the backend sees it inside ``plan``: every array and mark cropped and scaled."""
    if plan.crop == (0, 0, request.width, request.height) and plan.identity:
        return request
    x, y, w, h = plan.crop
    size = plan.work_size
    s = plan.scale
    pieces = []
    for p in request.pieces:
        full = _crop(p.full_mask(request.shape), plan.crop)
        if full is None or not full.any():
            continue
        m = resize_mask(full, size)
        box = mask_bbox(m)
        if box is None:
            continue
        pieces.append(Piece(m[box[1]:box[1] + box[3], box[0]:box[0] + box[2]].copy(), box[0], box[1], p.name,
                            p.identity, p.outline))

    def scaled_mask(a):
        c = _crop(a, plan.crop)
        return None if c is None else resize_mask(c, size)

    overlay = _crop(request.annotation_overlay, plan.crop)
    return request.replace(
        image=resize_rgba(_crop(request.image, plan.crop), size),
        selection=scaled_mask(request.selection),
        annotation_mask=scaled_mask(request.annotation_mask),
        annotation_overlay=None if overlay is None else resize_rgba(overlay, size),
        marks=tuple(m.transformed(-x, -y, s) for m in request.marks),
        pieces=tuple(pieces),
        origin=(request.origin[0] + x, request.origin[1] + y),
        region="whole",
    )


def disk(r: float) -> np.ndarray:
    """A disc structuring element of radius ``r`` (at least 3×3)."""
    k = max(1, int(math.ceil(r))) * 2 + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def grow(mask: np.ndarray, r: float) -> np.ndarray:
    """``mask`` (0/255) dilated by a disc of radius ``r``; a distance transform for large radii
    (it costs the same for any radius)."""
    if r <= 0:
        return mask.copy()
    if r <= 8:
        return cv2.dilate(mask, disk(r))
    dist = cv2.distanceTransform(np.where(mask > 0, 0, 255).astype(np.uint8), cv2.DIST_L2, 3)
    return np.where(dist <= r, 255, 0).astype(np.uint8)


def shrink(mask: np.ndarray, r: float) -> np.ndarray:
    """``mask`` eroded by a disc of radius ``r`` (values kept where the disc fits inside)."""
    if r <= 0:
        return mask.copy()
    if r <= 8:
        return cv2.erode(mask, disk(r))
    dist = cv2.distanceTransform(np.where(mask > 0, 255, 0).astype(np.uint8), cv2.DIST_L2, 3)
    return np.where(dist > r, mask, 0).astype(np.uint8)


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """A soft copy of ``mask`` that fades out *inside* it: never above the mask anywhere.

    Pixels where ``mask`` is 0 stay exactly 0, so pasting through the result cannot touch
    anything outside the mask.
    """
    if radius <= 0:
        return mask.copy()
    inner = shrink(mask, radius)
    soft = cv2.GaussianBlur(inner, (0, 0), sigmaX=max(radius / 2, 0.5))
    return np.minimum(np.maximum(soft, inner), mask)


def default_feather(rect: Rect) -> float:
    return float(min(24.0, max(2.0, 0.01 * max(rect[2], rect[3]))))


def paste_back(edited_work: np.ndarray, plan: RegionPlan, selection: np.ndarray,
               radius: float | None = None) -> tuple[np.ndarray, Rect]:
    """The edited crop at full size as a layer: alpha = feathered selection × edited alpha.

    Returns (RGBA, rect) where rect is the selection's bounding box in input pixels.
    """
    x, y, w, h = plan.crop
    full = resize_rgba(edited_work, (w, h)) if not plan.identity else edited_work
    sel = selection[y:y + h, x:x + w]
    soft = feather(sel, default_feather(plan.crop) if radius is None else radius)
    out = full.copy()
    out[..., 3] = (out[..., 3].astype(np.uint16) * soft // 255).astype(np.uint8)
    box = mask_bbox(sel) or (0, 0, w, h)
    bx, by, bw, bh = box
    return out[by:by + bh, bx:bx + bw].copy(), (x + bx, y + by, bw, bh)


def change_mask(before: np.ndarray, after: np.ndarray, *, threshold: int = 12, clean: int = 2,
                grow: int = 4, radius: float = 4.0) -> np.ndarray:
    """Where ``after`` really differs from ``before`` (RGB), cleaned of specks and feathered.

    The difference is measured on lightly blurred images (so resampling noise does not
    count), opened to drop isolated pixels, closed to fill small holes, grown a little and
    feathered outward. uint8 (h, w), 0 where nothing changed.
    """
    b = cv2.GaussianBlur(before[..., :3], (0, 0), 1.0).astype(np.int16)
    a = cv2.GaussianBlur(after[..., :3], (0, 0), 1.0).astype(np.int16)
    diff = np.abs(a - b).max(axis=2)
    m = np.where(diff > threshold, 255, 0).astype(np.uint8)
    if clean > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * clean + 1, 2 * clean + 1))
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k, iterations=2)
    if grow > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    if radius > 0:
        m = np.maximum(m, cv2.GaussianBlur(m, (0, 0), radius))
    return m


def composite_over(base: np.ndarray, layer: np.ndarray, rect: Rect) -> np.ndarray:
    """``layer`` (straight RGBA covering ``rect`` of ``base``) composited over a copy of ``base``.

    Where the layer's alpha is 0 the base pixels are kept bit for bit.
    """
    out = base.copy()
    x, y, w, h = rect
    dst = out[y:y + h, x:x + w]
    a = layer[..., 3:4].astype(np.float32) / 255.0
    da = dst[..., 3:4].astype(np.float32) / 255.0
    oa = a + da * (1 - a)
    rgb = (layer[..., :3] * a + dst[..., :3] * da * (1 - a)) / np.maximum(oa, 1e-6)
    blended = np.concatenate([np.clip(rgb + 0.5, 0, 255), np.clip(oa * 255 + 0.5, 0, 255)], axis=2).astype(np.uint8)
    keep = layer[..., 3] == 0
    blended[keep] = dst[keep]
    out[y:y + h, x:x + w] = blended
    return out
