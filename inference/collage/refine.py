"""The classical collage refine: harmonise what makes a paste look pasted, keep what makes the piece itself.

A pasted piece looks pasted because of its light (white balance, exposure, contrast unlike the scene's),
its edge (a colour step all around it) and the missing contact with the scene (no shadow). It is
recognisable because of its chroma and its texture. So, per piece, with ``identity`` t (0–1) and
``f = √(1 − t)`` the share of the scene's light it takes:

1. **White balance** — the colour cast of the piece's near-neutral pixels moved ``f`` of the way to the
   cast of the scene's around it: one shift of a*, b* for the whole piece, so its chroma spread is kept.
2. **Exposure and contrast** — L's mean moved ``0.6 f`` of the way to the surroundings' (at most ±18), its
   spread scaled toward theirs (a factor within 0.8–1.25).
3. **The edge** — Poisson seamless cloning gives the smooth field that takes the colour step away; it is
   applied in full at the edge and fades out over a band inside (a cosine over ~12 % of the piece's size),
   and with weight ``1 − t`` beyond it: at identity 1 the interior keeps its pixels, at 0 it is cloned
   through (the old behaviour). A cut-out (``Piece.outline``) has no pasted background at its edge: the
   step there is its subject's contour, so the band is only its soft fringe, 2 px.
4. **Contact shadow** — a soft darkening of the scene under the piece's lower edge (``params["shadow"]``,
   default 0.25; 0: none).

Outside the piece's neighbourhood (its band of context and the shadow) nothing changes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from inference.region import disk, expand_rect, grow, mask_bbox

NEUTRAL_CHROMA = 14.0  # a*b* radius within which a pixel counts as near-neutral (it shows the cast)
MAX_CAST_SHIFT = 12.0
MAX_EXPOSURE_SHIFT = 18.0
DEFAULT_SHADOW = 0.25
OUTLINE_BAND = 2.0  # px inside a cut-out's solid part over which the edge field fades out



def extend_outward(rgb: np.ndarray, solid: np.ndarray, band: np.ndarray) -> np.ndarray:
    """``rgb`` with the ``band`` pixels replaced by their nearest ``solid`` pixel (the piece's own
    colours carried outward, so its edge has no gradient toward what lies outside it)."""
    inv = np.where(solid > 0, 0, 255).astype(np.uint8)
    _, labels = cv2.distanceTransformWithLabels(inv, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(inv == 0)  # labels number the zero pixels in raster order, from 1
    lut_y, lut_x = np.r_[0, ys], np.r_[0, xs]
    sel = band > 0
    out = rgb.copy()
    lab = labels[sel]
    out[sel] = rgb[lut_y[lab], lut_x[lab]]
    return out

def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _cast(lab: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The colour cast (mean a*, b*) of the near-neutral pixels under ``mask`` (None: too few of them)."""
    px = lab[mask > 0]
    if len(px) < 50:
        return None
    neutral = px[np.hypot(px[:, 1], px[:, 2]) < NEUTRAL_CHROMA]
    if len(neutral) < max(30, 0.03 * len(px)):
        return None
    return neutral[:, 1:].mean(axis=0)


def harmonise(piece_lab: np.ndarray, solid: np.ndarray, scene_lab: np.ndarray, ring: np.ndarray, f: float
              ) -> np.ndarray:
    """The piece (Lab, every pixel) with the scene's light taken ``f`` of the way: cast, exposure, contrast."""
    out = piece_lab.copy()
    if f <= 0:
        return out
    mine, theirs = _cast(piece_lab, solid), _cast(scene_lab, ring)
    if mine is not None and theirs is not None:
        out[..., 1:] += np.clip(f * (theirs - mine), -MAX_CAST_SHIFT, MAX_CAST_SHIFT)
    lp, lr = piece_lab[..., 0][solid > 0], scene_lab[..., 0][ring > 0]
    mu_p, sd_p = float(lp.mean()), float(lp.std()) + 1e-3
    mu_r, sd_r = float(lr.mean()), float(lr.std()) + 1e-3
    gain = float(np.clip((sd_r / sd_p) ** (0.5 * f), 0.8, 1.25))
    shift = float(np.clip(0.6 * f * (mu_r - mu_p), -MAX_EXPOSURE_SHIFT, MAX_EXPOSURE_SHIFT))
    out[..., 0] = np.clip((out[..., 0] - mu_p) * gain + mu_p + shift, 0, 100)
    return out


def _inside_distance(solid: np.ndarray) -> np.ndarray:
    return cv2.distanceTransform((solid > 0).astype(np.uint8), cv2.DIST_L2, 5)


def edge_weight(solid: np.ndarray, band: float, identity: float) -> np.ndarray:
    """How much of the edge-smoothing field applies at each pixel: 1 at the edge and outside, falling over
    ``band`` px inside to ``1 − identity``."""
    d = _inside_distance(solid)
    fall = 0.5 * (1 + np.cos(np.pi * np.clip(d / max(band, 1.0), 0, 1)))  # 1 at the edge, 0 at the band's end
    return (1 - identity) + identity * fall


def contact_shadow(shape: tuple[int, int], solid: np.ndarray, strength: float) -> np.ndarray:
    """float (h, w) in 0..strength: how much to darken the scene under a piece (never on the piece)."""
    if strength <= 0 or not solid.any():
        return np.zeros(shape, np.float32)
    ys = np.nonzero(solid.any(axis=1))[0]
    height = int(ys[-1] - ys[0] + 1)
    drop = max(2, int(0.03 * height))
    soft = max(1.5, 0.04 * height)
    m = np.zeros(shape, np.float32)
    m[drop:] = (solid[:-drop] > 0).astype(np.float32)
    m = cv2.GaussianBlur(m, (0, 0), soft)
    rows = np.arange(shape[0], dtype=np.float32) - (ys[0] + 0.5 * height)
    low = np.clip(rows / (2 * soft), 0, 1)[:, None]  # only below the piece's middle: a contact, not a halo
    return np.clip(m * low * (solid == 0), 0, 1) * strength


def refine_piece(rgb: np.ndarray, alpha_img: np.ndarray, full: np.ndarray, identity: float, strength: float,
                 shadow: float, clone_flag: int, outline: bool = False
                 ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | str:
    """One piece of ``rgb`` refined: ((x, y, w, h), its new RGB there, the changed mask there), or why not.

    ``full``: the piece's alpha on the whole image; ``alpha_img``: the image's own alpha. ``outline``:
    the piece is cut out along its subject, so the step at its edge is the subject's contour: the field
    that takes it away is kept to the matte's soft fringe (``OUTLINE_BAND``) instead of a band of ~12 %
    of the piece (which made a vivid cut-out look half transparent)."""
    box = mask_bbox(np.where(full > 0, 255, 0).astype(np.uint8))
    if box is None:
        return "it is empty"
    size = max(box[2], box[3])
    margin = max(8, int(0.15 * size))
    shadow_reach = int(0.03 * box[3] + 3 * 0.04 * box[3]) + 2
    cx, cy, cw, ch = expand_rect(box, margin + 6 + shadow_reach, rgb.shape[:2])
    dst = rgb[cy:cy + ch, cx:cx + cw].copy()
    a = full[cy:cy + ch, cx:cx + cw]
    solid = np.where(a >= 200, 255, 0).astype(np.uint8)
    if not solid.any():
        solid = np.where(a >= 128, 255, 0).astype(np.uint8)
    omega = cv2.dilate(np.where(a > 0, 255, 0).astype(np.uint8), disk(4))
    ring = grow(omega, margin) & ~omega
    ring &= np.where(alpha_img[cy:cy + ch, cx:cx + cw] > 0, 255, 0).astype(np.uint8)
    if int((ring > 0).sum()) < 16 or not solid.any():
        return "it covers its whole surroundings"
    lab = _lab(dst)
    f = math.sqrt(max(0.0, 1.0 - identity)) * strength
    harmonised = _rgb(harmonise(lab, solid, lab, ring, f))
    # the guidance field holds only the piece's own detail: its pixels carried outward over its fringe
    src = extend_outward(harmonised, solid, cv2.dilate(omega, disk(2)) & ~solid)
    pad = 4
    dst_p = cv2.copyMakeBorder(dst, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    src_p = cv2.copyMakeBorder(src, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    m_p = cv2.copyMakeBorder(omega, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    bx, by, bw, bh = cv2.boundingRect(m_p)
    cloned = cv2.seamlessClone(src_p, dst_p, m_p, (bx + bw // 2, by + bh // 2), clone_flag)[pad:-pad, pad:-pad]
    field = cloned.astype(np.float32) - src.astype(np.float32)  # smooth: it only takes the edge's step away
    band = OUTLINE_BAND if outline else max(6.0, 0.12 * size)
    w = edge_weight(solid, band, identity)[..., None] * strength
    out = np.clip(src.astype(np.float32) + w * field, 0, 255)
    sel = omega > 0
    new = dst.astype(np.float32)
    new[sel] = out[sel]
    shade = contact_shadow(solid.shape, solid, shadow) * (omega == 0)
    new *= 1 - shade[..., None]
    changed = (sel | (shade > 1 / 255)).astype(np.uint8) * 255
    return (cx, cy, cw, ch), (new + 0.5).astype(np.uint8), changed
