"""`akapen edit … --backend nano-banana` and `akapen backends`, in a subprocess, against the local
stand-in for the Gemini API (tests/gemini_server.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.gemini_server import GOOD_KEY, Reply, blocked, decode_inline

ROOT = Path(__file__).resolve().parents[3]


def akapen(*args):
    return subprocess.run([sys.executable, "-m", "desktop.headless.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def picture(tmp_path: Path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 256, (48, 64, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    path = tmp_path / "in.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path, rgba


def test_edit_with_nano_banana_writes_the_result_and_says_what_the_api_said(gemini_env, tmp_path):
    src, rgba = picture(tmp_path)
    ref = tmp_path / "hat.png"
    Image.fromarray(rgba[:20, :20]).save(ref)
    out = tmp_path / "out.png"
    r = akapen("edit", src, "make it night", "--backend", "nano-banana", "--ref", ref, "--no-align",
               "--param", "aspect_ratio=4:3", "-o", out)
    assert r.returncode == 0, r.stderr
    got = np.asarray(Image.open(out).convert("RGBA"))
    np.testing.assert_array_equal(got[..., :3], 255 - rgba[..., :3])
    assert "nano-banana (gemini-2.5-flash-image)" in r.stdout
    assert "note: the model said: “Here is the edited picture.”" in r.stdout
    assert "tokens (as the API counts them): 1290 in, 1300 out, 2590 in all" in r.stdout
    assert "not reproducible" in r.stdout and not any(x.startswith("seed:") for x in r.stdout.splitlines())
    assert GOOD_KEY not in r.stdout + r.stderr
    (seen,) = gemini_env.requests
    parts = seen.body["contents"][0]["parts"]
    assert [decode_inline(p)[0] for p in parts[:2]] == ["image/png", "image/png"]
    assert "image 2 is the reference “hat”" in parts[2]["text"]
    assert seen.body["generationConfig"]["imageConfig"] == {"aspectRatio": "4:3"}


def test_edit_that_is_refused_is_one_line_and_writes_nothing(gemini_env, tmp_path):
    src, _ = picture(tmp_path)
    gemini_env.reply(Reply(200, blocked("PROHIBITED_CONTENT")))
    out = tmp_path / "out.png"
    r = akapen("edit", src, "do it", "--backend", "nano-banana", "-o", out)
    assert r.returncode == 1 and not out.exists()
    assert r.stderr.strip().count("\n") == 0 and "refused the request (PROHIBITED_CONTENT)" in r.stderr


def test_backends_lists_nano_banana_with_the_reason_when_there_is_no_key(gemini_env, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    r = akapen("backends")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("nano-banana"))
    assert "unavailable" in line and "https://aistudio.google.com/apikey" in line and "GEMINI_API_KEY" in line
    monkeypatch.setenv("GEMINI_API_KEY", GOOD_KEY)
    r = akapen("backends")
    line = next(x for x in r.stdout.splitlines() if x.startswith("nano-banana"))
    assert "available" in line and "gemini-2.5-flash-image" in line and GOOD_KEY not in r.stdout
    lines = r.stdout.splitlines()
    note = lines[lines.index(line) + 1]
    assert "note: sends the picture" in note and "Google" in note and "no seed" in note


def test_the_key_from_the_settings_file_is_used_and_the_model_can_be_chosen(gemini_env, monkeypatch, tmp_path):
    monkeypatch.delenv("GEMINI_API_KEY")
    config = Path(__import__("os").environ["AKAPEN_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "gemini.json").write_text(json.dumps({"api_key": GOOD_KEY, "model": "gemini-2.5-flash-image"}))
    src, _ = picture(tmp_path)
    r = akapen("edit", src, "make it night", "--backend", "nano-banana", "--param", "model=gemini-3-pro-image-preview",
               "--param", "image_size=2K", "-o", tmp_path / "o.png")
    assert r.returncode == 0, r.stderr
    (seen,) = gemini_env.requests
    assert seen.path == "/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert seen.headers["x-goog-api-key"] == GOOD_KEY
    assert seen.body["generationConfig"]["imageConfig"] == {"imageSize": "2K"}
