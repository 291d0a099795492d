"""The edit panel's "your ComfyUI workflow", against a real ComfyUI server (the session's
``comfy_server``, a separate ComfyUI 0.3.75 process on 127.0.0.1)."""

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.controllers.files import default_document
from desktop.dialogs.server_settings import ServersDialog
from inference.comfyui import WORKFLOW_BACKEND, servers
from inference.comfyui.client import ComfyClient
from inference.comfyui.servers import ServerConfig
from tests.desktop.conftest import photo
from tests.desktop.dialogs.test_server_settings import add
from tests.desktop.panels.test_edit import choose

API_WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}, "_meta": {"title": "Photo"}},
    "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inverted"}},
}

UI_WORKFLOW = {
    "last_node_id": 3,
    "last_link_id": 2,
    "nodes": [
        {"id": 1, "type": "LoadImage", "pos": [0, 0], "size": [315, 314], "flags": {}, "order": 0, "mode": 0,
         "title": "Photo", "inputs": [],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1], "slot_index": 0},
                     {"name": "MASK", "type": "MASK", "links": None}],
         "properties": {"Node name for S&R": "LoadImage"}, "widgets_values": ["example.png", "image"]},
        {"id": 2, "type": "ImageInvert", "pos": [400, 0], "size": [210, 26], "flags": {}, "order": 1, "mode": 0,
         "inputs": [{"name": "image", "type": "IMAGE", "link": 1}],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [2], "slot_index": 0}],
         "properties": {"Node name for S&R": "ImageInvert"}, "widgets_values": []},
        {"id": 3, "type": "SaveImage", "pos": [700, 0], "size": [315, 270], "flags": {}, "order": 2, "mode": 0,
         "inputs": [{"name": "images", "type": "IMAGE", "link": 2}], "outputs": [],
         "properties": {}, "widgets_values": ["inverted"]},
    ],
    "links": [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"]],
    "groups": [],
    "config": {},
    "extra": {},
    "version": 0.4,
}


@pytest.fixture
def comfy_window(make_window, comfy_server, reset_servers):
    """A window over a small photo with the session's ComfyUI server set up."""
    servers.set_servers([ServerConfig(comfy_server.url, name="test server")])
    window = make_window(default_document(image=photo(64, 48)))
    servers.set_servers([ServerConfig(comfy_server.url, name="test server")])  # the window loaded an empty store
    window.edit_panel.refresh_backends()
    choose(window.edit_panel.backend_combo, WORKFLOW_BACKEND)
    return window


def write(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_workflow_rows_show_only_for_the_workflow_backend(qtbot, comfy_window):
    panel = comfy_window.edit_panel
    assert panel.workflow_button.isVisible() and panel.workflow_name.text() == "none chosen"
    choose(panel.backend_combo, "classical")
    assert not panel.workflow_button.isVisible()


def test_running_without_a_workflow_says_what_to_do(qtbot, comfy_window):
    panel = comfy_window.edit_panel
    panel.instruction.setPlainText("invert it")
    n = len(comfy_window.document.layers)
    with qtbot.waitSignal(panel.errorRaised, timeout=5000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert "choose a ComfyUI workflow" in sig.args[0]
    assert len(comfy_window.document.layers) == n


def test_api_workflow_maps_its_image_input_to_the_canvas(qtbot, comfy_window, tmp_path):
    panel = comfy_window.edit_panel
    panel.choose_workflow(write(tmp_path / "invert_api.json", API_WORKFLOW))
    qtbot.waitUntil(lambda: not panel.workflow_reading, timeout=10000)
    assert panel.workflow_name.text() == "invert_api.json"
    assert list(panel._image_combos) == ["1"]
    combo = panel._image_combos["1"]
    assert combo.isVisible() and combo.currentText() == "Canvas image"
    assert panel.workflow_note.text() and panel.workflow_note.isVisible()
    comfy_window.document.add_reference(photo(16, 16), "Cat")
    assert [combo.itemText(i) for i in range(combo.count())] == ["Canvas image", "Reference: Cat"]
    assert combo.currentText() == "Canvas image"  # the choice is kept
    _, request = panel.build()
    assert request.params["workflow"] == str(tmp_path / "invert_api.json")
    assert request.params["workflow_images"] == {"1": "image"}
    combo.setCurrentIndex(1)
    assert panel.build()[1].params["workflow_images"] == {"1": "Cat"}


def test_a_workflow_without_a_prompt_input_takes_no_instruction(qtbot, comfy_window, tmp_path):
    panel = comfy_window.edit_panel
    panel.instruction.setPlainText("make it night")
    assert panel.instruction.isEnabled()
    panel.choose_workflow(write(tmp_path / "invert_api.json", API_WORKFLOW))  # LoadImage → invert → save
    qtbot.waitUntil(lambda: not panel.workflow_reading, timeout=10000)
    assert not panel.instruction.isEnabled() and not panel.preset_combo.isEnabled()
    assert "no prompt input" in panel.instruction.toolTip()
    assert panel.build()[1].instruction == ""  # the text typed is not sent where it cannot go
    panel.instruction.setPlainText("")
    assert panel.why_not_runnable() is None  # and none is asked for
    choose(panel.backend_combo, "classical")
    assert panel.instruction.isEnabled() and panel.preset_combo.isEnabled()


def test_ui_workflow_is_read_through_the_server(qtbot, comfy_window, tmp_path):
    panel = comfy_window.edit_panel
    panel.choose_workflow(write(tmp_path / "invert_ui.json", UI_WORKFLOW))
    qtbot.waitUntil(lambda: not panel.workflow_reading, timeout=30000)
    assert list(panel._image_combos) == ["1"], panel.workflow_note.text()
    assert panel._workflow_info.image_inputs[0].class_type == "LoadImage"


def test_ui_workflow_without_a_server_asks_for_one_and_is_read_once_one_is_added(
        qtbot, window, tmp_path, comfy_server, reset_servers):
    panel = window.edit_panel
    servers.set_servers([])
    panel.choose_workflow(write(tmp_path / "invert_ui.json", UI_WORKFLOW))
    qtbot.waitUntil(lambda: not panel.workflow_reading, timeout=10000)
    assert "connect a server to read this workflow" in panel.workflow_note.text()
    assert panel._image_combos == {}
    assert panel.workflow_params() == {"workflow": str(tmp_path / "invert_ui.json")}
    dlg = ServersDialog(window.server_store, window)
    add(qtbot, dlg, comfy_server.url)
    assert window.backends.edit_server_settings(dlg)  # Edit › Servers…: the panel reads it again
    qtbot.waitUntil(lambda: not panel.workflow_reading, timeout=30000)
    assert list(panel._image_combos) == ["1"]
    assert panel.workflow_params()["workflow_images"] == {"1": "image"}


def test_a_file_that_is_not_a_workflow_is_said_and_forgotten(qtbot, comfy_window, tmp_path):
    panel = comfy_window.edit_panel
    bad = tmp_path / "notes.json"
    bad.write_text("this is not JSON")
    panel.choose_workflow(str(bad))
    qtbot.waitUntil(lambda: not panel.workflow_reading, timeout=10000)
    assert panel.workflow_note.text() and "b00020" in panel.workflow_note.styleSheet()
    assert panel.workflow_params() == {} and panel.workflow_name.text() == "none chosen"


def test_running_a_workflow_inserts_the_inverted_canvas_as_one_undoable_layer(qtbot, comfy_window, tmp_path):
    window = comfy_window
    panel = window.edit_panel
    doc = window.document
    before = doc.render()
    n = len(doc.layers)
    panel.choose_workflow(write(tmp_path / "invert_api.json", API_WORKFLOW))
    qtbot.waitUntil(lambda: not panel.workflow_reading, timeout=10000)
    panel.instruction.setPlainText("invert the colours")
    assert panel.run_button.isEnabled(), panel.backend_reason.text()
    with qtbot.waitSignal(panel.resultInserted, timeout=60000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    layer = doc.layer(sig.args[0])
    assert len(doc.layers) == n + 1
    assert layer.provenance["backend"] == WORKFLOW_BACKEND
    assert layer.pixels.shape == before.shape
    diff = np.abs(layer.pixels[..., :3].astype(int) - (255 - before[..., :3].astype(int)))
    assert diff.max() <= 1  # ComfyUI works in floats and rounds
    assert (layer.pixels[..., 3] == 255).all()
    window.undo_action.trigger()
    assert len(doc.layers) == n
    assert np.array_equal(doc.render(), before)


def test_a_server_that_dies_mid_job_leaves_the_document_as_it_was(qtbot, make_window, comfy_factory, comfy_server,
                                                                  reset_servers, tmp_path):
    from tests.inference.test_comfyui_backend import slow_graph

    doomed = comfy_factory()
    servers.set_servers([ServerConfig(doomed.url, name="doomed")])
    window = make_window(default_document(image=photo(64, 48)))
    servers.set_servers([ServerConfig(doomed.url, name="doomed")])
    panel = window.edit_panel
    panel.refresh_backends()
    choose(panel.backend_combo, WORKFLOW_BACKEND)
    doc = window.document
    before, n = doc.render(), len(doc.layers)
    panel.choose_workflow(write(tmp_path / "slow.json", slow_graph(blurs=14)))
    qtbot.waitUntil(lambda: not panel.workflow_reading, timeout=10000)
    panel.instruction.setPlainText("")
    with qtbot.waitSignal(panel.errorRaised, timeout=60000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
        client = ComfyClient(doomed.url)
        qtbot.waitUntil(lambda: any(p.startswith("akapen-") for p in client.queue().running), timeout=30000)
        doomed.kill()
    assert "stopped answering" in sig.args[0] and doomed.url in sig.args[0]
    assert len(doc.layers) == n and np.array_equal(doc.render(), before)  # nothing the user made is lost
    assert panel.run_button.isEnabled()
    # the next job goes to a server that answers
    servers.set_servers([ServerConfig(doomed.url, name="doomed"), ServerConfig(comfy_server.url, name="alive")])
    panel.choose_workflow(write(tmp_path / "invert_api.json", API_WORKFLOW))
    qtbot.waitUntil(lambda: not panel.workflow_reading, timeout=30000)
    with qtbot.waitSignal(panel.resultInserted, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert len(doc.layers) == n + 1
