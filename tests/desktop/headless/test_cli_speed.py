"""``akapen edit --speed quality|fast|draft`` on a tiny real FLUX.1 Kontext folder."""

from __future__ import annotations

import numpy as np
import pytest

from tests.desktop.headless.test_cli import akapen, load, save
from tests.inference.conftest import TinyModels


@pytest.fixture(scope="module")
def kontext(tmp_path_factory):
    return TinyModels(tmp_path_factory)("flux-kontext")


def test_speed_draft_runs_fewer_steps_and_says_so(kontext, tmp_path):
    rng = np.random.RandomState(2)
    px = np.full((64, 64, 4), 255, np.uint8)
    px[..., :3] = (rng.rand(64, 64, 3) * 255).astype(np.uint8)
    src = save(tmp_path / "in.png", px)
    out = tmp_path / "out.png"
    r = akapen("edit", src, "put a hat on it", "-o", out, "--model", kontext, "--steps", "10", "--seed", "1",
               "--speed", "draft", "--memory-mode", "cpu", "--no-align")
    assert r.returncode == 0, r.stderr
    assert "note: draft: 4 of 10 steps" in r.stdout
    assert "note: torch.compile and FP8: not used (CUDA only; this run is on cpu)" in r.stdout
    assert load(out).shape == (64, 64, 4)
    r = akapen("edit", src, "x", "-o", out, "--model", kontext, "--speed", "ludicrous")
    assert r.returncode == 2 and "--speed" in r.stderr and "quality" in r.stderr


def test_speed_on_a_backend_with_one_speed_is_a_note(tmp_path):
    from tests.inference.photos import astronaut

    src = save(tmp_path / "in.png", astronaut())
    r = akapen("edit", src, "-o", tmp_path / "o.png", "--backend", "classical", "--task", "stylise", "--speed", "fast")
    assert r.returncode == 0, r.stderr
    assert "note: speed fast: the classical backend has one speed" in r.stdout
