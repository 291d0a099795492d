"""Issue 4 figures: the classical backend's tasks at 1024² and 4096², and cancel latency.

Run: .venv/bin/python benchmarks/classical_bench.py [--sizes 1024,4096] [--repeat 1]
Prints seconds per task (the whole ``Backend.run`` path: annotations, region, finish) with
the slowest phase, and how long a cancelled 4096² job takes to stop. Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from inference.classical import STYLES, ClassicalBackend  # noqa: E402
from inference.errors import Cancelled  # noqa: E402
from inference.progress import CancelToken  # noqa: E402
from inference.request import EditRequest, MarkData, Piece, Reference  # noqa: E402


def photo(size: int) -> np.ndarray:
    from skimage import data

    rgb = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_CUBIC)
    return np.dstack([rgb, np.full((size, size), 255, np.uint8)])


def ellipse(size: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    cv2.ellipse(m, (int(cx * size), int(cy * size)), (int(rx * size), int(ry * size)), 0, 0, 360, 255, -1)
    return m


def requests(size: int) -> dict[str, EditRequest]:
    from skimage import data

    img = photo(size)
    cat = cv2.resize(data.chelsea(), (size // 4, size // 5))
    collage = img.copy()
    pieces = []
    for i, (fx, fy) in enumerate(((0.55, 0.55), (0.1, 0.15))):
        alpha = ellipse(max(cat.shape[:2]), 0.5, 0.5, 0.5, 0.4)[: cat.shape[0], : cat.shape[1]]
        x, y = int(fx * size), int(fy * size)
        sub = collage[y:y + cat.shape[0], x:x + cat.shape[1]]
        sub[alpha > 0, :3] = cat[alpha > 0]
        pieces.append(Piece(alpha, x, y, f"piece {i + 1}"))
    s = size
    mark = MarkData("ellipse", ((0.6 * s, 0.05 * s), (0.8 * s, 0.3 * s)), width=max(4.0, s / 200), closed=True)
    ref = Reference("cafe", np.dstack([data.coffee(), np.full((400, 600), 255, np.uint8)]))
    out = {
        "refine-collage (2 pieces)": EditRequest(collage, task="refine-collage", pieces=tuple(pieces)),
        "remove (circled, 4% of area)": EditRequest(img, task="remove", marks=(mark,)),
    }
    for style in STYLES:
        out[f"stylise {style} (whole)"] = EditRequest(img, task="stylise", params={"style": style})
    out["stylise painterly (selection 1/16)"] = EditRequest(
        img, task="stylise", selection=ellipse(size, 0.5, 0.5, 0.125, 0.125), params={"style": "painterly"})
    out["replace-background (selection)"] = EditRequest(
        img, task="replace-background", selection=ellipse(size, 0.49, 0.6, 0.37, 0.49), references=(ref,))
    return out


def cancel_latency(size: int) -> tuple[float, float]:
    """(seconds from cancel() to the job stopping, seconds the job ran before cancel)."""
    req = EditRequest(photo(size), task="stylise", params={"style": "painterly"})
    tok = CancelToken()
    first = threading.Event()
    done = {}

    def worker():
        try:
            ClassicalBackend().run(req, lambda u: first.set() if u.step >= 2 else None, tok)
        except Cancelled:
            done["t"] = time.perf_counter()

    t0 = time.perf_counter()
    th = threading.Thread(target=worker)
    th.start()
    first.wait(600)
    t_cancel = time.perf_counter()
    tok.cancel()
    th.join()
    return done.get("t", float("nan")) - t_cancel, t_cancel - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1024,4096")
    ap.add_argument("--repeat", type=int, default=1)
    args, _ = ap.parse_known_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    backend = ClassicalBackend()
    print(f"classical backend: {backend.model}, {cv2.getNumThreads()} OpenCV thread(s)")
    rows: dict[str, dict[int, tuple[float, str]]] = {}
    for size in sizes:
        for name, req in requests(size).items():
            best, phase = float("inf"), ""
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                res = backend.run(req)
                dt = time.perf_counter() - t0
                if dt < best:
                    best = dt
                    k, v = max(res.timings.items(), key=lambda kv: kv[1])
                    phase = f"{k} {v:.2f} s"
            rows.setdefault(name, {})[size] = (best, phase)
            print(f"  {size}²  {name:<36} {best:7.2f} s   (slowest phase: {phase})", flush=True)
    print()
    print(f"{'task':<38}" + "".join(f"{f'{s}²':>12}" for s in sizes) + ("   ratio" if len(sizes) == 2 else ""))
    for name, by in rows.items():
        cells = "".join(f"{by[s][0]:>11.2f}s" for s in sizes)
        ratio = f"   ×{by[sizes[1]][0] / max(by[sizes[0]][0], 1e-9):.1f}" if len(sizes) == 2 else ""
        print(f"{name:<38}{cells}{ratio}")
    lat, ran = cancel_latency(max(sizes))
    print(f"\ncancel latency, stylise painterly {max(sizes)}² (tile by tile): stopped {lat * 1000:.0f} ms after "
          f"cancel() (cancelled {ran:.2f} s into the job)")


if __name__ == "__main__":
    main()
