"""Synthetic "model results" of real photographs (scikit-image's samples): a local change (another photo
pasted over 5–20 % of the picture), then the drift and colour shift editing models add — a similarity
transform (shift up to 8 px, scale 0.98–1.02, rotation up to 0.5°), gain and offset up to 8 % per
channel, mild noise and JPEG — with the truth kept, to measure a correction against."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "coins", "hubble_deep_field",
          "moon", "brick", "grass", "gravel")


@dataclass
class Case:
    name: str
    before: np.ndarray  # RGB uint8, the input
    result: np.ndarray  # RGB uint8, what the "model" returned
    truth: np.ndarray  # 2×3, result → input
    changed: np.ndarray  # bool (h, w): where the edit really changed the picture (input coordinates)
    edited: np.ndarray | None = None  # RGB uint8: the edit before the drift (input coordinates), where kept


def photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    return np.ascontiguousarray(img[..., :3])


def similarity(rng, w: int, h: int, shift=8.0, scale=0.02, degrees=0.5) -> np.ndarray:
    """A random similarity about the centre (input → result)."""
    s = 1 + rng.uniform(-scale, scale)
    r = math.radians(rng.uniform(-degrees, degrees))
    t = rng.uniform(-shift, shift, 2)
    c = np.array([w / 2, h / 2])
    rot = np.array([[s * math.cos(r), -s * math.sin(r)], [s * math.sin(r), s * math.cos(r)]])
    return np.hstack([rot, (c - rot @ c + t)[:, None]])


def make(name: str, seed: int, *, change: tuple[float, float] = (0.05, 0.2), drift: bool = True,
         colour: float = 0.08, jpeg: int | None = 90) -> Case:
    rng = np.random.default_rng(seed)
    before = photo(name)
    h, w = before.shape[:2]
    edited = before.copy()
    changed = np.zeros((h, w), bool)
    if change[1] > 0:
        frac = rng.uniform(*change)
        pw, ph = max(8, int(w * math.sqrt(frac))), max(8, int(h * math.sqrt(frac)))
        x, y = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
        other = photo("chelsea" if name != "chelsea" else "coffee")
        edited[y:y + ph, x:x + pw] = cv2.resize(other, (pw, ph), interpolation=cv2.INTER_AREA)
        changed[y:y + ph, x:x + pw] = True
    m = similarity(rng, w, h) if drift else np.eye(2, 3)
    result = cv2.warpAffine(edited, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    gain = 1 + rng.uniform(-colour, colour, 3)
    offset = rng.uniform(-colour, colour, 3) * 255
    noisy = result.astype(np.float32) * gain + offset + rng.normal(0, 2, result.shape)
    result = np.clip(noisy, 0, 255).astype(np.uint8)
    if jpeg:
        ok, buf = cv2.imencode(".jpg", result[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg])
        result = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return Case(f"{name}#{seed}", before, result, cv2.invertAffineTransform(m), changed)


def measure(case: Case, out: np.ndarray, al, border: int = 12) -> dict:
    """The issue's three figures: corner error, unchanged area within 2 levels, change kept whole."""
    from inference.pen import alignment as A

    h, w = case.before.shape[:2]
    inner = np.zeros((h, w), bool)
    inner[border:-border, border:-border] = True  # where the drift brought picture in from outside
    unchanged = ~case.changed & inner
    close = np.abs(out[..., :3].astype(int) - case.before.astype(int)).max(axis=2) <= 2
    mask = A.change_mask(case.before, out[..., :3]) > 0
    return {"corner": A.corner_error(al.matrix, case.truth, w, h) if al.ok else float("nan"),
            "unchanged": float(close[unchanged].mean()),
            "kept": float(mask[case.changed].mean()) if case.changed.any() else 1.0}


def low_contrast(name: str = "astronaut", seed: int = 0, *, step: float = 8.0, noise: float = 1.5,
                 shift: float = 1.5, dark: tuple[int, int, int, int] | None = None, patch: int = 96) -> Case:
    """Issue 22's hold-out case: a dark area of a real photo (the photo's own texture, darkened) where the edit
    put a dark object that differs from it by only ``step`` levels (with a faint texture of its own); the
    "model" returns it shifted by about ``shift`` px, slightly rescaled, with a mild colour drift, noise σ
    ``noise`` and JPEG. ``changed`` is the patch."""
    rng = np.random.default_rng(seed)
    before = photo(name).astype(np.float32)
    h, w = before.shape[:2]
    x, y, dw, dh = dark if dark is not None else (w // 2, h // 4, w // 2 - 16, h // 2)
    before[y:y + dh, x:x + dw] = before[y:y + dh, x:x + dw] * 0.12 + 6  # a dark area: levels ~6–37
    before = np.clip(before + rng.normal(0, 1.0, before.shape), 0, 255).astype(np.uint8)  # sensor noise
    edited = before.astype(np.float32)
    px, py = x + (dw - patch) // 2, y + (dh - patch) // 2
    other = cv2.resize(photo("chelsea" if name != "chelsea" else "coffee"), (patch, patch),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    texture = (other - other.mean()) / max(1.0, other.std()) * 1.5  # the object's own faint texture
    under = cv2.GaussianBlur(edited[py:py + patch, px:px + patch], (0, 0), 8)
    edited[py:py + patch, px:px + patch] = under + step + texture
    changed = np.zeros((h, w), bool)
    changed[py:py + patch, px:px + patch] = True
    m = similarity(rng, w, h, shift=shift, scale=0.003, degrees=0.1)
    result = cv2.warpAffine(np.clip(edited, 0, 255), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    result = result * (1 + rng.uniform(-0.015, 0.015, 3)) + rng.uniform(-2, 2, 3) + rng.normal(0, noise, result.shape)
    result = np.clip(result + 0.5, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", result[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    result = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    edited = np.clip(edited + 0.5, 0, 255).astype(np.uint8)
    return Case(f"{name}#{seed} low contrast", before, result, cv2.invertAffineTransform(m), changed, edited)


def restored(case: Case, out: np.ndarray) -> float:
    """The share of the changed patch (away from its border) where the correction put the input's pixels back:
    the output (lightly blurred, as the noise is) nearer the input than the edit."""
    inner = cv2.erode(case.changed.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    soft = lambda a: cv2.GaussianBlur(a[..., :3].astype(np.float32), (0, 0), 1.0)  # noqa: E731
    o = soft(out)
    to_input = np.abs(o - soft(case.before)).mean(axis=2)
    to_edit = np.abs(o - soft(case.edited)).mean(axis=2)
    return float((to_input[inner] < to_edit[inner]).mean())
