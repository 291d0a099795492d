"""``akapen models …`` against the local Hub stand-in: download a tiny real FLUX.1 Kontext repo, edit with it
offline by its repo id, verify, repair, remove, log in and out, and one clear line for every failure."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.desktop.headless.test_cli import ROOT, akapen, load, save
from tests.hub_server import GOOD_TOKEN
from tests.inference.conftest import TinyModels

REPO = "akapen-test/tiny-kontext"


@pytest.fixture(scope="module")
def kontext(tmp_path_factory):
    return TinyModels(tmp_path_factory)("flux-kontext")


@pytest.fixture
def served(hub, kontext):
    """The tiny Kontext folder on the stand-in Hub, with a root-level copy of its transformer and a pickle
    beside the diffusers folders (as FLUX.1-Kontext-dev has) that must not be fetched."""
    extra = {"flux1-kontext-tiny.safetensors": (kontext / "transformer" / "diffusion_pytorch_model.safetensors"),
             "transformer/diffusion_pytorch_model.bin": b"\x80\x04pickle" * 200}
    hub.add_folder(REPO, kontext, extra=extra)
    return hub


def _one_line_error(r) -> str:
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("akapen: ") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_download_then_edit_offline_by_repo_id(served, tmp_path, monkeypatch):
    r = akapen("models", "download", REPO)
    assert r.returncode == 0, r.stderr
    assert "installed:" in r.stdout and f"ready: {REPO}" in r.stdout and "--model " + REPO in r.stdout
    assert served.bytes_sent("flux1-kontext-tiny.safetensors") == 0 and served.bytes_sent(".bin") == 0
    listed = akapen("models")
    assert REPO in listed.stdout and "FLUX.1 Kontext" in listed.stdout
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # from now on nothing may be fetched
    px = np.full((64, 64, 4), 255, np.uint8)
    px[..., :3] = (np.random.RandomState(2).rand(64, 64, 3) * 255).astype(np.uint8)
    src = save(tmp_path / "in.png", px)
    out = tmp_path / "out.png"
    r = akapen("edit", src, "make it red", "-o", out, "--model", REPO, "--steps", "1", "--seed", "3",
               "--memory-mode", "cpu", "--no-align")
    assert r.returncode == 0, r.stderr
    assert load(out).shape == (64, 64, 4)
    # the same files serve diffusers' own loader: no second copy
    code = ("import diffusers, sys; p = diffusers.DiffusionPipeline.from_pretrained(sys.argv[1], local_files_only=True);"
            " print(type(p).__name__)")
    r = subprocess.run([sys.executable, "-c", code, REPO], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "FluxKontextPipeline", r.stderr


def test_dry_run_says_the_size_and_fetches_nothing(served):
    r = akapen("models", "download", REPO, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"{REPO}: " in r.stdout and "to fetch" in r.stdout and "transformer/diffusion_pytorch_model.safetensors" in r.stdout
    assert served.bytes_sent(".safetensors") == 0


def test_every_failure_is_one_clear_line(served):
    served.add("org/gated", {"model_index.json": b"{}"}, gated=True)
    line = _one_line_error(akapen("models", "download", "org/gated"))
    assert "gated" in line and f"{served.url}/org/gated" in line and "akapen models login" in line
    line = _one_line_error(akapen("models", "download", "org/nothing-here"))
    assert "no model 'org/nothing-here'" in line
    line = _one_line_error(akapen("models", "download", "no-such-catalogue-id"))
    assert "no-such-catalogue-id" in line
    served.fail("", 502, times=100)
    line = _one_line_error(akapen("models", "download", REPO))
    assert "502" in line


def test_verify_repair_and_remove(served):
    assert akapen("models", "download", REPO).returncode == 0
    r = akapen("models", "verify", REPO)
    assert r.returncode == 0 and "verified" in r.stdout, r.stdout + r.stderr
    from inference.hub import manage

    snap = manage.local_snapshot(REPO)
    blob = (snap / "vae" / "diffusion_pytorch_model.safetensors").resolve()
    data = bytearray(blob.read_bytes())
    data[-10] ^= 1
    blob.write_bytes(bytes(data))
    r = akapen("models", "verify")
    assert r.returncode == 1 and "vae/diffusion_pytorch_model.safetensors corrupt" in r.stdout
    assert f"akapen models repair {REPO}" in r.stdout
    r = akapen("models", "repair", REPO)
    assert r.returncode == 0 and "repaired 1 file(s)" in r.stdout, r.stdout + r.stderr
    assert akapen("models", "verify", REPO).returncode == 0
    r = akapen("models", "remove", REPO)
    assert r.returncode == 0 and "freed" in r.stdout
    assert manage.local_snapshot(REPO) is None


def test_login_checks_the_token_and_logout_forgets_it(served):
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    bad = subprocess.run([sys.executable, "-m", "desktop.headless.cli", "models", "login"], input="hf_nope_12345678\n",
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert bad.returncode == 1 and "refused your Hugging Face token" in bad.stderr and "hf_nope" not in bad.stderr
    good = subprocess.run([sys.executable, "-m", "desktop.headless.cli", "models", "login"], input=GOOD_TOKEN + "\n",
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert good.returncode == 0 and "as akapen-tester" in good.stdout and GOOD_TOKEN not in good.stdout + good.stderr
    from inference.hub import auth

    assert auth.get_token().reveal() == GOOD_TOKEN
    served.add("org/gated", {"model_index.json": b'{"_class_name": "FluxKontextPipeline"}'}, gated=True)
    r = akapen("models", "download", "org/gated", "--dry-run")
    assert r.returncode == 0, r.stderr  # the saved token opens the gated repo
    r = akapen("models", "logout")
    assert r.returncode == 0 and auth.get_token() is None


def test_the_catalogue_lists_sizes_and_fit(monkeypatch):
    monkeypatch.setenv("AKAPEN_GPU_MEMORY_GB", "24")
    r = akapen("models", "catalogue", "--family", "flux-kontext")
    assert r.returncode == 0, r.stderr
    assert "flux-kontext-dev " in r.stdout and "gated" in r.stdout and "GB" in r.stdout
    assert "recommended here:" in r.stdout


def test_a_gguf_transformer_downloads_with_its_base_parts_and_edits_offline(hub, kontext, tmp_path, monkeypatch):
    """A repo of GGUF files (as QuantStack's) and a base named with --base: the GGUF and the base's configs,
    text encoders and VAE are fetched, never the base's own transformer weights; discovery pairs the file
    with that base from the download's record; the edit runs offline by `repo:file` and names the variant."""
    from tests.inference import tiny_pipelines as tp

    gguf_file = tmp_path / "tiny-kontext-Q8_0.gguf"
    pipe = tp.pipeline_class("flux-kontext").from_pretrained(kontext)
    tp.write_gguf(pipe.transformer.state_dict(), gguf_file, "Q8_0")
    hub.add_folder("akapen-test/kontext-base", kontext)
    hub.add("akapen-test/kontext-gguf", {"tiny-kontext-Q8_0.gguf": gguf_file, "README.md": b"# gguf"})
    r = akapen("models", "download", "akapen-test/kontext-gguf", "--base", "akapen-test/kontext-base")
    assert r.returncode == 0, r.stderr
    assert "with akapen-test/kontext-base's other components" in r.stdout
    assert hub.bytes_sent("transformer/diffusion_pytorch_model.safetensors") == 0  # the base's transformer stays
    assert hub.bytes_sent("vae/diffusion_pytorch_model.safetensors") > 0
    listed = akapen("models")
    assert "GGUF Q8_0" in listed.stdout and "kontext-gguf" in listed.stdout, listed.stdout
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    px = np.full((64, 64, 4), 255, np.uint8)
    px[..., :3] = (np.random.RandomState(5).rand(64, 64, 3) * 255).astype(np.uint8)
    src = save(tmp_path / "in.png", px)
    out = tmp_path / "out.png"
    r = akapen("edit", src, "make it red", "-o", out, "--model", "akapen-test/kontext-gguf", "--steps", "1",
               "--seed", "3", "--memory-mode", "cpu", "--no-align")
    assert r.returncode == 0, r.stderr
    assert "GGUF Q8_0" in r.stdout and load(out).shape == (64, 64, 4)


def test_ctrl_c_keeps_the_partial_file_and_the_same_command_continues(hub, tmp_path):
    import signal
    import time

    big = os.urandom(3_000_000)
    hub.add("org/big", {"model-Q8_0.gguf": big})
    hub.throttle(1_000_000)
    proc = subprocess.Popen([sys.executable, "-m", "desktop.headless.cli", "models", "download", "org/big"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and hub.bytes_sent("model-Q8_0.gguf") < 600_000:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "paused; what was fetched is kept" in err, (out, err)
    assert "Traceback" not in err
    from inference.hub import cache

    time.sleep(0.5)  # the stopped connection's last block
    sent = hub.bytes_sent("model-Q8_0.gguf")
    kept = sum(p.stat().st_size for p in (cache.repo_folder("org/big") / "blobs").glob("*.incomplete"))
    assert 600_000 <= kept < len(big)
    hub.throttle(None)
    r = akapen("models", "download", "org/big")
    assert r.returncode == 0, r.stderr
    assert hub.bytes_sent("model-Q8_0.gguf") - sent == len(big) - kept  # exactly the rest, not from zero
    assert "installed:" in r.stdout


def test_backends_and_models_say_the_same_of_a_half_downloaded_model(kontext, tmp_path, monkeypatch):
    import shutil

    half = tmp_path / "models" / "kontext-half"
    shutil.copytree(kontext, half)
    (half / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    monkeypatch.setenv("AKAPEN_MODEL_PATH", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    listed = akapen("models")
    reason = next(ln for ln in listed.stdout.splitlines() if ln.startswith("unusable:"))[len("unusable: "):]
    assert "the download is incomplete" in reason
    backends = akapen("backends")
    line = next(ln for ln in backends.stdout.splitlines() if ln.startswith("flux-kontext "))
    assert "unavailable" in line and reason in line, (reason, line)
