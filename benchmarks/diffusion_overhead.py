"""Issue 5 figure: what the app's path costs on top of a direct diffusers call.

Run: .venv/bin/python benchmarks/diffusion_overhead.py [--family flux-kontext] [--size 256]
     [--steps 4] [--repeat 15]

A tiny real pipeline (tests/inference/tiny_pipelines.py, random weights, offline) is saved
to a temporary folder and loaded through the app's loader. Then, alternately in one process:
- app: Document → build_request → backend.run → apply_result (the new layer);
- direct: the same loaded pipeline called by hand with the same inputs and seed.
Prints the median seconds of each, the overhead ratio (target ≤ 3 %), the number of loads
(target: 1 for all the runs) and whether the pixels agree. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import numpy as np  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="flux-kontext", choices=("flux-kontext", "instruct-pix2pix", "flux2-klein"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()

    import torch
    from PIL import Image

    from benchmarks.scenes import noise_rgba
    from canvas.document import Document
    from canvas.layers import PixelLayer
    from desktop.headless.edit_request import apply_result, build_request
    from inference.diffusion import backend_for_model, runtime
    from tests.inference import tiny_pipelines as tp

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    s = args.size
    pixels = noise_rgba(s)
    prompt = "make the sky red"
    with tempfile.TemporaryDirectory() as tmp:
        folder = tp.save_tiny(args.family, Path(tmp) / args.family)
        backend = backend_for_model(folder, working_size=s)
        loaded = backend.pipeline()
        loads_before = runtime.CACHE.loads

        def kwargs():
            image = Image.fromarray(pixels[..., :3])
            if args.family == "flux-kontext":
                return {"image": image, "height": s, "width": s, "max_area": s * s, "_auto_resize": False,
                        "guidance_scale": 2.5}
            if args.family == "instruct-pix2pix":
                return {"image": image, "guidance_scale": 7.5, "image_guidance_scale": 1.5}
            return {"image": [image], "height": s, "width": s, "guidance_scale": 1.0}

        def direct():
            with torch.inference_mode():
                out = loaded.pipe(prompt=prompt, num_inference_steps=args.steps, output_type="pil",
                                  generator=torch.Generator("cpu").manual_seed(1), **kwargs())
            return np.asarray(out.images[0])

        def app():
            doc = Document.assemble(s, s, [PixelLayer(pixels, name="photo")])
            req = build_request(doc, prompt, None, backend.capabilities, seed=1, steps=args.steps)
            result = backend.run(req)
            return apply_result(doc, req, result).pixels

        inside: list[float] = []
        real_call = runtime.call

        def timed_call(*a, **k):  # the time spent inside the pipeline call on the app path
            t0 = time.perf_counter()
            try:
                return real_call(*a, **k)
            finally:
                inside.append(time.perf_counter() - t0)

        runtime.call = timed_call
        same = np.array_equal(app()[..., :3], direct())  # also warms both paths up
        inside.clear()
        t_app, t_direct = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            direct()
            t_direct.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            app()
            t_app.append(time.perf_counter() - t0)
        loads = runtime.CACHE.loads - loads_before
        runtime.call = real_call
    outside = [a - i for a, i in zip(t_app, inside, strict=True)]
    md, ma = statistics.median(t_direct), statistics.median(t_app)
    print(f"{args.family} tiny, {s}×{s}, {args.steps} steps, {args.repeat} runs each (CPU, float32)")
    print(f"direct call   median {md * 1000:8.2f} ms  (min {min(t_direct) * 1000:.2f})")
    print(f"app path      median {ma * 1000:8.2f} ms  (min {min(t_app) * 1000:.2f})")
    print(f"overhead      {100 * (ma - md) / md:+.2f} % of the call (median), "
          f"{100 * (min(t_app) - min(t_direct)) / min(t_direct):+.2f} % (min); target ≤ 3 %")
    mo = statistics.median(outside)
    print(f"app work outside the pipeline call: median {mo * 1000:.2f} ms per edit = {100 * mo / md:.2f} % of "
          "the direct call (document render, request, checks, conversion, layer insertion)")
    print(f"reloads       {loads} over {args.repeat + 1} app runs (target 0)")
    print(f"same pixels   {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
