"""``akapen edit … --backend A --backend B``: one instruction, several backends, one output and one line each;
a backend that cannot run is reported beside the others and never stops them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.desktop.headless.test_cli import ROOT, load, save
from tests.desktop.headless.test_cli_terminal import _env
from tests.inference.conftest import TinyModels
from tests.inference.photos import astronaut


@pytest.fixture(scope="module")
def kontext(tmp_path_factory):
    return TinyModels(tmp_path_factory)("flux-kontext")


def _akapen(*args, env):
    return subprocess.run([sys.executable, "-m", "desktop.headless.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, env=env)


def test_three_backends_compared_with_one_failing(tmp_path, kontext):
    import cv2

    photo = save(tmp_path / "in.png", cv2.resize(astronaut(), (96, 96), interpolation=cv2.INTER_AREA))
    out = tmp_path / "out.png"
    env = _env(AKAPEN_MODEL_PATH=str(kontext), HF_HUB_OFFLINE="1", AKAPEN_CONFIG_DIR=str(tmp_path / "cfg"))
    r = _akapen("edit", photo, "", "--task", "style-pencil", "--steps", "2", "--seed", "7", "-o", out,
                "--backend", "classical", "--backend", "flux-kontext", "--backend", "qwen-image-edit", env=env)
    assert r.returncode == 1, r.stderr  # one of three failed
    lines = r.stdout.splitlines()
    assert lines[0].startswith("comparing 3 backends (seed 7): classical [cpu], flux-kontext [gpu], "
                               "qwen-image-edit [cannot run]")
    by = {ln.split(" ")[0].rstrip(":"): ln for ln in lines[1:] if not ln.startswith((" ", "compared"))}
    assert set(by) == {"classical", "flux-kontext", "qwen-image-edit"}
    assert "failed — the qwen-image-edit backend is not available: no model found" in by["qwen-image-edit"]
    for name in ("classical", "flux-kontext"):
        path = tmp_path / f"out-{name}.png"
        assert f"wrote {path}" in by[name] and " s · seed " in by[name]
        img = load(path)
        assert img.shape == (96, 96, 4)
    assert "seed 7" in by["flux-kontext"]  # the seed given is every seeded backend's
    assert not np.array_equal(load(tmp_path / "out-classical.png"), load(tmp_path / "out-flux-kontext.png"))
    assert not out.exists()
    assert lines[-1].startswith("compared 3 backends in ") and lines[-1].endswith(
        "2 gave results, 1 failed (qwen-image-edit)")


def test_compare_refuses_a_model_folder_and_a_missing_output_folder(tmp_path):
    photo = save(tmp_path / "in.png", astronaut()[:64, :64].copy())
    env = _env(HF_HUB_OFFLINE="1", AKAPEN_CONFIG_DIR=str(tmp_path / "cfg"))
    r = _akapen("edit", photo, "x", "-o", tmp_path / "nowhere" / "o.png", "--backend", "classical",
                "--backend", "flux-kontext", env=env)
    assert r.returncode == 1 and "does not exist" in r.stderr and r.stderr.count("\n") == 1
    r = _akapen("edit", photo, "x", "-o", tmp_path / "o.png", "--backend", "classical", "--backend", "flux-kontext",
                "--model", tmp_path, env=env)
    assert r.returncode == 1 and "leave --model and --workflow out" in r.stderr


def test_the_status_line_shows_every_backend_on_a_terminal_and_nothing_when_piped():
    import io

    from desktop.headless.compare_command import CompareStatus
    from inference.progress import ProgressUpdate

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    status = CompareStatus(["classical", "flux-kontext"], stream=tty)
    status.progress_for("flux-kontext")(ProgressUpdate(3, 28, phase="denoise"))
    status.set("classical", "done")
    last = tty.getvalue().split("\r")[-1]
    assert last.startswith("classical done · flux-kontext denoise 3/28 [00:0")
    status.close()
    assert tty.getvalue().endswith("\r")  # the line is wiped before the summary is printed
    piped = io.StringIO()
    quiet = CompareStatus(["a", "b"], stream=piped)
    quiet.set("a", "done")
    quiet.close()
    assert piped.getvalue() == ""
