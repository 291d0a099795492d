"""Kill a process while it saves, again and again: the file on disk is always a complete old
or new version (atomic save), never a broken one.

Children are forked from a single-threaded fork server that has already imported Akapen, so
each of the hundreds of kills costs milliseconds. ``AKAPEN_KILL_ROUNDS`` raises the count
(the benchmark uses it).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import time

import numpy as np

from canvas.document import Document
from canvas.layers import AnnotationLayer, PixelLayer
from canvas.marks import Arrow
from canvas.ora import load_ora, save_ora

ROUNDS = int(os.environ.get("AKAPEN_KILL_ROUNDS", "220"))


def version(n: int) -> Document:
    """Two clearly different versions with the same layer ids (n = 0 or 1)."""
    rng = np.random.default_rng(n)
    px = rng.integers(0, 256, (96, 128, 4), dtype=np.uint8)
    px[..., 3] = 255
    layers = [PixelLayer(px, name="photo", id="photo")]
    paint = np.zeros((96, 128, 4), np.uint8)
    paint[10 + 20 * n : 40 + 20 * n, 10:60] = (255, 0, 0, 200)
    layers.append(PixelLayer(paint, name="paint", id="paint"))
    layers.append(AnnotationLayer([Arrow(start=(5.0, 5.0), end=(100.0, 50.0 + n), id="arrow")], id="marks"))
    return Document.assemble(128, 96, layers, metadata={"version": n})


def save_forever(path: str, started) -> None:  # runs in the child
    docs = [version(0), version(1)]
    started.set()
    i = 0
    while True:
        save_ora(docs[i % 2], path)
        i += 1


def test_file_is_always_a_complete_version_after_random_kills(tmp_path):
    path = tmp_path / "work.ora"
    versions = [version(0), version(1)]
    t0 = time.perf_counter()
    save_ora(versions[0], path)
    save_s = time.perf_counter() - t0  # kills land within the first 2.5 saves
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["canvas.ora", "tests.canvas.test_kill_save"])
    rng = random.Random(1234)
    mid_write = 0
    for _ in range(ROUNDS):
        started = ctx.Event()
        proc = ctx.Process(target=save_forever, args=(str(path), started), daemon=True)
        proc.start()
        # wait for the child to be saving, so no kill is spent on a child still starting
        # (that depends on the machine's speed, and made the count below flaky)
        assert started.wait(30)
        time.sleep(rng.uniform(0.0, 2.5 * save_s))
        proc.kill()
        proc.join()
        leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
        mid_write += bool(leftovers)
        for p in leftovers:
            p.unlink()
        doc = load_ora(path)  # must load, whatever moment the kill hit
        assert doc.metadata["version"] in (0, 1)
        assert doc.content_equal(versions[doc.metadata["version"]])
        backup = tmp_path / "work.ora~"
        if backup.exists():
            assert load_ora(backup).metadata["version"] in (0, 1)
    # the kills really did land in the middle of writes
    assert mid_write > ROUNDS // 10
