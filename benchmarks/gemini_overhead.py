"""Issue 15 figures: what an edit through the nano-banana backend costs Akapen, apart from Google's work.

Run: .venv/bin/python benchmarks/gemini_overhead.py [--repeat 5]

Starts the tests' stand-in for the Gemini API on 127.0.0.1 (tests/gemini_server.py: it answers the
picture it was sent, inverted) and runs a photograph (scikit-image's astronaut, scaled) through the
backend and Google's SDK at the sizes the models answer at: 1K (nano banana), 2K and 4K (nano banana
pro with image_size). Reports, as medians over --repeat runs:
- the request's size on the wire (base64) and the format sent (PNG, or JPEG when PNG is over 20 MB);
- end to end (``backend.run``), the stand-in's own time, and Akapen's part = the difference
  (encoding, the SDK, decoding, resizing, pasting), with and without alignment of the result.
Google's own time (seconds per image) comes on top. Loopback only. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import numpy as np  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args, _ = ap.parse_known_args()
    from inference.gemini.backend import NanoBananaBackend
    from inference.region import resize_rgba
    from inference.request import EditRequest
    from tests.gemini_server import GOOD_KEY, GeminiServer, decode_inline
    from tests.inference.photos import astronaut

    server = GeminiServer().start()
    os.environ["AKAPEN_GEMINI_BASE_URL"] = server.url
    os.environ["AKAPEN_CONFIG_DIR"] = tempfile.mkdtemp(prefix="akapen-bench-")
    base = astronaut()
    cases = [("1K flash", "gemini-2.5-flash-image", None, 1024), ("2K pro", "gemini-3-pro-image-preview", "2K", 2048),
             ("4K pro", "gemini-3-pro-image-preview", "4K", 4096)]
    print(f"{'case':<10} {'align':<5} {'sent':>6} {'MB':>6} {'end to end':>11} {'stand-in':>9} {'Akapen':>8}  phases (median s)")
    try:
        for label, model, size, side in cases:
            img = resize_rgba(base, (side, side * 3 // 4))
            backend = NanoBananaBackend(model, key=GOOD_KEY, image_size=size)
            for align in (False, True):
                totals, stands, phases = [], [], {}
                mb, fmt = 0.0, ""
                for _ in range(args.repeat):
                    server.reset()
                    req = EditRequest(img, "make it night", align=align)
                    t0 = time.perf_counter()
                    res = backend.run(req)
                    totals.append(time.perf_counter() - t0)
                    (seen,) = server.requests
                    stands.append(seen.seconds)
                    part = seen.body["contents"][0]["parts"][0]
                    blob = part.get("inlineData") or part.get("inline_data")
                    mb = len(blob["data"]) / 2**20
                    fmt = decode_inline(part)[0].split("/")[1].upper()
                    for k, v in res.timings.items():
                        phases.setdefault(k, []).append(v)
                tot, st = statistics.median(totals), statistics.median(stands)
                ph = ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in phases.items())
                print(f"{label:<10} {'yes' if align else 'no':<5} {fmt:>6} {mb:>6.1f} {tot:>10.3f}s {st:>8.3f}s "
                      f"{tot - st:>7.3f}s  {ph}")
    finally:
        server.stop()
    print("Akapen's part = end to end − the stand-in's time (what a real API adds instead: its generation time).")
    _ = np
    return 0


if __name__ == "__main__":
    sys.exit(main())
