"""What a backend can do is known without importing its library: listing the backends, listing the models, a
classical headless edit and opening the window never import torch, diffusers or transformers (each ≈ seconds
on a small machine; issue 22). Each case runs in a fresh interpreter, with a downloaded-looking tiny model in
the Hugging Face cache so the availability checks of a present model run too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "diffusers", "transformers")
CHECK = (f"import sys; heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
         "print('HEAVY=' + ','.join(heavy))")


@pytest.fixture(scope="module")
def cache_with_a_model(tmp_path_factory):
    from tests.inference.tiny_pipelines import save_tiny

    hub = tmp_path_factory.mktemp("hf") / "hub"
    snap = hub / "models--org--tiny-kontext" / "snapshots" / ("a" * 40)
    save_tiny("flux-kontext", snap)
    (hub / "models--org--tiny-kontext" / "refs").mkdir(parents=True)
    (hub / "models--org--tiny-kontext" / "refs" / "main").write_text("a" * 40)
    return hub


def _run(code: str, hub: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_CACHE": str(hub), "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen",
           "AKAPEN_CONFIG_DIR": str(tmp_path / "config"), "AKAPEN_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-c", code + "\n" + CHECK], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


def _heavy(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 0, r.stderr[-2000:]
    return next(ln for ln in r.stdout.splitlines() if ln.startswith("HEAVY="))[len("HEAVY="):]


def test_listing_backends_and_models_imports_no_torch(cache_with_a_model, tmp_path):
    r = _run("from desktop.headless.cli import main; main(['backends']); main(['models'])", cache_with_a_model,
             tmp_path)
    assert "flux-kontext" in r.stdout and "available    FLUX.1 Kontext" in r.stdout, r.stdout
    assert _heavy(r) == ""


def test_a_classical_edit_imports_no_torch(cache_with_a_model, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray((np.random.RandomState(0).rand(64, 80, 3) * 255).astype(np.uint8)).save(src)
    r = _run(f"from desktop.headless.cli import main; main(['edit', {str(src)!r}, '-o', {str(tmp_path / 'o.png')!r}, "
             "'--task', 'style-pencil'])", cache_with_a_model, tmp_path)
    assert (tmp_path / "o.png").exists()
    assert _heavy(r) == ""


def test_opening_the_window_imports_no_torch(cache_with_a_model, tmp_path):
    code = ("from PySide6.QtWidgets import QApplication; app = QApplication([]);"
            "from desktop.settings import Settings; from desktop.window import MainWindow;"
            f"w = MainWindow(settings=Settings.at({str(tmp_path / 's.ini')!r}), recovery_folder={str(tmp_path / 'r')!r});"
            "w.show(); app.processEvents();"
            "print('KONTEXT', w.edit_panel.backend_combo.findData('flux-kontext') >= 0)")
    r = _run(code, cache_with_a_model, tmp_path)
    assert "KONTEXT True" in r.stdout, r.stdout + r.stderr[-1500:]
    assert _heavy(r) == ""
