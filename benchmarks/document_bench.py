"""Issue 2 and 16 figures: the memory floor, full recomposite, one layer's opacity / blend mode /
visibility changed, projection update after a brush dab, .ora save and load.

The floor is the time to read every content layer's pixels once (one numpy pass over each
raster); compositing figures are also printed as ratios to it, measured in the same run, so
they mean the same on a busy or a quiet machine (issue 16: full recomposite and a one-layer
change ≤ 4× the floor).

Run: .venv/bin/python benchmarks/document_bench.py [--size 4096] [--layers 20] [--dabs 200]
Prints figures; asserts nothing (timings are never tests).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks.scenes import big_document  # noqa: E402
from canvas.brush import Brush, dab  # noqa: E402


def pct(values, q):
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def memory_floor(doc, repeats: int = 7) -> float:
    """Seconds to read every content layer's pixels once (the best of ``repeats``)."""
    rasters = [np.ascontiguousarray(lyr.raster()[0]).reshape(-1) for lyr in doc.layers if lyr.role == "content"]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for r in rasters:
            r.max()
        best = min(best, time.perf_counter() - t0)
    return best


def layer_changes(doc, proj, layer, floor: float, ticks: int) -> None:
    """An opacity drag, blend-mode changes and visibility toggles of ``layer``, each update timed.

    Each change recomposites where the layer has pixels; without the compiled tile pass
    (AKAPEN_NO_NUMBA=1) the second in a row builds the layer's cache (composites below and
    above it, ``canvas.focus``). The first two are printed on their own, then the p50/p95 over
    the following changes, and the p95 over all of them."""
    from canvas.blend import BLEND_MODES

    def timed(change):
        t0 = time.perf_counter()
        change()
        proj.update()
        return time.perf_counter() - t0

    def show(what, times):
        first, second, rest = times[0], times[1], times[2:]
        cached = proj._focus is not None  # canvas.focus: only without the compiled tile pass
        print(f"  {what}: first {first * 1000:.0f} ms ({first / floor:.1f}×), second"
              f"{' (builds the cache)' if cached else ''} {second * 1000:.0f} ms ({second / floor:.1f}×), "
              f"then p50 {pct(rest, 50):.0f} ms, p95 {pct(rest, 95):.0f} ms ({pct(rest, 95) / 1000 / floor:.1f}× "
              f"floor); all {len(times)}: p95 {pct(times, 95) / 1000 / floor:.1f}× floor")

    proj.update()
    start = layer.props()
    print(f"{layer.name} ({layer.kind}, {layer.bounds().w}×{layer.bounds().h}, index {doc.index_of(layer.id)}):")
    values = [0.5 + 0.45 * np.cos(k * 0.4) for k in range(ticks + 1)]
    def fresh_start():  # each kind of change starts without the caches of the one before
        proj.invalidate()
        proj.update()

    fresh_start()
    show("opacity drag", [timed(lambda v=v: doc.set_layer_props(layer.id, opacity=float(v))) for v in values])
    modes = [m for m in BLEND_MODES if m != "normal"]
    seq = [modes[k % len(modes)] for k in range(ticks)] + ["normal"]
    fresh_start()
    show("blend mode", [timed(lambda m=m: doc.set_layer_props(layer.id, blend=m)) for m in seq])
    fresh_start()
    show("visibility toggle", [timed(lambda k=k: doc.set_layer_props(layer.id, visible=k % 2 == 1))
                               for k in range(ticks + 1)])
    doc.set_layer_props(layer.id, **{k: start[k] for k in ("opacity", "blend", "visible")})
    proj.update()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--layers", type=int, default=20)
    ap.add_argument("--dabs", type=int, default=200)
    ap.add_argument("--ticks", type=int, default=30, help="changes per layer figure")
    ap.add_argument("--no-io", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    doc = big_document(args.size, args.layers)
    print(f"document: {args.size}×{args.size}, {len(doc.layers)} layers "
          f"({', '.join(sorted({lyr.kind for lyr in doc.layers}))}), built in {time.perf_counter() - t0:.1f} s")
    proj = doc.projection()
    try:
        load = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} cores, load average {load:.2f} at the start")
        try:
            from canvas import kernels

            on = kernels.enabled() if hasattr(kernels, "enabled") else kernels.ENABLED
            state = "on" if on else "off (numpy / OpenCV paths)"
        except ImportError:  # an older checkout, run with this script for a before/after
            state = "not in this version"
        print(f"compiled tile pass (numba): {state} (AKAPEN_NO_NUMBA=1 turns it off, to compare)")
    except OSError:  # pragma: no cover
        pass
    floor = memory_floor(doc)
    nbytes = sum(lyr.raster()[0].nbytes for lyr in doc.layers if lyr.role == "content")
    print(f"floor: reading every content layer's pixels once ({nbytes / 1e6:.0f} MB): {floor * 1000:.1f} ms "
          f"({nbytes / floor / 1e9:.1f} GB/s)")

    t0 = time.perf_counter()
    proj.update()
    first = time.perf_counter() - t0
    print(f"first composite (includes per-layer rendering and tile statistics): {first * 1000:.0f} ms")

    fulls = []
    for _ in range(5):
        proj.invalidate()
        t0 = time.perf_counter()
        proj.update()
        fulls.append(time.perf_counter() - t0)
    print(f"full recomposite: median {np.median(fulls) * 1000:.0f} ms, min {min(fulls) * 1000:.0f} ms "
          f"({np.median(fulls) / floor:.1f}× floor; target ≤ 4×)")
    # what bounds it: the number of (layer, tile) pairs that hold pixels and must be blended
    from canvas.tiles import TILE

    nt = (args.size + TILE - 1) // TILE
    pairs = sum(1 for lyr in doc.layers if lyr.role == "content" for ty in range(nt) for tx in range(nt)
                if lyr.tile_alpha(tx, ty)[0] > 0)
    print(f"  work: {pairs} non-empty (layer, {TILE}² tile) pairs of {nt * nt * len(doc.layers)}; "
          f"{np.median(fulls) / pairs * 1e6:.0f} µs per pair on {os.cpu_count()} core(s)")

    content = [lyr for lyr in doc.layers if lyr.role == "content"]
    full = [lyr for lyr in content if lyr.kind == "pixel" and lyr.bounds() == doc.rect]
    for layer in dict.fromkeys([full[-1], content[0], next(lyr for lyr in content if lyr.kind == "piece")]):
        layer_changes(doc, proj, layer, floor, args.ticks)
        doc.history.clear()  # the bench's own steps would otherwise pile up in memory

    rng = np.random.default_rng(1)
    paint = next(lyr for lyr in reversed(doc.layers) if lyr.kind == "pixel" and lyr.bounds() == doc.rect)
    brush = Brush(size=64, hardness=0.7, color=(200, 40, 40))
    updates, totals = [], []
    for i in range(args.dabs):
        x, y = rng.uniform(0, args.size, 2)
        t0 = time.perf_counter()
        dab(doc, paint.id, float(x), float(y), brush, stroke=i)
        t1 = time.perf_counter()
        proj.update()
        t2 = time.perf_counter()
        updates.append(t2 - t1)
        totals.append(t2 - t0)
    print(f"projection update after a 64 px dab ({args.dabs} dabs at random places): "
          f"p50 {pct(updates, 50):.2f} ms, p95 {pct(updates, 95):.2f} ms (target p95 ≤ 8 ms)")
    print(f"dab + undo record + projection update: p50 {pct(totals, 50):.2f} ms, p95 {pct(totals, 95):.2f} ms")

    if args.no_io:
        return
    try:
        from canvas.ora import load_ora, save_ora
    except ImportError as exc:  # pragma: no cover
        print(f"ora: not available ({exc})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.ora"
        saves = []
        for _ in range(3):
            t0 = time.perf_counter()
            save_ora(doc, path)
            saves.append(time.perf_counter() - t0)
        size_mb = os.path.getsize(path) / 1e6
        print(f".ora save: first {saves[0]:.2f} s, then median {np.median(saves[1:]):.2f} s, "
              f"{size_mb:.0f} MB (target ≤ 3 s)")
        loads = []
        for _ in range(2):
            t0 = time.perf_counter()
            loaded = load_ora(path)
            loads.append(time.perf_counter() - t0)
        print(f".ora load: median {np.median(loads):.2f} s; round trip equal: {loaded.content_equal(doc)}")


if __name__ == "__main__":
    main()
