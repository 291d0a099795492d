"""Issue 6 figure: what sending an edit to a ComfyUI server costs on top of the server's work.

Run: .venv/bin/python benchmarks/comfyui_overhead.py [--size 1024] [--repeat 10]

Starts a real ComfyUI 0.3.75 on 127.0.0.1 (tests/comfyui_server.py; installs it the first
time), then runs a model-free graph (LoadImage → ImageInvert → SaveImage) through the app's
ComfyUI backend at --size² and reports, as medians over --repeat runs:
- end to end (``backend.run``: server check, upload, queue, WebSocket, fetch, decode);
- the server's own execution time (execution_start → execution_success in ``/history``);
- Akapen's part = the difference, and how it splits over the phases.
On a real GPU server the execution time is seconds to minutes, so the part that matters is
the absolute overhead in milliseconds. Loopback only: a remote server adds its network time.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import numpy as np  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=10)
    args, _ = ap.parse_known_args()

    from inference.comfyui.backend import ComfyWorkflowBackend
    from inference.comfyui.client import ComfyClient
    from inference.comfyui.servers import ServerConfig
    from inference.request import EditRequest
    from tests.comfyui_server import ComfyServer

    graph = {"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
             "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
             "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "bench"}}}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        server = ComfyServer(Path(tmp)).start()
        print(f"ComfyUI started in {time.perf_counter() - t0:.1f} s at {server.url}")
        try:
            backend = ComfyWorkflowBackend([ServerConfig(server.url)])
            client = ComfyClient(server.url)
            totals, server_times, phases = [], [], {}
            for i in range(args.repeat + 1):
                img = rng.integers(0, 256, (args.size, args.size, 4), dtype=np.uint8)
                img[..., 3] = 255  # a new image each run: nothing is cached on the server
                req = EditRequest(img, "", params={"workflow": graph})
                t = time.perf_counter()
                res = backend.run(req)
                total = time.perf_counter() - t
                entry = next(iter(client.get_json("/history?max_items=1").values()))
                stamps = {k: d.get("timestamp") for k, d in entry["status"]["messages"]}
                ran = (stamps["execution_success"] - stamps["execution_start"]) / 1000.0
                if i == 0:
                    continue  # warm-up
                totals.append(total)
                server_times.append(ran)
                for k, v in res.timings.items():
                    phases.setdefault(k, []).append(v)
            med = statistics.median
            over = med([a - b for a, b in zip(totals, server_times, strict=True)])
            print(f"{args.size}² invert, {args.repeat} runs: end to end {med(totals) * 1000:.0f} ms, "
                  f"server execution {med(server_times) * 1000:.0f} ms, Akapen's part {over * 1000:.0f} ms")
            print("phases (median ms): " + ", ".join(f"{k} {med(v) * 1000:.0f}" for k, v in phases.items()))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
