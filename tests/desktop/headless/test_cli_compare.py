"""``akapen edit … --backend A --backend B``: one instruction, several backends, one output and one line each;
a backend that cannot run is reported beside the others and never stops them: one that cannot take part is
left out with its reason, one that fails while running is a failure (exit 1)."""

from __future__ import annotations

import shlex
import subprocess
import sys

import numpy as np
import pytest

from inference import registry
from inference.backend import Backend, Capabilities
from inference.errors import BackendFailed
from inference.presets import get_preset
from tests.desktop.headless.test_cli import ROOT, load, save
from tests.desktop.headless.test_cli_terminal import _env
from tests.inference.conftest import TinyModels
from tests.inference.photos import astronaut


@pytest.fixture(scope="module")
def kontext(tmp_path_factory):
    return TinyModels(tmp_path_factory)("flux-kontext")


def _akapen(*args, env, cwd=ROOT):
    env = dict(env, PYTHONPATH=str(ROOT))  # (run from another folder, the package is still found)
    return subprocess.run([sys.executable, "-m", "desktop.headless.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env=env)


def test_three_backends_compared_with_one_left_out(tmp_path, kontext):
    import cv2

    photo = save(tmp_path / "in.png", cv2.resize(astronaut(), (96, 96), interpolation=cv2.INTER_AREA))
    out = tmp_path / "out.png"
    env = _env(AKAPEN_MODEL_PATH=str(kontext), HF_HUB_OFFLINE="1", AKAPEN_CONFIG_DIR=str(tmp_path / "cfg"))
    r = _akapen("edit", photo, "", "--task", "style-pencil", "--steps", "2", "--seed", "7", "-o", out,
                "--backend", "classical", "--backend", "flux-kontext", "--backend", "qwen-image-edit", env=env)
    assert r.returncode == 0, r.stderr  # the one left out (no model here) is said, and is not a failure
    lines = r.stdout.splitlines()
    assert lines[0].startswith("comparing 3 backends (seed 7): classical [cpu], flux-kontext [gpu], "
                               "qwen-image-edit [left out]")
    by = {ln.split(" ")[0].rstrip(":"): ln for ln in lines[1:] if not ln.startswith((" ", "compared"))}
    assert set(by) == {"classical", "flux-kontext", "qwen-image-edit"}
    assert by["qwen-image-edit"].startswith("qwen-image-edit: left out — not available: no model found")
    for name in ("classical", "flux-kontext"):
        path = tmp_path / f"out-{name}.png"
        assert f"wrote {path}" in by[name] and " s · seed " in by[name]
        img = load(path)
        assert img.shape == (96, 96, 4)
    assert "seed 7" in by["flux-kontext"]  # the seed given is every seeded backend's
    assert not np.array_equal(load(tmp_path / "out-classical.png"), load(tmp_path / "out-flux-kontext.png"))
    assert not out.exists() and not (tmp_path / "out-qwen-image-edit.png").exists()
    assert lines[-1].startswith("compared 3 backends in ") and lines[-1].endswith(
        "2 gave results; 1 left out (qwen-image-edit)")


def _no_model_env(tmp_path):
    """A fresh machine: no model, no ComfyUI server, no Gemini key."""
    env = _env(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), AKAPEN_MODEL_PATH="",
               AKAPEN_CONFIG_DIR=str(tmp_path / "cfg"), AKAPEN_STATE_DIR=str(tmp_path / "state"))
    for name in ("HF_HUB_CACHE", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        env.pop(name, None)
    return env


def test_the_readme_compare_example_works_on_a_machine_with_no_model(tmp_path):
    """The README's command, as printed there, run where no model, server or key is: the classical result is
    written, the others are left out each with why, and the exit status is 0."""
    import cv2

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Compare backends"):]
    block = section[section.index("```bash") + len("```bash"):]
    command = block[:block.index("```")].replace("\\\n", " ").split("#")[0]
    argv = shlex.split(command)
    assert argv[0] == ".venv/bin/akapen" and argv[1] == "edit", argv
    photo = cv2.resize(astronaut(), (96, 96), interpolation=cv2.INTER_AREA)
    from PIL import Image

    Image.fromarray(photo[..., :3]).save(tmp_path / argv[2])  # the picture it names (photo.jpg)
    r = _akapen(*argv[1:], env=_no_model_env(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    written = load(tmp_path / "out-classical.png")
    assert np.abs(written[..., :3].astype(int) - load(tmp_path / argv[2])[..., :3]).mean() > 10  # pencil, not a copy
    assert sorted(p.name for p in tmp_path.glob("out*")) == ["out-classical.png"]
    lines = r.stdout.splitlines()
    assert "flux-kontext: left out — not available: no model found for this family" in r.stdout
    assert "nano-banana: left out — not available: no Gemini API key" in r.stdout
    assert "“make it a pencil sketch” was not used; the task (stylise) decides" in r.stdout
    assert lines[-1].endswith("1 gave results; 2 left out (flux-kontext, nano-banana)")


def test_nothing_that_can_take_part_is_one_line_and_exit_1(tmp_path):
    photo = save(tmp_path / "in.png", astronaut()[:64, :64].copy())
    r = _akapen("edit", photo, "make it night", "-o", tmp_path / "o.png", "--backend", "classical",
                "--backend", "flux-kontext", env=_no_model_env(tmp_path))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(
        "akapen: nothing to compare: none of the 2 backends can take part — classical: it does not read "
        "instructions and no --task was given: add --task with one it does (refine-collage, remove, ")
    assert "style-pencil" in r.stderr and "; flux-kontext: not available: no model found" in r.stderr
    assert list(tmp_path.glob("o*.png")) == []


class _Negative(Backend):
    """A model-like backend that reads instructions: the picture's negative, the instruction kept."""

    name = "test-negative"
    label = "Negative test backend"
    capabilities = Capabilities(reads_instruction=True, max_variations=1)
    instructions: list[str] = []

    def edit(self, request, reporter):
        _Negative.instructions.append(request.instruction)
        out = request.image.copy()
        out[..., :3] = 255 - out[..., :3]
        return [out], [request.seed], []


class _Failing(_Negative):
    name = "test-failing"
    label = "Failing test backend"

    def edit(self, request, reporter):
        raise BackendFailed("the test-failing backend failed: out of ink (test)")


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    monkeypatch.setenv("AKAPEN_CONFIG_DIR", str(tmp_path / "cfg"))
    registry.register("test-negative", _Negative, replace=True)
    registry.register("test-failing", _Failing, replace=True)
    _Negative.instructions.clear()
    yield
    registry.unregister("test-negative")
    registry.unregister("test-failing")


def test_an_instruction_classical_cannot_read_leaves_it_out_and_the_rest_still_write(tmp_path, capsys, fakes):
    from desktop.headless.cli import main

    photo = save(tmp_path / "in.png", astronaut()[:64, :64].copy())
    out = tmp_path / "o.png"
    rc = main(["edit", str(photo), "make it night", "-o", str(out), "--backend", "classical",
               "--backend", "test-negative"])
    said = capsys.readouterr()
    assert rc == 0, said.err
    assert "classical: left out — it does not read instructions and no --task was given: add --task with one " \
           "it does (refine-collage, remove, style," in said.out
    assert _Negative.instructions == ["make it night"]
    assert np.array_equal(load(tmp_path / "o-test-negative.png")[..., :3], 255 - load(photo)[..., :3])
    assert not (tmp_path / "o-classical.png").exists()
    assert said.out.splitlines()[-1].endswith("1 gave results; 1 left out (classical)")


def test_a_backend_that_fails_while_running_is_exit_1_and_the_others_still_write(tmp_path, capsys, fakes):
    from desktop.headless.cli import main

    photo = save(tmp_path / "in.png", astronaut()[:64, :64].copy())
    out = tmp_path / "o.png"
    rc = main(["edit", str(photo), "--task", "style-pencil", "-o", str(out), "--backend", "classical",
               "--backend", "test-failing", "--backend", "test-negative"])
    said = capsys.readouterr()
    assert rc == 1
    assert "test-failing: failed — the test-failing backend failed: out of ink (test)" in said.out
    assert (tmp_path / "o-classical.png").exists() and (tmp_path / "o-test-negative.png").exists()
    assert _Negative.instructions == [get_preset("style-pencil").instruction]  # the preset's words for a model
    assert said.out.splitlines()[-1].endswith("2 gave results; 1 failed (test-failing)")


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
