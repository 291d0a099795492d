"""Issue 16 figures on the CPU: how much transformer-block work the speed modes skip, on tiny pipelines.

Run: .venv/bin/python benchmarks/speed_bench.py [--families flux-kontext,qwen-image-edit-plus,flux2-klein]
     [--steps 28] [--size 64]

Each tiny real pipeline (tests/inference/tiny_pipelines.py, random weights, offline) is saved and
loaded through the app's loader and run through ``backend.run`` in quality, fast and draft, counting
with forward hooks the transformer calls and the linear-layer calls inside its blocks (a block a step
cache reuses runs none). Fast is run twice: with the table's cache settings (chosen for trained
models) and with a threshold of 0.3 (tiny random models change more per step; with the table's
values the cache reuses little on them). Prints, per mode: transformer calls, block linear calls and
their ratio to quality, the mean absolute pixel difference to quality (levels of 255) and seconds
(this machine is shared: the seconds are noise; the counts are the figure). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import numpy as np  # noqa: E402


def counting(transformer):
    """(counts, remove): transformer calls and linear-layer calls inside its blocks."""
    import torch

    counts = {"calls": 0, "linears": 0}

    def bump(key):
        def hook(*_):
            counts[key] += 1
        return hook

    handles = [transformer.register_forward_pre_hook(bump("calls"))]
    for name in ("transformer_blocks", "single_transformer_blocks"):
        for block in getattr(transformer, name, None) or ():
            handles += [m.register_forward_pre_hook(bump("linears")) for m in block.modules()
                        if isinstance(m, torch.nn.Linear)]
    return counts, lambda: [h.remove() for h in handles]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="flux-kontext,qwen-image-edit-plus,flux2-klein")
    ap.add_argument("--steps", type=int, default=28)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()

    from inference.diffusion import backend_for_model, runtime, speed
    from inference.request import EditRequest
    from tests.inference import tiny_pipelines as tp

    px = np.full((args.size, args.size, 4), 255, np.uint8)
    px[..., :3] = (np.random.RandomState(3).rand(args.size, args.size, 3) * 255).astype(np.uint8)
    print(f"tiny pipelines, {args.size}², quality at {args.steps} steps, draft at {speed.draft_steps(args.steps)}")
    print(f"{'family':<22} {'mode':<22} {'calls':>5} {'block linears':>13} {'×quality':>8} {'|Δ| px':>7} {'s':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for family in [f.strip() for f in args.families.split(",") if f.strip()]:
            folder = tp.save_tiny(family, Path(tmp) / family)
            b = backend_for_model(folder, working_size=args.size)
            base = None
            modes = [("quality", "quality", {}), ("fast (table)", "fast", {}),
                     ("fast (threshold 0.3)", "fast", {"cache_threshold": 0.3}), ("draft", "draft", {})]
            for label, mode, params in modes:
                req = EditRequest(px, "put a hat on it", seed=3, steps=args.steps, speed=mode, params=params,
                                  align=False)
                with tp.small_sizes(family):
                    b.run(req.replace(steps=2, speed="quality"))  # loaded before the hooks go on
                    counts, remove = counting(runtime.CACHE.current.pipe.transformer)
                    t0 = time.perf_counter()
                    try:
                        result = b.run(req)
                    finally:
                        remove()
                seconds = time.perf_counter() - t0
                img = result.images[0][..., :3].astype(np.float64)
                if base is None:
                    base = (img, counts["linears"])
                diff = float(np.abs(img - base[0]).mean())
                print(f"{family:<22} {label:<22} {counts['calls']:>5} {counts['linears']:>13} "
                      f"{counts['linears'] / max(1, base[1]):>8.2f} {diff:>7.3f} {seconds:>6.2f}", flush=True)
                for note in result.notes:
                    if note.startswith("step caching") and mode != "quality":
                        print(f"{'':<22}   {note[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
