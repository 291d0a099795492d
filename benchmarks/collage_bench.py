"""Issue 14 figures: the classical collage refine on real photographs (tests/inference/collage_cases.py).

Run: .venv/bin/python benchmarks/collage_bench.py [--out DIR]

Per case and identity strength: the colour step across the piece's edge (mean local Lab ΔE, before → after,
goal: falls ≥ 60 %), the piece's chroma spread kept (goal ≥ 85 % at the default 85 %), its mean chroma kept,
the seam's gradient (before → after), pixels changed farther than 80 px from the piece (goal 0), the mean
change deep inside the piece, and the time. ``--out`` writes collage | refined side by side. Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from inference.classical import ClassicalBackend  # noqa: E402
from inference.region import composite_over  # noqa: E402
from inference.request import EditRequest, Piece  # noqa: E402
from tests.inference import collage_cases as CC  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    print(f"{'case':<24} {'identity':>8} {'edge gap':>16} {'spread':>7} {'chroma':>7} {'seam':>12} {'far':>4} "
          f"{'inside':>7} {'s':>6}")
    for name, *_ in CC.CASES:
        c = CC.make(name)
        for t in (1.0, 0.85, 0.5, 0.0):
            pieces = tuple(Piece(p.mask, p.x, p.y, p.name, t) for p in c.pieces)
            t0 = time.perf_counter()
            res = ClassicalBackend().run(EditRequest(c.image, task="refine-collage", pieces=pieces))
            dt = time.perf_counter() - t0
            out = composite_over(c.image, res.images[0], res.rect)
            m = CC.measure(c, out)
            fall = 100 * (1 - m["gap_after"] / m["gap_before"])
            print(f"{name:<24} {t * 100:>7.0f}% {m['gap_before']:>5.1f}→{m['gap_after']:<4.1f}({fall:>3.0f}%) "
                  f"{m['spread_kept'] * 100:>6.0f}% {m['chroma_kept'] * 100:>6.0f}% "
                  f"{m['seam_before']:>5.1f}→{m['seam_after']:<5.1f} {CC.changed_far(c.image, out, c.solid, 80):>4} "
                  f"{m['interior_diff']:>7.1f} {dt:>6.2f}")
            if args.out and t == 0.85:
                from PIL import Image

                args.out.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.hstack([c.image, out])).save(args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
