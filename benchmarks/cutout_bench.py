"""Issue 14 figures: Layer › Cut out subject against a known answer (tests/canvas/cutout_cases.py).

Run: .venv/bin/python benchmarks/cutout_bench.py [--out DIR]

An object with alpha (scikit-image's logo, a cat's face in an ellipse, a textured horse) flattened onto a
background into an opaque rectangle, as a pasted photo arrives, then cut out again. Per case: the size, the IoU
of the matte with the object's alpha (goal ≥ 0.9 on the simple backgrounds), the pixels wrongly kept and wrongly
removed (as shares of the object), the width of the soft edge and the time. ``--out`` writes piece | matte |
ground truth for each case. Asserts nothing: the thresholds are in tests/canvas/test_cutout.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from canvas.cutout import cut_out, iou  # noqa: E402
from tests.canvas import cutout_cases as CC  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print(f"{'case':28s} {'size':>9s} {'IoU':>6s} {'extra':>7s} {'missed':>7s} {'edge px':>8s} {'time':>6s}")
    for group, cases in (("simple", CC.simple()), ("hard", CC.hard())):
        print(f"-- {group} backgrounds")
        for case in cases:
            t0 = time.perf_counter()
            matte = cut_out(case.piece)
            dt = time.perf_counter() - t0
            got, truth = matte >= 128, case.truth >= 128
            extra = (got & ~truth).sum() / truth.sum()
            missed = (truth & ~got).sum() / truth.sum()
            solid = got.astype(np.uint8)
            outline = max(1, int(solid.sum() - cv2.erode(solid, np.ones((3, 3), np.uint8)).sum()))
            edge = ((matte > 0) & (matte < 255)).sum() / outline
            h, w = matte.shape
            print(f"{case.name:28s} {w:4d}×{h:<4d} {iou(matte, case.truth):6.3f} {extra:7.1%} {missed:7.1%} "
                  f"{edge:8.1f} {dt:5.2f}s")
            if args.out:
                grey = lambda m: np.dstack([m] * 3)  # noqa: E731
                strip = np.hstack([case.piece[..., 2::-1], grey(matte), grey(case.truth)])
                cv2.imwrite(str(args.out / f"{case.name}.png"), strip)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
