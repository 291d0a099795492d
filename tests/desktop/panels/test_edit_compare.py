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
