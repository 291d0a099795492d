"""Where the Gemini key comes from and how it is kept: owner-only file, the environment first, never shown."""

from __future__ import annotations

import copy
import os
import stat

import pytest

from inference.errors import InvalidRequest
from inference.gemini import keys, models
from inference.gemini.backend import NanoBananaBackend

KEY = "AIza-file-key-abcdef"


@pytest.fixture
def clean(monkeypatch, tmp_path):
    for name in ("GEMINI_API_KEY", "AKAPEN_GEMINI_BASE_URL", "AKAPEN_GEMINI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AKAPEN_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


def test_the_settings_file_is_readable_by_its_owner_only(clean):
    store = keys.GeminiStore()
    store.save(keys.GeminiSettings(keys.Secret(KEY), "gemini-3-pro-image-preview"))
    assert store.path == clean / "config" / "gemini.json"
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    back = store.load()
    assert back.key.reveal() == KEY and back.model == "gemini-3-pro-image-preview" and store.problem == ""
    assert keys.find_key() == (keys.Secret(KEY), str(store.path))


def test_the_environment_comes_first(clean, monkeypatch):
    keys.GeminiStore().save(keys.GeminiSettings(keys.Secret(KEY)))
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-env-key")
    key, source = keys.find_key()
    assert key.reveal() == "AIza-env-key" and source == "GEMINI_API_KEY"
    monkeypatch.setenv("GEMINI_API_KEY", "two words")
    key, source = keys.find_key()
    assert not key and "not a key" in source
    ok, reason = NanoBananaBackend().availability()
    assert not ok and "GEMINI_API_KEY is set but is not a key" in reason and "two words" not in reason


def test_a_damaged_file_loads_nothing_and_says_why(clean):
    store = keys.GeminiStore()
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    assert not store.load().key and "could not be read" in store.problem
    ok, reason = NanoBananaBackend().availability()
    assert not ok and keys.KEY_URL in reason and "could not be read" in reason  # why the stored key is not used
    store.path.write_text('{"api_key": "bad key\\n", "model": "gemini-9"}')
    got = store.load()
    assert not got.key and got.model == models.DEFAULT_MODEL and store.problem


def test_a_secret_never_shows_itself():
    s = keys.Secret(KEY)
    assert KEY not in repr(s) and KEY not in str(s) and KEY not in f"{s}" and s.reveal() == KEY
    assert copy.deepcopy(s) is s
    with pytest.raises(TypeError):
        __import__("pickle").dumps(s)
    with pytest.raises(InvalidRequest, match="printable ASCII"):
        keys.Secret("ключ")
    assert KEY not in repr(NanoBananaBackend(key=KEY))


def test_the_base_url_and_the_model_from_the_environment(clean, monkeypatch):
    assert keys.base_url() == keys.DEFAULT_BASE_URL
    monkeypatch.setenv("AKAPEN_GEMINI_BASE_URL", "http://127.0.0.1:9999/")
    assert keys.base_url() == "http://127.0.0.1:9999" and keys.transport_warning(keys.base_url()) == ""
    assert "unencrypted" in keys.transport_warning("http://proxy.example:8080")
    monkeypatch.setenv("AKAPEN_GEMINI_BASE_URL", "ftp://x")
    with pytest.raises(InvalidRequest, match="AKAPEN_GEMINI_BASE_URL"):
        keys.base_url()
    monkeypatch.setenv("AKAPEN_GEMINI_MODEL", "gemini-3-pro-image-preview")
    assert NanoBananaBackend().model_id == "gemini-3-pro-image-preview"
    assert NanoBananaBackend("gemini-2.5-flash-image").model_id == "gemini-2.5-flash-image"


def test_the_sizes_each_model_answers_at():
    pro = models.get("gemini-3-pro-image-preview")
    assert pro.working_size("4K") == 4096 and pro.working_size(None) == 1024
    assert NanoBananaBackend("gemini-3-pro-image-preview", image_size="2K").capabilities.working_size == 2048
    assert NanoBananaBackend("gemini-2.5-flash-image", image_size="2K").capabilities.working_size == 1024
    with pytest.raises(InvalidRequest, match="aspect ratio"):
        models.check_aspect("5:3")
