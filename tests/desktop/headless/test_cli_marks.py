"""`akapen align` (a result made elsewhere, aligned to its picture) and `akapen edit --marks / --no-align`."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from canvas.document import Document
from canvas.layers import AnnotationLayer, PixelLayer
from canvas.marks import Ellipse
from tests.desktop.headless.test_cli import ROOT, akapen, load, save
from tests.inference.drift_backend import BALL, ELLIPSE, drift
from tests.inference.photos import coffee

DRIFT_EDIT = """
import sys
from tests.inference.drift_backend import DriftBackend
from inference import registry
from desktop.headless import cli
registry.register("test-drift", DriftBackend, replace=True)
sys.exit(cli.main(sys.argv[1:]))
"""


def _with_ball(img):
    import cv2

    out = img.copy()
    cv2.circle(out, BALL[0], BALL[1], (40, 70, 230, 255), -1, cv2.LINE_AA)
    return out


def _far(shape, border=14):
    m = np.ones(shape, bool)
    (cx, cy), r = BALL
    m[cy - r - 12:cy + r + 12, cx - r - 12:cx + r + 12] = False
    m[:border], m[-border:], m[:, :border], m[:, -border:] = False, False, False, False
    return m


def test_align_takes_a_drifted_result_back_onto_its_picture(tmp_path):
    before = coffee()
    b = save(tmp_path / "before.png", before)
    a = save(tmp_path / "after.png", drift(_with_ball(before)))
    out = tmp_path / "aligned.png"
    r = akapen("align", b, a, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "aligned: 5.8 px" in r.stdout and f"wrote {out}" in r.stdout
    res = load(out)
    far = _far(before.shape[:2])
    assert np.abs(res[..., :3].astype(int) - before[..., :3])[far].mean() < 1.0
    assert res[BALL[0][1], BALL[0][0], 2] > 180
    layer = tmp_path / "changes.png"
    assert akapen("align", b, a, "-o", layer, "--changes-only").returncode == 0
    alpha = load(layer)[..., 3]
    assert alpha[BALL[0][1], BALL[0][0]] == 255 and alpha[far].max() == 0  # only the ball


def test_align_says_when_it_cannot_and_changes_nothing(tmp_path):
    b = save(tmp_path / "before.png", coffee())
    other = np.asarray(np.random.default_rng(3).integers(0, 256, coffee().shape), np.uint8)
    other[..., 3] = 255
    a = save(tmp_path / "noise.png", other)
    out = tmp_path / "o.png"
    r = akapen("align", b, a, "-o", out)
    assert r.returncode == 0 and "not aligned:" in r.stdout
    assert np.array_equal(load(out), other)  # as it came
    r = akapen("align", b, a, "-o", tmp_path / "c.png", "--changes-only")
    assert r.returncode == 1 and "not aligned" in r.stderr and not (tmp_path / "c.png").exists()


def _drift_edit(*args):
    return subprocess.run([sys.executable, "-c", DRIFT_EDIT, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_edit_with_a_model_aligns_and_says_so_and_marks_picks_the_way(tmp_path):
    from canvas.ora import save_ora

    doc = Document.assemble(600, 400, [PixelLayer(coffee(), name="photo")])
    doc.add_layer(AnnotationLayer([Ellipse(p0=ELLIPSE[0], p1=ELLIPSE[1])], name="pen"))
    path = tmp_path / "doc.ora"
    save_ora(doc, path)
    out = tmp_path / "out.png"
    r = _drift_edit("edit", path, "put a blue ball in the circle", "--backend", "test-drift", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "note: aligned:" in r.stdout and "note: pen marks removed" in r.stdout
    assert "must not appear" in r.stdout  # the instruction as the model read it (drawn in)
    res = load(out)
    far = _far(res.shape[:2])
    far[ELLIPSE[0][1] - 16:ELLIPSE[1][1] + 16, ELLIPSE[0][0] - 16:ELLIPSE[1][0] + 16] = False
    assert np.abs(res[..., :3].astype(int) - coffee()[..., :3])[far].mean() < 2.0
    r = _drift_edit("edit", path, "put a blue ball in the circle", "--backend", "test-drift", "-o", out,
                    "--marks", "region", "--no-align")
    assert r.returncode == 0, r.stderr
    assert "circled in red" in r.stdout and "note: aligned" not in r.stdout
    r = akapen("edit", path, "x", "-o", out, "--marks", "telepathy")
    assert r.returncode == 2 and "invalid choice: 'telepathy'" in r.stderr
    r = _drift_edit("backends")
    assert "pen marks (--marks): draw, region" in r.stdout
