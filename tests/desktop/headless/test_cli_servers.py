"""`akapen servers` and `akapen edit --server/--workflow`, in a subprocess, against a real ComfyUI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from canvas.document import Document
from canvas.layers import PixelLayer
from canvas.ora import save_ora
from tests.comfyui_server import free_port

ROOT = Path(__file__).resolve().parents[3]


def akapen(config: Path, *args):
    env = {**os.environ, "AKAPEN_CONFIG_DIR": str(config)}
    return subprocess.run([sys.executable, "-m", "desktop.headless.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env=env)


def test_servers_add_list_remove(tmp_path, comfy_server):
    cfg = tmp_path / "config"
    r = akapen(cfg, "servers")
    assert r.returncode == 0 and "no ComfyUI servers set up" in r.stdout
    r = akapen(cfg, "servers", "add", comfy_server.url, "--name", "studio")
    assert r.returncode == 0, r.stderr
    stored = json.loads((cfg / "servers.json").read_text())
    assert stored["servers"][0]["url"] == comfy_server.url
    assert (cfg / "servers.json").stat().st_mode & 0o077 == 0  # it may hold tokens
    dead = f"http://127.0.0.1:{free_port()}"
    akapen(cfg, "servers", "add", dead)
    r = akapen(cfg, "servers", "-v")
    assert r.returncode == 1  # one of them is not connected
    lines = r.stdout.splitlines()
    assert any(ln.startswith(f"studio ({comfy_server.url})  connected: ComfyUI 0.3.75") for ln in lines), r.stdout
    assert any(ln.startswith(dead) and "not connected" in ln and "connection refused" in ln for ln in lines)
    r = akapen(cfg, "servers", "remove", dead)
    assert r.returncode == 0 and "removed" in r.stdout
    r = akapen(cfg, "servers")
    assert r.returncode == 0 and dead not in r.stdout
    r = akapen(cfg, "backends")
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith("comfyui-workflow"))
    assert "available" in row and "unavailable" not in row


def test_headless_edit_of_a_document_with_a_workflow(tmp_path, comfy_server):
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (40, 56, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    doc = Document.assemble(56, 40, [PixelLayer(pixels, name="photo")])
    save_ora(doc, tmp_path / "doc.ora")
    wf = {"1": {"class_type": "LoadImage", "inputs": {"image": "in.png"}},
          "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
          "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "cli"}}}
    (tmp_path / "invert.json").write_text(json.dumps(wf))
    out = tmp_path / "out.png"
    r = akapen(tmp_path / "config", "edit", tmp_path / "doc.ora", "", "-o", out, "--server", comfy_server.url,
               "--workflow", tmp_path / "invert.json")
    assert r.returncode == 0, r.stderr
    assert f"ComfyUI at {comfy_server.url}" in r.stdout
    got = np.asarray(Image.open(out).convert("RGBA")).astype(int)
    assert np.abs(got[..., :3] - (255 - pixels[..., :3].astype(int))).max() <= 1


def test_headless_family_edit_names_the_missing_model_files(tmp_path, comfy_server):
    img = tmp_path / "in.png"
    Image.new("RGB", (64, 64), (90, 120, 200)).save(img)
    r = akapen(tmp_path / "config", "edit", img, "make it red", "-o", tmp_path / "o.png", "--server",
               comfy_server.url, "--backend", "comfyui-kontext")
    assert r.returncode == 1
    assert "lacks" in r.stderr and "model files" in r.stderr and ".safetensors" in r.stderr


def test_a_task_with_a_blank_asks_for_the_instruction_instead_of_sending_braces(tmp_path, comfy_server):
    img = tmp_path / "in.png"
    Image.new("RGB", (64, 64), (90, 120, 200)).save(img)
    r = akapen(tmp_path / "config", "edit", img, "-o", tmp_path / "o.png", "--server", comfy_server.url,
               "--backend", "comfyui-kontext", "--task", "relight")
    assert r.returncode != 0 and not (tmp_path / "o.png").exists()
    assert "blank to fill in, {new lighting" in r.stderr and "write the instruction yourself" in r.stderr
    # a task without blanks still runs its own instruction (here it stops at the missing model files)
    r = akapen(tmp_path / "config", "edit", img, "-o", tmp_path / "o.png", "--server", comfy_server.url,
               "--backend", "comfyui-kontext", "--task", "colourise")
    assert "blank" not in r.stderr and "model files" in r.stderr
