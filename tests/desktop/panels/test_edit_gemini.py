"""The edit panel with nano banana, against the local stand-in for the Gemini API (tests/gemini_server.py):
its rows and note, a run that inserts a layer whose provenance has the notes but never the key, the model
choice, and a refusal that leaves the canvas as it was."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from canvas.document import Document
from canvas.layers import PixelLayer
from desktop.bridge import DocumentBridge
from desktop.jobs import JobRunner
from desktop.panels.edit import EditPanel
from inference import registry
from tests.desktop.conftest import photo
from tests.desktop.panels.test_edit import choose
from tests.gemini_server import GOOD_KEY, Reply, blocked


@pytest.fixture
def panel(qtbot, gemini_env):
    doc = Document(64, 48)
    doc.add_layer(PixelLayer(photo(64, 48), name="Photo"))
    doc.history.clear()
    runner = JobRunner()
    p = EditPanel(DocumentBridge(doc), runner)
    p.errors = []
    p.errorRaised.connect(p.errors.append)
    qtbot.addWidget(p)
    p.show()
    p.refresh_backends()
    choose(p.backend_combo, "nano-banana")
    yield p
    runner.shutdown()
    registry.get("nano-banana").set_model(None)


def test_the_rows_say_the_picture_goes_to_google_and_there_is_no_seed(panel):
    assert panel.gemini_row.isVisible() and panel.gemini_note.isVisible()
    assert "Google" in panel.gemini_note.text() and "no seed" in panel.gemini_note.text()
    assert not panel.gemini_size.isEnabled()  # flash has no size option
    assert not panel.seed.isEnabled() and not panel.random_seed.isEnabled() and not panel.steps.isEnabled()
    assert "no seed" in panel.seed.toolTip()
    choose(panel.backend_combo, "classical")
    assert not panel.gemini_row.isVisible()
    assert panel.random_seed.isEnabled() and panel.steps.isEnabled()


def test_a_run_inserts_the_result_with_notes_in_its_provenance_and_no_key(qtbot, panel, gemini_env):
    doc = panel.document
    panel.instruction.setPlainText("make it night")
    assert panel.run_button.isEnabled(), panel.why_not_runnable()
    with qtbot.waitSignal(panel.resultInserted, timeout=30000) as sig:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    prov = doc.layer(sig.args[0]).provenance
    assert prov["backend"] == "nano-banana" and prov["model"] == "gemini-2.5-flash-image" and prov["seed"] is None
    assert any("tokens" in n for n in prov["notes"]) and any("not reproducible" in n for n in prov["notes"])
    assert any("the model said" in n for n in prov["notes"])
    assert GOOD_KEY not in json.dumps(prov)
    assert "tokens" in panel.result_note.text()
    assert gemini_env.requests[0].body["contents"][0]["parts"][-1]["text"] == prov["instruction_used"]


def test_the_model_and_size_chosen_go_with_the_request(qtbot, panel, gemini_env):
    choose(panel.gemini_model, "gemini-3-pro-image-preview")
    assert panel.gemini_size.isEnabled()
    choose(panel.gemini_size, "4K")
    choose(panel.gemini_aspect, "3:2")
    assert registry.info("nano-banana").capabilities.max_references == 13
    panel.instruction.setPlainText("make it night")
    with qtbot.waitSignal(panel.resultInserted, timeout=30000):
        panel.run()
    (seen,) = gemini_env.requests
    assert seen.path == "/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert seen.body["generationConfig"]["imageConfig"] == {"aspectRatio": "3:2", "imageSize": "4K"}


def test_a_refusal_is_shown_and_the_canvas_stays_as_it_was(qtbot, panel, gemini_env):
    doc = panel.document
    before, n, history = doc.render(), len(doc.layers), doc.history.index
    gemini_env.reply(Reply(200, blocked("SAFETY")))
    panel.instruction.setPlainText("make it night")
    with qtbot.waitSignal(panel.runner.jobFailed, timeout=30000):
        panel.run()
    qtbot.waitUntil(lambda: bool(panel.errors), timeout=5000)
    assert "refused the request (SAFETY)" in panel.errors[-1]
    assert len(doc.layers) == n and doc.history.index == history and np.array_equal(doc.render(), before)
