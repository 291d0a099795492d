"""Cut-out test images with a known answer: an object with alpha (scikit-image's samples) flattened onto a
background into an opaque rectangle, as a photo of an object arrives when it is pasted — and the object's
alpha, the ground truth the cut-out is measured against.

``SIMPLE`` backgrounds (flat, a gradient, paper with noise, a smooth photo sky) are what the issue's goal
(IoU ≥ 0.9) is about; ``HARD`` ones (texture as busy as the object, the object's own kind of texture, an
object cut by the border) are measured and reported, not held to it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    piece: np.ndarray  # RGBA, opaque: the flattened rectangle
    truth: np.ndarray  # uint8 (h, w): the object's alpha


@cache
def _sample(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    return np.ascontiguousarray(img)


def _ellipse(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    d = ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2
    return np.clip((1.0 - d) * min(h, w) / 4 + 0.5, 0, 1)  # a one-pixel soft edge


def _logo():
    lg = _sample("logo")
    return lg[..., :3], lg[..., 3].astype(np.float32) / 255


def _cat_face():
    cat = _sample("chelsea")[30:270, 110:370]
    return cat, _ellipse(*cat.shape[:2])


def _textured_horse():
    horse = 255 - _sample("horse")[..., 0]  # the sample is a white horse on black: make the horse 255
    h, w = horse.shape
    texture = cv2.resize(_sample("coffee")[40:360, 150:550], (w, h))
    a = cv2.GaussianBlur(horse.astype(np.float32) / 255, (0, 0), 0.7)
    return texture, a


def _background(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "white":
        bg = np.full((h, w, 3), 250.0)
    elif kind == "gradient":
        t = np.linspace(0, 1, h)[:, None, None]
        bg = (1 - t) * np.array([120.0, 150, 190]) + t * np.array([215.0, 215, 225])
        bg = np.broadcast_to(bg, (h, w, 3)).copy()
    elif kind == "paper":
        bg = np.full((h, w, 3), (232.0, 222, 200)) + rng.normal(0, 6, (h, w, 1))
    elif kind == "sky":  # the rocket photo's sky, stretched to the size
        bg = cv2.resize(_sample("rocket")[0:150, 0:220], (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    elif kind in ("grass", "gravel", "brick"):
        bg = cv2.resize(_sample(kind), (w, h)).astype(np.float64) * np.array([0.75, 1.0, 0.6])
    elif kind == "cat-fur":
        bg = cv2.resize(_sample("chelsea")[150:300, 0:150], (w, h)).astype(np.float64)
    else:
        raise ValueError(kind)
    return bg


def _flatten(name: str, obj: np.ndarray, a: np.ndarray, bg_kind: str, margin: float = 0.15,
             crop: tuple[float, float, float, float] | None = None) -> Case:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    oh, ow = a.shape
    mh, mw = round(oh * margin), round(ow * margin)
    h, w = oh + 2 * mh, ow + 2 * mw
    bg = _background(bg_kind, h, w, rng)
    alpha = np.zeros((h, w), np.float64)
    alpha[mh:mh + oh, mw:mw + ow] = a
    fg = bg.copy()
    fg[mh:mh + oh, mw:mw + ow] = obj
    rgb = fg * alpha[..., None] + bg * (1 - alpha[..., None])
    truth = np.rint(alpha * 255).astype(np.uint8)
    if crop is not None:  # a photo that cuts the object off at an edge
        y0, y1, x0, x1 = (round(f * n) for f, n in zip(crop, (h, h, w, w), strict=True))
        rgb, truth = rgb[y0:y1, x0:x1], truth[y0:y1, x0:x1]
    piece = np.dstack([np.clip(np.rint(rgb), 0, 255).astype(np.uint8), np.full(truth.shape, 255, np.uint8)])
    return Case(name, np.ascontiguousarray(piece), np.ascontiguousarray(truth))


def simple() -> list[Case]:
    return [
        _flatten("logo-on-white", *_logo(), "white"),
        _flatten("logo-on-gradient", *_logo(), "gradient"),
        _flatten("cat-face-on-paper", *_cat_face(), "paper"),
        _flatten("cat-face-on-sky", *_cat_face(), "sky"),
        _flatten("horse-on-paper", *_textured_horse(), "paper"),
        _flatten("horse-on-gradient", *_textured_horse(), "gradient"),
    ]


def hard() -> list[Case]:
    return [
        _flatten("logo-on-grass", *_logo(), "grass"),
        _flatten("horse-on-gravel", *_textured_horse(), "gravel"),
        _flatten("cat-face-on-cat-fur", *_cat_face(), "cat-fur"),
        _flatten("cat-face-cut-by-the-edge", *_cat_face(), "paper", crop=(0.0, 0.8, 0.0, 1.0)),
    ]
