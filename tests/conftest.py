import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

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
