"""Edit › Servers…, against a real ComfyUI server (the session's ``comfy_server``, a separate
ComfyUI 0.3.75 process on 127.0.0.1)."""

import json
import stat

import pytest
from PySide6.QtCore import Qt

from desktop.dialogs.server_settings import ServersDialog, apply_server_settings
from inference.comfyui import WORKFLOW_BACKEND, servers
from inference.comfyui.servers import ServerStore
from tests.comfyui_server import free_port


@pytest.fixture
def store(tmp_path):
    return ServerStore(tmp_path / "config" / "servers.json")


def make_dialog(qtbot, store, parent=None):
    dlg = ServersDialog(store, parent)
    if parent is None:
        qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def add(qtbot, dlg, url, name=""):
    dlg.url.setText(url)
    dlg.name.setText(name)
    qtbot.mouseClick(dlg.add_button, Qt.MouseButton.LeftButton)


def test_add_and_test_a_real_server_shows_what_it_runs(qtbot, comfy_server, store, reset_servers):
    dlg = make_dialog(qtbot, store)
    add(qtbot, dlg, comfy_server.url, "local")
    assert [s.url for s in dlg.servers()] == [comfy_server.url]
    item = dlg.list.topLevelItem(0)
    assert item.text(0) == "local" and item.text(1) == comfy_server.url
    with qtbot.waitSignal(dlg.checkFinished, timeout=30000) as sig:
        qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
        assert dlg.list.topLevelItem(0).text(2) == "checking…"  # the GUI went on meanwhile
    assert sig.args[0].ok
    text = dlg.details.toPlainText()
    assert "connected: ComfyUI 0.3.75" in text and "node types" in text
    assert "not connected" not in text
    assert dlg.list.topLevelItem(0).text(2) == "connected"
    assert "node types" in dlg.list.topLevelItem(0).toolTip(2)
    assert not dlg.error.isVisible()


def test_a_server_that_is_not_there_says_not_connected(qtbot, store, reset_servers):
    dlg = make_dialog(qtbot, store)
    url = f"http://127.0.0.1:{free_port()}"
    add(qtbot, dlg, url)
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.checking, timeout=30000)
    text = dlg.details.toPlainText()
    assert "not connected" in text and "connection refused" in text
    assert "b00020" in dlg.details.toHtml()  # said in red
    assert dlg.list.topLevelItem(0).text(2) == "not connected"


def test_a_typed_address_can_be_tested_before_it_is_added(qtbot, comfy_server, store):
    dlg = make_dialog(qtbot, store)
    dlg.url.setText(comfy_server.url.removeprefix("http://"))  # host:port is enough
    qtbot.mouseClick(dlg.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.checking, timeout=30000)
    assert "connected: ComfyUI" in dlg.details.toPlainText()
    assert dlg.servers() == []


def test_invalid_addresses_are_said_inline(qtbot, store):
    dlg = make_dialog(qtbot, store)
    add(qtbot, dlg, "ftp://example.com")
    assert dlg.error.isVisible() and "not a server address" in dlg.error.text()
    add(qtbot, dlg, "")
    assert "a server address is needed" in dlg.error.text()
    assert dlg.servers() == []
    add(qtbot, dlg, "http://127.0.0.1:8188")
    assert not dlg.error.isVisible() and len(dlg.servers()) == 1


def test_remote_http_address_warns_about_the_transport(qtbot, store):
    dlg = make_dialog(qtbot, store)
    add(qtbot, dlg, "http://192.0.2.10:8188")
    assert "unencrypted" in dlg.details.toPlainText()


def test_remove_and_accept_save_the_store_and_configure_the_process(qtbot, comfy_server, store, reset_servers):
    dlg = make_dialog(qtbot, store)
    add(qtbot, dlg, "http://127.0.0.1:1", "gone soon")
    dlg.token.setText("s3cret")
    add(qtbot, dlg, comfy_server.url, "local")
    assert len(dlg.servers()) == 2
    dlg.list.setCurrentItem(dlg.list.topLevelItem(0))
    assert dlg.url.text() == "http://127.0.0.1:1"  # the fields show the selected server
    qtbot.mouseClick(dlg.remove_button, Qt.MouseButton.LeftButton)
    assert [s.url for s in dlg.servers()] == [comfy_server.url]
    assert dlg.servers()[0].token == "s3cret"
    dlg.accept()
    assert dlg.result() == ServersDialog.DialogCode.Accepted
    data = json.loads(store.path.read_text())
    assert data["servers"] == [{"url": comfy_server.url, "token": "s3cret", "name": "local", "enabled": True}]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [s.url for s in servers.configured()] == [comfy_server.url]


def test_an_unticked_server_is_kept_but_not_used(qtbot, store, reset_servers):
    dlg = make_dialog(qtbot, store)
    add(qtbot, dlg, "http://127.0.0.1:8188")
    dlg.list.topLevelItem(0).setCheckState(0, Qt.CheckState.Unchecked)
    assert dlg.apply()
    assert store.load()[0].enabled is False
    assert servers.configured() == []


def test_servers_menu_makes_the_comfyui_backends_available(qtbot, make_window, comfy_server, tmp_path,
                                                           reset_servers):
    store = ServerStore(tmp_path / "servers.json")
    window = make_window(server_store=store)
    panel = window.edit_panel
    combo = panel.backend_combo

    def enabled(name) -> bool:
        idx = combo.findData(name)
        return idx >= 0 and combo.model().item(idx).isEnabled()

    assert window.servers_action.text() == "&Servers…"
    assert not enabled(WORKFLOW_BACKEND)
    assert "Edit › Servers" in combo.itemData(combo.findData(WORKFLOW_BACKEND), Qt.ItemDataRole.ToolTipRole)
    dlg = ServersDialog(window.server_store, window)
    add(qtbot, dlg, comfy_server.url)
    assert window.backends.edit_server_settings(dlg)
    assert enabled(WORKFLOW_BACKEND) and enabled("comfyui-kontext")
    assert [s.url for s in store.load()] == [comfy_server.url]
    # the next start loads them again
    servers.set_servers([])
    window2 = make_window(server_store=store)
    assert [s.url for s in servers.configured()] == [comfy_server.url]
    idx = window2.edit_panel.backend_combo.findData(WORKFLOW_BACKEND)
    assert window2.edit_panel.backend_combo.model().item(idx).isEnabled()


def test_a_damaged_servers_file_is_reported_not_fatal(tmp_path, reset_servers):
    path = tmp_path / "servers.json"
    path.write_text("{not json")
    said = []
    assert apply_server_settings(ServerStore(path), said.append) == []
    assert said and "could not be read" in said[0]


def test_the_default_store_is_the_test_config_folder(tmp_path):
    import os

    assert str(ServerStore().path).startswith(os.environ["AKAPEN_CONFIG_DIR"])
