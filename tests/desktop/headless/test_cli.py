"""The headless ``akapen`` commands, run for real in a subprocess (no Qt is imported)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.inference.photos import astronaut, coffee

ROOT = Path(__file__).resolve().parents[3]


def akapen(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "desktop.headless.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)


def save(path, rgba):
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def load(path):
    return np.asarray(Image.open(path).convert("RGBA"))


@pytest.fixture
def photo(tmp_path):
    return save(tmp_path / "astronaut.png", astronaut())


def test_backends_lists_the_classical_backend_as_available():
    r = akapen("backends")
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("classical"))
    assert "available" in line and "unavailable" not in line and "stylise" in line


def test_edit_with_the_classical_backend_writes_the_result(photo, tmp_path):
    out = tmp_path / "pencil.png"
    r = akapen("edit", photo, "", "-o", out, "--backend", "classical", "--task", "stylise", "--param", "style=pencil")
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}" in r.stdout and "classical" in r.stdout and "stylise" in r.stdout
    res = load(out)
    assert res.shape == (512, 512, 4)
    assert np.abs(res[..., :3].astype(int) - astronaut()[..., :3]).mean() > 10
    # a preset id works as a task too, and is the same operation
    out2 = tmp_path / "preset.png"
    assert akapen("edit", photo, "-o", out2, "--task", "style-pencil").returncode == 0
    assert np.array_equal(load(out2), res)


def test_edit_remove_with_a_mask_file_changes_only_the_masked_area(photo, tmp_path):
    mask = np.zeros((512, 512, 4), np.uint8)
    mask[..., 3] = 255
    mask[60:140, 330:400, :3] = 255
    mpath = save(tmp_path / "mask.png", mask)
    out = tmp_path / "removed.png"
    r = akapen("edit", photo, "-o", out, "--task", "remove", "--mask", mpath)
    assert r.returncode == 0, r.stderr
    res, img = load(out), astronaut()
    allowed = np.zeros((512, 512), bool)
    allowed[50:150, 320:410] = True
    assert np.array_equal(res[~allowed], img[~allowed])
    assert not np.array_equal(res[allowed], img[allowed])


def test_edit_background_with_a_reference_and_honest_variations(photo, tmp_path):
    ref = save(tmp_path / "cafe.png", coffee())
    out = tmp_path / "bg.png"
    r = akapen("edit", photo, "-o", out, "--task", "background", "--ref", ref, "--variations", "2")
    assert r.returncode == 0, r.stderr
    assert "warning: the classical backend gives 1 result(s) per run, not 2" in r.stdout
    assert out.exists() and not (tmp_path / "bg-2.png").exists()
    assert not np.array_equal(load(out)[:10, :10], astronaut()[:10, :10])


@pytest.mark.parametrize("args, words", [
    (["edit", "{tmp}/missing.png", "-o", "{tmp}/o.png", "--task", "stylise"], "missing.png: no such file"),
    (["edit", "{photo}", "-o", "{tmp}/o.png", "--backend", "dalle", "--task", "stylise"], "no backend called 'dalle'"),
    (["edit", "{photo}", "make it pop", "-o", "{tmp}/o.png"], "does not read instructions"),
    (["edit", "{photo}", "-o", "{tmp}/o.png", "--task", "teleport"], "no task preset 'teleport'"),
    (["edit", "{photo}", "-o", "{tmp}/o.png", "--task", "camera-angle"], "needs an editing model"),
    (["edit", "{photo}", "-o", "{tmp}/o.png", "--task", "remove"], "what to remove"),
    (["edit", "{photo}", "-o", "{tmp}/o.png", "--task", "background"], "reference image"),
    (["edit", "{photo}", "-o", "{tmp}/o.gif", "--task", "stylise"], "write .png or .jpg"),
    (["info", "{tmp}/missing.ora"], "no such file"),
])
def test_errors_are_one_clear_line_and_a_non_zero_exit(photo, tmp_path, args, words):
    r = akapen(*[a.format(tmp=tmp_path, photo=photo) for a in args])
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("akapen: ") and words in lines[0], r.stderr


def test_info_and_flatten_of_an_image(photo, tmp_path):
    r = akapen("info", photo)
    assert r.returncode == 0, r.stderr
    assert "512×512, 1 layer(s)" in r.stdout and "astronaut" in r.stdout
    out = tmp_path / "flat.png"
    r = akapen("flatten", photo, "-o", out)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(load(out), astronaut())


def test_info_flatten_and_edit_of_an_ora_document(tmp_path):
    ora = pytest.importorskip("canvas.ora")
    from canvas.document import Document
    from canvas.layers import AnnotationLayer, PixelLayer
    from canvas.marks import Ellipse

    doc = Document.assemble(600, 400, [PixelLayer(coffee(), name="photo")])
    doc.add_layer(AnnotationLayer([Ellipse(p0=(470.0, 15.0), p1=(580.0, 115.0))], name="pen"))
    path = tmp_path / "doc.ora"
    ora.save_ora(doc, path)
    r = akapen("info", path)
    assert r.returncode == 0 and "pen" in r.stdout and "annotation" in r.stdout, r.stderr
    flat = tmp_path / "flat.png"
    assert akapen("flatten", path, "-o", flat).returncode == 0
    assert np.array_equal(load(flat), coffee())  # the pen is never part of the image
    out = tmp_path / "removed.png"
    r = akapen("edit", path, "-o", out, "--task", "remove")
    assert r.returncode == 0, r.stderr
    res = load(out)
    assert np.array_equal(res[200:], coffee()[200:])
    assert not np.array_equal(res[15:115, 470:580], coffee()[15:115, 470:580])


def test_headless_commands_never_import_qt(photo, tmp_path):
    code = (
        "import sys; from desktop.headless.cli import main; "
        f"rc = main(['edit', {str(photo)!r}, '-o', {str(tmp_path / 'o.png')!r}, '--task', 'stylise']); "
        "rc2 = main(['backends']); "
        "assert rc == rc2 == 0; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))]; "
        "assert not bad, bad"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr


def test_task_names_and_an_instruction_after_the_options(photo, tmp_path):
    """Issue 22 #8: --task help lists every classical task (extend was missing); an instruction typed after the
    options is the instruction, not 'unrecognized arguments' with the top-level usage; an instruction a classical
    task does not read is said to be unused."""
    r = akapen("edit", "--help")
    assert "extend" in r.stdout and "replace-background" in r.stdout
    out = tmp_path / "o.png"
    r = akapen("edit", photo, "-o", out, "--task", "style-pencil", "make it nicer")
    assert r.returncode == 0, r.stderr
    assert "note: the classical backend does not read instructions: “make it nicer” was not used" in r.stdout
    assert "instruction: make it nicer" not in r.stdout
    r = akapen("edit", photo, "-o", out, "--task", "style-pencil", "words", "--nonsense")
    assert r.returncode == 2 and "akapen edit: unrecognized arguments: words --nonsense" in r.stderr
