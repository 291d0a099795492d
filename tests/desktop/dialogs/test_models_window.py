"""The Get model… flow with real widgets, against the local Hub stand-in: a fresh install with no model, the
Edit panel's Get model… opening the Models window on FLUX.1 Kontext, a gated download refused without a token,
the token entered and checked, the download resumed with progress in the window, the status bar and the edit
panel, and the family available at once; pause and resume; the offer to continue after a restart; the Train
panel with no model exporting a job; verify and remove in the Installed tab."""

from __future__ import annotations

import json

import pytest

from tests.hub_server import GOOD_TOKEN
from tests.inference.conftest import TinyModels

KONTEXT = "black-forest-labs/FLUX.1-Kontext-dev"  # the catalogue's repo id, served tiny here


@pytest.fixture(scope="module")
def tiny_kontext(tmp_path_factory):
    return TinyModels(tmp_path_factory)("flux-kontext")


@pytest.fixture
def served(hub, tiny_kontext, monkeypatch, tmp_path):
    monkeypatch.setenv("AKAPEN_MODEL_PATH", "")
    monkeypatch.setenv("AKAPEN_GPU_MEMORY_GB", "48")
    from inference.diffusion import models
    from inference.hub import machine

    models.set_model_folders([])
    machine.clear_cache()
    hub.add_folder(KONTEXT, tiny_kontext, gated=True)
    yield hub
    machine.clear_cache()


def _kontext_available(window) -> bool:
    combo = window.edit_panel.backend_combo
    idx = combo.findData("flux-kontext")
    return idx >= 0 and combo.model().item(idx).isEnabled()


def _variant_item(win, vid):
    tree = win.catalogue_tree
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        for j in range(top.childCount()):
            if top.child(j).data(0, 256) == vid:
                return top.child(j)
    return None


def test_from_no_model_to_kontext_available_through_get_model(qtbot, window, served):
    panel = window.edit_panel
    assert not _kontext_available(window)
    assert panel.get_model_row.isVisibleTo(panel)
    assert "No AI model on this computer yet" in panel.get_model_note.text()
    kontext_entry = next(a for a in panel.get_model_menu.actions() if a.text() == "FLUX.1 Kontext…")
    kontext_entry.trigger()
    win = window.models.models_window
    assert win is not None and win.isVisible() and win.tabs.currentIndex() == 0
    assert win.family_combo.currentData() == "flux-kontext"
    item = _variant_item(win, "flux-kontext-dev")
    assert item is not None and "fits this GPU (48 GB)" in item.text(3) and item.text(4).startswith("gated")
    assert "★ recommended" in item.text(0)
    win.catalogue_tree.setCurrentItem(item)
    assert "Gated" in win.details.text() and f"{served.url}" not in win.details.text()  # the real page is named
    key = win.download_selected()
    qtbot.waitUntil(lambda: window.models.downloads.items[key].state == "failed", timeout=20000)
    d = window.models.downloads.items[key]
    assert d.error_kind == "GatedRepo" and "accept its licence" in d.error
    win.tabs.setCurrentIndex(2)
    win.queue.queue_tree.setCurrentItem(win.queue.queue_tree.topLevelItem(0))
    assert win.queue.queue_token_button.isVisibleTo(win) and f"{served.url}/{KONTEXT}" in win.queue.queue_error.text()
    # the token, entered and checked with the Hub
    win.queue.queue_token_button.click()
    dlg = window.models.token_dialog
    dlg.field.setText("hf_wrong_123456789")
    dlg.check_and_save()
    qtbot.waitUntil(lambda: not dlg.checking, timeout=10000)
    assert "refused your Hugging Face token" in dlg.result.text()
    dlg.field.setText(GOOD_TOKEN)
    dlg.check_and_save()
    qtbot.waitUntil(lambda: not dlg.checking, timeout=10000)
    assert "logged in as akapen-tester" in dlg.result.text() and dlg.field.text() == ""
    assert GOOD_TOKEN not in dlg.state.text() and "token is saved" in dlg.state.text()
    dlg.close()
    # resume: the download goes on, shown in the status bar and the edit panel, and Kontext is available after
    served.throttle(2_000_000)
    seen = []
    window.models.downloads.changed.connect(lambda k: seen.append((window.models.indicator.isVisibleTo(window),
                                                                   panel.download_line.text())))
    win.queue.resume_button.click()
    qtbot.waitUntil(lambda: window.models.downloads.items[key].state == "done", timeout=60000)
    assert any(vis and "Downloading FLUX.1 Kontext dev (bf16)" in text and " of " in text for vis, text in seen)
    assert not window.models.indicator.isVisibleTo(window) and not panel.download_line.isVisibleTo(panel)
    assert _kontext_available(window)  # no restart
    assert "FLUX.1 Kontext" not in [a.text() for a in panel.get_model_menu.actions()]
    assert _variant_item(win, "flux-kontext-dev").text(5) == "installed"
    names = [win.installed_tree.topLevelItem(i).text(0) for i in range(win.installed_tree.topLevelItemCount())]
    assert KONTEXT in names


def test_pause_keeps_the_bytes_and_resume_finishes(qtbot, window, served):
    from inference.hub import auth, state

    auth.save_token(GOOD_TOKEN)
    served.throttle(400_000)
    downloads = window.models.downloads
    win = window.models.show("flux-kontext")
    win.catalogue_tree.setCurrentItem(_variant_item(win, "flux-kontext-dev"))
    key = win.download_selected()
    qtbot.waitUntil(lambda: downloads.items[key].progress is not None and downloads.items[key].progress.done > 300_000,
                    timeout=30000)
    downloads.pause(key)
    qtbot.waitUntil(lambda: downloads.items[key].state == "paused", timeout=10000)
    rec = state.unfinished()
    assert len(rec) == 1 and rec[0].state == "paused" and rec[0].done_bytes > 0
    sent = served.bytes_sent()
    served.throttle(None)
    downloads.resume(key)
    qtbot.waitUntil(lambda: downloads.items[key].state == "done", timeout=60000)
    total = downloads.items[key].progress.total
    assert served.bytes_sent() - sent < total  # it went on, not from zero
    assert not state.unfinished()


def test_the_next_start_offers_to_continue(qtbot, make_window, served):
    from inference.hub import auth, manage, state

    auth.save_token(GOOD_TOKEN)
    req = manage.request_for("flux-kontext-dev")
    state.put(state.Record(key=state.Record.key_for(req.repo, req.revision, [], None), repo=req.repo,
                           catalogue_id=req.catalogue_id, label=req.label, state="running", total_bytes=1000,
                           done_bytes=400))
    window = make_window()
    asked = []
    n = window.models.offer_unfinished(ask=lambda text: asked.append(text) or "continue")
    assert n == 1 and "FLUX.1 Kontext dev (bf16)" in asked[0] and "did not finish" in asked[0]
    key = next(iter(window.models.downloads.items))
    qtbot.waitUntil(lambda: window.models.downloads.items[key].state == "done", timeout=60000)
    assert _kontext_available(window)


def test_the_train_panel_without_a_model_exports_a_job_that_names_the_base(qtbot, window, served, tmp_path):
    import numpy as np

    tp = window.training_panel
    tp.refresh_models()
    assert tp.get_model_button.isVisibleTo(tp)
    texts = [tp.model_combo.itemText(i) for i in range(tp.model_combo.count())]
    assert any("FLUX.1 Kontext dev — not on this machine (Export job only)" in t for t in texts)
    tp.model_combo.setCurrentIndex(next(i for i, t in enumerate(texts) if t.startswith("FLUX.1 Kontext dev")))
    rng = np.random.RandomState(0)
    for i in range(3):
        a = (rng.rand(32, 32, 4) * 255).astype(np.uint8)
        a[..., 3] = 255
        tp.add_pair(a, 255 - a, "make it a negative", name=f"p{i}")
    assert not tp.train_button.isEnabled() and "not on this machine" in tp.reason.text()
    assert tp.export_button.isEnabled()
    assert tp.export_job(str(tmp_path / "job"))
    job = json.loads((tmp_path / "job" / "job.json").read_text())
    assert job["model"] == KONTEXT and job["family"] == "flux-kontext"
    assert f"akapen models download {KONTEXT}" in (tmp_path / "job" / "README.txt").read_text()
    requested = []
    tp.modelsRequested.connect(requested.append)
    tp.get_model_button.click()
    assert requested == ["flux-kontext"] and window.models.models_window.family_combo.currentData() == "flux-kontext"


def test_compare_menu_offers_get_model(qtbot, window, served):
    panel = window.edit_panel
    panel._fill_compare_menu()
    sub = next(a.menu() for a in panel.compare_menu.actions() if a.menu() is not None)
    assert sub.title() == "Get model…" and any(a.text() == "FLUX.1 Kontext…" for a in sub.actions())
    next(a for a in sub.actions() if a.text() == "FLUX.1 Kontext…").trigger()
    assert window.models.models_window.isVisible()


def test_installed_tab_verifies_and_removes(qtbot, window, served):
    from inference.hub import auth, manage

    auth.save_token(GOOD_TOKEN)
    downloads = window.models.downloads
    key = downloads.add(manage.request_for(KONTEXT))
    qtbot.waitUntil(lambda: downloads.items[key].state == "done", timeout=60000)
    win = window.models.show(None, tab=1)
    tree = win.installed_tree
    row = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount()) if tree.topLevelItem(i).text(0) == KONTEXT)
    tree.setCurrentItem(row)
    assert win.verify_button.isEnabled()
    win.verify_selected()
    qtbot.waitUntil(lambda: not win.busy, timeout=20000)
    assert "verified" in win.installed_message.text() and "wrong" not in win.installed_message.text()
    text = win.remove(row.data(0, 256))
    assert "freed" in text and manage.local_snapshot(KONTEXT) is None
    assert not _kontext_available(window)
