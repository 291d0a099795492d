"""Aspect buckets, and one transform applied alike to both sides of a pair.

Each pair trains at the bucket nearest its aspect with about ``resolution``² pixels (sides in
multiples of 64, as ai-toolkit and SimpleTuner bucket). Before and after get the *same* resize,
centre crop and flip — computed once from the pair's aspect, then applied to each image at its
own size — so the model learns the edit and not a shift between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

STEP = 64
RESOLUTIONS = (512, 768, 1024)


@dataclass(frozen=True)
class Bucket:
    width: int
    height: int

    @property
    def aspect(self) -> float:
        return self.width / self.height


def buckets(resolution: int, step: int = STEP, max_aspect: float = 4.0) -> list[Bucket]:
    """Every bucket of about ``resolution``² pixels (at most that many), sides a multiple of ``step``."""
    area = resolution * resolution
    out = []
    for w in range(step, int(resolution * math.sqrt(max_aspect)) + step, step):
        h = (area // w) // step * step
        if h >= step and 1 / max_aspect <= w / h <= max_aspect:
            out.append(Bucket(w, h))
    return out


def bucket_for(width: int, height: int, resolution: int, step: int = STEP) -> Bucket:
    """The bucket nearest the aspect of a ``width``×``height`` image (in log aspect), largest first."""
    aspect = math.log(width / height)
    return min(buckets(resolution, step), key=lambda b: (abs(math.log(b.aspect) - aspect), -b.width * b.height))


@dataclass(frozen=True)
class PairTransform:
    """Cover-resize to the bucket, crop the centre (``shift`` moves the crop, -1..1), flip if asked."""

    bucket: Bucket
    flip: bool = False
    shift: tuple[float, float] = (0.0, 0.0)

    def box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The part of a ``width``×``height`` image that fills the bucket: (x0, y0, x1, y1) in its pixels."""
        scale = max(self.bucket.width / width, self.bucket.height / height)
        cw, ch = self.bucket.width / scale, self.bucket.height / scale
        sx, sy = self.shift
        x0 = (width - cw) / 2 * (1 + max(-1.0, min(1.0, sx)))
        y0 = (height - ch) / 2 * (1 + max(-1.0, min(1.0, sy)))
        return x0, y0, x0 + cw, y0 + ch

    def apply(self, rgba: np.ndarray) -> np.ndarray:
        """RGB uint8 (bucket height, bucket width, 3): transparency over white, then the crop and flip."""
        h, w = rgba.shape[:2]
        if (rgba[..., 3] < 255).any():
            a = rgba[..., 3:4].astype(np.float32) / 255.0
            rgb = (rgba[..., :3].astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)
        else:
            rgb = np.ascontiguousarray(rgba[..., :3])
        img = Image.fromarray(rgb, "RGB").resize((self.bucket.width, self.bucket.height), Image.Resampling.LANCZOS,
                                                 box=self.box(w, h))
        out = np.asarray(img)
        return np.ascontiguousarray(out[:, ::-1]) if self.flip else out


def transform_for(pair, resolution: int, step: int = STEP, flip: bool = False) -> PairTransform:
    h, w = pair.after.shape[:2]
    return PairTransform(bucket_for(w, h, resolution, step), flip)
