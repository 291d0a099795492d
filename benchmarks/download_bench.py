"""Issue 21 figures: model downloads against a local stand-in of the Hub (tests/hub_server.py, 127.0.0.1).

Run: .venv/bin/python benchmarks/download_bench.py [--size-mb 2048] [--kill-mb 256] [--repeat 3]

1. Throughput: one --size-mb file (random bytes, on disk) fetched by Akapen's downloader (plan, resumable
   transfer, sha256 while streaming, cache layout) against a plain HTTP read of the same bytes from the same
   server into nothing; medians over --repeat, each side in a fresh child process (so the server and the client
   do not share one interpreter). Goal: ≥ 0.9×.
2. Memory: the downloader child's peak RSS (ru_maxrss) while fetching the --size-mb file, and its RSS before
   the download began (imports done). Goal: ≤ 200 MB: streamed, never held.
3. Bytes fetched again after a kill: a --kill-mb file served at 64 MB/s, the child SIGKILLed half-way, then
   started again: what the server sent in all minus the file's size. Goal: ≤ one chunk (1 MiB).
Asserts nothing; prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAIN = r"""
import json, resource, sys, time, urllib.request
url = sys.argv[1]
t0 = time.perf_counter()
n = 0
with urllib.request.urlopen(url) as r:
    while True:
        b = r.read1(1 << 20)
        if not b:
            break
        n += len(b)
print(json.dumps({"seconds": time.perf_counter() - t0, "bytes": n,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PLAIN_FILE = r"""
import json, os, resource, sys, time, urllib.request
url, out = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
n = 0
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
with urllib.request.urlopen(url) as r:
    while True:
        b = r.read1(1 << 20)
        if not b:
            break
        os.write(fd, b)
        n += len(b)
os.close(fd)
print(json.dumps({"seconds": time.perf_counter() - t0, "bytes": n,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
os.unlink(out)
"""

AKAPEN = r"""
import json, os, resource, sys, time
from inference.hub import api, download, manage
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
hub = api.Hub()
t0 = time.perf_counter()
p = manage.make_plan(manage.Request(sys.argv[1], files=(sys.argv[2],)), hub)
got = download.run(hub, p)
print(json.dumps({"seconds": time.perf_counter() - t0, "bytes": got.fetched_bytes, "before_mb": before,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(code: str, *args: str, env: dict) -> dict:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"child failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=2048)
    ap.add_argument("--kill-mb", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args, _ = ap.parse_known_args()

    from inference.hub import transfer
    from tests.hub_server import HubServer

    work = Path(tempfile.mkdtemp(prefix="akapen-dl-bench-"))
    big = work / "big.safetensors"
    with big.open("wb") as f:
        for _ in range(args.size_mb):
            f.write(os.urandom(1 << 20))
    server = HubServer().start()
    server.add("bench/big", {"model.safetensors": big})
    env = {**os.environ, "HF_ENDPOINT": server.url, "PYTHONPATH": str(ROOT), "AKAPEN_STATE_DIR": str(work / "state")}
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HF_HUB_CACHE"):
        env.pop(k, None)
    size = big.stat().st_size
    print(f"file: {size / 1e6:.0f} MB, loopback, {os.cpu_count()} cores")

    plain, plain_file, ours, peaks, befores = [], [], [], [], []
    cdn = f"http://localhost:{server.port}/cdn/bench/big/model.safetensors"
    for i in range(args.repeat):
        r = child(PLAIN, cdn, env=env)
        assert r["bytes"] == size
        plain.append(r["seconds"])
        r = child(PLAIN_FILE, cdn, str(work / "plain.bin"), env=env)
        assert r["bytes"] == size
        plain_file.append(r["seconds"])
        env_i = {**env, "HF_HOME": str(work / f"hf-{i}")}
        r = child(AKAPEN, "bench/big", "model.safetensors", env=env_i)
        assert r["bytes"] == size
        ours.append(r["seconds"])
        peaks.append(r["peak_mb"])
        befores.append(r["before_mb"])
        import shutil

        shutil.rmtree(work / f"hf-{i}")
    p, pf, o = statistics.median(plain), statistics.median(plain_file), statistics.median(ours)
    print(f"plain HTTP read into nothing:   {p:.2f} s  ({size / p / 1e6:.0f} MB/s), median of {args.repeat}")
    print(f"plain HTTP read into a file:    {pf:.2f} s  ({size / pf / 1e6:.0f} MB/s)")
    print(f"Akapen download:                {o:.2f} s  ({size / o / 1e6:.0f} MB/s; plan + sha256 + write + link)")
    print(f"throughput ratio: {p / o:.2f}× of the read into nothing, {pf / o:.2f}× of the read into a file "
          "(goal ≥ 0.9×)")
    print(f"peak RSS while downloading {size / 1e9:.1f} GB: {max(peaks):.0f} MB (after imports, before the "
          f"download: {max(befores):.0f} MB; goal ≤ 200 MB)")

    # bytes fetched again after a kill
    kill = work / "kill.safetensors"
    with kill.open("wb") as f:
        for _ in range(args.kill_mb):
            f.write(os.urandom(1 << 20))
    server.add("bench/kill", {"model.safetensors": kill})
    ksize = kill.stat().st_size
    env_k = {**env, "HF_HOME": str(work / "hf-kill")}
    server.reset()
    server.throttle(64e6)
    proc = subprocess.Popen([sys.executable, "-c", AKAPEN, "bench/kill", "model.safetensors"], env=env_k, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = work / "hf-kill" / "hub" / "models--bench--kill" / "blobs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = sum(p.stat().st_size for p in parts.glob("*.incomplete")) if parts.is_dir() else 0
        if got >= ksize // 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # the dead connection's last block
    kept = sum(p.stat().st_size for p in parts.glob("*.incomplete"))
    sent_before = server.bytes_sent("model.safetensors")
    server.throttle(None)
    child(AKAPEN, "bench/kill", "model.safetensors", env=env_k)
    sent_all = server.bytes_sent("model.safetensors")
    print(f"kill half-way: {kept / 1e6:.1f} of {ksize / 1e6:.0f} MB kept; the server sent {sent_before / 1e6:.1f} MB "
          f"before the kill and {(sent_all - sent_before) / 1e6:.1f} MB after the restart")
    print(f"bytes fetched again after the kill: {sent_all - ksize} (one chunk = {transfer.CHUNK}; goal ≤ one chunk)")
    server.stop()
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
