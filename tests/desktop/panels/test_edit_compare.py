"""Compare in the edit panel: one Run on three backends (the classical one, a tiny diffusers family and one
that fails), each on its own resource; the results strip shows each under its backend, the failure beside
them, and Insert all puts every result on the canvas in one undo step."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from canvas.document import Document
from canvas.layers import PixelLayer
from desktop.bridge import DocumentBridge
from desktop.jobs import JobRunner
from desktop.panels.edit import EditPanel
from inference import registry
from tests.desktop.panels.test_edit import BrokenBackend, choose
from tests.inference.conftest import TinyModels
from tests.inference.photos import coffee


@pytest.fixture(scope="module")
def kontext(tmp_path_factory):
    return TinyModels(tmp_path_factory)("flux-kontext")


@pytest.fixture
def panel(qtbot, kontext, monkeypatch):
    monkeypatch.setenv("AKAPEN_MODEL_PATH", str(kontext))
    registry.register("test-broken", BrokenBackend, replace=True)
    doc = Document(128, 96)
    doc.add_layer(PixelLayer(cv2.resize(coffee(), (128, 96), interpolation=cv2.INTER_AREA), name="Coffee"))
    doc.history.clear()
    runner = JobRunner()
    p = EditPanel(DocumentBridge(doc), runner)
    p.errors, p.statuses = [], []
    p.errorRaised.connect(p.errors.append)
    p.statusMessage.connect(p.statuses.append)
    qtbot.addWidget(p)
    p.show()
    yield p
    runner.shutdown()
    registry.unregister("test-broken")


def test_one_run_on_three_backends_with_one_failing(qtbot, panel):
    doc = panel.document
    choose(panel.backend_combo, "classical")
    choose(panel.preset_combo, "style-pencil")
    panel.compare_menu.aboutToShow.emit()  # the menu lists the other backends, unavailable ones disabled
    offered = {a.data(): a for a in panel.compare_menu.actions()}
    assert "classical" not in offered and offered["flux-kontext"].isEnabled()
    assert not offered["qwen-image-edit"].isEnabled()
    offered["flux-kontext"].setChecked(True)
    offered["test-broken"].setChecked(True)
    assert panel.compared() == ["classical", "flux-kontext", "test-broken"]
    assert panel.run_button.text() == "Run on 3 backends" and panel.compare_button.text() == "Compare +2 ▾"
    panel.steps.setValue(2)
    panel.random_seed.setChecked(False)
    panel.seed.setValue(11)
    jobs = panel.run()
    assert jobs is not None
    resources = {j.label.split(":")[0]: j.resource for j in panel.runner.jobs.values()}
    assert resources == {"Classical (OpenCV)": "cpu", "FLUX.1 Kontext": "gpu", "Broken test backend": "cpu"}
    qtbot.waitUntil(lambda: panel.results.count() == 3 and not panel.runner.busy, timeout=180000)
    texts = [panel.results.item(i).text() for i in range(3)]
    failed = next(t for t in texts if t.endswith("failed"))
    assert failed == "Broken test backend\nfailed"
    assert any(t.startswith("classical\n") for t in texts)
    kontext_text = next(t for t in texts if t.startswith("flux-kontext\n"))
    assert kontext_text.split("\n")[2] == "seed 11" and kontext_text.endswith(" s")
    assert "flux-kontext" in kontext_text.split("\n")[1]  # the model (the tiny folder's name, cut short)
    assert not panel.errors  # a failure in a comparison is said beside the others, not as an error
    assert any("compared 3 backends: 2 gave results; 1 failed" in s for s in panel.statuses)
    row = texts.index(failed)
    panel.results.setCurrentRow(row)
    assert "the GPU caught fire" in panel.result_note.text()
    n = len(doc.layers)
    panel.insert_result(row)  # a failure inserts nothing
    assert len(doc.layers) == n
    assert panel.insert_all_button.isVisibleTo(panel)
    panel.insert_all_button.click()
    added = doc.layers[n:]
    assert sorted(lyr.name for lyr in added) == ["classical", "flux-kontext"]
    assert {lyr.provenance["backend"] for lyr in added} == {"classical", "flux-kontext"}
    assert doc.history.undo_label == "Insert 2 compared results"
    assert not np.array_equal(added[0].pixels, added[1].pixels)
    doc.undo()
    assert len(doc.layers) == n


def test_compare_unchecked_is_a_plain_run(qtbot, panel):
    choose(panel.backend_combo, "classical")
    panel.set_compare("flux-kontext", True)
    panel.set_compare("flux-kontext", False)
    assert panel.compared() == ["classical"] and panel.run_button.text() == "Run"
    choose(panel.preset_combo, "style-pencil")
    with qtbot.waitSignal(panel.resultInserted, timeout=30000):
        panel.run()  # a single result goes on the canvas at once, as before
    assert panel.results.item(0).text() == "1" and not panel.insert_all_button.isVisibleTo(panel)


def test_a_backend_whose_label_holds_colons_is_named_whole(qtbot, panel, monkeypatch):
    """A ComfyUI server's label has its host:port in it: the failure line names the whole label."""
    from tests.desktop.panels.test_edit import BrokenBackend

    monkeypatch.setattr(BrokenBackend, "label", "ComfyUI: studio:8188")
    choose(panel.backend_combo, "classical")
    choose(panel.preset_combo, "style-pencil")
    panel.set_compare("test-broken", True)
    assert panel.run() is not None
    qtbot.waitUntil(lambda: panel.results.count() == 2 and not panel.runner.busy, timeout=60000)
    texts = [panel.results.item(i).text() for i in range(2)]
    assert "ComfyUI: studio:8188\nfailed" in texts


def _entries(panel) -> dict:
    panel.compare_menu.aboutToShow.emit()  # as when the user opens it
    return {a.data(): a for a in panel.compare_menu.actions() if a.data()}


def test_classical_is_compared_wherever_the_task_is_one_it_does(qtbot, panel):
    doc = panel.document
    choose(panel.backend_combo, "flux-kontext")
    choose(panel.preset_combo, "style-pencil")
    classical = _entries(panel)["classical"]
    assert classical.isEnabled() and classical.text() == "Classical (OpenCV)"
    classical.setChecked(True)
    assert panel.compared() == ["flux-kontext", "classical"] and panel.run_button.text() == "Run on 2 backends"
    assert not panel.compare_note.isVisibleTo(panel)

    panel.preset_combo.setCurrentIndex(0)  # Free instruction: the classical backend cannot read it
    panel.instruction.setPlainText("make it night")
    classical = _entries(panel)["classical"]
    assert not classical.isEnabled() and classical.isChecked()  # greyed, the tick kept for when it can
    assert classical.text() == "Classical (OpenCV) — only for the tasks it does (choose one in Task)"
    assert "does not read instructions and cannot do a free instruction; it does: Refine collage" in classical.toolTip()
    assert panel.compared() == ["flux-kontext"] and panel.run_button.text() == "Run"
    assert panel.compare_note.isVisibleTo(panel)
    assert panel.compare_note.text() == ("Classical (OpenCV): only for the tasks it does (choose one in Task) — "
                                         "left out of the comparison")

    choose(panel.preset_combo, "style-pencil")  # its task again: it is back in, and runs beside the model
    assert panel.compared() == ["flux-kontext", "classical"] and not panel.compare_note.isVisibleTo(panel)
    panel.steps.setValue(2)
    n = len(doc.layers)
    assert panel.run() is not None
    qtbot.waitUntil(lambda: panel.results.count() == 2 and not panel.runner.busy, timeout=180000)
    texts = sorted(panel.results.item(i).text().split("\n")[0] for i in range(2))
    assert texts == ["classical", "flux-kontext"]
    panel.insert_all_button.click()
    assert sorted(layer.provenance["backend"] for layer in doc.layers[n:]) == ["classical", "flux-kontext"]


@pytest.fixture
def bare_panel(qtbot, tmp_path, monkeypatch):
    """A machine with no model, no ComfyUI server and no Gemini key: only the classical backend runs."""
    from inference.diffusion import models

    monkeypatch.setenv("AKAPEN_MODEL_PATH", "")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("AKAPEN_CONFIG_DIR", str(tmp_path / "cfg"))
    for name in ("HF_HUB_CACHE", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    models.set_model_folders([])
    doc = Document(64, 48)
    doc.add_layer(PixelLayer(cv2.resize(coffee(), (64, 48), interpolation=cv2.INTER_AREA), name="Coffee"))
    runner = JobRunner()
    p = EditPanel(DocumentBridge(doc), runner)
    qtbot.addWidget(p)
    p.show()
    yield p
    runner.shutdown()


def test_with_no_model_every_entry_says_why_and_so_does_the_panel(qtbot, bare_panel):
    panel = bare_panel
    assert panel.backend_combo.currentData() == "classical" and panel.preset().classical_task is not None
    assert not panel.compare_note.isVisibleTo(panel)  # nothing said before the user looks
    assert panel.compare_button.toolTip().startswith("Nothing to compare with yet: no model on this computer — "
                                                     "Get model… (")
    entries = _entries(panel)
    texts = [a.text() for a in panel.compare_menu.actions()]
    assert texts[0] == "Compare Classical (OpenCV) with:"  # the chosen backend is named: it always takes part
    assert "classical" not in entries and entries and not any(a.isEnabled() for a in entries.values())
    kontext = entries["flux-kontext"]
    assert kontext.text() == "FLUX.1 Kontext — no model on this computer — Get model…"
    assert kontext.toolTip().startswith("no model found for this family: Get model…")
    assert entries["nano-banana"].text().endswith(" — no Gemini API key")
    assert entries["comfyui-kontext"].text().endswith(" — no ComfyUI server is set up")
    assert all(" — " in a.text() for a in entries.values())  # every greyed entry says why in its own words
    note = panel.compare_note.text()
    assert panel.compare_note.isVisibleTo(panel) and note.startswith("Nothing to compare with yet: ")
    no_model = sum("no model on this computer" in a.text() for a in entries.values())
    assert no_model > 2 and f"no model on this computer — Get model… ({no_model} backends)" in note
    assert "no Gemini API key (nano banana (Google Gemini))" in note
    panel.set_compare("flux-kontext", True)  # ticked anyway (e.g. before its model went): left out, said why
    assert panel.compared() == ["classical"] and panel.run_button.text() == "Run"
    assert "FLUX.1 Kontext: no model on this computer — Get model… — left out of the comparison" in \
        panel.compare_note.text()
