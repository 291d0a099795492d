"""The wheel is complete: built from the checkout (``pip wheel .``) and installed away from it, Akapen finds its
task presets and catalogue (``resources/``), carries its licence, and its ``akapen`` command runs
``akapen backends`` and a classical edit from a fresh virtual environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    # built from a copy: setuptools builds in the source folder, and a stale build/ would hide a gap
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".comfyui", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"))
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(src)], check=True, cwd=tmp, capture_output=True)
    (built,) = dist.glob("akapen-*.whl")
    return built


def test_an_installed_wheel_has_its_presets_and_licence(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert {"resources/presets.json", "resources/catalogue.json"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names)

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    # -I: not the checkout; the installed copy comes first on the path
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import inference.presets as p; "
            "print(p.__file__); print(len(p.presets()))")
    out = subprocess.run([sys.executable, "-I", "-c", code, str(target)], check=True, capture_output=True,
                         text=True).stdout.split()
    assert Path(out[0]).is_relative_to(target), out  # really the installed copy
    assert int(out[1]) >= 5


def test_a_fresh_venv_with_the_wheel_runs_backends_and_a_classical_edit(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / ("python.exe" if os.name == "nt" else "python")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    # the dependencies (numpy, OpenCV, Qt, torch …) come from this test's own environment, named as a plain path:
    # its .pth files (the checkout's editable install among them) are not read, so Akapen itself is the wheel's
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "akapen-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(HOME=str(tmp_path / "home"), XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               HF_HOME=str(tmp_path / "hf"))
    work = tmp_path / "work"
    work.mkdir()

    where = subprocess.run([str(py), "-c", "import desktop, inference; print(desktop.__file__); print(inference.__file__)"],
                           cwd=work, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert all(Path(p).is_relative_to(purelib) for p in where), where

    akapen = bindir / ("akapen.exe" if os.name == "nt" else "akapen")
    backends = subprocess.run([str(akapen), "backends"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert backends.returncode == 0, backends.stderr
    assert "classical" in backends.stdout.lower()

    rng = np.random.default_rng(3)
    photo = np.clip(rng.normal(128, 40, (96, 128, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(photo).save(work / "photo.png")
    edit = subprocess.run([str(akapen), "edit", "photo.png", "-o", "out.png", "--task", "style-pencil"], cwd=work,
                          env=env, capture_output=True, text=True, timeout=120)
    assert edit.returncode == 0, edit.stderr
    with Image.open(work / "out.png") as out:
        assert out.size == (128, 96)

    catalogue = subprocess.run([str(akapen), "models", "catalogue"], cwd=work, env=env, capture_output=True, text=True,
                               timeout=120)
    assert catalogue.returncode == 0, catalogue.stderr
    assert "FLUX.1 Kontext" in catalogue.stdout  # resources/catalogue.json travelled in the wheel
