import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# nothing in the tests may reach a real hub: downloads go to the local stand-in (the `hub` fixture) or,
# by mistake, to a closed port here — never to huggingface.co
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def comfy_server(tmp_path_factory):
    """One real ComfyUI 0.3.75 server on 127.0.0.1 for the whole session (see tests/comfyui_server.py)."""
    from tests.comfyui_server import ComfyServer

    server = ComfyServer(tmp_path_factory.mktemp("comfyui")).start()
    yield server
    server.stop()


@pytest.fixture
def comfy_factory(tmp_path_factory):
    """Start extra ComfyUI servers for one test: ``comfy_factory()`` → a started ComfyServer."""
    from tests.comfyui_server import ComfyServer

    started = []

    def make(**kw):
        s = ComfyServer(tmp_path_factory.mktemp("comfyui-extra"), **kw).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def gemini_server():
    """A local stand-in for the Gemini API's generateContent on 127.0.0.1 (see tests/gemini_server.py)."""
    from tests.gemini_server import GeminiServer

    server = GeminiServer().start()
    yield server
    server.stop()


@pytest.fixture
def gemini_env(gemini_server, monkeypatch, tmp_path):
    """The SDK pointed at the local server with a key it accepts; a fresh config folder; no stray settings."""
    from tests.gemini_server import GOOD_KEY

    gemini_server.reset()
    for name in ("GOOGLE_API_KEY", "AKAPEN_GEMINI_MODEL", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AKAPEN_GEMINI_BASE_URL", gemini_server.url)
    monkeypatch.setenv("GEMINI_API_KEY", GOOD_KEY)
    monkeypatch.setenv("AKAPEN_CONFIG_DIR", str(tmp_path / "config"))
    yield gemini_server
    gemini_server.reset()


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A local stand-in for the Hugging Face Hub (tests/hub_server.py) with downloads switched on: ``HF_ENDPOINT``
    points at it, ``HF_HOME`` (so the cache and the token file) and Akapen's state folder are fresh, and no token
    is set. Yields the HubServer (``hub.add(...)``, ``hub.add_folder(...)``, faults, counters)."""
    from tests.hub_server import HubServer

    server = HubServer().start()
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE",
                 "HF_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("AKAPEN_STATE_DIR", str(tmp_path / "akapen-state"))
    yield server
    server.stop()
