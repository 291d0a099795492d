"""Issue 13 figures: drift and colour correction of results, on real photographs with synthetic drift.

Run: .venv/bin/python benchmarks/alignment_bench.py [--seeds 3]

For each of scikit-image's photographs in tests/inference/drift_cases.py and each seed: another photo
pasted over 5–20 % of the picture, then a drift (shift ≤ 8 px, scale 0.98–1.02, rotation ≤ 0.5°), a
colour gain and offset ≤ 8 %, noise σ 2 and JPEG 90. Prints the registration's corner error (goal ≤
0.25 px), the share of the unchanged area within 2 levels of the input (goal ≥ 99 %), the share of the
local change kept in the change mask (goal ≥ 98 %), the time, and what was reported; then the cases
where alignment must refuse (most of the picture changed, a flat picture) and what it did. Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from inference.pen import alignment as A  # noqa: E402
from tests.inference import drift_cases as D  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    rows, met = [], [0, 0, 0]
    print(f"{'case':<26} {'corner px':>9} {'unchanged ≤2':>13} {'change kept':>12} {'s':>6}  reported")
    for name in D.PHOTOS:
        for seed in range(args.seeds):
            c = D.make(name, seed)
            t0 = time.perf_counter()
            out, al = A.align(c.before, c.result)
            dt = time.perf_counter() - t0
            m = D.measure(c, out, al)
            rows.append(m)
            met[0] += m["corner"] <= 0.25
            met[1] += m["unchanged"] >= 0.99
            met[2] += m["kept"] >= 0.98
            print(f"{c.name:<26} {m['corner']:9.3f} {m['unchanged'] * 100:12.2f}% {m['kept'] * 100:11.1f}% "
                  f"{dt:6.2f}  {al.describe()}")
    n = len(rows)
    corners = np.array([r["corner"] for r in rows])
    print(f"\n{n} cases: corner ≤ 0.25 px in {met[0]} (median {np.nanmedian(corners):.3f}, worst "
          f"{np.nanmax(corners):.3f}); unchanged ≥ 99 % in {met[1]} (worst "
          f"{min(r['unchanged'] for r in rows) * 100:.2f} %); change kept ≥ 98 % in {met[2]} (worst "
          f"{min(r['kept'] for r in rows) * 100:.1f} %)")
    print("\nwhere it must not align (the result must come back as it came):")
    flat = D.Case("flat gradient", *_flat())
    for label, c in (("most of the picture changed", D.make("astronaut", 0, change=(0.7, 0.8))),
                     ("the whole picture restyled", _restyled()), (flat.name, flat),
                     ("repeated texture, no change", D.make("brick", 1, change=(0, 0)))):
        out, al = A.align(c.before, c.result)
        same = np.array_equal(out[..., :3], c.result[..., :3])
        print(f"  {label:<30} {al.describe()}{'  (returned as it came)' if same else ''}")
    return 0


def _flat():
    h, w = 256, 384
    y, x = np.mgrid[0:h, 0:w]
    sky = np.dstack([100 + 0.2 * y, 150 + 0.1 * y, 230 - 0.05 * x]).astype(np.uint8)
    result = np.roll(sky, 3, axis=1)
    return sky, result, np.eye(2, 3), np.zeros((h, w), bool)


def _restyled():
    import cv2

    c = D.make("coffee", 0, change=(0, 0))
    styled = cv2.stylization(c.result[..., ::-1].copy(), sigma_s=60, sigma_r=0.45)[..., ::-1]
    return D.Case("restyled", c.before, np.ascontiguousarray(styled), c.truth, np.ones(c.before.shape[:2], bool))


if __name__ == "__main__":
    sys.exit(main())
