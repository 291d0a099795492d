"""Drift and colour correction of an edit result: register it to its input, match its colours, keep the
input's own pixels where nothing changed.

Editing models often return the picture a few pixels shifted, slightly scaled, and shifted in
colour (Qwen-Image-Edit does both). Pasted as it comes, the whole layer is resampled and every
unchanged pixel moves. Here:

1. **Registration** — a similarity transform (shift, scale, small rotation) from the result to the
   input, estimated from the parts that did not change: SIFT features matched with a ratio test
   and a RANSAC similarity fit (``estimateAffinePartial2D``; the changed part gives outliers),
   refined to sub-pixel accuracy by OpenCV's ECC on the grey images with the changed part masked
   out (ECC's correlation is blind to gain and offset, so the colour shift does not bias it), in
   two rounds as the change mask sharpens; the affine ECC gives is projected to the nearest similarity.
2. **Colour** — per channel gain and offset, fitted by trimmed least squares on the unchanged pixels,
   then a smooth low-frequency residual (normalised Gaussian convolution of what is left).
3. **What changed** — the corrected result against the input (blurred difference, opened, closed,
   holes filled, small specks dropped, grown a little); the output is the input where nothing
   changed and the corrected result where it did, across a soft seam. The threshold follows the noise
   measured in the aligned residual where nothing surely changed (a robust σ, times NOISE_MULTIPLE, from
   CHANGE_FLOOR up), so a faint change — a dark object on a dark ground — is kept and a noisy result is
   not taken for changed throughout; the note says the threshold and the noise.

A result whose registration cannot be trusted (too few matches, most of the picture changed, a
residual no better than before) is left as it came, with the reason — never made worse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

MAX_FEATURE_SIDE = 1024  # features are found at most this large
MAX_ECC_SIDE = 1024  # the sub-pixel refinement works at most this large (a 4K result: quarter-pixel steps there)
MIN_INLIERS = 12
MAX_SHIFT_FRACTION = 0.08  # a drift larger than this part of the picture is not a drift
MAX_SCALE_CHANGE = 0.05
MAX_ROTATION = 3.0  # degrees
CHANGE_THRESHOLD = 14.0  # levels of blurred difference that surely are a change, whatever the noise
REGISTER_THRESHOLD = 7.0  # … and that keep a pixel out of the registration (it must surely be unchanged)
CHANGE_FLOOR = 4.0  # the least blurred difference that counts as a change, however clean the result …
CHANGE_CEILING = 40.0  # … and the most it may take to count, however noisy
NOISE_MULTIPLE = 5.0  # a change stands this many times the residual's measured noise above it
MAX_CHANGED = 0.6  # more of the picture than this changed: registration cannot be trusted
DELIBERATE_COLOUR = 10.0  # % of colour correction from which the note says it may have been the edit itself
MIN_CORRELATION = 0.9  # ECC's correlation on the unchanged part, below which the match is not trusted
CLIPPED = 4  # a result's channel this near 0 or 255 may have been clipped (noise and JPEG move it off the limit)


@dataclass
class Alignment:
    """What was found and done. ``matrix`` maps result pixels to input pixels (2×3)."""

    ok: bool
    reason: str = ""
    matrix: np.ndarray = field(default_factory=lambda: np.eye(2, 3))
    shift: float = 0.0  # px, at the picture's centre
    scale: float = 1.0
    rotation: float = 0.0  # degrees
    gain: np.ndarray = field(default_factory=lambda: np.ones(3))
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))
    inliers: int = 0
    changed: float = 0.0  # fraction of the picture that the edit changed
    residual_before: float = 0.0  # median difference on the unchanged part, as it came …
    residual_after: float = 0.0  # … and once aligned and colour-matched
    threshold: float = CHANGE_THRESHOLD  # levels of blurred difference from which a pixel counted as changed …
    noise: float | None = None  # … set from this noise σ of the aligned result's residual (levels), measured

    def describe(self) -> str:
        if not self.ok:
            return f"not aligned: {self.reason}; the result is as the model made it"
        colour = float(np.mean(np.abs(self.gain - 1.0)) * 100 + np.mean(np.abs(self.offset)) / 2.55)
        text = (f"aligned: {self.shift:.1f} px, ×{self.scale:.3f}, {self.rotation:+.2f}°, colour {colour:.0f} %"
                f" ({self.changed * 100:.0f} % of the picture changed")
        if self.noise is not None:
            text += f"; a change counts from {self.threshold:.1f} levels, the noise being {self.noise:.1f}"
        text += ")"
        if colour >= DELIBERATE_COLOUR:  # a colour drift and a recolouring edit look alike to the fit
            text += "; if the edit was meant to change the colours, run it again with Align off"
        return text


# --- small helpers ------------------------------------------------------------------------------------------
def _rgb(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a[..., :3]) if a.ndim == 3 else np.dstack([a, a, a])


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _scaled(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = img.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return img, 1.0
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA), s


def _to_similarity(m: np.ndarray) -> np.ndarray:
    """The similarity nearest (least squares) to a 2×3 affine."""
    a = (m[0, 0] + m[1, 1]) / 2
    b = (m[1, 0] - m[0, 1]) / 2
    return np.array([[a, -b, m[0, 2]], [b, a, m[1, 2]]], np.float64)


def _compose_scale(m: np.ndarray, s: float) -> np.ndarray:
    """A transform found on pictures scaled by ``s``, for the full-size ones."""
    out = m.copy()
    out[:, 2] /= s
    return out


def _invert(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(m)


def warp(img: np.ndarray, m: np.ndarray, size: tuple[int, int], border=cv2.BORDER_REPLICATE) -> np.ndarray:
    """``img`` (result) moved onto the input's frame of ``size`` (w, h) by ``m`` (result → input)."""
    return cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR, borderMode=border)


def covered(m: np.ndarray, src: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """bool (h, w): the input pixels the moved result covers (a drift brings no picture in at the edges)."""
    ones = np.full((src[1], src[0]), 255, np.uint8)
    return cv2.warpAffine(ones, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0) == 255


# --- 1. registration -------------------------------------------------------------------------------------------
def _features(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray | None, int]:
    """A similarity result → input from SIFT matches and RANSAC, at ≤ MAX_FEATURE_SIDE; (None, n) when too few."""
    g0, s0 = _scaled(_grey(before), MAX_FEATURE_SIDE)
    g1, _ = _scaled(_grey(after), MAX_FEATURE_SIDE)
    sift = cv2.SIFT_create(nfeatures=2000)
    k0, d0 = sift.detectAndCompute(g0, None)
    k1, d1 = sift.detectAndCompute(g1, None)
    if d0 is None or d1 is None or len(k0) < MIN_INLIERS or len(k1) < MIN_INLIERS:
        return None, 0
    matches = cv2.BFMatcher(cv2.NORM_L2).knnMatch(d1, d0, k=2)
    good = [m[0] for m in matches if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
    if len(good) < MIN_INLIERS:
        return None, len(good)
    src = np.float32([k1[m.queryIdx].pt for m in good])
    dst = np.float32([k0[m.trainIdx].pt for m in good])
    m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=2.0, maxIters=5000,
                                         confidence=0.999, refineIters=20)
    n = int(inl.sum()) if inl is not None else 0
    if m is None or n < MIN_INLIERS:
        return None, n
    return _compose_scale(m, s0), n


def _ecc(before_g: np.ndarray, after_g: np.ndarray, m: np.ndarray, mask: np.ndarray | None, iterations: int = 40):
    """(ECC refinement of ``m`` (result → input) on grey pictures with the changed part masked out, its
    correlation coefficient), or None when ECC does not converge."""
    warp_m = _invert(m).astype(np.float32)  # ECC's warp maps template (input) coordinates into the result
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-6)
    try:
        rho, warp_m = cv2.findTransformECC(before_g, after_g, warp_m, cv2.MOTION_AFFINE, criteria, mask, 5)
    except cv2.error:
        return None
    return _to_similarity(_invert(warp_m.astype(np.float64))), float(rho)


def _grey_residual(before_g: np.ndarray, after_g: np.ndarray, m: np.ndarray, mask: np.ndarray | None) -> float:
    """How well ``m`` lines the grey pictures up: the mean absolute difference over ``mask`` (and what the
    moved result covers) after a gain/offset fit — the check that keeps ECC from wandering off on weak texture."""
    size = (before_g.shape[1], before_g.shape[0])
    moved = warp(after_g, m, size).astype(np.float32)
    sel = covered(m, size, size)
    if mask is not None:
        sel &= mask > 0
    x, y = moved[sel], before_g[sel].astype(np.float32)
    if x.size < 100:
        return float("inf")
    a, b = np.polyfit(x, y, 1) if np.ptp(x) > 1 else (1.0, float(np.mean(y - x)))
    return float(np.mean(np.abs(a * x + b - y)))


def _params(m: np.ndarray, w: int, h: int) -> tuple[float, float, float]:
    scale = math.hypot(m[0, 0], m[1, 0])
    rotation = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    c = np.array([w / 2, h / 2, 1.0])
    shift = float(np.hypot(*(m @ c - c[:2])))
    return shift, scale, rotation


def corner_error(m: np.ndarray, truth: np.ndarray, w: int, h: int) -> float:
    """The largest distance between where two transforms put the picture's corners (px)."""
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], np.float64).T
    return float(np.max(np.hypot(*((m - truth) @ corners))))


# --- 2. colour -------------------------------------------------------------------------------------------------
def _fit_colour(src: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gain and offset taking ``src`` to ``ref`` on ``mask``, by trimmed least squares (without the
    values ``src`` may have had clipped, where enough others are left)."""
    gain, offset = np.ones(3), np.zeros(3)
    idx = np.flatnonzero(mask.ravel())
    if idx.size < 100:
        return gain, offset
    if idx.size > 200_000:
        idx = idx[:: idx.size // 200_000]
    for c in range(3):
        x = src[..., c].ravel()[idx].astype(np.float64)
        y = ref[..., c].ravel()[idx].astype(np.float64)
        fair = (x > CLIPPED) & (x < 255 - CLIPPED)
        fair = fair if fair.sum() > 1000 else np.ones(x.size, bool)
        keep = fair
        for _ in range(3):
            a, b = np.polyfit(x[keep], y[keep], 1) if keep.sum() > 50 and np.ptp(x[keep]) > 1 else (1.0, 0.0)
            r = np.abs(a * x + b - y)
            keep = fair & (r <= max(2.0, np.percentile(r[fair], 80)))
        gain[c], offset[c] = a, b
    return gain, offset


def _in_range(raw: np.ndarray) -> np.ndarray:
    """bool (h, w): no channel of the result may have been clipped (what a colour fit can learn from)."""
    return ((raw[..., :3] > CLIPPED) & (raw[..., :3] < 255 - CLIPPED)).all(axis=2)


def _apply_colour(img: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) * gain.astype(np.float32) + offset.astype(np.float32)


def _unclipped(corrected: np.ndarray, raw: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``corrected`` as a witness of change: where the model's result was clipped (0 or 255 in a channel),
    its true value could be anything beyond, so a brighter (darker) input there is no evidence of a change."""
    out = corrected.astype(np.float32, copy=True)
    b = before.astype(np.float32)
    hi, lo = raw >= 255 - CLIPPED, raw <= CLIPPED
    out[hi] = np.maximum(out[hi], b[hi])
    out[lo] = np.minimum(out[lo], b[lo])
    return out


def _low_frequency(corrected: np.ndarray, ref: np.ndarray, mask: np.ndarray, limit: float = 12.0) -> np.ndarray:
    """The smooth part of what the colour fit left: the residual ``ref − corrected`` averaged over ``mask`` with a
    wide Gaussian (normalised convolution, at ≤256 px), at most ``limit`` levels."""
    h, w = mask.shape
    residual, _ = _scaled(ref.astype(np.float32) - corrected.astype(np.float32), 256)
    weight, _ = _scaled(mask.astype(np.float32), 256)
    sigma = max(weight.shape) / 8
    num = cv2.GaussianBlur(residual * weight[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    smooth = np.where(den > 1e-3, num / np.maximum(den, 1e-3), 0.0).astype(np.float32)
    return np.clip(cv2.resize(smooth, (w, h), interpolation=cv2.INTER_LINEAR), -limit, limit)


# --- 3. what changed -------------------------------------------------------------------------------------------------
def _difference(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(the signed blurred difference ``after − before`` per channel, the input's local contrast, the
    picture's scale r): noise, JPEG and the softening of a resampled picture are not changes, and at a sharp
    edge a fraction of a pixel of misregistration is a large difference, in a flat area it is none."""
    h, w = before.shape[:2]
    r = max(1, round(max(h, w) / 512))  # at the picture's own scale
    b = cv2.GaussianBlur(before.astype(np.float32), (0, 0), 1.5 * r)
    a = cv2.GaussianBlur(after.astype(np.float32), (0, 0), 1.5 * r)
    # per channel: a colour edge (and JPEG's coarser colour there) moves one channel, not the grey
    grad = np.hypot(cv2.Sobel(b, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(b, cv2.CV_32F, 0, 1, ksize=3)).max(axis=2) / 8
    return a - b, cv2.GaussianBlur(grad, (0, 0), 2.0 * r), r


def _robust(px: np.ndarray) -> tuple[float, float]:
    """(offset, σ) of residual samples (n, 3): per channel the median and 1.4826 × the median absolute
    deviation (σ for Gaussian noise, blind to up to half the samples being changes); the largest channel's."""
    if len(px) > 400_000:
        px = px[:: len(px) // 400_000]
    med = np.median(px, axis=0)
    return float(np.abs(med).max()), float((np.median(np.abs(px - med), axis=0) * 1.4826).max())


def _noise(diff: np.ndarray, local: np.ndarray, r: int, where: np.ndarray | None) -> tuple[float, float]:
    """(offset, noise σ) of the residual where nothing surely changed, in the flatter half of the picture
    (edges add misregistration, which the local-contrast term covers): a first, robust estimate over all of it
    says what surely is a change (beyond twice the threshold it calls for, and beyond CHANGE_THRESHOLD); the
    noise is measured again away from that."""
    if where is None:
        where = np.ones(diff.shape[:2], bool)
    if where.sum() < 100:
        return 0.0, CHANGE_THRESHOLD / NOISE_MULTIPLE  # nothing to measure on: as the fixed threshold did
    flat = where & (local <= np.median(local[where]))
    offset, sigma = _robust(diff[flat])
    sure = max(CHANGE_THRESHOLD, 2 * (offset + NOISE_MULTIPLE * sigma))
    big = (np.abs(diff).max(axis=2) > sure + 0.7 * local).astype(np.uint8)
    calm = flat & (cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (8 * r + 1, 8 * r + 1))) == 0)
    return _robust(diff[calm]) if calm.sum() >= 100 else (offset, sigma)


def change_threshold(before: np.ndarray, after: np.ndarray, where: np.ndarray | None = None) -> tuple[float, float]:
    """(the change threshold the residual's own noise calls for, that noise σ) in levels of blurred difference:
    NOISE_MULTIPLE σ above the residual's offset, from CHANGE_FLOOR to CHANGE_CEILING. ``where``: the pixels
    to measure on (all of them by default)."""
    diff, local, r = _difference(before, after)
    offset, sigma = _noise(diff, local, r, where)
    return _threshold(offset, sigma), sigma


def _threshold(offset: float, sigma: float) -> float:
    return float(np.clip(offset + NOISE_MULTIPLE * sigma, CHANGE_FLOOR, CHANGE_CEILING))


def change_mask(before: np.ndarray, after: np.ndarray, threshold: float | None = CHANGE_THRESHOLD) -> np.ndarray:
    """uint8 0/255: where ``after`` (aligned and colour-matched) differs from ``before``, as whole shapes.

    Both are blurred first (noise, JPEG and the softening of a resampled picture are not changes), and
    the threshold grows with the input's local contrast: at a sharp edge a fraction of a pixel of
    misregistration is a large difference, in a flat area it is none. ``threshold`` None: the one the
    residual's measured noise calls for (:func:`change_threshold`)."""
    return _change_mask(before, after, threshold)[0]


def _change_mask(before: np.ndarray, after: np.ndarray, threshold: float | None,
                 where: np.ndarray | None = None) -> tuple[np.ndarray, float, float | None]:
    """(the change mask, the threshold used, the measured noise σ or None when the threshold was given)."""
    h, w = before.shape[:2]
    signed, local, r = _difference(before, after)
    sigma = None
    if threshold is None:
        offset, sigma = _noise(signed, local, r, where)
        threshold = _threshold(offset, sigma)
    diff = np.abs(signed).max(axis=2)
    m = (diff > threshold + 0.7 * local).astype(np.uint8) * 255
    if sigma is not None and threshold < CHANGE_THRESHOLD:
        # a low measured threshold finds faint changes, but it would also take in the blurred skirt of a strong one: next
        # to a strong change a faint difference counts only where it is at least half its neighbourhood's
        # largest (a step's edge lies at half its height); what CHANGE_THRESHOLD finds counts as it did
        strong = (diff > CHANGE_THRESHOLD + 0.7 * local).astype(np.uint8)
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (6 * r + 1, 6 * r + 1))
        skirt = (cv2.dilate(strong, disk) > 0) & (strong == 0)
        m[skirt & (diff < 0.5 * cv2.dilate(diff, disk))] = 0
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k)
    big = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (6 * r + 1, 6 * r + 1))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, big)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    min_area = max(16, (h * w) // 20000)
    keep = np.zeros(n, np.uint8)
    keep[1:] = (stats[1:, cv2.CC_STAT_AREA] >= min_area).astype(np.uint8) * 255
    m = keep[labels]
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(m, contours, -1, 255, -1)  # whole shapes: a changed object has no holes
    return cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))), threshold, sigma


def _disk(shape: tuple[int, ...], radius: int) -> np.ndarray:
    r = max(1, round(max(shape[:2]) / 512)) * radius
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _feather(mask: np.ndarray, radius: float) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(0.5, radius))


# --- the whole of it ----------------------------------------------------------------------------------------------------
def register(before: np.ndarray, after: np.ndarray) -> Alignment:
    """Find the drift and colour shift of ``after`` (a result) against ``before`` (its input), same size."""
    b, a = _rgb(before), _rgb(after)
    h, w = b.shape[:2]
    diff0 = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2)
    m, inliers = _features(b, a)
    if m is None:
        return Alignment(False, f"too few features match ({inliers}): a flat picture, or most of it changed",
                         inliers=inliers)
    shift, scale, rotation = _params(m, w, h)
    if shift > MAX_SHIFT_FRACTION * max(w, h) or abs(scale - 1) > MAX_SCALE_CHANGE or abs(rotation) > MAX_ROTATION:
        return Alignment(False, f"the match says {shift:.0f} px, ×{scale:.3f}, {rotation:.1f}° — not a drift "
                         "(a repeated texture, or a changed composition)", inliers=inliers)
    eb, s = _scaled(_grey(b), MAX_ECC_SIDE)
    ea, _ = _scaled(_grey(a), MAX_ECC_SIDE)
    size = (eb.shape[1], eb.shape[0])
    ms = m.copy()
    ms[:, 2] *= s
    mask = None
    gain, offset = np.ones(3), np.zeros(3)
    small_b = cv2.resize(b, size, interpolation=cv2.INTER_AREA) if s < 1 else b
    small_a = cv2.resize(a, size, interpolation=cv2.INTER_AREA) if s < 1 else a
    keep = np.ones(size[::-1], bool)  # the colour fit's first round trims the changed part away itself
    rho = 0.0
    # a first, quick round at half the size brings ECC close; two at the refinement size finish it
    hb, hs = _scaled(eb, 512)
    if hs < 1:
        ha = cv2.resize(ea, (hb.shape[1], hb.shape[0]), interpolation=cv2.INTER_AREA)
        mh = ms.copy()
        mh[:, 2] *= hs
        coarse = _ecc(hb, ha, mh, None, iterations=60)
        if coarse is not None and _grey_residual(hb, ha, coarse[0], None) <= _grey_residual(hb, ha, mh, None):
            ms = coarse[0].copy()
            ms[:, 2] /= hs
    for _round in range(2):
        refined = _ecc(eb, ea, ms, mask)
        if refined is not None and _grey_residual(eb, ea, refined[0], mask) <= _grey_residual(eb, ea, ms, mask):
            ms, rho = refined  # kept only where it lines the pictures up better than what it started from
        elif refined is not None:
            rho = max(rho, refined[1])
        moved = warp(small_a, ms, size)
        inside = covered(ms, size, size)
        gain, offset = _fit_colour(moved, small_b, keep & inside)
        corrected = _unclipped(np.clip(_apply_colour(moved, gain, offset), 0, 255), moved, small_b)
        # what the next round fits on: only what surely did not change (a low threshold, grown)
        sure = cv2.dilate(change_mask(small_b, corrected, threshold=REGISTER_THRESHOLD), _disk(small_b.shape, 3))
        keep = (sure == 0) & inside
        mask = keep.astype(np.uint8)
    if rho < MIN_CORRELATION:
        return Alignment(False, f"the unchanged part matches too weakly after alignment (correlation {rho:.2f}): "
                         "too little structure, or a repeated texture", inliers=inliers)
    m = _compose_scale(ms, s)
    shift, scale, rotation = _params(m, w, h)
    raw_small = warp(small_a, ms, size)
    moved_small = _unclipped(np.clip(_apply_colour(raw_small, gain, offset), 0, 255), raw_small, small_b)
    out_mask, threshold, noise = _change_mask(small_b, moved_small, None, inside & _in_range(raw_small))
    out_mask = out_mask > 0
    changed = float(out_mask[inside].mean()) if inside.any() else 1.0
    result = Alignment(True, "", m, shift, scale, rotation, gain, offset, inliers, changed,
                       threshold=threshold, noise=noise)
    if changed > MAX_CHANGED:
        result.ok, result.reason = False, f"{changed * 100:.0f} % of the picture changed: too much to align safely"
        return result
    unchanged = cv2.resize((~out_mask & inside).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    moved_full = np.clip(_apply_colour(warp(a, m, (w, h)), gain, offset), 0, 255)
    res_after = np.abs(moved_full - b).max(axis=2)[unchanged]
    result.residual_before = float(np.median(diff0[unchanged])) if unchanged.any() else 0.0
    result.residual_after = float(np.median(res_after)) if unchanged.any() else 0.0
    if result.residual_after >= result.residual_before and result.residual_before > 0:
        result.ok = False
        result.reason = (f"aligning would not bring the unchanged part closer (median {result.residual_before:.1f} "
                         f"→ {result.residual_after:.1f} levels)")
    return result


def _corrected(before: np.ndarray, after: np.ndarray, al: Alignment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the result moved onto the input, RGBA; its RGB aligned and colour-matched, float; where it changed, feathered
    (h, w, 1) in 0..1). What counts as changed follows the noise measured in the aligned result's residual
    (``al.threshold`` and ``al.noise`` are set to what decided it)."""
    h, w = before.shape[:2]
    b = _rgb(before)
    moved = warp(np.ascontiguousarray(after), al.matrix, (w, h))
    inside = covered(al.matrix, (after.shape[1], after.shape[0]), (w, h))
    raw = moved[..., :3]
    rgb = _apply_colour(raw, al.gain, al.offset)
    fair = inside & _in_range(raw)  # where the result's values say something about its noise
    mask0 = ((_change_mask(b, _unclipped(np.clip(rgb, 0, 255), raw, b), None, fair)[0] == 0)
             & fair).astype(np.uint8)  # (a clipped pixel's residual is no colour drift)
    rgb = rgb + _low_frequency(rgb, b, mask0)
    # where the result was clipped its true value is unknown beyond the limit: the input's, when that lies there
    rgb = _unclipped(np.clip(rgb, 0, 255), raw, b)
    changed, al.threshold, al.noise = _change_mask(b, rgb, None, fair)
    changed[~inside] = 0  # what the drift brought in at the edges is the input's, not a change
    return moved, rgb, _feather(changed, max(0.8, max(h, w) / 640))[..., None]


def correct(before: np.ndarray, after: np.ndarray, al: Alignment, *, changes_only: bool = False) -> np.ndarray:
    """The result aligned and colour-matched, with the input's own pixels where nothing changed (RGBA; the
    input's alpha). ``changes_only``: transparent where nothing changed instead."""
    h, w = before.shape[:2]
    moved, rgb, alpha = _corrected(before, after, al)
    out = np.empty((h, w, 4), np.uint8)
    if changes_only:
        out[..., :3] = (rgb + 0.5).astype(np.uint8)
        out[..., 3] = (alpha[..., 0] * (moved[..., 3] if moved.shape[2] == 4 else 255) + 0.5).astype(np.uint8)
        return out
    mixed = rgb * alpha + _rgb(before).astype(np.float32) * (1 - alpha)
    out[..., :3] = (mixed + 0.5).astype(np.uint8)
    out[..., 3] = before[..., 3] if before.shape[2] == 4 else 255
    return out


def over_white(img: np.ndarray) -> np.ndarray:
    """RGBA as it is seen: composited over white (RGB, uint8)."""
    if img.shape[2] < 4 or img[..., 3].min() == 255:
        return np.ascontiguousarray(img[..., :3])
    a = img[..., 3:4].astype(np.float32) / 255.0
    return (img[..., :3].astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)


def _align_alpha(before: np.ndarray, after: np.ndarray, changes_only: bool) -> tuple[np.ndarray, Alignment]:
    """:func:`align` for a result with its own alpha (an RGBA model): drift and change are found on both pictures as
    seen over white (so what lies under transparent pixels counts for nothing, and a pixel made transparent is a
    change), then the result's straight colour (gain and offset only) and its alpha are moved and mixed with the
    input's where nothing changed."""
    fb, fa = over_white(before), over_white(after)
    al = register(fb, fa)
    if not al.ok:
        return after.copy(), al
    h, w = before.shape[:2]
    _moved, _rgb_seen, change = _corrected(fb, fa, al)
    moved = warp(np.ascontiguousarray(after), al.matrix, (w, h)).astype(np.float32)
    rgb = np.clip(_apply_colour(moved[..., :3], al.gain, al.offset), 0, 255)
    out = np.empty((h, w, 4), np.uint8)
    if changes_only:
        out[..., :3] = (rgb + 0.5).astype(np.uint8)
        out[..., 3] = (change[..., 0] * moved[..., 3] + 0.5).astype(np.uint8)
        return out, al
    out[..., :3] = (rgb * change + before[..., :3].astype(np.float32) * (1 - change) + 0.5).astype(np.uint8)
    out[..., 3] = (moved[..., 3:4] * change + before[..., 3:4].astype(np.float32) * (1 - change) + 0.5)[..., 0]
    return out, al


def align(before: np.ndarray, after: np.ndarray, *, changes_only: bool = False,
          alpha: bool = False) -> tuple[np.ndarray, Alignment]:
    """(the corrected result, what was done); a result that cannot be aligned comes back as it came.
    ``alpha``: the result's alpha is its own (an RGBA model's), kept where it changed (:func:`_align_alpha`);
    otherwise the input's alpha is the result's."""
    if after.shape[:2] != before.shape[:2]:
        after = cv2.resize(after, (before.shape[1], before.shape[0]), interpolation=cv2.INTER_AREA)
    if alpha and after.shape[2] == 4 and before.shape[2] == 4:
        return _align_alpha(before, after, changes_only)
    al = register(before, after)
    if not al.ok:
        return after.copy(), al
    return correct(before, after, al, changes_only=changes_only), al
