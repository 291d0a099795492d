"""The wheel is complete: installed from it, away from the checkout, Akapen finds its task
presets (``resources/presets.json``) and carries its licence."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_installed_wheel_has_its_presets_and_licence(tmp_path):
    # built from a copy: setuptools builds in the source folder, and a stale build/ would hide a gap
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".comfyui", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(src)], check=True, cwd=tmp_path, capture_output=True)
    (wheel,) = dist.glob("akapen-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert "resources/presets.json" in names
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
