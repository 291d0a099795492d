"""The ComfyUI backends against a real ComfyUI 0.3.75 server (tests/comfyui_server.py).

No mocks: every job here is uploaded, queued, run and fetched by a real server. The server
cannot run models, so jobs use model-free nodes (LoadImage, ImageScale, ImageBlur,
ImageInvert, SaveImage); family graphs are checked up to the model files it lacks.
"""

from __future__ import annotations

import io
import secrets
import threading
import time

import numpy as np
import pytest
from PIL import Image

from inference.comfyui import FAMILY_BACKENDS
from inference.comfyui.backend import ComfyFamilyBackend, ComfyWorkflowBackend
from inference.comfyui.client import ComfyClient
from inference.comfyui.servers import Plan, ServerConfig, check, choose
from inference.errors import BackendFailed, BackendUnavailable, Cancelled, InvalidRequest
from inference.progress import CancelToken
from inference.request import EditRequest, Reference
from tests.comfyui_server import free_port


def photo(h=48, w=64, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    img[..., 3] = 255
    return img


def invert_graph() -> dict:
    return {"1": {"class_type": "LoadImage", "inputs": {"image": "placeholder.png"}},
            "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "t"}}}


def slow_graph(image: str = "placeholder.png", blurs: int = 8, size: int = 512) -> dict:
    """About 0.6 s per blur on these machines (5 s at 1536²); interruptible between nodes."""
    g = {"1": {"class_type": "LoadImage", "inputs": {"image": image}},
         "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "bilinear",
                                                      "width": size, "height": size, "crop": "disabled"}}}
    prev = "2"
    for i in range(blurs):
        nid = str(10 + i)
        g[nid] = {"class_type": "ImageBlur", "inputs": {"image": [prev, 0], "blur_radius": 31, "sigma": 5.0 + i * 0.1}}
        prev = nid
    g["90"] = {"class_type": "ImageScale", "inputs": {"image": [prev, 0], "upscale_method": "bilinear",
                                                      "width": 64, "height": 48, "crop": "disabled"}}
    g["91"] = {"class_type": "ImageInvert", "inputs": {"image": ["90", 0]}}
    g["99"] = {"class_type": "SaveImage", "inputs": {"images": ["91", 0], "filename_prefix": "slow"}}
    return g


def other_user_job(url: str, graph: dict) -> str:
    """Queue ``graph`` as another user of a shared server would (its own client id)."""
    c = ComfyClient(url)
    buf = io.BytesIO()
    Image.fromarray(photo()[..., :3]).save(buf, "PNG")
    name = c.upload_image(buf.getvalue(), "other-user.png")
    graph = {k: {**v, "inputs": {**v["inputs"]}} for k, v in graph.items()}
    graph["1"]["inputs"]["image"] = name
    for node in graph.values():
        if node["class_type"] == "SaveImage":
            node["inputs"]["filename_prefix"] = f"other-{secrets.token_hex(4)}"
    pid = f"other-{secrets.token_hex(8)}"
    return c.submit(graph, f"other-{secrets.token_hex(8)}", pid)


def wait_for(cond, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def finished_status(url: str, prompt_id: str, timeout=60.0) -> str:
    c = ComfyClient(url)
    entry = wait_for(lambda: (e := c.history(prompt_id)) and e.get("status", {}).get("completed") is not None and e,
                     timeout, f"job {prompt_id} to finish")
    return entry["status"]["status_str"]


def drain(url: str) -> None:
    """Leave the server idle for the next test (the test's own jobs only)."""
    c = ComfyClient(url)
    q = c.queue()
    if q.pending:
        c.delete_queued(list(q.pending))
    for pid in q.running:
        c.interrupt(pid)
    wait_for(lambda: c.queue().length == 0, 60, "an idle server")


def run_in_thread(fn):
    box: dict = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


@pytest.fixture
def server(comfy_server):
    drain(comfy_server.url)
    yield comfy_server
    drain(comfy_server.url)


# --- the server check ---------------------------------------------------------------------------
def test_check_reports_version_node_types_and_models(comfy_factory):
    srv = comfy_factory()
    srv.add_model("vae", "ae.safetensors")
    srv.add_model("diffusion_models", "flux1-dev-kontext_fp8_scaled.safetensors")
    r = check(ServerConfig(srv.url))
    assert r.ok, r.error
    assert r.version == "0.3.75" and r.node_types > 300
    assert r.models["vae"] == ("ae.safetensors", "pixel_space")
    assert r.models["diffusion_models"] == ("flux1-dev-kontext_fp8_scaled.safetensors",)
    assert "connected: ComfyUI 0.3.75" in r.summary() and f"{r.node_types} node types" in r.summary()
    assert r.warning == ""  # loopback


def test_check_of_a_dead_address_says_why():
    r = check(ServerConfig(f"http://127.0.0.1:{free_port()}"), timeout=3)
    assert not r.ok and "connection refused" in r.error
    assert r.summary().startswith("not connected")


def test_remote_http_address_is_warned_about():
    assert "unencrypted" in ServerConfig("http://192.168.1.20:8188").warning()
    assert ServerConfig("https://gpu.example.com").warning() == ""
    assert ServerConfig("localhost:8188").url == "http://localhost:8188"
    with pytest.raises(InvalidRequest):
        ServerConfig("ftp://x")


# --- a job through the backend -----------------------------------------------------------------------
def test_workflow_job_inverts_the_image_with_progress(server):
    img = photo()
    updates = []
    backend = ComfyWorkflowBackend([ServerConfig(server.url)])
    req = EditRequest(img, "invert it", params={"workflow": invert_graph()})
    res = backend.run(req, progress=updates.append)
    assert res.rect == (0, 0, 64, 48) and len(res.images) == 1
    out = res.images[0].astype(int)
    assert np.abs(out[..., :3] - (255 - img[..., :3].astype(int))).max() <= 1
    assert (out[..., 3] == 255).all()
    phases = [u.phase for u in updates]
    assert {"connect", "upload", "run"} <= set(phases)
    steps = [u.step for u in updates]
    assert steps == sorted(steps) and updates[-1].step == updates[-1].total
    assert backend.model == f"ComfyUI at {server.url}"
    assert any("no prompt input" in w for w in res.warnings)  # said, not silently dropped


UI_INVERT = {  # as ComfyUI's editor saves it: nodes with widget values, links as lists
    "last_node_id": 3, "last_link_id": 2, "version": 0.4,
    "nodes": [
        {"id": 7, "type": "LoadImage", "mode": 0, "inputs": [],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}, {"name": "MASK", "type": "MASK", "links": None}],
         "widgets_values": ["example.png", "image"]},
        {"id": 8, "type": "ImageInvert", "mode": 0, "inputs": [{"name": "image", "type": "IMAGE", "link": 1}],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [2]}], "widgets_values": []},
        {"id": 9, "type": "SaveImage", "mode": 0, "inputs": [{"name": "images", "type": "IMAGE", "link": 2}],
         "outputs": [], "widgets_values": ["ComfyUI"]},
    ],
    "links": [[1, 7, 0, 8, 0, "IMAGE"], [2, 8, 0, 9, 0, "IMAGE"]],
}


def test_a_ui_format_workflow_file_is_converted_through_the_server_and_run(server, tmp_path):
    import json

    path = tmp_path / "invert-ui.json"
    path.write_text(json.dumps(UI_INVERT))
    img = photo(seed=4)
    res = ComfyWorkflowBackend([ServerConfig(server.url)]).run(EditRequest(img, "", params={"workflow": str(path)}))
    assert np.abs(res.images[0][..., :3].astype(int) - (255 - img[..., :3].astype(int))).max() <= 1
    path.write_text("{not json")
    with pytest.raises(InvalidRequest, match="JSON"):
        ComfyWorkflowBackend([ServerConfig(server.url)]).run(EditRequest(img, "", params={"workflow": str(path)}))


def test_references_go_to_the_mapped_image_inputs(server):
    img, ref = photo(seed=1), photo(seed=2)
    g = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
         "2": {"class_type": "LoadImage", "inputs": {"image": "b.png"}},
         "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "a"}},
         "4": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "b"}}}
    backend = ComfyWorkflowBackend([ServerConfig(server.url)])
    req = EditRequest(img, "", references=(Reference("style", ref),),
                      params={"workflow": g, "workflow_images": {"1": "style", "2": "image"}})
    res = backend.run(req)
    assert len(res.images) == 2  # every output image is a result, in node order
    assert np.array_equal(res.images[0][..., :3], ref[..., :3])
    assert np.array_equal(res.images[1][..., :3], img[..., :3])
    with pytest.raises(InvalidRequest, match="no reference called 'nope'"):
        backend.run(req.replace(params={"workflow": g, "workflow_images": {"1": "nope"}}))


def test_a_missing_node_type_is_refused_before_anything_is_uploaded(server):
    g = invert_graph()
    g["2"] = {"class_type": "QwenImageEditPlusAdvanced", "inputs": {"image": ["1", 0]}}
    before = set(p.name for p in (server.base / "input").iterdir())
    backend = ComfyWorkflowBackend([ServerConfig(server.url)])
    with pytest.raises(BackendUnavailable, match="QwenImageEditPlusAdvanced"):
        backend.run(EditRequest(photo(), "x", params={"workflow": g}))
    assert set(p.name for p in (server.base / "input").iterdir()) == before


def test_an_execution_error_names_the_node(server):
    client = ComfyClient(server.url)
    broken = client.upload_image(b"\x89PNG\r\n\x1a\nnot really", "broken-upload.png")  # passes validation
    g = {"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
         "2": {"class_type": "LoadImage", "inputs": {"image": broken}},
         "3": {"class_type": "ImageBatch", "inputs": {"image1": ["1", 0], "image2": ["2", 0]}},
         "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "e"}}}
    backend = ComfyWorkflowBackend([ServerConfig(server.url)])
    with pytest.raises(BackendFailed, match=r"in node 2 \(LoadImage\)"):
        backend.run(EditRequest(photo(), "", params={"workflow": g, "workflow_images": {"1": "image"}}))


# --- cancel --------------------------------------------------------------------------------------------
def test_cancel_while_queued_deletes_only_our_job(server):
    theirs = other_user_job(server.url, slow_graph(blurs=10))
    client = ComfyClient(server.url)
    wait_for(lambda: theirs in client.queue().running, 20, "the other job to start")
    token = CancelToken()
    backend = ComfyWorkflowBackend([ServerConfig(server.url)])
    t, box = run_in_thread(lambda: backend.run(EditRequest(photo(), "", params={"workflow": invert_graph()}),
                                               cancel=token))
    ours = wait_for(lambda: [p for p in client.queue().pending if p.startswith("akapen-")], 20, "our job queued")[0]
    token.cancel()
    t.join(20)
    assert isinstance(box.get("error"), Cancelled)
    assert ours not in client.queue().pending and client.history(ours) is None  # deleted, never ran
    assert finished_status(server.url, theirs) == "success"  # the other user's job was not touched


def test_cancel_while_running_interrupts_our_job_only(server):
    client = ComfyClient(server.url)
    token = CancelToken()
    seen = []
    backend = ComfyWorkflowBackend([ServerConfig(server.url)])
    t, box = run_in_thread(lambda: backend.run(EditRequest(photo(), "", params={"workflow": slow_graph(blurs=12)}),
                                               progress=seen.append, cancel=token))
    ours = wait_for(lambda: [p for p in client.queue().running if p.startswith("akapen-")], 30, "our job running")[0]
    theirs = other_user_job(server.url, invert_graph())  # waits behind ours
    wait_for(lambda: any(u.phase == "run" and u.step > 2 for u in seen), 30, "node progress")
    t0 = time.monotonic()
    token.cancel()
    t.join(20)
    assert isinstance(box.get("error"), Cancelled), box
    assert time.monotonic() - t0 < 5
    assert finished_status(server.url, ours) == "error"  # interrupted on the server
    assert finished_status(server.url, theirs) == "success"


# --- servers that drop, several servers ---------------------------------------------------------------
def test_server_killed_mid_job_fails_clearly_and_the_next_job_goes_elsewhere(comfy_factory, server):
    doomed = comfy_factory()
    both = [ServerConfig(doomed.url), ServerConfig(server.url)]
    backend = ComfyWorkflowBackend(both)
    client = ComfyClient(doomed.url)
    img = photo()
    t, box = run_in_thread(lambda: backend.run(EditRequest(img, "", params={"workflow": slow_graph(blurs=12)})))
    wait_for(lambda: [p for p in client.queue().running if p.startswith("akapen-")], 30, "our job running")
    doomed.kill()
    t.join(30)
    err = box.get("error")
    assert isinstance(err, BackendFailed) and "stopped answering" in str(err) and doomed.url in str(err)
    res = backend.run(EditRequest(img, "", params={"workflow": invert_graph()}))
    assert backend.last_server == server.url
    assert np.abs(res.images[0][..., :3].astype(int) - (255 - img[..., :3].astype(int))).max() <= 1
    assert any(doomed.url in w and "skipped" in w for w in res.warnings)


def test_jobs_go_to_the_server_with_the_shortest_queue(comfy_factory, server):
    other = comfy_factory()
    a, b = ServerConfig(server.url), ServerConfig(other.url)
    backend = ComfyWorkflowBackend([a, b])
    req = EditRequest(photo(), "", params={"workflow": invert_graph()})
    backend.run(req)
    assert backend.last_server == a.url  # both idle: the first listed
    busy = [other_user_job(server.url, slow_graph(blurs=4)) for _ in range(2)]
    wait_for(lambda: ComfyClient(server.url).queue().length == 2, 10, "a busy server")
    backend.run(req)
    assert backend.last_server == b.url
    drain(server.url)
    busy = [other_user_job(other.url, slow_graph(blurs=4)) for _ in range(2)]
    wait_for(lambda: ComfyClient(other.url).queue().length == 2, 10, "the other server busy")
    backend.run(req)
    assert backend.last_server == a.url
    drain(other.url)
    assert busy


def test_no_server_set_up_is_a_clear_reason():
    b = ComfyWorkflowBackend([])
    ok, reason = b.availability()
    assert not ok and "Servers" in reason
    with pytest.raises(BackendUnavailable, match="no ComfyUI server is set up"):
        choose([], lambda c: Plan({}))


# --- the family graphs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILY_BACKENDS)
def test_family_graph_is_refused_only_for_model_files_which_are_named(server, family):
    from inference.comfyui import families

    fam = families.FAMILIES[family]
    backend = ComfyFamilyBackend(family, [ServerConfig(server.url)])
    refs = tuple(Reference(f"r{i}", photo(seed=i)) for i in range(min(1, fam.max_references)))
    req = EditRequest(photo(), "make it night", references=refs, seed=3, steps=2)
    with pytest.raises(BackendUnavailable) as info:
        backend.run(req)
    msg = str(info.value)
    assert "node types" not in msg  # the server knows every node the graph uses
    for slot in fam.models:
        assert slot.default in msg
    # 0.3.75 predates one option of the 2511 template: said, instead of running it wrongly
    assert ("index_timestep_zero" in msg) == (family == "qwen-edit-2511")


def test_a_model_file_added_after_a_refusal_is_seen_at_once(comfy_factory):
    srv = comfy_factory()
    backend = ComfyFamilyBackend("kontext", [ServerConfig(srv.url)])
    req = EditRequest(photo(), "make it night", seed=1, steps=1)
    with pytest.raises(BackendUnavailable, match="ae.safetensors"):
        backend.run(req)
    srv.add_model("vae", "ae.safetensors")  # the user copies the file in and tries again
    with pytest.raises(BackendUnavailable) as info:
        backend.run(req)
    assert "ae.safetensors" not in str(info.value) and "clip_l.safetensors" in str(info.value)


def test_preview_frames_of_both_formats_are_read():
    """Previews need a sampling model, which no server here can run: the two binary frame
    formats ComfyUI sends (0.3.75's server.py) are played by a minimal WebSocket server."""
    import json

    from websockets.sync.server import serve

    buf = io.BytesIO()
    Image.fromarray(photo(8, 8)[..., :3]).save(buf, "PNG")
    png = buf.getvalue()
    meta = json.dumps({"prompt_id": "p1", "node_id": "3"}).encode()
    frames = [(1).to_bytes(4, "big") + (2).to_bytes(4, "big") + png,
              (4).to_bytes(4, "big") + len(meta).to_bytes(4, "big") + meta + png,
              json.dumps({"type": "progress", "data": {"value": 3, "max": 8, "prompt_id": "p1"}})]

    def handler(ws):
        for f in frames:
            ws.send(f)
        ws.recv()  # stay open until the client closes

    port = free_port()
    with serve(handler, "127.0.0.1", port) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        with ComfyClient(f"http://127.0.0.1:{port}").connect("c") as stream:
            old, new, prog = (stream.next(5) for _ in range(3))
        srv.shutdown()
    assert old.kind == "preview" and old.data == {"format": 2} and old.image == png
    assert new.kind == "preview" and new.data["prompt_id"] == "p1" and new.image == png
    assert prog.kind == "progress" and prog.data["value"] == 3


def test_a_redirect_is_refused_so_the_token_never_leaves_for_another_host():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server name
            seen.append(self.headers.get("Authorization"))
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:9/system_stats")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        client = ComfyClient(f"http://127.0.0.1:{httpd.server_address[1]}", "secret-token")
        with pytest.raises(BackendFailed, match="redirected .* refused"):
            client.system_stats()
        r = check(ServerConfig(client.url, "secret-token"), timeout=3)
        assert not r.ok and "redirected" in r.error
    finally:
        httpd.shutdown()
    assert seen == ["Bearer secret-token", "Bearer secret-token"]  # sent to the server it was given for, only


def test_a_server_that_never_answers_is_skipped_and_named(server):
    import socket

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)  # accepts connections (the kernel does) but never answers a request
    try:
        silent = ServerConfig(f"http://127.0.0.1:{hung.getsockname()[1]}", name="silent")
        # 5 s: the live server answers well within it even on a slow CI machine (2 s was close)
        backend = ComfyWorkflowBackend([silent, ServerConfig(server.url)], timeout=5)
        img = photo()
        res = backend.run(EditRequest(img, "", params={"workflow": invert_graph()}))
        assert backend.last_server == server.url
        assert any(w.startswith("silent skipped") and "no answer in time" in w for w in res.warnings), res.warnings
    finally:
        hung.close()
